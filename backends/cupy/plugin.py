"""Registers the CuPy backend; CuPy itself is imported only when it is used."""

from ember.hookspecs import hookimpl


@hookimpl
def ember_backends():
    from .backend import CupyBackend
    return {"cupy": CupyBackend}
