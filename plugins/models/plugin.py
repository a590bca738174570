"""Registers the built-in models and the checks every registered model must pass."""

from ember.hookspecs import hookimpl


@hookimpl
def ember_models():
    from . import MODELS
    return dict(MODELS)


@hookimpl
def ember_conformance_modules():
    return ["ember.plugins.models.conformance"]
