"""Attention forward + backward (causal, 8 heads of 64 features, float32) at sequence
lengths 128, 512 and 2048: ember's scaled_dot_product_attention on each backend against
PyTorch CPU's, side by side in one run. NumPy runs its flash-attention fast path (blocks
of queries through BLAS), OpenCL and wgpu their flash-attention kernels
(kernels/attention.cl, kernels/attention*.wgsl). ``--composed`` hides the fast paths
(the composed op is GEMM, softmax, GEMM), to measure what they gain.

    python benchmarks/attention.py [--backend numpy] [--lengths 128 512 2048]
    python benchmarks/attention.py --backend cupy --lengths 1024 4096 --torch-device cuda

On a GPU, PyTorch's attention runs eager and through torch.compile.
"""

import argparse
import os
import sys

import numpy as np

import ember

sys.path.insert(0, os.path.dirname(__file__))
from timing import side_by_side  # noqa: E402
from ember.testing.checks import without_fast_paths  # noqa: E402

HEADS, FEATURES = 8, 64


def _inputs(length):
    rng = np.random.default_rng(0)
    return [rng.standard_normal((1, HEADS, length, FEATURES)).astype(np.float32)
            for _ in range(3)]


def ember_case(length, backend, composed=False):
    be = ember.get_backend(backend)
    q, k, v = [ember.tensor(a, backend=backend, requires_grad=True) for a in _inputs(length)]

    def run():
        ember.scaled_dot_product_attention(q, k, v, is_causal=True).sum().backward()

    def run_composed():
        with without_fast_paths(be, "fast_attention", "fast_attention_grad"):
            run()
    return (run_composed if composed else run), be.synchronize


def torch_case(length, device="cpu", compiled=False):
    import torch
    q, k, v = [torch.tensor(a, requires_grad=True, device=device) for a in _inputs(length)]

    def attention(q, k, v):
        return torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
    forward = torch.compile(attention) if compiled else attention

    def run():
        forward(q, k, v).sum().backward()
    return run, torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)


def rows(backends, lengths=(128, 512, 2048), min_time=0.3, composed=False,
         torch_device="cpu", repeat=3):
    """[(length, {contender: seconds})], contenders timed in alternation (the median of
    ``repeat`` rounds); with
    ``composed``, each backend with a fast path also without it; PyTorch's on
    ``torch_device``, there compiled too where that is a GPU."""
    try:
        import torch  # noqa: F401
        have_torch = True
    except ImportError:
        have_torch = False
    out = []
    for n in lengths:
        plain = [(f"ember:{b}", ember_case(n, b)) for b in backends]
        slow = [(f"ember:{b} composed", ember_case(n, b, True)) for b in backends
                if composed and ember.get_backend(b).fast_attention is not None]
        torch = [("torch", torch_case(n, torch_device))] if have_torch else []
        if torch and torch_device.startswith("cuda"):
            torch.append(("torch compiled", _warmed(torch_case(n, torch_device, True))))
        names, cases = zip(*(plain + slow + torch))
        out.append((n, dict(zip(names, side_by_side(cases, min_time=min_time, repeat=repeat)))))
    return out


def _warmed(case, calls=3):
    """A case after ``calls`` calls: torch.compile's compilation done."""
    run, sync = case
    for _ in range(calls):
        run()
    sync()
    return case


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", action="append")
    parser.add_argument("--lengths", type=int, nargs="+", default=[128, 512, 2048])
    parser.add_argument("--composed", action="store_true",
                        help="also time each backend's composed op (its fast path hidden)")
    parser.add_argument("--torch-device", default="cpu", help="PyTorch's device (cuda on a GPU)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="rounds of alternation, the median kept (more: steadier on a "
                             "shared machine)")
    args = parser.parse_args(argv)
    backends = args.backend or [n for n in ember.registry.names("backends")
                                if ember.config.availability(n)[0]]
    for n, times in rows(backends, args.lengths, composed=args.composed,
                         torch_device=args.torch_device, repeat=args.repeat):
        torch = times.get("torch")
        print(f"L={n:5d} " + "  ".join(
            f"{name} {t * 1e3:8.2f} ms" + (f" ({t / torch:.2f}x torch)" if torch and name != "torch"
                                            else "") for name, t in times.items()), flush=True)


if __name__ == "__main__":
    main()
