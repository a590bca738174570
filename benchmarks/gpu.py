"""GPU figures for the CuPy backend, side by side in one run with PyTorch CUDA (when
installed): matmul in TFLOP/s (float32 at 4096; at 8192 float32 with TF32 tensor cores
and bfloat16), the cost of a small op, and full
training steps (forward, cross-entropy, backward, update) of the MLP and CNN of
benchmarks/workloads.py, built from ember's layer, loss and optimizer plugins: ember
eager against PyTorch eager, and ember.compile against torch.compile in mode
"reduce-overhead" (CUDA graphs; the whole step compiled, as ember.compile takes it,
else the model alone), each warmed by ten calls first, the four timed in alternation.

    python benchmarks/gpu.py [--backend cupy]
"""

import argparse
import os
import sys

import ember

sys.path.insert(0, os.path.dirname(__file__))
import workloads  # noqa: E402
from timing import median_time, side_by_side  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="cupy")
    args = parser.parse_args(argv)
    backend = ember.get_backend(args.backend)
    sync = backend.synchronize
    try:
        import torch
        device = "cuda" if torch.cuda.is_available() else "cpu"
        tsync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    except ImportError:
        torch = None
    print(f"ember backend {backend.device}: {type(backend).devices()[backend.index]}")
    print(f"{'workload (compiled: ember.compile, torch.compile)':56s} {'ember':>11s} "
          f"{'torch':>11s} {'ratio':>7s}")

    def row(label, ours, theirs, unit_is_rate=False):
        ratio = (theirs / ours if unit_is_rate else ours / theirs) if theirs else None
        print(f"{label:56s} {ours:11.1f} {theirs if theirs else float('nan'):11.1f} "
              f"{(f'{ratio:6.2f}x' if ratio else '-'):>7s}", flush=True)

    big = args.backend != "numpy"
    for n, dtype, precision in ((4096 if big else 1024, "float32", "highest"),
                                (8192 if big else 1024, "float32", "high"),
                                (8192 if big else 1024, "bfloat16", "highest")):
        if ember.dtype(dtype) not in backend.dtypes:
            print(f"matmul {dtype}: backend {backend.name} does not hold it", flush=True)
            continue
        # "high": TF32 tensor cores for float32 (ember.set_float32_matmul_precision, and
        # PyTorch's flag); bfloat16: cuBLAS's bfloat16 GEMM, float32 accumulation
        ember.set_float32_matmul_precision(precision)
        a, b = (ember.randn(n, n, backend=backend, dtype=dtype) for _ in range(2))
        flops = 2 * n ** 3
        ours = flops / median_time(lambda: a @ b, sync) / 1e12
        theirs = None
        if torch is not None:
            torch.set_float32_matmul_precision(precision)
            ta, tb = (torch.randn(n, n, device=device, dtype=getattr(torch, dtype))
                      for _ in range(2))
            theirs = flops / median_time(lambda: ta @ tb, tsync) / 1e12
        kind = dtype + (", TF32" if precision == "high" else "")
        row(f"matmul {n} {kind} (TFLOP/s, ratio = torch/ember)", ours, theirs, unit_is_rate=True)
    ember.set_float32_matmul_precision("highest")
    if torch is not None:
        torch.set_float32_matmul_precision("highest")

    x = ember.randn(8, backend=backend, requires_grad=True)
    ours = median_time(lambda: x + x, sync) * 1e6
    theirs = None
    if torch is not None:
        tx = torch.randn(8, device=device, requires_grad=True)
        theirs = median_time(lambda: tx + tx, tsync) * 1e6
    row("add, 8 elements, with grad (us)", ours, theirs)

    for name, model, shape, opt in (
            ("MLP 784-128-10 SGD, batch 64", workloads.mlp, (64, 784), "momentum"),
            ("MLP 784-128-10 SGD, batch 256", workloads.mlp, (256, 784), "momentum"),
            ("MLP 784-128-10 Adam, batch 256", workloads.mlp, (256, 784), "adam"),
            ("MLP 784-128-10 SGD, batch 4096", workloads.mlp, (4096, 784), "momentum"),
            ("CNN step, batch 64, 28x28", workloads.cnn, (64, 1, 28, 28), "momentum"),
            ("CNN step, batch 512, 28x28", workloads.cnn, (512, 1, 28, 28), "momentum")):
        ours = [_warmed(workloads.ember_step(model, shape, backend, opt, c), sync)
                for c in (False, True)]
        theirs = [None, None]
        if torch is not None:
            theirs[0] = _warmed(workloads.torch_step(model, shape, device, opt), tsync)
            for whole in (True, False):
                # the whole step; where that fails (SGD's momentum buffers, made inside the
                # first captured step, are CUDA-graph outputs the next replay overwrites),
                # the model alone, the loss and update eager
                try:
                    theirs[1] = _warmed(workloads.torch_step(
                        model, shape, device, opt, "reduce-overhead", whole), tsync)
                    break
                except Exception as e:      # no compiler or Triton on the machine: say so
                    print(f"torch.compile of the {'whole step' if whole else 'model'} failed: "
                          f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}",
                          flush=True)
        contenders = [c for c in ours + theirs if c is not None]
        times = iter(t * 1e6 for t in side_by_side(contenders, min_time=0.1, repeat=5, pause=0.02))
        ours = [next(times) for _ in ours]
        theirs = [next(times) if c is not None else None for c in theirs]
        for i, label in enumerate((" (us)", ", compiled (us)")):
            row(name + label, ours[i], theirs[i])


def _warmed(step, sync, warm=10):
    """(step, sync) after ``warm`` calls: traces, compilation and graph captures done
    (torch.compile's CUDA graphs are recorded on the third call)."""
    for _ in range(warm):
        step()
    sync()
    return step, sync


if __name__ == "__main__":
    main()
