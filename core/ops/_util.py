"""What every op module needs: operand coercion, constants, unbroadcasting."""

import functools
import numbers

import numpy as np

from .. import dispatch
from .. import dtypes as dt
from ..errors import BackendError, DTypeError
from ..shapes import broadcast_shapes
from ..tensor import Tensor, wrap


def const(value, dtype, backend):
    """A 0-d constant tensor on ``backend``."""
    return wrap(dispatch.primitives(backend).full((), dt.host_scalar(value, dtype), dtype),
                backend, (), dtype)


def as_tensor(x, op, like=None):
    """``x`` as a Tensor; scalars and arrays land on ``like``'s backend."""
    if isinstance(x, Tensor):
        return x
    if x is None:
        raise DTypeError(f"{op}: got None where a tensor goes (a function that returned "
                         f"nothing?)")
    from ..creation import check_fits, tensor
    if like is not None and isinstance(x, (numbers.Number, np.bool_)):
        dtype = dt.scalar_dtype(x, like.dtype, like._backend.default_int)
        check_fits(op, x, dtype)
        return const(x, dtype, like._backend)
    try:
        return tensor(x, backend=like._backend if like is not None else None)
    except DTypeError:
        raise
    except (TypeError, ValueError) as exc:
        raise DTypeError(f"{op}: cannot use {type(x).__name__} {x!r} as a tensor: {exc}") from None


def same_backend(op, tensors):
    b = tensors[0]._backend
    for t in tensors[1:]:
        if t._backend is not b:
            raise BackendError(f"{op}: tensors are on different backends ({b.device} and "
                               f"{t._backend.device}); move one with .to({b.device!r})")
    return b


def check_dtype(op, t, allowed):
    if t.dtype not in allowed:
        names = ", ".join(d.name for d in allowed)
        raise DTypeError(f"{op}: dtype {t.dtype.name} is not supported; use one of {names}")


def binary_operands(op, a, b):
    """Two tensors on one backend with one promoted dtype, and their broadcast shape."""
    if not isinstance(a, Tensor):
        a = as_tensor(a, op, like=b if isinstance(b, Tensor) else None)
    if not isinstance(b, Tensor):
        b = as_tensor(b, op, like=a)
    if a._backend is not b._backend:
        same_backend(op, (a, b))
    if a.dtype is not b.dtype:
        from .elementwise import cast
        dtype = dt.promote(a.dtype, b.dtype)
        if a.dtype is not dtype:
            a = cast(a, dtype)
        if b.dtype is not dtype:
            b = cast(b, dtype)
    shape = a.shape if a.shape == b.shape else broadcast_shapes(op, a.shape, b.shape)
    return a, b, shape


def unbroadcast(g, shape):
    """Sum ``g`` down to ``shape`` (the adjoint of broadcasting)."""
    if g.shape == shape:
        return g
    from .reduce import sum as sum_
    from .movement import reshape
    lead = len(g.shape) - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, d in enumerate(shape) if d == 1 and g.shape[lead + i] != 1)
    out = sum_(g, axes, keepdims=False) if axes else g
    return reshape(out, shape) if out.shape != shape else out


def zeros_like_grad(g):
    """Zeros of g's shape and dtype (one broadcast 0-d constant): the gradient of ops
    that are piecewise constant (sign, rounding), as PyTorch gives it."""
    from .movement import broadcast_to
    return broadcast_to(const(0, g.dtype, g._backend), g.shape)


def index_tensor(values, backend):
    """Host integers -> an index tensor in the backend's index dtype."""
    idt = backend.default_int
    arr = np.asarray(values, dtype=idt.np, order="C")
    return wrap(dispatch.primitives(backend).from_numpy(arr), backend, arr.shape, idt)


def rounds_once(fn):
    """``fn``, a composition of several ops, computed in float32 where its result is a
    16-bit float and rounded to it once at the end, as PyTorch's kernels compute them
    (opmath): rounded to bfloat16 at each step, logaddexp2 was up to 555 ULP off and
    sinh 3, where float32's single rounding is 0.5. Other results pass as they are, and
    so does every call under autocast, whose lists decide the result's dtype."""
    from .. import amp

    @functools.wraps(fn)
    def once(*args, **kwargs):
        dtypes = [a.dtype for a in args if isinstance(a, Tensor)]
        half = dtypes[0] if dtypes and dtypes[0] in dt.HALF else None
        if half is None or any(d is not half and (d.is_float or d.is_complex) for d in dtypes) \
                or amp.is_autocast_enabled():
            return fn(*args, **kwargs)
        from .elementwise import cast
        wide = [cast(a, dt.float32) if isinstance(a, Tensor) and a.dtype is half else a
                for a in args]
        return cast(fn(*wide, **kwargs), half)
    return once


def fast_path(name, like, *args, shapes=None):
    """Call backend fast path ``name`` (an optimizer step, see ember.backend.FAST_PATHS)
    through the dispatch point: tensors in ``args`` pass as their buffers, anything else
    as it is; each buffer it returns comes back as a tensor of ``like``'s dtype, shaped
    like ``like`` or as ``shapes`` lists, one shape per output."""
    b = like._backend
    bufs = [dispatch.read(a) if isinstance(a, Tensor) else a for a in args]
    out = getattr(dispatch.primitives(b), name)(*bufs)
    outs = out if isinstance(out, tuple) else (out,)
    shapes = shapes or (like.shape,) * len(outs)
    wrapped = [None if o is None else wrap(o, b, shape, like.dtype)
               for o, shape in zip(outs, shapes)]
    return tuple(wrapped) if isinstance(out, tuple) else wrapped[0]


def on_host(b, np_fn, *bufs):
    """``np_fn`` (NumPy's) on host copies of buffers ``bufs`` of backend b, as a buffer of
    b: the exact fallback of a fast path a backend lacks (a round trip; not compiled)."""
    with np.errstate(all="ignore"):
        out = np_fn(*[b.to_numpy(x) for x in bufs])
    return b.from_numpy(np.asarray(out, order="C"))     # (ascontiguousarray makes 0-d 1-d)


def primitive(name, tensors, shape, dtype, *args):
    """A tensor from one backend primitive that autograd does not follow (comparisons,
    logic, argmax), called through the dispatch point."""
    b = tensors[0]._backend
    for t in tensors:
        if t.dtype.stores_only:
            from ..autograd import stored_only
            raise stored_only(name, t.dtype)
    out = getattr(dispatch.primitives(b), name)(*[dispatch.read(t) for t in tensors], *args)
    return wrap(out, b, shape, dtype)


_UNSET = object()


def torch_axes(fn):
    """``fn`` (whose axis arguments are NumPy's ``axis`` and ``keepdims``) also taking
    PyTorch's names as keywords: ``dim`` (``dims`` for flip), ``keepdim``, and var's and
    std's ``unbiased`` (``correction`` 1 or 0). Giving both spellings of one is a
    TypeError, as Python's own duplicate arguments are."""
    name = fn.__name__

    @functools.wraps(fn)
    def wrapper(*args, dim=_UNSET, dims=_UNSET, keepdim=_UNSET, unbiased=_UNSET, **kwargs):
        for torch_name, value, numpy_name in (("dim", dim, "axis"), ("dims", dims, "axis"),
                                              ("keepdim", keepdim, "keepdims"),
                                              ("unbiased", unbiased, "correction")):
            if value is not _UNSET:
                if numpy_name in kwargs:
                    raise TypeError(f"{name}: give {numpy_name} or {torch_name}, not both")
                kwargs[numpy_name] = int(value) if torch_name == "unbiased" else value
        return fn(*args, **kwargs)
    return wrapper
