"""ember as an ``onnx.backend.base.Backend``, so ``onnx.backend.test.BackendTest`` runs
ONNX's node tests on any ember backend (``for_backend("opencl")``)."""

import numpy as np
from onnx.backend.base import Backend, BackendRep

import ember

from .model import load


class EmberRep(BackendRep):
    """A loaded model that takes and gives NumPy arrays, as the backend API asks."""

    def __init__(self, model, device):
        self.model, self.device = model, device

    def run(self, inputs, **kwargs):
        if isinstance(inputs, np.ndarray):
            inputs = [inputs]
        out = self.model(*[ember.tensor(np.asarray(x), dtype=ember.dtypes.from_numpy_dtype(
            np.asarray(x).dtype, "ONNX test input"), backend=self.device) for x in inputs])
        return [o.numpy() for o in (out if isinstance(out, tuple) else (out,))]


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
