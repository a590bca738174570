"""Gradient clipping, computed on the device (no host round trip)."""

import ember
from ember.errors import AutogradError


def _grads(params):
    if isinstance(params, ember.Tensor):
        params = [params]
    return [p for p in params if p.grad is not None]


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """The norm of the tensors' norms (each scaled by its largest magnitude, ember.norm:
    float32 values of 1e20 have a finite norm where a sum of squares overflows), a
    tensor; with ``error_if_nonfinite`` an inf or NaN norm is refused (read on the
    host). ``foreach`` is accepted for PyTorch's signature."""
    tensors = [tensors] if isinstance(tensors, ember.Tensor) else list(tensors)
    if not tensors:
        return ember.tensor(0.0)
    with ember.no_grad():
        total = ember.norm(ember.stack([ember.norm(t, norm_type) for t in tensors]), norm_type)
    if error_if_nonfinite and not bool(ember.isfinite(total).item()):
        raise AutogradError(f"the gradients' total norm of order {norm_type} is "
                            f"{total.item()}; it cannot be clipped. Find where the "
                            f"gradients overflow, or pass error_if_nonfinite=False")
    return total


def clip_grads_with_norm_(params, max_norm, total_norm, foreach=None):
    """Scale the gradients by min(1, max_norm / (total_norm + 1e-6)), on the device."""
    with ember.no_grad():
        coef = ember.clip(max_norm / (total_norm + 1e-6), None, 1.0)
        for p in _grads(params):
            p.grad = p.grad * coef.to(p.grad.dtype)


def clip_grad_norm_(params, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scale all gradients together so their joint norm is at most max_norm; returns
    the norm before clipping (a tensor). Like PyTorch, it always multiplies by
    min(1, max_norm / (norm + 1e-6)) so nothing is read back to decide (but with
    ``error_if_nonfinite``, which reads the norm to refuse inf or NaN): get_total_norm
    of the gradients, then clip_grads_with_norm_."""
    with_grad = _grads(params)
    if not with_grad:
        return ember.tensor(0.0)
    total = get_total_norm([p.grad for p in with_grad], norm_type, error_if_nonfinite)
    clip_grads_with_norm_(with_grad, max_norm, total)
    return total


def clip_grad_value_(params, clip_value):
    """Clip every gradient element to [-clip_value, clip_value]."""
    if clip_value < 0:
        raise ValueError(f"clip_grad_value_: clip_value must be >= 0, got {clip_value}")
    with ember.no_grad():
        for p in _grads(params):
            p.grad = ember.clip(p.grad, -clip_value, clip_value)
