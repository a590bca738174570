"""erf, the exact GELU (ember.ops.special), GELU's tanh form and sigmoid as loops
compiled by Numba, one pass each.

Composed of NumPy calls they take some thirty passes (GELU on 4M float32: 44 ms). Here
each float32 element is computed in float64 from the same formulas (Numerical Recipes'
erfcc, erf's Taylor series near 0) and rounded once: within 2.3 ULP. LLVM widens the
loops to the CPU's vector lanes, which needs an exp of their own: a call to libm's
keeps a loop to one element at a time (GELU 44 ms with libm's erfc, 21 with its exp,
7.5 here, single-threaded). float64 elements take libm's erf, erfc and exp, float64's
own precision. GELU's tanh form (x / (1 + exp(-2u))) and sigmoid (e / (1 + e) with
e = exp(-|x|), its negative tail exact) compute float32 in float64 the same way: 5 and
10 ms on 4M float32 in NumPy calls, PyTorch 1 and 0.5 ms. Large arrays are cut over the
cores (threads.over_rows).
"""

import math

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from ember.ops.activation import GELU_A, GELU_C, GELU_CLIP
from ember.ops.special import ERF_SWITCH, ERF_TAYLOR, ERFCC, GELU_SLOPE_CLIP

from . import threads

_C = ERFCC            # ten coefficients each (_horner)
_T = ERF_TAYLOR
_SQRT_HALF = 0.7071067811865476
_INV_SQRT_2PI = 0.3989422804014327


@intrinsic
def float_of_bits(typingctx, bits):
    """The float whose bits are the integer ``bits``: a float64 of an int64, a float32 of
    an int32 (a bitcast, which LLVM widens)."""
    wide = bits.bitwidth == 64

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType() if wide else ir.FloatType())
    return (types.float64 if wide else types.float32)(bits), codegen


@numba.njit(inline="always")
def _exp(a):
    """exp(a) for a in [-700, 700] (clamped there), 2^k exp(r) with |r| <= ln2 / 2 by its
    Taylor series to r^12: within 1e-14 relative."""
    a = min(max(a, -700.0), 700.0)
    k = (a * 1.4426950408889634 + 6755399441055744.0) - 6755399441055744.0     # rint
    r = a - k * 0.6931471805599453
    p = 1.0 / 479001600
    p = p * r + 1.0 / 39916800
    p = p * r + 1.0 / 3628800
    p = p * r + 1.0 / 362880
    p = p * r + 1.0 / 40320
    p = p * r + 1.0 / 5040
    p = p * r + 1.0 / 720
    p = p * r + 1.0 / 120
    p = p * r + 1.0 / 24
    p = p * r + 1.0 / 6
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    return p * float_of_bits((np.int64(k) + 1023) << 52)


@numba.njit(inline="always")
def _exp_or_inf(a):
    """exp(a), inf past 700 (an overflow's inf, which the callers rely on)."""
    return _exp(a) if a < 700.0 else np.inf


@numba.njit(inline="always")
def _horner(t, c):
    """sum c[i] t^(9 - i) of a tuple of ten coefficients, the highest power first."""
    p = c[0] * t + c[1]
    p = p * t + c[2]
    p = p * t + c[3]
    p = p * t + c[4]
    p = p * t + c[5]
    p = p * t + c[6]
    p = p * t + c[7]
    p = p * t + c[8]
    return p * t + c[9]


@numba.njit(inline="always")
def _erfc(u):
    """erfc(u) for u >= 0 (NaN: garbage, which the callers replace)."""
    u = u if u == u else 0.0
    t = 1.0 / (1.0 + 0.5 * u)
    return t * _exp(_horner(t, _C) - u * u)


@numba.njit(nogil=True, error_model="numpy")
def _erf_loop(x, out):
    for i in range(x.size):
        v = np.float64(x[i])
        far = 1.0 - _erfc(abs(v))
        y = v * _horner(v * v, _T) if abs(v) < ERF_SWITCH else (far if v > 0 else -far)
        out[i] = y if v == v else v


@numba.njit(nogil=True, error_model="numpy")
def _gelu_loop(x, out):
    for i in range(x.size):
        v = np.float64(x[i])
        e = _erfc(abs(v) * _SQRT_HALF)
        y = 0.5 * v * (e if v < 0 else 2.0 - e)
        out[i] = y if v == v else v


@numba.njit(nogil=True, error_model="numpy")
def _gelu_grad_loop(g, x, out):
    for i in range(x.size):
        v = np.float64(x[i])
        e = _erfc(abs(v) * _SQRT_HALF)
        held = min(max(v, -GELU_SLOPE_CLIP), GELU_SLOPE_CLIP)
        slope = 0.5 * (e if v < 0 else 2.0 - e) + held * _exp(-0.5 * v * v) * _INV_SQRT_2PI
        out[i] = np.float64(g[i]) * (slope if v == v else v)


def _exp_family(exp):
    """The loops of sigmoid and GELU's tanh form (and its gradient) over ``exp``: ours for
    float32 elements, libm's (float64's own precision) for float64 ones."""
    @numba.njit(inline="always")
    def gelu_tanh_s(v):
        """1 / (1 + exp(-2u)), u = c (v + a v^3) (ember.ops.activation.GeluTanh)."""
        return 1.0 / (1.0 + exp(-2.0 * GELU_C * (v + GELU_A * v * v * v)))

    @numba.njit(nogil=True, error_model="numpy")
    def sigmoid(x, out):
        for i in range(x.size):
            v = np.float64(x[i])
            e = exp(-abs(v))
            out[i] = (1.0 if v >= 0 else e) / (1.0 + e)

    @numba.njit(nogil=True, error_model="numpy")
    def gelu_tanh(x, out):
        for i in range(x.size):
            v = np.float64(x[i])
            out[i] = v * gelu_tanh_s(v)

    @numba.njit(nogil=True, error_model="numpy")
    def gelu_tanh_grad(g, x, out):
        for i in range(x.size):
            v = np.float64(x[i])
            s = gelu_tanh_s(v)
            held = min(max(v, -GELU_CLIP), GELU_CLIP)
            du = 2.0 * GELU_C * (1.0 + 3.0 * GELU_A * held * held)
            out[i] = np.float64(g[i]) * (s + held * du * s * (1.0 - s))
    return {"sigmoid": sigmoid, "gelu_tanh": gelu_tanh, "gelu_tanh_grad": gelu_tanh_grad}


@numba.njit(inline="always")
def _libm_exp(a):
    return math.exp(a)


_FAMILY = {np.dtype(np.float32): _exp_family(_exp_or_inf),
           np.dtype(np.float64): _exp_family(_libm_exp)}


@numba.njit(nogil=True, error_model="numpy")
def _erf_loop64(x, out):
    for i in range(x.size):
        out[i] = math.erf(x[i])


@numba.njit(nogil=True, error_model="numpy")
def _gelu_loop64(x, out):
    for i in range(x.size):
        out[i] = 0.5 * x[i] * math.erfc(-x[i] * _SQRT_HALF)


@numba.njit(nogil=True, error_model="numpy")
def _gelu_grad_loop64(g, x, out):
    for i in range(x.size):
        v = x[i]
        held = min(max(v, -GELU_SLOPE_CLIP), GELU_SLOPE_CLIP)
        out[i] = g[i] * (0.5 * math.erfc(-v * _SQRT_HALF)
                         + held * math.exp(-0.5 * v * v) * _INV_SQRT_2PI)


def _apply(loop, *arrays):
    """loop(*flat inputs, flat output) over ``arrays`` (float32 or float64, one shape)."""
    flat = [np.ascontiguousarray(a).reshape(-1) for a in arrays]
    out = np.empty_like(flat[-1])
    threads.over_rows(lambda a, b: loop(*(f[a:b] for f in flat), out[a:b]), out.size, out.size)
    return out.reshape(arrays[-1].shape)


@numba.njit(nogil=True, error_model="numpy")
def _hard_loop(x, out, swish, three, six, low, zero):
    """hardswish (max(x, -3) gate / 6) or hardsigmoid (gate / 6), gate = min(max(x + 3,
    0), 6), each step in x's dtype as the composed op rounds it; NaN stays NaN (the
    comparisons with it are false)."""
    for i in range(x.size):
        v = x[i]
        gate = v + three
        gate = zero if gate < zero else gate
        gate = six if gate > six else gate
        if swish:
            out[i] = ((low if v < low else v) * gate) / six
        else:
            out[i] = gate / six


def hard(x, swish):
    """hardswish or hardsigmoid in one pass: float32 and float64 by _hard_loop, over a
    dense array in its own memory order (a convolution's output is a permuted view: no
    copy); other dtypes as the composed op's NumPy calls."""
    k = x.dtype.type
    if x.dtype not in (np.float32, np.float64):
        gate = np.minimum(np.maximum(x + k(3), k(0)), k(6))
        return (np.maximum(x, k(-3)) * gate if swish else gate) / k(6)
    out = np.empty_like(x)             # x's strides where x is dense in some axis order
    if out.strides == x.strides and x.size:      # both flat in that order, as views
        flat, into = x.ravel(order="K"), out.ravel(order="K")
    else:
        flat, out = np.ascontiguousarray(x).reshape(-1), np.empty(x.shape, x.dtype)
        into = out.reshape(-1)
    threads.over_rows(lambda a, b: _hard_loop(flat[a:b], into[a:b], swish, k(3), k(6),
                                              k(-3), k(0)), into.size, into.size)
    return out


def erf(x):
    return _apply(_erf_loop if x.dtype == np.float32 else _erf_loop64, x)


def gelu(x):
    return _apply(_gelu_loop if x.dtype == np.float32 else _gelu_loop64, x)


def gelu_grad(g, x):
    loop = _gelu_grad_loop if x.dtype == np.float32 else _gelu_grad_loop64
    return _apply(loop, np.broadcast_to(g, x.shape), x)



def sigmoid(x):
    return _apply(_FAMILY[x.dtype]["sigmoid"], x)


def gelu_tanh(x):
    return _apply(_FAMILY[x.dtype]["gelu_tanh"], x)


def gelu_tanh_grad(g, x):
    return _apply(_FAMILY[x.dtype]["gelu_tanh_grad"], np.broadcast_to(g, x.shape), x)
