"""Registers the built-in optimizers and schedulers, and their conformance checks."""

from ember.hookspecs import hookimpl


@hookimpl
def ember_optimizers():
    from . import OPTIMIZERS
    return dict(OPTIMIZERS)


@hookimpl
def ember_schedulers():
    from .schedulers import SCHEDULERS
    return dict(SCHEDULERS)


@hookimpl
def ember_conformance_modules():
    return ["ember.plugins.optim.conformance"]
