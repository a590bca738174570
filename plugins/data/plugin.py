"""Registers the built-in dataset loaders by name."""

from ember.hookspecs import hookimpl


@hookimpl
def ember_datasets():
    from . import DATASETS
    return dict(DATASETS)
