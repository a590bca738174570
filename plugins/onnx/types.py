"""ONNX element types as ember dtypes; the rest are refused by name."""

from onnx import TensorProto

import ember
from ember import DTypeError

_EMBER = {TensorProto.FLOAT: ember.float32, TensorProto.DOUBLE: ember.float64,
          TensorProto.FLOAT16: ember.float16, TensorProto.INT32: ember.int32,
          TensorProto.INT64: ember.int64, TensorProto.BOOL: ember.bool_}


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
