"""Loading a Hugging Face directory as whichever registered model its config names, as
transformers' AutoModelForCausalLM does."""

import ember
from ember.errors import SerializationError

from .huggingface import read_config, text_config


def from_pretrained(directory, dtype=None, backend=None, **overrides):
    """The model in a Hugging Face ``directory`` (config.json and model.safetensors), built
    by the registered model named by its config's ``model_type`` (gpt2, one of
    llama.FAMILIES or bert.FAMILIES, or one a plugin registers; or one of the
    ``model_types`` a registered model declares, as CLIP's towers; a multimodal
    checkpoint's text_config names its language model, which loads alone), in eval mode. An encoder
    (BERT, RoBERTa) loads with the head its config's ``architectures`` names."""
    values, path = read_config(directory)
    names = ember.registry.names("models")
    kind = values.get("model_type")
    if kind not in names:   # a multimodal one's language model's
        kind = text_config(values).get("model_type")
    loaders = {name: ember.registry.get("models", name) for name in names}
    loaders = {**{k: m for m in loaders.values()
                  for k in (m.model_types() if hasattr(m, "model_types") else ())}, **loaders}
    if kind not in loaders or not hasattr(loaders[kind], "from_pretrained"):
        raise SerializationError(f"{path}: model_type {kind!r} is not a model ember can load; "
                                 f"registered ones: {', '.join(names)}")
    model = loaders[kind]
    if hasattr(model, "for_architecture"):      # an encoder: the head its checkpoint has
        model = model.for_architecture((values.get("architectures") or [None])[0])
    return model.from_pretrained(directory, dtype=dtype, backend=backend, **overrides)
