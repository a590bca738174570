"""Registers the MPI and NCCL transports and `ember launch`; mpi4py and CuPy are
imported only when used."""

from ember.hookspecs import hookimpl


@hookimpl
def ember_communicators():
    from .mpi import MPICommunicator
    from .nccl import NCCLCommunicator
    return {"mpi": MPICommunicator, "nccl": NCCLCommunicator}


@hookimpl
def ember_commands():
    from .launch import LaunchCommand
    return {"launch": LaunchCommand()}
