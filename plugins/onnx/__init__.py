"""ONNX models in ember (``ember.plugins.onnx``): ``load`` runs a model exported by
PyTorch, Keras or any ONNX exporter on every ember backend, and ``backend`` lets ONNX's
own backend test suite measure that. Needs the ``onnx`` package (extra ``onnx``)."""

from .model import OnnxModel, UnsupportedOp, load, supported_ops

__all__ = ["OnnxModel", "UnsupportedOp", "load", "supported_ops"]
