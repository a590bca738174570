"""Loops that NumPy has no single call for, compiled by Numba: max pooling that also
records each window's winner, and its adjoint. Built from NumPy calls, a pool reads
every window through strided views several times and its backward makes masked
writes (1.9 ms and 0.5 ms for the benchmark CNN's pool, against 0.2 ms each here).

Each loop is compiled per window geometry, on first use in a process (about 0.5 s):
with the window's size, stride and dilation as constants Numba unrolls the window,
four times faster than a loop over sizes it only knows at run time."""

import functools

import numba
import numpy as np


@functools.lru_cache(maxsize=64)
def _pool_loop(kh, kw, sh, sw, dh, dw):
    @numba.njit(nogil=True)
    def pool(x, out, index):
        n, c, oh, ow = out.shape
        for a in range(n):
            for b in range(c):
                for i in range(oh):
                    for j in range(ow):
                        best, k, nan = x[a, b, i * sh, j * sw], 0, False
                        for p in range(kh):
                            for q in range(kw):
                                v = x[a, b, i * sh + p * dh, j * sw + q * dw]
                                better = v > best            # the first largest wins
                                best = v if better else best
                                k = p * kw + q if better else k
                                nan |= v != v
                        if nan:                              # the first NaN wins, as in argmax
                            for p in range(kh - 1, -1, -1):
                                for q in range(kw - 1, -1, -1):
                                    v = x[a, b, i * sh + p * dh, j * sw + q * dw]
                                    if v != v:
                                        best, k = v, p * kw + q
                        out[a, b, i, j] = best
                        index[a, b, i, j] = k
    return pool


@functools.lru_cache(maxsize=64)
def _unpool_loop(kw, sh, sw, dh, dw):
    @numba.njit(nogil=True)
    def unpool(g, index, out):
        n, c, oh, ow = g.shape
        for a in range(n):
            for b in range(c):
                for i in range(oh):
                    for j in range(ow):
                        p = index[a, b, i, j] // kw
                        q = index[a, b, i, j] - p * kw
                        out[a, b, i * sh + p * dh, j * sw + q * dw] += g[a, b, i, j]
    return unpool


def _computable(x):
    """float16 through float32 (Numba has no half-precision arithmetic): max and
    placement are exact there."""
    return x.astype(np.float32) if x.dtype == np.float16 else x


def _empty_in_order_of(like, shape, dtype):
    """An array of ``shape`` whose axes lie in memory in the order of ``like``'s (a conv's
    output is (C, N, H, W) in memory: its pool, the pool's gradient and the ReLU's
    gradient after it then stay so, and the conv's weight gradient needs no copy)."""
    order = sorted(range(len(shape)), key=lambda a: -like.strides[a])
    return np.empty([shape[a] for a in order], dtype=dtype).transpose(np.argsort(order))


def max_pool2d(x, kernel, stride, dilation):
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    n, c, h, w = x.shape
    shape = (n, c, (h - dh * (kh - 1) - 1) // sh + 1, (w - dw * (kw - 1) - 1) // sw + 1)
    work = _computable(x)
    out, index = _empty_in_order_of(x, shape, work.dtype), _empty_in_order_of(x, shape, np.int32)
    _pool_loop(kh, kw, sh, sw, dh, dw)(work, out, index)
    return out.astype(x.dtype, copy=False), index


def max_unpool2d(g, index, kernel, stride, dilation, shape):
    (_, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    work = _computable(g)
    out = _empty_in_order_of(index, shape, work.dtype)
    out.fill(0)
    _unpool_loop(kw, sh, sw, dh, dw)(work, index, out)
    return out.astype(g.dtype, copy=False)
