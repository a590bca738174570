"""torchvision's detection and vision building blocks (``ember.plugins.vision``), with
torchvision's names and semantics so that detection code ports: ``ops`` (box
arithmetic, IoU and its generalized, distance and complete forms, non-maximum
suppression, RoIAlign and RoIPool, the focal and IoU losses, stochastic depth) and the
layers torchvision's models are built of (registered, so the conformance suite runs
them on every backend)."""

from . import ops

__all__ = ["ops"]
