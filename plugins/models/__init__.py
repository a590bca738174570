"""Whole networks (``ember.plugins.models``), registered by name like layers."""

from .causal import KeyValueCache
from .gpt2 import GPT2, GPT2Config
from .llama import (FAMILY, Gemma, Gemma2, Gemma3, GptOss, Granite, Llama, LlamaConfig, Mistral,
                    Mixtral, Olmo2, Phi3, Qwen2, Qwen3, Qwen3Moe, SmolLM3)
from .pretrained import from_pretrained
from .tokenizer import ByteTokenizer

#: GPT-2 and the Llama family, each by its model_type
MODELS = {"gpt2": GPT2, **FAMILY}

__all__ = ["ByteTokenizer", "GPT2", "GPT2Config", "Gemma", "Gemma2", "Gemma3", "GptOss", "Granite",
           "KeyValueCache", "Llama", "LlamaConfig", "MODELS", "Mistral", "Mixtral", "Olmo2", "Phi3",
           "Qwen2", "Qwen3", "Qwen3Moe", "SmolLM3", "from_pretrained"]
