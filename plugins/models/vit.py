"""The Vision Transformer (ViT) as transformers lays it out, so its checkpoints load
(google/vit-base-patch16-224 and the classifiers fine-tuned from it): the bare encoder and
its image classifier.

An image is cut into patch_size squares, each projected to hidden_size by one strided
convolution; a learned [CLS] token goes first and learned positions are added. Pre-norm
blocks of bidirectional attention follow (layernorm_before, then layernorm_after), then a
final LayerNorm; the classifier reads the [CLS] token. Loading and saving are BERT's
(bert._Pretrained): the checkpoint keys are the Hub's (``attention.attention.query``),
and those transformers 5 keeps in memory (``layers.0.attention.q_proj``) load too.
"""

import dataclasses
import re

import ember
from ember.errors import ShapeError
from ember.plugins.nn import Conv2d, Dropout, LayerExample, LayerNorm, Module, Parameter, init
from ember.plugins.nn import functional as F

from .bert import (BertEncoder, BertIntermediate, BertSelfAttention, EncoderConfig, Family,
                   _family_config, _Head, _linear, _Pretrained)
from .huggingface import ACTIVATIONS, check_activation

VIT = Family("ViT", "vit")
#: DeiT: ViT with a distillation token after [CLS] (and a head reading it, with a teacher)
DEIT = Family("DeiT", "deit")

#: transformers 5's in-memory names of a ViT block's parts -> the Hub checkpoints' names
_RENAMED = [(re.compile(p), r) for p, r in (
    (r"(^|\.)layers\.(\d+)\.", r"\1encoder.layer.\2."),
    (r"\.attention\.([qkv])_proj\.",
     lambda m: ".attention.attention." + {"q": "query", "k": "key", "v": "value"}[m[1]] + "."),
    (r"\.attention\.o_proj\.", ".attention.output.dense."),
    (r"\.mlp\.fc1\.", ".intermediate.dense."),
    (r"\.mlp\.fc2\.", ".output.dense."))]


def _pair(value):
    return tuple(value) if isinstance(value, (list, tuple)) else (value, value)


class PatchGrid:
    """What a vision config's ``image_size`` and ``patch_size`` (a number or (height,
    width) each) make: the grid of patches, checked."""

    def check_grid(self, title):
        for axis, name in enumerate(("height", "width")):
            size, patch = self.grid_size(axis)
            if not 0 < patch <= size:
                raise ShapeError(f"{title}: patch {name} {patch} must be in 1 .. the image "
                                 f"{name} {size} (image_size {self.image_size}, patch_size "
                                 f"{self.patch_size})")

    def grid_size(self, axis):
        """(image extent, patch extent) along ``axis`` (0: height, 1: width)."""
        return _pair(self.image_size)[axis], _pair(self.patch_size)[axis]

    def grid(self, height=None, width=None):
        """(rows, columns) of patches in the configured image, or in height x width."""
        (h, ph), (w, pw) = self.grid_size(0), self.grid_size(1)
        return (height or h) // ph, (width or w) // pw

    @property
    def num_patches(self):
        rows, columns = self.grid()
        return rows * columns


def patch_tokens(x):
    """A patch convolution's output (batch, width, rows, columns) as a sequence of patches
    (batch, rows * columns, width)."""
    return x.reshape(x.shape[0], x.shape[1], -1).permute(0, 2, 1)


def positions_for(table, config, height, width, leading=1, antialias=False):
    """The position table (leading + patches, width; the [CLS] position first, none in
    SigLIP's) for a height x width image, as transformers' interpolate_pos_encoding: the
    stored one for a square image of as many patches, else its grid of patch positions
    resized bicubically (align_corners=False; ``antialias`` as DINOv2 with registers) to
    the image's."""
    grid = config.grid(height, width)
    if grid[0] * grid[1] == table.shape[0] - leading and height == width:
        return table
    return _resized(table, config.grid(), grid, leading, antialias)


def _resized(table, grid, new_grid, leading, antialias):
    width = table.shape[-1]
    patches = table[leading:].reshape(1, grid[0], grid[1], width).permute(0, 3, 1, 2)
    patches = F.interpolate(patches, size=new_grid, mode="bicubic", align_corners=False,
                            antialias=antialias)
    return ember.concat([table[:leading], patches.permute(0, 2, 3, 1).reshape(-1, width)],
                        axis=0)


def check_pixels(name, config, x, interpolate_pos_encoding, like):
    """pixel_values as a (batch, num_channels, height, width) float tensor (of ``like``'s
    dtype and backend if it was not a tensor) of the configured image size, or of any
    size at least a patch with interpolate_pos_encoding."""
    c = config
    if not isinstance(x, ember.Tensor):
        x = ember.tensor(x, dtype=like.dtype, backend=like.backend)
    if x.ndim != 4 or not x.dtype.is_float or x.shape[1] != c.num_channels:
        raise ShapeError(f"{name}: pixel_values must be (batch, {c.num_channels}, height, "
                         f"width) floats, got {x.dtype} of shape {x.shape}; add a batch "
                         f"axis with x[None], channels first")
    size = (c.grid_size(0)[0], c.grid_size(1)[0])
    if interpolate_pos_encoding:
        if x.shape[2] < c.grid_size(0)[1] or x.shape[3] < c.grid_size(1)[1]:
            raise ShapeError(f"{name}: an image of {x.shape[2]} x {x.shape[3]} is smaller "
                             f"than one patch ({c.patch_size})")
    elif x.shape[2:] != size:
        raise ShapeError(f"{name}: the image is {x.shape[2]} x {x.shape[3]}, the model's "
                         f"{size[0]} x {size[1]}; resize it, or pass "
                         f"interpolate_pos_encoding=True")
    return x


@dataclasses.dataclass
class ViTConfig(PatchGrid, EncoderConfig):
    """The fields of transformers' ViTConfig that change the network, with its defaults
    (ViT-Base at 224 x 224 in 16 x 16 patches). ``image_size`` and ``patch_size`` are a
    number or (height, width); ``id2label`` names the classifier's outputs."""

    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.0
    attention_probs_dropout_prob: float = 0.0
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-12
    image_size: int = 224
    patch_size: int = 16
    num_channels: int = 3
    qkv_bias: bool = True
    encoder_stride: int = 16            # (ViTForMaskedImageModeling's decoder; kept for the file)
    pooler_output_size: int = None      # None: hidden_size
    pooler_act: str = "tanh"
    id2label: dict = None               # None: two labels, LABEL_0 and LABEL_1
    model_type: str = "vit"

    families = {"vit": VIT, "deit": DEIT}
    title = "ViT"
    written = {}

    def __post_init__(self):
        super().__post_init__()
        check_activation(self.title, "pooler_act", self.pooler_act)
        self.check_grid(self.title)

    @property
    def leading(self):
        """The tokens ahead of the patches: [CLS], and DeiT's distillation token."""
        return 2 if self.model_type == "deit" else 1


class ViTPatchEmbeddings(Module):
    """Each patch_size square of the image projected to hidden_size (one strided
    convolution), as a sequence of patches (batch, patches, hidden_size)."""

    def __init__(self, config, dtype=None, backend=None):
        super().__init__()
        c, patch = config, _pair(config.patch_size)
        self.projection = Conv2d(c.num_channels, c.hidden_size, patch, stride=patch,
                                 dtype=dtype, backend=backend)
        self.projection.weight = Parameter(init.normal(
            self.projection.weight.shape, 0.0, c.initializer_range, dtype, backend))

    def forward(self, pixel_values):
        return patch_tokens(self.projection(pixel_values))


class ViTEmbeddings(Module):
    """[CLS] token (then DeiT's distillation token), then the patches, plus learned
    positions (bicubically resized to another image size with
    ``interpolate_pos_encoding``, as transformers does)."""

    def __init__(self, config, dtype=None, backend=None):
        super().__init__()
        c = config
        object.__setattr__(self, "config", c)
        std = c.initializer_range
        self.cls_token = Parameter(init.trunc_normal((1, 1, c.hidden_size), 0.0, std,
                                                     dtype=dtype, backend=backend))
        self.position_embeddings = Parameter(init.trunc_normal(
            (1, c.num_patches + c.leading, c.hidden_size), 0.0, std, dtype=dtype,
            backend=backend))
        self.distillation_token = Parameter(init.trunc_normal(
            (1, 1, c.hidden_size), 0.0, std, dtype=dtype, backend=backend)) \
            if c.leading == 2 else None
        self.patch_embeddings = ViTPatchEmbeddings(c, dtype, backend)
        self.dropout = Dropout(c.hidden_dropout_prob)

    def forward(self, pixel_values, interpolate_pos_encoding=False):
        batch, _, height, width = pixel_values.shape
        x = self.patch_embeddings(pixel_values)
        tokens = [self.cls_token] + ([self.distillation_token] if self.distillation_token
                                     is not None else [])
        tokens = [ember.broadcast_to(t, (batch, 1, x.shape[-1])) for t in tokens]
        table = self.position_embeddings
        if interpolate_pos_encoding:
            table = positions_for(table[0], self.config, height, width,
                                  self.config.leading)[None]
        return self.dropout(ember.concat(tokens + [x], axis=1) + table)


class ViTSelfAttention(BertSelfAttention):
    """BERT's attention of every head over every patch (no mask), under ViT's name."""


class ViTIntermediate(BertIntermediate):
    """act(dense(x)): the feed-forward network's first half, under ViT's name."""


class ViTEncoder(BertEncoder):
    """num_hidden_layers ViTLayers in turn."""

    def __init__(self, config, dtype=None, backend=None):
        super().__init__(config, dtype, backend, block=ViTLayer)


class ViTSelfOutput(Module):
    """dropout(dense(attention)): the block adds the residual."""

    def __init__(self, config, dtype=None, backend=None):
        super().__init__()
        self.dense = _linear(config.hidden_size, config.hidden_size, config, dtype, backend)
        self.dropout = Dropout(config.hidden_dropout_prob)

    def forward(self, h):
        return self.dropout(self.dense(h))


class ViTAttention(Module):
    def __init__(self, config, dtype=None, backend=None):
        super().__init__()
        self.attention = ViTSelfAttention(config, dtype, backend, bias=config.qkv_bias)
        self.output = ViTSelfOutput(config, dtype, backend)

    def forward(self, x):
        return self.output(self.attention(x))


class ViTOutput(Module):
    """x + dropout(dense(h)): how the feed-forward half ends."""

    def __init__(self, config, dtype=None, backend=None):
        super().__init__()
        self.dense = _linear(config.intermediate_size, config.hidden_size, config, dtype, backend)
        self.dropout = Dropout(config.hidden_dropout_prob)

    def forward(self, h, x):
        return x + self.dropout(self.dense(h))


class ViTLayer(Module):
    """A pre-norm block: x + attention(LayerNorm(x)), then x + MLP(LayerNorm(x))."""

    def __init__(self, config, dtype=None, backend=None):
        super().__init__()
        c = config
        self.attention = ViTAttention(c, dtype, backend)
        self.intermediate = ViTIntermediate(c, dtype, backend)
        self.output = ViTOutput(c, dtype, backend)
        self.layernorm_before, self.layernorm_after = (
            LayerNorm(c.hidden_size, eps=c.layer_norm_eps, dtype=dtype, backend=backend)
            for _ in range(2))

    def forward(self, x, allowed=None):
        x = x + self.attention(self.layernorm_before(x))
        return self.output(self.intermediate(self.layernorm_after(x)), x)


class ViTPooler(Module):
    """pooler_act(dense(the [CLS] token's hidden state))."""

    def __init__(self, config, dtype=None, backend=None):
        super().__init__()
        c = config
        self.dense = _linear(c.hidden_size, c.pooler_output_size or c.hidden_size, c, dtype,
                             backend)
        object.__setattr__(self, "act", ACTIVATIONS[c.pooler_act])

    def forward(self, hidden):
        return self.act(self.dense(hidden[:, 0]))


class _ViT(_Pretrained):
    """Loading and saving ViT checkpoints: BERT's, with ViT's parts, no tied decoder, and
    transformers 5's in-memory key names read as the Hub's."""

    family = "vit"
    config_class = ViTConfig
    parts = ("embeddings.", "encoder.", "layernorm.", "pooler.")
    tied = ()
    #: [(pattern, replacement)] from transformers 5's in-memory key names to the Hub's
    renamed = _RENAMED

    def _own_keys(self, stored, own):
        renamed = {}
        for key, value in stored.items():
            for pattern, replacement in self.renamed:
                key = pattern.sub(replacement, key)
            renamed[key] = value
        return super()._own_keys(renamed, own)

    def embeddings_weight(self):
        """The [CLS] token: its dtype and backend are the model's."""
        return self.encoder_module().embeddings.cls_token

    @classmethod
    def model_types(cls):
        """The model_types from_pretrained loads with this class (and the class each
        checkpoint's architectures names): its config's families."""
        return tuple(cls.config_class.families)

    def _check(self, pixel_values, interpolate_pos_encoding=False):
        return check_pixels(type(self).__name__, self.config, pixel_values,
                            interpolate_pos_encoding, self.embeddings_weight())

    def extra_repr(self):
        c = self.config
        return (f"image_size={c.image_size}, patch_size={c.patch_size}, "
                f"hidden_size={c.hidden_size}, num_hidden_layers={c.num_hidden_layers}, "
                f"num_attention_heads={c.num_attention_heads}")


class ViTModel(_ViT):
    """The ViT encoder (transformers' ViTModel): ``model(pixel_values)`` gives the last
    hidden states (batch, 1 + patches, hidden_size), the [CLS] token first;
    ``model.pooler(hidden)`` its summary. pixel_values are (batch, channels, height,
    width), normalized as the checkpoint's image processor says."""

    def __init__(self, config=None, dtype=None, backend=None, add_pooling_layer=True, **fields):
        super().__init__()
        config = _family_config(type(self), config, fields)
        object.__setattr__(self, "config", config)
        self.embeddings = ViTEmbeddings(config, dtype, backend)
        self.encoder = ViTEncoder(config, dtype, backend)
        self.layernorm = LayerNorm(config.hidden_size, eps=config.layer_norm_eps, dtype=dtype,
                                   backend=backend)
        self.pooler = ViTPooler(config, dtype, backend) if add_pooling_layer else None

    @classmethod
    def example(cls):
        return LayerExample({"hidden_size": 8, "num_hidden_layers": 2, "num_attention_heads": 2,
                             "intermediate_size": 12, "image_size": 8, "patch_size": 4,
                             "num_channels": 2, "hidden_dropout_prob": 0.1,
                             "add_pooling_layer": False},
                            shape=(2, 2, 8, 8), bad_shape=(2, 2, 6, 8), random_in_train=True)

    def forward(self, pixel_values, interpolate_pos_encoding=False):
        x = self._check(pixel_values, interpolate_pos_encoding)
        return self.layernorm(self.encoder(self.embeddings(x, interpolate_pos_encoding)))


class ViTForImageClassification(_Head, _ViT):
    """ViT with a linear classifier over the [CLS] token (transformers'
    ViTForImageClassification): ``model(pixel_values)`` gives (batch, num_labels) logits;
    ``config.id2label`` names them (ImageNet's 1000 classes in google/vit-base-patch16-224)."""

    task = "ForImageClassification"

    def __init__(self, config=None, dtype=None, backend=None, **fields):
        super().__init__(config, dtype, backend, fields)
        c = self.config
        self.classifier = _linear(c.hidden_size, c.num_labels, c, dtype, backend)

    @staticmethod
    def _encoder(config, dtype, backend, pooled):
        return ViTModel(config, dtype, backend, add_pooling_layer=pooled)

    def forward(self, pixel_values, interpolate_pos_encoding=False):
        return self.classifier(self.hidden(pixel_values, interpolate_pos_encoding)[:, 0])


class DeiTModel(ViTModel):
    """ViTModel whose config defaults to DeiT's (transformers' DeiTModel): a distillation
    token follows [CLS] in the hidden states (batch, 2 + patches, hidden_size)."""

    family = "deit"


class DeiTForImageClassification(ViTForImageClassification):
    """DeiT with a linear classifier over the [CLS] token (transformers'
    DeiTForImageClassification)."""

    family = "deit"


class DeiTForImageClassificationWithTeacher(_Head, _ViT):
    """DeiT as distilled (facebook/deit-base-distilled-patch16-224): the mean of a classifier
    over [CLS] (cls_classifier) and one over the distillation token
    (distillation_classifier), as transformers' DeiTForImageClassificationWithTeacher
    at inference."""

    family = "deit"
    task = "ForImageClassificationWithTeacher"

    def __init__(self, config=None, dtype=None, backend=None, **fields):
        super().__init__(config, dtype, backend, fields)
        c = self.config
        if c.leading != 2:
            raise ValueError(f"{type(self).__name__}: needs model_type deit (a distillation "
                             f"token), got {c.model_type}")
        self.cls_classifier, self.distillation_classifier = (
            _linear(c.hidden_size, c.num_labels, c, dtype, backend) for _ in range(2))

    _encoder = staticmethod(ViTForImageClassification._encoder)

    def forward(self, pixel_values, interpolate_pos_encoding=False):
        hidden = self.hidden(pixel_values, interpolate_pos_encoding)
        return (self.cls_classifier(hidden[:, 0]) + self.distillation_classifier(hidden[:, 1])) / 2


_ViT.architectures = {cls.traits().names + cls.task: cls for cls in (
    ViTModel, ViTForImageClassification, DeiTModel, DeiTForImageClassification,
    DeiTForImageClassificationWithTeacher)}
