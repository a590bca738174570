"""Loops that NumPy has no single call for, compiled by Numba: max pooling that also
records each window's winner, and its adjoint. Built from NumPy calls, a pool reads
every window through strided views several times and its backward makes masked
writes (1.9 ms and 0.5 ms for the benchmark CNN's pool, against 0.2 ms each here).
Layer norm's standardize over the last axis of float32 rows, and its gradient, in
float64 within each row (0.38 -> 0.1 ms and 0.34 -> 0.08 ms on a GPT's 2048 rows of 128).
Depthwise convolutions, each plane's windows summed in place, where im2col copies kh kw
times the input.

Each pooling loop is compiled per window geometry, on first use in a process (about 0.5 s):
with the window's size, stride and dilation as constants Numba unrolls the window,
four times faster than a loop over sizes it only knows at run time. The loops run
over (planes, rows, columns) arrays in the planes' memory order, and index with
unsigned integers (signed ones make Numba check every index for wrap-around)."""

import functools

import numba
import numpy as np
from numba import uint64 as U

from ember.shapes import windows_out

from . import threads
from .backend import HALF


@functools.lru_cache(maxsize=64)
def _pool_loop(kh, kw, sh, sw, dh, dw):
    kh, kw, sh, sw, dh, dw = (U(v) for v in (kh, kw, sh, sw, dh, dw))

    @numba.njit(nogil=True)
    def pool(x, out, index):
        planes, oh, ow = out.shape
        for a in range(U(planes)):
            for i in range(U(oh)):
                nan = False
                for j in range(U(ow)):
                    best, k = x[a, i * sh, j * sw], U(0)
                    for p in range(kh):
                        for q in range(kw):
                            v = x[a, i * sh + p * dh, j * sw + q * dw]
                            better = v > best              # the first largest wins
                            best = v if better else best
                            k = p * kw + q if better else k
                            nan |= v != v
                    out[a, i, j] = best
                    index[a, i, j] = k
                if nan:            # rare: the row again, and a window's first NaN wins
                    for j in range(U(ow)):
                        found = False
                        for p in range(kh):
                            for q in range(kw):
                                v = x[a, i * sh + p * dh, j * sw + q * dw]
                                if v != v and not found:
                                    out[a, i, j], index[a, i, j], found = v, p * kw + q, True
    return pool


@functools.lru_cache(maxsize=64)
def _unpool_loop(kw, sh, sw, dh, dw):
    kw, sh, sw, dh, dw = (U(v) for v in (kw, sh, sw, dh, dw))

    @numba.njit(nogil=True)
    def unpool(g, index, out):
        planes, oh, ow = g.shape
        for a in range(U(planes)):
            for i in range(U(oh)):
                for j in range(U(ow)):
                    k = U(index[a, i, j])
                    p = k // kw
                    out[a, i * sh + p * dh, j * sw + (k - p * kw) * dw] += g[a, i, j]
    return unpool


def _plane_order(like):
    """(0, 1) when ``like``'s (N, C, H, W) lies in memory as NCHW, (1, 0) as CNHW (a
    conv's output, a view of its GEMM's rows)."""
    return (1, 0) if like.strides[1] > like.strides[0] else (0, 1)


def _planes(a, order):
    """``a`` as contiguous (planes, H, W), planes in ``order``: a view where the memory
    allows. float16 and bfloat16 come as float32 (Numba has no 16-bit float arithmetic;
    the max and the placement are exact there)."""
    t = np.ascontiguousarray(a.transpose(order + (2, 3)),
                             dtype=np.float32 if a.dtype in HALF else a.dtype)
    return t.reshape(a.shape[0] * a.shape[1], *a.shape[2:])


def _unplane(a, order, shape, dtype):
    """(planes, H, W) back to NCHW ``shape``, a view in the planes' memory order."""
    ordered = tuple(shape[k] for k in order) + tuple(shape[2:])
    return a.reshape(ordered).transpose(order + (2, 3)).astype(dtype, copy=False)


def max_pool2d(x, kernel, stride, dilation):
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    n, c = x.shape[:2]
    oh, ow = windows_out(x.shape[2:], kernel, stride, dilation)
    order = _plane_order(x)
    planes = _planes(x, order)
    out = np.empty((n * c, oh, ow), dtype=planes.dtype)
    index = np.empty((n * c, oh, ow), dtype=np.int32)
    _pool_loop(kh, kw, sh, sw, dh, dw)(planes, out, index)
    return (_unplane(out, order, (n, c, oh, ow), x.dtype),
            _unplane(index, order, (n, c, oh, ow), np.int32))


def max_unpool2d(g, index, kernel, stride, dilation, shape):
    (_, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    order = _plane_order(index)
    planes = _planes(g, order)
    out = np.zeros((shape[0] * shape[1],) + tuple(shape[2:]), dtype=planes.dtype)
    _unpool_loop(kw, sh, sw, dh, dw)(planes, _planes(index, order), out)
    return _unplane(out, order, shape, g.dtype)


@numba.njit(nogil=True, error_model="numpy")
def _depthwise_planes(x, w, b, out, stride, padding, dilation, p0, p1):
    """out[n, c] = the 2-D convolution of x[n, c] with w[c, 0], plus b[c] where b has C
    values (none where it is empty), for the planes n C + c in [p0, p1): each plane
    copied once into zeros (the padding), then each output row summed kernel offset by
    kernel offset along the row (unsigned indices: LLVM vectorizes the row at stride 1,
    1.9 -> 4.8 GMAC/s on one core for 28-wide rows)."""
    _, c_, h, wd = x.shape
    _, _, oh, ow = out.shape
    kh, kw = U(w.shape[2]), U(w.shape[3])
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    sh, sw, dh, dw = U(sh), U(sw), U(dh), U(dw)
    buf = np.zeros((h + 2 * ph, wd + 2 * pw), out.dtype)
    acc = np.empty(ow, out.dtype)
    for plane in range(p0, p1):
        n, c = plane // c_, plane % c_
        buf[ph:ph + h, pw:pw + wd] = x[n, c]
        for i in range(U(oh)):
            acc[:] = 0
            for p in range(kh):
                row = buf[i * sh + p * dh]
                for q in range(kw):
                    k, at = w[c, 0, p, q], q * dw
                    if sw == 1:
                        for j in range(U(ow)):
                            acc[j] += k * row[at + j]
                    else:
                        for j in range(U(ow)):
                            acc[j] += k * row[at + j * sw]
            if b.size:
                acc += b[c]
            out[n, c, i] = acc


def depthwise_conv2d(x, w, b, stride, padding, dilation):
    """The convolution of NCHW x with (C, 1, kh, kw) w, one group per channel, zero
    ``padding`` (ph, pw) around x, plus the (C,) bias b (None: none): MobileNet's, whose
    im2col windows cost more to copy than the products (MobileNetV3-small at batch 32:
    most of its time)."""
    n, c = x.shape[:2]
    (ph, pw), kernel = padding, w.shape[2:]
    oh, ow = windows_out((x.shape[2] + 2 * ph, x.shape[3] + 2 * pw), kernel, stride, dilation)
    out = np.empty((n, c, oh, ow), x.dtype)
    b = np.empty(0, x.dtype) if b is None else b
    threads.over_rows(lambda p0, p1: _depthwise_planes(x, w, b, out, stride, padding, dilation,
                                                       p0, p1),
                      n * c, out.size * kernel[0] * kernel[1])
    return out


# Each row's sums in float64, where no float32 deviation's square overflows or underflows
# (no scaling pass) and the mean's rounding is far below float32's; reassociating the
# sums lets LLVM vectorize them.
@numba.njit(nogil=True, fastmath={"reassoc"}, error_model="numpy")
def _standardize_rows(x, y, rstd, eps):
    rows, n = x.shape
    for r in range(rows):
        total = 0.0
        for j in range(n):
            total += np.float64(x[r, j])
        mean = total / n
        var = 0.0
        for j in range(n):
            d = np.float64(x[r, j]) - mean
            var += d * d
        k = 1.0 / np.sqrt(var / n + eps)
        rstd[r] = k
        for j in range(n):
            y[r, j] = (np.float64(x[r, j]) - mean) * k


@numba.njit(nogil=True, fastmath={"reassoc"}, error_model="numpy")
def _standardize_rows_grad(g, y, rstd, dx):
    rows, n = g.shape
    for r in range(rows):
        sg, sgy = 0.0, 0.0
        for j in range(n):
            sg += np.float64(g[r, j])
            sgy += np.float64(g[r, j]) * np.float64(y[r, j])
        mg, mgy, k = sg / n, sgy / n, np.float64(rstd[r])
        for j in range(n):
            dx[r, j] = (np.float64(g[r, j]) - mg - np.float64(y[r, j]) * mgy) * k


def standardize_rows(x, eps):
    """(y, rstd) of Standardize over the last axis of float32 ``x``."""
    x2 = np.ascontiguousarray(x).reshape(-1, x.shape[-1])
    y, rstd = np.empty_like(x2), np.empty(x2.shape[0], x2.dtype)
    threads.over_rows(lambda a, b: _standardize_rows(x2[a:b], y[a:b], rstd[a:b], eps),
                      x2.shape[0], x2.size)
    return y.reshape(x.shape), rstd.reshape(x.shape[:-1] + (1,))


def standardize_rows_grad(g, y, rstd):
    g2 = np.ascontiguousarray(g).reshape(-1, g.shape[-1])
    y2, r = np.ascontiguousarray(y).reshape(g2.shape), np.ascontiguousarray(rstd).reshape(-1)
    dx = np.empty_like(g2)
    threads.over_rows(lambda a, b: _standardize_rows_grad(g2[a:b], y2[a:b], r[a:b], dx[a:b]),
                      g2.shape[0], g2.size)
    return dx.reshape(g.shape)
