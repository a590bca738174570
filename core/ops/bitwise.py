"""Bitwise operations on integer tensors (``& | ^ ~ << >>``), as NumPy's and PyTorch's:
a shift by a negative count, or by the dtype's width or more, gives 0 (a right shift of
a negative value -1); results wrap to the dtype. On bool tensors and, or, xor and not
are the logical ops.

A backend offers each as a fast path (one operator of its kernel language, guarded
where C's and WGSL's shifts are undefined or masked), so they run and fuse on the
device; where one lacks it the core computes it on a host copy. Integers have no
gradient, so none is recorded."""

import numpy as np

from .. import dispatch
from .. import dtypes as dt
from ..errors import DTypeError, ShapeError
from ..tensor import wrap
from ._util import as_tensor, binary_operands, on_host
from .elementwise import cast, logical_and, logical_not, logical_or, logical_xor

#: op name -> (fast path, NumPy's function, the logical op on bool tensors)
_OPS = {"bitwise_and": ("fast_bitwise_and", np.bitwise_and, logical_and),
        "bitwise_or": ("fast_bitwise_or", np.bitwise_or, logical_or),
        "bitwise_xor": ("fast_bitwise_xor", np.bitwise_xor, logical_xor),
        "bitwise_not": ("fast_bitwise_not", np.invert, logical_not),
        "bitwise_left_shift": ("fast_left_shift", np.left_shift, None),
        "bitwise_right_shift": ("fast_right_shift", np.right_shift, None)}


def _bitwise(name, *operands):
    fast, host, logical = _OPS[name]
    if len(operands) == 2:
        x, y, shape = binary_operands(name, *operands)
        tensors = (x, y)
    else:
        x = as_tensor(operands[0], name)
        tensors, shape = (x,), x.shape
    if x.dtype is dt.bool_ and logical is not None:
        return logical(*tensors)
    if not x.dtype.is_int:
        if logical is None:
            raise DTypeError(f"{name}: needs integer tensors, got {x.dtype.name}; cast "
                             f"first, e.g. x.to(ember.int32)")
        raise DTypeError(f"{name}: needs integer or bool tensors, got {x.dtype.name}; "
                         f"compare first, as in (x > 0) & (x < 1)")
    b = dispatch.primitives(x._backend)
    bufs = [dispatch.read(t) for t in tensors]
    run = getattr(b, fast)
    out = run(*bufs) if run is not None else on_host(b, host, *bufs)
    return wrap(out, x._backend, shape, x.dtype)


def bitwise_and(x, y):
    """x & y: integers bit by bit, bool tensors logically."""
    return _bitwise("bitwise_and", x, y)


def bitwise_or(x, y):
    """x | y: integers bit by bit, bool tensors logically."""
    return _bitwise("bitwise_or", x, y)


def bitwise_xor(x, y):
    """x ^ y: integers bit by bit, bool tensors logically."""
    return _bitwise("bitwise_xor", x, y)


def bitwise_not(x):
    """~x: every bit of an integer flipped (-x - 1 for signed ones), bool negated."""
    return _bitwise("bitwise_not", x)


def bitwise_left_shift(x, y):
    """x << y, wrapping to the dtype; 0 where y < 0 or y >= the dtype's bits."""
    return _bitwise("bitwise_left_shift", x, y)


def bitwise_right_shift(x, y):
    """x >> y, arithmetic for signed x; where y < 0 or y >= the dtype's bits, -1 for
    negative x and 0 for the rest."""
    return _bitwise("bitwise_right_shift", x, y)


def bitcast(x, dtype):
    """x's bits read as ``dtype`` (PyTorch's ``Tensor.view(dtype)``, ONNX's BitCast): the
    last axis shrinks or grows by the ratio of the item sizes (it must divide evenly),
    and no value is converted (view(float32) of int32 1065353216 is 1.0). Between integers
    (and bool) of one size it is the wrapping cast; otherwise it runs on a host copy.
    There is no gradient: the bits are not a function of the value that autograd knows."""
    x = as_tensor(x, "bitcast")
    dtype = dt.dtype(dtype)
    if dtype is x.dtype:
        return x
    if dtype not in x._backend.dtypes:
        from ..creation import unsupported
        raise unsupported("bitcast", dtype, x._backend)
    size, new = x.dtype.itemsize, dtype.itemsize
    shape = x.shape
    if size != new:
        if not shape:
            raise ShapeError(f"bitcast: a 0-d {x.dtype.name} tensor cannot be read as "
                             f"{dtype.name} (item sizes {size} and {new}); give it an axis")
        if new > size and shape[-1] * size % new:
            raise ShapeError(f"bitcast: the last axis of {shape} holds {shape[-1] * size} bytes, "
                             f"not a multiple of {dtype.name}'s {new}")
        shape = shape[:-1] + (shape[-1] * size // new,)
    if size == new and not (x.dtype.is_float or dtype.is_float or x.dtype.is_complex
                            or dtype.is_complex or x.dtype.stores_only or dtype.stores_only):
        return cast(x, dtype)              # (integers: no gradient to cut)
    b = dispatch.primitives(x._backend)
    out = on_host(b, lambda a: np.ascontiguousarray(a).view(dtype.np).reshape(shape),
                  dispatch.read(x))
    return wrap(out, x._backend, shape, dtype)
