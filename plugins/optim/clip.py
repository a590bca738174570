"""Gradient clipping, computed on the device (no host round trip)."""

import math

import ember


def _grads(params):
    if isinstance(params, ember.Tensor):
        params = [params]
    return [p for p in params if p.grad is not None]


def clip_grad_norm_(params, max_norm, norm_type=2.0):
    """Scale all gradients together so their joint norm is at most max_norm; returns
    the norm before clipping (a tensor). Like PyTorch, it always multiplies by
    min(1, max_norm / (norm + 1e-6)) so nothing is read back to decide."""
    with_grad = _grads(params)
    if not with_grad:
        return ember.tensor(0.0)
    with ember.no_grad():
        if norm_type == math.inf:
            total = ember.stack([p.grad.abs().max() for p in with_grad]).max()
        else:
            total = ember.stack([(p.grad.abs() ** norm_type).sum() for p in with_grad]).sum() \
                ** (1.0 / norm_type)
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
