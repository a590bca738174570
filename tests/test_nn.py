"""Layers against independent hand-written NumPy references, and a small CNN that learns."""

import math
import os
import re
import sys
import textwrap
import warnings

import numpy as np
import pytest

import ember
from ember.plugins import losses, nn
from ember.plugins.losses import cross_entropy
from ember.plugins.nn import functional as F
from ember.testing.checks import gradcheck, ulp_error, without_fast_paths


def conv2d_reference(x, w, b, stride, padding, dilation, groups):
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    oh = (h + 2 * padding - dilation * (kh - 1) - 1) // stride + 1
    ow = (wd + 2 * padding - dilation * (kw - 1) - 1) // stride + 1
    out = np.zeros((n, o, oh, ow))
    per = o // groups
    for oc in range(o):
        g = oc // per
        for i in range(oh):
            for j in range(ow):
                patch = xp[:, g * cg:(g + 1) * cg,
                           i * stride: i * stride + dilation * (kh - 1) + 1: dilation,
                           j * stride: j * stride + dilation * (kw - 1) + 1: dilation]
                out[:, oc, i, j] = (patch * w[oc]).sum(axis=(1, 2, 3)) + b[oc]
    return out


@pytest.mark.parametrize("stride,padding,dilation,groups", [
    (1, 0, 1, 1), (2, 1, 1, 1), (1, 2, 2, 1), (2, 1, 1, 2), (1, 1, 1, 4)])
def test_conv2d_matches_direct_convolution(stride, padding, dilation, groups):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 4, 9, 8))
    w = rng.standard_normal((8, 4 // groups, 3, 3))
    b = rng.standard_normal(8)
    got = F.conv2d(ember.tensor(x), ember.tensor(w), ember.tensor(b), stride, padding, dilation, groups)
    np.testing.assert_allclose(got.numpy(), conv2d_reference(x, w, b, stride, padding, dilation, groups),
                               rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("kernel,stride,padding,dilation", [
    (3, 1, 1, 1), (3, 2, 1, 1), (5, 2, 2, 1), (5, 1, 2, 1), (3, 1, 2, 2), (3, 2, 0, 1),
    (3, 3, 1, 1), (4, 2, 1, 2), (2, 3, 0, 1)])
def test_depthwise_conv2d_matches_direct_convolution(kernel, stride, padding, dilation):
    """groups = channels (MobileNet's) through the numpy backend's loops (each plane split
    into its stride's phases): float32 within a few roundings of float64 loops (odd
    sizes, strides up to 3, even kernels, a CNHW-strided input as a conv's output is),
    float64 to its precision; gradients against finite differences."""
    rng = np.random.default_rng(kernel * 10 + stride)
    x, w, b = rng.standard_normal((2, 6, 11, 9)), rng.standard_normal((6, 1, kernel, kernel)), \
        rng.standard_normal(6)
    want = conv2d_reference(x, w, b, stride, padding, dilation, 6)
    scale = conv2d_reference(np.abs(x), np.abs(w), np.abs(b), stride, padding, dilation, 6)
    cnhw = ember.tensor(np.ascontiguousarray(x.transpose(1, 0, 2, 3)), dtype=ember.float32)
    for xs, dtype, eps in ((ember.tensor(x, dtype=ember.float32), ember.float32, 2 ** -24),
                           (cnhw.permute(1, 0, 2, 3), ember.float32, 2 ** -24),
                           (ember.tensor(x), ember.float64, 2 ** -53)):
        got = F.conv2d(xs, ember.tensor(w, dtype=dtype), ember.tensor(b, dtype=dtype), stride,
                       padding, dilation, groups=6).numpy()
        assert got.dtype == dtype.np and np.all(np.abs(got - want) <= 8 * eps * scale)
    gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride, padding, dilation, groups=6),
              [x[:1, :, :7, :6], w, b], ember.get_backend("numpy"))


def test_depthwise_conv2d_at_the_edges():
    """inf, NaN and overflow as the composed convolution gives them; an empty batch."""
    backend = ember.get_backend("numpy")
    x = np.random.default_rng(0).uniform(0.5, 1, (1, 3, 6, 6)).astype(np.float32)
    x[0, 0, 2, 2], x[0, 1, 3, 3], x[0, 2, 1, 1:3] = np.inf, np.nan, 3e38
    w = ember.ones(3, 1, 3, 3)
    got = F.conv2d(ember.tensor(x), w, padding=1, groups=3).numpy()
    with without_fast_paths(backend, "fast_depthwise_conv2d"):
        want = F.conv2d(ember.tensor(x), w, padding=1, groups=3).numpy()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.isposinf(got), np.isposinf(want))
    assert np.isposinf(got[0, 0]).sum() == 9 and np.isnan(got[0, 1]).sum() == 9
    assert np.isposinf(got[0, 2]).sum() > 0
    empty = F.conv2d(ember.zeros(0, 3, 6, 6), w, padding=1, groups=3)
    assert empty.shape == (0, 3, 6, 6)


@pytest.mark.parametrize("dtype, shape", [
    ("float16", (2, 3, 7, 8)), ("float64", (2, 3, 7, 8)), ("int32", (2, 3, 7, 8)),
    ("bool", (2, 3, 7, 8)), ("float32", (4, 16, 182, 182))])
def test_numpy_pool_loops_match_the_composed_pool_for_every_dtype(dtype, shape):
    """The Numba loops (float16 through float32) against the composed pool, with many
    ties (small integers), overlapping windows, and gradients for the float dtypes; the
    float32 input large enough that the planes are cut over the cores."""
    backend = ember.get_backend("numpy")
    x0 = np.random.default_rng(0).integers(-3, 4, shape)
    dtype = ember.bool_ if dtype == "bool" else getattr(ember, dtype)

    def pool():
        x = ember.tensor(x0, dtype=dtype, requires_grad=dtype.is_float)
        out = F.max_pool2d(x, 3, stride=2, dilation=(1, 2))
        if not dtype.is_float:
            return out.numpy(), None
        (out.to(ember.float64) * ember.tensor(np.arange(out.size).reshape(out.shape))).sum().backward()
        return out.numpy(), x.grad.numpy()

    fast = pool()
    with without_fast_paths(backend, "fast_max_pool2d", "fast_max_unpool2d"):
        slow = pool()
    assert fast[0].dtype == slow[0].dtype == dtype.np
    np.testing.assert_array_equal(fast[0], slow[0])
    np.testing.assert_array_equal(fast[1], slow[1])


def test_conv2d_relu_under_autocast_adds_the_residual_as_plus_does():
    """Under bfloat16 autocast the convolution runs in bfloat16 and a float32 residual
    promotes its sum to float32, fused or not: the same dtype and bits."""
    rng = np.random.default_rng(2)
    x = ember.tensor(rng.standard_normal((2, 16, 40, 40)), dtype=ember.float32)
    w = ember.tensor(rng.standard_normal((16, 16, 3, 3)) * 0.1, dtype=ember.float32)
    b = ember.tensor(rng.standard_normal(16), dtype=ember.float32)
    with ember.autocast(dtype=ember.bfloat16):
        for residual in (x, x.to(ember.bfloat16), None):
            fused = F.conv2d_relu(x, w, b, padding=1, residual=residual)
            conv = F.conv2d(x, w, b, padding=1)
            composed = ember.relu(conv if residual is None else conv + residual)
            assert fused.dtype is composed.dtype
            np.testing.assert_array_equal(fused.to(ember.float32).numpy(),
                                          composed.to(ember.float32).numpy())


@pytest.mark.parametrize("layout", ["NCHW", "CNHW", "NHWC"])
def test_numpy_pool_loops_take_any_memory_layout(layout):
    """A conv's output is a (C, N, H, W) array seen as NCHW; channels-last input is copied."""
    rng = np.random.default_rng(1)
    x0 = rng.standard_normal((2, 3, 6, 6))
    order = {"NCHW": (0, 1, 2, 3), "CNHW": (1, 0, 2, 3), "NHWC": (0, 2, 3, 1)}[layout]
    stored = ember.tensor(np.ascontiguousarray(x0.transpose(order)), requires_grad=True)
    x = stored.permute(tuple(np.argsort(order)))
    out = F.max_pool2d(x, 2)
    (out * ember.tensor(x0[:, :, ::2, ::2])).sum().backward()
    want = x0.reshape(2, 3, 3, 2, 3, 2).max(axis=(3, 5))
    np.testing.assert_array_equal(out.numpy(), want)
    hit = x0 == np.repeat(np.repeat(want, 2, axis=2), 2, axis=3)
    grad = np.where(hit, np.repeat(np.repeat(x0[:, :, ::2, ::2], 2, axis=2), 2, axis=3), 0)
    np.testing.assert_allclose(stored.grad.numpy(), grad.transpose(order))


@pytest.mark.parametrize("op, args", [
    ("add", (np.arange(60, dtype=np.float32).reshape(3, 4, 5), np.float32(0.5))),
    ("mul", (np.ones((3, 1, 5), np.float16), np.arange(20.0).reshape(4, 5))),   # float64 wins
    ("fast_relu", (np.linspace(-1, 1, 30, dtype=np.float16).reshape(5, 6),)),   # stays float16
    ("div", (np.arange(12).reshape(3, 4), np.arange(1, 5))),                   # ints: float64
    ("gt", (np.arange(12.0).reshape(4, 3)[:, ::-1], 5.0)),
    ("exp", (np.zeros((0, 7), np.float32),)),
    ("sqrt", (np.arange(24, dtype=np.float64).reshape(2, 3, 4).transpose(2, 0, 1),)),
])
def test_numpy_elementwise_cut_over_cores_is_the_whole_op_bit_for_bit(monkeypatch, op, args):
    """Large elementwise ops run a piece per core: NumPy's dtype (weak Python numbers,
    strong arrays), broadcasting, any memory layout and empty arrays, bit for bit."""
    from ember.backends.numpy import threads
    monkeypatch.setattr(threads, "MIN_ELEMENTS", 0)
    monkeypatch.setattr(threads, "cores", lambda: 3)
    backend = ember.get_backend("numpy")
    cut = getattr(backend, op)(*args)
    monkeypatch.setattr(threads, "cores", lambda: 1)
    whole = getattr(backend, op)(*args)
    assert cut.dtype == whole.dtype and cut.shape == whole.shape
    np.testing.assert_array_equal(cut, whole)


def test_numpy_addmm_cut_over_cores_is_matmul_then_add_bit_for_bit(monkeypatch):
    """A large product takes its bias a piece per core, in place: a column, a row and a
    full matrix of biases, as matmul then add give them."""
    from ember.backends.numpy import threads
    monkeypatch.setattr(threads, "MIN_ELEMENTS", 0)
    monkeypatch.setattr(threads, "cores", lambda: 3)
    backend = ember.get_backend("numpy")
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((7, 5)).astype(np.float32), rng.standard_normal((5, 11)).astype(np.float32)
    for c in (rng.standard_normal((7, 1)), rng.standard_normal(11), rng.standard_normal((7, 11))):
        c = c.astype(np.float32)
        np.testing.assert_array_equal(backend.fast_addmm(c, a, b), np.matmul(a, b) + c)


def test_numpy_pieces_run_in_the_callers_errstate(monkeypatch):
    from ember.backends.numpy import threads
    monkeypatch.setattr(threads, "MIN_ELEMENTS", 0)
    monkeypatch.setattr(threads, "cores", lambda: 2)
    x = np.array([1.0, 0.0, 2.0, 0.0], np.float32)
    with np.errstate(divide="raise"), pytest.raises(FloatingPointError):
        threads.binary(np.true_divide, x, np.float32(0.0))
    with np.errstate(divide="ignore", invalid="ignore"):        # 1 / 0 and 0 / 0
        assert np.isinf(threads.binary(np.true_divide, x, np.float32(0.0))[0])
    # the backend's primitives set their own: inf without a word, as the other backends
    with np.errstate(divide="raise"):
        assert np.isinf(ember.get_backend("numpy").div(x, np.float32(0.0))[0])


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_numpy_pieces_in_a_forked_child_use_a_pool_of_its_own(run_python):
    """A forked child (a DataLoader worker) has none of its parent's pool threads: a large
    op there once waited for them forever."""
    r = run_python(textwrap.dedent("""
        import os
        import numpy as np
        import ember
        backend = ember.get_backend("numpy")
        x = np.ones(1 << 21, np.float32)
        backend.exp(x)                       # the parent's pool starts here
        pid = os.fork()
        if pid == 0:
            os._exit(0 if float(backend.exp(x)[0]) > 2.7 else 1)
        print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
    """))
    assert r.stdout.strip() == "0", r.stderr


def test_numpy_backend_has_freed_arrays_memory_reused_without_page_faults(run_python):
    """glibc returns freed memory to the system once the free top of its heap passes its
    trim threshold, and each array made afterwards starts on fresh pages: the numpy
    backend raises the threshold to a sixteenth of the machine's memory (256 MiB to 1
    GiB). Arrays nine tenths of it in all, freed at once and made again, take (almost)
    no page faults the second time."""
    if not sys.platform.startswith("linux"):
        pytest.skip("glibc's malloc: Linux")
    code = textwrap.dedent("""
        import os, resource
        import numpy as np
        import ember
        from ember.backends.numpy import backend
        ember.get_backend("numpy")
        keep = backend._keep_freed_memory()
        ram = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        n = int(keep * 0.9) // (24 << 20)          # arrays of 24 MiB: below mmap's 32
        def round_():
            before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            arrays = [np.ones(6 << 20, np.float32) for _ in range(n)]
            del arrays                               # all freed at once, as a step's end
            return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
        first, second = round_(), round_()
        print(keep, min(backend.KEEP_FREED_MAX, max(backend.KEEP_FREED_MIN, ram // 16)),
              first, second)
    """)
    r = run_python(code)
    keep, want, first, second = map(int, r.stdout.split())
    assert keep == want, r.stderr
    assert first > 1000 and second < first // 20, (first, second)


def test_numpy_backend_has_openblas_workers_sleep_soon_unless_told_otherwise(run_python):
    """OpenBLAS's idle workers spin 2^28 cycles by default, on the cores the backend's
    pieces need: the numpy backend has them spin 2^BLAS_SPIN, unless the user set
    OPENBLAS_THREAD_TIMEOUT; the environment is left as it was, and GEMMs still agree."""
    pytest.importorskip("threadpoolctl")
    if "OPENBLAS_THREAD_TIMEOUT" in os.environ:
        pytest.skip("this run sets OPENBLAS_THREAD_TIMEOUT")
    code = textwrap.dedent("""
        import os
        import numpy as np
        from threadpoolctl import ThreadpoolController
        libs = [lib for lib in ThreadpoolController().select(internal_api="openblas").lib_controllers
                if lib.threading_layer == "pthreads"]
        if not libs:
            print("no OpenBLAS built on pthreads"); raise SystemExit
        a = np.random.default_rng(0).standard_normal((300, 300))
        before = a @ a                       # the workers run with the timeout of the load
        import ember
        from ember.backends.numpy import threads
        ember.get_backend("numpy")
        print(libs[0].dynlib.openblas_thread_timeout(), threads.BLAS_SPIN,
              os.environ.get("OPENBLAS_THREAD_TIMEOUT"), np.array_equal(a @ a, before))
    """)
    r = run_python(code)
    if r.stdout.startswith("no OpenBLAS"):
        pytest.skip(r.stdout.strip())
    got, spin, left, same = r.stdout.split()
    assert (int(got), left, same) == (int(spin), "None", "True"), r.stderr
    r = run_python(code, env={"OPENBLAS_THREAD_TIMEOUT": "25"})
    assert r.stdout.split() == ["25", spin, "25", "True"], r.stderr


_CUT_CASES = [   # (q, k, v shapes, mask shape or None, keyword arguments): the cut axis is
    (((4, 2, 16, 8), (4, 2, 24, 8), (4, 2, 24, 5)), (4, 1, 1, 24), {}),    # 0, mask cut too
    (((2, 3, 20, 8), (2, 3, 20, 8), (2, 3, 20, 8)), None, {"is_causal": True,
                                                          "dropout_p": 0.3}),
    (((1, 3, 20, 8), (2, 3, 24, 8), (2, 1, 24, 8)), (3, 20, 24), {"scale": 0.6}),
    (((2, 2, 300, 8), (2, 2, 40, 8), (2, 2, 40, 8)), (2, 1, 1, 40), {}),   # 3 blocks of rows
    (((1, 2, 300, 8), (1, 2, 300, 8), (1, 2, 300, 8)), None, {"is_causal": True}),
]


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_16_bit_attention_reaches_a_backend_that_computes_it_in_float32(monkeypatch, dtype):
    """A backend whose fused attention takes 16-bit inputs (``fast_attention_16``, CuPy's)
    gets them as they are, and its results in their dtype are the op's; another backend's
    attention runs on float32 casts. Both agree to the 16-bit dtype's rounding: the
    forward bit for bit, the gradients to a few units of it (the fused backward reads the
    output as stored, in 16 bits, as FlashAttention's does). A float mask that needs its
    gradient keeps the float32 path, whose backward gives it."""
    backend = ember.get_backend("numpy")
    seen, fast, grad = [], type(backend).fast_attention, type(backend).fast_attention_grad

    def wide(x):
        return x.astype(np.float32) if x is not None and x.dtype.itemsize == 2 \
            and x.dtype.kind in "fV" else x

    def in_float32(self, q, k, v, mask, keep, scale, causal):
        seen.append(q.dtype)
        lse, out = fast(self, *map(wide, (q, k, v, mask, keep)), scale, causal)
        return lse, out.astype(q.dtype)

    def grad_in_float32(self, g, q, k, v, mask, keep, scale, causal, lse, out):
        return tuple(d.astype(q.dtype) for d in grad(
            self, *map(wide, (g, q, k, v, mask, keep)), scale, causal, lse, wide(out)))
    monkeypatch.setattr(type(backend), "fast_attention", in_float32)
    monkeypatch.setattr(type(backend), "fast_attention_grad", grad_in_float32)
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((2, 3, 10, 8)) for _ in range(3)]
    results = []
    for takes_16 in (False, True):
        monkeypatch.setattr(type(backend), "fast_attention_16", takes_16)
        ts = [ember.tensor(a, dtype=dtype, requires_grad=True) for a in arrays]
        out = F.scaled_dot_product_attention(*ts, is_causal=True)
        out.sum().backward()
        assert out.dtype.name == dtype and seen.pop().name == ("float32", dtype)[takes_16]
        results.append([x.astype(np.float32) for x in [out.numpy()] + [t.grad.numpy() for t in ts]])
    np.testing.assert_array_equal(results[0][0], results[1][0])
    eps = float(ember.finfo(dtype).eps)
    for a, b in zip(results[0][1:], results[1][1:]):
        assert np.linalg.norm(a - b) <= 4 * eps * np.linalg.norm(a)
    mask = ember.tensor(rng.standard_normal((10, 10)), dtype=dtype, requires_grad=True)
    F.scaled_dot_product_attention(*ts, attn_mask=mask).sum().backward()
    assert seen.pop().name == "float32" and mask.grad.dtype.name == dtype


@pytest.mark.parametrize("case", range(len(_CUT_CASES)))
def test_numpy_attention_cut_over_cores_matches_the_composed_op(monkeypatch, case):
    """NumPy's attention over several heads runs a share of the heads per core when called
    from the main thread: inputs that broadcast along the cut axis, masks and dropout cut
    with them, give the composed op's output and gradients, as a call from another thread
    (not cut) does, and BLAS gets its thread count back."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from concurrent.futures import ThreadPoolExecutor

    from ember.backends.numpy import threads
    monkeypatch.setattr(threads, "MIN_SCORES", 0)
    monkeypatch.setattr(threads, "cores", lambda: 3)
    monkeypatch.setattr(type(ember.get_backend("numpy")), "attention_scores", 1)  # 128 rows
    calls, run_pieces = [], threads.run

    def counted(tasks, one_blas_thread=True):
        calls.extend([None] * one_blas_thread)        # attention's pieces hold BLAS
        return run_pieces(tasks, one_blas_thread)
    monkeypatch.setattr(threads, "run", counted)
    backend = ember.get_backend("numpy")
    shapes, mask_shape, kw = _CUT_CASES[case]
    rng = np.random.default_rng(case)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    if mask_shape is not None:
        kw = {**kw, "attn_mask": ember.tensor(rng.random(mask_shape) > 0.3)}

    def run():
        ember.manual_seed(1)
        ts = [ember.tensor(a, requires_grad=True) for a in arrays]
        out = F.scaled_dot_product_attention(*ts, **kw)
        weights = np.linspace(-1, 1, out.size, dtype=np.float32).reshape(out.shape)
        (out * ember.tensor(weights)).sum().backward()
        return [out.numpy()] + [t.grad.numpy() for t in ts]

    def blas():
        return [m["num_threads"] for m in threadpoolctl.threadpool_info()
                if m["user_api"] == "blas"]

    before = blas()
    cut = run()
    assert blas() == before and len(calls) == 2          # forward and backward were cut
    with ThreadPoolExecutor(1) as other:
        whole = other.submit(run).result()
    with without_fast_paths(backend, "fast_attention", "fast_attention_grad"):
        composed = run()
    assert len(calls) == 2
    for name, a, b, c in zip(("output", "dq", "dk", "dv"), cut, whole, composed):
        assert np.abs(a - b).max() <= 2e-6 * np.abs(b).max(), name
        assert np.abs(a - c).max() <= 2e-6 * np.abs(c).max(), name


@pytest.mark.parametrize("kernel,dilation", [(3, 1), (4, 1), (4, 2), ((3, 4), (1, 2))])
@pytest.mark.parametrize("padding", ["same", "valid"])
def test_conv2d_same_and_valid_padding_are_pytorchs(kernel, dilation, padding):
    """PyTorch's string paddings, an odd total of 'same' put last; forward and backward."""
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch==2.13.0)")
    x = np.random.default_rng(0).standard_normal((2, 3, 7, 9)).astype(np.float32)
    ours = nn.Conv2d(3, 4, kernel, padding=padding, dilation=dilation)
    theirs = torch.nn.Conv2d(3, 4, kernel, padding=padding, dilation=dilation).double()
    theirs.load_state_dict({k: torch.tensor(v.numpy(), dtype=torch.float64)
                            for k, v in ours.state_dict().items()})
    xe, xt = ember.tensor(x, requires_grad=True), torch.tensor(x, dtype=torch.float64, requires_grad=True)
    with warnings.catch_warnings():      # the oracle's note that it pads a copy (even kernels)
        warnings.filterwarnings("ignore", "Using padding='same' with even kernel", UserWarning)
        y, want = ours(xe), theirs(xt)
    y.sum().backward()
    want.sum().backward()
    np.testing.assert_allclose(y.numpy(), want.detach().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("make,message", [
    (lambda: nn.Conv2d(2, 2, 3, stride=0), "Conv2d: stride must be at least 1, got (0, 0)"),
    (lambda: nn.Conv2d(2, 2, 3, dilation=0), "Conv2d: dilation must be at least 1"),
    (lambda: nn.Conv2d(2, 2, 0), "Conv2d: kernel_size must be at least 1"),
    (lambda: nn.Conv2d(2, 2, 3, groups=0), "Conv2d: groups must be an int >= 1, got 0"),
    (lambda: nn.Conv2d(2, 2, 3, padding="same", stride=2), "padding='same' needs stride 1"),
    (lambda: nn.Conv2d(2, 2, 3, padding="full"), "'valid' or 'same', got 'full'"),
    (lambda: nn.MaxPool2d(2, stride=0)(ember.ones(1, 1, 4, 4)), "max_pool2d: stride must be at least 1"),
    (lambda: nn.Linear(-1, 2), "Linear: in_features and out_features must be ints >= 0, got -1 and 2"),
    (lambda: nn.BatchNorm1d(3, momentum=1.5), "BatchNorm1d: momentum must be a number in [0, 1]")])
def test_layer_arguments_that_have_no_meaning_are_refused_by_name(make, message):
    """A stride, dilation or kernel of 0 divided by zero, or (a dilation of 0) computed
    silently; a negative feature count failed in sqrt; momentum=None in arithmetic."""
    with pytest.raises(ValueError, match=re.escape(message)):
        make()


def test_embedding_needs_a_table_of_rows():
    with pytest.raises(ember.ShapeError, match=r"the table must be \(num_embeddings, embedding_dim\)"):
        F.embedding(ember.tensor([0]), ember.ones(3))


def test_conv2d_channel_mismatch_names_both_shapes():
    with pytest.raises(ember.ShapeError, match=r"conv2d: input \(8, 3, 32, 32\) has 3 channels "
                                               r"but weight \(16, 1, 3, 3\) expects 1 \(groups=1\)"):
        F.conv2d(ember.zeros(8, 3, 32, 32), ember.zeros(16, 1, 3, 3))


@pytest.mark.parametrize("groups,bias_shape", [(1, (3,)), (1, (16, 1)), (16, (40,)), (16, ())])
def test_conv2d_bias_of_another_shape_is_refused_before_any_backend_loop(groups, bias_shape):
    """One bias value per output channel, as PyTorch asks: the backends' own convolutions
    (Winograd's, the depthwise loops) add it as they write, reading b[o] unchecked."""
    with pytest.raises(ember.ShapeError, match=r"conv2d: bias must have shape \(16,\), one "
                                               r"value per output channel"):
        F.conv2d(ember.zeros(2, 16, 20, 20), ember.zeros(16, 16 // groups, 3, 3),
                 ember.zeros(*bias_shape), padding=1, groups=groups)


def test_pooling_matches_reference():
    x = np.random.default_rng(1).standard_normal((2, 3, 6, 7))
    got = F.max_pool2d(ember.tensor(x), 2, 2, padding=1).numpy()
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
    want = np.array([[[[xp[a, c, 2 * i:2 * i + 2, 2 * j:2 * j + 2].max() for j in range(4)]
                       for i in range(4)] for c in range(3)] for a in range(2)])
    np.testing.assert_allclose(got, want)
    got = F.avg_pool2d(ember.tensor(x), 3, 2).numpy()
    want = np.array([[[[x[a, c, 2 * i:2 * i + 3, 2 * j:2 * j + 3].mean() for j in range(3)]
                       for i in range(2)] for c in range(3)] for a in range(2)])
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_batch_norm_running_statistics_follow_pytorch_rules():
    rng = np.random.default_rng(2)
    bn = nn.BatchNorm2d(3, momentum=0.1).to(ember.float64)
    x = rng.standard_normal((4, 3, 2, 2)) * 3 + 1
    out = bn(ember.tensor(x)).numpy()
    mean, var = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3))
    np.testing.assert_allclose(out, (x - mean[None, :, None, None]) /
                               np.sqrt(var[None, :, None, None] + 1e-5), rtol=1e-10)
    np.testing.assert_allclose(bn.running_mean.numpy(), 0.1 * mean, rtol=1e-10)
    np.testing.assert_allclose(bn.running_var.numpy(), 0.9 + 0.1 * x.var(axis=(0, 2, 3), ddof=1),
                               rtol=1e-10)
    bn.eval()
    out = bn(ember.tensor(x)).numpy()
    rm, rv = bn.running_mean.numpy(), bn.running_var.numpy()
    np.testing.assert_allclose(out, (x - rm[None, :, None, None]) /
                               np.sqrt(rv[None, :, None, None] + 1e-5), rtol=1e-10)


def test_batch_norm_state_dicts_load_either_way_with_pytorchs_batch_count(backend):
    """num_batches_tracked (PyTorch's key, counted per training call) makes a PyTorch
    BatchNorm checkpoint load strictly into ember's and back, on every backend (an int64
    count into wgpu's int32); a count that would wrap is refused; assigning a tensor to a
    buffer's name keeps it a buffer, as in PyTorch."""
    torch = pytest.importorskip("torch")
    theirs = torch.nn.BatchNorm2d(3)
    for _ in range(2):
        theirs(torch.randn(4, 3, 2, 2))
    ours = nn.BatchNorm2d(3, backend=backend)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    assert int(ours.num_batches_tracked.item()) == 2
    ours(ember.randn(4, 3, 2, 2, backend=backend))
    ours.eval()
    ours(ember.randn(4, 3, 2, 2, backend=backend))      # eval: not counted
    back = torch.nn.BatchNorm2d(3)
    back.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    assert int(back.num_batches_tracked) == 3
    ours.running_mean = ember.ones(3, backend=backend)
    assert "running_mean" in ours.state_dict() and ours.state_dict()["running_mean"].sum().item() == 3
    if ours.num_batches_tracked.dtype is ember.int32:
        with pytest.raises(ember.DTypeError, match="num_batches_tracked holds values outside int32"):
            ours.load_state_dict({**ours.state_dict(),
                                  "num_batches_tracked": ember.tensor(2 ** 40, dtype=ember.int64,
                                                                      backend="numpy")})
    assert nn.BatchNorm1d(3, track_running_stats=False).state_dict().keys() == {"weight", "bias"}


def test_instance_norm_is_pytorchs_with_and_without_running_statistics():
    """F.instance_norm's values and gradients (a constant channel gives 0), its running
    statistics (the batch's mean of each sample's, the variance unbiased) and their use
    in eval; the layers' state-dict keys, unbatched input and channel check."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 3, 4, 5)), rng.standard_normal(3), rng.standard_normal(3)
    x[1, 2] = 4.0
    _against_torch(lambda lib, f, t, w, b: f.instance_norm(t, weight=w, bias=b), [x, w, b],
                   rtol=1e-10)
    _against_torch(lambda lib, f, t: f.instance_norm(t), [x[:, :, 0]], rtol=1e-10)
    for dims, shape in ((1, (3, 5)), (2, (2, 3, 4, 5)), (3, (2, 3, 2, 3, 4))):
        data = rng.standard_normal(shape) * 3 + 1
        ours = getattr(nn, f"InstanceNorm{dims}d")(3, affine=True, track_running_stats=True,
                                                   momentum=0.2).to(ember.float64)
        theirs = getattr(torch.nn, f"InstanceNorm{dims}d")(3, affine=True, track_running_stats=True,
                                                         momentum=0.2).double()
        assert ours.state_dict().keys() == theirs.state_dict().keys()
        for train in (True, True, False):
            ours.train(train)
            theirs.train(train)
            np.testing.assert_allclose(ours(ember.tensor(data)).numpy(),
                                       theirs(torch.tensor(data)).detach().numpy(), rtol=1e-10,
                                       atol=1e-12)
        for key, value in theirs.state_dict().items():
            np.testing.assert_allclose(ours.state_dict()[key].numpy(), value.numpy(), rtol=1e-12)
    with pytest.raises(ember.ShapeError, match="expects 3 channels on the channel axis"):
        nn.InstanceNorm2d(3, affine=True)(ember.ones(2, 4, 3, 3))
    with pytest.raises(ember.ShapeError, match="expects 3-D or 4-D input"):
        nn.InstanceNorm2d(3)(ember.ones(3, 3))
    with pytest.raises(ember.ShapeError, match="at least one position axis"):
        F.instance_norm(ember.ones(2, 3))


def test_layer_norm_and_activations_match_formulas():
    x = np.linspace(-4, 4, 24).reshape(2, 3, 4)
    got = F.layer_norm(ember.tensor(x), (3, 4)).numpy()
    m, v = x.mean(axis=(1, 2), keepdims=True), x.var(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(got, (x - m) / np.sqrt(v + 1e-5), rtol=1e-10)
    t = ember.tensor(x)
    np.testing.assert_allclose(F.leaky_relu(t, 0.2).numpy(), np.where(x > 0, x, 0.2 * x))
    np.testing.assert_allclose(F.elu(t, 1.5).numpy(), np.where(x > 0, x, 1.5 * (np.exp(x) - 1)))


def test_erf_and_gelu_keep_their_relative_precision_in_the_tails():
    """erf was within 1.5e-7 absolute: 0 for 1e-8, and GELU, 0.5 x (1 + erf), cancelled in
    its left tail (4% off at -5, 0 at -7; PyTorch's float32 GELU too). Now erf within 3
    ULP, GELU within 8, over float32 from 1e-30 to past where they round to 0 or 1."""
    from ember.testing.checks import assert_ulp
    mags = np.concatenate([np.geomspace(1e-30, 1, 2000), np.linspace(0.5, 14, 20000)])
    x = np.concatenate([mags, -mags, [0.0, -0.0, np.inf, -np.inf, np.nan]]).astype(np.float32)
    x64 = x.astype(np.float64)
    with np.errstate(all="ignore"):
        erf = np.vectorize(math.erf)(x64)
        gelu = np.where(x64 == -np.inf, np.nan, 0.5 * x64 * np.vectorize(math.erfc)(-x64 / math.sqrt(2)))
    for backend in ("numpy", "opencl", "wgpu"):
        if not ember.config.availability(backend)[0]:
            continue
        t = ember.tensor(x, backend=backend)
        assert_ulp(F.erf(t).numpy(), erf, ember.float32, 3, f"erf on {backend}", inputs=x)
        assert_ulp(F.gelu(t).numpy(), gelu, ember.float32, 8, f"gelu on {backend}", inputs=x)
    finite = np.isfinite(x64)
    for backend in ("numpy", "opencl", "wgpu"):   # float64: its own precision in a fast
        if not (ember.config.availability(backend)[0]              # path, else float32's
                and ember.float64 in ember.get_backend(backend).dtypes):
            continue
        be = ember.get_backend(backend)
        for fn, want in ((F.erf, erf), (F.gelu, gelu)):
            got = fn(ember.tensor(x64[finite], backend=be)).numpy()
            # float64's own: x / sqrt(2) rounded moves erfc by up to 2 x^2 ULP
            bound = 2.2e-16 * (4 + 2 * x64[finite] ** 2) if be.fast_erf is not None else 3e-7
            assert np.all(np.abs(got - want[finite]) <= bound * np.abs(want[finite])), \
                (backend, fn.__name__)
    half = F.gelu(ember.tensor([-5.0, 0.5, 2.0], dtype=ember.float16))
    assert half.dtype is ember.float16 and half.tolist() == np.float16(
        [0.5 * v * math.erfc(-v / math.sqrt(2)) for v in (-5.0, 0.5, 2.0)]).tolist()


def test_erf_and_gelu_take_integers_as_floats_and_refuse_complex():
    for f in (F.erf, F.gelu):
        got = f(ember.tensor([1, 2]))
        assert got.dtype is ember.float32
        np.testing.assert_array_equal(got.numpy(), f(ember.tensor([1.0, 2.0])).numpy())
        with pytest.raises(ember.DTypeError, match="complex tensors are not supported"):
            f(ember.tensor([1 + 2j]))


def test_erf_and_gelu_gradients_are_finite_at_the_edges():
    x = ember.tensor([-30.0, -0.75, -1e-30, 0.0, 0.7499, 0.75, 30.0], requires_grad=True)
    F.erf(x).sum().backward()
    want = [2 / math.sqrt(math.pi) * math.exp(-v * v) for v in x.tolist()]
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-5)
    x.grad = None
    F.gelu(x).sum().backward()
    phi = [0.5 * math.erfc(-v / math.sqrt(2)) + v * math.exp(-v * v / 2) / math.sqrt(2 * math.pi)
           for v in x.tolist()]
    # the gradient of the formula, not PyTorch's Phi(x) + x phi(x): 1.2e-4 off near
    # x = -0.75, where that sum cancels to 7.7e-4
    np.testing.assert_allclose(x.grad.numpy(), np.float32(phi), rtol=2e-4)


def test_numpy_attention_exp_within_1_ulp_for_every_float_and_column_sums_to_float32():
    """The numpy backend's float32 exp for attention's scores (backends/numpy/scores.py):
    within 1 ULP of float64 on every 1021st float32 (4.2M of every sign and exponent)
    and at the edges of its range (overflow, the last normal, subnormal results, the
    last one that rounds up to 2^-149); -inf gives 0, NaN NaN. exp_columns shifts each
    column (a query's scores) by its top (the difference rounded to float32, as NumPy's
    and PyTorch's), and its column sums (float32 over 64 rows, then float64; of a
    transposed view, float32 across the vector lanes) stay within 2e-6 of float64's over
    4096 terms."""
    pytest.importorskip("numba")
    from ember.backends.numpy import scores
    from ember.testing.checks import assert_ulp
    edges = np.float32([88.72283, 88.72284, -87.33654, -87.33655, -103.27893, -103.97207,
                        -103.97208, -103.9721, -104.5, 0.0, -0.0, 1e-30, -1e-45, np.inf,
                        -np.inf, np.nan])
    every = np.arange(0, 2 ** 32, 1021, dtype=np.uint64).astype(np.uint32).view(np.float32)
    for x in (every, edges):
        got = x.copy()
        scores.exp_in_place(got)
        with np.errstate(all="ignore"):
            assert_ulp(got, np.exp(x.astype(np.float64)), ember.float32, 1.0, "exp", x)
    rng = np.random.default_rng(0)
    s = (rng.standard_normal((3, 4096, 5)) * 10).astype(np.float32)      # keys x queries
    s[0, :7, 0] = -np.inf                  # masked keys
    top = s.max(axis=-2, keepdims=True)
    got = s.copy()
    totals = scores.exp_columns(got, top)
    want = np.exp((s - top).astype(np.float64))        # the difference rounded first
    assert_ulp(got, want, ember.float32, 1.0, "exp_columns", s)
    sums = want.sum(axis=-2, keepdims=True)
    assert totals.shape == (3, 1, 5) and np.all(np.abs(totals - sums) <= 2e-6 * sums)
    rows = np.ascontiguousarray(np.swapaxes(s, -1, -2))     # queries x keys, seen transposed
    view = np.swapaxes(rows, -1, -2)
    totals = scores.exp_columns(view, top)
    assert_ulp(view, want, ember.float32, 1.0, "exp_columns of a transposed view", s)
    assert np.all(np.abs(totals - sums) <= 2e-6 * sums)
    for empty in (np.zeros((2, 0, 3), np.float32), np.zeros((2, 3, 0), np.float32)):
        totals = scores.exp_columns(empty, None)     # no keys: sums 0; no queries: none
        assert totals.shape == (2, 1, empty.shape[-1]) and not totals.any()
    calm = s[1:] / np.float32(2)           # no shift: exp(s) itself, as for calm scores
    got = calm.copy()
    totals = scores.exp_columns(got, None)
    want = np.exp(calm.astype(np.float64))
    assert_ulp(got, want, ember.float32, 1.0, "exp_columns without a shift", calm)
    assert np.all(np.abs(totals - want.sum(axis=-2, keepdims=True))
                  <= 2e-6 * want.sum(axis=-2, keepdims=True))


def test_fast_gelu_gradient_within_ulps_of_its_terms():
    """A backend's fast_gelu_grad computes Phi(x) + x phi(x) in float64 and rounds once:
    from -14 to 10 within 4 float32 ULP of the terms' magnitudes, Phi(x) + |x| phi(x)
    (the terms cancel to 0 at x = -0.7518, where no float32 formula holds ULPs of the
    sum; the composed gradient is 1.2e-4 of them off there), or of the smallest
    subnormal. Far left 0, far right 1,
    NaN stays NaN."""
    x = np.concatenate([np.linspace(-14, 10, 200001), [-1e-30, 0.0, 1e-30]]).astype(np.float32)
    x64 = x.astype(np.float64)
    phi, terms = np.vectorize(math.erfc)(-x64 / math.sqrt(2)) / 2, x64 * np.exp(-x64 * x64 / 2) / \
        math.sqrt(2 * math.pi)
    want, scale = phi + terms, phi + np.abs(terms)
    for name in ("numpy", "opencl", "wgpu"):
        if not ember.config.availability(name)[0] or ember.get_backend(name).fast_gelu_grad is None:
            continue
        t = ember.tensor(x, backend=name, requires_grad=True)
        F.gelu(t).sum().backward()
        err = np.abs(t.grad.numpy() - want) / np.maximum(scale * 2.0 ** -24, 2.0 ** -149)
        assert err.max() <= 4, f"{name}: {err.max():.1f} ULP of the terms at x = {x[err.argmax()]}"
        edges = ember.tensor(np.float32([-np.inf, -1e30, 1e30, np.inf, np.nan]), backend=name,
                             requires_grad=True)
        F.gelu(edges).sum().backward()
        got = edges.grad.numpy()
        assert got[:4].tolist() == [0.0, 0.0, 1.0, 1.0] and np.isnan(got[4]), got


def _gelu_tanh64(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


@pytest.mark.parametrize("fast", [True, False], ids=["fast path", "composed"])
def test_gelu_tanh_within_ulps_of_the_exact_value_and_finite_gradients_at_the_edges(backend,
                                                                                      fast):
    """float32 GELU (tanh form) within 4 + 6|u| ULP of the exact value (mpmath) from -9
    to 9: exp(-2u) carries u's three roundings times 2|u|. PyTorch's float32 is 400 ULP
    off at x = -3, and -0 instead of -1e-28 at -9. The gradient is 0 far left and 1 far
    right (PyTorch's float32 gives NaN there); NaN in gives NaN."""
    hidden = ("fast_gelu_tanh", "fast_gelu_tanh_grad") if not fast else ()
    tiny = 1e-40 if not backend.flushes_subnormals else 4e-38    # a subnormal, where kept
    x = np.concatenate([np.linspace(-9, 9, 721), [0.0, -0.0, tiny, -tiny]]).astype(np.float32)
    with without_fast_paths(backend, *hidden):
        t = ember.tensor(x, backend=backend, requires_grad=True)
        y = F.gelu(t, "tanh")
        y.sum().backward()
        edges = ember.tensor(np.float32([-np.inf, -1e30, -1e15, 1e15, 1e30, np.inf, np.nan]),
                             backend=backend, requires_grad=True)
        ye = F.gelu(edges, "tanh")
        ye.sum().backward()
    mp = pytest.importorskip("mpmath")   # exact where the float64 formula cancels
    with mp.workdps(60):
        c = mp.sqrt(2 / mp.pi)
        ref = np.array([float(0.5 * v * (1 + mp.tanh(c * (v + mp.mpf("0.044715") * v ** 3))))
                        for v in map(mp.mpf, x.astype(np.float64))])
    ulp = np.spacing(np.abs(ref).astype(np.float32)).astype(np.float64)
    u = np.abs(math.sqrt(2 / math.pi) * (x + 0.044715 * x.astype(np.float64) ** 3))
    assert (np.abs(y.numpy() - ref) <= (4 + 6 * u) * ulp).all()
    assert np.signbit(y.numpy()[-3]) and np.signbit(y.numpy()[-1])          # -0 and -tiny
    x64 = x.astype(np.float64)
    h = 1e-6
    slope = (_gelu_tanh64(x64 + h) - _gelu_tanh64(x64 - h)) / (2 * h)
    assert np.abs(t.grad.numpy() - slope).max() <= 2e-6 * np.abs(slope).max()
    np.testing.assert_array_equal(ye.numpy()[1:], np.float32([-0.0, -0.0, 1e15, 1e30, np.inf, np.nan]))
    assert np.isnan(ye.numpy()[0])                                   # -inf * 0, as PyTorch
    np.testing.assert_array_equal(edges.grad.numpy(), [0, 0, 0, 1, 1, 1, np.nan])


def test_gelu_tanh_matches_torch_to_the_second_derivative():
    """float64 first and second derivatives (the backward of the backward) as PyTorch's."""
    torch = pytest.importorskip("torch")
    x = np.linspace(-6, 6, 97)
    t = ember.tensor(x, requires_grad=True)
    y = F.gelu(t, "tanh")
    y.sum().backward(create_graph=True)
    first = t.grad
    t.grad = None
    first.sum().backward()
    tx = torch.tensor(x, requires_grad=True)
    (tg,) = torch.autograd.grad(torch.nn.functional.gelu(tx, approximate="tanh").sum(), tx,
                                create_graph=True)
    (tgg,) = torch.autograd.grad(tg.sum(), tx)
    # PyTorch's 1 + tanh(u) cancels in the left tail (7 digits left at x = -6 in float64),
    # so values far below the largest are held to it on the largest's scale
    for got, want in ((first.numpy(), tg.detach().numpy()), (t.grad.numpy(), tgg.numpy())):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-13 * np.abs(want).max())


def test_dropout_keeps_the_expected_fraction_and_scales():
    ember.manual_seed(0)
    y = F.dropout(ember.ones(200, 200), p=0.3).numpy()
    kept = y != 0
    assert abs(kept.mean() - 0.7) < 0.01
    np.testing.assert_allclose(y[kept], 1 / 0.7)
    assert np.array_equal(F.dropout(ember.ones(3), 0.3, training=False).numpy(), np.ones(3))


def test_embedding_picks_rows_and_checks_range():
    e = nn.Embedding(5, 2)
    idx = ember.tensor([[4, 0], [1, 1]])
    np.testing.assert_array_equal(e(idx).numpy(), e.weight.numpy()[[[4, 0], [1, 1]]])
    with pytest.raises(ember.IndexingError, match="index 5 is out of range for a table of 5 rows"):
        e(ember.tensor([5]))
    with pytest.raises(ember.IndexingError, match="index -1 is out of range"):   # as PyTorch
        e(ember.tensor([[0, -1]]))
    with pytest.raises(ember.DTypeError, match="embedding: indices must be integers"):
        e(ember.tensor([1.0]))


def test_default_initializations_follow_the_documented_rules():
    ember.manual_seed(0)
    lin = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    w = lin.weight.numpy()
    assert w.min() >= -bound and w.max() <= bound and abs(w.std() - bound / math.sqrt(3)) < 1e-3
    w = nn.init.xavier_normal((300, 400)).numpy()
    assert abs(w.std() - math.sqrt(2 / 700)) < 1e-3
    w = nn.init.kaiming_normal((300, 400), nonlinearity="relu").numpy()
    assert abs(w.std() - math.sqrt(2 / 400)) < 1e-3
    w = nn.init.xavier_uniform((300, 400), gain=2.0).numpy()
    assert abs(w.max()) <= 2 * math.sqrt(6 / 700)


@pytest.mark.parametrize("make,x_shape,out_shape", [
    (lambda: nn.Linear(0, 5), (2, 3, 0), (2, 3, 5)),
    (lambda: nn.Conv2d(0, 4, 3), (2, 0, 5, 5), (2, 4, 3, 3))])
def test_layers_without_inputs_warn_as_pytorch_and_give_their_bias(make, x_shape, out_shape):
    """in_features = 0: the weight has no values (its fan is 0, so no scale to draw it
    with) and the bias's bound is 0, as in PyTorch; output and gradients keep their shapes."""
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        layer = make()
    x = ember.ones(*x_shape, requires_grad=True)
    y = layer(x)
    assert y.shape == out_shape and not y.numpy().any() and not layer.bias.numpy().any()
    y.sum().backward()
    assert x.grad.shape == x_shape and layer.weight.grad.shape == layer.weight.shape
    np.testing.assert_array_equal(layer.bias.grad.numpy(), np.prod(out_shape) // layer.bias.shape[0])
    for initializer in (nn.init.xavier_uniform, nn.init.xavier_normal, nn.init.kaiming_uniform,
                        nn.init.kaiming_normal):
        with pytest.warns(UserWarning, match="no-op"):
            assert initializer((5, 0)).shape == (5, 0)


@pytest.mark.parametrize("shape", [(4, 0), (4, 0, 3)])
def test_batch_norm_of_no_channels_is_empty_as_pytorch(shape):
    x = ember.ones(*shape, requires_grad=True)
    y = F.batch_norm(x, ember.zeros(0), ember.ones(0), training=True)
    y.sum().backward()
    assert y.shape == shape and x.grad.shape == shape


@pytest.mark.parametrize("padding_idx", [0, 2, -1])
def test_embedding_padding_idx_is_pytorchs(padding_idx):
    """The padding row starts at zeros and gets no gradient; its entries still read it."""
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch==2.13.0)")
    ours = nn.Embedding(5, 3, padding_idx=padding_idx)
    theirs = torch.nn.Embedding(5, 3, padding_idx=padding_idx)
    theirs.load_state_dict({"weight": torch.tensor(ours.weight.numpy())})
    assert not ours.weight.numpy()[padding_idx].any()
    with ember.no_grad():
        ours.weight += 1.0                   # the row is read as it is, not as zeros
    with torch.no_grad():
        theirs.weight += 1.0
    ids = [[0, 2, 4], [4, 4, 1]]
    g = np.random.default_rng(0).standard_normal((2, 3, 3)).astype(np.float32)
    y, ty = ours(ember.tensor(ids)), theirs(torch.tensor(ids))
    (y * ember.tensor(g)).sum().backward()
    (ty * torch.tensor(g)).sum().backward()
    np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())
    np.testing.assert_array_equal(ours.weight.grad.numpy(), theirs.weight.grad.numpy())
    with pytest.raises(ember.IndexingError, match="padding_idx 5 is out of range"):
        nn.Embedding(5, 3, padding_idx=5)


def test_module_tree_state_and_repr():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 4 * 4, 10))
    names = [n for n, _ in model.named_parameters()]
    assert names == ["0.weight", "0.bias", "3.weight", "3.bias"]
    assert model.num_parameters() == 4 * 9 + 4 + 640 + 10
    text = repr(model)
    assert text.splitlines()[0] == "Sequential(  [690 params]"
    assert "(3): Linear(in_features=64, out_features=10, bias=True)  [650 params]" in text
    assert model(ember.zeros(2, 1, 6, 6)).shape == (2, 10)
    model.to(ember.float64)
    assert all(p.dtype is ember.float64 for p in model.parameters())


def test_load_state_dict_takes_other_float_dtypes_and_refuses_other_kinds(tmp_path):
    """A bfloat16 checkpoint (as Hugging Face ships them) loads into float32 parameters,
    exactly, as PyTorch's copy_ casts; integers into float parameters are refused."""
    model = nn.Linear(3, 2)
    half = {k: v.to(ember.bfloat16) for k, v in model.state_dict().items()}
    ember.save(half, tmp_path / "half.safetensors")
    loaded = ember.load(tmp_path / "half.safetensors")
    assert loaded["weight"].dtype is ember.bfloat16
    model.load_state_dict(loaded)
    assert model.weight.dtype is ember.float32
    np.testing.assert_array_equal(model.weight.numpy(), half["weight"].numpy().astype(np.float32))
    with pytest.raises(ember.DTypeError, match="bias has dtype int64 in the state_dict but "
                                               "float32 in Linear; cast the module or the state"):
        model.load_state_dict({"weight": model.weight, "bias": ember.tensor([1, 2])})


def test_cross_entropy_matches_log_softmax_reference():
    x = np.random.default_rng(3).standard_normal((6, 4)) * 3
    y = np.array([0, 3, 1, 1, 2, 0])
    got = cross_entropy(ember.tensor(x), ember.tensor(y)).item()
    logp = x - x.max(1, keepdims=True) - np.log(np.exp(x - x.max(1, keepdims=True)).sum(1, keepdims=True))
    assert abs(got - (-logp[np.arange(6), y].mean())) < 1e-10
    with pytest.raises(ember.ShapeError, match="target class 4 is out of range for 4 classes"):
        cross_entropy(ember.tensor(x), ember.tensor([0, 4, 1, 1, 2, 0]))
    assert cross_entropy(ember.tensor([[1e4, 0.0]]), ember.tensor([1])).item() == pytest.approx(1e4)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape", [(6, 5), (3, 5, 4)])
def test_cross_entropy_weight_and_ignore_index_are_pytorchs(backend, shape, reduction):
    """Class weights, ignored targets and label smoothing in every combination (a -inf
    logit among class-index targets), against PyTorch's loss and gradient (in float64)."""
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch==2.13.0)")
    rng = np.random.default_rng(0)
    for eps, weighted, ignore, prob in [(e, w, i, p) for e in (0.0, 0.2) for w in (False, True)
                                        for i in (None, -100, 2) for p in (False, True)
                                        if not (p and i is not None)]:
        x = rng.standard_normal(shape).astype(np.float32)
        if prob:        # (PyTorch's 0 * -inf is NaN where ember's is 0: no -inf logit here)
            t = rng.random(shape).astype(np.float32)
            t /= t.sum(1, keepdims=True)
        else:
            x[0, 1] = -np.inf
            t = rng.integers(0, shape[1], shape[:1] + shape[2:])
            t.flat[0] = 0
            if ignore is not None:
                t.flat[1] = t.flat[-1] = ignore
        w = rng.random(shape[1]).astype(np.float32) + 0.5
        kw, tkw = {}, {}
        if weighted:
            kw["weight"], tkw["weight"] = ember.tensor(w, backend=backend), torch.tensor(w, dtype=torch.float64)
        if ignore is not None:
            kw["ignore_index"] = tkw["ignore_index"] = ignore
        ours = ember.tensor(x, backend=backend, requires_grad=True)
        theirs = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        loss = cross_entropy(ours, ember.tensor(t, backend=backend), reduction, eps, **kw)
        want = torch.nn.functional.cross_entropy(
            theirs, torch.tensor(t, dtype=torch.float64) if prob else torch.tensor(t),
            reduction=reduction, label_smoothing=eps, **tkw)
        g = rng.standard_normal(want.shape)
        (loss * ember.tensor(g.astype(np.float32), backend=backend)).sum().backward()
        (want * torch.tensor(g)).sum().backward()
        case = f"eps={eps} weight={weighted} ignore_index={ignore} probabilities={prob}"
        np.testing.assert_allclose(loss.numpy(), want.detach().numpy(), rtol=2e-5, err_msg=case)
        if np.isfinite(want.detach().numpy()).all():       # an infinite loss has no gradient
            np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-4,
                                       atol=1e-6, err_msg=case)


def test_cross_entropy_ignore_index_is_asked_for_and_checked():
    with pytest.raises(ember.ShapeError, match="target class -100 is out of range for 3 classes; "
                                               "pass ignore_index=-100"):
        cross_entropy(ember.ones(2, 3), ember.tensor([0, -100]))
    with pytest.raises(ember.ShapeError, match=r"weight must have one entry per class, shape \(3,\)"):
        cross_entropy(ember.ones(2, 3), ember.tensor([0, 1]), weight=ember.ones(2))
    with pytest.raises(ValueError, match="ignore_index applies to class-index targets"):
        cross_entropy(ember.ones(2, 3), ember.ones(2, 3) / 3, ignore_index=-100)


def test_cross_entropy_second_derivatives():
    from ember.testing import gradgradcheck
    x = np.random.default_rng(4).standard_normal((3, 4))
    y = ember.tensor([2, 0, 3])
    gradgradcheck(lambda t: cross_entropy(t, y, label_smoothing=0.1), [x], ember.get_backend("numpy"))


def test_small_cnn_learns_a_synthetic_task():
    """Conv2d, ReLU, MaxPool2d, Dropout, BatchNorm2d, Linear with plain gradient steps."""
    ember.manual_seed(0)
    rng = np.random.default_rng(0)
    n = 64
    labels = rng.integers(0, 2, n)
    images = rng.standard_normal((n, 1, 8, 8)) * 0.3
    images[labels == 1, :, :, :4] += 1.0   # class 1: bright left half
    images[labels == 0, :, :4, :] += 1.0   # class 0: bright top half
    x, y = ember.tensor(images, dtype=ember.float32), ember.tensor(labels)
    model = nn.Sequential(nn.Conv2d(1, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Dropout(0.1), nn.Flatten(), nn.Linear(6 * 16, 2))
    first = None
    for step in range(60):
        loss = cross_entropy(model(x), y)
        first = first if first is not None else loss.item()
        model.zero_grad()
        loss.backward()
        with ember.no_grad():
            for p in model.parameters():
                p -= 0.1 * p.grad
    model.eval()
    final = cross_entropy(model(x), y).item()
    assert final < first / 10, (first, final)
    assert (model(x).argmax(axis=1).numpy() == labels).mean() == 1.0


def test_the_third_party_layers_are_registered_and_exercised():
    """examples/third_party_plugin is installed by `make test`; the suite checks its layers."""
    table = ember.registry.table("layers")
    assert table["swish"][1] == "ember-swish" and table["scale"][1] == "ember-swish"


#: PyTorch's functional name -> (ember's, keyword arguments)
TORCH_ACTIVATIONS = {
    "elu": (F.elu, {"alpha": 1.5}), "celu": (F.celu, {"alpha": 0.5}), "selu": (F.selu, {}),
    "hardtanh": (F.hardtanh, {"min_val": -2.0, "max_val": 1.0}), "relu6": (F.relu6, {}),
    "mish": (F.mish, {}), "softsign": (F.softsign, {}), "logsigmoid": (F.logsigmoid, {}),
    "softplus": (ember.softplus, {"beta": 2.0, "threshold": 15.0}),
    "softmin": (F.softmin, {"dim": 0}), "glu": (F.glu, {"dim": 0}),
    "threshold": (F.threshold, {"threshold": 0.5, "value": -2.0}),
    "hardshrink": (F.hardshrink, {"lambd": 0.5}), "softshrink": (F.softshrink, {"lambd": 0.5})}
#: where ember gives the limit and PyTorch NaN (inf / inf, -inf * 0)
LIMITS = {"mish": {-math.inf: -0.0}, "softsign": {-math.inf: -1.0, math.inf: 1.0}}
#: gradients held to their formula in float64 where PyTorch's cancels (softsign's
#: quotient rule leaves 1.4e-46 at x = 1e30, where 1 / (1 + |x|)^2 is 1e-60)
SLOPES = {"softsign": lambda x: 1.0 / (1.0 + np.abs(x)) ** 2}


@pytest.mark.parametrize("name", sorted(TORCH_ACTIVATIONS))
def test_activations_match_torch_in_float64_at_the_edges_and_their_gradients(name):
    """Each activation against PyTorch's in float64: within 4 ULP over -8..8 and at the
    edges (+-0 with their signs, 1e-8, the thresholds, 1e30, +-inf, NaN), but for the
    limits ember gives where PyTorch's formula gives NaN (LIMITS); the gradients within
    1e-12 relative wherever the input is finite."""
    torch = pytest.importorskip("torch")
    from ember.testing.checks import ulp_error
    fn, kwargs = TORCH_ACTIVATIONS[name]
    edges = [-math.inf, -1e30, -800.0, -100.0, -20.0, -7.5, -6.0, -2.0, -1.0, -0.5, -1e-8, -0.0,
             0.0, 1e-8, 0.5, 1.0, 6.0, 7.5, 20.0, 100.0, 1e30, math.inf, math.nan]
    x = np.concatenate([edges, np.linspace(-8, 8, 101)])      # an even count, for glu
    if name == "softmin":      # over the whole vector: one NaN or inf would make all NaN
        x = x[np.isfinite(x)]
    want = getattr(torch.nn.functional, name)(torch.tensor(x), **kwargs).numpy().copy()
    for at, limit in LIMITS.get(name, {}).items():
        assert np.isnan(want[x == at]).all()
        want[x == at] = limit
    got = fn(ember.tensor(x), **kwargs).numpy()
    nan = np.isnan(want)
    np.testing.assert_array_equal(np.isnan(got), nan, err_msg=f"{name}: NaN where PyTorch's is")
    assert ulp_error(got[~nan], want[~nan], ember.float64).max() <= 4, \
        f"{name}: {got[~nan]} != {want[~nan]}"
    zero = want == 0
    np.testing.assert_array_equal(np.signbit(got[zero]), np.signbit(want[zero]),
                                  err_msg=f"{name}: the signs of zeros")
    # an infinite input gives a NaN gradient in PyTorch's formulas: finite inputs only
    xs = np.linspace(-8, 8, 102) if name in ("softmin", "glu") else x[np.isfinite(x)]
    t = ember.tensor(xs, requires_grad=True)
    out = fn(t, **kwargs)
    w = np.random.default_rng(0).uniform(0.5, 2.0, out.shape)   # not a plain sum: softmin's
    (out * ember.tensor(w)).sum().backward()                     # gradient would be 0
    if name in SLOPES:
        slope = w * SLOPES[name](xs)
    else:
        tx = torch.tensor(xs, requires_grad=True)
        (slope,) = torch.autograd.grad(
            (getattr(torch.nn.functional, name)(tx, **kwargs) * torch.tensor(w)).sum(), tx)
    np.testing.assert_allclose(t.grad.numpy(), np.asarray(slope), rtol=1e-12, atol=0,
                               err_msg=f"{name}: gradient")


def test_tanhshrink_is_within_ulps_of_the_exact_value_where_pytorchs_cancels(backend):
    """x - tanh(x) against mpmath from 1e-30 to 30 and at the edges: within 4 ULP in
    float64 and 16 in float32 (the series below 1/2, the difference above); PyTorch's
    float32 is 0 below 2e-4 and 30% off at 1e-3. Its gradient is tanh(x)^2."""
    mp = pytest.importorskip("mpmath")
    from ember.testing.checks import ulp_error
    x = np.concatenate([np.logspace(-30, 1.5, 300), [0.49999, 0.5, 0.50001]])
    x = np.concatenate([x, -x, [0.0, -0.0, math.inf, -math.inf, math.nan]])
    with mp.workdps(250):                 # x - tanh(x) ~ x^3 / 3 at x = 1e-30
        exact = np.array([float(mp.mpf(v) - mp.tanh(mp.mpf(v))) if np.isfinite(v) and v
                          else v for v in x])  # +-0, +-inf and NaN give themselves
    for dtype, bound in ((ember.float64, 4), (ember.float32, 16)):
        if dtype not in backend.dtypes:
            continue
        got = F.tanhshrink(ember.tensor(x, dtype=dtype)).numpy()
        want = exact.astype(dtype.np)
        nan = np.isnan(want)
        assert np.array_equal(np.isnan(got), nan)
        assert ulp_error(got[~nan], want[~nan], dtype,
                         flushes_subnormals=backend.flushes_subnormals).max() <= bound, dtype
        assert np.array_equal(np.signbit(got[want == 0]), np.signbit(want[want == 0]))
    t = ember.tensor(np.linspace(-3, 3, 61), dtype=ember.float32, requires_grad=True)
    F.tanhshrink(t).sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), np.tanh(np.linspace(-3, 3, 61)) ** 2, rtol=1e-5)


def test_prelu_is_pytorchs_with_one_slope_and_one_per_channel():
    """F.prelu and PReLU: values and gradients (input and slopes) against PyTorch's in
    float64, the slope taken at 0 (its branch), one slope or one per channel (axis 1),
    PyTorch's init 0.25 and state-dict key."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 4))
    x[0, 0, :2] = 0.0
    for w in (np.array([0.3]), rng.standard_normal(3)):
        _against_torch(lambda lib, f, t, w: f.prelu(t, w), [x, w])
    _against_torch(lambda lib, f, t, w: f.prelu(t, w), [x[0, 0], np.array([0.2])])
    layer = nn.PReLU(3)
    assert list(layer.state_dict()) == ["weight"] and layer.weight.numpy().tolist() == [0.25] * 3
    with pytest.raises(ember.ShapeError, match="one per channel"):
        F.prelu(ember.ones(2, 4), ember.ones(3))


def test_module_containers_and_methods_have_pytorchs_names_and_keys():
    """ModuleDict, ParameterList, ParameterDict and ModuleList's extend and slices give
    PyTorch's state-dict keys; apply, add_module, register_parameter, get_submodule,
    get_parameter, del and double() behave as PyTorch's."""
    torch = pytest.importorskip("torch")

    def build(lib):
        m = lib.Module()
        m.blocks = lib.ModuleDict({"a": lib.Linear(2, 3), "b": lib.Linear(3, 1)})
        m.scales = lib.ParameterList([lib.Parameter(ember.ones(2) if lib is nn else torch.ones(2))])
        m.extra = lib.ParameterDict({"bias": lib.Parameter(ember.zeros(1) if lib is nn
                                                           else torch.zeros(1))})
        m.stack = lib.ModuleList([lib.ReLU()]).extend([lib.Linear(1, 1)])
        m.add_module("head", lib.Linear(1, 1))
        m.register_parameter("temperature", None)
        return m
    ours, theirs = build(nn), build(torch.nn)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert list(ours.blocks) == ["a", "b"] and "a" in ours.blocks and len(ours.stack[1:]) == 1
    assert ours.get_submodule("blocks.b") is ours.blocks["b"]
    assert ours.get_parameter("blocks.a.weight") is ours.blocks["a"].weight
    seen = []
    ours.apply(lambda m: seen.append(type(m).__name__))
    assert seen[-1] == "Module" and seen.count("Linear") == 4
    del ours.head
    assert "head.weight" not in ours.state_dict()
    assert all(p.dtype is ember.float64 for p in ours.double().parameters())
    with pytest.raises(AttributeError, match="has no child 'c'"):
        ours.get_submodule("blocks.c")
    with pytest.raises(TypeError, match="must be a Module, got Tensor"):
        ours.blocks["c"] = ember.ones(1)


def test_channel_dropout_and_unflatten_are_pytorchs():
    """Dropout2d zeroes whole channels (scaling the rest by 1 / (1 - p)) in train mode
    only, on batched and unbatched input; Unflatten splits one axis."""
    x = ember.ones(4, 8, 3, 3)
    ember.manual_seed(0)
    y = nn.Dropout2d(0.5)(x).numpy()
    per_channel = y.reshape(4, 8, 9)
    assert set(np.unique(per_channel)) <= {0.0, 2.0}
    assert (per_channel.min(axis=2) == per_channel.max(axis=2)).all()       # whole channels
    assert 0 < (per_channel[:, :, 0] == 0).sum() < 32
    assert nn.Dropout1d(0.3)(ember.ones(5, 7)).shape == (5, 7)
    assert (nn.Dropout3d(0.5).eval()(ember.ones(2, 2, 2, 2, 2)).numpy() == 1).all()
    with pytest.raises(ember.ShapeError, match=r"\(N, C, 2 axes\) or \(C, 2 axes\)"):
        F.dropout2d(ember.ones(3, 4), 0.5)
    assert nn.Unflatten(-1, (2, 3))(ember.ones(4, 6)).shape == (4, 2, 3)


RECURRENT = [("LSTM", {}), ("GRU", {}), ("RNN", {}), ("RNN", {"nonlinearity": "relu"}),
             ("LSTM", {"num_layers": 2, "bidirectional": True, "batch_first": True}),
             ("LSTM", {"proj_size": 2, "num_layers": 2}),
             ("GRU", {"bidirectional": True, "num_layers": 3, "bias": False})]


@pytest.mark.parametrize("name, kwargs", RECURRENT, ids=[f"{n}-{k}" for n, k in RECURRENT])
def test_recurrent_layers_are_pytorchs_with_its_state_dict_keys(name, kwargs):
    """RNN, LSTM and GRU (stacked, bidirectional, batch_first, projected, without bias):
    PyTorch's state-dict keys in its order, so its weights load; outputs, final states
    and the gradients of input, initial state and every weight within 1e-12 in float64,
    batched and unbatched."""
    torch = pytest.importorskip("torch")
    ours = getattr(nn, name)(4, 3, **kwargs).to(ember.float64)
    theirs = getattr(torch.nn, name)(4, 3, **kwargs).double()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    rng = np.random.default_rng(0)
    layers = kwargs.get("num_layers", 1) * (2 if kwargs.get("bidirectional") else 1)
    out = kwargs.get("proj_size") or 3
    for batch in ((2,), ()):
        x = rng.standard_normal(((2, 5) if kwargs.get("batch_first") else (5, 2))[:len(batch) + 1]
                                + (4,) if batch else (5, 4))
        h0 = rng.standard_normal((layers,) + batch + (out,))
        c0 = rng.standard_normal((layers,) + batch + (3,))
        xs, hs, cs = (ember.tensor(a, requires_grad=True) for a in (x, h0, c0))
        xt, ht, ct = (torch.tensor(a, requires_grad=True) for a in (x, h0, c0))
        lstm = name == "LSTM"
        got, state = ours(xs, (hs, cs) if lstm else hs)
        want, wstate = theirs(xt, (ht, ct) if lstm else ht)
        got_all = [got] + (list(state) if lstm else [state])
        want_all = [want] + (list(wstate) if lstm else [wstate])
        weights = [rng.uniform(0.5, 2.0, t.shape) for t in got_all]
        sum(((g * ember.tensor(w)).sum() for g, w in zip(got_all, weights)),
            ember.tensor(0.0)).backward()
        sum((g * torch.tensor(w)).sum() for g, w in zip(want_all, weights)).backward()
        for a, b in zip(got_all, want_all):
            np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-12, atol=1e-15)
        pairs = [(xs, xt), (hs, ht)] + ([(cs, ct)] if lstm else []) + \
            list(zip(ours.parameters(), theirs.parameters()))
        for a, b in pairs:
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-13)
        ours.zero_grad()
        theirs.zero_grad()


@pytest.mark.parametrize("name", ["LSTMCell", "GRUCell", "RNNCell"])
def test_recurrent_cells_are_pytorchs(name):
    torch = pytest.importorskip("torch")
    ours, theirs = getattr(nn, name)(4, 3).to(ember.float64), getattr(torch.nn, name)(4, 3).double()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((2, 4))
    for data in (x, x[0]):
        got, want = ours(ember.tensor(data)), theirs(torch.tensor(data))
        for a, b in zip(*(((g,) if not isinstance(g, tuple) else g) for g in (got, want))):
            np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-12, atol=1e-15)


def test_recurrent_layers_refuse_wrong_shapes_naming_both():
    lstm = nn.LSTM(4, 3, num_layers=2)
    with pytest.raises(ember.ShapeError, match=r"input of shape \(5, 2, 6\) must end in input_size 4"):
        lstm(ember.ones(5, 2, 6))
    with pytest.raises(ember.ShapeError, match=r"h0 has shape \(1, 2, 3\); expected \(2, 2, 3\)"):
        lstm(ember.ones(5, 2, 4), (ember.ones(1, 2, 3), ember.ones(2, 2, 3)))
    with pytest.raises(ember.ShapeError, match="hx must be a pair"):
        lstm(ember.ones(5, 2, 4), ember.ones(2, 2, 3))
    with pytest.raises(ember.ShapeError, match="no time steps"):
        nn.GRU(4, 3)(ember.ones(0, 2, 4))
    with pytest.raises(ValueError, match="proj_size must be 0, or .LSTM only. below hidden_size"):
        nn.LSTM(4, 3, proj_size=3)


def _losses_against_torch(name, inputs, kwargs, grads_of=(0,)):
    """ember.plugins.losses' and torch.nn.functional's ``name`` on the same float64
    inputs (integer arrays as class indices), each reduction: values within 1e-12 and
    the gradients of the inputs numbered in ``grads_of``."""
    torch = pytest.importorskip("torch")
    for reduction in ("mean", "sum", "none"):
        ours = [ember.tensor(a, requires_grad=k in grads_of) for k, a in enumerate(inputs)]
        theirs = [torch.tensor(a, requires_grad=k in grads_of) for k, a in enumerate(inputs)]
        got = getattr(losses, name)(*ours, reduction=reduction, **{
            k: ember.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()})
        want = getattr(torch.nn.functional, name)(*theirs, reduction=reduction, **{
            k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()})
        np.testing.assert_allclose(got.numpy(), want.detach().numpy(), rtol=1e-12, atol=1e-300,
                                   err_msg=f"{name}/{reduction}")
        w = np.random.default_rng(1).uniform(0.5, 2.0, got.shape)
        (got * ember.tensor(w)).sum().backward()
        grads = torch.autograd.grad((want * torch.tensor(w)).sum(), [theirs[k] for k in grads_of])
        for k, g in zip(grads_of, grads):
            np.testing.assert_allclose(ours[k].grad.numpy(), g.numpy(), rtol=1e-10, atol=1e-15,
                                       err_msg=f"{name}/{reduction}: gradient of input {k}")


def test_pytorchs_other_losses_match_it_in_float64():
    """poisson, gaussian NLL, ranking, hinge, soft margin, multi-label, cosine
    embedding, triplet and multi-class margin losses; BCE's weight and pos_weight;
    nll_loss's weight and ignore_index: each reduction's values and gradients."""
    rng = np.random.default_rng(0)
    x, t = rng.standard_normal((6, 4)), rng.standard_normal((6, 4))
    signs = np.where(rng.random((6, 4)) > 0.5, 1.0, -1.0)
    counts = rng.integers(0, 5, (6, 4)).astype(np.float64)
    labels = rng.integers(0, 4, 6)
    binary = (rng.random((6, 4)) > 0.5).astype(np.float64)
    cases = [
        ("poisson_nll_loss", [x, counts], {"full": True}),
        ("poisson_nll_loss", [np.abs(x) + 0.1, counts], {"log_input": False}),
        ("gaussian_nll_loss", [x, t, np.abs(t) + 1e-7], {"full": True}),
        ("gaussian_nll_loss", [x, t, np.abs(t[:, 0])], {}),
        ("margin_ranking_loss", [x, t, signs], {"margin": 0.3}),
        ("hinge_embedding_loss", [np.abs(x), signs], {"margin": 0.8}),
        ("soft_margin_loss", [x * 30, signs], {}),
        ("multilabel_soft_margin_loss", [x * 30, binary], {"weight": np.arange(1.0, 5.0)}),
        ("cosine_embedding_loss", [x, t, signs[:, 0]], {"margin": 0.2}),
        ("triplet_margin_loss", [x, t, x[::-1].copy()], {"margin": 0.5, "p": 3.0, "swap": True}),
        ("multi_margin_loss", [x, labels], {"p": 2, "margin": 0.7, "weight": np.arange(1.0, 5.0)}),
        ("multi_margin_loss", [x, labels], {}),
        ("binary_cross_entropy", [1 / (1 + np.exp(-x)), binary], {"weight": np.arange(1.0, 5.0)}),
        # logits within +-8: past -12 at t = 0 PyTorch's float64 loss is 2e-10 off (mpmath)
        # where ember's is exact; test_binary_cross_entropies_keep_... holds the tails
        ("binary_cross_entropy_with_logits", [x * 3, binary],
         {"weight": np.arange(1.0, 5.0), "pos_weight": np.array([0.5, 1.0, 2.0, 3.0])}),
        ("nll_loss", [np.log(np.abs(x) / np.abs(x).sum(1, keepdims=True)), np.where(
            labels == 2, -100, labels)], {"weight": np.arange(1.0, 5.0), "ignore_index": -100}),
    ]
    for name, inputs, kwargs in cases:
        _losses_against_torch(name, inputs, kwargs, grads_of={
            "triplet_margin_loss": (0, 1, 2), "margin_ranking_loss": (0, 1),
            "cosine_embedding_loss": (0, 1), "gaussian_nll_loss": (0, 1, 2)}.get(name, (0,)))


def test_three_input_losses_and_refusals():
    """The classes of the three-input losses call their functions; bad variances, shapes
    and p are refused by name."""
    a, b, c = (ember.tensor(np.random.default_rng(k).standard_normal((3, 4))) for k in range(3))
    y = ember.tensor([1.0, -1.0, 1.0])
    assert losses.TripletMarginLoss(margin=0.5)(a, b, c).item() == \
        losses.triplet_margin_loss(a, b, c, margin=0.5).item()
    assert losses.CosineEmbeddingLoss(reduction="sum", margin=0.1)(a, b, y).item() == \
        losses.cosine_embedding_loss(a, b, y, margin=0.1, reduction="sum").item()
    assert losses.GaussianNLLLoss(full=True)(a, b, c.abs()).shape == ()
    with pytest.raises(ValueError, match="var has negative entries"):
        losses.gaussian_nll_loss(a, b, c)
    with pytest.raises(ember.ShapeError, match=r"var of shape \(2, 4\) fits neither"):
        losses.gaussian_nll_loss(a, b, c[:2])
    with pytest.raises(ValueError, match="p must be 1 or 2"):
        losses.multi_margin_loss(a, ember.tensor([0, 1, 2]), p=3)
    with pytest.raises(ember.ShapeError, match=r"target \(3, 4\) must have one entry per pair, shape \(3,\)"):
        losses.cosine_embedding_loss(a, b, ember.ones(3, 4))
    huge = ember.tensor([[1e20, 3e38], [2e20, -3e38]], dtype=ember.float32)   # squares overflow
    got = losses.cosine_embedding_loss(huge, huge[[1, 0]], ember.tensor([1.0, -1.0]),
                                       reduction="none").numpy()
    cos = (1e20 * 2e20 - 3e38 * 3e38) / (np.hypot(1e20, 3e38) * np.hypot(2e20, 3e38))
    np.testing.assert_allclose(got, [1 - cos, 0.0], rtol=1e-6)
    with pytest.raises(ember.ShapeError, match=r"pos_weight of shape \(3,\) does not broadcast"):
        losses.binary_cross_entropy_with_logits(a, a.abs() / 10, pos_weight=ember.ones(3))


def test_binary_cross_entropies_keep_their_precision_where_terms_cancel(backend):
    """Against float64 (t softplus(-x) + (1 - t) softplus(x), logaddexp's): logits past
    +-10 with targets a float32 ULP from 1 or 0, where relu(x) - x t + log1p(exp(-|x|))
    lost up to 7% (x = 30, t = 1 - 2^-24) and PyTorch's loses as much on the other side;
    the loss at infinite logits of the matching target is 0; the slope at x = 0 is
    sigmoid(0) - t (relu's zero slope there gave -t), with and without pos_weight; and
    probabilities' log(1 - p) is log1p(-p) (the loss of p = 1e-30 at t = 0 is 1e-30)."""
    x = np.array([-30.0, -10.0, -3.0, -0.5, 0.0, 0.5, 3.0, 10.0, 30.0], np.float32)
    t = np.array([0.0, 1e-7, 0.01, 0.3, 0.5, 0.99, 1 - 2 ** -24, 1.0], np.float32)
    xs, ts = (a.ravel() for a in np.meshgrid(x, t, indexing="ij"))
    for pw in (None, 2.5):
        got = losses.binary_cross_entropy_with_logits(
            ember.tensor(xs, backend=backend), ember.tensor(ts, backend=backend), reduction="none",
            pos_weight=None if pw is None else ember.tensor([pw], backend=backend)).numpy()
        x64, t64 = xs.astype(np.float64), ts.astype(np.float64)
        want = (1.0 if pw is None else pw) * t64 * np.logaddexp(0, -x64) + \
            (1 - t64) * np.logaddexp(0, x64)
        err = np.abs(got - want) / np.abs(want)
        assert err.max() <= 4e-7, (pw, xs[err.argmax()], ts[err.argmax()], got[err.argmax()],
                                   want[err.argmax()])
    ends = ember.tensor([np.inf, -np.inf], backend=backend)
    assert losses.binary_cross_entropy_with_logits(
        ends, ember.tensor([1.0, 0.0], backend=backend), reduction="none").tolist() == [0, 0]
    for pw in (None, 2.5):
        z = ember.tensor([0.0, 0.0], backend=backend, requires_grad=True)
        target = np.array([0.3, 1.0], np.float32)
        losses.binary_cross_entropy_with_logits(
            z, ember.tensor(target, backend=backend), reduction="sum",
            pos_weight=None if pw is None else ember.tensor([pw], backend=backend)).backward()
        p = 1.0 if pw is None else pw
        np.testing.assert_allclose(z.grad.numpy(), 0.5 * (1 + (p - 1) * target) - p * target,
                                   rtol=1e-6)
    probs = ember.tensor([1e-30, 0.25], backend=backend)
    got = losses.binary_cross_entropy(probs, ember.tensor([0.0, 0.0], backend=backend),
                                      reduction="none").numpy()
    np.testing.assert_allclose(got, [1e-30, -np.log1p(-0.25)], rtol=1e-6)


_SELU = (1.6732632423543772, 1.0507009873554805)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_composed_activations_on_16_bit_floats_round_once(backend, dtype):
    """silu, hardswish, elu, celu, selu, mish, softsign and tanhshrink computed in float32
    and rounded once (ember.ops.rounds_once, PyTorch's opmath): within 0.55 ULP of float64,
    where rounding at each step was up to 2.4 ULP off (mish, selu)."""
    dtype = ember.dtype(dtype)
    if dtype not in backend.dtypes or dtype.np is None:
        pytest.skip(f"{backend.device} has no {dtype.name}")
    a, scale = _SELU
    refs = {"silu": lambda x: x / (1 + np.exp(-x)),
            "hardswish": lambda x: x * np.clip(x + 3, 0, 6) / 6,
            "elu": lambda x: np.where(x > 0, x, np.expm1(x)),
            "celu": lambda x: np.where(x > 0, x, np.expm1(x)),
            "selu": lambda x: scale * np.where(x > 0, x, a * np.expm1(x)),
            "mish": lambda x: x * np.tanh(np.logaddexp(0, x)),
            "softsign": lambda x: x / (1 + np.abs(x)),
            "tanhshrink": lambda x: x - np.tanh(x)}
    x = np.random.default_rng(0).uniform(-6, 6, 500).astype(dtype.np)
    for name, ref in refs.items():
        got = getattr(F, name)(ember.tensor(x, backend=backend))
        assert got.dtype is dtype, (name, got.dtype)
        want = ref(x.astype(np.float64))
        keep = np.abs(want) >= float(ember.finfo(dtype).tiny)
        err = ulp_error(got.numpy()[keep], want[keep], dtype)
        assert err.max() <= 0.55, (name, x[keep][err.argmax()], err.max())


def test_bilinear_and_pretrained_embeddings_are_pytorchs():
    """F.bilinear's values and gradients (inputs, weight, bias) over leading axes; the
    Bilinear layer's keys and init bound; Embedding.from_pretrained frozen or not."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s) for s in ((2, 3, 4), (2, 3, 5), (6, 4, 5), (6,))]
    _against_torch(lambda lib, f, a, b, w, bias: f.bilinear(a, b, w, bias), arrays)
    layer, theirs = nn.Bilinear(4, 5, 6), torch.nn.Bilinear(4, 5, 6)
    assert list(layer.state_dict()) == list(theirs.state_dict())
    assert np.abs(layer.weight.numpy()).max() <= 0.5 < 2 * np.abs(layer.weight.numpy()).max()
    with pytest.raises(ember.ShapeError, match="must share their leading axes and end in 4 and 5"):
        layer(ember.ones(3, 4), ember.ones(2, 5))
    table = rng.standard_normal((5, 3)).astype(np.float32)
    frozen = nn.Embedding.from_pretrained(table)
    assert not frozen.weight.requires_grad and frozen.weight.dtype is ember.float32
    np.testing.assert_array_equal(frozen(ember.tensor([4, 1])).numpy(), table[[4, 1]])
    trained = nn.Embedding.from_pretrained(ember.tensor(table), freeze=False, padding_idx=0)
    trained(ember.tensor([0, 2])).sum().backward()
    assert trained.weight.grad.numpy()[0].tolist() == [0.0] * 3      # the padding row
    assert trained.weight.grad.numpy()[2].tolist() == [1.0] * 3


@pytest.mark.parametrize("kwargs", [{"kernel_size": 3}, {"kernel_size": 2, "stride": 2},
                                    {"kernel_size": (2, 3), "stride": (2, 1), "padding": 1,
                                     "dilation": (1, 2)}])
def test_unfold_and_fold_are_pytorchs(kwargs):
    """F.unfold's columns and F.fold's sums of overlapping windows (padding cropped),
    values and gradients, batched and not; the modules take the same arguments."""
    rng = np.random.default_rng(0)
    image = rng.standard_normal((2, 3, 7, 8))
    _against_torch(lambda lib, f, t: f.unfold(t, **kwargs), [image])
    _against_torch(lambda lib, f, t: f.unfold(t, **kwargs), [image[0]])
    columns = F.unfold(ember.tensor(image), **kwargs).numpy()
    _against_torch(lambda lib, f, t: f.fold(t, (7, 8), **kwargs), [columns])
    _against_torch(lambda lib, f, t: f.fold(t, (7, 8), **kwargs), [columns[0]])
    np.testing.assert_array_equal(nn.Fold((7, 8), **kwargs)(nn.Unfold(**kwargs)(
        ember.tensor(image))).numpy(), F.fold(ember.tensor(columns), (7, 8), **kwargs).numpy())
    with pytest.raises(ember.ShapeError, match="must hold C"):
        F.fold(ember.tensor(columns[:, :, 1:]), (7, 8), **kwargs)


def test_activations_refuse_what_pytorch_refuses():
    with pytest.raises(ember.ShapeError, match="size 5"):
        F.glu(ember.ones((2, 5)))
    with pytest.raises(ember.ShapeError, match="out of range"):
        F.glu(ember.ones((2, 4)), dim=2)
    with pytest.raises(ValueError, match="alpha"):
        F.celu(ember.ones(2), alpha=0.0)
    with pytest.raises(ValueError, match="min_val"):
        F.hardtanh(ember.ones(2), 1.0, -1.0)


def _against_torch(make, arrays, rtol=1e-12, grads_of=None, atol=1e-15):
    """make(lib, *tensors) in ember and in PyTorch, float64: values and the gradients of a
    weighted sum (for the arrays numbered in ``grads_of``, else all), each within
    ``rtol`` of PyTorch's (gradients that cancel to 0 within ``atol``)."""
    torch = pytest.importorskip("torch")
    ours = [ember.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    got, want = make(ember, F, *ours), make(torch, torch.nn.functional, *theirs)
    np.testing.assert_allclose(got.numpy(), want.detach().numpy(), rtol=rtol, atol=0)
    w = np.random.default_rng(1).uniform(0.5, 2.0, got.shape)
    (got * ember.tensor(w)).sum().backward()
    grads = torch.autograd.grad((want * torch.tensor(w)).sum(), theirs)
    for k, (o, g) in enumerate(zip(ours, grads)):
        if grads_of is None or k in grads_of:
            np.testing.assert_allclose(o.grad.numpy(), g.numpy(), rtol=rtol, atol=atol)


@pytest.mark.parametrize("in_hw, out", [((7, 5), (3, 2)), ((5, 9), (4, 4)), ((6, 4), (3, 2)),
                                        ((7, 5), 1), ((7, 5), (None, 3)), ((3, 3), (5, 4))])
@pytest.mark.parametrize("batched", [True, False])
def test_adaptive_avg_pool2d_takes_pytorchs_windows(in_hw, out, batched):
    """Overlapping windows of different sizes (7 -> 3), windows that divide the input (an
    avg_pool2d), the global mean, None for an axis kept and an output larger than the
    input, each on (N, C, H, W) and (C, H, W)."""
    x = np.random.default_rng(0).standard_normal(((2, 3) if batched else (3,)) + in_hw)
    _against_torch(lambda lib, f, t: f.adaptive_avg_pool2d(t, out), [x])


#: (kernel, stride, padding, dilation, ceil_mode): ceil_mode adds a partial last window
#: (7 -> 4 with 3/2/1) or does not, where it would start in the end padding (2/2/0 on 7)
POOL_WINDOWS = [(3, 2, 1, 1, True), (2, 2, 0, 1, True), (3, 2, 0, 1, True), (3, 3, 1, 1, True),
                (2, 3, 1, 1, False), (3, 2, 1, 1, False), ((3, 2), (2, 1), (1, 0), 1, True)]


@pytest.mark.parametrize("kernel, stride, padding, dilation, ceil_mode", POOL_WINDOWS)
def test_pooling_windows_ceil_mode_and_divisors_are_pytorchs(kernel, stride, padding, dilation,
                                                            ceil_mode):
    """max and average pooling, 2-D on (N, C, H, W) and (C, H, W) and 1-D, with PyTorch's
    window count under ceil_mode, and average pooling's three divisors: padding counted
    (count_include_pad, never ceil_mode's overhang), the input's elements only, and
    divisor_override."""
    rng = np.random.default_rng(0)
    x, x3, x1 = (rng.standard_normal(s) for s in ((2, 3, 7, 8), (3, 7, 8), (2, 3, 9)))
    one = (lambda v: v if isinstance(v, int) else v[0])
    for data in (x, x3):
        _against_torch(lambda lib, f, t: f.max_pool2d(t, kernel, stride, padding, dilation,
                                                      ceil_mode), [data])
        for include in (True, False):
            for divisor in (None, 5):
                _against_torch(lambda lib, f, t: f.avg_pool2d(
                    t, kernel, stride, padding, ceil_mode, include, divisor), [data])
    k1, s1, p1 = one(kernel), one(stride), one(padding)
    _against_torch(lambda lib, f, t: f.max_pool1d(t, k1, s1, p1, 2, ceil_mode), [x1])
    for include in (True, False):
        _against_torch(lambda lib, f, t: f.avg_pool1d(t, k1, s1, p1, ceil_mode, include), [x1])


@pytest.mark.parametrize("out", [(3, 2), (5, 7), 1, (4, None), (9, 10)])
def test_adaptive_max_pool_takes_pytorchs_windows_and_first_largest(out):
    """Overlapping windows of different sizes, the global max, None for an axis kept and
    an output larger than the input; the gradient goes to each window's first largest
    element (ties from a ReLU's zeros), as PyTorch's; 1-D along the last axis."""
    rng = np.random.default_rng(0)
    x = np.maximum(rng.standard_normal((2, 3, 7, 8)), 0)        # ties: many zeros
    x[0, 0] = 0.0                                               # a plane of zeros
    _against_torch(lambda lib, f, t: f.adaptive_max_pool2d(t, out), [x])
    _against_torch(lambda lib, f, t: f.adaptive_max_pool2d(t, out), [x[1]])
    if isinstance(out, int):
        _against_torch(lambda lib, f, t: f.adaptive_max_pool1d(t, out), [x[:, :, 0]])
        _against_torch(lambda lib, f, t: f.adaptive_avg_pool1d(t, out), [x[:, :, 0]])


def test_pooling_indices_are_pytorchs_on_every_backend(backend):
    """return_indices: each winner's position in its unpadded input plane (h * W + w),
    with padding, dilation and ceil_mode, for max_pool2d, max_pool1d and the adaptive
    max pools, float32 on each backend against PyTorch."""
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    rng = np.random.default_rng(0)
    x, x1 = (rng.standard_normal(s).astype(np.float32) for s in ((2, 3, 7, 8), (2, 3, 9)))
    t, t1 = ember.tensor(x, backend=backend), ember.tensor(x1, backend=backend)
    cases = [(F.max_pool2d(t, 3, 2, 1, (1, 2), True, True),
              tf.max_pool2d(torch.tensor(x), 3, 2, 1, (1, 2), True, True)),
             (F.max_pool1d(t1, 2, 3, 1, 1, True, True),
              tf.max_pool1d(torch.tensor(x1), 2, 3, 1, 1, True, True)),
             (F.adaptive_max_pool2d(t, (3, 5), True),
              tf.adaptive_max_pool2d(torch.tensor(x), (3, 5), True)),
             (F.adaptive_max_pool1d(t1, 4, True),
              tf.adaptive_max_pool1d(torch.tensor(x1), 4, True))]
    for (got, index), (want, want_index) in cases:
        assert got.numpy().tolist() == want.numpy().tolist()
        assert index.numpy().tolist() == want_index.numpy().tolist()


def test_pooling_layers_take_pytorchs_arguments_and_refuse_bad_ones():
    x = ember.tensor(np.random.default_rng(0).standard_normal((1, 2, 7, 7)).astype(np.float32))
    assert nn.MaxPool2d(3, 2, ceil_mode=True)(x).shape == (1, 2, 3, 3)
    out, index = nn.MaxPool2d(2, return_indices=True)(x)
    assert out.shape == index.shape == (1, 2, 3, 3) and index.dtype is x.backend.default_int
    assert nn.AvgPool2d(2, ceil_mode=True, count_include_pad=False)(x).shape == (1, 2, 4, 4)
    assert nn.AdaptiveMaxPool2d((2, None))(x).shape == (1, 2, 2, 7)
    assert nn.AvgPool1d(3)(x[0]).shape == (2, 7, 2)
    with pytest.raises(ember.ShapeError, match="padding .2, 2. must be at most half the kernel"):
        F.max_pool2d(x, 3, padding=2)
    with pytest.raises(ember.ShapeError, match="input size 1 with padding 0 is smaller"):
        F.avg_pool1d(x[0, 0, :, :1], 2)
    with pytest.raises(ember.ShapeError, match=r"input must be \(N, C, L\) or \(C, L\)"):
        F.max_pool1d(x, 2)
    with pytest.raises(ValueError, match="divisor_override must be a nonzero number"):
        F.avg_pool2d(x, 2, divisor_override=0)
    with pytest.raises(ValueError, match="output_size must be at least 1"):
        F.adaptive_max_pool2d(x, 0)


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("widths", [(2, 1), (-1, 2), (2, -1), (1, 2, 3, 0), (0, 0, -1, 2),
                                    (1, 1, 2, 0, 1, 1), (4, 4), (5, 0), (3, -3)])
@pytest.mark.parametrize("shape", [(2, 3, 5, 6), (3, 5, 6), (5, 6)])
def test_pad_is_pytorchs_in_every_mode(mode, widths, shape):
    """F.pad's (left, right, top, bottom, ...) order, negative widths cropping (after
    reflect and replicate pad, before circular wraps, as PyTorch), the modes' limits
    (reflect below the axis size, circular at most once around) and the inputs each mode
    takes: values and gradients (repeated edges sum theirs), or the same refusal."""
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal(shape)
    try:
        torch.nn.functional.pad(torch.tensor(x), widths, mode=mode)
    except (RuntimeError, ValueError, NotImplementedError):
        with pytest.raises((ember.ShapeError, ValueError)):
            F.pad(ember.tensor(x), widths, mode=mode)
        return
    _against_torch(lambda lib, f, t: f.pad(t, widths, mode=mode), [x])


def test_padding_layers_are_pytorchs():
    """Each padding layer: an int for every side or a tuple, the same output as
    PyTorch's layer of that name; constant ones fill with their value."""
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5, 6))
    for name in ("ZeroPad", "ConstantPad", "ReflectionPad", "ReplicationPad", "CircularPad"):
        for dims in (1, 2, 3):
            data = x[(0,) * (3 - dims)]
            for padding in (1, (2, 1, 0, 3, 1, 2)[:2 * dims]):
                extra = (2.5,) if name == "ConstantPad" else ()
                ours = getattr(nn, f"{name}{dims}d")(padding, *extra)
                theirs = getattr(torch.nn, f"{name}{dims}d")(padding, *extra)
                np.testing.assert_array_equal(ours(ember.tensor(data)).numpy(),
                                              theirs(torch.tensor(data)).numpy())
    with pytest.raises(ValueError, match="padding must be an int or 4 ints"):
        nn.ReflectionPad2d((1, 2))
    with pytest.raises(ValueError, match="mode 'reflect' takes no value"):
        F.pad(ember.ones(2, 3), (1, 1), "reflect", 0.5)
    with pytest.raises(ValueError, match="even number of ints"):
        F.pad(ember.ones(2, 3), (1,))


def test_group_norm_is_pytorchs_and_refuses_groups_that_do_not_divide():
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 6, 3, 4)), rng.standard_normal(6), rng.standard_normal(6)
    x[1, :3] = 7.0                  # a constant group: 0 before the affine step
    _against_torch(lambda lib, f, t, w, b: f.group_norm(t, 2, w, b, eps=1e-5), [x, w, b],
                   rtol=1e-10)
    _against_torch(lambda lib, f, t: f.group_norm(t, 3), [x[:, :, 0]], rtol=1e-10)
    with pytest.raises(ember.ShapeError, match="6 channels do not divide into 4 groups"):
        F.group_norm(ember.tensor(x), 4)
    with pytest.raises(ValueError, match="num_channels 6"):
        nn.GroupNorm(4, 6)


def test_normalize_cosine_similarity_and_pairwise_distance_are_pytorchs():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    a[2] = 0.0                                       # a zero vector: eps takes over
    for p in (1.0, 2.0, 3.0):
        _against_torch(lambda lib, f, x: f.normalize(x, p=p, dim=1), [a])
        _against_torch(lambda lib, f, x, y: f.pairwise_distance(x, y, p=p), [a, b])
    _against_torch(lambda lib, f, x: f.normalize(x, dim=0), [a])
    _against_torch(lambda lib, f, x, y: f.cosine_similarity(x, y), [a, b])
    _against_torch(lambda lib, f, x, y: f.cosine_similarity(x, y, dim=0), [a, b])
    _against_torch(lambda lib, f, x, y: f.cosine_similarity(x, y), [a, b[:1]])   # broadcast
    _against_torch(lambda lib, f, x, y: f.pairwise_distance(x, y, keepdim=True), [a, b])


def test_normalize_and_cosine_similarity_do_not_overflow_where_pytorch_does():
    """float32 norms scaled by the largest magnitude: [3e37, 4e37] normalizes to [0.6, 0.8]
    and is its own direction (PyTorch's float32 norm is inf: 0 and NaN), as do vectors
    whose norm is past float32's range, and [3e-30,
    4e-30], whose squares are 0 in float32, under an eps below its norm (PyTorch's norm
    is 0: x / eps)."""
    x = ember.tensor([[3e37, 4e37], [3e38, 3e38], [3e38, -3.4e38]])
    want = np.array([[0.6, 0.8], [0.5 ** 0.5, 0.5 ** 0.5], [3 / 20.56 ** 0.5, -3.4 / 20.56 ** 0.5]])
    np.testing.assert_allclose(F.normalize(x).numpy(), want, rtol=1e-6)
    np.testing.assert_allclose(F.cosine_similarity(x, x).numpy(), [1.0] * 3, rtol=1e-6)
    np.testing.assert_allclose(F.cosine_similarity(x[1:], x[:2]).numpy(),
                               np.sum(want[1:] * want[:2], axis=1), rtol=1e-6)
    tiny = ember.tensor([[3e-30, 4e-30]])
    np.testing.assert_allclose(F.normalize(tiny, eps=1e-40).numpy(), [[0.6, 0.8]], rtol=1e-6)


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides")      # PyTorch's, on "mean"
@pytest.mark.parametrize("reduction", ["mean", "sum", "none", "batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_is_pytorchs_with_zero_targets(reduction, log_target):
    """Zero probabilities count 0 (0 log 0), log targets of -inf likewise; batchmean
    divides by the batch size. The gradients are the prediction's (a zero target's own
    slope is -inf, which PyTorch gives as NaN)."""
    torch = pytest.importorskip("torch")
    from ember.plugins.losses import kl_div
    rng = np.random.default_rng(0)
    lp = np.log(rng.dirichlet(np.ones(5), 4))
    t = rng.dirichlet(np.ones(5), 4)
    t[1, 2] = 0.0
    with np.errstate(divide="ignore"):
        t = np.log(t) if log_target else t          # log 0 = -inf: a zero probability
    if reduction == "none" or reduction == "batchmean":
        _against_torch(lambda lib, f, a, b: f.kl_div(a, b, reduction=reduction,
                                                      log_target=log_target)
                       if lib is torch else kl_div(a, b, reduction, log_target), [lp, t],
                       grads_of=(0,))
    else:
        got = kl_div(ember.tensor(lp), ember.tensor(t), reduction, log_target).numpy()
        want = torch.nn.functional.kl_div(torch.tensor(lp), torch.tensor(t), reduction=reduction,
                                          log_target=log_target).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0])
def test_smooth_l1_loss_is_pytorchs(beta):
    from ember.plugins.losses import smooth_l1_loss
    rng = np.random.default_rng(0)
    p, t = rng.standard_normal((4, 3)) * 2, rng.standard_normal((4, 3))
    _against_torch(lambda lib, f, a, b: f.smooth_l1_loss(a, b, reduction="none", beta=beta)
                   if lib is not ember else smooth_l1_loss(a, b, "none", beta), [p, t])


@pytest.mark.parametrize("config", [
    dict(stride=1, padding=0, dilation=1, groups=1), dict(stride=2, padding=1, dilation=1, groups=2),
    dict(stride=3, padding=2, dilation=2, groups=1), dict(stride=1, padding="same", dilation=2, groups=1),
    dict(stride=2, padding="valid", dilation=1, groups=1)])
def test_conv1d_is_pytorchs(config):
    rng = np.random.default_rng(0)
    g = config["groups"]
    x, w, b = rng.standard_normal((2, 4, 11)), rng.standard_normal((6, 4 // g, 3)), rng.standard_normal(6)
    _against_torch(lambda lib, f, t, w, b: f.conv1d(t, w, b, **config), [x, w, b], rtol=1e-10)
    _against_torch(lambda lib, f, t, w: f.conv1d(t, w, **config), [x[0], w], rtol=1e-10)


@pytest.mark.parametrize("config", [
    dict(stride=1, padding=0, output_padding=0, groups=1, dilation=1),
    dict(stride=2, padding=1, output_padding=1, groups=1, dilation=1),
    dict(stride=(2, 3), padding=(0, 2), output_padding=(1, 0), groups=2, dilation=1),
    dict(stride=2, padding=1, output_padding=0, groups=1, dilation=(2, 1)),
    dict(stride=1, padding=0, output_padding=1, groups=1, dilation=2)])
def test_conv_transpose2d_is_pytorchs(config):
    """Strides, crops, output padding, groups and dilation against PyTorch in float64:
    values and the gradients of input, weight and bias."""
    rng = np.random.default_rng(0)
    g = config["groups"]
    x, w, b = (rng.standard_normal((2, 4, 5, 6)), rng.standard_normal((4, 6 // g, 3, 2)),
               rng.standard_normal(6))
    _against_torch(lambda lib, f, t, w, b: f.conv_transpose2d(t, w, b, **config), [x, w, b],
                   rtol=1e-10)


def test_conv_transpose2d_refuses_what_pytorch_refuses():
    x, w = ember.ones((1, 4, 3, 3)), ember.ones((4, 2, 3, 3))
    with pytest.raises(ValueError, match="output_padding"):
        F.conv_transpose2d(x, w, stride=2, output_padding=2)
    with pytest.raises(ember.ShapeError, match="has 3 channels"):
        F.conv_transpose2d(ember.ones((1, 3, 3, 3)), w)
    with pytest.raises(ember.ShapeError, match="crops the whole output"):
        F.conv_transpose2d(ember.ones((1, 4, 1, 1)), ember.ones((4, 2, 1, 1)), padding=1)


@pytest.mark.parametrize("shape, kwargs", [
    ((2, 3, 5), dict(scale_factor=2, mode="nearest")),
    ((2, 3, 7), dict(size=3, mode="nearest")),
    ((2, 3, 7), dict(size=4, mode="nearest-exact")),
    ((2, 3, 5), dict(size=8, mode="linear")),
    ((2, 3, 5), dict(size=8, mode="linear", align_corners=True)),
    ((2, 3, 4, 5), dict(scale_factor=1.5, mode="bilinear")),
    ((2, 3, 4, 5), dict(scale_factor=(0.5, 2.5), mode="bilinear", recompute_scale_factor=True)),
    ((2, 3, 4, 5), dict(size=(7, 3), mode="bilinear", align_corners=True)),
    ((2, 3, 4, 5), dict(size=(1, 1), mode="bilinear", align_corners=True)),
    ((2, 3, 4, 5), dict(scale_factor=3, mode="nearest")),
    ((1, 2, 3, 4, 2), dict(scale_factor=2, mode="trilinear")),
    ((1, 2, 3, 4, 2), dict(size=(2, 5, 3), mode="nearest")),
    ((2, 3, 4, 5), dict(scale_factor=2, mode="bicubic")),
    ((2, 3, 4, 5), dict(size=(7, 3), mode="bicubic", align_corners=True)),
    ((2, 3, 6, 5), dict(size=(2, 4), mode="bicubic")),
    ((2, 3, 6, 5), dict(size=(4, 2), mode="area")),
    ((2, 3, 7), dict(size=3, mode="area")),
    ((2, 3, 9, 7), dict(size=(4, 3), mode="bicubic", antialias=True)),
    ((1, 2, 16, 16), dict(scale_factor=0.3, mode="bilinear", antialias=True)),
    ((2, 3, 9, 7), dict(size=(13, 10), mode="bicubic", antialias=True)),
    ((1, 2, 6, 6), dict(size=(4, 9), mode="bicubic", align_corners=True, antialias=True))])
def test_interpolate_is_pytorchs(shape, kwargs):
    """Up and down, by size and by scale factor (its reciprocal placing the sources, or
    recomputed), every mode, align_corners both ways, antialiased: values and gradients."""
    x = np.random.default_rng(0).standard_normal(shape)
    _against_torch(lambda lib, f, t: f.interpolate(t, **kwargs), [x])


def test_interpolate_refuses_what_pytorch_refuses():
    x = ember.ones((1, 1, 4, 4))
    with pytest.raises(ember.ShapeError, match="rank 3"):
        F.interpolate(x, scale_factor=2, mode="linear")
    with pytest.raises(ValueError, match="either size or scale_factor"):
        F.interpolate(x, size=3, scale_factor=2)
    with pytest.raises(ValueError, match="align_corners"):
        F.interpolate(x, scale_factor=2, align_corners=True)
    with pytest.raises(ValueError, match="mode must be one of"):
        F.interpolate(x, scale_factor=2, mode="cubic")
    with pytest.raises(ValueError, match="align_corners"):
        F.interpolate(x, size=2, mode="area", align_corners=False)
    with pytest.raises(ValueError, match="antialias applies to modes bilinear and bicubic"):
        F.interpolate(x, size=2, antialias=True)


@pytest.mark.parametrize("shape, r", [((2, 8, 3, 2), 2), ((18, 4, 5), 3), ((1, 2, 4, 4, 1), 1)])
def test_pixel_shuffle_and_unshuffle_are_pytorchs_and_inverse(shape, r):
    x = np.random.default_rng(0).standard_normal(shape)
    _against_torch(lambda lib, f, t: f.pixel_shuffle(t, r), [x])
    up = F.pixel_shuffle(ember.tensor(x), r)
    _against_torch(lambda lib, f, t: f.pixel_unshuffle(t, r), [up.numpy()])
    np.testing.assert_array_equal(F.pixel_unshuffle(up, r).numpy(), x)
    with pytest.raises(ember.ShapeError, match="divisible by upscale_factor"):
        F.pixel_shuffle(ember.ones((1, 3, 2, 2)), 2)


@pytest.mark.parametrize("mode", ["bilinear", "nearest", "bicubic"])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align_corners", [False, True])
def test_grid_sample_and_affine_grid_are_pytorchs(mode, padding_mode, align_corners):
    """Positions inside, on the edges and far outside (reflected several times), and the
    halves nearest rounds to even; values and gradients of input and grid (bilinear and
    bicubic)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 5, 4))
    grid = rng.uniform(-3.5, 3.5, (2, 6, 7, 2))
    grid[0, 0, :4] = [[-1, -1], [1, 1], [0.5, -0.25], [0.25, 0.75]]   # corners; ties at w=4
    grid[0, 1, :3] = [[-2.0, 1.0], [3.0, -3.0], [0.0, 0.0]]
    # bicubic's grid gradient far outside a border is a sum of 16 terms that cancels to 0;
    # nearest's is zero, as PyTorch's
    _against_torch(lambda lib, f, t, g: f.grid_sample(t, g, mode=mode, padding_mode=padding_mode,
                                                      align_corners=align_corners),
                   [x, grid], rtol=1e-10, atol=1e-13 if mode == "bicubic" else 1e-15)
    theta = rng.standard_normal((2, 2, 3))
    _against_torch(lambda lib, f, th: f.affine_grid(th, (2, 3, 5, 4), align_corners=align_corners),
                   [theta])
    _against_torch(lambda lib, f, th: f.affine_grid(th, (2, 1, 3, 2, 4), align_corners=align_corners),
                   [rng.standard_normal((2, 3, 4))])


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align_corners", [False, True])
def test_grid_sample_of_volumes_is_pytorchs(mode, padding_mode, align_corners):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 2, 3, 5, 4))
    grid = rng.uniform(-2.5, 2.5, (2, 3, 2, 4, 3))
    grid[0, 0, 0, :2] = [[-1, -1, -1], [1, 1, 1]]
    _against_torch(lambda lib, f, t, g: f.grid_sample(t, g, mode=mode, padding_mode=padding_mode,
                                                      align_corners=align_corners),
                   [x, grid], rtol=1e-10)


def test_grid_sample_refuses_by_name():
    with pytest.raises(ValueError, match="padding_mode one of"):
        F.grid_sample(ember.ones((1, 1, 2, 2)), ember.zeros((1, 1, 1, 2)), padding_mode="wrap")
    with pytest.raises(ember.ShapeError, match=r"grid \(N, Ho, Wo, 2\)"):
        F.grid_sample(ember.ones((1, 1, 2, 2)), ember.zeros((1, 1, 2)))
    with pytest.raises(ValueError, match="bicubic samples images"):
        F.grid_sample(ember.ones((1, 1, 2, 2, 2)), ember.zeros((1, 1, 1, 1, 3)), mode="bicubic")
    with pytest.raises(ember.ShapeError, match=r"\(N, 2, 3\)"):
        F.affine_grid(ember.zeros((1, 2, 2)), (1, 1, 3, 3))


@pytest.mark.parametrize("size", [1, 2, 3, 5])
def test_local_response_norm_is_pytorchs(size):
    x = np.random.default_rng(0).standard_normal((2, 6, 3, 2))
    _against_torch(lambda lib, f, t: f.local_response_norm(t, size, alpha=0.3, beta=0.6, k=2.0), [x])
    _against_torch(lambda lib, f, t: f.local_response_norm(t, size), [x[..., 0]])


@pytest.mark.parametrize("kwargs", [dict(max_norm=1.5), dict(max_norm=1.0, norm_type=1.0),
                                    dict(scale_grad_by_freq=True),
                                    dict(padding_idx=2, scale_grad_by_freq=True, max_norm=2.0)])
def test_embedding_max_norm_and_scale_grad_by_freq_are_pytorchs(kwargs):
    """max_norm rescales the picked rows of the table itself (repeated picks once), and
    scale_grad_by_freq divides each row's gradient by its count in the batch."""
    torch = pytest.importorskip("torch")
    w = np.random.default_rng(0).standard_normal((6, 4)) * 2
    idx = [[0, 2, 2], [5, 0, 2]]
    ours = nn.Embedding.from_pretrained(ember.tensor(w), freeze=False, **kwargs)
    theirs = torch.nn.Embedding.from_pretrained(torch.tensor(w), freeze=False, **kwargs)
    got, want = ours(ember.tensor(idx)), theirs(torch.tensor(idx))
    g = np.random.default_rng(1).standard_normal(got.shape)
    (got * ember.tensor(g)).sum().backward()
    (want * torch.tensor(g)).sum().backward()
    for a, b in ((got, want), (ours.weight, theirs.weight), (ours.weight.grad, theirs.weight.grad)):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-12, atol=1e-15)
    with pytest.raises(ValueError, match="sparse gradients"):
        nn.Embedding(3, 2, sparse=True)


BAG_INDICES = np.array([1, 2, 4, 5, 4, 3, 2, 9])


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("indices, offsets, options", [
    (BAG_INDICES, [0, 4], {}),
    (BAG_INDICES, [0, 0, 3, 8], {}),                            # empty bags give zeros
    (BAG_INDICES, [0, 2, 5, 8], {"include_last_offset": True}),
    (np.array([[1, 2, 0], [4, 0, 0], [0, 0, 0]]), None, {"padding_idx": 0}),
    (np.array([[1, 2, 9], [4, 7, 7]]), None, {"padding_idx": -1})],
    ids=["offsets", "empty-bags", "last-offset", "padding", "padding-from-the-end"])
def test_embedding_bag_is_pytorchs(mode, indices, offsets, options):
    """Bags by offsets (empty ones, CSR's last offset) or by rows, padding left out of a
    bag and its count: values and the table's gradient in float64, each mode."""
    table = np.random.default_rng(0).standard_normal((10, 4))

    def bags(lib, f, weight):
        return f.embedding_bag(lib.tensor(indices), weight,
                               None if offsets is None else lib.tensor(offsets), mode=mode,
                               **options)
    _against_torch(bags, [table])


def test_embedding_bag_per_sample_weights_and_layer_are_pytorchs():
    """per_sample_weights scale each entry (their gradient too); nn.EmbeddingBag keeps
    PyTorch's state key and from_pretrained options."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    table, weights = rng.standard_normal((10, 3)), rng.standard_normal(8)
    _against_torch(lambda lib, f, t, w: f.embedding_bag(
        lib.tensor(BAG_INDICES), t, lib.tensor([0, 3, 3]), mode="sum", per_sample_weights=w),
        [table, weights])
    ours = nn.EmbeddingBag.from_pretrained(ember.tensor(table), mode="max", padding_idx=2)
    theirs = torch.nn.EmbeddingBag.from_pretrained(torch.tensor(table), mode="max",
                                                   padding_idx=2)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]
    assert not ours.weight.requires_grad
    got = ours(ember.tensor(BAG_INDICES), ember.tensor([0, 5])).numpy()
    np.testing.assert_array_equal(got, theirs(torch.tensor(BAG_INDICES),
                                              torch.tensor([0, 5])).numpy())


def test_embedding_bag_refuses_what_pytorch_refuses():
    table = ember.ones((10, 3))
    cases = [
        (dict(input=[[1, 2]], offsets=[0]), ember.ShapeError, "give offsets only with a 1-D"),
        (dict(input=[1, 2]), ember.ShapeError, "a 1-D input needs offsets"),
        (dict(input=[1, 2], offsets=[1]), ember.IndexingError, "must start at 0"),
        (dict(input=[1, 2], offsets=[0, 2, 1]), ember.IndexingError, "not decrease"),
        (dict(input=[1, 2], offsets=[0, 1], include_last_offset=True), ember.IndexingError,
         "last offset .* must be the input's length 2"),
        (dict(input=[1, 2], offsets=[0], mode="mean", per_sample_weights=[1.0, 2.0]),
         ValueError, "per_sample_weights needs mode 'sum'"),
        (dict(input=[1, 2], offsets=[0], mode="sum", per_sample_weights=[1.0]),
         ember.ShapeError, "must have the input's shape"),
        (dict(input=[1, 2], offsets=[0], mode="median"), ValueError, "mode must be"),
        (dict(input=[1, 12], offsets=[0]), ember.IndexingError, "index 12 is out of range")]
    if ember.config.availability("opencl")[0]:
        elsewhere = ember.tensor([0], backend="opencl")
        cases.append((dict(input=ember.tensor([1, 2]), offsets=elsewhere), ember.BackendError,
                      "offsets are on opencl.* move the offsets with \\.to\\('numpy'\\)"))
    for kwargs, error, message in cases:
        with pytest.raises(error, match=message):
            F.embedding_bag(weight=table, **kwargs)


def test_one_hot_is_pytorchs_and_refuses_indices_outside_its_classes(backend):
    """F.one_hot gives PyTorch's integer rows (int64; wgpu's int32), infers num_classes
    from the largest index, and refuses an index past the classes, where it gave a row of
    zeros; one_hot_mask keeps that row of zeros, unchecked, for the losses and ONNX."""
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch==2.13.0)")
    labels = np.array([[0, 2], [1, 3]])
    x = ember.tensor(labels, backend=backend)
    for args in ((), (5,), (-1,)):
        got = F.one_hot(x, *args)
        want = torch.nn.functional.one_hot(torch.tensor(labels), *args).numpy()
        assert got.dtype is backend.default_int
        np.testing.assert_array_equal(got.numpy(), want)
    np.testing.assert_array_equal(F.one_hot(x, 4, axis=0, dtype=ember.float32).numpy(),
                                  np.moveaxis(np.eye(4, dtype=np.float32)[labels], -1, 0))
    assert F.one_hot(ember.tensor([], dtype=ember.int32, backend=backend), 3).shape == (0, 3)
    for bad, error, message in (
            ((x, 3), ember.IndexingError, r"holds 3, outside the classes 0 to 2 \(num_classes=3\)"),
            ((x - 1,), ember.IndexingError, "holds -1, outside the classes"),
            ((ember.tensor([], dtype=ember.int32, backend=backend),), ember.ShapeError,
             "cannot infer num_classes from an empty tensor"),
            ((ember.tensor([1.0], backend=backend), 3), ember.DTypeError,
             "class indices must be an integer tensor, got float32")):
        with pytest.raises(error, match=message):
            F.one_hot(*bad)
    np.testing.assert_array_equal(F.one_hot_mask(x - 1, 3).numpy(),
                                  [[[0, 0, 0], [0, 1, 0]], [[1, 0, 0], [0, 0, 1]]])


def test_gumbel_softmax_samples_softmax_and_passes_the_soft_gradient():
    """The largest entry of a sample falls on each class with its softmax probability (the
    Gumbel-max property, any tau; within 5 standard deviations over 20000 rows); a soft
    sample sums to 1 along dim; a hard one is the one-hot of the same seed's soft sample,
    whose gradient it passes (straight-through); the seed repeats a sample."""
    p = np.array([0.1, 0.2, 0.3, 0.4])
    logits = ember.tensor(np.log(p)[None].repeat(20000, 0), requires_grad=True)
    ember.manual_seed(3)
    hard = F.gumbel_softmax(logits, tau=0.5, hard=True)
    counts = hard.numpy()
    assert set(np.unique(counts)) == {0.0, 1.0} and (counts.sum(1) == 1).all()
    assert (np.abs(counts.mean(0) - p) < 5 * np.sqrt(p * (1 - p) / 20000)).all()
    ember.manual_seed(3)
    soft = F.gumbel_softmax(logits, tau=0.5)
    np.testing.assert_array_equal(counts.argmax(1), soft.numpy().argmax(1))
    w = ember.tensor(np.random.default_rng(0).standard_normal(soft.shape))
    (soft * w).sum().backward()
    grad_soft, logits.grad = logits.grad.numpy(), None
    (hard * w).sum().backward()
    np.testing.assert_allclose(logits.grad.numpy(), grad_soft, rtol=1e-12, atol=1e-18)
    columns = F.gumbel_softmax(logits[:5].detach().T, tau=2.0, dim=0).numpy()
    np.testing.assert_allclose(columns.sum(0), 1.0, rtol=1e-12)
    ember.manual_seed(7)
    again = F.gumbel_softmax(logits[:5].detach())
    ember.manual_seed(7)
    np.testing.assert_array_equal(F.gumbel_softmax(logits[:5].detach()).numpy(), again.numpy())
    with pytest.raises(ValueError, match="tau must be > 0"):
        F.gumbel_softmax(logits, tau=0.0)
    with pytest.raises(ember.DTypeError, match="logits must be a float tensor"):
        F.gumbel_softmax(ember.tensor([1, 2]))


def test_embedding_max_norm_in_a_compiled_step():
    """The renormalization is a state update the compiled step replays, and the counts of
    scale_grad_by_freq are found on the device: the table after six compiled steps is the
    eager one's."""
    tables = []
    for compiled in (False, True):
        ember.manual_seed(0)
        emb = nn.Embedding(5, 3, max_norm=0.5, scale_grad_by_freq=True)
        opt = ember.plugins.optim.SGD(emb.parameters(), lr=0.1)

        def step(i):
            loss = emb(i).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss
        run = ember.compile(step) if compiled else step
        for k in range(6):
            run(ember.tensor([k % 5, 3, 3]))
        tables.append(emb.weight.numpy())
    np.testing.assert_allclose(tables[1], tables[0], rtol=1e-6)
    assert np.linalg.norm(tables[0], axis=1).max() <= 0.5 + 0.1 * 3 ** 0.5 + 1e-6


@pytest.mark.parametrize("config", [
    dict(stride=(2, 1, 2), padding=(1, 0, 2), dilation=(1, 2, 1), groups=2),
    dict(stride=1, padding="same", dilation=(2, 1, 1), groups=1),
    dict(stride=(1, 2, 1), padding="valid", dilation=1, groups=4)])
def test_conv3d_is_pytorchs(config):
    """Strides, paddings ('same' with an odd total included), dilations and groups in
    float64: values and the gradients of input, weight and bias, batched and unbatched."""
    rng = np.random.default_rng(0)
    g = config["groups"]
    w, b = rng.standard_normal((8, 4 // g, 3, 2, 3)), rng.standard_normal(8)
    for x in (rng.standard_normal((2, 4, 7, 6, 5)), rng.standard_normal((4, 5, 4, 5))):
        _against_torch(lambda lib, f, t, w, b: f.conv3d(t, w, b, **config), [x, w, b], rtol=1e-10)


#: (kernel, stride, padding, dilation, ceil_mode) of volumes 7 x 6 x 5: ceil_mode's partial
#: last window (7 -> 4 with 3/2/1 on depth), dilation, and unequal sides
POOL3D_WINDOWS = [((3, 2, 2), (2, 2, 1), (1, 1, 0), (1, 1, 2), False),
                  ((3, 2, 2), (2, 2, 1), (1, 1, 0), (1, 1, 2), True),
                  (2, 2, 0, 1, True), (3, (2, 3, 2), 1, 1, True)]


@pytest.mark.parametrize("kernel, stride, padding, dilation, ceil_mode", POOL3D_WINDOWS)
def test_3d_pooling_is_pytorchs(kernel, stride, padding, dilation, ceil_mode):
    """max_pool3d (ties on a grid of halves: the gradient goes to the first largest in (d,
    h, w) order, and return_indices' positions) and avg_pool3d with its three divisors,
    against PyTorch in float64, batched and unbatched."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    x = np.round(rng.standard_normal((2, 3, 7, 6, 5)) * 2) / 2
    for data in (x, x[0]):
        _against_torch(lambda lib, f, t: f.max_pool3d(t, kernel, stride, padding, dilation,
                                                      ceil_mode), [data])
        got = F.max_pool3d(ember.tensor(data), kernel, stride, padding, dilation, ceil_mode, True)[1]
        want = torch.nn.functional.max_pool3d(torch.tensor(data), kernel, stride, padding,
                                              dilation, ceil_mode, True)[1]
        assert got.tolist() == want.tolist()
        if dilation == 1:
            for include in (True, False):
                _against_torch(lambda lib, f, t: f.avg_pool3d(t, kernel, stride, padding,
                                                              ceil_mode, include), [data])
            _against_torch(lambda lib, f, t: f.avg_pool3d(t, kernel, stride, padding, ceil_mode,
                                                          divisor_override=5), [data])


@pytest.mark.parametrize("size", [(2, 3, 4), 1, (3, None, 2), (7, 6, 5)])
def test_adaptive_3d_pooling_is_pytorchs(size):
    """adaptive_avg_pool3d and adaptive_max_pool3d (ties on a grid of halves, overlapping
    windows of unequal sizes, return_indices' positions) against PyTorch in float64,
    batched and unbatched."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    x = np.round(rng.standard_normal((2, 3, 7, 6, 5)) * 2) / 2
    for data in (x, x[0]):
        _against_torch(lambda lib, f, t: f.adaptive_avg_pool3d(t, size), [data])
        _against_torch(lambda lib, f, t: f.adaptive_max_pool3d(t, size), [data])
        got = F.adaptive_max_pool3d(ember.tensor(data), size, True)[1]
        want = torch.nn.functional.adaptive_max_pool3d(torch.tensor(data), size, True)[1]
        assert got.tolist() == want.tolist()


@pytest.mark.parametrize("config", [
    dict(stride=(2, 1, 2), padding=(1, 0, 1), output_padding=(1, 0, 0), groups=2,
         dilation=1),
    dict(stride=1, padding=0, output_padding=0, groups=1, dilation=(2, 1, 2)),
    dict(stride=(3, 2, 1), padding=(0, 1, 0), output_padding=(2, 1, 0), groups=4,
         dilation=(1, 2, 1))])
def test_conv_transpose3d_is_pytorchs(config):
    """Strides, paddings, output_padding past the padding, dilations and groups in float64:
    values and the gradients of input, weight and bias, batched and unbatched."""
    rng = np.random.default_rng(5)
    g = config["groups"]
    w, b = rng.standard_normal((4, 8 // g, 3, 2, 3)), rng.standard_normal(8)
    for x in (rng.standard_normal((2, 4, 3, 4, 5)), rng.standard_normal((4, 2, 3, 4))):
        _against_torch(lambda lib, f, t, w, b: f.conv_transpose3d(t, w, b, **config), [x, w, b],
                       rtol=1e-10)


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_max_unpool_and_lp_pool_are_pytorchs(dims):
    """max_unpool of max_pool's indices (default and given output sizes, padding) and
    lp_pool (p = 2 and 3, ceil_mode) against PyTorch in float64, batched and unbatched;
    an index off the output plane is refused by name."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 3) + (7, 6, 5)[:dims])
    even = rng.standard_normal((2, 3) + (6, 4, 4)[:dims])       # unpooled to its own size
    for data, other in ((x, even), (x[0], even[0])):
        pool = f"max_pool{dims}d"
        for source, kernel, stride, padding, size in (
                (other, 2, 2, 0, None), (data, 3, 2, 1, data.shape[-dims:]),
                (data, 2, 2, 0, data.shape[-dims:])):
            values, index = getattr(torch.nn.functional, pool)(
                torch.tensor(source), kernel, stride, padding, return_indices=True)
            _against_torch(lambda lib, f, t: getattr(f, f"max_unpool{dims}d")(
                t, index if lib is torch else ember.tensor(index.numpy()), kernel, stride,
                padding, size), [values.numpy()])
        for p, kernel, stride, ceil in ((2, 2, None, False), (3, 3, 2, True)):
            _against_torch(lambda lib, f, t: getattr(f, f"lp_pool{dims}d")(t, p, kernel, stride,
                                                                            ceil), [np.abs(data)])
    with pytest.raises(ember.ShapeError, match="outside the output plane"):
        getattr(F, f"max_unpool{dims}d")(ember.ones((1, 1) + (2,) * dims),
                                         ember.full((1, 1) + (2,) * dims, 99), 2)


def test_pdist_channel_shuffle_rrelu_and_alpha_dropout_are_pytorchs():
    """pdist (p = 1, 2, inf) and channel_shuffle against PyTorch in float64; rrelu's eval
    slope and its training slopes' range; alpha dropout keeps a standard normal input's
    mean and variance, sets dropped units to SELU's saturation mapped, and is the identity
    in eval, as PyTorch's."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    x = rng.standard_normal((5, 4))
    for p in (1.0, 2.0, math.inf):
        _against_torch(lambda lib, f, t: f.pdist(t, p), [x])
    _against_torch(lambda lib, f, t: f.channel_shuffle(t, 3), [rng.standard_normal((2, 6, 3, 2))])
    _against_torch(lambda lib, f, t: f.rrelu(t, 0.1, 0.3, training=False), [x])
    ember.manual_seed(0)
    t = ember.tensor(np.linspace(-3, -1, 1000))
    slopes = (F.rrelu(t, 0.1, 0.3, training=True) / t).numpy()
    assert 0.1 <= slopes.min() and slopes.max() <= 0.3 and slopes.std() > 0.04
    big = ember.tensor(rng.standard_normal((400, 500)))
    for fn in (F.alpha_dropout, F.feature_alpha_dropout):
        out = fn(big, 0.3, training=True).numpy()
        assert abs(out.mean()) < 0.02 and abs(out.var() - 1) < 0.03
        np.testing.assert_array_equal(fn(big, 0.3, training=False).numpy(), big.numpy())
    dropped = F.alpha_dropout(ember.zeros((2000,)) + 5.0, 0.5, training=True).numpy()
    a, p = -1.7580993408473766, 0.5
    scale = ((1 - p) * (1 + p * a * a)) ** -0.5
    np.testing.assert_allclose(np.unique(dropped), sorted([5 * scale - scale * a * p,
                                                           a * scale - scale * a * p]), rtol=1e-6)


def test_in_place_activations_and_upsampling_aliases_are_pytorchs():
    """F.relu_ and the other in-place activations write their result into the input and
    return it (refused on a tensor in autograd, ember's rule); UpsamplingNearest2d and
    UpsamplingBilinear2d (align_corners=True) give PyTorch's outputs."""
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(8).standard_normal((2, 3, 4, 5))
    for name, args in (("relu_", ()), ("elu_", (0.5,)), ("leaky_relu_", (0.2,)),
                       ("hardtanh_", (-0.5, 0.5)), ("threshold_", (0.1, 7.0)), ("selu_", ()),
                       ("celu_", (1.5,))):
        ours, theirs = ember.tensor(x), torch.tensor(x)
        back = getattr(F, name)(ours, *args)
        getattr(torch.nn.functional, name)(theirs, *args)
        assert back is ours
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12, err_msg=name)
    with pytest.raises(ember.MutationError):
        F.relu_(ember.tensor(x, requires_grad=True))
    for ours, theirs in ((nn.UpsamplingNearest2d(scale_factor=2), torch.nn.UpsamplingNearest2d(
            scale_factor=2)), (nn.UpsamplingBilinear2d(size=(7, 9)),
                               torch.nn.UpsamplingBilinear2d(size=(7, 9)))):
        np.testing.assert_allclose(ours(ember.tensor(x)).numpy(),
                                   theirs(torch.tensor(x)).numpy(), rtol=1e-12)


def test_conv_transpose1d_is_pytorchs():
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal((2, 4, 9)), rng.standard_normal((4, 3, 3)), rng.standard_normal(6)
    for data in (x, x[0]):
        _against_torch(lambda lib, f, t, w, b: f.conv_transpose1d(t, w, b, 2, 1, 1, 2, 2),
                       [data, w, b], rtol=1e-10)


@pytest.mark.parametrize("name, args", [("Conv3d", (4, 6, (3, 2, 3))), ("ConvTranspose1d", (4, 6, 3)),
                                        ("ConvTranspose3d", (4, 6, (3, 2, 2))),
                                        ("BatchNorm3d", (4,))])
def test_3d_and_transposed_1d_layers_have_pytorchs_state_dict_and_outputs(name, args):
    """Their state-dict keys and shapes are PyTorch's, so its weights load, and the
    outputs then agree (BatchNorm3d in training mode, its running statistics too)."""
    torch = pytest.importorskip("torch")
    ours, theirs = getattr(nn, name)(*args).to(ember.float64), getattr(torch.nn, name)(*args).double()
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == \
        {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    x = np.random.default_rng(4).standard_normal((2, 4, 5, 4, 3) if name != "ConvTranspose1d"
                                                 else (2, 4, 7))
    np.testing.assert_allclose(ours(ember.tensor(x)).numpy(),
                               theirs(torch.tensor(x)).detach().numpy(), rtol=1e-10, atol=1e-13)
    for key, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[key].numpy(), value.numpy(), rtol=1e-12)


@pytest.mark.parametrize("mode", ["bilinear", "bicubic", "nearest"])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
def test_grid_sample_far_outside_is_pytorchs(mode, padding_mode):
    """Finite positions past 2**24 (1e30, 2e7) are floored exactly, so they reflect and
    clamp as PyTorch's do (a floor held within +-2**24 gave 1e14 for bicubic's border)."""
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal((1, 2, 4, 5)).astype(np.float32)
    grid = np.array([[[[1e30, -1e30], [0.2, 2e7], [-3e9, 0.5], [3.0, -5.0]]]], np.float32)
    got = F.grid_sample(ember.tensor(x), ember.tensor(grid), mode=mode, padding_mode=padding_mode)
    want = torch.nn.functional.grid_sample(torch.tensor(x), torch.tensor(grid), mode=mode,
                                           padding_mode=padding_mode, align_corners=False)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-6)


def test_functional_takes_pytorch_names_and_arguments(backend):
    """F.softmax(x, dim=...), F.cross_entropy(logits, y, weight, ignore_index=-100) and the
    rest under torch.nn.functional's names and argument order give PyTorch's values."""
    torch = pytest.importorskip("torch", reason="PyTorch is the oracle here")
    tf = torch.nn.functional
    rng = np.random.default_rng(0)
    logits, probs = rng.standard_normal((6, 5)), rng.uniform(0.05, 0.95, (6, 5))
    labels = np.array([0, 4, -100, 2, 1, -100])
    weight, bits = rng.uniform(0.5, 2.0, 5), (rng.uniform(size=(6, 5)) > 0.5) * 1.0
    dtype = ember.float64 if ember.float64 in backend.dtypes else ember.float32
    e = lambda a, dtype=dtype: ember.tensor(a, dtype=dtype, backend=backend)   # noqa: E731
    t = torch.tensor
    cases = [
        (F.softmax(e(logits), dim=0), tf.softmax(t(logits), dim=0)),
        (F.log_softmax(e(logits), -1), tf.log_softmax(t(logits), -1)),
        (F.relu(e(logits)), tf.relu(t(logits))), (F.sigmoid(e(logits)), tf.sigmoid(t(logits))),
        (F.tanh(e(logits)), tf.tanh(t(logits))), (F.softplus(e(logits), 2.0, 1.0),
                                                 tf.softplus(t(logits), 2.0, 1.0)),
        (F.cross_entropy(e(logits), e(labels, dtype=backend.default_int), e(weight)),
         tf.cross_entropy(t(logits), t(labels), t(weight))),
        (F.cross_entropy(e(logits), e(labels, dtype=backend.default_int), label_smoothing=0.1,
                         reduction="sum"),
         tf.cross_entropy(t(logits), t(labels), label_smoothing=0.1, reduction="sum")),
        (F.nll_loss(F.log_softmax(e(logits), 1), e(labels, dtype=backend.default_int)),
         tf.nll_loss(tf.log_softmax(t(logits), 1), t(labels))),
        (F.mse_loss(e(logits), e(probs)), tf.mse_loss(t(logits), t(probs))),
        (F.l1_loss(e(logits), e(probs), reduction="sum"), tf.l1_loss(t(logits), t(probs), reduction="sum")),
        (F.smooth_l1_loss(e(logits), e(probs), beta=0.5), tf.smooth_l1_loss(t(logits), t(probs), beta=0.5)),
        (F.huber_loss(e(logits), e(probs), delta=0.7), tf.huber_loss(t(logits), t(probs), delta=0.7)),
        (F.kl_div(F.log_softmax(e(logits), 1), e(probs), reduction="batchmean"),
         tf.kl_div(tf.log_softmax(t(logits), 1), t(probs), reduction="batchmean")),
        (F.binary_cross_entropy(e(probs), e(bits), e(weight)),
         tf.binary_cross_entropy(t(probs), t(bits), t(weight))),
        (F.binary_cross_entropy_with_logits(e(logits), e(bits), pos_weight=e(weight)),
         tf.binary_cross_entropy_with_logits(t(logits), t(bits), pos_weight=t(weight))),
    ]
    for i, (got, want) in enumerate(cases):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12 if dtype is ember.float64
                                   else 2e-6, err_msg=f"case {i}")
    with pytest.raises(ValueError, match="give dim"):
        F.softmax(e(logits))
    with pytest.raises(ValueError, match="size_average and reduce"):
        F.mse_loss(e(logits), e(probs), size_average=True)


@pytest.mark.filterwarnings("ignore:.*upsample.* is deprecated")
def test_pooling_with_indices_and_upsample_aliases_match_torch(backend):
    torch = pytest.importorskip("torch")
    TF = torch.nn.functional
    x = np.random.default_rng(0).standard_normal((1, 2, 6, 6)).astype(np.float32)
    e, t = ember.tensor(x, backend=backend), torch.tensor(x)
    for name, args in (("max_pool1d_with_indices", (2,)), ("max_pool2d_with_indices", (2, 1)),
                       ("adaptive_max_pool1d_with_indices", (4,)),
                       ("adaptive_max_pool2d_with_indices", (3,))):
        src_e, src_t = (e[0], t[0]) if "1d" in name else (e, t)
        got, want = getattr(F, name)(src_e, *args), getattr(TF, name)(src_t, *args)
        np.testing.assert_array_equal(got[0].numpy(), want[0].numpy(), err_msg=name)
        np.testing.assert_array_equal(got[1].numpy(), want[1].numpy(), err_msg=name)
    v = np.random.default_rng(1).standard_normal((1, 1, 3, 3, 3)).astype(np.float32)
    got = F.max_pool3d_with_indices(ember.tensor(v, backend=backend), 2, 1)
    want = TF.max_pool3d_with_indices(torch.tensor(v), 2, 1)
    np.testing.assert_array_equal(got[1].numpy(), want[1].numpy())
    for name, kw in (("upsample", {"scale_factor": 2, "mode": "bilinear"}),
                     ("upsample_nearest", {"size": (9, 9)}),
                     ("upsample_bilinear", {"scale_factor": 2})):
        np.testing.assert_allclose(getattr(F, name)(e, **kw).numpy(),
                                   getattr(TF, name)(t, **kw).numpy(), rtol=1e-5, atol=1e-6,
                                   err_msg=name)


@pytest.mark.parametrize("dims, shape, kernel, size", [
    (2, (2, 3, 9, 7), (3, 2), {"output_size": (4, 5)}),
    (2, (3, 8, 8), 2, {"output_ratio": (0.5, 0.6)}),
    (3, (2, 2, 6, 7, 5), (2, 3, 2), {"output_size": (3, 4, 3)}),
])
def test_fractional_max_pool_picks_pytorchs_windows(dims, shape, kernel, size):
    """Given PyTorch's random samples, the same windows, values, indices and gradients."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    batch = shape[0] if len(shape) == dims + 2 else 1
    samples = rng.random((batch, shape[-dims - 1], dims)).astype(np.float32)
    results = []
    for lib, fn in ((ember, getattr(F, f"fractional_max_pool{dims}d")),
                    (torch, getattr(torch.nn.functional, f"fractional_max_pool{dims}d"))):
        xs = lib.tensor(x, requires_grad=True)
        out, index = fn(xs, kernel, return_indices=True, _random_samples=lib.tensor(samples),
                        **size)
        (out * out).sum().backward()
        results.append((out, index, xs.grad))
    for got, want in zip(*results):
        np.testing.assert_array_equal(got.numpy(), want.detach().numpy())
    with pytest.raises(ember.ShapeError, match="does not fit"):
        F.fractional_max_pool2d(ember.ones(1, 1, 4, 4), 3, output_size=3)


def test_orthogonal_eye_dirac_and_sparse_initializers():
    torch = pytest.importorskip("torch")
    for shape, gain in (((3, 5), 2.0), ((6, 2, 2), 1.0)):
        w = nn.init.orthogonal_(ember.zeros(*shape, dtype=ember.float64), gain=gain)
        a = w.numpy().reshape(shape[0], -1)
        gram = a @ a.T if a.shape[0] <= a.shape[1] else a.T @ a
        np.testing.assert_allclose(gram, gain ** 2 * np.eye(len(gram)), rtol=0, atol=1e-12)
    for shape, groups in (((4, 2, 3), 1), ((6, 4, 3, 3), 2), ((4, 4, 1, 3, 3), 2)):
        want = torch.nn.init.dirac_(torch.zeros(shape), groups).numpy()
        np.testing.assert_array_equal(nn.init.dirac_(ember.zeros(*shape), groups).numpy(), want)
    np.testing.assert_array_equal(nn.init.eye_(ember.zeros(3, 4)).numpy(),
                                  torch.nn.init.eye_(torch.zeros(3, 4)).numpy())
    s = nn.init.sparse_(ember.zeros(10, 40, dtype=ember.float64), 0.3, std=0.5).numpy()
    assert ((s == 0).sum(0) == 3).all() and 0.4 < s[s != 0].std() < 0.6
    with pytest.raises(ember.ShapeError, match="2 or more dimensions"):
        nn.init.orthogonal_(ember.zeros(4))


def test_batch_norm_fuses_into_the_layer_before_as_pytorchs():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    stats = {"weight": rng.standard_normal(4), "bias": rng.standard_normal(4),
             "running_mean": rng.standard_normal(4), "running_var": rng.uniform(0.5, 2, 4)}
    x, y = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((3, 5))
    results = []
    for lib, utils in ((ember, nn.utils), (torch, torch.nn.utils)):
        layers = (nn if lib is ember else torch.nn)
        conv, lin = layers.Conv2d(3, 4, 3, bias=False).double(), layers.Linear(5, 4).double()
        bn2, bn1 = layers.BatchNorm2d(4).double(), layers.BatchNorm1d(4).double()
        for bn in (bn2, bn1):
            bn.load_state_dict({**{k: lib.tensor(v) for k, v in stats.items()},
                                "num_batches_tracked": lib.tensor(3)})
        for m in (conv, lin, bn1, bn2):
            m.eval()
        results.append((utils.fuse_conv_bn_eval(conv, bn2)(lib.tensor(x)),
                        bn2(conv(lib.tensor(x))),
                        utils.fuse_linear_bn_eval(lin, bn1)(lib.tensor(y)), bn1(lin(lib.tensor(y)))))
    for fused, plain in ((0, 1), (2, 3)):
        for r in results:
            np.testing.assert_allclose(_np(r[fused]), _np(r[plain]), rtol=1e-12, atol=1e-12)
    conv, bn = nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)
    with pytest.raises(ValueError, match="eval mode"):
        nn.utils.fuse_conv_bn_eval(conv, bn)


def _np(t):
    return t.detach().numpy() if hasattr(t, "detach") else t.numpy()


def test_non_persistent_buffers_stay_out_of_the_state_dict_as_pytorchs():
    torch = pytest.importorskip("torch")
    keys = []
    for lib in (nn, torch.nn):
        class Net(lib.Module):
            def __init__(self):
                super().__init__()
                self.lin = lib.Linear(2, 2)
                self.register_buffer("cache", (ember if lib is nn else torch).ones(3),
                                     persistent=False)
                self.count = lib.Buffer((ember if lib is nn else torch).zeros(()))
                self.tmp = lib.Buffer((ember if lib is nn else torch).ones(2), persistent=False)
        net = Net()
        net.load_state_dict(net.state_dict())                # strict: no missing cache
        keys.append((sorted(net.state_dict()), sorted(n for n, _ in net.named_buffers()),
                     sorted(net.state_dict(prefix="m.", keep_vars=True))))
    assert keys[0] == keys[1]


def _shared_net(lib, tensors):
    """A net whose Linear is used twice, with a BatchNorm between (buffers)."""
    class Net(lib.Module):
        def __init__(self):
            super().__init__()
            shared = lib.Linear(3, 3)
            self.body = lib.Sequential(shared, lib.BatchNorm1d(3), shared)
            self.head = lib.Linear(3, 2)
            self.register_buffer("scale", tensors.ones(2))
    return Net()


def test_shared_modules_and_state_dict_order_are_pytorchs():
    torch = pytest.importorskip("torch")
    seen = []
    for lib, tensors in ((nn, ember), (torch.nn, torch)):
        net = _shared_net(lib, tensors)
        seen.append((
            [n for n, _ in net.named_parameters()],
            [n for n, _ in net.named_parameters(remove_duplicate=False)],
            [n for n, _ in net.named_buffers()],
            [n for n, _ in net.named_buffers(recurse=False)],
            [n for n, _ in net.named_modules()],
            [n for n, _ in net.named_modules(remove_duplicate=False)],
            [n for n, _ in net.body.named_children()],
            len(list(net.parameters())), len(list(net.parameters(recurse=False))),
            list(net.state_dict()),               # module by module; shared under both keys
            list(net.state_dict(prefix="m.")),
        ))
    assert seen[0] == seen[1]


def test_load_state_dict_reports_keys_and_assigns_as_pytorchs():
    torch = pytest.importorskip("torch")
    reports = []
    for lib, tensors in ((nn, ember), (torch.nn, torch)):
        net = _shared_net(lib, tensors)
        state = dict(net.state_dict())
        state.pop("head.bias")
        state["extra.weight"] = tensors.zeros(1)
        result = net.load_state_dict(state, strict=False)
        reports.append((list(result.missing_keys), list(result.unexpected_keys),
                        repr(net.load_state_dict(net.state_dict()))))
    assert reports[0] == reports[1]
    net = _shared_net(nn, ember)
    new = {k: v * 0 + 2 for k, v in net.state_dict().items()}
    old = net.head.weight
    net.load_state_dict(new, assign=True)
    assert net.head.weight is not old and isinstance(net.head.weight, nn.Parameter)
    assert net.head.weight.requires_grad and net.head.weight is net.get_parameter("head.weight")
    assert [p.numpy().tolist() for p in net.parameters()] == \
        [np.full(p.shape, 2.0).tolist() for p in net.parameters()]
    assert net.body[1].running_mean.numpy().tolist() == [2.0] * 3


def test_zero_grad_to_none_or_zeros_as_pytorchs():
    net = nn.Linear(2, 2)
    net(ember.ones((1, 2))).sum().backward()
    net.zero_grad(set_to_none=False)
    assert net.weight.grad.numpy().tolist() == [[0.0, 0.0], [0.0, 0.0]]
    net.zero_grad()
    assert net.weight.grad is None


def test_functional_call_takes_torch_funcs_arguments():
    torch = pytest.importorskip("torch")
    import torch.func
    got = []
    ours = _shared_net(nn, ember).eval()
    theirs = _shared_net(torch.nn, torch).eval()
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    for lib, tensors, call, net in ((nn, ember, nn.functional_call, ours),
                                    (torch.nn, torch, torch.func.functional_call, theirs)):
        x = tensors.ones((2, 3))
        w = tensors.ones((3, 3)) * 0.5
        tied = call(net.body, {"0.weight": w}, (x,))             # 2.weight follows (tied)
        untied = call(net.body, ({"0.weight": w}, {"1.bias": tensors.ones(3)}), x,
                      tie_weights=False)
        got.append([np.asarray(t.detach().numpy()) for t in (tied, untied)])
        if lib is nn:     # the originals are back (PyTorch 2.13 leaves w in a shared module)
            assert net.body[0].weight is not w and net.body[2].weight is net.body[0].weight
    for a, b in zip(*got):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    net = _shared_net(nn, ember)
    with pytest.raises(ember.StateDictError, match="tied"):
        nn.functional_call(net.body, {"0.weight": ember.ones((3, 3)),
                                      "2.weight": ember.zeros((3, 3))}, ember.ones((1, 3)))
    with pytest.raises(ember.StateDictError, match="no parameter or buffer 'nope'"):
        nn.functional_call(net, {"nope": ember.ones(1)}, ember.ones((1, 3)))
    with pytest.raises(ember.StateDictError, match="strict=True"):
        nn.functional_call(net.body, {"0.weight": ember.ones((3, 3))}, ember.ones((1, 3)),
                           strict=True)


def test_an_ensemble_through_stack_module_state_and_vmap_is_torch_funcs():
    torch = pytest.importorskip("torch")
    import torch.func
    ours = [nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Tanh(), nn.Linear(8, 2)).eval()
            for _ in range(3)]
    theirs = [torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8),
                                  torch.nn.Tanh(), torch.nn.Linear(8, 2)).eval() for _ in ours]
    for o, t in zip(ours, theirs):
        t.load_state_dict({k: torch.tensor(v.numpy()) for k, v in o.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    results = []
    for lib, models, call in ((ember, ours, nn.functional_call),
                              (torch, theirs, torch.func.functional_call)):
        params, buffers = lib.func.stack_module_state(models)
        calls = []

        def one(p, b, x, models=models, call=call, calls=calls):
            calls.append(1)
            return call(models[0], (p, b), (x,))
        with lib.no_grad():
            out = lib.func.vmap(one, in_dims=(0, 0, None))(params, buffers, lib.tensor(x))
        trained = lib.func.vmap(one, in_dims=(0, 0, None))(params, buffers, lib.tensor(x))
        trained.pow(2).sum().backward()
        results.append((out.numpy(), params["0.weight"].grad.numpy(),
                        sorted(params), sorted(buffers), params["0.weight"].requires_grad))
        if lib is ember:
            assert len(calls) == 3     # one batched pass each: inference, training, its backward
    for a, b in zip(*results):
        if isinstance(a, np.ndarray):
            assert np.abs(a - b).max() <= 1e-5 * np.abs(b).max()
        else:
            assert a == b


def test_large_row_gathers_add_their_gradient_rows_as_torch():
    """Above the numpy backend's ROW_ADD_FROM the gradient of a gather of rows is added
    by a compiled loop (repeated rows, float32 and float64): PyTorch's gradient."""
    torch = pytest.importorskip("torch")
    from ember.backends.numpy.backend import ROW_ADD_FROM
    rng = np.random.default_rng(0)
    rows = ROW_ADD_FROM // 64 + 17
    for dtype in (np.float32, np.float64):
        table = rng.standard_normal((300, 64)).astype(dtype)
        index = rng.integers(0, 300, rows)
        upstream = rng.standard_normal((rows, 64)).astype(dtype)
        ours = ember.tensor(table, requires_grad=True)
        (ember.index_select(ours, 0, ember.tensor(index)) * ember.tensor(upstream)).sum().backward()
        theirs = torch.tensor(table, requires_grad=True)
        (torch.index_select(theirs, 0, torch.tensor(index)) * torch.tensor(upstream)).sum().backward()
        want = theirs.grad.numpy()
        np.testing.assert_allclose(ours.grad.numpy(), want, rtol=0, atol=np.abs(want).max() * (
            1e-6 if dtype is np.float32 else 1e-14))      # (the rows' sums in another order)


def test_module_compile_cpu_and_cuda_as_pytorchs():
    """Module.compile(): calls that record no gradient replay a compiled graph (one per
    mode), equal to the eager call; a call that records gradients runs eagerly, so
    backward works as before. cpu() moves to the numpy backend; cuda() asks for the cupy
    backend and, without it, says why."""
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2)).eval()
    x = ember.randn(5, 4)
    want = model(x).numpy()
    model.compile()
    with ember.no_grad():
        for _ in range(3):
            np.testing.assert_array_equal(model(x).numpy(), want)
    assert model._compiled_calls[False].trace_count >= 1
    model.train()
    model(x).sum().backward()
    assert model[0].weight.grad is not None
    assert model.cpu() is model and model[0].weight.backend.name == "numpy"
    assert ember.ones(2).cpu().backend.name == "numpy"
    if "cupy" not in ember.registry.names("backends") or not ember.config.availability("cupy")[0]:
        with pytest.raises(ember.BackendError, match="backend 'cupy' is not available here"):
            ember.ones(2).cuda()
        with pytest.raises(ember.BackendError, match="backend 'cupy' is not available here"):
            model.cuda(0)
    with pytest.raises(ValueError, match="cuda: the device is an index or 'cuda:N'"):
        ember.ones(2).cuda("tpu")
