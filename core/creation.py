"""Creating tensors: from data, constant fills, ranges and the seeded host generator."""

import math
import operator

import numpy as np

from . import dispatch
from . import dtypes as dt
from . import random as _random
from .config import get_backend
from .dlpack import AsUnsigned
from .errors import DTypeError, RangeError, ShapeError, refuses_none
from .tensor import Tensor, wrap


def unsupported(op, dtype, backend):
    names = ", ".join(d.name for d in dt.ALL if d in backend.dtypes)
    if dtype.is_complex and dt.complex64 not in backend.dtypes:
        fix = "keep complex tensors on a backend that holds them (numpy, opencl, cupy)"
    else:
        instead = ("complex64" if dtype.is_complex else "float32" if dtype.is_float
                   else backend.default_int.name)
        fix = f"cast with .to(ember.{instead}) or pick another backend"
    return DTypeError(f"{op}: backend {backend.device} does not support {dtype.name}; it "
                      f"supports {names}; {fix}")


def _target(dtype, backend, op):
    backend = get_backend(backend)
    if dtype not in backend.dtypes:
        raise unsupported(op, dtype, backend)
    return backend


def _shape(op, shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    try:
        shape = tuple(operator.index(d) for d in shape)
    except (TypeError, ValueError):
        raise ShapeError(f"{op}: a shape is a tuple of ints, got {shape!r}") from None
    if any(d < 0 for d in shape):
        raise ShapeError(f"{op}: negative size in shape {shape}")
    return shape


def check_fits(op, values, dtype):
    """Refuse values an integer ``dtype`` cannot hold (NaN, inf, out of range) with the
    first offender named, where NumPy's cast would wrap around silently. Floats round
    and overflow to inf as IEEE 754 says; bool takes any value's truth."""
    if not dtype.is_int:
        return
    arr = np.asarray(values)
    if arr.size == 0 or arr.dtype.kind not in "iufcO":
        return
    info = np.iinfo(dtype.np)
    if arr.dtype.kind == "c":      # a cast keeps the real part, as NumPy's and PyTorch's
        arr = arr.real
    if arr.dtype.kind == "O":      # Python ints past int64, held exactly
        bad = np.vectorize(lambda v: not info.min <= int(v) <= info.max, otypes=[bool])(arr)
    elif arr.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            bad = ~np.isfinite(arr) | (np.trunc(arr) < info.min) | (arr >= 2.0 ** (
                info.bits - (not dtype.is_unsigned)))
    elif np.can_cast(arr.dtype, dtype.np):
        return
    else:
        bad = (arr < info.min) | (arr > info.max)
    if bad.any():
        value = arr[bad].flat[0]
        value = value.item() if isinstance(value, np.generic) else value
        raise RangeError(f"{op}: {value!r} does not fit in {dtype.name} (range {info.min} to "
                         f"{info.max}); use a wider integer dtype or a float dtype")


def _upload(arr, dtype, backend, requires_grad, op):
    backend = _target(dtype, backend, op)
    check_fits(op, arr, dtype)
    arr = np.asarray(dt.host_array(arr, dtype), order="C")
    t = wrap(dispatch.primitives(backend).from_numpy(arr), backend, arr.shape, dtype)
    if requires_grad:
        t.requires_grad_()
    return t


def _array_like(data):
    """NumPy arrays and anything exporting __array__ or __dlpack__ (PyTorch, CuPy, JAX)."""
    return isinstance(data, (np.ndarray, np.generic)) or (
        not isinstance(data, (list, tuple)) and (hasattr(data, "__array__")
                                                  or hasattr(data, "__dlpack__")))


def _infer(data, arr, backend):
    """Python data takes the default dtypes (ints: the backend's); array-likes keep their own."""
    if _array_like(data):
        dtype = dt.from_numpy_dtype(arr.dtype)
        target = get_backend(backend)
        if dtype.is_int and dtype not in target.dtypes:
            return target.default_int   # NumPy's int64 labels on wgpu: kept where they fit
        return dtype
    kind = arr.dtype.kind
    if kind == "b":
        return dt.bool_
    if kind in "iu":
        return get_backend(backend).default_int
    if kind == "f" and not (arr.size and np.abs(arr).max() >= 2.0**63):
        return dt.default_float
    if kind == "c":
        return dt.default_complex
    if arr.size == 0:
        return dt.default_float
    if kind in "fO":
        # NumPy turns ints past int64 into float64 (beside a negative) or objects (past
        # uint64): refused, as PyTorch does, unless the data held floats to begin with
        values = np.array(data, dtype=object).ravel()
        if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            big = next(v for v in values if not -2**63 <= v < 2**63)
            raise RangeError(f"tensor: the integer {big} does not fit in int64 (range "
                             f"-2**63 to 2**63 - 1); give it as a float")
        if kind == "f":
            return dt.default_float
    raise _not_numbers(data, arr)


def _not_numbers(data, arr):
    return DTypeError(f"tensor: cannot make a tensor from {type(data).__name__} holding "
                      f"{arr.dtype} values; give numbers or bools")


def tensor(data, dtype=None, backend=None, requires_grad=False):
    """A new tensor holding a copy of ``data`` (a list, a NumPy array, a scalar or a tensor)."""
    if isinstance(data, Tensor):
        out = data.detach().to(backend) if backend is not None else data.detach()
        out = out.to(dtype=dt.dtype(dtype)) if dtype is not None else out
        return out.requires_grad_() if requires_grad else out
    try:
        if hasattr(data, "__dlpack__") and not hasattr(data, "__array__"):
            data = np.from_dlpack(data)
        arr = np.array(data, copy=True)
    except ValueError as exc:
        raise ShapeError(f"tensor: the nested lists are ragged ({exc}); every row needs the "
                         f"same length") from None
    except (TypeError, BufferError, RuntimeError):
        arr = _through_dlpack(data)          # PyTorch's bfloat16 and float8 have no __array__
        if arr is None:
            raise
        data = arr
    if arr.dtype.kind in "US":             # strings, whatever dtype is asked
        raise _not_numbers(data, arr)
    dtype = dt.dtype(dtype) if dtype is not None else _infer(data, arr, backend)
    if dtype.is_int and arr.dtype.kind in "fO" and not _array_like(data):
        exact = np.array(data, dtype=object)       # NumPy's float64 for ints past int64
        if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in exact.flat):
            check_fits("tensor", exact, dtype)
            arr = exact.astype(dtype.np)
    return _upload(arr, dtype, backend, requires_grad, "tensor")


def _through_dlpack(data):
    """A host copy of a DLPack producer's tensor of a dtype NumPy's DLPack lacks
    (bfloat16, float8: ember.dlpack), else None."""
    if not hasattr(data, "__dlpack__"):
        return None
    source = AsUnsigned(data)
    try:
        arr = np.from_dlpack(source)
    except (TypeError, ValueError, BufferError, RuntimeError):
        return None
    return np.array(arr.view(dt.dtype(source.dtype).np), copy=True) if source.dtype else None


def asarray(data, dtype=None, backend=None):
    """``data`` as a tensor, without a copy when it already is one of that dtype and backend."""
    if isinstance(data, Tensor):
        out = data if backend is None else data.to(backend)
        return out if dtype is None else out.to(dtype=dtype)
    return tensor(data, dtype=dtype, backend=backend)


def from_dlpack(obj, backend=None):
    """A tensor over any DLPack producer (NumPy, PyTorch, CuPy, JAX...): shared without a
    copy where the backend can (numpy from CPU producers, cupy from CUDA ones), copied
    through the host otherwise. Writing to the producer afterwards changes the tensor.
    bfloat16 and the float8 dtypes, which NumPy's DLPack lacks, pass as unsigned integers
    and are read back as themselves (ember.dlpack), in a copy."""
    if isinstance(obj, Tensor):
        return obj.to(backend) if backend is not None else obj
    b = get_backend(backend)
    if not hasattr(obj, "__dlpack__"):
        raise DTypeError(f"from_dlpack: backend {b.device} cannot import this "
                         f"{type(obj).__name__}: it has no __dlpack__; use ember.tensor() for "
                         f"lists and arrays")
    source = AsUnsigned(obj)      # bfloat16 and float8 pass as unsigned, read as themselves
    try:
        buf, shape, npd = b.from_dlpack(source)
    except (TypeError, ValueError, BufferError, RuntimeError, AttributeError) as exc:
        raise DTypeError(f"from_dlpack: backend {b.device} cannot import this "
                         f"{type(obj).__name__}: {exc}") from None
    if source.dtype:
        from .ops import bitcast
        carrier = dt.from_numpy_dtype(np.dtype(npd), "the DLPack buffer")
        return bitcast(wrap(buf, b, tuple(shape), carrier), source.dtype)
    dtype = dt.from_numpy_dtype(np.dtype(npd), "the DLPack buffer")
    if dtype not in b.dtypes:
        raise unsupported("from_dlpack", dtype, b)
    return wrap(buf, b, tuple(shape), dtype)


def full(shape, value, dtype=None, backend=None, requires_grad=False):
    shape = _shape("full", shape if isinstance(shape, (tuple, list)) else (shape,))
    if dtype is None:
        dtype = _infer(value, np.asarray(value), backend)
    dtype = dt.dtype(dtype)
    b = _target(dtype, backend, "full")
    check_fits("full", value, dtype)
    t = wrap(dispatch.primitives(b).full(shape, dt.host_scalar(value, dtype), dtype), b, shape, dtype)
    return t.requires_grad_() if requires_grad else t


def zeros(*shape, dtype=None, backend=None, requires_grad=False):
    return full(_shape("zeros", shape), 0, dtype or dt.default_float, backend, requires_grad)


def ones(*shape, dtype=None, backend=None, requires_grad=False):
    return full(_shape("ones", shape), 1, dtype or dt.default_float, backend, requires_grad)


def _like(op, x, dtype):
    if not isinstance(x, Tensor):
        raise DTypeError(f"{op}: needs a tensor to take the shape and backend of, got "
                        f"{type(x).__name__}; use ember.zeros(shape) and the like for a shape")
    return (dt.dtype(dtype) if dtype is not None else x.dtype), x._backend


@refuses_none
def zeros_like(x, dtype=None, requires_grad=False):
    dtype, b = _like("zeros_like", x, dtype)
    return full(x.shape, 0, dtype, b, requires_grad)


@refuses_none
def ones_like(x, dtype=None, requires_grad=False):
    dtype, b = _like("ones_like", x, dtype)
    return full(x.shape, 1, dtype, b, requires_grad)


@refuses_none
def full_like(x, value, dtype=None, requires_grad=False):
    dtype, b = _like("full_like", x, dtype)
    return full(x.shape, value, dtype, b, requires_grad)


@refuses_none
def arange(start, stop=None, step=1, dtype=None, backend=None):
    """Values from start (inclusive) to stop (exclusive) by step, as numpy.arange."""
    if stop is None:
        start, stop = 0, start
    if step == 0:
        raise ValueError("arange: step must not be 0")
    try:
        count = math.ceil((stop - start) / step)
    except (ValueError, OverflowError):      # NaN, or an infinite count
        raise RangeError(f"arange: from {start} to {stop} by {step} is no finite range; "
                         f"give finite numbers") from None
    if count > np.iinfo(np.intp).max:
        raise ShapeError(f"arange: from {start} to {stop} by {step} is {count:.3g} values, "
                         f"more than any array holds")
    if dtype is None:
        floats = any(isinstance(v, float) for v in (start, stop, step))
        dtype = dt.default_float if floats else get_backend(backend).default_int
    dtype = dt.dtype(dtype)
    return _upload(np.arange(start, stop, step, dtype=np.float64 if dtype.is_float else None),
                   dtype, backend, False, "arange")


def tril_indices(row, col, offset=0, dtype=None, backend=None):
    """The (2, count) row and column indices of a row x col matrix's lower triangle (at
    and below diagonal ``offset``), in row-major order, as torch.tril_indices."""
    return _triangle("tril_indices", np.tril_indices, row, col, offset, dtype, backend)


def triu_indices(row, col, offset=0, dtype=None, backend=None):
    """The (2, count) indices of a row x col matrix's upper triangle, as
    torch.triu_indices."""
    return _triangle("triu_indices", np.triu_indices, row, col, offset, dtype, backend)


def _triangle(op, numpy_indices, row, col, offset, dtype, backend):
    if min(row, col) < 0:
        raise ShapeError(f"{op}: row and col must be >= 0, got {row} and {col}")
    dtype = dt.dtype(dtype) if dtype is not None else get_backend(backend).default_int
    pairs = np.stack(numpy_indices(row, offset, col)) if row and col else np.zeros((2, 0))
    return _upload(pairs.astype(np.int64), dtype, backend, False, op)


@refuses_none
def linspace(start, stop, num, dtype=None, backend=None):
    """``num`` evenly spaced values from start to stop, both included."""
    if num < 0:
        raise ValueError(f"linspace: num must be >= 0, got {num}")
    return _upload(np.linspace(start, stop, int(num)), dt.dtype(dtype or dt.default_float),
                   backend, False, "linspace")


@refuses_none
def logspace(start, end, steps, base=10.0, dtype=None, backend=None):
    """``steps`` values base^t, t evenly spaced from start to end (torch.logspace)."""
    if steps < 0:
        raise ValueError(f"logspace: steps must be >= 0, got {steps}")
    return _upload(np.logspace(start, end, int(steps), base=base),
                   dt.dtype(dtype or dt.default_float), backend, False, "logspace")


@refuses_none
def eye(n, m=None, dtype=None, backend=None):
    """The identity matrix (n x m)."""
    n, m = _shape("eye", (n, n if m is None else m))
    return _upload(np.eye(n, m), dt.dtype(dtype or dt.default_float), backend, False, "eye")


# -- random, drawn on the host so a seed means the same values everywhere ------------
def _float_dtype(op, dtype):
    dtype = dt.dtype(dtype or dt.default_float)
    if not dtype.is_float:
        raise DTypeError(f"{op}: draws floating values; dtype {dtype.name} is not a float dtype")
    return dtype


def _gen_dtype(dtype):
    return dtype.np if dtype not in dt.HALF else np.float32


def rand(*shape, dtype=None, backend=None, requires_grad=False):
    """Uniform in [0, 1)."""
    dtype = _float_dtype("rand", dtype)
    values = _random.draw("random", _shape("rand", shape), dtype=_gen_dtype(dtype))
    return _upload(values, dtype, backend, requires_grad, "rand")


def randn(*shape, dtype=None, backend=None, requires_grad=False):
    """Standard normal."""
    dtype = _float_dtype("randn", dtype)
    values = _random.draw("standard_normal", _shape("randn", shape), dtype=_gen_dtype(dtype))
    return _upload(values, dtype, backend, requires_grad, "randn")


def uniform(low=0.0, high=1.0, shape=(), dtype=None, backend=None, requires_grad=False):
    """Uniform in [low, high)."""
    dtype = _float_dtype("uniform", dtype)
    values = _random.draw("uniform", low, high, _shape("uniform", (shape,)))
    return _upload(values, dtype, backend, requires_grad, "uniform")


def normal(mean=0.0, std=1.0, shape=(), dtype=None, backend=None, requires_grad=False):
    """Normal with the given mean and standard deviation: numbers, drawn in ``shape``, or
    tensors (torch.normal(mean, std)) whose broadcast shape the draws take."""
    if isinstance(mean, Tensor) or isinstance(std, Tensor):
        return _normal_about(mean, std, shape, dtype, requires_grad)
    dtype = _float_dtype("normal", dtype)
    if std < 0:
        raise ValueError(f"normal: std must be >= 0, got {std}")
    values = _random.draw("normal", mean, std, _shape("normal", (shape,)))
    return _upload(values, dtype, backend, requires_grad, "normal")


def _normal_about(mean, std, shape, dtype, requires_grad):
    """torch.normal's tensor form: one draw per element of the broadcast mean and std,
    with no gradient to either (as PyTorch's; reparameterize with
    ember.distributions.Normal(...).rsample() for one)."""
    like = mean if isinstance(mean, Tensor) else std
    if shape not in ((), None):
        raise ShapeError(f"normal: the shape of the draws is that of the mean and std tensors "
                         f"({like.shape}); drop shape={shape!r}, or pass numbers")
    if isinstance(std, Tensor) and bool((std < 0).any()):
        raise ValueError("normal: every std must be >= 0; some are negative")
    given = [t for t in (mean, std) if isinstance(t, Tensor)]
    drawn = given[0].dtype if len(given) == 1 else dt.promote(mean.dtype, std.dtype)
    if not drawn.is_float and any(isinstance(v, float) for v in (mean, std)):
        drawn = dt.default_float          # an integer tensor and a float number
    if not drawn.is_float:
        raise DTypeError(f"normal: needs floating-point mean or std, got {drawn.name}; "
                         f"convert with .float()")
    dtype = dt.dtype(dtype) if dtype is not None else drawn
    shape = tuple(np.broadcast_shapes(*(t.shape for t in given)))
    noise = randn(shape, dtype=dtype, backend=like._backend)
    mean, std = (v.detach().to(dtype) if isinstance(v, Tensor) else v for v in (mean, std))
    out = mean + std * noise          # an infinite std gives +-inf draws, as PyTorch's
    return out.requires_grad_() if requires_grad else out


@refuses_none
def randint(low, high=None, shape=(), dtype=None, backend=None):
    """Integers in [low, high)."""
    if high is None:
        low, high = 0, low
    if high <= low:
        raise ValueError(f"randint: high ({high}) must be greater than low ({low})")
    dtype = dt.dtype(dtype or get_backend(backend).default_int)
    values = _random.draw("integers", low, high, _shape("randint", (shape,)))
    return _upload(values, dtype, backend, False, "randint")


@refuses_none
def rand_like(x, dtype=None, requires_grad=False):
    dtype, b = _like("rand_like", x, dtype)
    return rand(x.shape, dtype=dtype, backend=b, requires_grad=requires_grad)


@refuses_none
def randn_like(x, dtype=None, requires_grad=False):
    dtype, b = _like("randn_like", x, dtype)
    return randn(x.shape, dtype=dtype, backend=b, requires_grad=requires_grad)


# -- PyTorch's names for the same -------------------------------------------------------
def empty(*shape, dtype=None, backend=None, requires_grad=False):
    """torch.empty: zeros (ember never hands out uninitialized memory)."""
    return full(_shape("empty", shape), 0, dtype or dt.default_float, backend, requires_grad)


@refuses_none
def empty_like(x, dtype=None, requires_grad=False):
    return zeros_like(x, dtype, requires_grad)


def from_numpy(array, backend=None):
    """A tensor of a NumPy array's values and dtype (a copy: tensors are values, so a
    later change to the array does not reach it, where torch.from_numpy shares memory)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    return tensor(array, backend=backend)


def randperm(n, dtype=None, backend=None):
    """A random permutation of 0 .. n-1, from ember's seeded generator."""
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"randperm: n must be an int >= 0, got {n!r}")
    values = _random.draw("permutation", int(n))
    return _upload(values, dt.dtype(dtype or get_backend(backend).default_int), backend, False,
                   "randperm")


def bernoulli(p):
    """1 with probability p (a tensor of probabilities in [0, 1]) and else 0, in p's dtype
    and backend, drawn from ember's seeded generator."""
    if not isinstance(p, Tensor) or not p.dtype.is_float:
        raise DTypeError("bernoulli: p must be a float tensor of probabilities")
    from .compile import is_compiling
    if p.size and not is_compiling() and not bool(((p >= 0) & (p <= 1)).all()):
        raise RangeError("bernoulli: p must hold probabilities in [0, 1] (NaN is none)")
    return (rand_like(p) < p).to(p.dtype)


@refuses_none
def multinomial(probs, num_samples, replacement=False):
    """Indices drawn from each row of ``probs`` (non-negative weights, 1-D or 2-D; they
    need not sum to 1), as torch.multinomial: without replacement each index at most once
    (so num_samples at most the number of nonzero weights). Drawn on the host from ember's
    seeded generator; the backend's index dtype."""
    if not isinstance(probs, Tensor) or probs.ndim not in (1, 2):
        raise ShapeError(f"multinomial: probs must be a 1-D or 2-D tensor, got "
                         f"{getattr(probs, 'shape', type(probs).__name__)}")
    weights = probs.numpy().astype(np.float64).reshape(-1, probs.shape[-1])
    if not np.isfinite(weights).all() or (weights < 0).any():
        raise RangeError("multinomial: probs must be finite and >= 0")
    rng = _random.generator()
    rows = []
    for w in weights:
        total = w.sum()
        if total <= 0:
            raise RangeError("multinomial: a row of probs sums to 0; it has nothing to draw")
        if not replacement and num_samples > np.count_nonzero(w):
            raise RangeError(f"multinomial: {num_samples} samples without replacement from "
                             f"{np.count_nonzero(w)} nonzero weights; pass replacement=True")
        rows.append(rng.choice(len(w), num_samples, replace=replacement, p=w / total))
    out = np.array(rows, dtype=np.int64).reshape(probs.shape[:-1] + (num_samples,))
    return tensor(out, dtype=probs.backend.default_int, backend=probs.backend)


def is_tensor(obj):
    return isinstance(obj, Tensor)


@refuses_none
def numel(x):
    """How many elements x holds."""
    return int(x.size)
