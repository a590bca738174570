"""3x3 convolutions at stride 1 by Winograd's F(2x2, 3x3) (Lavin and Gray, 2016): each
2x2 block of outputs from a 4x4 tile of inputs with 16 multiplications where the
direct sum takes 36. The tiles' transforms (B^T d B), the weights' (G g G^T) and the
outputs' (A^T m A) are Numba loops; the products summed over the input channels are
16 GEMMs, (O, C) @ (C, tiles), 2.25 times fewer flops than im2col's one GEMM and no
window copy nine times the input's size.

The tiles go in chunks of about CHUNK_BYTES of transformed inputs, a chunk per core at
a time, each transformed, multiplied and transformed back while it is in the cache:
as three passes over whole arrays (each of ResNet-18's first layers' 100 MB, new
pages every call) the same convolutions took twice as long.

The transforms add and subtract with coefficients 0, +-1 and +-1/2: each output is
within a few roundings of the direct sum (tests/test_winograd.py). Where a transform
would meet an infinity or a NaN (inf - inf), or an output overflows, the convolution
runs directly instead, so the non-finite cases give the direct sum's values."""

import functools
import threading

import numba
import numpy as np

from . import threads

#: the fewest outputs per channel (N OH OW) that pay for the transforms: below them the
#: weights' transform costs more than it saves (ResNet-18's 512 channels of 7 x 7 at
#: batch 1: 3.3 ms, im2col's 1.1). (conv2d sends 16 channels or more in and out.)
MIN_OUTPUTS = 1024
#: a chunk's transformed inputs, about, and the fewest tiles it has (the GEMMs' columns)
CHUNK_BYTES, MIN_COLUMNS = 1 << 21, 256


@numba.njit(nogil=True, error_model="numpy")
def _input_tiles(x, v, ph, pw, th, tw, r0, r1):
    """v[4 i + j, c, (r - r0) tw + tx] = (B^T d B)[i, j] of the 4x4 tile d at rows
    2 ty - ph.., columns 2 tx - pw.. of x[n, c] (zeros outside), for the tile rows
    r = n th + ty in [r0, r1)."""
    _, c_, h, w = x.shape
    width = 2 * tw + 2
    rows = np.zeros((4, width), v.dtype)
    e = np.empty((4, width), v.dtype)
    for c in range(c_):
        for r in range(r0, r1):
            n, ty = r // th, r % th
            for i in range(4):
                y = 2 * ty - ph + i
                for j in range(width):
                    xx = j - pw
                    rows[i, j] = x[n, c, y, xx] if 0 <= y < h and 0 <= xx < w else 0
            for j in range(width):          # B^T d: the rows' combinations
                e[0, j] = rows[0, j] - rows[2, j]
                e[1, j] = rows[1, j] + rows[2, j]
                e[2, j] = rows[2, j] - rows[1, j]
                e[3, j] = rows[1, j] - rows[3, j]
            base = (r - r0) * tw
            for i in range(4):              # (B^T d) B: the columns'
                for tx in range(tw):
                    j = 2 * tx
                    v[4 * i, c, base + tx] = e[i, j] - e[i, j + 2]
                    v[4 * i + 1, c, base + tx] = e[i, j + 1] + e[i, j + 2]
                    v[4 * i + 2, c, base + tx] = e[i, j + 2] - e[i, j + 1]
                    v[4 * i + 3, c, base + tx] = e[i, j + 1] - e[i, j + 3]


@numba.njit(nogil=True, inline="always")
def _times_g(a, b, c):
    """(a, b, c) times G^T, G = [[1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]]."""
    return a, (a + b + c) * 0.5, (a - b + c) * 0.5, c


@numba.njit(nogil=True, error_model="numpy")
def _weight_tiles(w, u):
    """u[4 i + j, o, c] = (G g G^T)[i, j] of the 3x3 kernel g = w[o, c], in float64."""
    o_, c_ = w.shape[:2]
    for o in range(o_):
        for c in range(c_):
            g = w[o, c]
            # G g, column by column
            a0, a1, a2, a3 = _times_g(np.float64(g[0, 0]), np.float64(g[1, 0]), np.float64(g[2, 0]))
            b0, b1, b2, b3 = _times_g(np.float64(g[0, 1]), np.float64(g[1, 1]), np.float64(g[2, 1]))
            d0, d1, d2, d3 = _times_g(np.float64(g[0, 2]), np.float64(g[1, 2]), np.float64(g[2, 2]))
            # (G g) G^T, row by row
            u[0, o, c], u[1, o, c], u[2, o, c], u[3, o, c] = _times_g(a0, b0, d0)
            u[4, o, c], u[5, o, c], u[6, o, c], u[7, o, c] = _times_g(a1, b1, d1)
            u[8, o, c], u[9, o, c], u[10, o, c], u[11, o, c] = _times_g(a2, b2, d2)
            u[12, o, c], u[13, o, c], u[14, o, c], u[15, o, c] = _times_g(a3, b3, d3)


@numba.njit(nogil=True, error_model="numpy")
def _output_tiles(m, b, out, th, tw, r0, r1):
    """out[o, n] from A^T m A of each tile's 16 products plus b[o], for the tile rows
    r = n th + ty in [r0, r1); False where an output is not finite."""
    o_, _, oh, ow = out.shape
    finite = True
    for o in range(o_):
        bias = b[o]
        for r in range(r0, r1):
            n, ty = r // th, r % th
            base, y = (r - r0) * tw, 2 * ty
            for tx in range(tw):
                t, xx = base + tx, 2 * tx
                # A^T m: rows 0 + 1 + 2 and 1 - 2 - 3, per column
                s0 = m[0, o, t] + m[4, o, t] + m[8, o, t]
                s1 = m[1, o, t] + m[5, o, t] + m[9, o, t]
                s2 = m[2, o, t] + m[6, o, t] + m[10, o, t]
                s3 = m[3, o, t] + m[7, o, t] + m[11, o, t]
                d0 = m[4, o, t] - m[8, o, t] - m[12, o, t]
                d1 = m[5, o, t] - m[9, o, t] - m[13, o, t]
                d2 = m[6, o, t] - m[10, o, t] - m[14, o, t]
                d3 = m[7, o, t] - m[11, o, t] - m[15, o, t]
                # the bias in x's dtype: float32 sums stay float32, as does the check
                r00, r01 = s0 + s1 + s2 + bias, s1 - s2 - s3 + bias
                r10, r11 = d0 + d1 + d2 + bias, d1 - d2 - d3 + bias
                finite &= np.isfinite(r00 + r01 + r10 + r11)
                out[o, n, y, xx] = r00
                if xx + 1 < ow:
                    out[o, n, y, xx + 1] = r01
                if y + 1 < oh:
                    out[o, n, y + 1, xx] = r10
                    if xx + 1 < ow:
                        out[o, n, y + 1, xx + 1] = r11
    return finite


@numba.njit(nogil=True, error_model="numpy")
def _epilogue(out, r, low, th, r0, r1):
    """The outputs of the tile rows [r0, r1) plus r[n, o, y, x] (where r has values),
    then held to at least ``low`` (0: a relu; -inf: none) as NumPy's maximum holds
    them (NaN stays NaN): while the output transform's values are in the cache."""
    o_, _, oh, ow = out.shape
    has_r = r.size > 0
    for o in range(o_):
        for row in range(r0, r1):
            n, y0 = row // th, 2 * (row % th)
            for y in range(y0, min(y0 + 2, oh)):
                for x in range(ow):
                    v = out[o, n, y, x]
                    if has_r:
                        v += r[n, o, y, x]
                    out[o, n, y, x] = v if v > low or v != v else low


_workspace = threading.local()


def _buffer(name, size, dtype):
    """A flat buffer of at least ``size`` elements, this thread's own, kept between
    calls: new pages cost more than the work of a small convolution (ResNet-18's first
    3x3 one at batch 1: 2.7 ms with two new 2 MB buffers, 0.9 with these)."""
    buf = getattr(_workspace, name, None)
    if buf is None or buf.dtype != dtype or buf.size < size:
        buf = np.empty(size, dtype)
        setattr(_workspace, name, buf)
    return buf


def _chunks(x, u, b, r, low, out, padding, th, tw, chunks):
    """Each (r0, r1) of ``chunks`` transformed, multiplied and written to ``out`` with
    the bias b, residual r and relu (_output_tiles, _epilogue), in this thread's kept
    buffers; False where an output is not finite."""
    (ph, pw), (c, o) = padding, (x.shape[1], u.shape[1])
    size = max(r1 - r0 for r0, r1 in chunks) * tw * 16
    vs, ms = _buffer("v", size * c, x.dtype), _buffer("m", size * o, x.dtype)
    finite = True
    for r0, r1 in chunks:
        k = (r1 - r0) * tw        # contiguous for NumPy's matmul (a strided out: 8x slower)
        v, m = vs[:16 * c * k].reshape(16, c, k), ms[:16 * o * k].reshape(16, o, k)
        _input_tiles(x, v, ph, pw, th, tw, r0, r1)
        np.matmul(u, v, out=m)
        finite &= _output_tiles(m, b, out, th, tw, r0, r1)
        if r.size or low == 0:
            _epilogue(out, r, low, th, r0, r1)
    return finite


def conv3x3(x, w, b, padding, residual, relu, direct):
    """The (N, O, OH, OW) convolution of NCHW ``x`` with (O, C, 3, 3) ``w`` at stride
    1, padded by ``padding`` = (ph, pw) zeros, plus the (O,) bias ``b``, plus the
    (N, O, OH, OW) ``residual``, then max(., 0) where ``relu`` (None, None, False:
    none), as a view of (O, N, OH, OW) memory; or what ``direct()`` returns, which
    computes it without Winograd (small outputs, non-finite values)."""
    n, c, h, wd = x.shape
    o = w.shape[0]
    oh, ow = h + 2 * padding[0] - 2, wd + 2 * padding[1] - 2
    if n * oh * ow < MIN_OUTPUTS:
        return direct()
    th, tw = (oh + 1) // 2, (ow + 1) // 2
    # a row more than it needs: with the 16 tiles' matrices a power of two of bytes
    # apart, _weight_tiles's 16 streams of writes meet in the cache (512 x 512: 8.7 ms,
    # 2.1 with the row)
    u = np.empty((16, o + 1, c), x.dtype)[:, :o]
    _weight_tiles(w, u)
    out = np.empty((o, n, oh, ow), x.dtype)
    b = np.full(o, -0.0, x.dtype) if b is None else b    # x + -0.0 is x, -0.0 too
    r = np.empty((0, 0, 0, 0), x.dtype) if residual is None else residual
    low = x.dtype.type(0 if relu else -np.inf)
    # tile rows a chunk, at least MIN_COLUMNS tiles (each GEMM's columns)
    per = max(-(-MIN_COLUMNS // tw), CHUNK_BYTES // (16 * max(c, o) * tw * x.itemsize))
    chunks = [(r, min(r + per, n * th)) for r in range(0, n * th, per)]
    # a share of the chunks per core, BLAS on one thread (the chunks' GEMMs are small)
    cores = min(threads.blas_pieces(), len(chunks))
    finite = [None] * cores

    def share(i):
        finite[i] = _chunks(x, u, b, r, low, out, padding, th, tw, chunks[i::cores])
    threads.run([functools.partial(share, i) for i in range(cores)])
    if not all(finite):
        return direct()
    return out.transpose(1, 0, 2, 3)
