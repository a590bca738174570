"""Registers torchvision's layers, so the conformance suite runs them on every backend."""

from ember.hookspecs import hookimpl


@hookimpl
def ember_layers():
    from .layers import LAYERS
    return dict(LAYERS)
