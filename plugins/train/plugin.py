"""Registers the built-in metrics and callbacks by name."""

from ember.hookspecs import hookimpl


@hookimpl
def ember_metrics():
    from .metrics import METRICS
    return dict(METRICS)


@hookimpl
def ember_callbacks():
    from .callbacks import CALLBACKS
    return dict(CALLBACKS)


@hookimpl
def ember_commands():
    from .commands import COMMANDS
    return dict(COMMANDS)
