"""CUDA through CuPy: the NumPy backend's table with xp = cupy, CuPy's memory
pool, cuBLAS matmul, and fused kernels (fused.py) as fast paths."""

import functools

import numpy

from ember import amp, dtypes as dt
from ember.backends.numpy.backend import ArrayModuleBackend, in_float32
from ember.backends.strided import attention_table

from . import capture, fused

_BLOCK = 256
#: cuBLAS's compute type for float32 GEMMs at each of ember.set_float32_matmul_precision's
#: settings (CuPy's COMPUTE_TYPE_DEFAULT, _TF32 and _BF16)
_COMPUTE_TYPES = {"highest": 1, "high": 7, "medium": 6}
#: query (or key) rows of a flash-attention block, a thread each; and the shared memory
#: its tiles of the other side's rows may take (of the 48 KiB a block may have statically)
_FLASH_ROWS, _FLASH_TILES = 64, 32768
#: the dtypes kernels/attention.cu holds: (its STORE type, HALF: 0 as it is, 1 bfloat16's
#: or 2 float16's bits, read into float32 and rounded back)
_FLASH_STORES = {numpy.dtype(d): store for d, store in (
    (dt.bfloat16.np, ("unsigned short", 1)), (numpy.float16, ("unsigned short", 2)),
    (numpy.float32, ("float", 0)), (numpy.float64, ("double", 0))) if d is not None}


#: the offsets tables of attention.cu on the device, by array module and layout (one
#: device a process): a CUDA-graph capture cannot upload one, and finds those its eager
#: calls left
_TABLES = {}


#: CuPy's bfloat16 in float32, rounded once (CuPy's own bfloat16 loops carry the rules its
#: float32 ones had, and its fused kernels here are float16, 32 and 64 only)
_bfloat16_in_float32 = in_float32(tuple(d for d in (dt.bfloat16.np,) if d is not None))


def _wide(x):
    """A 16-bit float array in float32 (None and other arrays as they are)."""
    return x.astype(numpy.float32) if x is not None and x.dtype.itemsize == 2 \
        and x.dtype.kind in "fV" else x


def _computed(dtype):
    """What attention.cu computes a dtype in: float64 as it is, the rest in float32."""
    return numpy.dtype(numpy.float64 if dtype == numpy.float64 else numpy.float32)


def _import_cupy():
    import cupy
    return cupy


def _scalar(t, x):
    """A kernel's scalar argument: a number as dtype ``t``, or a 0-d device array as it
    is (a compiled step's learning rate or step count: reading it would sync the host)."""
    return x if hasattr(x, "__cuda_array_interface__") else t(x)


def _parts(z):
    """A fresh complex array's (..., 2) view of real and imaginary parts, to write each."""
    return z.view(z.real.dtype).reshape(z.shape + (2,))


def _joined(xp, re, im, dtype):
    """The complex array of ``dtype`` whose parts are ``re`` and ``im`` (re + 1j * im
    would make inf * 1j a NaN real part)."""
    out = xp.empty(re.shape, dtype)
    pairs = _parts(out)
    pairs[..., 0], pairs[..., 1] = re, im
    return out


def _annex_g(xp, z, own, re, im):
    """``own`` (the array module's complex function of z) where both parts of z are
    finite, and (re, im) where one is infinite or NaN: C's Annex G values there, as
    NumPy's, where CuPy's complex math gives NaN."""
    odd = ~xp.isfinite(z)
    return _joined(xp, xp.where(odd, re, own.real), xp.where(odd, im, own.imag), own.dtype)


class CupyBackend(ArrayModuleBackend):
    """NVIDIA GPUs through CuPy (any CuPy wheel: cupy-cuda12x, cupy-cuda13x...)."""

    name = "cupy"
    #: not ml_dtypes' float8, which CuPy cannot hold; bfloat16 where CuPy can (CuPy 14 and
    #: NumPy 2.1.2 on: ``__init__`` tries), its fused kernels computing it in float32
    dtypes = frozenset(dt.ALL) - {dt.bfloat16, *dt.FLOAT8}
    #: CuPy builds its kernels with -ftz=true: float32 subnormals, in and out, are zeros
    flushes_subnormals = True
    fast_attention_16 = True    # kernels/attention.cu reads 16-bit floats into float32
    _active = None  # the one CUDA device this process computes on
    _precision = "highest"   # the float32 matmul precision cuBLAS was last set to

    @classmethod
    def availability(cls):
        try:
            cupy = _import_cupy()
        except Exception as exc:
            return False, f"CuPy is not installed ({type(exc).__name__}: {exc}); pip install 'ember[cuda]'"
        try:
            count = cupy.cuda.runtime.getDeviceCount()
        except Exception as exc:
            return False, f"no CUDA device found ({type(exc).__name__}: {exc})"
        if count == 0:
            return False, "no CUDA device found"
        return True, ""

    @classmethod
    def devices(cls):
        cupy = _import_cupy()
        out = []
        for i in range(cupy.cuda.runtime.getDeviceCount()):
            props = cupy.cuda.runtime.getDeviceProperties(i)
            name = props["name"]
            name = name.decode() if isinstance(name, bytes) else name
            out.append(f"{name}, {props['totalGlobalMem'] / 2**30:.0f} GiB, "
                       f"compute capability {props['major']}.{props['minor']}")
        return out

    def __init__(self, index=0):
        from ember.errors import BackendError
        if CupyBackend._active not in (None, index):
            raise BackendError(f"cupy:{index}: this process already computes on cupy:"
                               f"{CupyBackend._active}; one CUDA device per process is "
                               f"supported (set CUDA_VISIBLE_DEVICES to choose it)")
        super().__init__(index)
        cupy = _import_cupy()
        self.xp = cupy
        cupy.cuda.Device(index).use()
        CupyBackend._active = index
        if dt.bfloat16.np is not None:
            try:        # CuPy 14's "initial support" of ml_dtypes' bfloat16
                cupy.ones(2, dt.bfloat16.np).astype(numpy.float32).sum()
            except Exception:
                pass
            else:
                self.dtypes = type(self).dtypes | {dt.bfloat16}

    def info(self):
        cupy = self.xp
        pool = cupy.get_default_memory_pool()
        return [f"CuPy {cupy.__version__}, CUDA runtime {cupy.cuda.runtime.runtimeGetVersion()}",
                f"memory pool: {pool.used_bytes() / 2**20:.1f} MiB used, "
                f"{pool.total_bytes() / 2**20:.1f} MiB held"]

    def matmul(self, a, b):
        """cuBLAS's GEMM; for float32 in the compute type ember's float32 matmul precision
        names (TF32 or bfloat16 tensor cores for "high" or "medium")."""
        if a.dtype.char in "fF" and amp.get_float32_matmul_precision() != self._precision:
            self._precision = amp.get_float32_matmul_precision()
            self._cublas().set_compute_type(numpy.float32, _COMPUTE_TYPES[self._precision])
        return ArrayModuleBackend.matmul(self, a, b)

    def _cublas(self):
        """CuPy's GEMM settings (below compute capability 8.0 it keeps float32 for TF32
        and bfloat16, and warns)."""
        return self.xp._core._routines_linalg

    def synchronize(self):
        self.xp.cuda.get_current_stream().synchronize()

    def to_numpy(self, buf):
        return self.xp.asnumpy(buf)

    def capturing(self):
        return self.xp.cuda.get_current_stream().is_capturing()

    def full(self, shape, value, dtype):
        # cupy.full asks numpy.can_cast about the value, which NumPy 2 refuses for Python
        # (and NumPy float64) scalars: the value goes as a 0-d array of its dtype
        return self.xp.full(shape, numpy.asarray(value, dtype=dtype.np), dtype=dtype.np)

    @_bfloat16_in_float32
    def scatter_add(self, shape, axis, index, src):
        """cupy.add.at takes 32- and 64-bit numbers and float16 only: narrower integers
        and bools add in 32 bits (wrapping back as PyTorch's; bools: any), bfloat16 in
        float32, complex numbers as their real and imaginary parts."""
        xp, kind = self.xp, src.dtype.kind
        add = functools.partial(ArrayModuleBackend.scatter_add, self, shape, axis, index)
        if kind == "c":
            out = xp.empty(shape, src.dtype)
            pairs = _parts(out)
            pairs[..., 0] = add(xp.ascontiguousarray(src.real))
            pairs[..., 1] = add(xp.ascontiguousarray(src.imag))
            return out
        if src.dtype.itemsize < 4 and kind in "iub":
            out = add(src.astype(numpy.uint32 if kind == "u" else numpy.int32))
            return out != 0 if kind == "b" else out.astype(src.dtype)
        return add(src)

    def log(self, x):
        return self._complex_log(x, self.xp.log(x))

    def fast_log1p(self, x):
        return self._complex_log(x, self.xp.log1p(x))

    def _complex_log(self, x, out):
        """``out`` (log or log1p of x), and where a part of a complex x is infinite or
        NaN, log|x| + i arg(x), from hypot and atan2 (CuPy's complex log gives NaN + NaN i at
        inf + NaN i and NaN + inf i, C's +inf + NaN i)."""
        xp = self.xp
        if x.dtype.kind != "c":
            return out
        re, im = x.real, x.imag
        return _annex_g(xp, x, out, xp.log(xp.hypot(re, im)), xp.arctan2(im, re))

    def sign(self, x):
        """NumPy's: z / |z|, and where a part is infinite, the unit along it (NaN when
        both are; CuPy's gives NaN wherever one is)."""
        xp, out = self.xp, self.xp.sign(x)
        if x.dtype.kind != "c":
            return out
        parts = x.real, x.imag
        one = xp.isinf(parts[0]) ^ xp.isinf(parts[1])
        unit = [xp.where(one, xp.where(xp.isinf(p), xp.copysign(xp.ones_like(p), p), 0), xp.nan)
                for p in parts]
        return _annex_g(xp, x, out, *unit)

    def sin(self, x):
        """Where a part is infinite or NaN, sin x cosh y + i cos x sinh y with a zero part
        kept and an infinite y's imaginary part +inf once x is not finite (glibc's csin,
        which NumPy's is)."""
        xp, out = self.xp, self.xp.sin(x)
        if x.dtype.kind != "c":
            return out
        re, im = x.real, x.imag
        odd_x = ~xp.isfinite(re) & xp.isinf(im)
        return _annex_g(xp, x, out, xp.where(re == 0, re, xp.sin(re) * xp.cosh(im)),
                        xp.where(im == 0, im, xp.where(odd_x, xp.inf, xp.cos(re) * xp.sinh(im))))

    def tanh(self, x):
        """Where a part is infinite or NaN, Annex G's ctanh: +-1 + i0 (the sign of
        sin y cos y) for an infinite x; x + i0 for a NaN x and zero y; a zero x kept over
        a non-finite y; NaN elsewhere."""
        xp, out = self.xp, self.xp.tanh(x)
        if x.dtype.kind != "c":
            return out
        re, im = x.real, x.imag
        inf_x, nan = xp.isinf(re), xp.full_like(re, xp.nan)
        zero_sign = xp.where(xp.isfinite(im), xp.sin(im) * xp.cos(im), im)
        return _annex_g(
            xp, x, out,
            xp.where(inf_x, xp.copysign(xp.ones_like(re), re),
                     xp.where(xp.isnan(re) | (re == 0), re, nan)),
            xp.where(inf_x, xp.copysign(xp.zeros_like(im), zero_sign),
                     xp.where(xp.isnan(re) & (im == 0), im, nan)))

    def fast_expm1(self, x):
        """A complex x's as NumPy's: expm1(x) cos y - 2 sin^2(y / 2) + i exp(x) sin y, exact
        near 0 and NaN or infinite as NumPy's at every special part (CuPy's is not)."""
        xp = self.xp
        if x.dtype.kind != "c":
            return xp.expm1(x)
        re, im = x.real, x.imag
        half = xp.sin(im / 2)
        return _joined(xp, xp.expm1(re) * xp.cos(im) - 2 * half * half,
                       xp.exp(re) * xp.sin(im), x.dtype)

    def div(self, a, b):
        """Complex quotients by NumPy's rule (Smith's, and a zero divisor dividing each part
        by +0): CuPy's scales by |b.real| + |b.imag|, so 1 / (inf + 0i) is NaN, not 0."""
        xp = self.xp
        if "c" not in (a.dtype.kind, b.dtype.kind):
            return xp.true_divide(a, b)
        ar, ai, br, bi = a.real, a.imag, b.real, b.imag
        size_r, size_i = xp.abs(br), xp.abs(bi)
        by_real = size_r >= size_i
        zero = (size_r == 0) & (size_i == 0)
        rat = xp.where(by_real, bi / br, br / bi)
        scale = 1 / xp.where(by_real, br + bi * rat, bi + br * rat)
        re = xp.where(by_real, (ar + ai * rat) * scale, (ar * rat + ai) * scale)
        im = xp.where(by_real, (ai - ar * rat) * scale, (ai * rat - ar) * scale)
        return _joined(xp, xp.where(zero, ar / size_r, re), xp.where(zero, ai / size_r, im),
                       xp.result_type(a, b))

    @_bfloat16_in_float32
    def fast_remainder(self, x, y):
        """NumPy's remainder from C's exact fmod: CuPy's gives +0 where the divisor is
        negative and NaN for x % inf."""
        xp = self.xp
        if x.dtype.kind != "f":
            return xp.remainder(x, y)
        r = xp.fmod(x, y)
        r = xp.where((r != 0) & ((r < 0) != (y < 0)), r + y, r)
        return xp.where(r == 0, xp.copysign(xp.zeros_like(r), y), r)

    @_bfloat16_in_float32
    def fast_floor_divide(self, x, y):
        """NumPy's floored quotient (its divmod from C's exact fmod: CuPy's floor(x / y)
        loses a quotient that underflows, tiny // -max giving -0 for -1), and floor(x / y)
        where an operand is infinite, as ember.floor_divide."""
        xp = self.xp
        if x.dtype.kind != "f":
            return xp.floor_divide(x, y)
        mod = xp.fmod(x, y)
        div = (x - mod) / y
        div = xp.where((mod != 0) & ((y < 0) != (mod < 0)), div - 1, div)
        floor = xp.floor(div)
        floor = xp.where(div - floor > 0.5, floor + 1, floor)
        q = x / y
        floor = xp.where(div == 0, xp.copysign(xp.zeros_like(q), q), floor)
        return xp.where((y == 0) | xp.isinf(x) | xp.isinf(y), xp.floor(q), floor)

    def fast_left_shift(self, x, y):
        """NumPy's: 0 for a count below 0 or of the width or more (CUDA masks it)."""
        xp, bits = self.xp, 8 * x.dtype.itemsize
        out = xp.left_shift(x, xp.clip(y, 0, bits - 1).astype(y.dtype))
        return xp.where((y < 0) | (y >= bits), xp.zeros_like(out), out)

    def fast_right_shift(self, x, y):
        """NumPy's: past the width (or below 0) 0, or -1 for a negative x."""
        xp, bits = self.xp, 8 * x.dtype.itemsize
        out = xp.right_shift(x, xp.clip(y, 0, bits - 1).astype(y.dtype))
        return xp.where((y < 0) | (y >= bits), -(x < 0).astype(out.dtype), out)

    # -- fused fast paths ------------------------------------------------------
    @_bfloat16_in_float32
    def fast_sigmoid(self, x):
        acc = "double" if x.dtype == self.xp.float64 else "float"
        return fused.sigmoid(self.xp, acc)(x)

    def fast_softmax(self, x, axis):
        return self._rowwise(x, axis, log_mode=0)

    def fast_log_softmax(self, x, axis):
        return self._rowwise(x, axis, log_mode=1)

    def _rowwise(self, x, axis, log_mode):
        cupy = self.xp
        if x.size == 0:
            return cupy.empty_like(x)
        moved = cupy.ascontiguousarray(cupy.moveaxis(x, axis, -1))
        work = moved if moved.dtype.itemsize > 2 else moved.astype(cupy.float32)
        cols = work.shape[-1]
        rows = work.size // cols
        out = cupy.empty_like(work)
        kernel = fused.softmax_rows(cupy, "double" if work.dtype == cupy.float64 else "float")
        kernel((rows,), (_BLOCK,), (work, out, cupy.int64(rows), cupy.int64(cols),
                                    cupy.int32(log_mode)),
               shared_mem=_BLOCK * work.itemsize)
        return cupy.moveaxis(out.astype(x.dtype, copy=False), -1, axis)

    def fast_capture(self, graph, aliases, fresh):
        """The graph recorded as CUDA graphs and launched per call (capture.py): arguments
        are copied into the captured input buffers, state (parameters, optimizer moments)
        is updated in place inside the launch, and the function's results (``fresh``)
        are copied out; other state, such as gradients, is handed back in the captured
        buffers. Graphs that draw random numbers or compute (LAPACK) on the host are not
        captured."""
        if any(n.name in ("random", "lapack", "fft") for n in graph.nodes):
            return None
        return capture.record(self, graph, aliases, fresh)

    def fast_sgd_step(self, p, g, buf, lr, momentum, dampening, weight_decay, nesterov):
        if p.dtype == dt.bfloat16.np:           # the rule in array operations, as NumPy's
            return ArrayModuleBackend.fast_sgd_step(self, p, g, buf, lr, momentum, dampening,
                                                    weight_decay, nesterov)
        t = p.dtype.type
        first = buf is None
        new_p, new_buf = fused.sgd_step(self.xp)(p, g, g if first else buf, _scalar(t, lr),
                                                 t(momentum), t(dampening), t(weight_decay),
                                                 int(nesterov), int(first))
        return new_p, new_buf if momentum else None

    def fast_adam_step(self, p, g, m, v, vmax, lr, beta1, beta2, eps, weight_decay, decoupled,
                       step):
        if p.dtype == dt.bfloat16.np:
            return ArrayModuleBackend.fast_adam_step(self, p, g, m, v, vmax, lr, beta1, beta2,
                                                     eps, weight_decay, decoupled, step)
        t = p.dtype.type
        ams = vmax is not None
        out = fused.adam_step(self.xp)(
            p, g, m, v, vmax if ams else v, _scalar(t, lr), t(beta1), t(beta2), t(eps),
            t(weight_decay), int(decoupled), int(ams), _scalar(t, 1 - beta1 ** step),
            _scalar(t, (1 - beta2 ** step) ** 0.5))
        return tuple(out) if ams else tuple(out[:3]) + (None,)

    # -- flash attention (kernels/attention.cu) --------------------------------------
    def _flash(self, q, k, v, mask, keep):
        """What kernels/attention.cu reads, where it takes the call (float16, float32 and
        float64 with features, a row of q and of v fitting a tile): q, k, v, mask and keep
        packed, the broadcast batch, the offsets table on the device and the strides of
        mask and keep. None for the array-module path: also under a CUDA-graph capture
        that finds no table for its layout (a capture cannot upload one; the eager calls
        before it, of the same shapes, leave theirs)."""
        e, ev = q.shape[-1], v.shape[-1]
        if q.dtype not in _FLASH_STORES or not min(e, ev) \
                or (e + ev + 2) * _computed(q.dtype).itemsize > _FLASH_TILES:
            return None
        arrays, batch, offsets, strides = self._attention_layout(q, k, v, mask, keep)
        key = (self.xp.__name__, offsets)       # (tests run these rules with NumPy's)
        table = _TABLES.get(key)
        if table is None:
            if self.capturing():
                return None
            if len(_TABLES) >= 256:
                _TABLES.clear()
            table = _TABLES[key] = self.xp.asarray(numpy.array(offsets, numpy.int64))
        return arrays, batch, table, strides

    def fast_attention(self, q, k, v, mask, keep, scale, causal):
        """Flash attention in one kernel: a block of 64 query rows streams the keys and
        values through shared memory with an online softmax (the L x S scores are never
        stored); the state kept for backward is each row's log-sum-exp (float16 computes
        in float32 and keeps its log-sum-exps there)."""
        layout = self._flash(q, k, v, mask, keep)
        if layout is None:              # (16-bit inputs: in float32, the output rounded)
            lse, out = ArrayModuleBackend.fast_attention(
                self, *map(_wide, (q, k, v, mask, keep)), scale, causal)
            return lse, out.astype(q.dtype, copy=False)
        batch, length = layout[1], q.shape[-2]
        out = self.xp.empty(batch + (length, v.shape[-1]), q.dtype)
        lse = self.xp.empty(batch + (length,), _computed(q.dtype))
        if out.size:
            # 0 * v summed: NaN when a value is not finite, so that keys weighing 0 count
            with numpy.errstate(invalid="ignore"):
                poison = (v * 0).sum(dtype=lse.dtype).reshape(1)
            self._attention_launch("attention", layout, length, (out, lse, poison), causal,
                                   scale)
        return lse, out

    def fast_attention_grad(self, g, q, k, v, mask, keep, scale, causal, lse, out):
        """dq over blocks of query rows (and rowsum(g * out) on the way), then dk and dv
        over blocks of key rows, each probability recomputed from the log-sum-exp."""
        layout = self._flash(q, k, v, mask, keep)
        if layout is None:
            grads = ArrayModuleBackend.fast_attention_grad(
                self, *map(_wide, (g, q, k, v, mask, keep)), scale, causal, _wide(lse),
                _wide(out))
            return tuple(d.astype(q.dtype, copy=False) for d in grads)
        xp, batch = self.xp, layout[1]
        dq, dk, dv = grads = tuple(xp.empty(batch + x.shape[-2:], q.dtype) for x in (q, k, v))
        if not (dq.size and dk.size):       # no query sees a key: zero gradients
            return tuple(xp.zeros_like(d) for d in grads)      # (else the kernels write all)
        g = xp.ascontiguousarray(xp.broadcast_to(g, out.shape))
        # (a log-sum-exp from the array-module path is in q's dtype)
        out, lse = xp.ascontiguousarray(out), xp.ascontiguousarray(lse, _computed(q.dtype))
        rowdot = xp.empty(lse.shape, lse.dtype)
        self._attention_launch("attention_dq", layout, q.shape[-2], (dq, rowdot, g, out, lse),
                               causal, scale)
        self._attention_launch("attention_dkv", layout, k.shape[-2], (dk, dv, g, rowdot, lse),
                               causal, scale)
        return grads

    def _attention_layout(self, q, k, v, mask, keep):
        """q, k, v, mask and keep packed (mask and keep in q's dtype where they are
        numbers), the broadcast batch, and ``attention_table``'s offsets (a tuple) and
        strides."""
        xp = self.xp
        batch = tuple(numpy.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2]))
        arrays = [None if x is None else xp.ascontiguousarray(
            x, dtype=x.dtype if x.dtype == numpy.bool_ else q.dtype)
            for x in (q, k, v, mask, keep)]
        return (arrays, batch) + attention_table(
            batch, [None if x is None else (x.shape, 0) for x in arrays])

    def _attention_launch(self, name, layout, rows, outputs, causal, scale):
        """Kernel ``name`` of kernels/attention.cu over ``rows`` rows of each batch entry,
        in blocks of _FLASH_ROWS, with tiles of as many of the other side's rows as fit
        _FLASH_TILES."""
        (q, k, v, mask, keep), batch, table, ((msl, mss), (ksl, kss)) = layout
        e, ev, t = q.shape[-1], v.shape[-1], _computed(q.dtype)
        tile = max(1, min(_FLASH_ROWS, _FLASH_TILES // t.itemsize // (e + ev + 2)))
        bool_mask = mask is not None and mask.dtype == numpy.bool_
        store, half = _FLASH_STORES[numpy.dtype(q.dtype)]
        defines = {"T": "double" if t == numpy.float64 else "float", "STORE": store,
                   "HALF": half, "E": e, "EV": ev, "BM": _FLASH_ROWS, "BN": tile,
                   "CAUSAL": int(causal), "MASK": 0 if mask is None else 1 if bool_mask else 2,
                   "MT": "unsigned char" if bool_mask else "STORE",
                   "KEEP": int(keep is not None)}
        count = int(numpy.prod(batch, dtype=numpy.int64))
        args = outputs + (q, k, v, q if mask is None else mask, q if keep is None else keep,
                          table, numpy.int32(q.shape[-2]), numpy.int32(k.shape[-2]),
                          t.type(scale), numpy.int64(msl), numpy.int64(mss), numpy.int64(ksl),
                          numpy.int64(kss))
        self._launch("attention.cu", name, defines, (count, -(-rows // _FLASH_ROWS)),
                     (_FLASH_ROWS,), args)

    def _launch(self, source, name, defines, grid, block, args):
        """Kernel ``name`` of kernels/``source`` built with ``defines`` (once a process),
        on the current stream."""
        module = fused.module(self.xp, source, tuple(defines.items()))
        module.get_function(name)(grid, block, args)
