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
