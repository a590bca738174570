"""Per-op overhead: a small add, mul and matmul, with and without grad.

Side by side in one run: hand-written NumPy, ember on each available backend,
and PyTorch CPU when it is installed (`pip install torch==2.13.0`). Prints
medians in microseconds and ember's ratio to PyTorch and to NumPy.

    python benchmarks/overhead.py [--backend numpy] [--repeat 7] [--number 20000]
"""

import argparse
import statistics
import timeit

import numpy as np

import ember


def _median_us(fn, number, repeat):
    fn()  # warm up (kernel builds, caches)
    times = timeit.repeat(fn, number=number, repeat=repeat)
    return statistics.median(times) / number * 1e6


def workloads(n=8):
    """(name, make_operands, op) for each measured operation."""
    vec = (n,)
    mat = (n, n)
    return [
        ("add", vec, lambda a, b: a + b),
        ("mul", vec, lambda a, b: a * b),
        ("matmul", mat, lambda a, b: a @ b),
    ]


def numpy_case(shape, op):
    rng = np.random.default_rng(0)
    a = rng.standard_normal(shape).astype(np.float32)
    b = rng.standard_normal(shape).astype(np.float32)
    return lambda: op(a, b)


def ember_case(shape, op, backend, grad):
    a = ember.randn(*shape, backend=backend, requires_grad=grad)
    b = ember.randn(*shape, backend=backend, requires_grad=grad)
    sync = ember.get_backend(backend).synchronize

    def run():
        op(a, b)
        sync()
    return run


def torch_case(shape, op, grad):
    import torch
    torch.set_num_threads(1)
    a = torch.randn(*shape, requires_grad=grad)
    b = torch.randn(*shape, requires_grad=grad)
    return lambda: op(a, b)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", action="append", help="ember backend(s); default: all available")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--number", type=int, default=20000)
    args = parser.parse_args(argv)
    backends = args.backend or [n for n in ember.registry.names("backends")
                                if ember.config.availability(n)[0]]
    try:
        import torch  # noqa: F401
        have_torch = True
    except ImportError:
        have_torch = False
        print("PyTorch is not installed: its column is empty (pip install torch==2.13.0)")

    header = f"{'op':8s} {'grad':5s} {'NumPy':>9s} {'torch':>9s}"
    for b in backends:
        header += f" {'ember:' + b:>13s} {'vs torch':>9s} {'vs NumPy':>9s}"
    print("median microseconds per call, float32, 8 elements (8x8 for matmul)")
    print(header)
    results = []
    for name, shape, op in workloads():
        base = _median_us(numpy_case(shape, op), args.number, args.repeat)
        for grad in (False, True):
            row = f"{name:8s} {str(grad):5s} {base:9.2f}"
            ref = _median_us(torch_case(shape, op, grad), args.number, args.repeat) if have_torch else None
            row += f" {ref:9.2f}" if ref else f" {'-':>9s}"
            for b in backends:
                t = _median_us(ember_case(shape, op, b, grad), args.number, args.repeat)
                vs_torch = f"{t / ref:8.2f}x" if ref else f"{'-':>9s}"
                row += f" {t:13.2f} {vs_torch} {t / base:8.2f}x"
                results.append((name, grad, b, t, ref, base))
            print(row, flush=True)
    return results


if __name__ == "__main__":
    main()
