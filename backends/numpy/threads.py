"""Pieces of one NumPy computation on every core at once, as PyTorch's CPU kernels run.

NumPy's loops release the GIL, so Python threads run them side by side: large
elementwise ops and copies (im2col's windows) are cut along their largest axis,
attention over several heads into a share of the heads per core. The pieces run
in the caller's context (its ``numpy.errstate``).

OpenBLAS spreads each GEMM over the cores too, and the two kinds of threads then
fight (attention forward at length 2048, 8 heads: 143 ms in two threads, 89 ms in
one); so while pieces that call BLAS run, BLAS runs one thread per call. OpenBLAS's
thread count is one number for the process, and threadpoolctl lets one thread set
it (the first that does), so those pieces are cut for calls from the main thread
only; calls from other threads run whole.

OpenBLAS's idle workers also spin for 2^28 cycles (about 0.1 s) after each GEMM
before they sleep, each on a core the pieces cut next need: ResNet-18's 3x3
convolutions ran half as fast right after another layer's GEMM as alone. So the
numpy backend tells them to sleep after BLAS_SPIN instead (quiet_blas_workers),
unless OPENBLAS_THREAD_TIMEOUT says otherwise.
"""

import contextlib
import contextvars
import functools
import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait

import numpy

from ember.host import usable_cores

#: below this many elements an elementwise op or a copy runs whole: cutting it costs
#: about 30 us, and an add of 1M float32 (0.15-0.2 ms, from the cache) ran 1.5 times
#: slower cut in two on a 2-core EPYC, where 2M broke even and 4M gained 1.15-1.45x
MIN_ELEMENTS = 1 << 21
#: below this many attention scores (batch x L x S) attention runs whole
MIN_SCORES = 1 << 18

#: how long OpenBLAS's idle workers spin, as OPENBLAS_THREAD_TIMEOUT (2 to this power
#: of cycles): 2^22, about 1.5 ms, keeps them awake between the GEMMs of an eager
#: training step (an MLP step at batch 64: 305 us at OpenBLAS's 28, 312 at 20 and 22,
#: 330 at 18; a lone 64 x 784 x 128 GEMM 40 us at 18, 85 at 4) and frees the cores for
#: the pieces cut after one, which run for milliseconds (ResNet-18 at batch 32 on 2
#: cores: 660 ms at 28, 450 to 560 at 14 to 24)
BLAS_SPIN = 22

_POOL_NAME = "ember-numpy"
_state = {"pool": None, "controller": None}
_pool_lock = threading.Lock()
#: .piece is true while the caller runs its own piece (see run)
_local = threading.local()
_AS_IS = contextlib.nullcontext()


def _forget_pool():
    """A forked child (a DataLoader worker) has none of the parent's threads: it starts
    its own pool when it needs one, instead of waiting on threads that are not there."""
    global _pool_lock
    _state["pool"], _pool_lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


@functools.lru_cache(maxsize=None)
def quiet_blas_workers():
    """Have each OpenBLAS (pthreads build) in the process spin BLAS_SPIN when idle: it
    reads OPENBLAS_THREAD_TIMEOUT once, at load, so the variable is set, read again
    (openblas_read_env) and the workers restarted (blas_thread_shutdown_; the next
    threaded GEMM starts them). Nothing changes where the user set the variable, or
    for another BLAS."""
    if "OPENBLAS_THREAD_TIMEOUT" in os.environ or not _controller():
        return
    for lib in _controller().select(internal_api="openblas").lib_controllers:
        read = getattr(lib.dynlib, "openblas_read_env", None)
        restart = getattr(lib.dynlib, "blas_thread_shutdown_", None)
        if lib.threading_layer != "pthreads" or read is None or restart is None:
            continue
        os.environ["OPENBLAS_THREAD_TIMEOUT"] = str(BLAS_SPIN)
        try:
            read()
        finally:
            del os.environ["OPENBLAS_THREAD_TIMEOUT"]
        restart()


def cores():
    """The cores the pieces use: those this process may run on, or as many as
    set_threads said."""
    return _state.get("threads") or usable_cores()


def set_threads(n):
    """At most ``n`` pieces of a computation at once, and BLAS held to ``n`` threads
    (through threadpoolctl, where it is there) outside them (ember.set_num_threads)."""
    _state["threads"] = n
    if _controller():
        _state["blas_limit"] = _controller().limit(limits=n, user_api="blas")


def _controller():
    if _state["controller"] is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:          # without it BLAS cannot be held to one thread
            _state["controller"] = False
        else:
            _state["controller"] = ThreadpoolController()
    return _state["controller"]


def _pieces(shape):
    """How many pieces to cut work of ``shape`` into: one per core, at most its largest
    axis; 1 on one core and inside a piece (the pool's threads wait for none)."""
    if getattr(_local, "piece", False) or threading.current_thread().name.startswith(_POOL_NAME):
        return 1
    return min(cores(), max(shape, default=1))


def _cuts(shape, n):
    """(axis, [slice]): the largest axis of ``shape`` cut into ``n`` near-equal parts."""
    axis = max(range(len(shape)), key=lambda a: shape[a])
    bounds = [shape[axis] * i // n for i in range(n + 1)]
    return axis, [slice(a, b) for a, b in zip(bounds, bounds[1:])]


def blas_pieces():
    """How many pieces that call BLAS may run at once: one per core, or 1 where BLAS
    cannot be held to one thread meanwhile (another thread than the main one, no
    threadpoolctl) or within a piece."""
    if threading.current_thread() is not threading.main_thread() or not _controller():
        return 1
    return _pieces((cores(),))


def shares(batch, work):
    """One function per core that cuts an array to its share of the largest of the
    (broadcast) ``batch`` axes; None (run whole) when the ``work`` is small, there is
    one core or one item on that axis, the caller is not the main thread, or BLAS's
    thread count cannot be set."""
    n = _pieces(batch)
    if n < 2 or work < MIN_SCORES or blas_pieces() < 2:
        return None
    axis, pieces = _cuts(batch, n)

    def cutter(piece):
        def share(x, tail=2):
            """x's share, x's own batch axes aligned right with ``tail`` axes after them:
            a view, or x itself where it broadcasts along the axis."""
            if x is None:
                return None
            i = axis - (len(batch) - (x.ndim - tail))
            return x if i < 0 or x.shape[i] == 1 else x[(slice(None),) * i + (piece,)]
        return share
    return [cutter(piece) for piece in pieces]


def into(out, fill):
    """Fill ``out`` by pieces: ``fill(index)`` fills out[index], one piece per core."""
    axis, pieces = _cuts(out.shape, _pieces(out.shape))
    run([functools.partial(fill, (slice(None),) * axis + (piece,)) for piece in pieces],
        one_blas_thread=False)
    return out


def over_rows(fill, rows, size):
    """fill(start, stop) over ranges of ``rows`` rows: a range per core where the work
    (``size`` elements) is large, else one call for them all."""
    n = _pieces((rows,)) if size >= MIN_ELEMENTS else 1
    if n < 2:
        return fill(0, rows)
    bounds = [rows * i // n for i in range(n + 1)]
    run([functools.partial(fill, a, b) for a, b in zip(bounds, bounds[1:])],
        one_blas_thread=False)


def contiguous(view):
    """A C-ordered copy of ``view``, cut over the cores where it is large (a copy of
    im2col's strided windows runs 1.4 to 1.8 times as fast on two cores)."""
    if view.size < MIN_ELEMENTS or _pieces(view.shape) < 2:
        return numpy.ascontiguousarray(view)
    out = numpy.empty(view.shape, view.dtype)
    return into(out, lambda index: numpy.copyto(out[index], view[index]))


def unary(ufunc, x):
    """ufunc(x), cut over the cores where x is large."""
    return ufunc(x) if x.size < MIN_ELEMENTS else _elementwise(ufunc, (x,))


def binary(ufunc, a, b):
    """ufunc(a, b), cut over the cores where an operand is large."""
    if getattr(a, "size", 1) < MIN_ELEMENTS and getattr(b, "size", 1) < MIN_ELEMENTS:
        return ufunc(a, b)
    return _elementwise(ufunc, (a, b))


def elementwise(function, *args):
    """function(*args), cut over the cores where an operand is large; ``function`` takes
    ``out=`` as a ufunc does."""
    if all(getattr(a, "size", 1) < MIN_ELEMENTS for a in args):
        return function(*args)
    return _elementwise(function, args)


def _elementwise(ufunc, args):
    shape = numpy.broadcast_shapes(*(numpy.shape(a) for a in args))
    if _pieces(shape) < 2:
        return ufunc(*args)
    # the dtype NumPy gives: Python numbers stay as they are (NEP 50's weak scalars)
    dtype = ufunc(*(a.reshape(-1)[:0] if isinstance(a, numpy.ndarray) else a
                    for a in args)).dtype
    whole = [numpy.broadcast_to(a, shape) if isinstance(a, numpy.ndarray) else a for a in args]
    out = numpy.empty(shape, dtype)
    return into(out, lambda index: ufunc(
        *(a[index] if isinstance(a, numpy.ndarray) else a for a in whole), out=out[index]))


def run(tasks, one_blas_thread=True):
    """Call each of ``tasks`` (functions of no argument) in the caller's context, the first
    on the caller's thread and the others on the pool's, BLAS held to one thread meanwhile
    if they call it (then from the main thread only: see above); re-raises the first
    error. The caller's own piece halves the cost of a cut (80 -> 30 us for two)."""
    with _pool_lock:
        if _state["pool"] is None:
            _state["pool"] = ThreadPoolExecutor(max(cores(), usable_cores()),
                                                thread_name_prefix=_POOL_NAME)
    pool = _state["pool"]
    with _controller().limit(limits=1, user_api="blas") if one_blas_thread else _AS_IS:
        futures = [pool.submit(contextvars.copy_context().run, task) for task in tasks[1:]]
        _local.piece = True
        try:
            tasks[0]()
        finally:
            _local.piece = False
            wait(futures)
    for future in futures:
        future.result()
