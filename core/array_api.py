"""The Python Array API standard (2024.12) over ember tensors: ``ember.array_api``.

``t.__array_namespace__()`` returns this module, so array-API-aware code
(``array_api_compat.array_namespace(t)``, scikit-learn with array_api_dispatch)
takes ember tensors on any backend; ``device`` is a backend name ("opencl:1").
Most of it is composed from ember's ops, so it runs, and differentiates, wherever
they do; the functions in ON_HOST run NumPy on a host copy. Deviations: the default
float is float32 (and the default complex complex64), as in PyTorch; complex tensors
are not differentiable; a device backend offers the dtypes it holds
(``__array_namespace_info__().dtypes(device=...)``).
"""

import builtins
import collections
import inspect
import math

import numpy as np

from . import dispatch
from . import dtypes as dt
from . import ops
from .config import get_backend
from .creation import arange as _arange, from_dlpack as _from_dlpack, full as _full
from .creation import linspace as _linspace
from .creation import tensor as _tensor
from .errors import DTypeError, ShapeError
from .shapes import normalize_axis
from .tensor import Tensor

__array_api_version__ = "2024.12"

bool = dt.bool_  # noqa: A001  (the standard's names)
int8, int16, int32, int64 = dt.int8, dt.int16, dt.int32, dt.int64
uint8, uint16, uint32, uint64 = dt.uint8, dt.uint16, dt.uint32, dt.uint64
float32, float64, complex64, complex128 = dt.float32, dt.float64, dt.complex64, dt.complex128
#: the standard's dtypes (ember's float16 and bfloat16 are extensions)
_STANDARD = (bool, int8, int16, int32, int64, uint8, uint16, uint32, uint64, float32, float64,
             complex64, complex128)
e, pi, inf, nan, newaxis = math.e, math.pi, math.inf, math.nan, None

#: functions with no composition of ember's ops yet: they run NumPy on a host copy
#: and hand the result back on the input's backend (correct, but not differentiable,
#: and a round trip for device backends)
ON_HOST = ("unique_all", "unique_counts", "unique_inverse", "unique_values")


class _Info:
    """What ``__array_namespace_info__()`` returns."""

    def capabilities(self):
        return {"boolean indexing": True, "data-dependent shapes": True, "max dimensions": 64}

    def default_device(self):
        return get_backend().device

    def default_dtypes(self, *, device=None):
        b = get_backend(device)
        return {"real floating": dt.default_float,
                "complex floating": dt.default_complex if dt.default_complex in b.dtypes else None,
                "integral": b.default_int, "indexing": b.default_int}

    def devices(self):
        from .registry import registry
        from .config import availability
        found = []
        for name in registry.names("backends"):
            if availability(name)[0]:
                cls = registry.get("backends", name)
                found += [name if i == 0 else f"{name}:{i}" for i in range(len(cls.devices()))]
        return found

    def dtypes(self, *, device=None, kind=None):
        have = [d for d in _STANDARD if d in get_backend(device).dtypes]
        return {d.name: d for d in have if kind is None or isdtype(d, kind)}


def __array_namespace_info__():
    return _Info()


# -- data types ------------------------------------------------------------------------
_KINDS = {
    "bool": lambda d: d is dt.bool_,
    "signed integer": lambda d: d.kind == "i",
    "unsigned integer": lambda d: d.is_unsigned,
    "integral": lambda d: d.is_int,
    "real floating": lambda d: d.is_float,
    "complex floating": lambda d: d.is_complex,
    "numeric": lambda d: d is not dt.bool_,
}


def isdtype(dtype, kind):
    """Whether ``dtype`` is of ``kind`` (a dtype, a kind name, or a tuple of them)."""
    if isinstance(kind, tuple):
        return builtins.any(isdtype(dtype, k) for k in kind)
    if isinstance(kind, str):
        if kind not in _KINDS:
            raise ValueError(f"isdtype: unknown kind {kind!r}; one of {', '.join(_KINDS)}")
        return _KINDS[kind](dt.dtype(dtype))
    return dt.dtype(dtype) is dt.dtype(kind)


def result_type(*arrays_and_dtypes):
    """The promoted dtype; Python scalars are weak (they take the arrays' kind)."""
    found = [x.dtype if isinstance(x, Tensor) else dt.dtype(x) for x in arrays_and_dtypes
             if isinstance(x, Tensor) or dt.is_dtype_spec(x)]
    if not found:
        raise DTypeError("result_type: give at least one array or dtype")
    out = found[0]
    for d in found[1:]:
        out = dt.promote(out, d)
    for x in arrays_and_dtypes:
        if isinstance(x, (builtins.bool, int, float, complex)) and not isinstance(x, Tensor):
            out = dt.scalar_dtype(x, out)
    return out


def can_cast(from_, to):
    src = from_.dtype if isinstance(from_, Tensor) else dt.dtype(from_)
    return dt.PROMOTE[src, dt.dtype(to)] is dt.dtype(to)


class _Limits:
    def __init__(self, info, dtype):
        self.bits, self.dtype = info.bits, dtype
        if hasattr(info, "eps"):
            self.eps, self.smallest_normal = float(info.eps), float(info.smallest_normal)
            self.max, self.min = float(info.max), float(info.min)
        else:
            self.max, self.min = int(info.max), int(info.min)


def finfo(type):  # noqa: A002
    """Limits of a real or complex floating dtype (a complex dtype's: its parts')."""
    d = type.dtype if isinstance(type, Tensor) else dt.dtype(type)
    if not d.is_inexact:
        raise DTypeError(f"finfo: {d.name} is not a floating dtype; use iinfo")
    return _Limits(dt.finfo(d), dt.real_of(d))


def iinfo(type):  # noqa: A002
    d = type.dtype if isinstance(type, Tensor) else dt.dtype(type)
    if not d.is_int:
        raise DTypeError(f"iinfo: {d.name} is not an integer dtype; use finfo")
    return _Limits(np.iinfo(d.np), d)


def _new_object(t):
    """A distinct tensor object with t's value: in-place operators and item assignment
    rebind the object they are applied to, so a copy must not be t itself."""
    if t.requires_grad:
        return t + 0
    from .tensor import wrap
    return wrap(dispatch.read(t), t.backend, t.shape, t.dtype)     # buffers are never written twice


def astype(x, dtype, /, *, copy=True, device=None):
    out = x.to(device) if device is not None else x
    out = out.to(dtype=dtype)
    return _new_object(out) if copy and out is x else out


# -- creation ----------------------------------------------------------------------------
def asarray(obj, /, *, dtype=None, device=None, copy=None):
    """A tensor of ``obj``; tensors are values, so ``copy`` never changes what you see.
    ``copy=False`` refuses a conversion that would need a copy."""
    if isinstance(obj, Tensor):
        if copy is False and ((device is not None and get_backend(device) is not obj.backend)
                              or (dtype is not None and dt.dtype(dtype) is not obj.dtype)):
            raise ValueError("asarray: copy=False, but a new device or dtype needs a copy")
        return astype(obj, dtype if dtype is not None else obj.dtype, device=device,
                      copy=copy is True)
    if copy is False:
        raise ValueError("asarray: copy=False, but making a tensor from this object copies it")
    if hasattr(obj, "__dlpack__") and not isinstance(obj, np.ndarray):
        out = _from_dlpack(obj, backend=device)
        return out if dtype is None else out.to(dtype=dtype)
    return _tensor(obj, dtype=dtype, backend=device)


def _float(dtype):
    return dt.dtype(dtype) if dtype is not None else dt.default_float


def zeros(shape, *, dtype=None, device=None):
    return _full(shape, 0, _float(dtype), device)


def ones(shape, *, dtype=None, device=None):
    return _full(shape, 1, _float(dtype), device)


def empty(shape, *, dtype=None, device=None):
    """Zeros: a value type has nothing to gain from uninitialized memory."""
    return zeros(shape, dtype=dtype, device=device)


def full(shape, fill_value, *, dtype=None, device=None):
    return _full(shape, fill_value, dtype, device)


def _like(fn, x, dtype, device, *args):
    return fn(x.shape, *args, dtype=dtype if dtype is not None else x.dtype,
              device=device if device is not None else x.device)


def zeros_like(x, /, *, dtype=None, device=None):
    return _like(zeros, x, dtype, device)


def ones_like(x, /, *, dtype=None, device=None):
    return _like(ones, x, dtype, device)


def empty_like(x, /, *, dtype=None, device=None):
    return _like(empty, x, dtype, device)


def full_like(x, /, fill_value, *, dtype=None, device=None):
    return _like(full, x, dtype, device, fill_value)


def arange(start, /, stop=None, step=1, *, dtype=None, device=None):
    return _arange(start, stop, step, dtype=dtype, backend=device)


def linspace(start, stop, /, num, *, dtype=None, device=None, endpoint=True):
    if endpoint:
        return _linspace(start, stop, num, dtype=dtype, backend=device)
    return _linspace(start, stop, num + 1, dtype=dtype, backend=device)[:num]


def eye(n_rows, n_cols=None, /, *, k=0, dtype=None, device=None):
    return _tensor(np.eye(n_rows, n_cols, k), dtype=_float(dtype), backend=device)


def tril(x, /, *, k=0):
    return ops.tril(x, k)


def triu(x, /, *, k=0):
    return ops.triu(x, k)


def meshgrid(*arrays, indexing="xy"):
    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}")
    n = len(arrays)
    shape = [a.shape[0] for a in arrays]
    if indexing == "xy" and n > 1:
        shape[0], shape[1] = shape[1], shape[0]
    out = []
    for i, a in enumerate(arrays):
        axis = (1 - i if i < 2 else i) if indexing == "xy" and n > 1 else i
        view = [1] * n
        view[axis] = a.shape[0]
        out.append(ops.broadcast_to(ops.reshape(a, tuple(view)), tuple(shape)))
    return out


# -- elementwise ------------------------------------------------------------------------
abs = ops.abs  # noqa: A001
add, subtract, multiply, divide, pow = ops.add, ops.sub, ops.mul, ops.div, ops.pow  # noqa: A001
sqrt, exp, log, sin, cos, sign = ops.sqrt, ops.exp, ops.log, ops.sin, ops.cos, ops.sign
negative, maximum, minimum, where = ops.neg, ops.maximum, ops.minimum, ops.where
equal, not_equal, less, less_equal, greater, greater_equal = (
    ops.eq, ops.ne, ops.lt, ops.le, ops.gt, ops.ge)
logical_and, logical_or, logical_xor, logical_not = (
    ops.logical_and, ops.logical_or, ops.logical_xor, ops.logical_not)
square, reciprocal, logaddexp, hypot = ops.square, ops.reciprocal, ops.logaddexp, ops.hypot
isnan, isinf, isfinite = ops.isnan, ops.isinf, ops.isfinite


def from_dlpack(x, /, *, device=None, copy=None):
    """Shared without a copy where the backend can; ``copy=False`` refuses a move to
    another device, which must copy."""
    if copy is False and device is not None and isinstance(x, Tensor) and \
            get_backend(device) is not x.backend:
        raise BufferError(f"from_dlpack: copy=False, but moving to {device} copies")
    return _from_dlpack(x, backend=device)


def clip(x, /, min=None, max=None):  # noqa: A002  (the standard's names)
    """Bounds may be scalars, arrays that broadcast to x, or None; the result keeps x's
    shape and dtype, and NaN stays NaN (a comparison with NaN is false)."""
    out = x
    for bound, outside in ((min, ops.lt), (max, ops.gt)):
        if bound is not None:
            if isinstance(bound, Tensor):
                bound = ops.broadcast_to(bound.to(dtype=x.dtype), x.shape)
            out = ops.where(outside(out, bound), bound, out)
    return out if out is not x else _new_object(x)


def positive(x, /):
    return x

















def log1p(x, /):
    return ops.log1p(x)


def _complex_expm1(z):
    """exp(z) - 1 without exp's cancellation near 0: expm1(a) cos(b) - 2 sin(b/2)^2 +
    i exp(a) sin(b) where z = a + ib is finite; exp(z) - 1 (C99's special values) elsewhere."""
    a, b = z.real, z.imag
    with np.errstate(all="ignore"):
        near = np.expm1(a) * np.cos(b) - 2 * np.sin(b / 2) ** 2 + 1j * (np.exp(a) * np.sin(b))
        return np.where(np.isfinite(a) & np.isfinite(b), near, np.exp(z) - 1).astype(z.dtype)


def _complex_tanh(z):
    """NumPy's, but tanh(+-inf + ib) for finite b is +-1 with the sign of b on its zero
    imaginary part, as the standard says (C99, and NumPy, take the sign of sin(2b))."""
    out = np.tanh(z)
    edge = np.isinf(z.real) & np.isfinite(z.imag)
    return np.where(edge, np.sign(z.real) + 1j * np.copysign(0.0, z.imag), out).astype(z.dtype)


def tanh(x, /):
    return on_host(_complex_tanh, x) if x.dtype.is_complex else ops.tanh(x)


def expm1(x, /):
    return on_host(_complex_expm1, x) if x.dtype.is_complex else ops.expm1(x)


def log2(x, /):
    return ops.log2(x)


def log10(x, /):
    return ops.log10(x)


def tan(x, /):
    return on_host(np.tan, x) if x.dtype.is_complex else ops.tan(x)


def sinh(x, /):
    """ember.sinh (complex x: NumPy's, with C99's special values, on the host)."""
    return on_host(np.sinh, x) if x.dtype.is_complex else ops.sinh(x)


def cosh(x, /):
    """ember.cosh (complex x: NumPy's, on the host)."""
    return on_host(np.cosh, x) if x.dtype.is_complex else ops.cosh(x)


# -- reductions ----------------------------------------------------------------------------
def _accumulator(x, dtype):
    """The standard's sum, prod and cumulative dtype: ``dtype`` if given, else the default
    (unsigned) integer for integers (uint32 beside wgpu's int32), else x's own."""
    if dtype is None and x.dtype.is_unsigned:
        dtype = dt.uint64 if x.backend.default_int.bits == 64 else dt.uint32
    elif dtype is None and (x.dtype.kind == "i" or x.dtype is bool):
        dtype = x.backend.default_int
    return x if dtype is None else x.to(dtype=dtype)


def sum(x, /, *, axis=None, dtype=None, keepdims=False):  # noqa: A001
    """In the standard's dtype (ember's own sum widens small integers to int64)."""
    x = _accumulator(x, dtype)
    out = ops.sum(x, axis, keepdims)
    return out if out.dtype is x.dtype else out.to(dtype=x.dtype)


def mean(x, /, *, axis=None, keepdims=False):
    return ops.mean(x, axis, keepdims)


def var(x, /, *, axis=None, correction=0.0, keepdims=False):
    return ops.var(x, axis, correction, keepdims)


def std(x, /, *, axis=None, correction=0.0, keepdims=False):
    return ops.std(x, axis, correction, keepdims)


def max(x, /, *, axis=None, keepdims=False):  # noqa: A001
    return ops.amax(x, axis, keepdims)


def min(x, /, *, axis=None, keepdims=False):  # noqa: A001
    return ops.amin(x, axis, keepdims)


def all(x, /, *, axis=None, keepdims=False):  # noqa: A001
    return ops.all(x, axis, keepdims)


def any(x, /, *, axis=None, keepdims=False):  # noqa: A001
    return ops.any(x, axis, keepdims)


def argmax(x, /, *, axis=None, keepdims=False):
    return ops.argmax(x, axis, keepdims)


def argmin(x, /, *, axis=None, keepdims=False):
    return ops.argmin(x, axis, keepdims)


def count_nonzero(x, /, *, axis=None, keepdims=False):
    return ops.sum(ops.ne(x, 0), axis, keepdims)


def diff(x, /, *, axis=-1, n=1, prepend=None, append=None):
    parts = [p for p in (prepend, x, append) if p is not None]
    x = ops.concatenate(parts, axis) if len(parts) > 1 else x
    for _ in range(n):
        x = _slice(x, axis, 1, None) - _slice(x, axis, 0, -1)
    return x


def _slice(x, axis, start, stop):
    key = [slice(None)] * x.ndim
    key[axis] = slice(start, stop)
    return x[tuple(key)]


# -- manipulation --------------------------------------------------------------------------------
def reshape(x, /, shape, *, copy=None):
    return ops.reshape(x, shape)


def permute_dims(x, /, axes):
    return ops.permute(x, axes)


def matrix_transpose(x, /):
    if x.ndim < 2:
        raise ShapeError(f"matrix_transpose: needs at least 2 dimensions, got shape {x.shape}")
    return ops.transpose(x, -2, -1)


def expand_dims(x, /, axis=0):
    return ops.unsqueeze(x, axis)


def squeeze(x, /, axis):
    return ops.squeeze(x, axis)


def flip(x, /, *, axis=None):
    return ops.flip(x, tuple(range(x.ndim)) if axis is None else axis)


def concat(arrays, /, *, axis=0):
    if axis is None:
        return ops.concatenate([ops.reshape(a, (-1,)) for a in arrays], 0)
    return ops.concatenate(list(arrays), axis)


def stack(arrays, /, *, axis=0):
    return ops.stack(list(arrays), axis)


def unstack(x, /, *, axis=0):
    if x.shape[axis] == 0:
        return ()
    return tuple(ops.squeeze(p, axis) for p in ops.split(x, x.shape[axis], axis))


def broadcast_to(x, /, shape):
    return ops.broadcast_to(x, tuple(shape))


def broadcast_shapes(*shapes):
    return tuple(np.broadcast_shapes(*shapes))


def broadcast_arrays(*arrays):
    shape = broadcast_shapes(*(a.shape for a in arrays))
    return [ops.broadcast_to(a, shape) for a in arrays]


moveaxis = ops.movedim


def roll(x, /, shift, *, axis=None):
    return ops.roll(x, shift, axis)


def tile(x, repetitions, /):
    return ops.tile(x, repetitions)


def take(x, indices, /, *, axis=None):
    if axis is None:
        if x.ndim != 1:
            raise ShapeError(f"take: axis is required for a {x.ndim}-dimensional array")
        axis = 0
    key = [slice(None)] * x.ndim
    key[axis] = indices
    return x[tuple(key)]


def nonzero(x, /):
    """Indices of the nonzero elements, one array per axis (read back to the host); a 0-d
    x is refused, as the standard asks (ember.nonzero takes it as 1-d, as PyTorch)."""
    if getattr(x, "ndim", None) == 0:
        raise ShapeError("nonzero: x is 0-d; the Array API's nonzero needs at least one "
                         "dimension (reshape it, or call ember.nonzero, which takes it as 1-d)")
    return ops.nonzero(x, as_tuple=True)


# -- linear algebra ----------------------------------------------------------------------------
matmul = ops.matmul


def vecdot(x1, x2, /, *, axis=-1):
    """sum(conj(x1) * x2) along ``axis``, in the operands' promoted dtype; the axis is
    contracted, so its sizes must match (the other axes broadcast)."""
    if not (-x1.ndim <= axis < x1.ndim and -x2.ndim <= axis < x2.ndim) or \
            x1.shape[axis] != x2.shape[axis]:
        raise ShapeError(f"vecdot: axis {axis} of shapes {x1.shape} and {x2.shape} must exist "
                         f"and have one size")
    product = ops.conj(x1) * x2
    return sum(product, axis=axis, dtype=product.dtype)


def tensordot(x1, x2, /, *, axes=2):
    return ops.tensordot(x1, x2, axes)


# -- computed on the host (ON_HOST) ------------------------------------------------------------
def _result(array, backend, like=None):
    """A NumPy result as a tensor on ``backend``, in a dtype the backend stores: floats
    keep ``like``'s dtype where the backend lacks theirs, integers narrow to its own."""
    array = np.asarray(array)
    d = dt.from_numpy_dtype(array.dtype, "a result")
    if d not in backend.dtypes and d.is_complex:
        from .creation import unsupported
        raise unsupported("array_api", d, backend)
    if d not in backend.dtypes:
        d = (like.dtype if like is not None and like.dtype.is_float else dt.default_float) \
            if d.is_float else backend.default_int
    return _tensor(array, dtype=d, backend=backend)


def on_host(fn, *args, **kwargs):
    """``fn`` (a NumPy function) on host copies of the tensor arguments; tensors back,
    on the first argument's backend (tuples stay tuples, named ones keep their names)."""
    like = next(a for a in args if isinstance(a, Tensor))
    with np.errstate(all="ignore"):     # inf and NaN without a word, as every backend
        out = fn(*[a.numpy() if isinstance(a, Tensor) else a for a in args], **kwargs)
    if isinstance(out, tuple):
        parts = [_result(o, like.backend, like) for o in out]
        return type(out)(*parts) if hasattr(out, "_fields") else tuple(parts)
    return _result(out, like.backend, like)


def _host(np_fn, doc=None):
    def fn(*args, **kwargs):
        return on_host(np_fn, *args, **kwargs)
    fn.__name__, fn.__doc__ = np_fn.__name__, doc or f"numpy.{np_fn.__name__} on the host."
    if inspect.isfunction(np_fn):     # a lambda spelling the standard's signature
        fn.__wrapped__ = np_fn
    return fn


def _real_on_backend(op, np_fn):
    """``op`` (ember's, on the backend) for real x; NumPy's on a host copy for complex x
    (the standard's complex branch cuts, which ember's ops do not compute)."""
    host = _host(np_fn)

    def fn(x, /):
        return host(x) if isinstance(x, Tensor) and x.dtype.is_complex else op(x)
    fn.__name__, fn.__doc__ = op.__name__, op.__doc__
    return fn


acos, acosh, asin = (_real_on_backend(ops.acos, np.arccos), _real_on_backend(ops.acosh, np.arccosh),
                     _real_on_backend(ops.asin, np.arcsin))
asinh, atan, atanh = (_real_on_backend(ops.asinh, np.arcsinh), _real_on_backend(ops.atan, np.arctan),
                      _real_on_backend(ops.atanh, np.arctanh))


def atan2(x1, x2, /):
    return ops.atan2(x1, x2)


ceil, floor, trunc = ops.ceil, ops.floor, ops.trunc


def round(x, /):  # noqa: A001
    return ops.round(x)


def remainder(x1, x2, /):
    return ops.remainder(x1, x2)


def floor_divide(x1, x2, /):
    return ops.floor_divide(x1, x2)


def copysign(x1, x2, /):
    return ops.copysign(x1, x2)


def signbit(x, /):
    return ops.signbit(x)


def nextafter(x1, x2, /):
    return ops.nextafter(x1, x2)


def bitwise_and(x1, x2, /):
    return ops.bitwise_and(x1, x2)


def bitwise_or(x1, x2, /):
    return ops.bitwise_or(x1, x2)


def bitwise_xor(x1, x2, /):
    return ops.bitwise_xor(x1, x2)


def bitwise_invert(x, /):
    return ops.bitwise_not(x)


def bitwise_left_shift(x1, x2, /):
    return ops.bitwise_left_shift(x1, x2)


def bitwise_right_shift(x1, x2, /):
    return ops.bitwise_right_shift(x1, x2)


def isin(x1, x2, /, *, invert=False):
    """Whether each element of x1 equals one of x2's (ember.isin: on the backend)."""
    return ops.isin(x1, x2, invert=invert)


def take_along_axis(x, indices, /, *, axis=-1):
    return ops.take_along_axis(x, indices, axis)


def repeat(x, repeats, /, *, axis=None):
    """Each element ``repeats`` times along ``axis`` (None: of the flattened x): ember's
    repeat_interleave, on the backend (counts per element are read on the host)."""
    return ops.repeat_interleave(x, repeats, axis)


conj, real, imag = ops.conj, ops.real, ops.imag


def prod(x, /, *, axis=None, dtype=None, keepdims=False):
    x = _accumulator(x, dtype)
    return ops.prod(x, axis, keepdims, dtype=x.dtype)


def sort(x, /, *, axis=-1, descending=False, stable=True):
    return ops.sort(x, axis, descending).values


def argsort(x, /, *, axis=-1, descending=False, stable=True):
    return ops.argsort(x, axis, descending)


def searchsorted(x1, x2, /, *, side="left", sorter=None):
    return ops.searchsorted(x1, x2, side, sorter)


def _cumulative(op, x, axis, dtype, include_initial, initial):
    """ember's cumsum or cumprod on the tensor's backend (differentiable), ``initial``
    first with ``include_initial``."""
    x = _accumulator(x, dtype)
    axis = 0 if axis is None else axis
    out = op(x, axis, dtype=x.dtype)
    if include_initial:
        axis = normalize_axis(op.__name__, axis, out.ndim, out.shape)
        out = ops.pad(out, tuple((1, 0) if a == axis else (0, 0) for a in range(out.ndim)),
                      initial)
    return out


def cumulative_sum(x, /, *, axis=None, dtype=None, include_initial=False):
    return _cumulative(ops.cumsum, x, axis, dtype, include_initial, 0)


def cumulative_prod(x, /, *, axis=None, dtype=None, include_initial=False):
    return _cumulative(ops.cumprod, x, axis, dtype, include_initial, 1)


class UniqueAllResult(tuple):
    _fields = ("values", "indices", "inverse_indices", "counts")

    def __new__(cls, *parts):
        return super().__new__(cls, parts)

    values = property(lambda self: self[0])
    indices = property(lambda self: self[1])
    inverse_indices = property(lambda self: self[2])
    counts = property(lambda self: self[3])


def unique_all(x, /):
    def run(a):
        values, indices, inverse, counts = np.unique(a.reshape(-1), return_index=True,
                                                     return_inverse=True, return_counts=True)
        return UniqueAllResult(values, indices, inverse.reshape(a.shape), counts)
    return on_host(run, x)


UniqueCountsResult = collections.namedtuple("UniqueCountsResult", "values counts")
UniqueInverseResult = collections.namedtuple("UniqueInverseResult", "values inverse_indices")


def unique_counts(x, /):
    values, _, _, counts = unique_all(x)
    return UniqueCountsResult(values, counts)


def unique_inverse(x, /):
    values, _, inverse, _ = unique_all(x)
    return UniqueInverseResult(values, inverse)


def unique_values(x, /):
    return on_host(lambda a: np.unique(a.reshape(-1)), x)


from . import array_api_linalg as linalg  # noqa: E402  (the extensions' namespaces)
from . import array_api_fft as fft  # noqa: E402
