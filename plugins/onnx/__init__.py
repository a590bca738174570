"""ONNX models in ember (``ember.plugins.onnx``): ``load`` runs a model exported by
PyTorch, Keras or any ONNX exporter on every ember backend, ``export`` writes an ember
model as standard ONNX, and ``backend`` lets ONNX's own backend test suite measure the
importer. Needs the ``onnx`` package (extra ``onnx``)."""

try:
    import onnx  # noqa: F401
except ImportError:
    from ember import PluginError
    raise PluginError("ember.plugins.onnx needs the onnx package: pip install 'ember[onnx]' "
                      "(or pip install onnx)") from None

from .export import ExportError, export
from .model import OnnxModel, UnsupportedOp, load, supported_ops

__all__ = ["ExportError", "OnnxModel", "UnsupportedOp", "export", "load", "supported_ops"]
