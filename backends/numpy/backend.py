"""The primitive table written once against an array module ``xp``.

NumPy and CuPy expose the same API, so this class serves both (Chainer's
``xp`` idea): the NumPy backend sets ``xp = numpy``, the CuPy backend
``xp = cupy`` and overrides only transfers and the fast paths it fuses.
"""

import numpy

from ember import dtypes as dt
from ember.backend import Backend


class ArrayModuleBackend(Backend):
    xp = numpy
    dtypes = frozenset(dt.ALL)

    # transfer and creation
    def from_numpy(self, array):
        return self.xp.asarray(array)

    def to_numpy(self, buf):
        return numpy.array(buf, copy=True)

    def full(self, shape, value, dtype):
        return self.xp.full(shape, value, dtype=dtype.np)

    # elementwise
    def neg(self, x): return self.xp.negative(x)
    def exp(self, x): return self.xp.exp(x)
    def log(self, x): return self.xp.log(x)
    def sin(self, x): return self.xp.sin(x)
    def cos(self, x): return self.xp.cos(x)
    def tanh(self, x): return self.xp.tanh(x)
    def sqrt(self, x): return self.xp.sqrt(x)
    def abs(self, x): return self.xp.abs(x)
    def sign(self, x): return self.xp.sign(x)

    def add(self, a, b): return self.xp.add(a, b)
    def sub(self, a, b): return self.xp.subtract(a, b)
    def mul(self, a, b): return self.xp.multiply(a, b)
    def div(self, a, b): return self.xp.true_divide(a, b)
    def pow(self, a, b): return self.xp.power(a, b)
    def maximum(self, a, b): return self.xp.maximum(a, b)
    def minimum(self, a, b): return self.xp.minimum(a, b)
    def eq(self, a, b): return self.xp.equal(a, b)
    def ne(self, a, b): return self.xp.not_equal(a, b)
    def lt(self, a, b): return self.xp.less(a, b)
    def le(self, a, b): return self.xp.less_equal(a, b)
    def gt(self, a, b): return self.xp.greater(a, b)
    def ge(self, a, b): return self.xp.greater_equal(a, b)
    def where(self, cond, a, b): return self.xp.where(cond, a, b)
    def cast(self, x, dtype): return x.astype(dtype.np)

    # reductions; float16 accumulates in float32, as on GPUs
    def sum(self, x, axes, keepdims):
        if x.dtype == numpy.float16:
            return self.xp.sum(x, axis=axes, keepdims=keepdims, dtype=numpy.float32).astype(x.dtype)
        return self.xp.sum(x, axis=axes, keepdims=keepdims)

    def max(self, x, axes, keepdims): return self.xp.max(x, axis=axes, keepdims=keepdims)
    def min(self, x, axes, keepdims): return self.xp.min(x, axis=axes, keepdims=keepdims)

    def argmax(self, x, axis, keepdims):
        return self.xp.argmax(x, axis=axis, keepdims=keepdims).astype(self.index_dtype.np)

    # movement
    def reshape(self, x, shape): return self.xp.reshape(x, shape)
    def permute(self, x, axes): return self.xp.transpose(x, axes)
    def expand(self, x, shape): return self.xp.broadcast_to(x, shape)
    def flip(self, x, axes): return self.xp.flip(x, axes)

    def slice(self, x, starts, stops, steps):
        return x[tuple(map(slice, starts, stops, steps))]

    def pad(self, x, widths, value):
        shape = tuple(d + a + b for d, (a, b) in zip(x.shape, widths))
        out = self.xp.full(shape, value, dtype=x.dtype)
        out[tuple(slice(a, a + d) for d, (a, _) in zip(x.shape, widths))] = x
        return out

    def concatenate(self, xs, axis): return self.xp.concatenate(xs, axis=axis)
    def gather(self, x, axis, index): return self.xp.take(x, index, axis=axis)

    def scatter_add(self, shape, axis, index, src):
        xp = self.xp
        out = xp.zeros(shape, dtype=src.dtype)
        moved = xp.moveaxis(src, tuple(range(axis, axis + index.ndim)), tuple(range(index.ndim)))
        xp.add.at(xp.moveaxis(out, axis, 0), index, moved)
        return out

    def matmul(self, a, b): return self.xp.matmul(a, b)

    # fast paths
    def fast_relu(self, x): return self.xp.maximum(x, 0)


class NumpyBackend(ArrayModuleBackend):
    """Runs on the CPU through NumPy; the reference every other backend is checked against."""

    name = "numpy"

    @classmethod
    def devices(cls):
        return [f"cpu, NumPy {numpy.__version__}"]
