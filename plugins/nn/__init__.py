"""Layers, activations and initializers (``ember.plugins.nn``), registered by name; and
torch.nn's loss modules (losses.py), over ember.plugins.losses."""

from . import functional, init, utils
from .activations import (CELU, ELU, GELU, GLU, Hardshrink, Hardsigmoid, Hardswish, Hardtanh,
                          Identity, LeakyReLU, LogSigmoid, LogSoftmax, Mish, PReLU, ReLU, ReLU6,
                          RReLU, SELU, SiLU, Sigmoid, Softmax, Softmax2d, Softmin, Softplus, Softshrink,
                          Softsign, Tanh, Tanhshrink, Threshold)
from .layers import (AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveAvgPool3d, AdaptiveMaxPool1d,
                     AdaptiveMaxPool2d, AdaptiveMaxPool3d, AlphaDropout, ChannelShuffle,
                     FeatureAlphaDropout, FractionalMaxPool2d, FractionalMaxPool3d, LPPool1d,
                     LPPool2d, LPPool3d, MaxUnpool1d, MaxUnpool2d,
                     MaxUnpool3d,
                     AvgPool1d, AvgPool2d, AvgPool3d, BatchNorm1d, BatchNorm2d, BatchNorm3d,
                     Bilinear, CircularPad1d, CircularPad2d, CircularPad3d, ConstantPad1d,
                     ConstantPad2d, ConstantPad3d, Conv1d, Conv2d, Conv3d, ConvTranspose1d,
                     ConvTranspose2d, ConvTranspose3d, CosineSimilarity, Dropout, Dropout1d,
                     Dropout2d, Dropout3d, Embedding, EmbeddingBag, Flatten, Fold, GroupNorm,
                     InstanceNorm1d, InstanceNorm2d, InstanceNorm3d, LayerNorm, Linear,
                     LocalResponseNorm, MaxPool1d, MaxPool2d, MaxPool3d,
                     PairwiseDistance, PixelShuffle, PixelUnshuffle, RMSNorm, ReflectionPad1d,
                     ReflectionPad2d, ReflectionPad3d, ReplicationPad1d, ReplicationPad2d,
                     ReplicationPad3d, Unflatten, Unfold, Upsample, UpsamplingBilinear2d,
                     UpsamplingNearest2d, ZeroPad1d, ZeroPad2d, ZeroPad3d)
from .adaptive import AdaptiveLogSoftmaxWithLoss
from .linear_cross_entropy import LinearCrossEntropyLoss, LinearCrossEntropyOptions
from .lazy import (LazyBatchNorm1d, LazyBatchNorm2d, LazyBatchNorm3d, LazyConv1d, LazyConv2d,
                   LazyConv3d, LazyConvTranspose1d, LazyConvTranspose2d, LazyConvTranspose3d,
                   LazyInstanceNorm1d, LazyInstanceNorm2d, LazyInstanceNorm3d, LazyLinear)
from .losses import (BCELoss, BCEWithLogitsLoss, CTCLoss, CosineEmbeddingLoss, CrossEntropyLoss,
                     GaussianNLLLoss, HingeEmbeddingLoss, HuberLoss, KLDivLoss, L1Loss, MSELoss,
                     MarginRankingLoss, MultiLabelMarginLoss, MultiLabelSoftMarginLoss,
                     MultiMarginLoss, NLLLoss, PoissonNLLLoss, SmoothL1Loss, SoftMarginLoss,
                     TripletMarginLoss, TripletMarginWithDistanceLoss)
from .module import (Buffer, LayerExample, Module, ModuleDict, ModuleList, Parameter,
                     ParameterDict, ParameterList, Sequential, functional_call)
from .parallel import DataParallel
from .recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell, RNNCellBase
from .sync_batch_norm import SyncBatchNorm
from .transformer import (MultiheadAttention, Transformer, TransformerDecoder,
                          TransformerDecoderLayer, TransformerEncoder, TransformerEncoderLayer)

#: PyTorch's deprecated name for NLLLoss over (N, C, H, W) scores (NLLLoss takes any d...)
NLLLoss2d = NLLLoss

LAYERS = {
    "linear": Linear, "bilinear": Bilinear, "conv1d": Conv1d, "conv2d": Conv2d, "conv3d": Conv3d,
    "conv_transpose1d": ConvTranspose1d, "conv_transpose2d": ConvTranspose2d,
    "conv_transpose3d": ConvTranspose3d,
    "max_pool3d": MaxPool3d, "avg_pool3d": AvgPool3d, "batch_norm3d": BatchNorm3d,
    "max_pool2d": MaxPool2d, "avg_pool2d": AvgPool2d, "max_pool1d": MaxPool1d,
    "avg_pool1d": AvgPool1d, "adaptive_max_pool2d": AdaptiveMaxPool2d,
    "adaptive_max_pool1d": AdaptiveMaxPool1d, "adaptive_avg_pool1d": AdaptiveAvgPool1d,
    "upsample": Upsample, "zero_pad2d": ZeroPad2d, "constant_pad1d": ConstantPad1d,
    "reflection_pad1d": ReflectionPad1d, "reflection_pad2d": ReflectionPad2d,
    "replication_pad2d": ReplicationPad2d, "circular_pad2d": CircularPad2d,
    "flatten": Flatten, "unflatten": Unflatten, "unfold": Unfold, "dropout": Dropout, "dropout2d": Dropout2d,
    "batch_norm1d": BatchNorm1d, "batch_norm2d": BatchNorm2d, "instance_norm1d": InstanceNorm1d,
    "instance_norm2d": InstanceNorm2d, "layer_norm": LayerNorm, "rms_norm": RMSNorm,
    "embedding": Embedding, "embedding_bag": EmbeddingBag, "sequential": Sequential,
    "rnn": RNN, "lstm": LSTM, "gru": GRU, "rnn_cell": RNNCell, "lstm_cell": LSTMCell,
    "gru_cell": GRUCell, "multihead_attention": MultiheadAttention,
    "transformer_encoder_layer": TransformerEncoderLayer,
    "transformer_encoder": TransformerEncoder,
    "transformer_decoder_layer": TransformerDecoderLayer,
    "transformer_decoder": TransformerDecoder, "transformer": Transformer,
    "relu": ReLU, "leaky_relu": LeakyReLU, "elu": ELU, "gelu": GELU, "sigmoid": Sigmoid,
    "tanh": Tanh, "silu": SiLU, "softmax": Softmax, "log_softmax": LogSoftmax,
    "hardsigmoid": Hardsigmoid, "hardswish": Hardswish, "celu": CELU, "selu": SELU,
    "hardtanh": Hardtanh, "relu6": ReLU6, "mish": Mish, "softplus": Softplus,
    "softsign": Softsign, "log_sigmoid": LogSigmoid, "softmin": Softmin, "glu": GLU,
    "identity": Identity, "prelu": PReLU, "threshold": Threshold, "hardshrink": Hardshrink,
    "softshrink": Softshrink, "tanhshrink": Tanhshrink, "softmax2d": Softmax2d,
    "group_norm": GroupNorm, "local_response_norm": LocalResponseNorm,
    "adaptive_avg_pool2d": AdaptiveAvgPool2d, "adaptive_avg_pool3d": AdaptiveAvgPool3d,
    "adaptive_max_pool3d": AdaptiveMaxPool3d, "max_unpool1d": MaxUnpool1d,
    "max_unpool2d": MaxUnpool2d, "max_unpool3d": MaxUnpool3d, "lp_pool1d": LPPool1d,
    "lp_pool2d": LPPool2d, "lp_pool3d": LPPool3d,
    "fractional_max_pool2d": FractionalMaxPool2d, "fractional_max_pool3d": FractionalMaxPool3d, "alpha_dropout": AlphaDropout,
    "feature_alpha_dropout": FeatureAlphaDropout, "rrelu": RReLU,
    "channel_shuffle": ChannelShuffle, "sync_batch_norm": SyncBatchNorm,
    "cosine_similarity": CosineSimilarity, "pairwise_distance": PairwiseDistance,
    "pixel_shuffle": PixelShuffle, "pixel_unshuffle": PixelUnshuffle,
}

__all__ = ["AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d",
           "AdaptiveLogSoftmaxWithLoss", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d",
           "AdaptiveMaxPool3d", "AlphaDropout", "AvgPool1d", "AvgPool2d", "AvgPool3d", "BCELoss",
           "BCEWithLogitsLoss", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "Bilinear", "CELU",
           "CTCLoss", "ChannelShuffle", "CircularPad1d", "CircularPad2d", "CircularPad3d",
           "ConstantPad1d", "ConstantPad2d", "ConstantPad3d", "Conv1d", "Conv2d", "Conv3d",
           "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d", "CosineEmbeddingLoss",
           "CosineSimilarity", "CrossEntropyLoss", "DataParallel", "Dropout", "Dropout1d", "Dropout2d",
           "Dropout3d", "ELU", "Embedding", "EmbeddingBag", "FeatureAlphaDropout", "Flatten",
           "Fold", "GELU", "GLU", "GRU", "GRUCell", "GaussianNLLLoss", "GroupNorm", "Hardshrink",
           "Hardsigmoid", "Hardswish", "Hardtanh", "HingeEmbeddingLoss", "HuberLoss", "Identity",
           "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d", "KLDivLoss", "L1Loss", "LAYERS",
           "FractionalMaxPool2d", "FractionalMaxPool3d", "LPPool1d", "LPPool2d", "LPPool3d", "LSTM", "LSTMCell", "LayerExample", "LayerNorm",
           "LazyBatchNorm1d", "LazyBatchNorm2d", "LazyBatchNorm3d", "LazyConv1d", "LazyConv2d",
           "LazyConv3d", "LazyConvTranspose1d", "LazyConvTranspose2d", "LazyConvTranspose3d",
           "LazyInstanceNorm1d", "LazyInstanceNorm2d", "LazyInstanceNorm3d", "LazyLinear",
           "LeakyReLU", "Linear", "LinearCrossEntropyLoss", "LinearCrossEntropyOptions", "LocalResponseNorm", "LogSigmoid", "LogSoftmax", "MSELoss",
           "MarginRankingLoss", "MaxPool1d", "MaxPool2d", "MaxPool3d", "MaxUnpool1d",
           "MaxUnpool2d", "MaxUnpool3d", "Mish", "Module", "ModuleDict", "ModuleList",
           "MultiLabelMarginLoss", "MultiLabelSoftMarginLoss", "MultiMarginLoss",
           "MultiheadAttention", "NLLLoss", "PReLU", "PairwiseDistance", "Parameter", "Buffer",
           "ParameterDict", "ParameterList", "PixelShuffle", "PixelUnshuffle", "PoissonNLLLoss",
           "NLLLoss2d", "RMSNorm", "RNN", "RNNBase", "RNNCell", "RNNCellBase", "RReLU", "ReLU", "ReLU6", "ReflectionPad1d",
           "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d", "ReplicationPad2d",
           "ReplicationPad3d", "SELU", "Sequential", "SiLU", "Sigmoid", "SmoothL1Loss",
           "SoftMarginLoss", "Softmax", "Softmax2d", "Softmin", "Softplus", "Softshrink",
           "Softsign", "SyncBatchNorm", "Tanh", "Tanhshrink", "Threshold", "Transformer",
           "TransformerDecoder", "TransformerDecoderLayer", "TransformerEncoder",
           "TransformerEncoderLayer", "TripletMarginLoss", "TripletMarginWithDistanceLoss",
           "Unflatten", "Unfold", "Upsample", "UpsamplingBilinear2d", "UpsamplingNearest2d",
           "ZeroPad1d", "ZeroPad2d", "ZeroPad3d", "functional", "functional_call", "init", "utils"]
