"""Registers the built-in file formats and their conformance checks."""

from ember.hookspecs import hookimpl


@hookimpl
def ember_serializers():
    from . import SERIALIZERS
    return dict(SERIALIZERS)


@hookimpl
def ember_conformance_modules():
    return ["ember.plugins.serializers.conformance"]
