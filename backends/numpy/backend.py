"""The primitive table written once against an array module ``xp``.

NumPy and CuPy expose the same API, so this class serves both (Chainer's
``xp`` idea): the NumPy backend sets ``xp = numpy``, the CuPy backend
``xp = cupy`` and overrides only transfers and the fast paths it fuses.
"""

import ctypes
import functools
import math
import os
import sys

import numpy

from ember import dtypes as dt
from ember.backend import COMPLEX_PRIMITIVES, FAST_PATHS, PRIMITIVES, Backend
from ember.ops.activation import GELU_A, GELU_C, GELU_CLIP
from ember.shapes import windows_out

from . import threads


try:    # NumPy 2: the context variable np.errstate sets, 0.15 us where np.errstate takes 1.3
    from numpy._core._ufunc_config import _extobj_contextvar, _make_extobj
    _IGNORE = _make_extobj(all="ignore")

    def _quiet(method):
        @functools.wraps(method)
        def run(*args, **kwargs):
            token = _extobj_contextvar.set(_IGNORE)
            try:
                return method(*args, **kwargs)
            finally:
                _extobj_contextvar.reset(token)
        return run
except ImportError:     # NumPy 1
    def _quiet(method):
        return functools.wraps(method)(numpy.errstate(all="ignore")(method))


def _quiet_plan(run):
    """A compiled Plan's function run with the error state set once (see plan_scope)."""
    @functools.wraps(run)
    def quiet(inputs):
        with numpy.errstate(all="ignore"):
            return run(inputs)
    return quiet


#: primitives that only move or view values (no arithmetic, no cast): nothing to warn of,
#: and a compiled MLP step makes 22 such calls of its 41
_MOVEMENT = {"reshape", "permute", "expand", "flip", "slice", "concatenate", "gather",
             "from_numpy", "to_numpy"}


def _without_warnings(cls):
    """NumPy warns where a float op overflows, divides by zero or has no answer; the other
    backends, and PyTorch, give inf and NaN without a word (exp(100), log(0), 0 / 0). So
    each primitive and fast path that computes runs with NumPy's error state set to
    ignore (the threads that share its work run in its context)."""
    cls._loud = {}      # the methods as they were: a compiled Plan's steps (plan_function)
    for name in PRIMITIVES + list(COMPLEX_PRIMITIVES) + list(FAST_PATHS):
        method = getattr(cls, name, None)
        if callable(method) and name not in _MOVEMENT:
            cls._loud[name] = method
            setattr(cls, name, _quiet(method))
    return cls


#: NumPy dtypes whose sums and products run in float32 (ml_dtypes' bfloat16 where present)
HALF = tuple(d.np for d in dt.HALF if d.np is not None)


def in_float32(halves):
    """A decorator: the fast path runs in float32 on arrays of the 16-bit float dtypes
    ``halves`` and each array it returns is rounded once at the end, as GPUs and
    PyTorch's CPU kernels do: rounded to bfloat16 at each step, GELU's left tail is 5 ULP
    off. (And ml_dtypes' bfloat16 times a Python float is float32: an optimizer step's
    arithmetic left bfloat16 parameters in float32 buffers.)"""
    def decorate(method):
        @functools.wraps(method)
        def run(self, *args):
            half = next((a.dtype for a in args if getattr(a, "dtype", None) in halves), None)
            if half is None:
                return method(self, *args)
            out = method(self, *(a.astype(numpy.float32) if getattr(a, "dtype", None) == half
                                 else a for a in args))
            if isinstance(out, tuple):
                return tuple(None if o is None else o.astype(half) for o in out)
            return out.astype(half)
        return run
    return decorate


_in_float32 = in_float32(HALF)


class ArrayModuleBackend(Backend):
    xp = numpy
    #: bfloat16 through ml_dtypes' NumPy dtype, where it is installed
    dtypes = frozenset(d for d in dt.ALL if d.np is not None)

    # transfer and creation
    def from_numpy(self, array):
        return self.xp.asarray(array)

    def to_numpy(self, buf):
        return numpy.array(buf, copy=True)

    def fft(self, kind, axes, norm, last, buf):
        """Backend.fft without a host copy: the array module's own FFT (NumPy's pocketfft,
        CuPy's cuFFT) on the buffer where it is."""
        from ember.ops.fft import transform
        return transform(kind, axes, norm, last, buf, self.xp)

    def capturing(self):
        """Whether the device records a graph now (CuPy's stream capture): then no value
        can be read back to decide a branch, and a step takes its general path."""
        return False

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
    def pow(self, a, b):
        xp = self.xp
        if b.dtype.kind == "i" and a.dtype.kind in "iu" and (self.capturing() or (b < 0).any()):
            # as C's integer division, PyTorch and the kernels: 0, but 1 ** -n = 1 and
            # (-1) ** -n = +-1 (NumPy refuses negative integer exponents outright)
            neg = b < 0
            out = xp.power(a, xp.where(neg, 0, b).astype(b.dtype))
            unit = xp.where(a == 1, 1, xp.where(a == -1, 1 - 2 * (b & 1), 0))
            return xp.where(neg, unit, out).astype(out.dtype)
        out = xp.power(a, b)
        if out.dtype.kind in "fV" and (self.capturing() or (b == 0.5).any()):
            # NumPy takes sqrt for an exponent of 0.5 that broadcasts (NaN at -inf, -0 at -0):
            # C's pow, as every backend gives, is inf and +0 there
            out = xp.where((b == 0.5) & ((a == 0) | (a == -xp.inf)), xp.abs(a), out)
        return out
    def maximum(self, a, b): return self.xp.maximum(a, b)
    def minimum(self, a, b): return self.xp.minimum(a, b)
    def eq(self, a, b): return self.xp.equal(a, b)
    def ne(self, a, b): return self.xp.not_equal(a, b)
    def lt(self, a, b): return self.xp.less(a, b)
    def le(self, a, b): return self.xp.less_equal(a, b)
    def gt(self, a, b): return self.xp.greater(a, b)
    def ge(self, a, b): return self.xp.greater_equal(a, b)
    def where(self, cond, a, b): return self.xp.where(cond, a, b)
    def cast(self, x, dtype):   # complex to real keeps the real part, as PyTorch's cast
        x = self.xp.real(x) if x.dtype.kind == "c" and dtype.kind != "c" else x
        if dtype is dt.bfloat16 or dtype.stores_only:    # one rounding, float8's saturation
            return dt.host_array(x, dtype, self.xp)
        if dtype.is_float:      # past a narrower float's range is inf, as PyTorch, unwarned
            with numpy.errstate(over="ignore"):
                return x.astype(dtype.np)
        if dtype.kind in "iu" and x.dtype.kind in "fV":       # (V: ml_dtypes' floats)
            return self._saturated(x, dtype)
        return x.astype(dtype.np)

    def _saturated(self, x, dtype):
        """float to integer, saturating at the dtype's limits with NaN to 0 (ember.cast):
        NumPy's astype leaves them to the CPU (x86 gives INT_MIN, which wraps to 0 in
        uint8) and warns."""
        xp, info = self.xp, numpy.iinfo(dtype.np)
        x = x.astype(numpy.float32) if x.dtype.itemsize < 4 else x   # bounds a half can't hold
        top = 2.0 ** (info.bits - (info.min < 0))
        high, low = x >= top, x <= info.min - 1.0
        out = xp.where(high | low | xp.isnan(x), 0, x).astype(dtype.np)
        out = xp.where(high, dtype.np.type(info.max), out)
        return xp.where(low, dtype.np.type(info.min), out)

    # reductions; 16-bit floats accumulate in float32, as on GPUs
    def sum(self, x, axes, keepdims):
        if x.dtype in HALF:
            return self.xp.sum(x, axis=axes, keepdims=keepdims, dtype=numpy.float32).astype(x.dtype)
        return self.xp.sum(x, axis=axes, keepdims=keepdims)

    def max(self, x, axes, keepdims): return self.xp.max(x, axis=axes, keepdims=keepdims)
    def min(self, x, axes, keepdims): return self.xp.min(x, axis=axes, keepdims=keepdims)

    def argmax(self, x, axis, keepdims):
        return self.xp.argmax(x, axis=axis, keepdims=keepdims).astype(self.default_int.np)

    # movement
    def reshape(self, x, shape): return x.reshape(shape)
    def permute(self, x, axes): return x.transpose(axes)
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
        if axis == 0 and xp is numpy and src.size >= ROW_ADD_FROM and \
                src.dtype in _row_adds().ROW_ADD_DTYPES:       # (out is C-ordered there)
            _row_adds().add_rows(out, index.reshape(-1),
                                 moved.reshape((index.size,) + moved.shape[index.ndim:]))
        else:
            xp.add.at(xp.moveaxis(out, axis, 0), index, moved)
        return out

    def matmul(self, a, b): return self.xp.matmul(a, b)

    # complex parts
    def real(self, x): return self.xp.real(x)
    def imag(self, x): return self.xp.imag(x)
    def conj(self, x): return self.xp.conj(x)

    # DLPack: the arrays themselves, shared without a copy where the memory allows
    def dlpack_device(self, buf): return buf.__dlpack_device__()
    def dlpack(self, buf): return buf

    def from_dlpack(self, obj):
        if self.xp is numpy or obj.__dlpack_device__()[0] != 1:
            arr = self.xp.from_dlpack(obj)
            return arr, arr.shape, arr.dtype
        return super().from_dlpack(obj)   # a host producer into device memory: one copy

    # fast paths
    def fast_log1p(self, x): return self.xp.log1p(x)
    def fast_expm1(self, x): return self.xp.expm1(x)
    def fast_relu(self, x): return self.xp.maximum(x, 0)
    def fast_relu_grad(self, g, x): return self.xp.where(x > 0, g, 0)   # inf/NaN g masked

    def _gelu_tanh_s(self, x):
        """1 / (1 + exp(-2u)) of GELU's tanh form (GeluTanh), in place on one array."""
        xp, k = self.xp, x.dtype.type
        s = xp.multiply(x, x, out=xp.empty_like(x))      # an array even when x is 0-d
        s *= k(GELU_A)
        s += 1
        s *= x
        s *= k(-2 * GELU_C)
        xp.exp(s, out=s)
        s += 1
        return s

    @_in_float32
    def fast_gelu_tanh(self, x):
        d = self._gelu_tanh_s(x)
        return self.xp.divide(x, d, out=d)

    @_in_float32
    def fast_gelu_tanh_grad(self, g, x):
        xp, k = self.xp, x.dtype.type
        s = self._gelu_tanh_s(x)
        xp.reciprocal(s, out=s)
        xc = xp.clip(x, -GELU_CLIP, GELU_CLIP, out=xp.empty_like(x))
        slope = xp.multiply(xc, xc, out=xp.empty_like(x))
        slope *= k(3 * GELU_A)
        slope += 1
        slope *= k(2 * GELU_C)
        slope *= xc
        slope *= s
        slope *= xp.subtract(1, s, out=xc)
        slope += s
        slope *= g
        return slope

    def fast_standardize(self, x, axes, eps):
        """ember.ops.reduce.Standardize in six passes over x (twenty primitives composed);
        None, for the composed form's scaling, where a variance is inf or NaN (values near
        the dtype's limit, or an inf or NaN among them) or so small that its squares lost
        bits."""
        xp, inv_n = self.xp, x.dtype.type(1 / math.prod(x.shape[a] for a in axes))
        d = x - xp.sum(x, axis=axes, keepdims=True) * inv_n
        d -= xp.sum(d, axis=axes, keepdims=True) * inv_n       # the mean's rounding
        var = xp.sum(d * d, axis=axes, keepdims=True) * inv_n
        info = xp.finfo(x.dtype)
        if self.capturing():    # a compiled step records this path: it cannot decline there
            raise RuntimeError("fast_standardize reads on the host whether every variance "
                               "is in range, which a CUDA graph capture cannot")
        if not bool(xp.all((var == 0) | (var >= info.tiny / info.eps) & (var <= info.max))):
            return None
        rstd = var + eps
        xp.sqrt(rstd, out=rstd)
        xp.reciprocal(rstd, out=rstd)
        d *= rstd
        return d, rstd

    def fast_standardize_grad(self, g, y, rstd, axes):
        xp, inv_n = self.xp, g.dtype.type(1 / math.prod(g.shape[a] for a in axes))
        t = y * (xp.sum(g * y, axis=axes, keepdims=True) * inv_n)
        t += xp.sum(g, axis=axes, keepdims=True) * inv_n
        xp.subtract(g, t, out=t)
        t *= rstd
        return t

    @staticmethod
    def _windows(x, kernel, stride, dilation):
        """The (N, C, OH, OW) view of NCHW x under each kernel offset, row by row."""
        (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
        oh, ow = windows_out(x.shape[2:], kernel, stride, dilation)
        return [x[:, :, i * dh: i * dh + sh * (oh - 1) + 1: sh, j * dw: j * dw + sw * (ow - 1) + 1: sw]
                for i in range(kh) for j in range(kw)]

    def fast_im2col(self, x, kernel, stride, dilation):
        (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
        n, c = x.shape[:2]
        oh, ow = windows_out(x.shape[2:], kernel, stride, dilation)
        s = x.strides
        return self._contiguous(self.xp.lib.stride_tricks.as_strided(
            x, (c, kh, kw, n, oh, ow), (s[1], s[2] * dh, s[3] * dw, s[0], s[2] * sh, s[3] * sw)))

    def _contiguous(self, view):
        return self.xp.ascontiguousarray(view)

    def fast_col2im(self, cols, shape, kernel, stride, dilation):
        out = self.xp.zeros(shape, dtype=cols.dtype)
        c, kh, kw = cols.shape[:3]
        windows = cols.reshape(c, kh * kw, *cols.shape[3:])
        for k, view in enumerate(self._windows(out, kernel, stride, dilation)):
            view += windows[:, k].transpose(1, 0, 2, 3)
        return out

    #: attention's query blocks: scores per block, and the fewest rows a block has
    attention_scores, attention_rows = 1 << 19, 128

    def _attention_blocks(self, q, k, v, mask, keep, causal):
        """Query blocks of about ``attention_scores`` scores each, at least ``attention_rows``
        rows (so each GEMM stays large), with the keys each may see (causal: up to its last
        row), the first key a mask may hide (causal: the block's first row, as every key
        before it attends) and the mask and dropout rows that go with them."""
        batch = numpy.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
        (length, source), n = (q.shape[-2], k.shape[-2]), max(1, math.prod(batch))
        rows = max(self.attention_rows, min(length, self.attention_scores // max(1, n * source)))
        scores = batch + (length, source)      # a mask may broadcast along the rows too
        mask = None if mask is None else self.xp.broadcast_to(mask, scores)
        keep = None if keep is None else self.xp.broadcast_to(keep, scores)
        for r0 in range(0, length, rows):
            r1 = min(length, r0 + rows)
            end, first = (min(source, r1), min(source, r0)) if causal else (source, 0)
            yield (r0, r1, end, first, None if mask is None else mask[..., r0:r1, first:end],
                   None if keep is None else keep[..., r0:r1, :end])

    def _attention_scores(self, q, k, mask, first, scale=1, keys_first=True):
        """The scores of queries q against keys k, as keys x queries: k q^T (times
        ``scale`` where q is not scaled already), the mask (queries x keys) applied from
        key ``first`` on. OpenBLAS runs this product of depth E 15 % faster with the keys
        as its rows (length 2048, E 64, 128 queries: 3.0 against 3.6 ms a head); not
        ``keys_first``, it is q k^T's transposed view, which a dropout mask (queries x keys)
        multiplies at a contiguous pace (through a transposed view: 8x slower)."""
        xp = self.xp
        if keys_first:
            s = xp.matmul(k, xp.swapaxes(q, -1, -2))
        else:
            s = xp.swapaxes(xp.matmul(q, xp.swapaxes(k, -1, -2)), -1, -2)
        if scale != 1:
            s *= s.dtype.type(scale)
        if mask is not None and mask.dtype == bool:
            xp.copyto(s[..., first:, :], -xp.inf, where=~xp.swapaxes(mask, -1, -2))
        elif mask is not None:
            s += xp.swapaxes(mask, -1, -2)
        return s

    def fast_attention(self, q, k, v, mask, keep, scale, causal):
        batch = numpy.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
        out = self.xp.empty(batch + (q.shape[-2], v.shape[-1]), q.dtype)
        lse = self.xp.empty(batch + (q.shape[-2],), q.dtype)
        self.attention_into(out, lse, q, k, v, mask, keep, scale, causal)
        return lse, out

    def attention_into(self, out, lse, q, k, v, mask, keep, scale, causal):
        """Flash attention's schedule in NumPy: query blocks against the keys they may see,
        each block's softmax in place (scores keys x queries, see _attention_scores),
        normalized after the second GEMM (on L x Ev, not L x S); only the output and each
        query's log-sum-exp are kept (no L x S matrix), and a causal mask skips the keys
        past each block."""
        xp = self.xp
        # q scaled once (L x E, not L x S), unless that rounds some to 0: a subnormal query
        # times an infinite key is infinite, 0 times it NaN
        post, tiny = 1, numpy.finfo(q.dtype).tiny
        capturing = self.capturing()      # no reads: the general path, always right
        if scale < 1 and (capturing or bool(((q != 0) & (xp.abs(q) < tiny / scale)).any())):
            post = scale                    # on the scores instead
        else:
            q = q * q.dtype.type(scale)
        poisoned = causal and (capturing or not xp.isfinite(v).all())  # (PyTorch: NaN)
        calm = (not capturing and (mask is None or mask.dtype == bool)
                and self._scores_within(q, k, 60))
        for r0, r1, end, first, m, kp in self._attention_blocks(q, k, v, mask, keep, causal):
            s = self._attention_scores(q[..., r0:r1, :], k[..., :end, :], m, first, post,
                                       keys_first=kp is None)
            top = None               # calm: exp(s) is safe as it is, no pass for the maximum
            if not calm:
                top = s.max(axis=-2, keepdims=True)
                top[top == -xp.inf] = 0    # a query that may attend nowhere: exp(-inf) = 0
            total = self._exp_columns(s, top)
            with numpy.errstate(divide="ignore"):
                lse[..., r0:r1] = xp.where(total == 0, xp.inf,
                                           xp.log(total) + (0 if top is None else top))[..., 0, :]
            total[total == 0] = 1
            if kp is not None:
                s *= xp.swapaxes(kp, -1, -2)
            o = xp.matmul(xp.swapaxes(s, -1, -2), v[..., :end, :])
            o /= xp.swapaxes(total, -1, -2)
            if end < v.shape[-2] and poisoned:  # skipped keys weigh 0, and 0 * inf is NaN
                o += (v[..., end:, :] * 0).sum(axis=-2, keepdims=True)
            out[..., r0:r1, :] = o

    def _exp_columns(self, s, top):
        """exp(s - top) in place (``top``: each column's shift, shaped (..., 1, n), or None
        for none) and each column's sum, shaped (..., 1, n)."""
        if top is not None:
            s -= top
        self.xp.exp(s, out=s)
        return s.sum(axis=-2, keepdims=True)

    def _exp_in_place(self, x):
        self.xp.exp(x, out=x)

    def _scores_within(self, q, k, bound):
        """Whether every score q k^T lies within +-``bound``, by Cauchy-Schwarz: then
        softmax needs no maximum subtracted (exp(60) and its sums stay far from float32's
        overflow, and a query's largest term from underflow)."""
        xp = self.xp
        if k.shape[-2] == 0:
            return True
        q_norms = xp.sqrt(xp.einsum("...i,...i->...", q, q))   # (q * q).sum(-1) took 7x as long
        k_norms = xp.sqrt(xp.einsum("...i,...i->...", k, k)).max(axis=-1)[..., None]
        return bool(xp.all(q_norms * k_norms <= bound))

    def fast_attention_grad(self, g, q, k, v, mask, keep, scale, causal, lse, out):
        batch = out.shape[:-2]
        grads = (self.xp.empty(batch + q.shape[-2:], q.dtype),
                 self.xp.empty(batch + k.shape[-2:], q.dtype),
                 self.xp.empty(batch + v.shape[-2:], q.dtype))
        self.attention_grad_into(grads, g, q, k, v, mask, keep, scale, causal, lse, out)
        return grads

    def attention_grad_into(self, grads, g, q, k, v, mask, keep, scale, causal, lse, out):
        """Flash attention's backward into ``grads`` (dq, dk, dv): each block's
        probabilities recomputed from the saved log-sum-exp (keys x queries, as the
        forward's), ds = p (dp - rowsum(g o)), gradients accumulated per block. The
        subtractions of the log-sum-exp and of rowsum(g o) ride in the GEMMs, as one more
        feature (1 in k and v, minus them in q and g): one pass over the L x S scores less
        each."""
        xp = self.xp
        dq, dk, dv = grads
        dk[...], dv[...] = 0, 0
        g = xp.broadcast_to(g, out.shape)
        d = xp.einsum("...i,...i->...", g, out)                 # rowsum(g o)
        qa = self._with_feature(xp.broadcast_to(q * q.dtype.type(scale), dq.shape), -lse)
        ka = self._with_feature(k, 1)
        ga, va = (g, v) if keep is not None else (self._with_feature(g, -d),
                                                  self._with_feature(v, 1))
        q = qa[..., :-1]                                  # q scale: dk = ds^T (q scale)
        for r0, r1, end, first, m, kp in self._attention_blocks(q, k, v, mask, keep, causal):
            # keys x queries (see _attention_scores), as p and dp below
            p = self._attention_scores(qa[..., r0:r1, :], ka[..., :end, :], m, first,
                                       keys_first=kp is None)
            self._exp_in_place(p)
            kp = None if kp is None else xp.swapaxes(kp, -1, -2)
            dv[..., :end, :] += xp.matmul(p if kp is None else p * kp, g[..., r0:r1, :])
            dp = self._attention_scores(ga[..., r0:r1, :], va[..., :end, :], None, 0,
                                        keys_first=kp is None)    # (g v^T)^T, laid out as p
            if kp is not None:
                dp *= kp
                dp -= d[..., None, r0:r1]
            dp *= p
            dq[..., r0:r1, :] = xp.matmul(xp.swapaxes(dp, -1, -2), k[..., :end, :])
            dk[..., :end, :] += xp.matmul(dp, q[..., r0:r1, :])
        dq *= q.dtype.type(scale)

    def _with_feature(self, x, column):
        """``x`` (..., n, f) with ``column`` (a number, or (..., n)) as feature f + 1."""
        extra = self.xp.broadcast_to(self.xp.asarray(column, x.dtype)[..., None],
                                     x.shape[:-1] + (1,))
        return self.xp.concatenate([x, extra], axis=-1)

    def fast_cumsum(self, x, axis):
        """A running sum, float32 accumulated in float64 (as PyTorch's CPU cumsum): each
        position rounded once, where a float32 running sum drifts with its length."""
        if x.dtype == self.xp.float32:
            return self.xp.cumsum(x, axis, dtype=self.xp.float64).astype(x.dtype)
        return self.xp.cumsum(x, axis, dtype=x.dtype)     # NumPy's int32 sums are int64

    def fast_argsort(self, x, descending):
        """NumPy's stable sort; descending as the stable ascending order of the reversed
        rows, reversed and mapped back (ties keep their order, NaN comes first). bfloat16
        sorts as float32 (ml_dtypes' sort puts NaN first)."""
        xp, n = self.xp, x.shape[-1]
        if x.dtype == dt.bfloat16.np:
            x = x.astype(xp.float32)
        if not descending:
            order = xp.argsort(x, axis=-1, kind="stable")
        else:
            order = n - 1 - xp.flip(xp.argsort(xp.flip(x, -1), axis=-1, kind="stable"), -1)
        return order.astype(self.default_int.np, copy=False)

    def fast_fmod(self, x, y):
        return self.xp.fmod(x, y)

    def fast_trunc_div(self, x, y):
        xp = self.xp
        return xp.floor_divide(x - xp.fmod(x, y), y)   # an exact division: floor is trunc

    def fast_copysign(self, x, y): return self.xp.copysign(x, y)
    def fast_remainder(self, x, y): return self.xp.remainder(x, y)

    def fast_floor_divide(self, x, y):
        """NumPy's, but floor(x / y) where an operand is infinite (NumPy gives NaN for
        inf // 2 and -1 for -1 // inf; ember.floor_divide the standard's inf and -0)."""
        xp, out = self.xp, self.xp.floor_divide(x, y)
        if out.dtype.kind not in "fV":          # (V: ml_dtypes' bfloat16)
            return out
        return xp.where(xp.isinf(x) | xp.isinf(y), xp.floor(x / y), out)

    def fast_bitwise_and(self, x, y): return self.xp.bitwise_and(x, y)
    def fast_bitwise_or(self, x, y): return self.xp.bitwise_or(x, y)
    def fast_bitwise_xor(self, x, y): return self.xp.bitwise_xor(x, y)
    def fast_bitwise_not(self, x): return self.xp.invert(x)
    def fast_left_shift(self, x, y): return self.xp.left_shift(x, y)
    def fast_right_shift(self, x, y): return self.xp.right_shift(x, y)

    def fast_rounding(self, x, mode):
        xp = self.xp
        return {"floor": xp.floor, "ceil": xp.ceil, "trunc": xp.trunc, "round": xp.rint}[mode](x)

    @_in_float32
    def fast_sgd_step(self, p, g, buf, lr, momentum, dampening, weight_decay, nesterov):
        """PyTorch's SGD rule with in-place arithmetic on fresh arrays (inputs untouched)."""
        d = g + weight_decay * p if weight_decay else g
        new_buf = None
        if momentum:
            if buf is None:
                new_buf = d.copy()
            else:
                new_buf = buf * momentum
                new_buf += d * (1 - dampening) if dampening else d
            d = d + momentum * new_buf if nesterov else new_buf
        step = d * lr
        return self.xp.subtract(p, step, out=step), new_buf

    @_in_float32
    def fast_adam_step(self, p, g, m, v, vmax, lr, beta1, beta2, eps, weight_decay, decoupled,
                       step):
        """PyTorch's Adam / AdamW, the same arithmetic as the composed rule, fewer temporaries."""
        xp = self.xp
        if decoupled:
            p = p * (1 - lr * weight_decay) if weight_decay else p
        elif weight_decay:
            g = g + weight_decay * p
        new_m = m * beta1
        new_m += g * (1 - beta1)
        sq = g * g
        sq *= 1 - beta2
        new_v = v * beta2
        new_v += sq
        new_vmax = xp.maximum(vmax, new_v) if vmax is not None else None
        denom = xp.sqrt(new_vmax if vmax is not None else new_v)
        denom *= 1 / (1 - beta2 ** step) ** 0.5
        denom += eps
        update = new_m / denom
        update *= lr / (1 - beta1 ** step)
        return xp.subtract(p, update, out=update), new_m, new_v, new_vmax


#: the free memory glibc may hold at the top of its heap before it returns it: a
#: sixteenth of the machine's, between KEEP_FREED_MIN and KEEP_FREED_MAX
KEEP_FREED_MIN, KEEP_FREED_MAX = 256 << 20, 1 << 30


@functools.lru_cache(maxsize=None)
def _keep_freed_memory():
    """Have glibc keep freed arrays' memory for the next ones, as the GPU backends' pools
    do. By default it returns memory above 128 KiB to the system at each free, so every
    new activation of a training step starts on fresh pages: the page faults cost the
    benchmark CNN step a third of its time. Once the free memory at the top of the heap
    reaches the threshold glibc returns all of it, so the threshold must pass what a
    step frees at once: MobileNetV3-small's forward at batch 32 frees 300 MB at its end
    and took 34,000 page faults a call under a 256 MiB threshold (280 -> 116 ms without
    them). Arrays above 32 MiB are still mapped anew. Other C libraries are left as
    they are. Returns the threshold set, or None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return None
    keep = min(KEEP_FREED_MAX, max(KEEP_FREED_MIN, os.sysconf("SC_PHYS_PAGES")
                                   * os.sysconf("SC_PAGE_SIZE") // 16))
    m_trim_threshold, m_mmap_threshold = -1, -3     # from glibc's malloc.h
    mallopt(m_mmap_threshold, 32 << 20)
    mallopt(m_trim_threshold, keep)
    return keep


def _kept_memory_line():
    """ember info's line on the memory glibc keeps (none off Linux)."""
    keep = _keep_freed_memory()
    return [f"freed arrays' memory kept for the next ones, returned to the system once "
            f"{keep >> 20} MiB of it is free (glibc's trim threshold)"] if keep else []


def _rows_or_columns(s):
    """Whether attention's scores ``s`` are float32 that backends/numpy/scores.py takes:
    C-contiguous, or the transposed view of a C-contiguous array."""
    return s.dtype == numpy.float32 and (s.flags.c_contiguous
                                         or numpy.swapaxes(s, -1, -2).flags.c_contiguous)


#: the unsigned integer dtype of each item size, for _bit_select
_UINTS = {n: numpy.dtype(f"u{n}") for n in (1, 2, 4, 8)}
#: from this many elements where selects bits: below it NumPy's where is as fast
SELECT_MIN = 1 << 14


def _bit_select(cond, a, b, out=None):
    """where(cond, a, b) as b ^ ((a ^ b) & -cond) on the values' bits, exact for every
    value (NaN payloads too). NumPy's where branches on each element, and a mask with no
    pattern mispredicts half of them: 18 ms on 4M float32 under a random mask, 2.5 under
    a sorted one; these four passes take 3."""
    u = _UINTS[a.dtype.itemsize]
    if out is None:
        out = numpy.empty(numpy.broadcast_shapes(cond.shape, a.shape, b.shape), a.dtype)
    bits, b_bits = out.view(u), b.view(u)
    numpy.bitwise_xor(a.view(u), b_bits, out=bits)
    mask = cond.astype(u)
    bits &= numpy.negative(mask, out=mask)
    bits ^= b_bits
    return out


def _bit_keep(a, cond, out=None):
    """a where cond, else +0, as a & -cond on the bits: an infinite or NaN a is dropped
    where cond is false, as a select drops it (a * cond would make it NaN)."""
    if out is None:
        out = numpy.empty(numpy.broadcast_shapes(a.shape, cond.shape), a.dtype)
    bits = out.view(_UINTS[a.dtype.itemsize])
    numpy.copyto(bits, cond, casting="unsafe")
    numpy.negative(bits, out=bits)
    return numpy.bitwise_and(bits, a.view(bits.dtype), out=bits).view(a.dtype)


@_without_warnings
class NumpyBackend(ArrayModuleBackend):
    """Runs on the CPU through NumPy; the reference every other backend is checked against."""

    name = "numpy"
    host_memory = True

    def __init__(self, index=0):
        super().__init__(index)
        _keep_freed_memory()
        threads.quiet_blas_workers()

    # a compiled replay sets the error state once, its steps then call the methods
    # without the per-call wrapper (a compiled MLP step: 28 calls of 40, about 0.6 us each)
    def plan_function(self, name):
        loud = self._loud.get(name)
        return loud.__get__(self) if loud is not None else getattr(self, name)

    def plan_scope(self, run):
        return _quiet_plan(run)

    # elementwise ops on large arrays: a piece per core, as PyTorch's CPU kernels
    def neg(self, x): return threads.unary(numpy.negative, x)
    def exp(self, x): return threads.unary(numpy.exp, x)
    def log(self, x): return threads.unary(numpy.log, x)
    def sin(self, x): return threads.unary(numpy.sin, x)
    def cos(self, x): return threads.unary(numpy.cos, x)
    def tanh(self, x): return threads.unary(numpy.tanh, x)
    def sqrt(self, x): return threads.unary(numpy.sqrt, x)
    def abs(self, x): return threads.unary(numpy.abs, x)
    def sign(self, x): return threads.unary(numpy.sign, x)
    def add(self, a, b): return threads.binary(numpy.add, a, b)
    def sub(self, a, b): return threads.binary(numpy.subtract, a, b)
    def mul(self, a, b): return threads.binary(numpy.multiply, a, b)
    def div(self, a, b): return threads.binary(numpy.true_divide, a, b)
    def maximum(self, a, b): return threads.binary(numpy.maximum, a, b)
    def minimum(self, a, b): return threads.binary(numpy.minimum, a, b)
    def eq(self, a, b): return threads.binary(numpy.equal, a, b)
    def ne(self, a, b): return threads.binary(numpy.not_equal, a, b)
    def lt(self, a, b): return threads.binary(numpy.less, a, b)
    def le(self, a, b): return threads.binary(numpy.less_equal, a, b)
    def gt(self, a, b): return threads.binary(numpy.greater, a, b)
    def ge(self, a, b): return threads.binary(numpy.greater_equal, a, b)

    def where(self, cond, a, b):
        if (a.dtype == b.dtype and a.dtype.itemsize in _UINTS and cond.dtype == bool
                and max(cond.size, a.size, b.size) >= SELECT_MIN):
            # NumPy scalars (a gradient's 0 or its condition) as 0-d arrays: the bits of a
            # scalar are a new scalar, not a view to write into
            cond, a, b = (numpy.asarray(t) for t in (cond, a, b))
            return threads.elementwise(_bit_select, cond, a, b)
        return numpy.where(cond, a, b)

    def fast_relu(self, x): return threads.binary(numpy.maximum, x, 0)
    def fast_relu_grad(self, g, x): return threads.binary(_bit_keep, g, self.gt(x, 0))

    # the ufuncs' reduce directly: np.sum and np.max wrap it in Python, which costs 2-3 us
    # a call, as much as the work on a training step's (64, 10) logits
    def sum(self, x, axes, keepdims):
        if x.dtype in HALF:
            return super().sum(x, axes, keepdims)
        return numpy.add.reduce(x, axis=axes, keepdims=keepdims)

    def max(self, x, axes, keepdims): return numpy.maximum.reduce(x, axis=axes, keepdims=keepdims)
    def min(self, x, axes, keepdims): return numpy.minimum.reduce(x, axis=axes, keepdims=keepdims)

    def matmul(self, a, b):
        if a.dtype in HALF:     # BLAS in float32, rounded once: NumPy's 16-bit loops are slow
            return self.matmul(a.astype(numpy.float32), b.astype(numpy.float32)).astype(a.dtype)
        if a.ndim > 2 and b.ndim == 2 and a.flags.c_contiguous:
            # one GEMM over the stacked rows: NumPy calls BLAS once per stacked matrix,
            # 5% to 40% slower on a transformer's (16, 128, 128) @ (128, 512)
            rows = math.prod(a.shape[:-1])
            return numpy.matmul(a.reshape(rows, a.shape[-1]), b).reshape(a.shape[:-1] + b.shape[1:])
        return numpy.matmul(a, b)

    @classmethod
    def devices(cls):
        return [f"cpu, NumPy {numpy.__version__}"]

    def set_num_threads(self, n):
        """The pieces of large ops and BLAS's threads: at most ``n`` (threads.set_threads)."""
        threads.set_threads(n)

    def info(self):
        from importlib.metadata import version
        return [f"loops compiled by Numba {version('numba')} on first use: max pooling (per "
                f"window shape), layer norm's rows, erf, GELU, sigmoid, attention's exponentials, "
                f"depthwise convolutions, Winograd's 3x3 ones and the row sums of gathers' "
                f"gradients (embeddings, index_select) from {ROW_ADD_FROM:,} elements",
                f"cores: {threads.cores()}, each with a piece of elementwise ops on "
                f"{threads.MIN_ELEMENTS:,} elements or more, of window copies, of max "
                f"pooling's planes and of attention's heads"] + _kept_memory_line()

    # im2col's copies of windows and attention over several heads: a share per core
    def _contiguous(self, view):
        return threads.contiguous(view)

    def attention_into(self, out, lse, q, k, v, mask, keep, scale, causal):
        base, cuts = super().attention_into, self._head_shares(out, k)
        if cuts is None:
            return base(out, lse, q, k, v, mask, keep, scale, causal)
        threads.run([functools.partial(base, c(out), c(lse, 1), c(q), c(k),
                                       c(v), c(mask), c(keep), scale, causal) for c in cuts])

    def attention_grad_into(self, grads, g, q, k, v, mask, keep, scale, causal, lse, out):
        base, cuts = super().attention_grad_into, self._head_shares(out, k)
        if cuts is None:
            return base(grads, g, q, k, v, mask, keep, scale, causal, lse, out)
        threads.run([functools.partial(base, [c(d) for d in grads],
                                       c(g), c(q), c(k), c(v), c(mask), c(keep), scale, causal,
                                       c(lse, 1), c(out)) for c in cuts])

    @staticmethod
    def _head_shares(out, k):
        """threads.shares for attention with output ``out``: its work is its scores,
        batch x L x S."""
        return threads.shares(out.shape[:-2], out.size // out.shape[-1] * k.shape[-2])

    # loops compiled by Numba, imported on first use (Numba's import takes 0.3 s)
    def _exp_columns(self, s, top):
        if not _rows_or_columns(s):
            return super()._exp_columns(s, top)
        from . import scores
        return scores.exp_columns(s, top)

    def _exp_in_place(self, x):
        if not _rows_or_columns(x):
            return super()._exp_in_place(x)
        from . import scores
        scores.exp_in_place(x)

    def fast_standardize(self, x, axes, eps):
        if x.dtype != numpy.float32 or axes != (x.ndim - 1,):
            return super().fast_standardize(x, axes, eps)
        from . import kernels
        return kernels.standardize_rows(x, eps)

    def fast_standardize_grad(self, g, y, rstd, axes):
        if g.dtype != numpy.float32 or axes != (g.ndim - 1,):
            return super().fast_standardize_grad(g, y, rstd, axes)
        from . import kernels
        return kernels.standardize_rows_grad(g, y, rstd)

    @_in_float32
    def fast_sigmoid(self, x):
        from . import special
        return special.sigmoid(x)

    @_in_float32
    def fast_gelu_tanh(self, x):
        from . import special
        return special.gelu_tanh(x)

    @_in_float32
    def fast_gelu_tanh_grad(self, g, x):
        from . import special
        return special.gelu_tanh_grad(g, x)

    def fast_addmm(self, c, a, b, relu=False):
        out = self.matmul(a, b)              # a new array: c is added into it
        if out.size < threads.MIN_ELEMENTS:
            return _bias_relu(out, c, relu)
        c = numpy.broadcast_to(c, out.shape)
        return threads.into(out, lambda index: _bias_relu(out[index], c[index], relu))

    def fast_hardswish(self, x):
        from . import special
        return special.hard(x, True)

    def fast_hardsigmoid(self, x):
        from . import special
        return special.hard(x, False)

    def fast_erf(self, x):
        from . import special
        return special.erf(x)

    def fast_gelu(self, x):
        from . import special
        return special.gelu(x)

    def fast_gelu_grad(self, g, x):
        from . import special
        return special.gelu_grad(g, x)

    def fast_conv3x3(self, x, w, b, padding, residual=None, relu=False):
        from . import winograd
        return winograd.conv3x3(x, w, b, padding, residual, relu, lambda: self.fast_conv2d(
            x, w, b, (1, 1), padding, (1, 1), residual, relu))

    def fast_conv2d(self, x, w, b, stride, padding, dilation, residual=None, relu=False):
        from . import gemm_conv
        return gemm_conv.conv2d(x, w, b, stride, padding, dilation, residual, relu)

    def fast_depthwise_conv2d(self, x, w, b, stride, padding, dilation):
        from . import kernels
        return kernels.depthwise_conv2d(x, w, b, stride, padding, dilation)

    def fast_max_pool2d(self, x, kernel, stride, dilation):
        from . import kernels
        return kernels.max_pool2d(x, kernel, stride, dilation)

    def fast_max_unpool2d(self, g, index, kernel, stride, dilation, shape):
        from . import kernels
        return kernels.max_unpool2d(g, index, kernel, stride, dilation, shape)


#: the elements a block of _bias_relu: its sum is still in the cache when relu reads it
_RELU_BLOCK = 1 << 16


def _bias_relu(out, c, relu):
    """(m, n) out + c (c broadcast to out's shape), then max(., 0) where ``relu``, in
    place: by blocks of rows, so the relu reads what the add has just written from the
    cache."""
    if not relu:
        return numpy.add(out, c, out=out)
    c, step = numpy.broadcast_to(c, out.shape), max(1, _RELU_BLOCK // max(1, out.shape[1]))
    for lo in range(0, len(out), step):
        block = out[lo:lo + step]
        numpy.add(block, c[lo:lo + step], out=block)
        numpy.maximum(block, 0, out=block)
    return out


#: from how many elements scatter_add's rows are added by a compiled loop (Numba's import
#: and compile take 1.8 s once per process; np.add.at takes 0.6 ms for this many)
ROW_ADD_FROM = 1 << 18


def _row_adds():
    """kernels (Numba), imported on first use as the backend's other loops are."""
    from . import kernels
    return kernels
