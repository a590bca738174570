"""CUDA through CuPy: the NumPy backend's table with xp = cupy, CuPy's memory
pool, cuBLAS matmul, and fused kernels as fast paths for hot composites."""

from pathlib import Path

from ember import dtypes as dt
from ember.backends.numpy.backend import ArrayModuleBackend

_KERNELS = Path(__file__).with_name("kernels")
_BLOCK = 256


def _import_cupy():
    import cupy
    return cupy


class CupyBackend(ArrayModuleBackend):
    """NVIDIA GPUs through CuPy (any CuPy wheel: cupy-cuda12x, cupy-cuda13x...)."""

    name = "cupy"
    dtypes = frozenset(dt.ALL)
    _active = None  # the one CUDA device this process computes on

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
        self._softmax = None

    def info(self):
        cupy = self.xp
        pool = cupy.get_default_memory_pool()
        return [f"CuPy {cupy.__version__}, CUDA runtime {cupy.cuda.runtime.runtimeGetVersion()}",
                f"memory pool: {pool.used_bytes() / 2**20:.1f} MiB used, "
                f"{pool.total_bytes() / 2**20:.1f} MiB held"]

    def synchronize(self):
        self.xp.cuda.get_current_stream().synchronize()

    def to_numpy(self, buf):
        return self.xp.asnumpy(buf)

    # -- fused fast paths ------------------------------------------------------
    def fast_sigmoid(self, x):
        return _sigmoid_kernel(self.xp, x.dtype)(x)

    def fast_softmax(self, x, axis):
        return self._rowwise(x, axis, log_mode=0)

    def fast_log_softmax(self, x, axis):
        return self._rowwise(x, axis, log_mode=1)

    def _rowwise(self, x, axis, log_mode):
        cupy = self.xp
        if x.size == 0:
            return cupy.empty_like(x)
        moved = cupy.ascontiguousarray(cupy.moveaxis(x, axis, -1))
        work = moved if moved.dtype != cupy.float16 else moved.astype(cupy.float32)
        cols = work.shape[-1]
        rows = work.size // cols
        out = cupy.empty_like(work)
        kernel = self._softmax_kernel(work.dtype)
        kernel((rows,), (_BLOCK,), (work, out, cupy.int64(rows), cupy.int64(cols),
                                    cupy.int32(log_mode)),
               shared_mem=_BLOCK * work.itemsize)
        return cupy.moveaxis(out.astype(x.dtype, copy=False), -1, axis)

    def _softmax_kernel(self, dtype):
        cupy = self.xp
        if self._softmax is None:
            self._softmax = cupy.RawModule(
                code=(_KERNELS / "softmax.cu").read_text(),
                name_expressions=["softmax_rows<float>", "softmax_rows<double>"])
        ctype = "float" if dtype == cupy.float32 else "double"
        return self._softmax.get_function(f"softmax_rows<{ctype}>")


_SIGMOID = {}


def _sigmoid_kernel(cupy, dtype):
    """1 / (1 + exp(-x)) as 0.5 tanh(x / 2) + 0.5 in one pass; float math below float64."""
    acc = "double" if dtype == cupy.float64 else "float"
    if acc not in _SIGMOID:
        _SIGMOID[acc] = cupy.ElementwiseKernel(
            "T x", "T y", f"y = (T)(({acc})0.5 * tanh(({acc})0.5 * ({acc})x) + ({acc})0.5)",
            f"ember_sigmoid_{acc}")
    return _SIGMOID[acc]
