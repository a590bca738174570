"""CUDA graphs of compiled steps: a Graph's replay recorded once with CuPy's stream
capture and launched per call.

CuPy refuses any cuBLAS call while a stream is capturing (its setStream raises),
although cuBLAS itself supports capture. So matmuls inside a capture go to cuBLAS
through ctypes, on a handle and workspace of ember's own (``Gemm``); a matmul it
cannot take (float16, broadcast batches) ends the captured segment and runs
between two launches, into its fixed output buffer.
"""

import ctypes

_OP_N, _OP_T = 0, 1
_WORKSPACE = 32 * 2 ** 20


def _cublas_library():
    """The libcublas CuPy has loaded (its soname differs between CUDA majors)."""
    import cupy_backends.cuda.libs.cublas  # noqa: F401  (loads it)
    with open("/proc/self/maps") as maps:
        for line in maps:
            path = line.split()[-1]
            if "libcublas.so" in path and "Lt" not in path:
                return ctypes.CDLL(path)
    raise OSError("libcublas is not loaded")


class Gemm:
    """2-D and same-batch float32/float64 matmul through cuBLAS on ember's own handle."""

    def __init__(self, cupy, stream):
        self.cupy = cupy
        lib = self.lib = _cublas_library()
        handle = ctypes.c_void_p()
        _check(lib.cublasCreate_v2(ctypes.byref(handle)), "cublasCreate")
        self.handle = handle
        _check(lib.cublasSetStream_v2(handle, ctypes.c_void_p(stream.ptr)), "cublasSetStream")
        self.workspace = cupy.empty(_WORKSPACE, dtype=cupy.uint8)
        if hasattr(lib, "cublasSetWorkspace_v2"):
            _check(lib.cublasSetWorkspace_v2(handle, ctypes.c_void_p(self.workspace.data.ptr),
                                             ctypes.c_size_t(_WORKSPACE)), "cublasSetWorkspace")
        self.scalars = {}

    def __del__(self):
        if getattr(self, "handle", None) is not None:
            self.lib.cublasDestroy_v2(self.handle)

    @staticmethod
    def _operand(x):
        """(op, leading dimension) of a row-major matrix view for column-major cuBLAS,
        or None when x is neither row- nor column-contiguous."""
        rows, cols = x.shape[-2:]
        s0, s1 = (s // x.itemsize for s in x.strides[-2:])
        if (s1 == 1 or cols == 1) and (rows == 1 or s0 >= cols):
            return _OP_N, s0 if rows > 1 else cols
        if (s0 == 1 or rows == 1) and (cols == 1 or s1 >= rows):
            return _OP_T, s1 if cols > 1 else rows
        return None

    @staticmethod
    def takes(a, b):
        """Whether this path computes a @ b (float32/float64, 2-D or one batch axis of the
        same length, nothing empty)."""
        return a.dtype == b.dtype and a.dtype.char in "fd" and a.ndim == b.ndim <= 3 \
            and a.shape[:-2] == b.shape[:-2] and 0 not in a.shape and 0 not in b.shape

    def __call__(self, a, b):
        """a @ b on the handle's stream (``takes(a, b)`` holds)."""
        cupy = self.cupy
        if a.ndim == 3 and not (a.flags.c_contiguous and b.flags.c_contiguous):
            a, b = cupy.ascontiguousarray(a), cupy.ascontiguousarray(b)
        oa, ob = self._operand(a), self._operand(b)
        if oa is None:
            a, oa = cupy.ascontiguousarray(a), (_OP_N, a.shape[-1])
        if ob is None:
            b, ob = cupy.ascontiguousarray(b), (_OP_N, b.shape[-1])
        m, k = a.shape[-2:]
        n = b.shape[-1]
        out = cupy.empty(a.shape[:-2] + (m, n), dtype=a.dtype)
        one, zero = self._scalar(a.dtype, 1.0), self._scalar(a.dtype, 0.0)
        # row-major C = A B is column-major C^T = B^T A^T
        common = (self.handle, ob[0], oa[0], n, m, k, one, ctypes.c_void_p(b.data.ptr), ob[1],
                  ctypes.c_void_p(a.data.ptr), oa[1], zero, ctypes.c_void_p(out.data.ptr), n)
        letter = "S" if a.dtype.char == "f" else "D"
        if a.ndim == 2:
            status = getattr(self.lib, f"cublas{letter}gemm_v2")(*common)
        else:
            status = getattr(self.lib, f"cublas{letter}gemmStridedBatched")(
                *common[:9], ctypes.c_longlong(k * n), *common[9:11], ctypes.c_longlong(m * k),
                *common[11:], ctypes.c_longlong(m * n), a.shape[0])
        _check(status, "gemm")
        return out

    def _scalar(self, dtype, value):
        key = (dtype.char, value)
        if key not in self.scalars:
            self.scalars[key] = (ctypes.c_float if dtype.char == "f" else ctypes.c_double)(value)
        return ctypes.byref(self.scalars[key])


class _ending_capture:
    """Leaves no capture open when recording fails half way."""

    def __init__(self, stream):
        self.stream = stream

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if kind is not None and self.stream.is_capturing():
            try:
                self.stream.end_capture()
            except Exception:
                pass
        return False


def _check(status, what):
    if status != 0:
        raise RuntimeError(f"cuBLAS {what} failed with status {status}")


def record(backend, graph, aliases, fresh):
    """The function ``fast_capture`` returns: captures on its first call, running the
    graph's Plan (its one executor) through ``Plan.calling`` with each step recorded."""
    cupy, plan, held = backend.xp, graph.plan(backend), {}
    fresh = set(fresh)
    matmul = type(backend).matmul

    def keeping(keep):
        def through(call):
            def step(*ins):
                out = call(*ins)
                keep.append(out)
                return out
            return step
        return through

    def capture(buffers, own_gemm):
        statics = [b.copy() for b in buffers]
        plan.calling(keeping([]))(statics)   # the pool now caches a block for every buffer
        stream = cupy.cuda.Stream(non_blocking=True)
        gemm = Gemm(cupy, stream) if own_gemm else None   # else matmuls run between launches
        segments, keep = [], [gemm]      # keep: every buffer the launches write, for good
        capturing = [False]

        def through(call):
            is_matmul = getattr(call, "__func__", None) is matmul

            def step(*ins):
                if is_matmul and (gemm is None or not gemm.takes(*ins)):
                    if capturing[0]:     # not capturable: end the segment, run it between
                        segments.append(stream.end_capture())
                        capturing[0] = False
                    out = call(*ins)
                    segments.append(tuple(ins) + (out,))
                else:
                    if not capturing[0]:
                        stream.begin_capture()
                        capturing[0] = True
                    out = gemm(*ins) if is_matmul else call(*ins)
                keep.append(out)
                return out
            return step

        cupy.cuda.get_current_stream().synchronize()
        with stream, _ending_capture(stream):
            outs = plan.calling(through)(statics)
            if aliases and not capturing[0]:
                stream.begin_capture()
                capturing[0] = True
            for i, o in aliases:
                cupy.copyto(statics[i], outs[o])
            if capturing[0]:
                segments.append(stream.end_capture())
        stream.synchronize()
        for i, o in aliases:
            outs[o] = statics[i]
        held.update(segments=segments, statics=statics, outs=outs, keep=keep)

    def run(backend, buffers):
        if not held:
            import warnings
            try:
                capture(buffers, own_gemm=True)
            except Exception as exc:     # no libcublas, or cuBLAS refused the capture
                warnings.warn(f"ember.compile on cupy: matmuls run between CUDA graph launches "
                              f"({type(exc).__name__}: {exc})", RuntimeWarning, stacklevel=2)
                try:
                    capture(buffers, own_gemm=False)
                except Exception as exc:     # a fast path calls cuBLAS itself (attention)
                    warnings.warn(f"ember.compile on cupy: this step runs its kernels one by one, "
                                  f"not as a CUDA graph ({type(exc).__name__}: {exc})",
                                  RuntimeWarning, stacklevel=2)
                    held["uncaptured"] = True
        if "uncaptured" in held:
            return graph.run(backend, buffers)
        for s, b in zip(held["statics"], buffers):
            if s is not b:
                cupy.copyto(s, b)
        for seg in held["segments"]:            # on the current stream, in order
            if type(seg) is tuple:
                cupy.matmul(seg[0], seg[1], out=seg[2])
            else:
                seg.launch()
        return [o.copy() if k in fresh else o for k, o in enumerate(held["outs"])]
    return run
