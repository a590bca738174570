"""The host CPU: its model, the vector instructions it has and NumPy's BLAS.

Kernel speed on CPU devices (NumPy's BLAS, pocl, llvmpipe) depends on these more
than on anything ember chooses, so ``ember info`` and the benchmark report name them.
"""

import ctypes
import os
import platform

#: the vector-instruction flags worth naming, in the order they are printed
_FEATURES = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl",
             "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16",
             "asimd", "asimdhp", "sve", "sve2", "bf16", "i8mm")


def _cpuinfo():
    try:
        with open("/proc/cpuinfo") as f:
            return f.read()
    except OSError:
        return ""


def _field(text, *names):
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in names and value.strip():
            return value.strip()
    return None


def cpu_model():
    """The CPU's model name (``platform.processor()`` where /proc/cpuinfo is absent)."""
    return _field(_cpuinfo(), "model name", "Model", "Hardware") or platform.processor() \
        or platform.machine()


def cpu_features():
    """The vector-instruction flags of ``_FEATURES`` that the CPU reports (Linux)."""
    flags = set((_field(_cpuinfo(), "flags", "Features") or "").split())
    return [f for f in _FEATURES if f in flags]


def usable_cores():
    """The cores this process may run on (its CPU affinity; all of them off Linux)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def describe():
    """One line: model, cores and vector features."""
    features = cpu_features()
    return (f"{cpu_model()}, {os.cpu_count()} cores, "
            f"{' '.join(features) if features else 'vector features unknown'}")


def blas():
    """NumPy's BLAS as threadpoolctl sees it: library, version, the kernels it picked
    for this CPU (OpenBLAS: OPENBLAS_CORETYPE may force older ones, at half the
    speed on an AVX-512 CPU) and its threads."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (threadpoolctl is not installed)"
    found = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    if not found:
        return "unknown"
    # NumPy's own (in numpy.libs), where another package loaded a BLAS of its own too
    info = next((i for i in found if "numpy" in i.get("filepath", "")), found[0])
    kernels = f", {info['architecture']} kernels" if info.get("architecture") else ""
    openblas = info.get("internal_api") == "openblas"
    forced = os.environ.get("OPENBLAS_CORETYPE") if openblas else None
    return (f"{info.get('internal_api', '?')} {info.get('version') or ''}{kernels}"
            f"{f' (OPENBLAS_CORETYPE={forced})' if forced else ''}, "
            f"{info.get('num_threads', '?')} threads{_spin(info['filepath']) if openblas else ''}")


def _spin(path):
    """How long OpenBLAS's idle workers spin before they sleep, a core each meanwhile
    (the numpy backend shortens it: backends/numpy/threads.py)."""
    try:
        timeout = ctypes.CDLL(path).openblas_thread_timeout()     # 0: OpenBLAS's default
    except (OSError, AttributeError):
        return ""
    return f", idle workers spin 2^{min(max(timeout, 4), 30) if timeout else 28} cycles"
