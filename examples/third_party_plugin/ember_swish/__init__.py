"""Swish and Scale: an example of a layer package for ember."""

import ember
from ember.plugins.nn import LayerExample, Module, Parameter


class Swish(Module):
    """x * sigmoid(beta * x) (Ramachandran et al., 2017)."""

    def __init__(self, beta=1.0):
        super().__init__()
        self.beta = beta

    def forward(self, x):
        return x * ember.sigmoid(x * self.beta)

    def extra_repr(self):
        return f"beta={self.beta}"

    def onnx_op(self, builder, x, out, param):
        """How ember.plugins.onnx.export writes this layer: ONNX's Swish (opset 24 on),
        else x * Sigmoid(beta x)."""
        if builder.opset >= 24:
            return builder.node("Swish", [x], [out], alpha=float(self.beta))
        scaled = builder.node("Mul", [x, builder.const(self.beta, "float32")])
        return builder.node("Mul", [x, builder.node("Sigmoid", [scaled])], [out])

    @classmethod
    def example(cls):
        return LayerExample({"beta": 1.5}, shape=(4, 3), low=-3.0, high=3.0)


class Scale(Module):
    """A learned scale per feature of the last axis. Init: ones."""

    def __init__(self, features):
        super().__init__()
        self.features = features
        self.weight = Parameter(ember.ones(features))

    def forward(self, x):
        if x.shape[-1:] != (self.features,):
            raise ember.ShapeError(f"Scale: input {x.shape} does not end in {self.features} features")
        return x * self.weight

    @classmethod
    def example(cls):
        return LayerExample({"features": 3}, shape=(2, 3), bad_shape=(2, 4))
