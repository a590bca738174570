"""Registers the wgpu backend; wgpu-py is imported only when it is used."""

from ember.hookspecs import hookimpl


@hookimpl
def ember_backends():
    from .backend import WgpuBackend
    return {"wgpu": WgpuBackend}
