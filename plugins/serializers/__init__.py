"""Serializers (``ember.plugins.serializers``): .ember (msgpack), .safetensors, .npz,
and checkpoints. Use them through ``ember.save`` and ``ember.load``."""

from .checkpoint import CheckpointManager, make_checkpoint, restore_checkpoint
from .msgpack_format import EmberFormat
from .npz_format import NpzFormat
from .safetensors_format import SafetensorsFormat

SERIALIZERS = {"ember": EmberFormat, "safetensors": SafetensorsFormat, "npz": NpzFormat}

__all__ = ["SERIALIZERS", "CheckpointManager", "EmberFormat", "NpzFormat", "SafetensorsFormat",
           "make_checkpoint", "restore_checkpoint"]
