"""What every model in Hugging Face's layout shares: its directory (config.json,
model.safetensors or the shards its index names, each written atomically), the weights'
initialization transformers gives them, and a multimodal checkpoint's language model."""

import dataclasses
import json
import os

import ember
from ember.errors import SerializationError, ShapeError
from ember.io import atomic_write
from ember.plugins.nn import Embedding, Linear, Parameter, init
from ember.plugins.nn import functional as F

from .quantized import dequantized

CONFIG_FILE, WEIGHTS_FILE = "config.json", "model.safetensors"
#: a checkpoint split into shards names each tensor's file here (Hugging Face's layout)
INDEX_FILE = WEIGHTS_FILE + ".index.json"

#: Hugging Face's activation names (ACT2FN) that configs use
ACTIVATIONS = {
    "gelu_new": lambda x: F.gelu(x, approximate="tanh"),
    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "gelu_fast": lambda x: F.gelu(x, approximate="tanh"),
    "gelu": F.gelu,
    "quick_gelu": lambda x: x * ember.sigmoid(1.702 * x),     # CLIP's
    "relu": ember.relu,
    "silu": F.silu,
    "swish": F.silu,
    "tanh": ember.tanh,
}


def check_activation(model, field, name):
    """Refuse an activation name outside ACTIVATIONS, naming the model and config field."""
    if name not in ACTIVATIONS:
        raise ValueError(f"{model}: {field} {name!r} is not one of {', '.join(ACTIVATIONS)}")


def check_ids(name, ids, backend, positions, table_note="", **masks):
    """ids as a (batch, time) integer tensor (on ``backend`` if it was not a tensor) no
    longer than ``positions``, and the masks (attention_mask, token_type_ids) of its
    shape: a ShapeError naming the model ``name`` and the fix otherwise."""
    if not isinstance(ids, ember.Tensor):
        ids = ember.tensor(ids, backend=backend)
    if ids.ndim != 2 or ids.dtype.is_float:
        raise ShapeError(f"{name}: ids must be (batch, time) integers, got {ids.dtype} of "
                         f"shape {ids.shape}" + ("; add a batch axis with ids[None]"
                                                   if ids.ndim == 1 else ""))
    if ids.shape[1] > positions:
        raise ShapeError(f"{name}: a sequence of {ids.shape[1]} tokens is longer than the "
                         f"{positions} positions the model has{table_note}; truncate it")
    for what, mask in masks.items():
        if mask is not None and tuple(getattr(mask, "shape", ())) != ids.shape:
            raise ShapeError(f"{name}: {what} must have the ids' shape {ids.shape}, got "
                             f"{tuple(getattr(mask, 'shape', ()))}")
    return ids


def normal_linear(n_in, n_out, std, bias=True, dtype=None, backend=None):
    """Hugging Face's init of a projection: weight N(0, std), bias 0."""
    layer = Linear(n_in, n_out, bias=bias, dtype=dtype, backend=backend)
    layer.weight = Parameter(init.normal((n_out, n_in), 0.0, std, dtype, backend))
    if bias:
        layer.bias = Parameter(init.zeros((n_out,), dtype, backend))
    return layer


def normal_embedding(count, width, std, dtype=None, backend=None, padding_idx=None):
    """Hugging Face's init of an embedding: N(0, std), with a ``padding_idx`` row of zeros
    that gets no gradient (PyTorch's)."""
    layer = Embedding(count, width, padding_idx=padding_idx, dtype=dtype, backend=backend)
    weight = init.normal((count, width), 0.0, std, dtype, backend)
    if padding_idx is not None:
        pad = ember.arange(count, backend=weight.backend) == layer.padding_idx
        weight = ember.where(pad.reshape(count, 1), 0.0, weight)
    layer.weight = Parameter(weight)
    return layer


def load_weights(model, state, weights, config_path):
    """model.load_state_dict(state), a mismatch named as the files' fault."""
    try:
        model.load_state_dict(state)
    except (ember.StateDictError, ShapeError) as exc:
        raise SerializationError(f"{weights}: does not fit {config_path}: {exc}") from None
    return model.eval()


def read_weights(directory, config, backend):
    """(state, what): a Hugging Face directory's tensors, from model.safetensors or the
    shards model.safetensors.index.json names, with quantized weights (config's
    quantization_config: fine-grained "fp8", "mxfp4") dequantized to float32."""
    index_path = os.path.join(directory, INDEX_FILE)
    if not os.path.exists(index_path) or os.path.exists(os.path.join(directory, WEIGHTS_FILE)):
        path = os.path.join(directory, WEIGHTS_FILE)
        return dequantized(ember.load(path, backend=backend), config, path), path
    index, _ = read_config(directory, INDEX_FILE)
    weight_map = index.get("weight_map")
    if not isinstance(weight_map, dict) or not all(
            isinstance(f, str) and os.path.basename(f) == f for f in weight_map.values()):
        raise SerializationError(f"{index_path}: weight_map must name a shard file in the "
                                 f"directory for each tensor")
    state = {}
    for shard in sorted(set(weight_map.values())):
        state.update(ember.load(os.path.join(directory, shard), backend=backend))
    missing = sorted(set(weight_map) - set(state))
    if missing:
        raise SerializationError(f"{index_path}: the shards hold no tensor {missing[0]!r}"
                                 + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
    return dequantized(state, config, index_path), index_path


def load_pretrained(cls, config_class, directory, dtype, backend, overrides, key=None):
    """A ``cls`` model of a transformers directory: its config.json read by
    ``config_class.from_dict`` (``overrides`` replacing fields), its tensors keyed by
    ``key(name, model)`` (None leaves one out) and cast to the model's float dtype; in
    eval mode."""
    values, config_path = read_config(directory)
    model = cls(config_class.from_dict({**values, **overrides}, config_path), dtype=dtype,
                backend=backend)
    target = next(iter(model.parameters()))
    stored, weights = read_weights(directory, values, target.backend)
    state = {}
    for name, value in stored.items():
        name = key(name, model) if key else name
        if name is not None:
            state[name] = value.to(target.dtype) if value.dtype.is_float else value
    return load_weights(model, state, weights, config_path)


def save_pretrained(model, directory, state=None):
    """A model's config.json (its config's to_dict(), and its dtype) and its state dict (or
    ``state``) in ``directory``, as transformers lays them out."""
    dtype = next(iter(model.parameters())).dtype.name
    write_pretrained(directory, {**model.config.to_dict(), "dtype": dtype},
                     model.state_dict() if state is None else state)


def write_pretrained(directory, config, state):
    """config.json and model.safetensors in ``directory``, each written atomically."""
    os.makedirs(directory, exist_ok=True)
    atomic_write(os.path.join(directory, CONFIG_FILE),
                 (json.dumps(config, indent=2) + "\n").encode())
    ember.save(state, os.path.join(directory, WEIGHTS_FILE))


#: where a multimodal checkpoint keeps its language model: transformers 4's keys (which
#: transformers 5 writes too) and transformers 5's own, as a text model's
_TEXT_PREFIXES = {"language_model.model.": "model.", "language_model.lm_head.": "lm_head.",
                  "model.language_model.": "model."}


def text_config(values):
    """A config.json's values, or a multimodal one's language model's (its text_config,
    with the outer tie_word_embeddings and quantization_config, which govern it)."""
    text = values.get("text_config")
    if not isinstance(text, dict):
        return values
    return {**text, **{k: values[k] for k in ("tie_word_embeddings", "quantization_config")
                       if k in values}}


def text_weights(state):
    """A checkpoint's tensors with a multimodal one's language model keyed as a text
    model's (its vision tower and projector dropped); a text model's as they are."""
    if not any(k.startswith(tuple(_TEXT_PREFIXES)) for k in state):
        return state
    return {new + k[len(old):]: v for k, v in state.items()
            for old, new in _TEXT_PREFIXES.items() if k.startswith(old)}


def known_fields(config_class, values):
    """The entries of a Hugging Face config that are fields of ``config_class`` (a
    dataclass); the rest (token ids, versions, ...) do not change the network."""
    names = {f.name for f in dataclasses.fields(config_class)}
    return {k: v for k, v in values.items() if k in names}


def read_config(directory, name=CONFIG_FILE):
    """The JSON object of ``directory``'s config.json (or ``name``), and its path."""
    path = os.path.join(directory, name)
    try:
        with open(path, encoding="utf-8") as f:
            values = json.load(f)
    except OSError as exc:
        raise SerializationError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise SerializationError(f"{path}: not JSON ({exc})") from None
    if not isinstance(values, dict):
        raise SerializationError(f"{path}: not a JSON object")
    return values, path
