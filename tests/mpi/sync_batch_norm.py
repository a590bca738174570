"""Run under `mpiexec -n 2`: SyncBatchNorm on each rank's half of a batch against one
BatchNorm2d on the whole batch (each rank computes that reference itself): outputs, the
input's gradients, the parameters' gradients summed over the ranks and the running
statistics. Rank 0 prints the largest relative differences as JSON."""

import json
import sys

import numpy as np

import ember
import ember.distributed as dist
from ember.plugins import nn


def main(backend):
    dist.init()
    r = dist.rank()
    dtype = ember.float64 if ember.float64 in ember.get_backend(backend).dtypes else ember.float32
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3, 5, 5)) * 3 + 1
    w = rng.standard_normal((4, 3, 5, 5))
    weight, bias = rng.uniform(0.5, 2, 3), rng.standard_normal(3)

    def layer(cls):
        m = cls(3).to(dtype).to(backend)
        with ember.no_grad():
            m.weight.copy_(ember.tensor(weight, dtype=dtype, backend=backend))
            m.bias.copy_(ember.tensor(bias, dtype=dtype, backend=backend))
        return m

    def run(cls, rows):
        m = layer(cls)
        xs = ember.tensor(x[rows], dtype=dtype, backend=backend, requires_grad=True)
        out = m(xs)
        (out * ember.tensor(w[rows], dtype=dtype, backend=backend)).sum().backward()
        return m, xs, out

    ref, ref_x, ref_out = run(nn.BatchNorm2d, slice(None))
    mine = slice(2 * r, 2 * r + 2)
    sync, sync_x, sync_out = run(nn.SyncBatchNorm, mine)

    def rel(got, want):
        got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
        return float(np.abs(got - want).max() / np.abs(want).max())

    found = {
        "output": rel(sync_out.numpy(), ref_out.numpy()[mine]),
        "input_grad": rel(sync_x.grad.numpy(), ref_x.grad.numpy()[mine]),
        "weight_grad": rel(dist.all_reduce(sync.weight.grad).numpy(), ref.weight.grad.numpy()),
        "bias_grad": rel(dist.all_reduce(sync.bias.grad).numpy(), ref.bias.grad.numpy()),
        "running_mean": rel(sync.running_mean.numpy(), ref.running_mean.numpy()),
        "running_var": rel(sync.running_var.numpy(), ref.running_var.numpy()),
        "dtype": dtype.name,
    }
    dist.barrier()
    if r == 0:
        print(json.dumps(found))


if __name__ == "__main__":
    main(sys.argv[1])
