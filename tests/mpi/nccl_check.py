"""Run on a machine with NVIDIA GPUs, one process per GPU (any number, 1 too):
ember.distributed's collectives over NCCL on cupy tensors, checked against what
the world size implies, with the backend's host transfers forbidden meanwhile
(NCCL moves GPU memory directly); prints one JSON line on rank 0.

    EMBER_TRANSPORT=nccl ember launch -n 2 tests/mpi/nccl_check.py
"""

import json

import numpy as np

import ember
import ember.distributed as dist


def main():
    dist.init()
    r, n = dist.rank(), dist.world_size()
    backend = ember.set_backend(f"cupy:{dist.local_rank()}")
    t = ember.tensor(np.arange(4, dtype=np.float32) * (r + 1))
    i = ember.tensor([r + 1, 2 * r], dtype=ember.int32)
    flags = ember.tensor([r == 0, True])

    def forbidden(buf):
        raise AssertionError("a collective copied a cupy tensor to the host")
    backend.to_numpy = forbidden
    got = {"sum": dist.all_reduce(t), "mean": dist.all_reduce(t, "mean"),
           "max": dist.all_reduce(i, "max"), "min": dist.all_reduce(i, "min"),
           "any": dist.all_reduce(flags, "max"),
           "broadcast": dist.broadcast(ember.tensor([[r + 10.0]]), root=n - 1),
           "gather": ember.stack(dist.all_gather(ember.tensor([r, r], dtype=ember.int32)))}
    del backend.to_numpy
    ranks = np.arange(n)
    want = {"sum": np.arange(4) * (ranks + 1).sum(), "mean": np.arange(4) * (ranks + 1).mean(),
            "max": [n, 2 * (n - 1)], "min": [1, 0], "any": [True, True],
            "broadcast": [[n - 1 + 10.0]], "gather": np.repeat(ranks[:, None], 2, axis=1)}
    for k, v in want.items():
        np.testing.assert_allclose(got[k].numpy(), np.asarray(v), err_msg=k)
        assert got[k].device == backend.device, (k, got[k].device)
    ddp_max_diff = _ddp(backend, n)
    x = ember.randn(2 ** 20)                     # 4 MB of float32
    import time
    dist.all_reduce(x)
    backend.synchronize()
    start = time.perf_counter()
    for _ in range(20):
        dist.all_reduce(x)
    backend.synchronize()
    took = (time.perf_counter() - start) / 20
    if r == 0:
        print(json.dumps({"world": n, "checked": sorted(want), "all_reduce_4MB_us": round(took * 1e6, 1),
                          "ddp_grad_max_diff": ddp_max_diff, "transport": type(dist.world()).__name__}))


def _ddp(backend, n):
    """DDP packs its buckets on the GPU and reduces them over NCCL: every rank ends with
    the gradient of the whole batch, the mean of the ranks' shares."""
    from ember.plugins import nn
    from ember.plugins.distributed import DistributedDataParallel
    from ember.plugins.losses import cross_entropy
    ember.manual_seed(0)
    model = DistributedDataParallel(nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3)),
                                    bucket_mb=60 / 2 ** 20)
    assert all(b.flat is None for b in model.buckets), "DDP packed on the host"
    ember.manual_seed(1)
    x, y = ember.randn(4 * n, 6), ember.randint(0, 3, (4 * n,))
    r = dist.rank()
    cross_entropy(model(x[4 * r:4 * r + 4]), y[4 * r:4 * r + 4]).backward()
    ddp_grads = [p.grad.numpy() for p in model.parameters()]
    for p in model.parameters():
        p.grad = None
    cross_entropy(model.module(x), y).backward()
    return max(float(np.abs(a - p.grad.numpy()).max()) for a, p in zip(ddp_grads, model.parameters()))


if __name__ == "__main__":
    main()
