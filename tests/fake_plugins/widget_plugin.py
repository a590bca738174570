"""A third-party plugin that adds a kind of thing and ships its conformance checks."""

from ember.hookspecs import hookimpl


@hookimpl
def ember_conformance_modules():
    return ["tests.fake_plugins.widget_checks"]
