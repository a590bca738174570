"""Layers, activations and initializers (``ember.plugins.nn``), registered by name."""

from . import functional, init
from .activations import (CELU, ELU, GELU, GLU, Hardshrink, Hardsigmoid, Hardswish, Hardtanh,
                          Identity, LeakyReLU, LogSigmoid, LogSoftmax, Mish, PReLU, ReLU, ReLU6,
                          SELU, SiLU, Sigmoid, Softmax, Softmax2d, Softmin, Softplus, Softshrink,
                          Softsign, Tanh, Tanhshrink, Threshold)
from .layers import (AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveMaxPool1d, AdaptiveMaxPool2d,
                     AvgPool1d, AvgPool2d, BatchNorm1d, BatchNorm2d, CircularPad1d, CircularPad2d,
                     CircularPad3d, ConstantPad1d, ConstantPad2d, ConstantPad3d, Conv1d, Conv2d,
                     ConvTranspose2d, CosineSimilarity, Dropout, Dropout1d, Dropout2d, Dropout3d,
                     Embedding, Flatten, GroupNorm, InstanceNorm1d, InstanceNorm2d, InstanceNorm3d,
                     LayerNorm, Linear, MaxPool1d, MaxPool2d, PairwiseDistance, PixelShuffle,
                     PixelUnshuffle, RMSNorm, ReflectionPad1d, ReflectionPad2d, ReflectionPad3d,
                     ReplicationPad1d, ReplicationPad2d, ReplicationPad3d, Unflatten, Upsample,
                     ZeroPad1d, ZeroPad2d, ZeroPad3d)
from .module import (LayerExample, Module, ModuleDict, ModuleList, Parameter, ParameterDict,
                     ParameterList, Sequential, functional_call)
from .recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from .transformer import (MultiheadAttention, TransformerDecoder, TransformerDecoderLayer,
                          TransformerEncoder, TransformerEncoderLayer)

LAYERS = {
    "linear": Linear, "conv1d": Conv1d, "conv2d": Conv2d, "conv_transpose2d": ConvTranspose2d,
    "max_pool2d": MaxPool2d, "avg_pool2d": AvgPool2d, "max_pool1d": MaxPool1d,
    "avg_pool1d": AvgPool1d, "adaptive_max_pool2d": AdaptiveMaxPool2d,
    "adaptive_max_pool1d": AdaptiveMaxPool1d, "adaptive_avg_pool1d": AdaptiveAvgPool1d,
    "upsample": Upsample, "zero_pad2d": ZeroPad2d, "constant_pad1d": ConstantPad1d,
    "reflection_pad1d": ReflectionPad1d, "reflection_pad2d": ReflectionPad2d,
    "replication_pad2d": ReplicationPad2d, "circular_pad2d": CircularPad2d,
    "flatten": Flatten, "unflatten": Unflatten, "dropout": Dropout, "dropout2d": Dropout2d,
    "batch_norm1d": BatchNorm1d, "batch_norm2d": BatchNorm2d, "instance_norm1d": InstanceNorm1d,
    "instance_norm2d": InstanceNorm2d, "layer_norm": LayerNorm, "rms_norm": RMSNorm,
    "embedding": Embedding, "sequential": Sequential,
    "rnn": RNN, "lstm": LSTM, "gru": GRU, "rnn_cell": RNNCell, "lstm_cell": LSTMCell,
    "gru_cell": GRUCell, "multihead_attention": MultiheadAttention,
    "transformer_encoder_layer": TransformerEncoderLayer,
    "transformer_encoder": TransformerEncoder,
    "transformer_decoder_layer": TransformerDecoderLayer,
    "transformer_decoder": TransformerDecoder,
    "relu": ReLU, "leaky_relu": LeakyReLU, "elu": ELU, "gelu": GELU, "sigmoid": Sigmoid,
    "tanh": Tanh, "silu": SiLU, "softmax": Softmax, "log_softmax": LogSoftmax,
    "hardsigmoid": Hardsigmoid, "hardswish": Hardswish, "celu": CELU, "selu": SELU,
    "hardtanh": Hardtanh, "relu6": ReLU6, "mish": Mish, "softplus": Softplus,
    "softsign": Softsign, "log_sigmoid": LogSigmoid, "softmin": Softmin, "glu": GLU,
    "identity": Identity, "prelu": PReLU, "threshold": Threshold, "hardshrink": Hardshrink,
    "softshrink": Softshrink, "tanhshrink": Tanhshrink, "softmax2d": Softmax2d,
    "group_norm": GroupNorm, "adaptive_avg_pool2d": AdaptiveAvgPool2d,
    "cosine_similarity": CosineSimilarity, "pairwise_distance": PairwiseDistance,
    "pixel_shuffle": PixelShuffle, "pixel_unshuffle": PixelUnshuffle,
}

__all__ = ["AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d",
           "AvgPool1d", "AvgPool2d", "BatchNorm1d", "BatchNorm2d", "CELU", "CircularPad1d",
           "CircularPad2d", "CircularPad3d", "ConstantPad1d", "ConstantPad2d", "ConstantPad3d",
           "Conv1d", "Conv2d", "ConvTranspose2d", "CosineSimilarity", "Dropout", "Dropout1d",
           "Dropout2d", "Dropout3d", "ELU", "Embedding", "Flatten", "GELU", "GLU", "GRU", "GRUCell",
           "GroupNorm", "Hardshrink", "Hardsigmoid", "Hardswish", "Hardtanh", "Identity",
           "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d", "LAYERS", "LSTM", "LSTMCell",
           "LayerExample", "LayerNorm", "LeakyReLU", "Linear", "LogSigmoid", "LogSoftmax",
           "MaxPool1d", "MaxPool2d", "Mish", "Module", "ModuleDict", "ModuleList",
           "MultiheadAttention", "PReLU", "PairwiseDistance", "Parameter", "ParameterDict",
           "ParameterList", "PixelShuffle", "PixelUnshuffle", "RMSNorm", "RNN", "RNNCell", "ReLU",
           "ReLU6", "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d",
           "ReplicationPad2d", "ReplicationPad3d", "SELU", "Sequential", "SiLU", "Sigmoid",
           "Softmax", "Softmax2d", "Softmin", "Softplus", "Softshrink", "Softsign", "Tanh",
           "Tanhshrink", "Threshold", "TransformerDecoder", "TransformerDecoderLayer",
           "TransformerEncoder", "TransformerEncoderLayer", "Unflatten", "Upsample", "ZeroPad1d",
           "ZeroPad2d", "ZeroPad3d", "functional", "functional_call", "init"]
