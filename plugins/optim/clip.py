"""Gradient clipping, computed on the device (no host round trip)."""

import ember
from ember.errors import AutogradError


def _grads(params):
    if isinstance(params, ember.Tensor):
        params = [params]
    return [p for p in params if p.grad is not None]


def clip_grad_norm_(params, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scale all gradients together so their joint norm is at most max_norm; returns
    the norm before clipping (a tensor). Like PyTorch, it always multiplies by
    min(1, max_norm / (norm + 1e-6)) so nothing is read back to decide (but with
    ``error_if_nonfinite``, which reads the norm to refuse inf or NaN). The joint norm is
    the norm of each gradient's norm, each scaled by its largest magnitude (ember.norm):
    float32 gradients of 1e20 have a finite norm and are scaled down, where a sum of
    squares overflows to inf and clipping would zero them. ``foreach`` is accepted for
    PyTorch's signature."""
    with_grad = _grads(params)
    if not with_grad:
        return ember.tensor(0.0)
    with ember.no_grad():
        total = ember.norm(ember.stack([ember.norm(p.grad, norm_type) for p in with_grad]),
                           norm_type)
        if error_if_nonfinite and not bool(ember.isfinite(total).item()):
            raise AutogradError(f"clip_grad_norm_: the gradients' total norm of order "
                                f"{norm_type} is {total.item()}; it cannot be clipped. Find "
                                f"where the gradients overflow, or pass error_if_nonfinite=False")
        coef = ember.clip(max_norm / (total + 1e-6), None, 1.0)
        for p in with_grad:
            p.grad = p.grad * coef.to(p.grad.dtype)
    return total


def clip_grad_value_(params, clip_value):
    """Clip every gradient element to [-clip_value, clip_value]."""
    if clip_value < 0:
        raise ValueError(f"clip_grad_value_: clip_value must be >= 0, got {clip_value}")
    with ember.no_grad():
        for p in _grads(params):
            p.grad = ember.clip(p.grad, -clip_value, clip_value)
