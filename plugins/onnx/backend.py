"""ember as an ``onnx.backend.base.Backend``, so ``onnx.backend.test.BackendTest`` runs
ONNX's node tests on any ember backend (``for_backend("opencl")``)."""

import numpy as np
from onnx.backend.base import Backend, BackendRep

import ember

from .model import load
from .types import as_tensor


class EmberRep(BackendRep):
    """A loaded model that takes and gives NumPy arrays, as the backend API asks."""

    def __init__(self, model, device):
        self.model, self.device = model, device

    def run(self, inputs, **kwargs):
        if isinstance(inputs, np.ndarray):
            inputs = [inputs]
        out = self.model(*[self._tensor(x) for x in inputs])
        return [_array(o) for o in (out if isinstance(out, tuple) else (out,))]

    def _tensor(self, x):
        if x is None or isinstance(x, list):         # an empty optional, a sequence
            return x if x is None else [self._tensor(v) for v in x]
        return as_tensor(x, self.device, "ONNX test input")


def _array(out):
    if isinstance(out, list):
        return [_array(o) for o in out]
    return None if out is None else out.numpy()


class EmberBackend(Backend):
    """Runs models on the ember backend named by ``device_name`` (numpy here)."""

    device_name = "numpy"

    @classmethod
    def prepare(cls, model, device="CPU", **kwargs):
        super().prepare(model, device, **kwargs)
        return EmberRep(load(model, backend=cls.device_name), cls.device_name)

    @classmethod
    def supports_device(cls, device):
        return device == "CPU"


def for_backend(name):
    """An EmberBackend whose models run on the ember backend ``name``."""
    return type(f"EmberBackend_{name}", (EmberBackend,), {"device_name": name})


prepare = EmberBackend.prepare
supports_device = EmberBackend.supports_device
