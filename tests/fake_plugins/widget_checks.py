"""Conformance checks contributed by widget_plugin; run on every selected backend."""

import ember


def test_widget_doubles_on_every_backend(backend):
    assert (ember.ones(3) * 2).tolist() == [2.0, 2.0, 2.0]
    assert ember.ones(1).device == backend.device
