"""Timing helpers shared by the benchmarks: medians of repeated calls, and contenders
timed in alternation so a slow spell of a shared machine falls on all alike."""

import statistics
import time


def _calls_for(fn, sync, min_time):
    """How many calls of fn fill min_time (after one warm-up call)."""
    fn()
    sync()
    t0 = time.perf_counter()
    fn()
    sync()
    return max(1, int(min_time / max(time.perf_counter() - t0, 1e-7)))


def _timed(fn, sync, number):
    t0 = time.perf_counter()
    for _ in range(number):
        fn()
    sync()
    return (time.perf_counter() - t0) / number


def median_time(fn, sync=lambda: None, min_time=0.2, repeat=5):
    number = _calls_for(fn, sync, min_time)
    return statistics.median(_timed(fn, sync, number) for _ in range(repeat))


def side_by_side(contenders, min_time=0.2, repeat=7, pause=0.2):
    """Median seconds per call of each (fn, sync), timed in alternation round by round,
    so that a slow spell of a shared machine falls on every column alike. Each turn
    starts after a pause: the BLAS and OpenMP threads of the one before spin for up to
    a tenth of a second after their last call, and would take the cores from the next."""
    numbers = [_calls_for(fn, sync, min_time / 2) for fn, sync in contenders]
    samples = [[] for _ in contenders]
    for _ in range(repeat):
        for (fn, sync), number, out in zip(contenders, numbers, samples):
            time.sleep(pause)
            out.append(_timed(fn, sync, number))
    return [statistics.median(s) for s in samples]


def host_table(description, host_label, workloads, argv=None):
    """Time each workload (name, host arrays, host_fn, ember_fn, torch_fn; each function
    takes the arrays, or tensors made of them) on the host, on each ember backend named
    by --backends that is available, and in PyTorch where installed, side by side; print
    milliseconds per call, the ratio to the host function's in brackets."""
    import argparse
    import ember
    try:
        import torch
    except ImportError:
        torch = None
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--backends", default="numpy,opencl,wgpu")
    args = parser.parse_args(argv)
    backends = [b for b in args.backends.split(",") if ember.config.availability(b)[0]]
    print(f"{'workload':30}{host_label:>10}" + "".join(f"{'ember ' + b:>20}" for b in backends)
          + (f"{'torch':>20}" if torch else ""))
    for name, arrays, host_fn, ember_fn, torch_fn in workloads:
        contenders = [(lambda: host_fn(*arrays), lambda: None)]
        for b in backends:
            xs = [ember.tensor(a, backend=b) for a in arrays]
            contenders.append(((lambda xs=xs: ember_fn(*xs)), ember.get_backend(b).synchronize))
        if torch:
            ts = [torch.tensor(a) for a in arrays]
            contenders.append((lambda ts=ts: torch_fn(*ts), lambda: None))
        times = side_by_side(contenders, min_time=0.3, repeat=5)
        cells = [f"{s * 1e3:10.2f} ({s / times[0]:5.1f}x)" for s in times[1:]]
        print(f"{name:30}{times[0] * 1e3:10.2f}" + "".join(f"{c:>20}" for c in cells))
