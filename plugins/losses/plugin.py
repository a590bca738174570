"""Registers the built-in losses and their conformance checks."""

from ember.hookspecs import hookimpl


@hookimpl
def ember_losses():
    from .losses import LOSSES
    return dict(LOSSES)


@hookimpl
def ember_conformance_modules():
    return ["ember.plugins.losses.conformance"]
