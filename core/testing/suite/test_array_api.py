"""ember.array_api against array-api-strict (the standard's reference implementation)
as the oracle, on every backend, with inputs drawn by hypothesis."""

import math

import numpy as np
import pytest

import ember
from ember import array_api as ea, dtypes as dt
from ember.testing.checks import assert_close, expect

xps = pytest.importorskip("array_api_strict", reason="array-api-strict is not installed "
                          "(pip install 'ember[test]')")
hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings, strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

SETTINGS = settings(max_examples=8, deadline=None, database=None)


def _shapes(min_dims=1, max_dims=3):
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=4)


def _floats(lo=-3.0, hi=3.0):
    return st.floats(float(np.float32(lo)), float(np.float32(hi)), allow_nan=False, width=32,
                     allow_subnormal=False)  # GPUs may flush subnormals to zero


def _pair(backend, a, dtype):
    """The same values as an ember tensor on ``backend`` and an array-api-strict array."""
    return (ember.tensor(a, dtype=dtype, backend=backend),
            xps.asarray(np.asarray(a, dtype=np.float64 if dtype.is_float else dtype.np)))


#: functions whose results cancel (sums, differences, linear algebra): judged relative to
#: their inputs' magnitude; every other one relative to its own result
CANCELS = {"sum", "mean", "var", "std", "diff", "cumulative_sum", "remainder", "add",
           "subtract", "vecdot", "tensordot", "matmul", "svd", "eigh"}


def _check(got, want, dtype, what, scale=10.0, floor=0.0):
    want = np.asarray(want)
    if isinstance(got, (tuple, list)):
        for g, w in zip(got, want):
            _check(g, w, dtype, what, scale, floor)
        return
    expect(tuple(got.shape) == want.shape, f"{what}: shape {got.shape}, expected {want.shape}")
    assert_close(got, want, dtype if got.dtype.is_float else got.dtype, scale, what, floor)


def _floor(name, *arrays):
    """The inputs' largest magnitude for a cancelling function, else 0."""
    if name.removeprefix("host:") not in CANCELS:
        return 0.0
    return max(float(np.abs(np.asarray(a, dtype=np.float64)).max()) for a in arrays)


# name -> (fn of (xp, x) for both namespaces, low, high)
UNARY = {
    "abs": (lambda xp, x: xp.abs(x), -3, 3), "exp": (lambda xp, x: xp.exp(x), -3, 3),
    "log": (lambda xp, x: xp.log(x), 0.1, 5), "sqrt": (lambda xp, x: xp.sqrt(x), 0, 5),
    "sin": (lambda xp, x: xp.sin(x), -3, 3), "cos": (lambda xp, x: xp.cos(x), -3, 3),
    "tan": (lambda xp, x: xp.tan(x), -1.2, 1.2), "tanh": (lambda xp, x: xp.tanh(x), -3, 3),
    "sinh": (lambda xp, x: xp.sinh(x), -3, 3), "cosh": (lambda xp, x: xp.cosh(x), -3, 3),
    "negative": (lambda xp, x: xp.negative(x), -3, 3), "positive": (lambda xp, x: xp.positive(x), -3, 3),
    "sign": (lambda xp, x: xp.sign(x), -3, 3), "square": (lambda xp, x: xp.square(x), -3, 3),
    "reciprocal": (lambda xp, x: xp.reciprocal(x), 0.5, 3),
    "log1p": (lambda xp, x: xp.log1p(x), -0.5, 3), "expm1": (lambda xp, x: xp.expm1(x), -3, 3),
    "log2": (lambda xp, x: xp.log2(x), 0.1, 5), "log10": (lambda xp, x: xp.log10(x), 0.1, 5),
    "isnan": (lambda xp, x: xp.isnan(x), -3, 3), "isinf": (lambda xp, x: xp.isinf(x), -3, 3),
    "isfinite": (lambda xp, x: xp.isfinite(x), -3, 3),
    "sum": (lambda xp, x: xp.sum(x, axis=-1), -3, 3), "mean": (lambda xp, x: xp.mean(x, axis=0), -3, 3),
    "var": (lambda xp, x: xp.var(x, axis=-1), -3, 3), "std": (lambda xp, x: xp.std(x), -3, 3),
    "max": (lambda xp, x: xp.max(x, axis=0, keepdims=True), -3, 3), "min": (lambda xp, x: xp.min(x), -3, 3),
    "argmax": (lambda xp, x: xp.argmax(x, axis=-1), -3, 3), "argmin": (lambda xp, x: xp.argmin(x), -3, 3),
    "count_nonzero": (lambda xp, x: xp.count_nonzero(xp.greater(x, 0.0), axis=-1), -3, 3),
    "flip": (lambda xp, x: xp.flip(x), -3, 3), "roll": (lambda xp, x: xp.roll(x, 2, axis=-1), -3, 3),
    "roll_flat": (lambda xp, x: xp.roll(x, -1), -3, 3),
    "expand_dims": (lambda xp, x: xp.expand_dims(x, axis=1), -3, 3),
    "diff": (lambda xp, x: xp.diff(x, axis=-1), -3, 3),
    "tile": (lambda xp, x: xp.tile(x, (2, 1)), -3, 3),
    "moveaxis": (lambda xp, x: xp.moveaxis(x, 0, -1), -3, 3),
    "unstack": (lambda xp, x: xp.unstack(x, axis=0), -3, 3),
    "concat_none": (lambda xp, x: xp.concat([x, x], axis=None), -3, 3),
    "stack": (lambda xp, x: xp.stack([x, x], axis=-1), -3, 3),
    "tril": (lambda xp, x: xp.tril(x if x.ndim > 1 else xp.stack([x, x]), k=-1), -3, 3),
    "triu": (lambda xp, x: xp.triu(x if x.ndim > 1 else xp.stack([x, x])), -3, 3),
    "matrix_transpose": (lambda xp, x: xp.matrix_transpose(x if x.ndim > 1 else xp.stack([x, x])), -3, 3),
    "cumulative_sum": (lambda xp, x: xp.cumulative_sum(x, axis=-1, include_initial=True), -3, 3),
    "prod": (lambda xp, x: xp.prod(x, axis=-1), -1.5, 1.5),
    "cumulative_prod": (lambda xp, x: xp.cumulative_prod(x, axis=-1, include_initial=True), -1.5, 1.5),
}

HOST = {   # ON_HOST functions and the linalg extension: (name, fn of (xp, x), low, high)
    "floor": (lambda xp, x: xp.floor(x), -3, 3), "ceil": (lambda xp, x: xp.ceil(x), -3, 3),
    "trunc": (lambda xp, x: xp.trunc(x), -3, 3), "round": (lambda xp, x: xp.round(x), -3, 3),
    "atan": (lambda xp, x: xp.atan(x), -3, 3), "asin": (lambda xp, x: xp.asin(x), -0.9, 0.9),
    "remainder": (lambda xp, x: xp.remainder(x, 0.75), -3, 3),
    "sort": (lambda xp, x: xp.sort(x, axis=-1), -3, 3),
    "sort_descending": (lambda xp, x: xp.sort(x, axis=0, descending=True), -3, 3),
    "argsort": (lambda xp, x: xp.argsort(x, axis=-1), -3, 3),
    "unique_values": (lambda xp, x: xp.unique_values(xp.round(x)), -3, 3),
    "unique_counts": (lambda xp, x: xp.unique_counts(xp.round(x)), -3, 3),
    "vector_norm": (lambda xp, x: xp.linalg.vector_norm(x, axis=-1), -3, 3),
    "vector_norm_1": (lambda xp, x: xp.linalg.vector_norm(x, ord=1), -3, 3),
    "vector_norm_inf": (lambda xp, x: xp.linalg.vector_norm(x, ord=xp.inf), -3, 3),
}

SQUARE = {   # linalg on batches of well-conditioned square matrices
    "svdvals": lambda xp, m: xp.linalg.svdvals(m), "det": lambda xp, m: xp.linalg.det(m),
    "inv": lambda xp, m: xp.linalg.inv(m), "eigvalsh": lambda xp, m: xp.linalg.eigvalsh(m + xp.matrix_transpose(m)),
    "solve": lambda xp, m: xp.linalg.solve(m, m[..., :1]), "trace": lambda xp, m: xp.linalg.trace(m),
    "matrix_norm": lambda xp, m: xp.linalg.matrix_norm(m), "outer": lambda xp, m: xp.linalg.outer(m[0, 0, ...], m[0, 1, ...]),
    "diagonal": lambda xp, m: xp.linalg.diagonal(m, offset=1), "cholesky": lambda xp, m: xp.linalg.cholesky(
        m @ xp.matrix_transpose(m)),
    "qr_r_abs": lambda xp, m: xp.abs(xp.linalg.qr(m).R), "slogdet": lambda xp, m: xp.linalg.slogdet(m),
    "matrix_power": lambda xp, m: xp.linalg.matrix_power(m, 3), "pinv": lambda xp, m: xp.linalg.pinv(m),
}


BINARY = {
    "add": lambda xp, a, b: xp.add(a, b), "subtract": lambda xp, a, b: xp.subtract(a, b),
    "multiply": lambda xp, a, b: xp.multiply(a, b), "maximum": lambda xp, a, b: xp.maximum(a, b),
    "minimum": lambda xp, a, b: xp.minimum(a, b), "logaddexp": lambda xp, a, b: xp.logaddexp(a, b),
    "hypot": lambda xp, a, b: xp.hypot(a, b), "less": lambda xp, a, b: xp.less(a, b),
    "greater_equal": lambda xp, a, b: xp.greater_equal(a, b),
    "equal": lambda xp, a, b: xp.equal(a, b), "vecdot": lambda xp, a, b: xp.vecdot(a, b),
    "where": lambda xp, a, b: xp.where(xp.greater(a, b), a, b),
    "broadcast_arrays": lambda xp, a, b: xp.broadcast_arrays(a, b),
}


@pytest.mark.parametrize("name", sorted(UNARY) + sorted(f"host:{n}" for n in HOST))
def test_unary_and_reductions_match_the_reference(backend, name):
    fn, lo, hi = HOST[name[5:]] if name.startswith("host:") else UNARY[name]

    @SETTINGS
    @given(hnp.arrays(np.float32, _shapes(), elements=_floats(lo, hi)))
    def check(a):
        x, ref = _pair(backend, a, ember.float32)
        _check(fn(ea, x), fn(xps, ref), ember.float32, name, floor=_floor(name, a))
    check()


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_ops_match_the_reference(backend, name):
    fn = BINARY[name]

    @SETTINGS
    @given(st.data())
    def check(data):
        shape = data.draw(_shapes())
        a = data.draw(hnp.arrays(np.float32, shape, elements=_floats(0.1, 3)))
        b = data.draw(hnp.arrays(np.float32, shape[-1:], elements=_floats(0.1, 3)))
        (x, xr), (y, yr) = _pair(backend, a, ember.float32), _pair(backend, b, ember.float32)
        _check(fn(ea, x, y), fn(xps, xr, yr), ember.float32, name, floor=_floor(name, a, b))
    check()


def test_host_functions_give_inf_nan_and_integer_zero_division_without_a_warning(backend):
    """Functions computed on the host say nothing where NumPy would warn, as no backend
    does: acos(2) is NaN, an integer // 0 or % 0 is 0 (NumPy's answer; the standard
    leaves it to the implementation), and inf // 2 is inf (the standard's, not NumPy's NaN)."""
    import warnings
    ints = ember.tensor([7, -7, 0], backend=backend)
    zero = ember.zeros(3, dtype=ints.dtype, backend=backend)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        expect(np.isnan(ea.acos(ember.tensor([2.0], backend=backend)).numpy()).all(), "acos(2)")
        expect((ints // zero).tolist() == [0, 0, 0] and (ints % zero).tolist() == [0, 0, 0],
               f"integer division by zero: {(ints // zero).tolist()}, {(ints % zero).tolist()}")
        got = ea.floor_divide(ember.tensor([np.inf, -1.0], backend=backend),
                              ember.tensor([2.0, np.inf], backend=backend)).numpy()
        expect(got[0] == np.inf and got[1] == 0 and np.signbit(got[1]), f"inf // 2, -1 // inf: {got}")


def test_linear_algebra_matches_the_reference(backend):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((4, 3, 5))
    (x, xr), (y, yr) = _pair(backend, a, ember.float32), _pair(backend, b, ember.float32)
    _check(ea.tensordot(x, y, axes=([1, 2], [1, 0])), xps.tensordot(xr, yr, axes=([1, 2], [1, 0])),
           ember.float32, "tensordot", floor=_floor("tensordot", a, b))
    _check(ea.matmul(x, y[:, 0, :]), xps.matmul(xr, yr[:, 0, :]), ember.float32, "matmul",
           floor=_floor("matmul", a, b))
    _check(ea.permute_dims(y, (2, 0, 1)), xps.permute_dims(yr, (2, 0, 1)), ember.float32,
           "permute_dims")
    _check(ea.take(x, ember.tensor([2, 0], backend=backend), axis=1),
           xps.take(xr, xps.asarray([2, 0]), axis=1), ember.float32, "take")
    got = ea.nonzero(ember.tensor([[0, 1], [2, 0]], backend=backend))
    want = xps.nonzero(xps.asarray([[0, 1], [2, 0]]))
    expect([g.tolist() for g in got] == [np.asarray(w).tolist() for w in want], "nonzero")
    mx, my = ea.meshgrid(ea.arange(3, device=backend.device), ea.arange(2, device=backend.device))
    rx, ry = xps.meshgrid(xps.arange(3), xps.arange(2))
    expect(mx.tolist() == np.asarray(rx).tolist() and my.tolist() == np.asarray(ry).tolist(), "meshgrid")


def test_creation_and_dtypes(backend):
    dev = backend.device
    expect(ea.zeros((2, 3), device=dev).device == dev and ea.ones(2, device=dev).tolist() == [1, 1],
           "zeros and ones on the device")
    expect(ea.full((2,), 7, device=dev).tolist() == [7, 7], "full")
    expect(ea.arange(1, 7, 2, device=dev).tolist() == [1, 3, 5], "arange")
    np.testing.assert_allclose(ea.linspace(0, 1, 4, endpoint=False, device=dev).numpy(),
                               [0, 0.25, 0.5, 0.75], rtol=1e-6)
    np.testing.assert_array_equal(ea.eye(3, 4, k=1, device=dev).numpy(), np.eye(3, 4, 1))
    x = ea.asarray([[1.5, 2.5]], dtype=ea.float32, device=dev)
    expect(ea.asarray(x) is x or ea.asarray(x).tolist() == x.tolist(), "asarray of a tensor")
    with pytest.raises(ValueError, match="copy=False"):
        ea.asarray([1, 2], copy=False)
    expect(ea.astype(x, ea.int32).tolist() == [[1, 2]], "astype truncates")
    expect(ea.isdtype(ea.float32, "real floating") and not ea.isdtype(ea.int32, ("bool", "real floating")),
           "isdtype")
    expect(ea.result_type(ea.int32, ea.float32) is ea.float32 and ea.result_type(x, 1) is ea.float32,
           "result_type")
    expect(ea.can_cast(ea.int32, ea.float32) and not ea.can_cast(ea.float32, ea.int32), "can_cast")
    expect(ea.finfo(ea.float32).eps == float(np.finfo(np.float32).eps)
           and ea.iinfo(ea.int32).max == 2 ** 31 - 1, "finfo and iinfo")
    info = x.__array_namespace__().__array_namespace_info__()
    expect(dev in info.devices() and set(info.dtypes(device=dev)) == {d.name for d in backend.dtypes
                                                                      if d not in dt.HALF + dt.FLOAT8},
           f"info: {info.devices()} {info.dtypes(device=dev)}")
    expect(info.default_dtypes(device=dev)["integral"] is backend.default_int, "default integer")
    expect(math.isinf(ea.inf) and ea.newaxis is None and x.mT.shape == (2, 1)
           and x.to_device(dev).device == dev, "constants, mT, to_device")


def test_sums_and_products_accumulate_in_the_default_integers(backend):
    """The standard's accumulator dtypes: integers in the default integer, unsigned ones in
    the default unsigned integer of the same width (uint32 beside wgpu's int32)."""
    dev = backend.device
    unsigned = dt.uint64 if backend.default_int.bits == 64 else dt.uint32
    for name in ("int8", "uint8"):
        if dt.dtype(name) not in backend.dtypes:
            continue
        x = ea.asarray([200, 100, 3] if name == "uint8" else [100, 100, 3], dtype=dt.dtype(name),
                       device=dev)
        want = unsigned if name == "uint8" else backend.default_int
        for fn in (ea.sum, ea.prod, ea.cumulative_sum, ea.cumulative_prod):
            out = fn(x)
            expect(out.dtype is want, f"{fn.__name__}({name}): {out.dtype}, want {want}")
        expect(ea.sum(x).tolist() == int(np.sum(x.numpy(), dtype=np.int64)) and
               ea.cumulative_prod(x).tolist() == np.cumprod(x.numpy(), dtype=np.int64).tolist(),
               f"{name}: sums and products widen before they wrap")


def test_array_api_compat_finds_the_namespace(backend):
    compat = pytest.importorskip("array_api_compat")
    x = ember.ones(3, backend=backend)
    expect(compat.array_namespace(x) is ea, "array_api_compat.array_namespace")
    with pytest.raises(ValueError, match="api_version"):
        x.__array_namespace__(api_version="2021.12")


@pytest.mark.parametrize("name", sorted(SQUARE))
def test_linalg_extension_matches_the_reference(backend, name):
    rng = np.random.default_rng(3)
    m = rng.standard_normal((2, 3, 3)) + 3 * np.eye(3)
    x, ref = _pair(backend, m, ember.float32)
    _check(SQUARE[name](ea, x), SQUARE[name](xps, ref), ember.float32, name, scale=100,
           floor=float(np.abs(m).max()))   # linear algebra cancels


def test_svd_and_eigh_reconstruct(backend):
    m = np.random.default_rng(4).standard_normal((4, 3))
    x = ember.tensor(m, dtype=ember.float32, backend=backend)
    u, s, vh = ea.linalg.svd(x, full_matrices=False)
    assert_close((u * s[None, :]) @ vh, m, ember.float32, 100, "svd", floor=_floor("svd", m))
    w, v = ea.linalg.eigh(x.mT @ x)
    assert_close(v @ (w[:, None] * v.mT), m.T @ m, ember.float32, 100, "eigh",
                 floor=_floor("eigh", m.T @ m))


def test_asarray_copy_is_a_new_object_that_in_place_updates_leave_alone(backend):
    x = ember.tensor([1.0, 2.0], backend=backend)
    y = ea.asarray(x, copy=True)
    y -= 1.0
    y[0] = 5.0
    expect(x.tolist() == [1.0, 2.0] and y.tolist() == [5.0, 1.0], f"{x.tolist()} {y.tolist()}")
    expect(ea.asarray(x) is x, "asarray without copy keeps the object")


def test_isin_on_the_backend(backend):
    """isin (and invert) equal NumPy's over floats with -0, infinities and NaN (in
    nothing), integers against a 2-d table, and an empty table."""
    rng = np.random.default_rng(8)
    a = rng.choice(np.array([0.0, -0.0, 1.0, 2.0, np.inf, -np.inf, np.nan, 3.5]), (4, 5))
    b = rng.choice(np.array([0.0, 1.0, np.nan, -np.inf, 7.0]), 6)
    x, table = (ember.tensor(v.astype(np.float32), backend=backend) for v in (a, b))
    for invert in (False, True):
        got = ea.isin(x, table, invert=invert).numpy()
        expect(np.array_equal(got, np.isin(a, b, invert=invert)), f"isin(invert={invert})")
    ints, grid = rng.integers(0, 10, 7), rng.integers(0, 10, (2, 3))
    got = ea.isin(ember.tensor(ints, backend=backend), ember.tensor(grid, backend=backend))
    expect(np.array_equal(got.numpy(), np.isin(ints, grid)), "isin of integers")
    expect(ea.isin(ember.tensor(ints, backend=backend), ember.zeros(0, backend=backend)).tolist()
           == [False] * 7, "isin of an empty table")
    expect(ea.isin(ember.tensor(ints, backend=backend), ember.zeros(0, backend=backend),
                   invert=True).tolist() == [True] * 7, "isin(invert=True) of an empty table")


def test_repeat_by_a_count_on_the_backend(backend):
    """repeat by an int count (every axis, None, 0) equals NumPy's and passes gradients
    back summed; counts per element (a shape that depends on them) too."""
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    for count in (0, 1, 3):
        for axis in (None, 0, 1, -1):
            got = ea.repeat(ember.tensor(a, backend=backend), count, axis=axis).numpy()
            expect(np.array_equal(got, np.repeat(a, count, axis)), f"repeat({count}, {axis})")
    t = ember.tensor(a, backend=backend, requires_grad=True)
    ea.repeat(t, 2, axis=1).sum().backward()
    expect(t.grad.tolist() == [[2.0] * 3] * 2, f"repeat's gradient {t.grad.tolist()}")
    counts = ember.tensor([1, 0, 2], backend=backend)
    expect(ea.repeat(ember.tensor(a, backend=backend), counts, axis=1).tolist()
           == np.repeat(a, [1, 0, 2], 1).tolist(), "repeat by counts per element")
