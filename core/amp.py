"""Automatic mixed precision: ``with ember.autocast(dtype=ember.bfloat16):`` runs the ops
that gain from a 16-bit dtype (matmul, hence linear layers and convolutions, and
attention) in it, and the ops that lose accuracy there (softmax, normalization, losses,
exp, log, sums) in float32, following PyTorch's autocast op lists. Every other op runs
in the widest dtype of its inputs, by the usual promotion.

The casts are ordinary differentiable ops, so gradients reach float32 parameters as
float32 (master weights), and ``ember.compile`` records them like any op; a compiled
function keeps one trace per autocast state. Ops written outside the core opt in with
``lower`` (a matmul-like op) or ``widen`` (a reduction-like op).
"""

import functools
import threading

from . import dtypes as dt
from .errors import DTypeError

_local = threading.local()
#: autocasts entered (enabled) in any thread: while 0, ``state`` is one global read, so
#: the ops' hooks cost nothing outside autocast
active_count = 0
_count_lock = threading.Lock()


def state():
    """This thread's autocast dtype, or None outside autocast."""
    return getattr(_local, "dtype", None) if active_count else None


def get_autocast_dtype():
    return state()


def is_autocast_enabled():
    return state() is not None


class autocast:
    """Run the enclosed ops in mixed precision in this thread; ``enabled=False`` turns a
    surrounding autocast off (as for a loss computed outside it). Nests."""

    def __init__(self, dtype=dt.bfloat16, enabled=True):
        dtype = dt.dtype(dtype)
        if dtype not in dt.HALF:
            raise DTypeError(f"autocast: dtype must be float16 or bfloat16, got {dtype.name}")
        self.dtype, self.enabled = dtype, enabled

    def __enter__(self):
        global active_count
        self.outer = getattr(_local, "dtype", None)
        _local.dtype = self.dtype if self.enabled else None
        if self.enabled:
            with _count_lock:
                active_count += 1
        return self

    def __exit__(self, *exc):
        global active_count
        _local.dtype = self.outer
        if self.enabled:
            with _count_lock:
                active_count -= 1

    def __call__(self, fn):
        """As a decorator: ``fn`` runs under this autocast."""
        @functools.wraps(fn)
        def run(*args, **kwargs):
            with autocast(self.dtype, self.enabled):
                return fn(*args, **kwargs)
        return run


#: PyTorch's float32 matmul precisions: "highest", float32 throughout (the default);
#: "high", TensorFloat-32 tensor cores where the device has them; "medium", bfloat16 ones
MATMUL_PRECISIONS = ("highest", "high", "medium")
_matmul_precision = "highest"


def set_float32_matmul_precision(precision):
    """How float32 matmuls (linear layers and convolutions too) may compute, as
    ``torch.set_float32_matmul_precision``: "high" or "medium" let a GPU backend use its
    tensor cores (CuPy: cuBLAS's TF32 or bfloat16 compute types, ten or eight bits of
    mantissa), for about 8x the speed. The CPU backends compute in float32 whatever it
    says. A compiled function keeps one trace per precision."""
    global _matmul_precision
    if precision not in MATMUL_PRECISIONS:
        raise ValueError(f"set_float32_matmul_precision: precision must be one of "
                         f"{', '.join(MATMUL_PRECISIONS)}, got {precision!r}")
    _matmul_precision = precision


def get_float32_matmul_precision():
    return _matmul_precision


#: precision names (Trainer, ``ember train``, the examples) -> autocast dtype (None: off)
PRECISIONS = {"fp32": None, "bf16": dt.bfloat16, "fp16": dt.float16}


def precision(name):
    """The autocast of a precision name: "bf16", "fp16", or "fp32" (off)."""
    if name not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {name!r}")
    low = PRECISIONS[name]
    return autocast(low or dt.bfloat16, enabled=low is not None)


def _cast_all(tensors, want, eligible):
    """``tensors`` with each ``eligible`` float cast to ``want`` (all unchanged when want
    is None: outside autocast); one tensor in, one out."""
    if want is None:
        return tensors[0] if len(tensors) == 1 else tensors
    from .ops.elementwise import cast
    from .tensor import Tensor
    out = []
    for t in tensors:
        if isinstance(t, Tensor) and eligible(t.dtype):
            if want not in t._backend.dtypes:
                held = ", ".join(d.name for d in dt.HALF if d in t._backend.dtypes)
                raise DTypeError(
                    f"autocast({want.name}): backend {t._backend.name} does not hold "
                    f"{want.name}; " + (f"autocast with {held}" if held else
                                         "it holds no 16-bit float: run without autocast")
                    + " on this backend, or move to one that holds it (numpy)")
            t = cast(t, want)
        out.append(t)
    return out[0] if len(out) == 1 else tuple(out)


def _lowerable(d):
    return d is dt.float32 or d in dt.HALF


def _half(d):
    return d in dt.HALF


def lower(*tensors):
    """Under autocast, float32 and 16-bit float tensors cast to the autocast dtype (float64
    stays, as in PyTorch); the tensors unchanged outside it. One tensor in, one out."""
    return _cast_all(tensors, state(), _lowerable)


def widen(*tensors):
    """Under autocast, 16-bit float tensors cast to float32; unchanged outside it."""
    return _cast_all(tensors, dt.float32 if state() is not None else None, _half)
