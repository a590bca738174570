"""Registers the MPI transport and `ember launch`; mpi4py is imported only when used."""

from ember.hookspecs import hookimpl


@hookimpl
def ember_communicators():
    from .mpi import MPICommunicator
    return {"mpi": MPICommunicator}


@hookimpl
def ember_commands():
    from .launch import LaunchCommand
    return {"launch": LaunchCommand()}
