"""A convolution of one group as a GEMM per few images, (O, C*kh*kw) @ (C*kh*kw, OH*OW),
over windows copied into one buffer that each core reuses, each product written into
the NCHW output with its bias, residual and relu while it is in the cache.

im2col's single GEMM over the whole batch copies the windows of every image first:
ResNet-18's 7x7 stem at batch 32 makes a 236 MB buffer of new pages each call, and a
(O, N, OH, OW) output that the next op reads across. Here the buffer is a few MB, the
output NCHW, and each core takes a share of the images with BLAS on one thread (the
stem and its output's first touch: 115-195 -> 78 ms). Where the images' outputs are small, a GEMM takes several images
so that it keeps COLUMNS columns or more."""

import functools

import numpy as np
from ember.shapes import windows_out

from . import threads

#: the fewest columns (images x OH x OW) a GEMM takes: below them BLAS slows (ResNet's
#: 512 channels of 7 x 7, one image a GEMM: 23% slower than all 32 in one)
COLUMNS = 1024


def conv2d(x, w, b, stride, padding, dilation, residual, relu):
    """The (N, O, OH, OW) convolution of NCHW ``x`` with (O, C, kh, kw) ``w``, (ph, pw)
    zeros around x, plus the (O,) bias ``b``, plus the NCHW ``residual``, then max(., 0)
    where ``relu`` (None, None, False: none): each step rounded as the separate ops
    round it."""
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    ph, pw = padding
    oh, ow = windows_out((h + 2 * ph, wd + 2 * pw), (kh, kw), stride, dilation)
    out = np.empty((n, o, oh, ow), x.dtype)
    per = max(1, COLUMNS // max(1, oh * ow))
    chunks = [(i, min(i + per, n)) for i in range(0, n, per)]
    cores = max(1, min(threads.blas_pieces(), len(chunks)))
    geometry = (kh, kw, stride, padding, dilation, oh, ow)
    weights = np.ascontiguousarray(w.reshape(o, c * kh * kw))

    def share(i):
        windows = _Windows(x, geometry)
        for lo, hi in chunks[i::cores]:
            _chunk(windows(lo, hi), weights, b, None if residual is None else residual[lo:hi],
                   relu, out[lo:hi])
    if cores > 1:
        threads.run([functools.partial(share, i) for i in range(cores)])
    else:
        share(0)
    return out


class _Windows:
    """windows(lo, hi): the (C*kh*kw, (hi - lo) OH OW) windows of images lo..hi of x, in
    a buffer of this object's (its padded images' too: their borders stay zero), or a
    view of x where a 1x1 kernel at stride 1 needs no copy."""

    def __init__(self, x, geometry):
        self.x, self.geometry, self.buffers = x, geometry, {}

    def __call__(self, lo, hi):
        x, (kh, kw, (sh, sw), (ph, pw), (dh, dw), oh, ow) = self.x, self.geometry
        c, h, wd = x.shape[1:]
        g = hi - lo
        if (kh, kw, sh, sw, ph, pw, g) == (1, 1, 1, 1, 0, 0, 1):
            return x[lo].reshape(c, h * wd)     # a view where x's rows are contiguous
        if g not in self.buffers:        # zero borders only where there is padding
            self.buffers[g] = (np.zeros((g, c, h + 2 * ph, wd + 2 * pw), x.dtype)
                               if ph or pw else None, np.empty((c, kh, kw, g, oh, ow), x.dtype))
        padded, cols = self.buffers[g]
        if padded is None:
            padded = x[lo:hi]
        else:
            padded[:, :, ph:ph + h, pw:pw + wd] = x[lo:hi]
        s = padded.strides
        _copy(cols, np.lib.stride_tricks.as_strided(
            padded, cols.shape, (s[1], s[2] * dh, s[3] * dw, s[0], s[2] * sh, s[3] * sw)))
        return cols.reshape(c * kh * kw, g * oh * ow)


def _copy(out, view):
    """out[...] = view, cut over the cores where it is large and none is cut yet."""
    if out.size < threads.MIN_ELEMENTS:
        np.copyto(out, view)
    else:
        threads.into(out, lambda index: np.copyto(out[index], view[index]))


def _chunk(cols, weights, b, residual, relu, out):
    """out (g, O, OH, OW) = weights @ cols, plus b, plus the residual, then the relu."""
    g, o = out.shape[:2]
    if g == 1:
        np.matmul(weights, cols, out=out.reshape(o, -1))
    else:
        out[...] = np.matmul(weights, cols).reshape((o, g) + out.shape[2:]).transpose(1, 0, 2, 3)
    if b is not None:
        out += b[:, None, None]
    if residual is not None:
        out += residual
    if relu:
        np.maximum(out, 0, out=out)
