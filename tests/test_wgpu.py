"""What is particular to the wgpu backend: 32-bit dtypes, its limits, batched submission.
(Every primitive is checked by the conformance suite, which runs on wgpu too.)"""

import numpy as np
import pytest

import ember

available, why = ember.config.availability("wgpu")
pytestmark = pytest.mark.skipif(not available, reason=f"wgpu unavailable: {why}")


@pytest.fixture
def wgpu():
    return ember.get_backend("wgpu")


def test_int32_is_the_default_integer(wgpu):
    with ember.backend("wgpu"):
        t = ember.tensor([[3, 1, 2], [0, 5, 4]])
        assert t.dtype is ember.int32
        assert t.sum().dtype is ember.int32 and t.sum().item() == 15
        assert t.argmax(axis=1).dtype is ember.int32 and t.argmax(axis=1).tolist() == [0, 1]
        assert ember.arange(4).dtype is ember.int32
        assert (ember.tensor([True]) + 1).dtype is ember.int32


def test_float64_arrays_are_refused_with_the_cast_to_make(wgpu):
    with pytest.raises(ember.DTypeError, match=r"backend wgpu does not support float64; "
                       r"it supports bool, int8, int16, int32, uint8, uint16, uint32, float16, "
                       r"bfloat16, float32, complex64, float8_e4m3fn, float8_e5m2, "
                       r"float8_e4m3fnuz, float8_e5m2fnuz; cast with \.to\(ember\.float32\)"):
        ember.tensor(np.arange(3, dtype=np.float64), backend="wgpu")


def test_int64_arrays_become_int32_where_every_value_fits(wgpu):
    """NumPy's default integer (class labels) lands on wgpu as int32, as JAX does without
    x64; a value that does not fit is refused by name, never wrapped."""
    t = ember.tensor(np.array([0, 7, -2**31]), backend="wgpu")
    assert t.dtype is ember.int32 and t.tolist() == [0, 7, -2**31]
    with pytest.raises(ember.RangeError, match=r"2147483648 does not fit in int32"):
        ember.tensor(np.array([1, 2**31]), backend="wgpu")


def test_a_tensor_past_the_binding_limit_names_the_limit(wgpu):
    rows = wgpu.max_tensor_bytes // (4 * 1024) + 1
    with pytest.raises(ember.BackendError, match=r"binds at most \d+ MiB per buffer"):
        ember.zeros(rows, 1024, backend="wgpu")


def test_ops_queue_without_a_round_trip_until_the_host_reads(wgpu):
    x = ember.tensor(np.linspace(-1, 1, 1000, dtype=np.float32), backend="wgpu")
    wgpu.synchronize()
    y = x
    for _ in range(10):
        y = ember.tanh(y * 1.5 + 0.1)
    assert wgpu._queued, "dispatches should wait in the open compute pass"
    want = np.linspace(-1, 1, 1000, dtype=np.float64)
    for _ in range(10):
        want = np.tanh(want * 1.5 + 0.1)
    np.testing.assert_allclose(y.numpy(), want, rtol=1e-4, atol=1e-5)
    assert not wgpu._queued, "a readback submits what was queued"


@pytest.mark.parametrize("shape_a,shape_b", [((5, 7), (7, 3)), ((2, 9, 13), (13, 6)),
                                             ((3, 1, 4, 8), (2, 8, 5)), ((1, 1), (1, 1))])
def test_matmul_of_odd_shapes_and_batches(wgpu, shape_a, shape_b):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(shape_a), rng.standard_normal(shape_b)
    got = ember.tensor(a, dtype=ember.float32, backend="wgpu") @ \
        ember.tensor(b, dtype=ember.float32, backend="wgpu")
    np.testing.assert_allclose(got.numpy(), a @ b, rtol=1e-4, atol=1e-5)


def test_info_names_the_adapter(wgpu):
    lines = wgpu.info()
    assert lines[0].startswith("adapter: ") and "limits: buffer" in lines[1]


def test_recycled_buffers_come_back_zeroed_and_alive(wgpu):
    import gc
    x = ember.tensor(np.full(1000, 7, np.float32), backend="wgpu")
    (x * 2).numpy()
    del x
    np.testing.assert_array_equal(ember.zeros(1000, backend="wgpu").numpy(), 0)
    for _ in range(4):                        # buffers freed by the cycle collector
        held = [ember.ones(256, backend="wgpu") * 3]
        held.append(held)
        del held
        gc.collect()
        np.testing.assert_array_equal((ember.ones(256, backend="wgpu") + 1).numpy(), 2)


@pytest.mark.parametrize("name", ["sin", "cos"])
def test_sin_and_cos_within_2_ulp_for_every_float(wgpu, name):
    """sin and cos take x's quarter turns off with integers (2/pi's bits at x's exponent),
    so huge arguments keep every digit (llvmpipe's own lost them all past 1e8): within
    1.55 ULP of float64 on every 1021st float, on the floats nearest to multiples of pi/2
    (up to 2^40 of them, where the remainder is smallest) and at the edges; sin(-0) is
    -0, inf and NaN give NaN, a subnormal result may flush to 0."""
    from ember.testing.checks import ulp_error
    every = np.arange(0, 2 ** 32, 1021, dtype=np.uint64).astype(np.uint32).view(np.float32)
    k = np.random.default_rng(0).integers(1, 2 ** 40, 200_000).astype(np.float64)
    near = (np.concatenate([k, np.arange(1, 100_000)]) * np.pi / 2).astype(np.float32)
    edges = np.float32([0.0, -0.0, 1e-45, 0.7853981, 0.7853982, 3.4e38, -3.4e38, 2 ** 24,
                        1e8, 1e9, 1e20, -2 ** 54 - 2 ** 32, np.inf, -np.inf, np.nan])
    for x in (every, near, np.concatenate([near, edges]) * np.float32(-1), edges):
        got = getattr(ember, name)(ember.tensor(x, backend=wgpu)).numpy()
        with np.errstate(all="ignore"):
            want = getattr(np, name)(x.astype(np.float64))
        err = ulp_error(got, want, ember.float32, flushes_subnormals=True)
        at = err.argmax()
        assert err[at] <= 1.6, f"{name}({x[at]!r}) = {got[at]!r}, float64 gives {want[at]!r}"
    got = ember.sin(ember.tensor(edges[:2], backend=wgpu)).numpy()
    assert np.signbit(got).tolist() == [False, True]


def test_division_rounds_once_where_the_devices_quotient_does_not(wgpu, monkeypatch):
    """WGSL allows / 2.5 ULP, and NVIDIA's Vulkan driver takes it (docs/gpu.md).
    ember_div corrects the device's quotient by one Newton step on its exact residual:
    here the device's quotient is made x * (1 / y), off by up to 1.5 ULP on 1 in 4 of
    these pairs, and every quotient from 2^-87 to 2^120 comes out as NumPy's, rounded
    once. The edges (zeros, infinities, NaN, subnormals, overflow and underflow) keep
    the device's own /."""
    from ember.backends.wgpu import backend as wgpu_backend
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(200_000) * 2.0 ** rng.integers(-60, 60, 200_000)).astype(np.float32)
    y = (rng.standard_normal(200_000) * 2.0 ** rng.integers(-60, 60, 200_000)).astype(np.float32)
    kept = (np.abs(x / y) > 2.0 ** -87) & (np.abs(x / y) < 2.0 ** 120)   # (below: uncorrected)
    x, y = x[kept], y[kept]
    inexact = x * (np.float32(1) / y)
    assert np.mean(inexact != x / y) > 0.2            # the stand-in quotient is inexact
    monkeypatch.setattr(wgpu_backend, "_QUOTIENT", "x * (1.0 / y)")
    monkeypatch.setattr(wgpu, "_eager", {})          # kernels built with the stand-in
    got = (ember.tensor(x, backend=wgpu) / ember.tensor(y, backend=wgpu)).numpy()
    np.testing.assert_array_equal(got, x / y)
    monkeypatch.undo()
    edges = np.float32([0.0, -0.0, 1e-45, -1e-45, 1.2e-38, 1.0, -3.0, 3.4e38, -3.4e38,
                        np.inf, -np.inf, np.nan])
    a, b = (e.ravel() for e in np.meshgrid(edges, edges))
    got = (ember.tensor(a, backend=wgpu) / ember.tensor(b, backend=wgpu)).numpy()
    with np.errstate(all="ignore"):
        want = a / b
    flushed = (want != 0) & (np.abs(want) < np.finfo(np.float32).tiny) & (got == 0)
    np.testing.assert_array_equal(np.where(flushed, want, got), want)
