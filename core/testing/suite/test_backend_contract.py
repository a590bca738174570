"""What the registry and the core expect of any backend class."""

import numpy as np

import ember
from ember.testing.checks import expect, without_fast_paths
from ember import dtypes as dt
from ember.backend import PRIMITIVES
from ember.ops.activation import gelu_tanh


def test_declares_the_whole_primitive_table(backend):
    expect(type(backend).missing_primitives() == [], "every primitive must be implemented")
    expect(all(callable(getattr(backend, p)) for p in PRIMITIVES),
           'all(callable(getattr(backend, p)) for p in PRIMITIVES)')


def test_declares_name_devices_and_dtypes(backend):
    cls = type(backend)
    expect(ember.registry.get("backends", backend.name) is cls,
           'ember.registry.get("backends", backend.name) is cls')
    expect(cls.devices() and all(isinstance(d, str) for d in cls.devices()),
           'cls.devices() and all(isinstance(d, str) for d in cls.devices())')
    expect(cls.dtypes <= set(dt.ALL) and dt.float32 in cls.dtypes and dt.bool_ in cls.dtypes,
           'cls.dtypes <= set(dt.ALL) and dt.float32 in cls.dtypes and dt.bool_ in cls.dtypes')
    expect(backend.default_int in cls.dtypes and not backend.default_int.is_float,
           'backend.default_int in cls.dtypes and not backend.default_int.is_float')
    expect(cls.availability() == (True, ""), 'cls.availability() == (True, "")')


def test_fast_paths_agree_with_the_composed_fallbacks(backend):
    """A backend's optional fast path must give what the core's fallback gives."""
    x = ember.randn(4, 5)
    for name, fn in (("fast_relu", ember.relu), ("fast_sigmoid", ember.sigmoid),
                     ("fast_gelu_tanh", gelu_tanh), ("fast_softmax", ember.softmax),
                     ("fast_log_softmax", ember.log_softmax)):
        if getattr(backend, name) is None:
            continue
        fast = fn(x).numpy()
        with without_fast_paths(backend, name):
            slow = fn(x).numpy()
        expect(abs(fast - slow).max() <= 1e-5, name)
    if backend.fast_relu_grad is not None:
        g = ember.randn(4, 5)
        relu_grad = ember.grad(lambda t: (ember.relu(t) * g).sum())
        fast = relu_grad(x).numpy()
        with without_fast_paths(backend, "fast_relu_grad"):
            slow = relu_grad(x).numpy()
        expect(np.array_equal(fast, slow), "fast_relu_grad")
    if backend.fast_gelu_tanh_grad is not None:
        gelu_grad = ember.grad(lambda t: gelu_tanh(t).sum())
        fast = gelu_grad(x).numpy()
        with without_fast_paths(backend, "fast_gelu_tanh_grad"):
            slow = gelu_grad(x).numpy()
        expect(abs(fast - slow).max() <= 1e-5 * abs(slow).max(), "fast_gelu_tanh_grad")


def test_device_string_round_trips(backend):
    expect(ember.get_backend(backend.device) is backend,
           'ember.get_backend(backend.device) is backend')
