"""Registers the built-in layers, activations and initializers, and their conformance checks."""

from ember.hookspecs import hookimpl


@hookimpl
def ember_layers():
    from . import LAYERS
    return dict(LAYERS)


@hookimpl
def ember_initializers():
    from .init import INITIALIZERS
    return dict(INITIALIZERS)


@hookimpl
def ember_conformance_modules():
    return ["ember.plugins.nn.conformance"]


@hookimpl
def ember_functions():
    from .top_level import FUNCTIONS
    return dict(FUNCTIONS)
