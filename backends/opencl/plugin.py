"""Registers the OpenCL backend; PyOpenCL is imported only when it is used."""

from ember.hookspecs import hookimpl


@hookimpl
def ember_backends():
    from .backend import OpenCLBackend
    return {"opencl": OpenCLBackend}
