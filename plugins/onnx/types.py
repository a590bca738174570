"""ONNX element types as ember dtypes, and the host constants that stand for them."""

import numpy as np
from onnx import TensorProto, helper

import ember
from ember import DTypeError

_EMBER = {TensorProto.FLOAT: ember.float32, TensorProto.DOUBLE: ember.float64,
          TensorProto.FLOAT16: ember.float16, TensorProto.INT32: ember.int32,
          TensorProto.INT64: ember.int64, TensorProto.BOOL: ember.bool_}
_ONNX = {d.name: t for t, d in _EMBER.items()}


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


def onnx_type(dtype):
    """The ONNX element type of an ember dtype (for export and CastLike)."""
    return _ONNX[dtype.name]


def host_array(proto_array, elem_type, what):
    """A NumPy array of a dtype ember holds, for a tensor read from the model."""
    want = ember_dtype(elem_type, what).np
    return np.asarray(proto_array, dtype=want)


def np_dtype(elem_type, what):
    return ember_dtype(elem_type, what).np


__all__ = ["ember_dtype", "host_array", "np_dtype", "onnx_type", "type_name", "helper"]
