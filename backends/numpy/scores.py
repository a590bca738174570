"""Exponentials of attention's float32 score blocks, compiled by Numba: exp(s - top) in
place with each query's sum in one pass, and exp in place for the backward's
recomputed probabilities. The blocks are keys x queries (the numpy backend's
_attention_scores says why), so a query is a column.

From NumPy calls the forward's softmax takes three passes over each block (subtract,
exp, sum: 220 us on 2048 x 128 scores), and NumPy's exp is a call LLVM cannot fuse with
them. Here exp is float32 arithmetic that LLVM widens to the vector lanes, within 1 ULP,
and the pass takes 105 us (exp alone: 110 -> 70 us). Each column's sum accumulates in
float32 over 64 rows at a time (one vector lane per column), then in float64.
"""

import math

import numba
import numpy as np

from .special import float_of_bits

_LOG2E = np.float32(1.4426950408889634)
#: ln 2 in two parts, the first with 8 low bits zero: k ln2_hi is exact for |k| <= 255
_LN2_HI, _LN2_LO = np.float32(0.693145751953125), np.float32(1.4286067653302e-06)
#: 1.5 2^23: adding and subtracting it rounds a float32 to an integer (|x| < 2^22)
_ROUND = np.float32(12582912.0)
#: exp's argument is clamped here first: below, every result rounds to 0; above, to inf
_LOW, _HIGH = np.float32(-104.0), np.float32(89.0)
_C = tuple(np.float32(1.0 / f) for f in (5040, 720, 120, 24, 6, 2, 1, 1))


@numba.njit(inline="always")
def _power_of_two(k):
    """2^k for -75 <= k <= 64, a normal float32."""
    return float_of_bits(np.int32((k + 127) << 23))     # (Numba widens int32 sums)


@numba.njit(inline="always")
def exp32(a):
    """exp(a) of a float32, within 1 ULP: a = k ln2 + r (|r| <= ln2 / 2), exp(r) by its
    Taylor series to r^7, times 2^k in two halves, so that a subnormal result rounds
    once and 2^128 times a fraction below 1 stays finite. -inf gives 0, inf inf, NaN
    NaN."""
    b = min(max(a, _LOW), _HIGH)
    k = (b * _LOG2E + _ROUND) - _ROUND
    r = (b - k * _LN2_HI) - k * _LN2_LO
    p = _C[0] * r + _C[1]      # written out, as special._horner is: a loop over the
    p = p * r + _C[2]          # coefficients kept the column pass from vectorizing (157 us)
    p = p * r + _C[3]
    p = p * r + _C[4]
    p = p * r + _C[5]
    p = p * r + _C[6]
    p = p * r + _C[7]
    half = np.int32(k) >> np.int32(1)
    e = p * _power_of_two(half) * _power_of_two(np.int32(k) - half)
    return e if a == a else a


#: rows of a column's float32 partial sum before it is added to its float64 total
_PARTIAL = 64


@numba.njit(nogil=True, fastmath={"contract"}, error_model="numpy")
def _exp_columns(s, top, totals):
    """s (blocks, n, m), top and totals (blocks, m): the inner loop runs along a row (m
    columns, one vector lane each), each column summed in float32 over _PARTIAL rows,
    then in float64."""
    blocks, n, m = s.shape
    partial = np.zeros(m, np.float32)
    for b in range(blocks):
        total = np.zeros(m, np.float64)
        for j0 in range(0, n, _PARTIAL):
            for j in range(j0, min(n, j0 + _PARTIAL)):
                row, shift = s[b, j], top[b]
                for i in range(m):
                    e = exp32(row[i] - shift[i])
                    row[i] = e
                    partial[i] += e
            for i in range(m):
                total[i] += partial[i]
                partial[i] = 0
        for i in range(m):
            totals[b, i] = total[i]


@numba.njit(nogil=True, fastmath={"reassoc", "contract"}, error_model="numpy")
def _exp_rows(s, top, totals):
    """s (rows, n), top and totals (rows,): each row summed in float32 across the vector
    lanes (reassociated), as PyTorch's fused exp-and-sum."""
    for i in range(s.shape[0]):
        shift, total = top[i], np.float32(0.0)
        for j in range(s.shape[1]):
            e = exp32(s[i, j] - shift)
            s[i, j] = e
            total += e
        totals[i] = total


@numba.njit(nogil=True, fastmath={"contract"}, error_model="numpy")
def _exp_flat(x):
    for i in range(x.size):
        x[i] = exp32(x[i])


def exp_columns(s, top):
    """exp(s - top) in place over float32 ``s`` (..., n, m), C-contiguous or the
    transposed view of a C-contiguous array (``top``: each column's shift, shaped
    (..., 1, m), or None for none); returns each column's sum, shaped (..., 1, m) in
    float32."""
    n, m = s.shape[-2:]
    count = math.prod(s.shape[:-2])
    sums = s.shape[:-2] + (1, m)
    shift = (np.zeros(sums, s.dtype) if top is None
             else np.ascontiguousarray(np.broadcast_to(top, sums), s.dtype))
    totals = np.empty(sums, s.dtype)
    if s.flags.c_contiguous:
        _exp_columns(s.reshape(count, n, m), shift.reshape(count, m), totals.reshape(count, m))
    else:                                           # a view of rows (..., m, n)
        _exp_rows(np.swapaxes(s, -1, -2).reshape(count * m, n), shift.reshape(count * m),
                  totals.reshape(count * m))
    return totals


def exp_in_place(x):
    """exp of float32 ``x``, C-contiguous or the transposed view of such, in place."""
    _exp_flat((x if x.flags.c_contiguous else np.swapaxes(x, -1, -2)).reshape(x.size))
