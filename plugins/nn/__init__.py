"""Layers, activations and initializers (``ember.plugins.nn``), registered by name."""

from . import functional, init
from .activations import ELU, GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from .layers import (AvgPool2d, BatchNorm1d, BatchNorm2d, Conv2d, Dropout, Embedding, Flatten,
                     LayerNorm, Linear, MaxPool2d)
from .module import LayerExample, Module, Parameter, Sequential, functional_call

LAYERS = {
    "linear": Linear, "conv2d": Conv2d, "max_pool2d": MaxPool2d, "avg_pool2d": AvgPool2d,
    "flatten": Flatten, "dropout": Dropout, "batch_norm1d": BatchNorm1d,
    "batch_norm2d": BatchNorm2d, "layer_norm": LayerNorm, "embedding": Embedding,
    "sequential": Sequential,
    "relu": ReLU, "leaky_relu": LeakyReLU, "elu": ELU, "gelu": GELU, "sigmoid": Sigmoid,
    "tanh": Tanh, "softmax": Softmax, "log_softmax": LogSoftmax,
}

__all__ = ["AvgPool2d", "BatchNorm1d", "BatchNorm2d", "Conv2d", "Dropout", "ELU", "Embedding",
           "Flatten", "GELU", "LAYERS", "LayerExample", "LayerNorm", "LeakyReLU", "Linear",
           "LogSoftmax", "MaxPool2d", "Module", "Parameter", "ReLU", "Sequential", "Sigmoid",
           "Softmax", "Tanh", "functional", "functional_call", "init"]
