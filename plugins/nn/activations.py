"""Activation layers: parameter-free Modules around tensor functions."""

import ember
from ember.errors import ShapeError

from . import functional as F
from .module import LayerExample, Module, Parameter


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


class RReLU(_Activation):
    """Randomized leaky ReLU (F.rrelu): a slope from [lower, upper] per element in
    training, their mean in eval."""

    def __init__(self, lower=1.0 / 8, upper=1.0 / 3):
        super().__init__()
        self.lower, self.upper = lower, upper

    def forward(self, x):
        return F.rrelu(x, self.lower, self.upper, self.training)

    @classmethod
    def example(cls):
        return LayerExample({}, shape=(3, 5), low=-3.0, high=3.0, random_in_train=True)


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


class CELU(_Activation):
    def __init__(self, alpha=1.0):
        super().__init__()
        self.alpha = alpha

    def forward(self, x):
        return F.celu(x, self.alpha)


class SELU(_Activation):
    def forward(self, x):
        return F.selu(x)


class Hardtanh(_Activation):
    def __init__(self, min_val=-1.0, max_val=1.0):
        super().__init__()
        self.min_val, self.max_val = min_val, max_val

    def forward(self, x):
        return F.hardtanh(x, self.min_val, self.max_val)


class ReLU6(_Activation):
    example_range = (-3.0, 9.0)       # past both kinks, 0 and 6

    def forward(self, x):
        return F.relu6(x)


class Mish(_Activation):
    def forward(self, x):
        return F.mish(x)


class Softplus(_Activation):
    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, x):
        return ember.softplus(x, self.beta, self.threshold)


class Softsign(_Activation):
    def forward(self, x):
        return F.softsign(x)


class LogSigmoid(_Activation):
    def forward(self, x):
        return F.logsigmoid(x)


class Softmin(_Activation):
    def __init__(self, dim):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return F.softmin(x, self.dim)

    @classmethod
    def example(cls):
        return LayerExample({"dim": 1}, shape=(3, 5), low=-3.0, high=3.0)


class GLU(_Activation):
    def __init__(self, dim=-1):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return F.glu(x, self.dim)

    @classmethod
    def example(cls):
        return LayerExample({}, shape=(3, 6), low=-3.0, high=3.0)


class Identity(_Activation):
    """The input itself (a placeholder where a model takes a layer out, as PyTorch's:
    any arguments are accepted and ignored)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x



class Threshold(_Activation):
    def __init__(self, threshold, value):
        super().__init__()
        self.threshold, self.value = threshold, value

    def forward(self, x):
        return F.threshold(x, self.threshold, self.value)

    @classmethod
    def example(cls):
        return LayerExample({"threshold": 0.5, "value": -2.0}, shape=(3, 5), low=-3.0, high=3.0)


class Hardshrink(_Activation):
    def __init__(self, lambd=0.5):
        super().__init__()
        self.lambd = lambd

    def forward(self, x):
        return F.hardshrink(x, self.lambd)


class Softshrink(Hardshrink):
    def forward(self, x):
        return F.softshrink(x, self.lambd)


class Tanhshrink(_Activation):
    def forward(self, x):
        return F.tanhshrink(x)


class Softmax2d(_Activation):
    """Softmax over the channels of (N, C, H, W) or (C, H, W) input."""

    def forward(self, x):
        if x.ndim not in (3, 4):
            raise ShapeError(f"Softmax2d: input must be (N, C, H, W) or (C, H, W), got shape "
                             f"{x.shape}")
        return ember.softmax(x, -3)

    @classmethod
    def example(cls):
        return LayerExample({}, shape=(2, 3, 2, 2), low=-3.0, high=3.0, bad_shape=(3, 5))


class PReLU(Module):
    """x where x > 0, else a learned slope times x (F.prelu): one slope, or one per
    channel. Init: every slope ``init`` (0.25)."""

    def __init__(self, num_parameters=1, init=0.25, dtype=None, backend=None):
        super().__init__()
        self.num_parameters = num_parameters
        self.weight = Parameter(ember.full((num_parameters,), init, dtype=dtype, backend=backend))

    def forward(self, x):
        return F.prelu(x, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"

    @classmethod
    def example(cls):
        return LayerExample({"num_parameters": 3}, shape=(2, 3, 4), bad_shape=(2, 4, 4))
