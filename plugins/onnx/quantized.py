"""ONNX's linear quantization (QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear)
and the integer ops of quantized models (MatMulInteger, ConvInteger, QLinearMatMul,
QLinearConv), computed as ONNX's reference computes them, on the model's backend:
integer products in int32 (exact, wrapping past its range as ONNX Runtime's), scales
applied in float64 where the backend holds it (the reference's NumPy promotes to it)
and in float32 elsewhere, rounding halves to even, results saturating at the integer
type's limits. 8-bit float quantization divides by the scale in float32 and casts by
ONNX's rules (``saturate``). The quantized types ember does not hold (int4, ...) are
refused by name."""

import numpy as np

import ember

from .ops import OPS, op
from .types import ember_dtype, to_float8

#: the integer types a quantized tensor may have, with the range it saturates to
_RANGES = {d: (int(np.iinfo(d.np).min), int(np.iinfo(d.np).max))
           for d in (ember.uint8, ember.int8, ember.uint16, ember.int16)}


def _per_axis(c, value, x, axis, block_size=0):
    """A scale or zero point as ONNX lays it against x: a scalar, one value per index of
    ``axis``, or (``block_size``) one per block of that many along ``axis``."""
    v = c.tensor(value)
    if v.ndim == 0 or v.size == 1:
        return ember.reshape(v, ())
    axis = axis + x.ndim if axis < 0 else axis
    if block_size:
        index = np.arange(x.shape[axis]) // block_size
        return ember.take_along_axis(v, ember.tensor(index.reshape(
            [-1 if a == axis else 1 for a in range(x.ndim)]), backend=v.device), axis)
    if v.ndim != 1 or v.shape[0] != x.shape[axis]:
        c.refuse(f"a per-axis scale or zero point of shape {v.shape} does not match axis "
                 f"{axis} of the input's shape {x.shape}")
    return ember.reshape(v, [-1 if a == axis else 1 for a in range(x.ndim)])


def _wide(c):
    """The float the scales are applied in: float64 where the backend holds it."""
    return ember.float64 if ember.float64 in ember.get_backend(c.backend).dtypes else ember.float32


def _saturated(y, dtype):
    """y rounded (halves to even), clipped to ``dtype``'s range and cast to it."""
    lo, hi = _RANGES[dtype]
    return ember.cast(ember.clip(ember.round(y), lo, hi), dtype)


def _quantized_type(c, a, zero_point, default=ember.uint8):
    if zero_point is not None:
        dtype = c.tensor(zero_point).dtype
    elif a.get("output_dtype"):
        dtype = ember_dtype(a["output_dtype"], f"ONNX node {c.node!r}")
    else:
        dtype = default
    if dtype not in _RANGES and not dtype.stores_only:
        c.refuse(f"quantizing to {dtype.name} is not supported; ember quantizes to "
                 f"{', '.join(d.name for d in _RANGES)}")
    return dtype


@op("QuantizeLinear")
def quantize_linear(c, a, x, scale, zero_point=None):
    x = c.tensor(x)
    dtype = _quantized_type(c, a, zero_point)
    axis, block = a.get("axis", 1), a.get("block_size", 0)
    if dtype.stores_only:
        y = ember.cast(x, ember.float32) / ember.cast(_per_axis(c, scale, x, axis, block),
                                                     ember.float32)
        if zero_point is not None:
            y = y + ember.cast(_per_axis(c, zero_point, x, axis, block), ember.float32)
        return to_float8(y, dtype, a.get("saturate", 1))
    if a.get("precision"):
        work = ember_dtype(a["precision"], f"ONNX node {c.node!r}")
        x, s = ember.cast(x, work), ember.cast(_per_axis(c, scale, x, axis, block), work)
    else:
        s = _per_axis(c, scale, x, axis, block)
    y = ember.cast(ember.round(x / s), _wide(c))     # + the zero point exactly
    if zero_point is not None:
        y = y + ember.cast(_per_axis(c, zero_point, x, axis, block), y.dtype)
    return _saturated(y, dtype)


@op("DequantizeLinear")
def dequantize_linear(c, a, x, scale, zero_point=None):
    x = c.tensor(x)
    if x.dtype not in _RANGES and x.dtype is not ember.int32 and not x.dtype.stores_only:
        c.refuse(f"dequantizing {x.dtype.name} is not supported")
    axis, block = a.get("axis", 1), a.get("block_size", 0)
    s = _per_axis(c, scale, x, axis, block)
    out = ember_dtype(a["output_dtype"], f"ONNX node {c.node!r}") if a.get("output_dtype") else s.dtype
    dx = ember.cast(x, ember.float32)
    if zero_point is not None:
        dx = dx - ember.cast(_per_axis(c, zero_point, x, axis, block), ember.float32)
    return ember.cast(dx * ember.cast(s, ember.float32), out)


@op("DynamicQuantizeLinear")
def dynamic_quantize_linear(c, a, x):
    """uint8 with the scale and zero point that map [min(x, 0), max(x, 0)] onto 0..255."""
    x = c.tensor(x)
    hi, lo = ember.maximum(ember.max(x), 0.0), ember.minimum(ember.min(x), 0.0)
    scale = ember.where(hi == lo, 1.0, hi - lo) / 255.0
    zero = ember.round(ember.clip(0.0 - lo / scale, 0.0, 255.0))
    y = ember.clip(ember.round(x / scale) + zero, 0.0, 255.0)
    return ember.cast(y, ember.uint8), ember.cast(scale, x.dtype), ember.cast(zero, ember.uint8)


def _centered(c, q, zero_point, axis=None):
    """int32(q) - its zero point: one value, or one per index of ``axis`` of q (a
    matmul's A: its rows, -2; a filter: its output channels, 0; None: the last axis)."""
    q = ember.cast(c.tensor(q), ember.int32)
    if zero_point is None:
        return q
    z = ember.cast(c.tensor(zero_point), ember.int32)
    if z.size == 1:
        z = ember.reshape(z, ())
    elif axis is not None:
        z = ember.reshape(z, (-1,) + (1,) * (q.ndim - 1 - axis % q.ndim))
    return q - z


@op("MatMulInteger")
def matmul_integer(c, a, x, y, x_zero_point=None, y_zero_point=None):
    return ember.matmul(_centered(c, x, x_zero_point, -2), _centered(c, y, y_zero_point))


@op("ConvInteger")
def conv_integer(c, a, x, w, x_zero_point=None, w_zero_point=None):
    return OPS["Conv"](c, a, _centered(c, x, x_zero_point), _centered(c, w, w_zero_point, 0))


def _requantized(c, acc, multiplier, zero_point, dtype):
    """The int32 accumulator ``acc`` times ``multiplier`` plus the output zero point, in
    the wide float, saturated to ``dtype``."""
    wide = _wide(c)
    y = ember.cast(acc, wide) * ember.cast(multiplier, wide)
    if zero_point is not None:
        y = y + ember.cast(c.tensor(zero_point), wide)
    return _saturated(y, dtype)


@op("QLinearMatMul")
def qlinear_matmul(c, a, x, x_scale, x_zero_point, y, y_scale, y_zero_point, out_scale,
                   out_zero_point=None):
    acc = ember.matmul(_centered(c, x, x_zero_point, -2), _centered(c, y, y_zero_point))
    multiplier = c.tensor(x_scale) * c.tensor(y_scale) / c.tensor(out_scale)
    dtype = c.tensor(out_zero_point).dtype if out_zero_point is not None else c.tensor(x).dtype
    return _requantized(c, acc, multiplier, out_zero_point, dtype)


@op("QLinearConv")
def qlinear_conv(c, a, x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale,
                 y_zero_point=None, bias=None):
    w = c.tensor(w)
    acc = OPS["Conv"](c, a, _centered(c, x, x_zero_point), _centered(c, w, w_zero_point, 0),
                      None if bias is None else ember.cast(c.tensor(bias), ember.int32))
    w_scale = c.tensor(w_scale)
    if w_scale.size > 1:
        w_scale = ember.reshape(w_scale, (1, -1) + (1,) * (w.ndim - 2))
    multiplier = c.tensor(x_scale) * w_scale / c.tensor(y_scale)
    dtype = c.tensor(y_zero_point).dtype if y_zero_point is not None else c.tensor(x).dtype
    return _requantized(c, acc, multiplier, y_zero_point, dtype)
