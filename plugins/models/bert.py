"""BERT, RoBERTa and XLM-RoBERTa encoders as transformers lays them out, so their
checkpoints load: the bare encoder (what sentence-embedding models are) and the heads
people fine-tune (masked language model, sequence and token classification, extractive
question answering).

Post-norm blocks of bidirectional attention over word, position and token-type
embeddings. RoBERTa differs in three places, which its ``Family`` names: its positions
count from pad_token_id + 1 and skip padding, its masked-LM head is ``lm_head`` (GELU
whatever hidden_act says), and its sequence classifier has a dense layer of its own over
the first token where BERT's uses the pooler.
"""

import dataclasses
import warnings

import ember
from ember.errors import SerializationError, ShapeError
from ember.plugins.nn import Dropout, LayerExample, LayerNorm, Module, ModuleList, Parameter, init
from ember.plugins.nn import functional as F

from .huggingface import (ACTIVATIONS, check_activation, check_ids, known_fields, load_weights,
                          normal_embedding, normal_linear, read_config, read_weights,
                          write_pretrained)


@dataclasses.dataclass(frozen=True)
class Family:
    """How one model_type of BERT's shape is laid out in transformers."""

    names: str                  # transformers' class names: f"{names}Model", f"{names}ForMaskedLM"
    prefix: str                 # the encoder's attribute (and key prefix) in a model with a head
    roberta: bool = False       # RoBERTa's positions, masked-LM head and classifier
    defaults: dict = dataclasses.field(default_factory=dict)   # transformers' config defaults


FAMILIES = {
    "bert": Family("Bert", "bert"),
    "roberta": Family("Roberta", "roberta", roberta=True,
                      defaults=dict(vocab_size=50265, pad_token_id=1)),
    "xlm-roberta": Family("XLMRoberta", "roberta", roberta=True, defaults=dict(pad_token_id=1)),
}


class EncoderConfig:
    """What the encoders' configs (dataclasses: BertConfig, DistilBertConfig) share: the
    model_types they describe, a classifier's labels (``id2label`` names the
    ``num_labels`` outputs) and transformers' config.json both ways. A subclass names its
    fields for the width, the head count and the activation."""

    #: model_type -> Family, for the model_types this config describes
    families = FAMILIES
    #: the model's name in messages; the config's fields of width, heads and activation
    title, width_field, heads_field = "BERT", "hidden_size", "num_attention_heads"
    act_field = "hidden_act"
    #: what config.json states that ember's network fixes
    written = {"tie_word_embeddings": True}

    def __post_init__(self):
        if self.model_type not in self.families:
            raise ValueError(f"{self.title}: model_type {self.model_type!r} is not one of "
                             f"{', '.join(self.families)}")
        width, heads = getattr(self, self.width_field), getattr(self, self.heads_field)
        if width % heads:
            raise ShapeError(f"{self.title}: {self.heads_field} {heads} does not divide "
                             f"{self.width_field} {width}")
        check_activation(self.title, self.act_field, getattr(self, self.act_field))
        self.id2label = {int(k): str(v) for k, v in (self.id2label or _labels(2)).items()}
        if sorted(self.id2label) != list(range(len(self.id2label))):
            raise ValueError(f"{self.title}: id2label must name the labels 0 .. n-1, got keys "
                             f"{sorted(self.id2label)}")

    @property
    def traits(self):
        return self.families[self.model_type]

    @property
    def num_labels(self):
        """How many outputs a classification head has."""
        return len(self.id2label)

    @property
    def first_position(self):
        """The position index of the first token (RoBERTa's count from pad_token_id + 1)."""
        return self.pad_token_id + 1 if self.traits.roberta else 0

    @property
    def max_length(self):
        """The longest sequence the position table holds."""
        return self.max_position_embeddings - self.first_position

    @classmethod
    def from_dict(cls, values, source="config"):
        """Take the fields ember uses, with the model_type's defaults where transformers
        fills them in; refuse what would change the network silently. ``num_labels``
        (as ``from_pretrained(..., num_labels=5)``) gives that many fresh label names
        where id2label holds another count."""
        values = dict(values)
        kind = values.setdefault("model_type", next(iter(cls.families)))
        if kind not in cls.families:
            raise SerializationError(f"{source}: model_type {kind!r} is not one of "
                                     f"{', '.join(cls.families)}")
        cls._refuse(values, source)
        if "tie_word_embeddings" in cls.written and not values.get("tie_word_embeddings", True):
            raise SerializationError(f"{source}: tie_word_embeddings=false is not supported; "
                                     f"ember's masked-LM head is tied to the word embeddings")
        count = values.get("num_labels")
        if count is not None and len(values.get("id2label") or _labels(2)) != count:
            values["id2label"] = _labels(count)
        return cls(**{**cls.families[kind].defaults, **known_fields(cls, values)})

    @classmethod
    def _refuse(cls, values, source):
        """Raise a SerializationError for config values ember's network does not follow."""

    def to_dict(self, architecture):
        """transformers' config.json for this configuration and head."""
        labels = {str(k): v for k, v in self.id2label.items()}
        return {"architectures": [architecture], **dataclasses.asdict(self), "id2label": labels,
                "label2id": {v: int(k) for k, v in labels.items()}, **self.written}


@dataclasses.dataclass
class BertConfig(EncoderConfig):
    """The fields of transformers' BertConfig (and RobertaConfig, XLMRobertaConfig, told
    apart by ``model_type``) that change the network, with BERT's defaults. ``id2label``
    names a classifier's outputs (``num_labels`` of them)."""

    vocab_size: int = 30522
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-12
    pad_token_id: int = 0
    classifier_dropout: float = None
    id2label: dict = None               # None: two labels, LABEL_0 and LABEL_1
    model_type: str = "bert"

    written = {"position_embedding_type": "absolute", "tie_word_embeddings": True}

    @classmethod
    def _refuse(cls, values, source):
        for field, wrong in (("is_decoder", True), ("add_cross_attention", True)):
            if values.get(field) == wrong:
                raise SerializationError(f"{source}: {field}=true is not supported; ember's "
                                         f"BERT encoders attend both ways, without cross-attention")
        if values.get("position_embedding_type", "absolute") != "absolute":
            raise SerializationError(f"{source}: position_embedding_type "
                                     f"{values['position_embedding_type']!r} is not supported; "
                                     f"ember's BERT reads absolute position embeddings")


def _labels(count):
    return {i: f"LABEL_{i}" for i in range(count)}


def _linear(n_in, n_out, config, dtype, backend, bias=True):
    """transformers' init of a projection with the config's initializer_range."""
    return normal_linear(n_in, n_out, config.initializer_range, bias, dtype, backend)


def _layer_norm(config, dtype, backend):
    return LayerNorm(config.hidden_size, eps=config.layer_norm_eps, dtype=dtype, backend=backend)


class BertEmbeddings(Module):
    """Word, position and token-type embeddings summed, normalized, dropped out."""

    def __init__(self, config, dtype=None, backend=None):
        super().__init__()
        c, std = config, config.initializer_range
        object.__setattr__(self, "config", c)
        self.word_embeddings = normal_embedding(c.vocab_size, c.hidden_size, std, dtype, backend,
                                                padding_idx=c.pad_token_id)
        self.position_embeddings = normal_embedding(
            c.max_position_embeddings, c.hidden_size, std, dtype, backend,
            padding_idx=c.pad_token_id if c.traits.roberta else None)
        self.token_type_embeddings = normal_embedding(c.type_vocab_size, c.hidden_size, std,
                                                      dtype, backend)
        self.LayerNorm = _layer_norm(c, dtype, backend)
        self.dropout = Dropout(c.hidden_dropout_prob)

    def positions(self, ids):
        """0, 1, 2... (BERT), or RoBERTa's: pad_token_id + 1, + 2... counting only the
        tokens that are not padding, padding at pad_token_id."""
        if not self.config.traits.roberta:
            return ember.arange(ids.shape[1], dtype=ids.dtype, backend=ids.backend)
        real = (ids != self.config.pad_token_id).to(ids.dtype)
        return ember.cumsum(real, axis=1) * real + self.config.pad_token_id

    def forward(self, ids, token_type_ids=None):
        x = self.word_embeddings(ids) + self.position_embeddings(self.positions(ids))
        types = self.token_type_embeddings
        x = x + (types.weight[0] if token_type_ids is None else types(token_type_ids))
        return self.dropout(self.LayerNorm(x))


class BertSelfAttention(Module):
    """Queries, keys and values of every head; softmax(q k^T / sqrt(d)) v where the
    attention mask allows."""

    def __init__(self, config, dtype=None, backend=None, bias=True):
        super().__init__()
        c = config
        self.query, self.key, self.value = (
            normal_linear(c.hidden_size, c.hidden_size, c.initializer_range, bias, dtype, backend)
            for _ in range(3))
        self.heads, self.dropout_p = c.num_attention_heads, c.attention_probs_dropout_prob

    def forward(self, x, allowed=None):
        batch, time, width = x.shape
        q, k, v = (proj(x).reshape(batch, time, self.heads, width // self.heads).permute(0, 2, 1, 3)
                   for proj in (self.query, self.key, self.value))
        out = ember.scaled_dot_product_attention(
            q, k, v, attn_mask=allowed, dropout_p=self.dropout_p if self.training else 0.0)
        return out.permute(0, 2, 1, 3).reshape(batch, time, width)


class BertResidual(Module):
    """LayerNorm(x + dropout(dense(h))): how each half of a block ends (transformers'
    BertSelfOutput and BertOutput)."""

    def __init__(self, n_in, config, dtype=None, backend=None):
        super().__init__()
        self.dense = _linear(n_in, config.hidden_size, config, dtype, backend)
        self.LayerNorm = _layer_norm(config, dtype, backend)
        self.dropout = Dropout(config.hidden_dropout_prob)

    def forward(self, h, x):
        return self.LayerNorm(self.dropout(self.dense(h)) + x)


class BertAttention(Module):
    def __init__(self, config, dtype=None, backend=None):
        super().__init__()
        self.self = BertSelfAttention(config, dtype, backend)
        self.output = BertResidual(config.hidden_size, config, dtype, backend)

    def forward(self, x, allowed=None):
        return self.output(self.self(x, allowed), x)


class BertIntermediate(Module):
    def __init__(self, config, dtype=None, backend=None):
        super().__init__()
        self.dense = _linear(config.hidden_size, config.intermediate_size, config, dtype, backend)
        object.__setattr__(self, "act", ACTIVATIONS[config.hidden_act])

    def forward(self, x):
        return self.act(self.dense(x))


class BertLayer(Module):
    """A post-norm block: attention, then the feed-forward network, each added and
    normalized."""

    def __init__(self, config, dtype=None, backend=None):
        super().__init__()
        self.attention = BertAttention(config, dtype, backend)
        self.intermediate = BertIntermediate(config, dtype, backend)
        self.output = BertResidual(config.intermediate_size, config, dtype, backend)

    def forward(self, x, allowed=None):
        x = self.attention(x, allowed)
        return self.output(self.intermediate(x), x)


class BertEncoder(Module):
    """num_hidden_layers blocks in turn: BertLayers, or another family's (``block``)."""

    def __init__(self, config, dtype=None, backend=None, block=None):
        super().__init__()
        self.layer = ModuleList([(block or BertLayer)(config, dtype, backend)
                                 for _ in range(config.num_hidden_layers)])

    def forward(self, x, allowed=None):
        for layer in self.layer:
            x = layer(x, allowed)
        return x


class BertPooler(Module):
    """tanh(dense(the first token's hidden state)): the [CLS] summary BERT's sequence
    classifier reads."""

    def __init__(self, config, dtype=None, backend=None):
        super().__init__()
        self.dense = _linear(config.hidden_size, config.hidden_size, config, dtype, backend)

    def forward(self, hidden):
        return ember.tanh(self.dense(hidden[:, 0]))


def _allowed(ids, attention_mask):
    """Where each query may attend, (batch, 1, 1, time), from an attention mask (batch,
    time) nonzero at real tokens; None (everywhere) without one."""
    if attention_mask is None:
        return None
    allowed = ember.asarray(attention_mask, backend=ids.backend) != 0
    return allowed.reshape(ids.shape[0], 1, 1, ids.shape[1])


def _family_config(cls, config, fields):
    """The config a class is built from: ``config`` with ``fields`` replaced, or the
    class's family's defaults with ``fields``."""
    if config is None:
        return cls.config_class(**{"model_type": cls.family, **cls.traits().defaults, **fields})
    return dataclasses.replace(config, **fields) if fields else config


class _Pretrained(Module):
    """Loading and saving transformers' directories for an encoder and its heads
    (BERT's family here; DistilBERT's names its own config, parts and tied keys)."""

    family = "bert"
    config_class = BertConfig
    #: what transformers' class name adds to the family's names ("Model", "ForMaskedLM")
    task = "Model"
    #: the encoder's parts: the key prefixes its checkpoint keys start with
    parts = ("embeddings.", "encoder.", "pooler.")
    #: checkpoint keys of decoders tied to the word embeddings (read from the table)
    tied = ("cls.predictions.decoder.", "lm_head.decoder.")
    #: transformers' architecture names -> the classes they load as (set below them)
    architectures = {}

    @classmethod
    def traits(cls):
        """The Family this class's checkpoints are laid out as."""
        return cls.config_class.families[cls.family]

    @property
    def architecture(self):
        """transformers' class name for this model ("RobertaForMaskedLM")."""
        return self.config.traits.names + self.task

    @classmethod
    def for_architecture(cls, name):
        """The class that transformers' architecture ``name`` (a config's first
        "architectures" entry: "BertForMaskedLM") loads as; this class for any other."""
        return cls.architectures.get(name, cls)

    def encoder_prefix(self):
        """Where the encoder's keys sit in this model's state dict."""
        return "" if self.task == "Model" else self.config.traits.prefix + "."

    @classmethod
    def from_pretrained(cls, directory, dtype=None, backend=None, **overrides):
        """Load a transformers directory (config.json, model.safetensors or shards) of this
        family: any of its heads' checkpoints, or the bare encoder's. The encoder must be
        there whole; a head the checkpoint lacks (a classifier built on a pretrained
        encoder, ``num_labels=`` its outputs) keeps its fresh weights, with a warning, as
        transformers does; with ``ignore_mismatched_sizes=True`` so does a head whose
        shape differs (a classifier of another label count). ``overrides`` replace config
        fields (and BertModel's ``add_pooling_layer=False`` leaves the pooler out). In
        eval mode."""
        values, config_path = read_config(directory)
        built = {k: overrides.pop(k) for k in ("add_pooling_layer",) if k in overrides}
        resize = overrides.pop("ignore_mismatched_sizes", False)
        config = cls.config_class.from_dict({**values, **overrides}, config_path)
        if config.traits.roberta != cls.traits().roberta:
            raise SerializationError(f"{config_path}: model_type {config.model_type!r} is not "
                                     f"a {cls.traits().names} model; load it with "
                                     f"ember.plugins.models.from_pretrained")
        model = cls(config, dtype=dtype, backend=backend, **built)
        own = model.state_dict()
        stored, weights = read_weights(directory, values, next(iter(own.values())).backend)
        state = model._own_keys(stored, own)
        if resize:      # a head of another size (another label count) starts afresh
            state = {k: v for k, v in state.items()
                     if not (model._optional(k) and k in own and v.shape != own[k].shape)}
        fresh = [k for k in own if k not in state and model._optional(k)]
        if fresh:
            warnings.warn(f"{weights}: holds no {', '.join(fresh)}; {type(model).__name__} "
                          f"keeps their fresh weights: train it before use", stacklevel=2)
            state.update({k: own[k] for k in fresh})
        return load_weights(model, state, weights, config_path)

    def _optional(self, key):
        """Whether a checkpoint may lack ``key``: a head's or the pooler's weight (transformers
        then initializes it afresh), not the encoder's."""
        prefix = self.encoder_prefix()
        return not key.startswith(prefix) or key.startswith(prefix + "pooler.")

    def _own_keys(self, stored, own):
        """A checkpoint's tensors keyed as this model's (``own``, its state dict):
        "gamma"/"beta" of old checkpoints renamed, the encoder's prefix added or taken off,
        position-id buffers, tied decoder weights and other heads' weights left out."""
        prefix, target = self.config.traits.prefix + ".", self.embeddings_weight().dtype
        state = {}
        for key, value in stored.items():
            key = key[:-6] + ".weight" if key.endswith(".gamma") else \
                key[:-5] + ".bias" if key.endswith(".beta") else key
            if key.endswith(".position_ids") or key.startswith(self.tied):
                continue
            bare = key[len(prefix):] if key.startswith(prefix) else key
            encoder = bare.startswith(self.parts)
            key = self.encoder_prefix() + bare if encoder else key
            if key in own or encoder and not bare.startswith("pooler."):
                state[key] = value.to(target) if value.dtype.is_float else value
        return state

    def embeddings_weight(self):
        """The word embeddings (the masked-LM decoder's table); their dtype and backend are
        the model's."""
        return self.encoder_module().embeddings.word_embeddings.weight

    def encoder_module(self):
        return self if self.task == "Model" else getattr(self, self.config.traits.prefix)

    def _check(self, ids, **masks):
        """ids as a (batch, time) integer tensor short enough for the position table, the
        masks (attention_mask, token_type_ids) of its shape."""
        c = self.config
        return check_ids(type(self).__name__, ids, self.embeddings_weight().backend,
                         c.max_length, f" (max_position_embeddings "
                                       f"{c.max_position_embeddings})", **masks)

    def save_pretrained(self, directory):
        """Write config.json and model.safetensors as transformers lays them out."""
        write_pretrained(directory, {**self.config.to_dict(self.architecture),
                                     "dtype": self.embeddings_weight().dtype.name},
                         self.state_dict())

    def extra_repr(self):
        c = self.config
        return (f"model_type={c.model_type}, vocab_size={c.vocab_size}, "
                f"hidden_size={c.hidden_size}, num_hidden_layers={c.num_hidden_layers}, "
                f"num_attention_heads={c.num_attention_heads}")


class BertModel(_Pretrained):
    """The BERT encoder (transformers' BertModel): ``model(ids)`` gives the last hidden
    states (batch, time, hidden_size); ``model.pooler(hidden)`` the [CLS] summary.

    ``attention_mask`` (batch, time), nonzero where a token is real, keeps padding out
    of every token's attention; ``token_type_ids`` (batch, time) say which segment each
    token is in (all 0 when not given). Built from a BertConfig or its fields:
    ``BertModel(num_hidden_layers=2, hidden_size=64, ...)``.
    """

    def __init__(self, config=None, dtype=None, backend=None, add_pooling_layer=True, **fields):
        super().__init__()
        config = _family_config(type(self), config, fields)
        object.__setattr__(self, "config", config)
        self.embeddings = BertEmbeddings(config, dtype, backend)
        self.encoder = BertEncoder(config, dtype, backend)
        self.pooler = BertPooler(config, dtype, backend) if add_pooling_layer else None

    @classmethod
    def example(cls):
        return LayerExample({"vocab_size": 11, "hidden_size": 8, "num_hidden_layers": 2,
                             "num_attention_heads": 2, "intermediate_size": 12,
                             "max_position_embeddings": 10, "type_vocab_size": 2,
                             "add_pooling_layer": False},    # (its output is the hidden states)
                            shape=(2, 5), integer_high=11, bad_shape=(2, 11),
                            random_in_train=True)

    def forward(self, ids, attention_mask=None, token_type_ids=None):
        ids = self._check(ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
        if token_type_ids is not None:
            token_type_ids = ember.asarray(token_type_ids, backend=ids.backend)
        return self.encoder(self.embeddings(ids, token_type_ids), _allowed(ids, attention_mask))
class _Head(_Pretrained):
    """A head over the encoder, kept under the family's prefix (``bert``, ``roberta``)."""

    def __init__(self, config, dtype=None, backend=None, fields=None, pooled=False):
        super().__init__()
        config = _family_config(type(self), config, fields or {})
        object.__setattr__(self, "config", config)
        setattr(self, config.traits.prefix, self._encoder(config, dtype, backend, pooled))

    @staticmethod
    def _encoder(config, dtype, backend, pooled):
        return BertModel(config, dtype, backend, add_pooling_layer=pooled)

    def hidden(self, ids, *masks):
        return self.encoder_module()(ids, *masks)


class BertPredictionHeadTransform(Module):
    def __init__(self, config, dtype=None, backend=None):
        super().__init__()
        self.dense = _linear(config.hidden_size, config.hidden_size, config, dtype, backend)
        self.LayerNorm = _layer_norm(config, dtype, backend)
        object.__setattr__(self, "act", ACTIVATIONS[config.hidden_act])

    def forward(self, x):
        return self.LayerNorm(self.act(self.dense(x)))


class BertLMPredictionHead(Module):
    def __init__(self, config, dtype=None, backend=None):
        super().__init__()
        self.transform = BertPredictionHeadTransform(config, dtype, backend)
        self.bias = Parameter(init.zeros((config.vocab_size,), dtype, backend))

    def forward(self, hidden, table):
        return ember.matmul(self.transform(hidden), table.T) + self.bias


class BertOnlyMLMHead(Module):
    def __init__(self, config, dtype=None, backend=None):
        super().__init__()
        self.predictions = BertLMPredictionHead(config, dtype, backend)


class RobertaLMHead(Module):
    """RoBERTa's masked-LM head: dense, GELU, layer_norm; a bias over the vocabulary."""

    def __init__(self, config, dtype=None, backend=None):
        super().__init__()
        self.dense = _linear(config.hidden_size, config.hidden_size, config, dtype, backend)
        self.layer_norm = _layer_norm(config, dtype, backend)
        self.bias = Parameter(init.zeros((config.vocab_size,), dtype, backend))

    def forward(self, hidden, table):
        features = self.layer_norm(F.gelu(self.dense(hidden)))
        return ember.matmul(features, table.T) + self.bias


class BertForMaskedLM(_Head):
    """BERT with its masked-language-model head (transformers' BertForMaskedLM):
    ``model(ids)`` gives logits over the vocabulary (batch, time, vocab_size), its
    decoder tied to the word embeddings."""

    task = "ForMaskedLM"

    def __init__(self, config=None, dtype=None, backend=None, **fields):
        super().__init__(config, dtype, backend, fields)
        if self.config.traits.roberta:
            self.lm_head = RobertaLMHead(self.config, dtype, backend)
        else:
            self.cls = BertOnlyMLMHead(self.config, dtype, backend)

    def forward(self, ids, attention_mask=None, token_type_ids=None):
        head = self.lm_head if self.config.traits.roberta else self.cls.predictions
        return head(self.hidden(ids, attention_mask, token_type_ids), self.embeddings_weight())


class RobertaClassificationHead(Module):
    """RoBERTa's sequence classifier: out_proj(tanh(dense(the first token))), with dropout
    before each."""

    def __init__(self, config, dtype=None, backend=None):
        super().__init__()
        self.dense = _linear(config.hidden_size, config.hidden_size, config, dtype, backend)
        self.dropout = Dropout(_classifier_dropout(config))
        self.out_proj = _linear(config.hidden_size, config.num_labels, config, dtype, backend)

    def forward(self, hidden):
        x = ember.tanh(self.dense(self.dropout(hidden[:, 0])))
        return self.out_proj(self.dropout(x))


def _classifier_dropout(config):
    return config.hidden_dropout_prob if config.classifier_dropout is None \
        else config.classifier_dropout


class BertForSequenceClassification(_Head):
    """BERT with a classifier over the whole sequence (transformers'
    BertForSequenceClassification): ``model(ids)`` gives (batch, num_labels) logits;
    ``config.id2label`` names them. BERT's reads the pooler, RoBERTa's its own dense
    layer over the first token."""

    task = "ForSequenceClassification"

    def __init__(self, config=None, dtype=None, backend=None, **fields):
        config = _family_config(type(self), config, fields)
        super().__init__(config, dtype, backend, pooled=not config.traits.roberta)
        c = self.config
        if c.traits.roberta:
            self.classifier = RobertaClassificationHead(c, dtype, backend)
        else:
            self.dropout = Dropout(_classifier_dropout(c))
            self.classifier = _linear(c.hidden_size, c.num_labels, c, dtype, backend)

    def forward(self, ids, attention_mask=None, token_type_ids=None):
        hidden = self.hidden(ids, attention_mask, token_type_ids)
        if self.config.traits.roberta:
            return self.classifier(hidden)
        return self.classifier(self.dropout(self.bert.pooler(hidden)))


class BertForTokenClassification(_Head):
    """BERT with a classifier for each token (transformers' BertForTokenClassification,
    as named-entity taggers are): ``model(ids)`` gives (batch, time, num_labels) logits."""

    task = "ForTokenClassification"

    def __init__(self, config=None, dtype=None, backend=None, **fields):
        super().__init__(config, dtype, backend, fields)
        c = self.config
        self.dropout = Dropout(_classifier_dropout(c))
        self.classifier = _linear(c.hidden_size, c.num_labels, c, dtype, backend)

    def forward(self, ids, attention_mask=None, token_type_ids=None):
        return self.classifier(self.dropout(self.hidden(ids, attention_mask, token_type_ids)))


class BertForQuestionAnswering(_Head):
    """BERT for extractive question answering (transformers' BertForQuestionAnswering):
    ``model(ids)`` gives (start_logits, end_logits), each (batch, time): where in the
    context the answer starts and ends."""

    task = "ForQuestionAnswering"

    def __init__(self, config=None, dtype=None, backend=None, **fields):
        super().__init__(config, dtype, backend, fields)
        c = self.config
        self.qa_outputs = _linear(c.hidden_size, c.num_labels, c, dtype, backend)

    def forward(self, ids, attention_mask=None, token_type_ids=None):
        logits = self.qa_outputs(self.hidden(ids, attention_mask, token_type_ids))
        start, end = ember.split(logits, 2, axis=-1)
        return start.squeeze(-1), end.squeeze(-1)


class RobertaModel(BertModel):
    """The RoBERTa encoder (transformers' RobertaModel; XLM-RoBERTa's too): BERT whose
    positions count from pad_token_id + 1 and skip padding."""

    family = "roberta"


class RobertaForMaskedLM(BertForMaskedLM):
    """RoBERTa with its masked-language-model head (``lm_head``)."""

    family = "roberta"


class RobertaForSequenceClassification(BertForSequenceClassification):
    """RoBERTa with its sequence classifier (dense and out_proj over the first token)."""

    family = "roberta"


class RobertaForTokenClassification(BertForTokenClassification):
    family = "roberta"


class RobertaForQuestionAnswering(BertForQuestionAnswering):
    family = "roberta"


class XLMRobertaModel(RobertaModel):
    """XLM-RoBERTa's encoder (transformers' XLMRobertaModel): RoBERTa's network with a
    multilingual vocabulary; its heads are the Roberta classes, given its config."""

    family = "xlm-roberta"


#: transformers' architecture names (a config's "architectures") -> the class to build
ARCHITECTURES = {FAMILIES[kind].names + cls.task: cls
                 for kind, classes in (("bert", (BertModel, BertForMaskedLM,
                                                 BertForSequenceClassification,
                                                 BertForTokenClassification,
                                                 BertForQuestionAnswering)),
                                       ("roberta", (RobertaModel, RobertaForMaskedLM,
                                                    RobertaForSequenceClassification,
                                                    RobertaForTokenClassification,
                                                    RobertaForQuestionAnswering)),
                                       ("xlm-roberta", (XLMRobertaModel, RobertaForMaskedLM,
                                                        RobertaForSequenceClassification,
                                                        RobertaForTokenClassification,
                                                        RobertaForQuestionAnswering)))
                 for cls in classes}

_Pretrained.architectures = ARCHITECTURES

#: model_type -> the encoder class registered for it
ENCODERS = {"bert": BertModel, "roberta": RobertaModel, "xlm-roberta": XLMRobertaModel}
