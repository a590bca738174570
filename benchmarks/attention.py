"""Attention forward + backward (causal, 8 heads of 64 features, float32) at sequence
lengths 128, 512 and 2048: ember's scaled_dot_product_attention on each backend against
PyTorch CPU's, side by side in one run. NumPy runs its flash-attention fast path; OpenCL
and wgpu run the composed op (GEMM, softmax, GEMM) until they have a fused kernel.

    python benchmarks/attention.py [--backend numpy] [--lengths 128 512 2048]
"""

import argparse
import os
import sys

import numpy as np

import ember

sys.path.insert(0, os.path.dirname(__file__))
from timing import side_by_side  # noqa: E402

HEADS, FEATURES = 8, 64


def _inputs(length):
    rng = np.random.default_rng(0)
    return [rng.standard_normal((1, HEADS, length, FEATURES)).astype(np.float32)
            for _ in range(3)]


def ember_case(length, backend):
    be = ember.get_backend(backend)
    q, k, v = [ember.tensor(a, backend=backend, requires_grad=True) for a in _inputs(length)]

    def run():
        ember.scaled_dot_product_attention(q, k, v, is_causal=True).sum().backward()
    return run, be.synchronize


def torch_case(length):
    import torch
    q, k, v = [torch.tensor(a, requires_grad=True) for a in _inputs(length)]

    def run():
        torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True).sum().backward()
    return run, lambda: None


def rows(backends, lengths=(128, 512, 2048), min_time=0.3):
    """[(length, {contender: seconds})], contenders timed in alternation."""
    try:
        import torch  # noqa: F401
        have_torch = True
    except ImportError:
        have_torch = False
    out = []
    for n in lengths:
        names = [f"ember:{b}" for b in backends] + (["torch"] if have_torch else [])
        cases = [ember_case(n, b) for b in backends] + ([torch_case(n)] if have_torch else [])
        out.append((n, dict(zip(names, side_by_side(cases, min_time=min_time, repeat=3)))))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", action="append")
    parser.add_argument("--lengths", type=int, nargs="+", default=[128, 512, 2048])
    args = parser.parse_args(argv)
    backends = args.backend or [n for n in ember.registry.names("backends")
                                if ember.config.availability(n)[0]]
    for n, times in rows(backends, args.lengths):
        torch = times.get("torch")
        print(f"L={n:5d} " + "  ".join(
            f"{name} {t * 1e3:8.2f} ms" + (f" ({t / torch:.2f}x torch)" if torch and name != "torch"
                                            else "") for name, t in times.items()), flush=True)


if __name__ == "__main__":
    main()
