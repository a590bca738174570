"""Loops that NumPy has no single call for, compiled by Numba: max pooling that also
records each window's winner, and its adjoint. Built from NumPy calls, a pool reads
every window through strided views several times and its backward makes masked
writes (1.9 ms and 0.5 ms for the benchmark CNN's pool, against 0.2 ms each here).

Each loop is compiled per window geometry, on first use in a process (about 0.5 s):
with the window's size, stride and dilation as constants Numba unrolls the window,
four times faster than a loop over sizes it only knows at run time. The loops run
over (planes, rows, columns) arrays in the planes' memory order, and index with
unsigned integers (signed ones make Numba check every index for wrap-around)."""

import functools

import numba
import numpy as np
from numba import uint64 as U

from ember.shapes import windows_out

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
