"""Independent pieces of one NumPy computation on every core at once.

NumPy's loops release the GIL, so Python threads run them side by side. OpenBLAS
also spreads each GEMM over the cores, and the two kinds of threads then fight
(attention forward at length 2048, 8 heads: 143 ms in two threads, 89 ms in one);
so while the pieces run, BLAS runs one thread per call, each piece on its own core.
OpenBLAS's thread count is one number for the process, and threadpoolctl lets one
thread set it (the first that does), so pieces are cut for calls from the main
thread only; calls from other threads run as they are.
"""

import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait

#: below this many scores (or elements) a piece per core costs more than it saves
MIN_WORK = 1 << 18
#: pieces per core, so that a core slowed by other work takes fewer of them
PIECES_PER_CORE = 1

_state = {"pool": None, "controller": None}


def cores():
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:       # not on Linux
        return os.cpu_count() or 1


def _controller():
    if _state["controller"] is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:          # without it BLAS cannot be held to one thread
            _state["controller"] = False
        else:
            _state["controller"] = ThreadpoolController()
    return _state["controller"]


def shares(batch, work):
    """One function per core that cuts an array to its share of the largest of the
    (broadcast) ``batch`` axes; None (run as is) when the work is small, there is one
    core or one item on that axis, the caller is not the main thread, or BLAS's thread
    count cannot be set."""
    n = min(PIECES_PER_CORE * cores(), max(batch, default=1))
    if (n < 2 or work < MIN_WORK or threading.current_thread() is not threading.main_thread()
            or not _controller()):
        return None
    axis = max(range(len(batch)), key=lambda a: batch[a])
    bounds = [batch[axis] * i // n for i in range(n + 1)]

    def cutter(piece):
        def share(x, tail=2):
            """x's share, x's own batch axes aligned right with ``tail`` axes after them:
            a view, or x itself where it broadcasts along the axis."""
            if x is None:
                return None
            i = axis - (len(batch) - (x.ndim - tail))
            return x if i < 0 or x.shape[i] == 1 else x[(slice(None),) * i + (piece,)]
        return share
    return [cutter(slice(a, b)) for a, b in zip(bounds, bounds[1:])]


def run(tasks):
    """Call each of ``tasks`` (functions of no argument) on a thread of its own, BLAS held
    to one thread meanwhile; re-raises the first error."""
    if _state["pool"] is None:
        _state["pool"] = ThreadPoolExecutor(cores(), thread_name_prefix="ember-numpy")
    with _controller().limit(limits=1, user_api="blas"):
        futures = [_state["pool"].submit(task) for task in tasks]
        wait(futures)
    for future in futures:
        future.result()
