"""What every format shares: tensors to and from little-endian bytes, with checks."""

import math

import numpy as np

import ember
from ember.errors import SerializationError

MAX_NDIM = 64


def fail(source, problem):
    return SerializationError(f"{source}: {problem}")


def tensor_bytes(t):
    """(NumPy dtype, shape, C-order little-endian bytes) of a tensor."""
    arr = t.numpy()
    arr = np.asarray(arr, dtype=arr.dtype.newbyteorder("<"), order="C")
    return arr.dtype, arr.shape, arr.tobytes()


def check_shape(source, what, shape):
    if not isinstance(shape, (list, tuple)) or len(shape) > MAX_NDIM or not all(
            isinstance(d, int) and not isinstance(d, bool) and 0 <= d < 2 ** 62 for d in shape):
        raise fail(source, f"{what}: shape {shape!r} is not a list of at most {MAX_NDIM} "
                           f"non-negative integers")
    return tuple(shape)


def array_from_bytes(source, what, np_dtype, shape, raw):
    """A NumPy array over ``raw``, after checking that the sizes agree."""
    shape = check_shape(source, what, shape)
    count = math.prod(shape)
    if count * np_dtype.itemsize != len(raw):
        raise fail(source, f"{what}: shape {shape} of {np_dtype} needs "
                           f"{count * np_dtype.itemsize} bytes but {len(raw)} are stored")
    return np.frombuffer(raw, dtype=np_dtype).reshape(shape)


def to_tensor(source, what, array, backend):
    try:
        return ember.tensor(array, backend=backend)
    except ember.EmberError as exc:
        raise fail(source, f"{what}: {exc}") from None


def flat_tensors(obj, fmt, unstorable=(), instead=""):
    """A flat {name: tensor} for formats that only store that; a lone tensor is 'tensor'.
    A tensor whose dtype the format cannot name (``unstorable``) is refused by name."""
    if isinstance(obj, ember.Tensor):
        tensors, lone = {"tensor": obj}, True
    elif isinstance(obj, dict) and all(isinstance(k, str) and isinstance(v, ember.Tensor)
                                       for k, v in obj.items()):
        tensors, lone = obj, False
    else:
        raise SerializationError(f"{fmt} stores a tensor or a flat dict of name -> tensor; "
                                 f"save checkpoints and nested state in .ember")
    for name, t in tensors.items():
        if t.dtype.name in unstorable:
            raise SerializationError(f"{fmt} cannot store {name!r}: the format has no "
                                     f"{t.dtype.name}; save it as {instead}, or convert it first")
    return tensors, lone
