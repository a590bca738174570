"""Whole networks (``ember.plugins.models``), registered by name like layers."""

from .bart import BartConfig, BartForConditionalGeneration
from .bert import (BertConfig, BertForMaskedLM, BertForQuestionAnswering,
                   BertForSequenceClassification, BertForTokenClassification, BertModel,
                   ENCODERS, RobertaForMaskedLM, RobertaForQuestionAnswering,
                   RobertaForSequenceClassification, RobertaForTokenClassification, RobertaModel,
                   XLMRobertaModel)
from .causal import KeyValueCache
from .clip import (CLIPConfig, CLIPModel, CLIPTextConfig, CLIPTextModel,
                   CLIPTextModelWithProjection, CLIPVisionConfig, CLIPVisionModel,
                   CLIPVisionModelWithProjection)
from .dinov2 import (Dinov2Config, Dinov2ForImageClassification, Dinov2Model,
                     Dinov2WithRegistersForImageClassification, Dinov2WithRegistersModel)
from .distilbert import (DistilBertConfig, DistilBertForMaskedLM, DistilBertForQuestionAnswering,
                         DistilBertForSequenceClassification, DistilBertForTokenClassification,
                         DistilBertModel)
from .gpt2 import GPT2, GPT2Config
from .gpt_neox import GPTNeoX, GPTNeoXConfig
from .audio import WhisperFeatureExtractor, mel_filter_bank
from .images import ImageProcessor
from .modernbert import (ModernBertConfig, ModernBertForMaskedLM, ModernBertForQuestionAnswering,
                         ModernBertForSequenceClassification, ModernBertForTokenClassification,
                         ModernBertModel)
from .llama import (FAMILY, Gemma, Gemma2, Gemma3, GptOss, Granite, Llama, LlamaConfig, Mistral,
                    Mixtral, Olmo2, Phi3, Qwen2, Qwen3, Qwen3Moe, SmolLM3)
from .phi import Phi, PhiConfig
from .pretrained import from_pretrained
from .siglip import (SiglipConfig, SiglipModel, SiglipTextConfig, SiglipTextModel,
                     SiglipVisionConfig, SiglipVisionModel)
from .tokenizer import ByteTokenizer
from .t5 import T5Config, T5ForConditionalGeneration
from .wav2vec2 import Wav2Vec2Config, Wav2Vec2ForCTC, decode_ctc, normalize_audio
from .whisper import WhisperConfig, WhisperForConditionalGeneration
from .vit import (DeiTForImageClassification, DeiTForImageClassificationWithTeacher, DeiTModel,
                  ViTConfig, ViTForImageClassification, ViTModel)

#: GPT-2, GPT-NeoX, Phi, the Llama family, the BERT encoders, DistilBERT, ModernBERT, ViT, DINOv2, CLIP
#: SigLIP, BART, T5, Whisper and Wav2Vec2, each by its model_type
MODELS = {"gpt2": GPT2, "gpt_neox": GPTNeoX, "phi": Phi, **FAMILY, **ENCODERS,
          "distilbert": DistilBertModel, "modernbert": ModernBertModel, "vit": ViTModel, "dinov2": Dinov2Model,
          "clip": CLIPModel, "siglip": SiglipModel, "bart": BartForConditionalGeneration,
          "t5": T5ForConditionalGeneration, "whisper": WhisperForConditionalGeneration,
          "wav2vec2": Wav2Vec2ForCTC}

__all__ = ["BartConfig", "BartForConditionalGeneration", "BertConfig", "BertForMaskedLM", "BertForQuestionAnswering",
           "BertForSequenceClassification", "BertForTokenClassification", "BertModel",
           "ByteTokenizer", "CLIPConfig", "CLIPModel", "CLIPTextConfig", "CLIPTextModel",
           "CLIPTextModelWithProjection", "CLIPVisionConfig", "CLIPVisionModel",
           "CLIPVisionModelWithProjection", "DeiTForImageClassification",
           "DeiTForImageClassificationWithTeacher", "DeiTModel", "Dinov2Config", "Dinov2ForImageClassification",
           "Dinov2Model", "Dinov2WithRegistersForImageClassification", "Dinov2WithRegistersModel",
           "DistilBertConfig", "DistilBertForMaskedLM", "DistilBertForQuestionAnswering",
           "DistilBertForSequenceClassification", "DistilBertForTokenClassification",
           "DistilBertModel", "GPT2", "GPT2Config", "GPTNeoX", "GPTNeoXConfig", "Gemma", "Gemma2",
           "Gemma3", "GptOss", "Granite", "ImageProcessor", "KeyValueCache", "Llama",
           "LlamaConfig", "MODELS", "Mistral", "ModernBertConfig", "ModernBertForMaskedLM",
           "ModernBertForQuestionAnswering", "ModernBertForSequenceClassification",
           "ModernBertForTokenClassification", "ModernBertModel", "Mixtral", "Olmo2", "Phi", "Phi3", "PhiConfig",
           "Qwen2", "Qwen3", "Qwen3Moe", "RobertaForMaskedLM", "RobertaForQuestionAnswering",
           "RobertaForSequenceClassification", "RobertaForTokenClassification", "RobertaModel",
           "SiglipConfig", "SiglipModel", "SiglipTextConfig", "SiglipTextModel",
           "SiglipVisionConfig", "SiglipVisionModel", "SmolLM3", "T5Config",
           "T5ForConditionalGeneration", "ViTConfig",
           "ViTForImageClassification", "ViTModel", "Wav2Vec2Config", "Wav2Vec2ForCTC",
           "WhisperConfig", "WhisperFeatureExtractor",
           "WhisperForConditionalGeneration", "XLMRobertaModel", "from_pretrained",
           "decode_ctc", "mel_filter_bank", "normalize_audio"]
