"""Registers the NumPy backend through the "ember" entry point, as a third party would."""

from ember.hookspecs import hookimpl


@hookimpl
def ember_backends():
    from .backend import NumpyBackend
    return {"numpy": NumpyBackend}
