"""Entry point for ember: names the layers this package adds."""

from ember.hookspecs import hookimpl


@hookimpl
def ember_layers():
    from . import Scale, Swish
    return {"swish": Swish, "scale": Scale}
