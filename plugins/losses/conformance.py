"""Conformance checks for every registered loss, on every backend: each reduction
against a float64 NumPy reference, a gradcheck, and shape errors."""

import numpy as np
import pytest

import ember
from ember.registry import registry
from ember.testing.checks import expect, gradcheck, other_backend, tolerance

LOSSES = registry.names("losses")


def _data(ex, seed=0):
    rng = np.random.default_rng(seed)
    pred = rng.uniform(ex.low, ex.high, ex.shape)
    if ex.target == "index":
        target = rng.integers(0, ex.shape[1], ex.shape[:1] + ex.shape[2:])
    elif ex.target == "index_last":
        target = rng.integers(0, ex.shape[-1], ex.shape[:-1])
    elif ex.target == "binary":
        target = (rng.random(ex.shape) > 0.5).astype(np.float64)
    elif ex.target == "sign":
        target = np.where(rng.random(ex.shape) > 0.5, 1.0, -1.0)
    elif ex.target == "prob":
        raw = rng.random(ex.shape)
        target = raw / raw.sum(axis=1, keepdims=True)
    else:
        target = rng.uniform(ex.low, ex.high, ex.shape)
    return pred, target


def _target(target, backend, dtype):
    if target.dtype.kind == "i":
        return ember.tensor(target, dtype=ember.get_backend(backend).default_int, backend=backend)
    return ember.tensor(target, dtype=dtype, backend=backend)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", LOSSES)
def test_loss_matches_float64_reference(backend, name, reduction):
    cls = registry.get("losses", name)
    ex = cls.example()
    pred, target = _data(ex)
    loss = cls(reduction=reduction, **ex.kwargs)
    got = loss(ember.tensor(pred, dtype=ember.float32, backend=backend),
               _target(target, backend, ember.float32))
    per_item = ex.reference(pred, target)
    want = {"mean": per_item.mean(), "sum": per_item.sum(), "none": per_item}[reduction]
    expect(got.shape == np.shape(want), f"{name}/{reduction}: shape {got.shape}")
    rtol, atol = tolerance(ember.float32, 10)
    np.testing.assert_allclose(got.numpy(), want, rtol=rtol, atol=atol, err_msg=f"{name}/{reduction}")


@pytest.mark.parametrize("name", LOSSES)
def test_loss_gradcheck(backend, name):
    cls = registry.get("losses", name)
    ex = cls.example()
    pred, target = _data(ex, seed=1)
    loss = cls(reduction="mean", **ex.kwargs)

    def fn(p):
        return loss(p, _target(target, p.backend, p.dtype))

    gradcheck(fn, [pred], backend)


@pytest.mark.parametrize("name", LOSSES)
def test_loss_refuses_mismatched_shapes(backend, name):
    cls = registry.get("losses", name)
    ex = cls.example()
    pred, target = _data(ex)
    bad = target[:-1] if target.ndim else target
    with pytest.raises(ember.ShapeError):
        cls(**ex.kwargs)(ember.tensor(pred, dtype=ember.float32), _target(bad, backend, ember.float32))


@pytest.mark.parametrize("name", LOSSES)
def test_loss_refuses_a_target_on_another_backend(backend, name):
    cls = registry.get("losses", name)
    ex = cls.example()
    pred, target = _data(ex)
    with pytest.raises(ember.BackendError, match="different backends"):
        cls(**ex.kwargs)(ember.tensor(pred, dtype=ember.float32),
                         _target(target, other_backend(backend).name, ember.float32))


def test_masked_logits_give_finite_losses(backend):
    """A -inf logit (an attention or vocabulary mask) on a class that is not the target
    adds nothing: multiplying a one-hot row by log_softmax made it 0 * -inf = NaN."""
    logits = ember.tensor(np.array([[1.0, -np.inf, 0.0], [2.0, 0.5, -np.inf]], dtype=np.float32),
                          backend=backend, requires_grad=True)
    target = ember.tensor([2, 0], backend=backend)
    loss = registry.get("losses", "cross_entropy")(reduction="none")(logits, target)
    want = [np.log1p(np.e), np.log(1 + np.exp(-1.5))]
    np.testing.assert_allclose(loss.numpy(), want, rtol=1e-6)
    loss.sum().backward()
    expect(np.isfinite(logits.grad.numpy()).all(), f"gradient {logits.grad.tolist()}")
    log_p = ember.log_softmax(logits.detach(), 1)
    nll = registry.get("losses", "nll")(reduction="none")(log_p, target)
    np.testing.assert_allclose(nll.numpy(), want, rtol=1e-6)
