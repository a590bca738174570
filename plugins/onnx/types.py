"""ONNX element types as ember dtypes (the rest are refused by name), and host arrays
as tensors of exactly their dtype."""

import math

import numpy as np
from onnx import TensorProto

import ember
from ember import DTypeError

_EMBER = {TensorProto.FLOAT: ember.float32, TensorProto.DOUBLE: ember.float64,
          TensorProto.FLOAT16: ember.float16, TensorProto.BFLOAT16: ember.bfloat16,
          TensorProto.INT8: ember.int8, TensorProto.INT16: ember.int16,
          TensorProto.INT32: ember.int32, TensorProto.INT64: ember.int64,
          TensorProto.UINT8: ember.uint8, TensorProto.UINT16: ember.uint16,
          TensorProto.UINT32: ember.uint32, TensorProto.UINT64: ember.uint64,
          TensorProto.BOOL: ember.bool_, TensorProto.COMPLEX64: ember.complex64,
          TensorProto.COMPLEX128: ember.complex128,
          TensorProto.FLOAT8E4M3FN: ember.float8_e4m3fn, TensorProto.FLOAT8E5M2: ember.float8_e5m2,
          TensorProto.FLOAT8E4M3FNUZ: ember.float8_e4m3fnuz,
          TensorProto.FLOAT8E5M2FNUZ: ember.float8_e5m2fnuz}


def to_float8(x, dtype, saturate=True):
    """Float tensor x cast to an 8-bit float by ONNX's rules: saturating (its default),
    past the largest finite value is that value, infinities too; otherwise float8_e4m3fn
    and the fnuz ones make it NaN and float8_e5m2 inf (ember.cast saturates
    float8_e4m3fn, as PyTorch's)."""
    top = float(ember.dtypes.finfo(dtype).max)
    if saturate and dtype is not ember.float8_e4m3fn:
        x = ember.clip(x, -top, top)
    elif not saturate and dtype is ember.float8_e4m3fn:     # past the midpoint above 448
        x = ember.where(ember.abs(x) >= 464.0, math.nan, x)
    return ember.cast(x, dtype)


def type_name(elem_type):
    return TensorProto.DataType.Name(elem_type)


def ember_dtype(elem_type, what):
    """The ember dtype of an ONNX element type; the others are refused by name."""
    found = _EMBER.get(elem_type)
    if found is None:
        held = ", ".join(type_name(t) for t in _EMBER)
        raise DTypeError(f"{what}: ONNX element type {type_name(elem_type)} has no ember dtype; "
                         f"ember holds {held} (convert the model's tensors to one of them)")
    return found


def as_tensor(array, backend, what):
    """A host array as a tensor of its own dtype on ``backend``, refused where the backend
    lacks that dtype (ember.tensor would narrow NumPy's int64 to a backend's int32)."""
    array = np.asarray(array)
    return ember.tensor(array, dtype=ember.dtypes.from_numpy_dtype(array.dtype, what),
                        backend=backend)
