"""Whole networks (``ember.plugins.models``), registered by name like layers."""

from .causal import KeyValueCache
from .gpt2 import GPT2, GPT2Config
from .llama import (Gemma, Gemma2, Gemma3, GptOss, Llama, LlamaConfig, Mistral, Mixtral, Phi3,
                    Qwen2, Qwen3, Qwen3Moe)
from .pretrained import from_pretrained
from .tokenizer import ByteTokenizer

MODELS = {"gpt2": GPT2, "llama": Llama, "mistral": Mistral, "qwen2": Qwen2, "qwen3": Qwen3,
          "gemma": Gemma, "gemma2": Gemma2, "gemma3_text": Gemma3, "phi3": Phi3,
          "mixtral": Mixtral, "qwen3_moe": Qwen3Moe, "gpt_oss": GptOss}

__all__ = ["ByteTokenizer", "GPT2", "GPT2Config", "Gemma", "Gemma2", "Gemma3", "GptOss",
           "KeyValueCache",
           "Llama", "LlamaConfig", "MODELS", "Mistral", "Mixtral", "Phi3", "Qwen2", "Qwen3",
           "Qwen3Moe", "from_pretrained"]
