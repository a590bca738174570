"""The CuPy backend's CUDA kernels without a GPU: CI has none.

- kernels/attention.cu reads as OpenCL C too, so its flash attention runs here on pocl,
  through the CuPy backend's own host code with NumPy as the array module (as
  test_cupy_rules.py runs its other rules), against attention in float64.
- Every CUDA source compiles with NVRTC (the compiler CuPy calls), where the
  nvidia-cuda-nvrtc wheel is installed: it needs no GPU.
"""

import ctypes
import functools
import importlib.util
from pathlib import Path

import numpy as np
import pytest

import ember
from ember.backends.cupy import backend as cupy_backend
from ember.backends.numpy.backend import NumpyBackend

SOURCES = Path(cupy_backend.__file__).with_name("kernels")
FLASH = ("_flash", "fast_attention", "fast_attention_grad", "_attention_layout",
         "_attention_launch")


def _rules(launch):
    """A NumPy backend with the CuPy backend's attention, each kernel launch ``launch``."""
    rules = {name: getattr(cupy_backend.CupyBackend, name) for name in FLASH}
    return type("CupyAttentionOnNumpy", (NumpyBackend,), dict(rules, _launch=launch))()


def _on_pocl():
    """The CuPy backend's attention on NumPy arrays, each kernel launch run by pocl."""
    available, why = ember.config.availability("opencl")
    if not available:
        pytest.skip(f"OpenCL runs attention.cu here: {why}")
    import pyopencl as cl
    context = ember.get_backend("opencl").context
    queue = cl.CommandQueue(context)
    flags = cl.mem_flags.READ_WRITE | cl.mem_flags.COPY_HOST_PTR

    @functools.lru_cache(maxsize=None)
    def program(source, defines):
        head = "".join(f"#define {name} {value}\n" for name, value in defines)
        return cl.Program(context, head + (SOURCES / source).read_text()).build()

    @functools.lru_cache(maxsize=None)
    def built(source, defines, name):
        return cl.Kernel(program(source, defines), name)

    def launch(self, source, name, defines, grid, block, args):
        arrays = [a for a in args if isinstance(a, np.ndarray)]
        buffers = {id(a): cl.Buffer(context, flags, hostbuf=np.ascontiguousarray(a)
                                    if a.size else np.zeros(1, a.dtype)) for a in arrays}
        kernel = built(source, tuple(defines.items()), name)
        kernel(queue, (grid[0] * block[0], grid[1]), (block[0], 1),
               *[buffers[id(a)] if isinstance(a, np.ndarray) else a for a in args])
        for a in arrays:
            if a.size and a.flags.writeable:          # the outputs
                cl.enqueue_copy(queue, a, buffers[id(a)])
        queue.finish()

    return _rules(launch)


@pytest.fixture(scope="module")
def flash():
    return _on_pocl()


def _dense(q, k, v, mask, keep, scale, g):
    """Attention and its gradients over the broadcast batch, from the L x S matrix in
    float64: the reference; and beside each, the size of its terms (the same sums of
    their magnitudes), which a result's rounding is held to."""
    q, k, v, g = (x.astype(np.float64) for x in (q, k, v, g))
    s = q @ np.swapaxes(k, -1, -2) * scale
    if mask is not None:
        s = np.where(mask, s, -np.inf) if mask.dtype == bool else s + mask
    top = s.max(axis=-1, keepdims=True)
    top[top == -np.inf] = 0
    e = np.exp(s - top)
    total = e.sum(axis=-1, keepdims=True)
    p = e / np.where(total == 0, 1, total)
    kept = p if keep is None else p * keep
    dp = g @ np.swapaxes(v, -1, -2) * (1 if keep is None else keep)
    rowdot = (dp * p).sum(axis=-1, keepdims=True)
    ds, ds_size = p * (dp - rowdot), p * (np.abs(g) @ np.swapaxes(np.abs(v), -1, -2)
                                          * (1 if keep is None else keep) + np.abs(rowdot))
    batch = s.shape[:-2]
    t = lambda x: np.swapaxes(x, -1, -2)        # noqa: E731
    wide = lambda x, like: np.broadcast_to(x, batch + like.shape[-2:])    # noqa: E731
    return ((kept @ v, kept @ np.abs(v)),
            (ds @ k * scale, ds_size @ np.abs(k) * scale),
            (wide(t(ds) @ q * scale, k), wide(t(ds_size) @ np.abs(q) * scale, k)),
            (wide(t(kept) @ g, v), wide(t(kept) @ np.abs(g), v)))


def _assert_close(got, want, size, rtol, what):
    """Each element of ``got`` within rtol of its ``size`` (the sum of its terms'
    magnitudes) of ``want``: where that is 0, exactly."""
    err = np.abs(got.astype(np.float64) - want)
    bad = ~(err <= rtol * size)
    assert not bad.any(), (f"{what}: {bad.sum()} of {bad.size} off, worst "
                           f"{np.max(err[bad] / np.maximum(rtol * size[bad], 1e-300)):.3g} x "
                           "the bound")


CASES = {
    "plain": dict(),
    "bool mask, a row masked whole": dict(mask="bool"),
    "float mask, broadcast over rows": dict(mask="float"),
    "causal": dict(causal=True),
    "causal, dropout": dict(causal=True, keep=True),
    "bool mask, dropout": dict(mask="bool", keep=True),
}


BFLOAT16 = ember.bfloat16.np


#: dtype -> its tolerance, in units of each result's size
RTOL = {BFLOAT16: 2e-2, "float16": 2e-3, "float32": 2e-5, "float64": 1e-12}


@pytest.mark.parametrize("case,dtype", [(case, "float32") for case in CASES] + [
    (case, dtype) for dtype in (BFLOAT16, "float16", "float64") for case in (
        "bool mask, a row masked whole", "causal, dropout", "float mask, broadcast over rows")])
def test_flash_attention_kernel_matches_float64_attention(flash, case, dtype):
    """Broadcast batch axes (grouped heads), more query rows than a block, more keys than a
    tile, and features that are neither: forward, log-sum-exp and gradients. Every case
    in float32; in the other dtypes, which change only how values are read, written and
    computed, the cases that read every input (each pocl build is 1.5 s here)."""
    rtol = RTOL[dtype]
    kw = CASES[case]
    causal = kw.get("causal", False)
    rng = np.random.default_rng(0)
    length, source = (130, 130) if causal else (70, 150)
    q = rng.standard_normal((2, 3, length, 24)).astype(dtype)
    k = rng.standard_normal((1, 3, source, 24)).astype(dtype)
    v = rng.standard_normal((2, 1, source, 5)).astype(dtype)
    g = rng.standard_normal((2, 3, length, 5)).astype(dtype)
    mask = keep = None
    if kw.get("mask") == "bool":
        mask = rng.random((2, 1, length, source)) < 0.7
        mask[1, 0, 3] = False               # a row that may attend nowhere
    elif kw.get("mask") == "float":
        mask = rng.standard_normal((source,)).astype(dtype)
    if kw.get("keep"):
        keep = ((rng.random((2, 3, length, source)) < 0.8) / 0.8).astype(dtype)
    if causal:      # the core hands a causal call its triangle as the mask too
        mask = np.tril(np.ones((length, source), bool))
    scale = 1 / np.sqrt(24)
    (want, size), *grads = _dense(q, k, v, mask, keep, scale, g)
    lse, out = flash.fast_attention(q, k, v, mask, keep, scale, causal)
    assert out.dtype == dtype and out.shape == want.shape
    _assert_close(out, want, size, rtol, "output")
    if kw.get("mask") == "bool":
        assert np.all(out[1, :, 3] == 0) and np.all(lse[1, :, 3] == np.inf)
    got = flash.fast_attention_grad(g, q, k, v, mask, keep, scale, causal, lse, out)
    for name, d, (w, size) in zip("qkv", got, grads):
        assert d.shape == w.shape, name
        _assert_close(d, w, size, rtol, f"d{name}")


def test_flash_attention_kernel_spreads_a_non_finite_value_as_numpys(flash):
    """An infinite value weighs 0 where a row may not attend, and 0 * inf is NaN, as
    PyTorch's attention gives (the NumPy backend does the same); a key no row sees is
    visited for it too, past a causal row's end (a row that attends it gives inf)."""
    rng = np.random.default_rng(1)
    q, k = (rng.standard_normal((1, 80, 8)).astype(np.float32) for _ in range(2))
    v = rng.standard_normal((1, 80, 8)).astype(np.float32)
    v[0, 77, 2] = np.inf
    mask = np.ones((80, 80), bool)
    mask[:, 77] = False
    for m, causal in ((mask, False), (np.tril(np.ones((80, 80), bool)), True)):
        _, got = flash.fast_attention(q, k, v, m, None, 0.3, causal)
        _, want = NumpyBackend().fast_attention(q, k, v, m, None, 0.3, causal)
        assert np.array_equal(np.isnan(got), np.isnan(want)) and np.isnan(got[0, :77, 2]).all()
        others = [c for c in range(8) if c != 2]        # every value finite
        (value, size), *_ = _dense(q, k, v[..., others], m, None, 0.3, q[..., others])
        _assert_close(got[..., others], value, size, 2e-5, "the other columns")


def test_flash_attention_takes_empty_axes_and_leaves_wide_rows_to_the_array_path(flash):
    q = np.ones((2, 0, 4), np.float32)
    lse, out = flash.fast_attention(q, q, np.ones((2, 0, 3), np.float32), None, None, 1.0, False)
    assert out.shape == (2, 0, 3) and lse.shape == (2, 0)
    q, kv = np.ones((1, 3, 4), np.float32), np.ones((1, 0, 4), np.float32)
    lse, out = flash.fast_attention(q, kv, kv, None, None, 1.0, False)
    assert np.all(out == 0) and np.all(lse == np.inf)       # nowhere to attend
    grads = flash.fast_attention_grad(np.ones((1, 3, 4), np.float32), q, kv, kv, None, None,
                                      1.0, False, lse, out)
    assert [d.shape for d in grads] == [(1, 3, 4), (1, 0, 4), (1, 0, 4)]
    assert np.all(grads[0] == 0)
    wide = np.random.default_rng(0).standard_normal((1, 3, 8190)).astype(np.float32)
    assert flash._flash(wide, wide, wide[..., :4], None, None) is None   # too wide for a tile
    assert flash._flash(*(wide[..., :4],) * 3, None, None) is not None
    for got, want in zip(flash.fast_attention(wide, wide, wide[..., :4], None, None, 0.01, False),
                         NumpyBackend().fast_attention(wide, wide, wide[..., :4], None, None,
                                                       0.01, False)):
        assert np.array_equal(got, want)       # the array-module path, unchanged
    half = wide.astype(np.float16)             # in float32, the results rounded once
    lse, out = flash.fast_attention(half, half, half[..., :4], None, None, 0.01, False)
    want_lse, want = NumpyBackend().fast_attention(*(x.astype(np.float32) for x in (
        half, half, half[..., :4])), None, None, 0.01, False)
    assert lse.dtype == np.float32 and out.dtype == np.float16
    assert np.array_equal(out, want.astype(np.float16)) and np.array_equal(lse, want_lse)
    g = np.ones((1, 3, 4), np.float16)
    grads = flash.fast_attention_grad(g, half, half, half[..., :4], None, None, 0.01, False,
                                      lse, out)
    wants = NumpyBackend().fast_attention_grad(*(x.astype(np.float32) for x in (
        g, half, half, half[..., :4])), None, None, 0.01, False, lse, out.astype(np.float32))
    for d, w in zip(grads, wants):
        assert d.dtype == np.float16 and np.array_equal(d, w.astype(np.float16))


def test_a_cuda_graph_capture_takes_the_kernel_where_an_eager_call_left_its_table(flash):
    """A capture cannot upload an offsets table: it finds the one an eager call of the same
    layout left (a compiled step's traces run eagerly first) and runs the kernel, the same
    numbers; a layout never seen takes the array-module path instead."""
    launches, launch = [], type(flash)._launch

    def counted(self, *args):
        launches.append(args[1])
        return launch(self, *args)
    rules = type("Counted", (type(flash),), {"_launch": counted})()
    rng = np.random.default_rng(2)
    q, k, v = (rng.standard_normal((2, 70, 8)).astype(np.float32) for _ in range(3))
    eager = rules.fast_attention(q, k, v, None, None, 0.3, False)
    assert launches == ["attention"]
    rules.capturing = lambda: True
    captured = rules.fast_attention(q, k, v, None, None, 0.3, False)
    assert launches == ["attention"] * 2
    for a, b in zip(eager, captured):
        assert np.array_equal(a, b)
    other = rules.fast_attention(q[:, :5], k[:, :7], v[:, :7], None, None, 0.3, False)
    assert launches == ["attention"] * 2          # a new layout: the array-module path
    numpy_backend = NumpyBackend()
    numpy_backend.capturing = lambda: True          # (its general path, as under a capture)
    want = numpy_backend.fast_attention(q[:, :5], k[:, :7], v[:, :7], None, None, 0.3, False)
    for a, b in zip(other, want):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("dtype", [np.float16, BFLOAT16])
def test_16_bit_attention_rounds_once_to_nearest_even_from_float32(flash, dtype):
    """16-bit floats are read into float32 exactly and rounded back once, to nearest even
    (the kernel's own conversions, portable to both languages): one key gives every value
    back bit for bit (subnormals, the limits, inf; NaN stays NaN), two keys of equal score
    their float32 mean rounded as NumPy (ml_dtypes for bfloat16) rounds it."""
    every = np.arange(2 ** 16, dtype=np.uint16).view(dtype).reshape(1024, 1, 64)
    zero = np.zeros((1024, 1, 1), dtype)         # 1024 entries, one key of 64 values
    _, out = flash.fast_attention(zero, zero, every, None, None, 1.0, False)
    wide, got = every.astype(np.float32), out.astype(np.float32)
    same = np.where(np.isnan(wide), np.isnan(got), (out.view(np.uint16) == every.view(np.uint16))
                    | (wide == 0) & (got == 0))       # -0: the weighted sum starts at +0
    assert same.all(), every[~same][:4]
    rng = np.random.default_rng(0)
    bits = rng.integers(0, 2 ** 16, (2, 4096), dtype=np.uint16).view(dtype)
    pair = np.stack([bits[0], bits[1]]).T.reshape(4096, 2, 1)        # two keys each
    _, out = flash.fast_attention(np.zeros((4096, 1, 1), dtype), np.zeros((4096, 2, 1), dtype),
                                  pair, None, None, 1.0, False)
    with np.errstate(all="ignore"):
        want = ((pair[:, 0].astype(np.float32) + pair[:, 1].astype(np.float32))
                * np.float32(0.5)).astype(dtype)
    got, nan = out[:, 0], np.isnan(want.astype(np.float32))
    same = np.where(nan, np.isnan(got.astype(np.float32)),
                    got.view(np.uint16) == want.view(np.uint16))
    assert same.all(), [(pair[i, :, 0], got[i], want[i]) for i in np.flatnonzero(~same)[:4]]


def _nvrtc():
    """NVRTC from the nvidia-cuda-nvrtc wheel (its builtins loaded first, by path), or a
    skip."""
    spec = importlib.util.find_spec("nvidia")
    found = [p for root in (spec.submodule_search_locations if spec else [])
             for p in sorted(Path(root).glob("cu*/lib/libnvrtc.so*")) if "alt" not in p.name]
    if not found:
        pytest.skip("NVRTC is not installed (pip install nvidia-cuda-nvrtc)")
    for builtins in sorted(found[0].parent.glob("libnvrtc-builtins.so*")):
        if "alt" not in builtins.name:
            ctypes.CDLL(str(builtins), mode=ctypes.RTLD_GLOBAL)
    return ctypes.CDLL(str(found[0]))


def _compile(nvrtc, code, name):
    program = ctypes.c_void_p()
    assert nvrtc.nvrtcCreateProgram(ctypes.byref(program), code.encode(), name.encode(), 0,
                                    None, None) == 0
    options = [b"--gpu-architecture=compute_80", b"-std=c++17"]
    result = nvrtc.nvrtcCompileProgram(program, len(options),
                                       (ctypes.c_char_p * len(options))(*options))
    size = ctypes.c_size_t()
    nvrtc.nvrtcGetProgramLogSize(program, ctypes.byref(size))
    log = ctypes.create_string_buffer(size.value)
    nvrtc.nvrtcGetProgramLog(program, log)
    nvrtc.nvrtcDestroyProgram(ctypes.byref(program))
    return result, log.value.decode(errors="replace")


def test_every_cuda_source_compiles_with_nvrtc():
    """Each kernel file, attention.cu in every variant of its preprocessor the backend
    builds (dtype, mask, dropout), through the compiler CuPy calls."""
    nvrtc = _nvrtc()
    built = set()
    flash = _rules(lambda self, source, name, defines, grid, block, args:
                   built.add((source, tuple(defines.items()))))
    rng = np.random.default_rng(0)
    for dtype in (BFLOAT16, "float16", "float32", "float64"):
        q = rng.standard_normal((2, 4, 16)).astype(dtype)
        for mask in (None, np.ones((4, 4), bool), np.zeros((4, 4), dtype)):
            for keep in (None, np.ones((2, 4, 4), dtype)):
                # (CAUSAL is only ever read in expressions: both sides compile either way)
                flash.fast_attention(q, q, q, mask, keep, 0.25, True)
    assert len(built) == 4 * 3 * 2
    others = [(path.name, ()) for path in sorted(SOURCES.glob("*.cu"))
              if path.name != "attention.cu"]
    for source, defines in others + sorted(built):
        head = "".join(f"#define {name} {value}\n" for name, value in defines)
        result, log = _compile(nvrtc, head + (SOURCES / source).read_text(), source)
        assert result == 0, f"{source} {dict(defines)}:\n{log}"
