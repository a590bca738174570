"""Conformance checks for every registered model, on every backend.

Contributed to ``ember.testing`` through the ``ember_conformance_modules`` hook, so a
model that another package registers is checked with no change here. Each model
class declares a ``LayerExample`` through ``example()``, as layers do. A whole
network has too many parameters for finite differences: its gradients are checked
against the same model in float64 on NumPy, whose ops the op table checks one by one.
"""

import numpy as np
import pytest

import ember
from ember.registry import registry
from ember.testing.checks import assert_close, build_example, expect

MODELS = registry.names("models")


def _build(name, backend, dtype=None, seed=0):
    return build_example("models", name, backend, dtype, seed)


def _input(ex, backend, dtype, seed=1):
    rng = np.random.default_rng(seed)
    if ex.integer_high is not None:
        return ember.tensor(rng.integers(0, ex.integer_high, ex.shape),
                            dtype=ember.get_backend(backend).default_int, backend=backend)
    return ember.tensor(rng.uniform(ex.low, ex.high, ex.shape), dtype=dtype, backend=backend)


def _call(model, ex, x):
    return ex.call(model, x) if ex.call is not None else model(x)


def _run(model, ex, x):
    ember.manual_seed(5)     # the same dropout masks on every backend
    return _call(model, ex, x)


def _forward_backward(name, backend, dtype):
    """Train-mode output and every parameter's gradient of sum(output * weights)."""
    model, ex = _build(name, backend, dtype)
    x = _input(ex, backend, dtype)
    out = _run(model, ex, x)
    weights = np.random.default_rng(2).standard_normal(out.shape)
    (out * ember.tensor(weights, dtype=dtype, backend=backend)).sum().backward()
    return out, {n: p.grad for n, p in model.named_parameters()}, ex


@pytest.mark.parametrize("name", MODELS)
def test_model_forward_and_backward_match_float64_numpy(backend, name):
    out, grads, ex = _forward_backward(name, backend.name, ember.float32)
    want_out, want_grads, _ = _forward_backward(name, "numpy", ember.float64)
    expect(out.dtype is ember.float32, f"{name}: output dtype {out.dtype}")
    assert_close(out, want_out.numpy(), ember.float32, 10 * ex.scale, f"{name} output",
                 floor=np.abs(want_out.numpy()).max())
    unused = [param for param, want in want_grads.items() if want is None]
    expect(not unused, f"{name}: {', '.join(unused)} got no gradient in float64 on numpy "
                       f"either: the example's forward leaves them out")
    biggest = max(np.abs(want.numpy()).max() for want in want_grads.values())
    for param, want in want_grads.items():
        expect(grads[param] is not None, f"{name}: {param} got no gradient")
        ref = want.numpy()     # relative to the tensor's largest entry: sums cancel; one
        floor = np.abs(ref).max()   # zero in exact arithmetic (a key's bias, which adds the
        if floor < 1e-9 * biggest:  # same to every score of a softmax row) is float32's
            floor = 1e-3 * biggest  # rounding of terms of the model's gradient scale
        assert_close(grads[param], ref, ember.float32, 10 * ex.scale, f"{name} grad of {param}",
                     floor=floor)


@pytest.mark.parametrize("name", MODELS)
def test_model_state_dict_round_trips_through_a_file(backend, name, tmp_path):
    a, ex = _build(name, backend.name, seed=0)
    b, _ = _build(name, backend.name, seed=1)
    a.eval()
    b.eval()
    path = tmp_path / f"{name}.safetensors"
    ember.save(a.state_dict(), path)
    b.load_state_dict(ember.load(path, backend=backend.name))
    x = _input(ex, backend.name, ember.float32)
    np.testing.assert_array_equal(_run(a, ex, x).numpy(), _run(b, ex, x).numpy(), err_msg=name)


@pytest.mark.parametrize("name", MODELS)
def test_model_train_and_eval_modes(backend, name):
    model, ex = _build(name, backend.name)
    x = _input(ex, backend.name, ember.float32)
    model.eval()
    ember.manual_seed(1)
    first = _call(model, ex, x).numpy()
    ember.manual_seed(2)
    np.testing.assert_array_equal(first, _call(model, ex, x).numpy(),
                                  err_msg=f"{name}: eval is repeatable")
    model.train()
    if ex.random_in_train:
        ember.manual_seed(1)
        a = _call(model, ex, x).numpy()
        ember.manual_seed(2)
        expect(not np.array_equal(a, _call(model, ex, x).numpy()),
               f"{name}: train mode draws dropout")


@pytest.mark.parametrize("name", [n for n in MODELS
                                  if registry.get("models", n).example().bad_shape is not None])
def test_model_refuses_bad_shapes(backend, name):
    model, ex = _build(name, backend.name)
    bad = np.zeros(ex.bad_shape, dtype=np.int64 if ex.integer_high else np.float32)
    with pytest.raises(ember.ShapeError):
        _run(model, ex, ember.tensor(bad, dtype=backend.default_int if ex.integer_high
                                     else ember.float32))
