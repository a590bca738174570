"""Activation layers: parameter-free Modules around tensor functions."""

import ember

from . import functional as F
from .module import LayerExample, Module


class _Activation(Module):
    #: the conformance suite's inputs are drawn from this range
    example_range = (-3.0, 3.0)

    def extra_repr(self):
        return ", ".join(f"{k}={v}" for k, v in self.__dict__.items()
                         if not k.startswith("_") and k != "training")

    @classmethod
    def example(cls):
        low, high = cls.example_range
        return LayerExample({}, shape=(3, 5), low=low, high=high)


class ReLU(_Activation):
    def forward(self, x):
        return ember.relu(x)


class LeakyReLU(_Activation):
    def __init__(self, negative_slope=0.01):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x):
        return F.leaky_relu(x, self.negative_slope)


class ELU(_Activation):
    def __init__(self, alpha=1.0):
        super().__init__()
        self.alpha = alpha

    def forward(self, x):
        return F.elu(x, self.alpha)


class GELU(_Activation):
    def __init__(self, approximate="none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, x):
        return F.gelu(x, self.approximate)


class SiLU(_Activation):
    def forward(self, x):
        return F.silu(x)


class Hardsigmoid(_Activation):
    example_range = (-5.0, 5.0)      # past both kinks, -3 and 3

    def forward(self, x):
        return F.hardsigmoid(x)


class Hardswish(_Activation):
    example_range = (-5.0, 5.0)

    def forward(self, x):
        return F.hardswish(x)


class Sigmoid(_Activation):
    def forward(self, x):
        return ember.sigmoid(x)


class Tanh(_Activation):
    def forward(self, x):
        return ember.tanh(x)


class Softmax(_Activation):
    def __init__(self, dim=-1):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return ember.softmax(x, self.dim)


class LogSoftmax(_Activation):
    def __init__(self, dim=-1):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return ember.log_softmax(x, self.dim)
