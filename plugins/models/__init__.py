"""Whole networks (``ember.plugins.models``), registered by name like layers."""

from .causal import KeyValueCache
from .gpt2 import GPT2, GPT2Config
from .llama import Llama, LlamaConfig
from .tokenizer import ByteTokenizer

MODELS = {"gpt2": GPT2, "llama": Llama}

__all__ = ["ByteTokenizer", "GPT2", "GPT2Config", "KeyValueCache", "Llama", "LlamaConfig",
           "MODELS"]
