"""Whole networks (``ember.plugins.models``), registered by name like layers."""

from .gpt2 import GPT2, GPT2Config, KeyValueCache
from .tokenizer import ByteTokenizer

MODELS = {"gpt2": GPT2}

__all__ = ["ByteTokenizer", "GPT2", "GPT2Config", "KeyValueCache", "MODELS"]
