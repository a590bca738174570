"""Loops that NumPy has no single call for, compiled by Numba: max pooling that also
records each window's winner, and its adjoint. Built from NumPy calls, a pool reads
every window through strided views several times and its backward makes masked
writes (1.9 ms and 0.5 ms for the benchmark CNN's pool, against 0.2 ms each here).
Layer norm's standardize over the last axis of float32 rows, and its gradient, in
float64 within each row (0.38 -> 0.1 ms and 0.34 -> 0.08 ms on a GPT's 2048 rows of 128).
Depthwise convolutions, each plane's windows summed in place, where im2col copies kh kw
times the input: the plane split into its stride's phases, each kernel offset one loop
over the whole plane (MobileNetV3-small's eleven at batch 32: 46 -> 16 ms).
The gradient of a gather of rows (an embedding's, index_select's): each row added into
its place in one loop, where np.add.at dispatches per element (1.03 -> 0.25 s for
400,000 rows of 256 floats; PyTorch 0.22 s).

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
    pool = _pool_loop(kh, kw, sh, sw, dh, dw)
    threads.over_rows(lambda a, b: pool(planes[a:b], out[a:b], index[a:b]), n * c, planes.size)
    return (_unplane(out, order, (n, c, oh, ow), x.dtype),
            _unplane(index, order, (n, c, oh, ow), np.int32))


def max_unpool2d(g, index, kernel, stride, dilation, shape):
    (_, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    order = _plane_order(index)
    planes = _planes(g, order)
    out = np.zeros((shape[0] * shape[1],) + tuple(shape[2:]), dtype=planes.dtype)
    unpool, index = _unpool_loop(kw, sh, sw, dh, dw), _planes(index, order)
    threads.over_rows(lambda a, b: unpool(planes[a:b], index[a:b], out[a:b]), len(out), out.size)
    return _unplane(out, order, shape, g.dtype)


@numba.njit(nogil=True, error_model="numpy")
def _depthwise_planes(x, w, b, out, stride, padding, dilation, p0, p1):
    """out[n, c] = the 2-D convolution of x[n, c] with w[c, 0], plus b[c] where b has C
    values (none where it is empty), for the planes n C + c in [p0, p1).

    Each plane is copied once into zeros (the padding), split by stride into its s_h s_w
    phases (rows y = a mod s_h, columns x = b mod s_w), each phase a flat array. Then for
    each kernel offset every output takes its product at once: the offset's phase read
    from one start to the end, a row of the phase per output row, the columns past the
    output's width computed and dropped. One loop over the whole plane vectorizes where a
    loop over each 7 to 28 wide output row did not (MobileNet's 5x5 on 14x14: 4x as
    fast); each output sums the same products in the same order as the direct sum."""
    _, c_, h, wd = x.shape
    _, _, oh, ow = out.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    # sizes in signed integers, then unsigned (U - 1 is a float64 in Numba: 5x slower)
    hq, wq = U((h + 2 * ph + sh - 1) // sh), U((wd + 2 * pw + sw - 1) // sw)
    size = hq * wq + U((w.shape[3] - 1) * dw // sw + 1)
    span, one = U(oh) * wq, U(1)
    kh, kw, sh, sw, dh, dw, ph, pw = (U(w.shape[2]), U(w.shape[3]), U(sh), U(sw), U(dh),
                                      U(dw), U(ph), U(pw))
    phases = np.zeros(sh * sw * size, out.dtype)     # phase (a, b) at (a s_w + b) size
    acc = np.empty(span, out.dtype)
    for plane in range(p0, p1):
        n, c = plane // c_, plane % c_
        for i in range(U(h)):
            y = i + ph
            src, at = x[n, c, i], (y % sh) * sw * size + (y // sh) * wq
            for col in range(sw):           # the row's columns x = col mod s_w, in order
                first = (col + sw - pw % sw) % sw
                start = at + col * size + (first + pw) // sw
                count = (U(wd) + sw - one - first) // sw if first < U(wd) else U(0)
                for k in range(count):
                    phases[start + k] = src[first + k * sw]
        acc[:] = 0
        for p in range(kh):
            for q in range(kw):
                k, y, xx = w[c, 0, p, q], p * dh, q * dw
                at = ((y % sh) * sw + xx % sw) * size + (y // sh) * wq + xx // sw
                for t in range(span):
                    acc[t] += k * phases[at + t]
        for i in range(U(oh)):
            row = out[n, c, i]
            if b.size:
                for j in range(U(ow)):
                    row[j] = acc[i * wq + j] + b[c]
            else:
                for j in range(U(ow)):
                    row[j] = acc[i * wq + j]


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


@numba.njit(nogil=True)
def _add_rows(out, index, src, start, stop):
    """out[index[i], start:stop] += src[i, start:stop] for every i, in order."""
    for i in range(src.shape[0]):
        r = index[i]
        for j in range(start, stop):
            out[r, j] += src[i, j]


#: the dtypes _add_rows is compiled for (Numba has no 16-bit floats)
ROW_ADD_DTYPES = frozenset(np.dtype(t) for t in (np.float32, np.float64, np.complex64,
                                                 np.complex128, np.int32, np.int64))


def add_rows(out, index, src):
    """np.add.at(out, index, src) for a 1-D ``index`` into out's first axis, as one loop
    over the rows (np.add.at's per-element dispatch took 0.95 s for 400,000 rows of 256
    floats, this 0.1 s), the columns split over the cores where the work is large."""
    out2, src2 = out.reshape(out.shape[0], -1), np.ascontiguousarray(src).reshape(len(index), -1)
    index = np.ascontiguousarray(index, dtype=np.int64)
    columns = out2.shape[1]
    threads.over_rows(lambda a, b: _add_rows(out2, index, src2, a, b), columns, src2.size)
    return out
