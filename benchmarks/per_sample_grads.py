"""Per-sample gradients of an MLP classifier (784-128-10, ReLU, cross-entropy, float32)
for a batch: ember.func.vmap(ember.func.grad(loss)) (one batched pass), and that pass
replayed by ember.compile, against the same code run one sample at a time (what vmap
did before it batched), torch.func's vmap(grad(loss)) on PyTorch CPU, and the
gradients written by hand in NumPy (outer products of the backpropagated errors),
side by side in one run.

    python benchmarks/per_sample_grads.py [--backend numpy] [--batch 64 256]
"""

import argparse
import importlib.util
import os
import sys

import numpy as np

import ember

sys.path.insert(0, os.path.dirname(__file__))
from timing import side_by_side  # noqa: E402

SIZES = (784, 128, 10)


def _data(batch):
    rng = np.random.default_rng(0)
    w1 = rng.standard_normal(SIZES[:2][::-1]).astype(np.float32) / 28
    w2 = rng.standard_normal(SIZES[1:][::-1]).astype(np.float32) / 11
    b1, b2 = np.zeros(SIZES[1], np.float32), np.zeros(SIZES[2], np.float32)
    x = rng.standard_normal((batch, SIZES[0])).astype(np.float32)
    y = rng.integers(0, SIZES[2], batch)
    return {"0.weight": w1, "0.bias": b1, "2.weight": w2, "2.bias": b2}, x, y


def ember_case(batch, backend, how="vmap"):
    """how: "vmap" (one batched pass), "compiled" (that pass replayed by ember.compile),
    or "loop" (grad one sample at a time)."""
    from ember.plugins import nn
    from ember.plugins.nn import functional as F
    arrays, x, y = _data(batch)
    model = nn.Sequential(nn.Linear(*SIZES[:2]), nn.ReLU(), nn.Linear(*SIZES[1:])).to(backend)
    params = {k: ember.tensor(v, backend=backend) for k, v in arrays.items()}
    x, y = ember.tensor(x, backend=backend), ember.tensor(y, backend=backend)

    def loss(p, xi, yi):
        return F.cross_entropy(nn.functional_call(model, p, (xi[None],)), yi[None])
    per_sample = ember.func.grad(loss)
    mapped = ember.func.vmap(per_sample, in_dims=(None, 0, 0))
    if how == "compiled":
        mapped = ember.compile(mapped)

    def run():
        if how == "loop":
            return [per_sample(params, x[i], y[i]) for i in range(batch)]
        return mapped(params, x, y)
    be = ember.get_backend(backend)
    return run, be.synchronize


def torch_case(batch):
    import torch
    import torch.func
    arrays, x, y = _data(batch)
    model = torch.nn.Sequential(torch.nn.Linear(*SIZES[:2]), torch.nn.ReLU(),
                                torch.nn.Linear(*SIZES[1:]))
    params = {k: torch.tensor(v) for k, v in arrays.items()}
    x, y = torch.tensor(x), torch.tensor(y)

    def loss(p, xi, yi):
        out = torch.func.functional_call(model, p, (xi[None],))
        return torch.nn.functional.cross_entropy(out, yi[None])
    mapped = torch.func.vmap(torch.func.grad(loss), in_dims=(None, 0, 0))
    return lambda: mapped(params, x, y), lambda: None


def numpy_case(batch):
    """The per-sample gradients by hand: each is an outer product of one sample's
    backpropagated error with its layer input."""
    p, x, y = _data(batch)
    onehot = np.eye(SIZES[2], dtype=np.float32)[y]

    def run():
        h = x @ p["0.weight"].T + p["0.bias"]
        a = np.maximum(h, 0)
        z = a @ p["2.weight"].T + p["2.bias"]
        e = np.exp(z - z.max(1, keepdims=True))
        dz = e / e.sum(1, keepdims=True) - onehot
        da = (dz @ p["2.weight"]) * (h > 0)
        return {"0.weight": np.einsum("bi,bj->bij", da, x), "0.bias": da,
                "2.weight": np.einsum("bi,bj->bij", dz, a), "2.bias": dz}
    return run, lambda: None


def check(batch, backend):
    """ember's batched gradients equal the hand-written ones (relative to the largest)."""
    got = ember_case(batch, backend)[0]()
    want = numpy_case(batch)[0]()
    for k, w in want.items():
        err = np.abs(got[k].numpy() - w).max() / np.abs(w).max()
        assert err < 1e-5, f"{k}: relative error {err:.2e}"


def rows(backends, batches=(64, 256), min_time=0.3, loop=True):
    """[(batch, {contender: seconds})], contenders timed in alternation."""
    have_torch = importlib.util.find_spec("torch") is not None
    out = []
    for n in batches:
        for b in backends:
            check(n, b)
        cases = [(f"ember:{b} {how}", ember_case(n, b, how)) for b in backends
                 for how in ("vmap", "compiled") + ("loop",) * loop]
        cases += [("torch.func", torch_case(n))] if have_torch else []
        cases += [("numpy by hand", numpy_case(n))]
        names, contenders = zip(*cases)
        out.append((n, dict(zip(names, side_by_side(contenders, min_time=min_time, repeat=3)))))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", action="append")
    parser.add_argument("--batch", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--no-loop", action="store_true", help="skip the per-sample loop")
    args = parser.parse_args(argv)
    backends = args.backend or ["numpy"]
    for n, times in rows(backends, args.batch, loop=not args.no_loop):
        hand = times["numpy by hand"]
        print(f"batch {n:4d}  " + "  ".join(
            f"{name} {t * 1e3:8.2f} ms ({t / hand:.2f}x)" for name, t in times.items()),
            flush=True)


if __name__ == "__main__":
    main()
