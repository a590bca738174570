"""Wrong answers the absolute tolerances used to miss, one regression each, on every backend.

Each compares against NumPy float64 (or an exact value) by relative error or exactly."""

import math

import numpy as np
import pytest

import ember
import ember.array_api as ea
from ember.ops.reduce import standardize
from ember.testing.checks import assert_ulp, expect

INF, NAN = math.inf, math.nan


def _f32(values, backend):
    return ember.tensor(np.array(values, dtype=np.float32), backend=backend)


def test_sigmoid_keeps_the_negative_tail(backend):
    """0.5 * tanh(x / 2) + 0.5 gave 0 (NumPy) or a constant 2.98e-8 (OpenCL) below -17."""
    x = np.arange(-87.0, 30.0, 0.25, dtype=np.float32)
    got = ember.sigmoid(_f32(x, backend)).numpy()
    e = np.exp(-np.abs(x.astype(np.float64)))
    assert_ulp(got, np.where(x >= 0, 1.0, e) / (1.0 + e), ember.float32,
               max(4, backend.ulp_bounds.get("sigmoid", 0)), "sigmoid", inputs=x,
               flushes_subnormals=backend.flushes_subnormals)
    logs = ember.log(ember.sigmoid(_f32([-17.0, -40.0, -80.0], backend))).numpy()
    np.testing.assert_allclose(logs, [-17.0, -40.0, -80.0], rtol=1e-5)


def test_log_add_exp_of_a_far_smaller_term_keeps_its_relative_precision(backend):
    """logaddexp and logaddexp2 of 0 and -gap is the small term log1p(e^-gap) alone:
    logaddexp2's 2^-gap as exp(-gap ln 2) was 50 ULP off at a gap of 104 (the product's
    rounding, times the gap). Gaps keep every intermediate normal (a flushing backend's
    2^-127 is 0)."""
    for name, top, ref in (("logaddexp", 87.0, np.logaddexp), ("logaddexp2", 125.0, np.logaddexp2)):
        gap = np.arange(0.0, top, 0.37, dtype=np.float32)
        got = getattr(ember, name)(_f32(np.zeros_like(gap), backend), _f32(-gap, backend))
        assert_ulp(got.numpy(), ref(0.0, -gap.astype(np.float64)), ember.float32, 4, name,
                   inputs=-gap, flushes_subnormals=backend.flushes_subnormals)


#: composed functions on 16-bit floats, their float64 references and input ranges
_ROUNDED_ONCE = {
    "logaddexp": (np.logaddexp, (-5, 5), 2), "logaddexp2": (np.logaddexp2, (-5, 5), 2),
    "hypot": (np.hypot, (-10, 10), 2), "xlogy": (lambda x, y: x * np.log(y), (0.01, 5), 2),
    "log2": (np.log2, (0.01, 100), 1),
    "log10": (np.log10, (0.01, 100), 1), "tan": (np.tan, (-1.5, 1.5), 1),
    "sinh": (np.sinh, (-5, 5), 1), "cosh": (np.cosh, (-5, 5), 1),
    "logit": (lambda p: np.log(p / (1 - p)), (0.01, 0.99), 1),
    "sinc": (lambda x: np.where(x == np.round(x), x == 0, np.sinc(x)), (-5, 5), 1),  # exact 0
    "softplus": (lambda x: np.logaddexp(0, x), (-10, 10), 1),
    "log_sigmoid": (lambda x: -np.logaddexp(0, -x), (-10, 10), 1)}


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_composed_functions_on_16_bit_floats_round_once(backend, dtype):
    """Computed in float32 and rounded once, as PyTorch's opmath: within 0.55 ULP of
    float64 (rounded at each of their steps, logaddexp2 was 555 ULP off, sinh 3); and
    softmax, log_softmax, var and std along rows of 300 (softmax was 1.6 ULP off)."""
    dtype = ember.dtype(dtype)
    if dtype not in backend.dtypes or dtype.np is None:
        pytest.skip(f"{backend.device} has no {dtype.name}")
    rng = np.random.default_rng(0)
    for name, (ref, (lo, hi), arity) in _ROUNDED_ONCE.items():
        xs = [rng.uniform(lo, hi, 500).astype(dtype.np) for _ in range(arity)]
        got = getattr(ember, name)(*[ember.tensor(x, backend=backend) for x in xs])
        expect(got.dtype is dtype, f"{name}: {got.dtype.name}")
        want = ref(*[x.astype(np.float64) for x in xs])
        keep = np.abs(want) >= float(ember.finfo(dtype).tiny)       # (no subnormal results)
        assert_ulp(got.numpy()[keep], want[keep], dtype, 0.55, name)
    rows = rng.uniform(-3, 3, (8, 300)).astype(dtype.np)
    t, wide = ember.tensor(rows, backend=backend), rows.astype(np.float64)
    log_p = wide - np.log(np.exp(wide).sum(1, keepdims=True))
    for name, got, want in (("softmax", ember.softmax(t, 1), np.exp(log_p)),
                            ("log_softmax", ember.log_softmax(t, 1), log_p),
                            ("var", t.var(1), wide.var(1, ddof=1)),
                            ("std", t.std(1), wide.std(1, ddof=1))):
        expect(got.dtype is dtype, f"{name}: {got.dtype.name}")
        assert_ulp(got.numpy(), want, dtype, 0.55, name)


def test_nan_in_gives_nan_out(backend):
    """WGSL's tanh gave -1, sigmoid 0 and x ** 2.5 gave 0 for NaN."""
    x = _f32([NAN], backend)
    for name, fn in (("tanh", ember.tanh), ("sigmoid", ember.sigmoid), ("exp", ember.exp),
                     ("log1p", ember.log1p), ("expm1", ember.expm1), ("softplus", ember.softplus),
                     ("pow 2.5", lambda t: t ** 2.5), ("pow base", lambda t: 2.0 ** t)):
        expect(np.isnan(fn(x).numpy()).all(), f"{name}(NaN) is not NaN on {backend.device}")
    expect((_f32([NAN, 1.0], backend) ** 0.0).tolist() == [1.0, 1.0], "x ** 0 is 1, NaN too")


def test_pow_of_negative_infinity(backend):
    got = (_f32([-INF, -INF, -INF], backend) ** _f32([2.5, 3.0, -2.5], backend)).numpy()
    expect(got.tolist() == [INF, -INF, 0.0], f"(-inf) ** [2.5, 3, -2.5] gave {got.tolist()}")


def test_pow_at_c_special_values(backend):
    """C's pow where WGSL leaves it undefined and NumPy takes sqrt for a broadcast 0.5."""
    x = [0.0, -0.0, 0.0, -1.0, -1.0, 0.5, 2.0, -2.0, -INF, -0.0, 3.0]
    y = [-3e38, -1.0, -0.5, INF, 3e38, -INF, -INF, 0.5, 0.5, 0.5, 9.0]
    got = (_f32(x, backend) ** _f32(y, backend)).numpy()
    want = [INF, -INF, INF, 1.0, 1.0, INF, 0.0, NAN, INF, 0.0, 19683.0]
    np.testing.assert_array_equal(got, np.array(want, dtype=np.float32), err_msg="x ** y")
    expect(not np.signbit(got[-2]), "(-0) ** 0.5 is +0")
    by_scalar = (_f32([-INF, -0.0, 4.0], backend) ** 0.5).numpy()
    np.testing.assert_array_equal(by_scalar, np.array([INF, 0.0, 2.0], np.float32), err_msg="x ** 0.5")


def test_integer_pow_of_negative_exponents_is_pytorchs(backend):
    """Integer tensors to negative integer tensor powers: 0, but 1 ** -n = 1 and
    (-1) ** -n = +-1 (C's integer division, as PyTorch); a negative Python int exponent
    is refused by name before the backend sees it, as PyTorch refuses it."""
    for dtype in (ember.int8, ember.int16, ember.int32, ember.int64):
        if dtype not in backend.dtypes:
            continue
        a = ember.tensor([2, 1, -1, -1, 0, 3, -2], dtype=dtype, backend=backend)
        b = ember.tensor([-1, -3, -1, -2, 2, 2, -2], dtype=dtype, backend=backend)
        got = (a ** b).numpy().tolist()
        expect(got == [0, 1, -1, 1, 0, 9, 0], f"{dtype.name} ** negative exponents gave {got}")
    with pytest.raises(ember.DTypeError, match="integers to negative integer powers"):
        ember.tensor([2], backend=backend) ** -1


def test_narrowing_past_a_float_range_is_inf_without_a_warning(backend):
    """float32 to float16, and float32 sums of 16-bit floats back to them, past the range:
    inf, as PyTorch, and no NumPy RuntimeWarning from inside."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for dtype in (ember.float16, ember.bfloat16):
            if dtype not in backend.dtypes:
                continue
            big = ember.tensor([1e5 if dtype is ember.float16 else 3.4e38, 1.0], backend=backend)
            got = big.to(dtype).numpy().astype(np.float64).tolist()
            expect(got == [INF, 1.0], f"float32 -> {dtype.name} past its range gave {got}")
        if ember.float16 in backend.dtypes:
            total = ember.full((70000,), 1.0, dtype=ember.float16, backend=backend).sum()
            expect(float(total.numpy()) == INF, "a float16 sum past 65504 is inf")


def test_inf_and_nan_results_come_without_a_warning(backend):
    """exp(100), log(0), 0 / 0: inf and NaN, as PyTorch gives them, and no NumPy
    RuntimeWarning from inside (the NumPy backend printed one per op and call site)."""
    import warnings
    x = _f32([100.0, 0.0, -1.0, 3e38, -INF, NAN], backend)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name, f in (("exp", ember.exp), ("log", ember.log), ("sqrt", ember.sqrt),
                        ("expm1", ember.expm1), ("log1p", lambda t: ember.log1p(t - 1)),
                        ("x / 0", lambda t: t / 0), ("x * 10", lambda t: t * 10),
                        ("x ** 0.5", lambda t: t ** 0.5), ("sin", ember.sin),
                        ("sum", lambda t: (t[3:4] * ember.ones(4, backend=backend)).sum()),
                        ("softplus", ember.softplus), ("sigmoid", lambda t: ember.sigmoid(-t))):
            with np.errstate(all="raise"):     # the caller's own setting changes nothing
                got = f(x).numpy().astype(np.float64)
            want = {"exp": np.exp, "log": np.log, "sqrt": np.sqrt}.get(name)
            if want is not None:
                with np.errstate(all="ignore"):
                    want = want(x.numpy().astype(np.float64))
                assert_ulp(got, want, ember.float32, 4, name)


def test_a_long_float32_sum_keeps_its_precision(backend):
    """4M values of 0.1: one running total per work-item was 1.5e-4 off on OpenCL and
    wgpu. NumPy's pairwise sum is 1.5e-7 off, a blocked Kahan sum 3e-7 (OpenCL), 4e-6
    (wgpu). Infinities and NaN still win over the compensation."""
    x = np.full(1 << 22, 0.1, np.float32)
    want = x.astype(np.float64).sum()
    got = float(ember.tensor(x, backend=backend).sum().numpy())
    expect(abs(got - want) <= 1e-5 * want, f"sum of 4M x 0.1: {got}, float64 gives {want}")
    x[[5, 1 << 20]] = [INF, -INF]
    for values, total in ((x[:100], INF), (x, NAN), (np.full(1 << 20, 3e38, np.float32), INF)):
        got = float(ember.tensor(values, backend=backend).sum().numpy())
        expect(got == total or math.isnan(got) and math.isnan(total),
               f"sum gave {got}, want {total}")


def test_reductions_over_leading_and_outer_axes(backend):
    """A bias's gradient (axis 0), BatchNorm's statistics (N, H and W of NCHW): OpenCL
    folds leading axes down columns and the trailing ones along rows; every backend
    must agree with NumPy, with NaN, infinities and integers too."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((9, 70, 3, 5)).astype(np.float32)
    x[1, 3, 0, 0], x[2, 4, 1, 1], x[3, 5, 2, 2], x[4, 5, 0, 3] = NAN, INF, -INF, INF
    t = ember.tensor(x, backend=backend)
    x64 = x.astype(np.float64)
    for axes in ((0,), (0, 2, 3), (0, 1), (0, 3)):
        for kind in ("max", "min"):
            assert_ulp(getattr(t, kind)(axis=axes, keepdims=True).numpy(),
                       getattr(x64, kind)(axis=axes, keepdims=True), ember.float32, 0,
                       f"{kind} over {axes}")
        got = t.sum(axis=axes).numpy().astype(np.float64)
        with np.errstate(invalid="ignore"):         # inf - inf in the reference and here
            want, scale = x64.sum(axis=axes), np.abs(x64).sum(axis=axes)   # the condition
            ok = (got == want) | np.isnan(got) & np.isnan(want) | (
                np.abs(got - want) <= 4 * 2.0 ** -24 * scale)
        expect(ok.all(), f"sum over {axes}: {got[~ok][:3]}, want {want[~ok][:3]}")
    ints = rng.integers(-1000, 1000, (40, 80))
    i = ember.tensor(ints, backend=backend)
    expect(i.sum(axis=0).tolist() == ints.sum(axis=0).tolist()
           and i.max(axis=0).tolist() == ints.max(axis=0).tolist(), "integer sums over axis 0")


def test_where_keeps_every_bit_under_a_random_mask(backend):
    """where on large arrays (NumPy's backend selects bits there: its where branches on
    each element, 7 times slower under a mask with no pattern): -0, infinities,
    subnormals and NaN payloads pass unchanged (a 16-bit float's NaN may come back as
    another NaN: the devices compute them in float32), scalars and conditions broadcast."""
    rng = np.random.default_rng(5)
    for name in ("float32", "float64", "float16", "bfloat16", "int8", "int64", "bool_"):
        dtype = getattr(ember, name)
        if dtype not in backend.dtypes:
            continue
        bits = rng.integers(0, 256, (300, 120 * dtype.itemsize), dtype=np.uint8)
        a, b = (np.ascontiguousarray(bits[:, i::2]).view(dtype.np) for i in (0, 1))
        if name == "bool_":
            a, b = a & 1 > 0, b & 1 > 0
        cond = rng.random(a.shape) < 0.5
        for c, x, y in ((cond, a, b), (cond[:1], a, b), (cond, a[:1, :1], b)):
            got = ember.where(ember.tensor(c, backend=backend), ember.tensor(x, backend=backend),
                              ember.tensor(y, backend=backend)).numpy()
            want = np.where(c, x, y)
            same = got.view(np.uint8) == want.view(np.uint8)
            if dtype.itemsize == 2 and dtype.is_float:
                with np.errstate(invalid="ignore"):      # isnan of a signaling NaN
                    nan = np.isnan(got) & np.isnan(want)
                same = same.reshape(got.shape + (2,)).all(-1) | nan
            expect(got.dtype == want.dtype and got.shape == want.shape and same.all(),
                   f"where on {name} {c.shape} {x.shape}")
    # pow's gradient selects with a scalar condition and a scalar 0 (NumPy scalars inside
    # the backward pass: their bits were no array to write into, a TypeError past 16K)
    x = ember.tensor(np.linspace(-1.0, 1.0, 20000), dtype=ember.float32, backend=backend,
                     requires_grad=True)
    (x ** 2).sum().backward()
    expect(np.allclose(x.grad.numpy(), 2.0 * x.detach().numpy(), rtol=1e-6),
           "the gradient of x ** 2 over 20000 elements")


def test_standardize_at_the_edges(backend):
    """Layer norm's core, (x - mean) / sqrt(var + eps), and its gradient against float64,
    row by row relative to the row's largest value: spreads whose squares underflow
    (1e-30) or overflow (1e25) float32, a mean of 1e4 + N(0, 1) whose rounding PyTorch
    keeps (4e-4 off), constant rows (0, with eps; NaN without), NaN and inf (NaN), and
    rows near float32's limit, whose sum or deviations overflow (scaled first)."""
    rng = np.random.default_rng(11)
    rows = rng.standard_normal((9, 48))
    rows[0] *= 1e-30
    rows[1] *= 1e25
    rows[2] += 1e4
    rows[3] = 7.0
    rows[4, 5], rows[5, 9] = NAN, INF
    rows[6] = 2e38 + 1e37 * rows[6]                       # the sum overflows
    rows[7] = 3.4e38 * (-1.0) ** np.arange(48)            # deviations of 3.4e38 and more
    rows[7, :3] = -3.4e38
    rows[8] = 3e38
    x = rows.astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    x64, g64 = x.astype(np.float64), g.astype(np.float64)
    for eps in (1e-5, 0.0):
        with np.errstate(invalid="ignore", divide="ignore"):     # inf - inf, 1 / 0
            d = x64 - x64.mean(axis=1, keepdims=True)
            rstd = 1 / np.sqrt((d * d).mean(axis=1, keepdims=True) + eps)
            y = d * rstd
            dx = rstd * (g64 - g64.mean(axis=1, keepdims=True)
                         - y * (g64 * y).mean(axis=1, keepdims=True))
        for axis, flip in ((-1, lambda a: a), (0, np.transpose)):    # rows, columns
            t = ember.tensor(flip(x).copy(), backend=backend, requires_grad=True)
            got = standardize(t, axis, eps)
            (got * ember.tensor(flip(g).copy(), backend=backend)).sum().backward()
            for name, a, want in (("y", got.numpy(), y), ("dx", t.grad.numpy(), dx)):
                a = flip(a).astype(np.float64)
                scale = np.abs(np.nan_to_num(want, nan=0.0)).max(axis=1, keepdims=True)
                ok = (np.abs(a - want) <= 16 * 2.0 ** -24 * scale) | np.isnan(a) & np.isnan(want)
                if backend.flushes_subnormals:      # rows 6 and 7's dx are all subnormal
                    ok |= (a == 0) & (np.abs(want) < np.finfo(np.float32).tiny)
                expect(ok.all(), f"standardize {name} over axis {axis}, eps={eps}: rows "
                       f"{np.unique(np.nonzero(~ok)[0])} give {a[~ok][:3]}, float64 {want[~ok][:3]}")
    wide = ember.tensor(rows[:3], backend=backend) if ember.float64 in backend.dtypes else None
    if wide is not None:
        d = rows[:3] - rows[:3].mean(axis=1, keepdims=True)
        want = d / np.sqrt((d * d).mean(axis=1, keepdims=True) + 1e-5)
        got = standardize(wide, 1).numpy()
        expect(np.abs(got - want).max() <= 1e-13 * np.abs(want).max(), "standardize on float64")
    expect(standardize(ember.zeros(3, 0, backend=backend), -1).shape == (3, 0),
           "standardize of an empty tensor is empty")
    alone = standardize(_f32([2.0, -INF], backend), ()).numpy()
    expect(alone[0] == 0 and np.isnan(alone[1]), f"standardize over no axes gave {alone}")
    with pytest.raises(ember.DTypeError, match="complex"):
        standardize(ember.tensor(np.array([1 + 2j], np.complex64), backend=backend))


def test_variance_of_tiny_and_huge_values(backend):
    """Deviations are scaled before squaring: 1e-30 ** 2 underflows float32, 1e20 ** 2
    overflows, yet both spreads are representable. Rows near float32's limit, whose sum
    and deviations overflow, are scaled before the mean: their std is finite."""
    rows = np.zeros((4, 12))
    rows[0, 1:] = 1e-30
    rows[1, :2] = [1e20, -1e20]
    rows[2] = 3e38 * (-1.0) ** np.arange(12)
    rows[3] = [3e38] * 6 + [1e38] * 6
    x = ember.tensor(rows, dtype=ember.float32, backend=backend)
    want = rows.astype(np.float32).astype(np.float64).std(axis=1, ddof=1)
    assert_ulp(x.std(axis=1).numpy(), want, ember.float32, 4, "std")
    assert_ulp(x[:1].var(axis=1).numpy(), want[:1] ** 2, ember.float32, 8, "var")
    expect(np.isposinf(x[2:].var(axis=1).numpy()).all(), "a variance past float32's range is inf")


def test_integers_never_wrap(backend):
    with pytest.raises(ember.RangeError, match="does not fit in int32"):
        ember.tensor([2 ** 40, 1], dtype=ember.int32, backend=backend)
    with pytest.raises(ember.RangeError, match="does not fit in"):
        ember.tensor([2 ** 63], backend=backend)
    with pytest.raises(ember.RangeError, match="9223372036854775808 does not fit in int64"):
        ember.tensor([-1, 2 ** 63], backend=backend)   # NumPy would make it float64
    with pytest.raises(ember.RangeError, match="nan does not fit in int32"):
        ember.full((2,), NAN, dtype=ember.int32, backend=backend)
    with pytest.raises(ember.ShapeError, match="a shape is a tuple of ints"):
        ember.zeros(2.5, backend=backend)


def test_indices_into_small_integers_do_not_wrap(backend):
    """argmax, argmin and max pooling's indices over 8- and 16-bit tensors are indices:
    past 255 (and 65535 is no concern) they stay whole; wgpu computes those dtypes in
    int32, its index dtype, and used to cast the indices back to the tensor's dtype."""
    from ember.plugins.nn import functional as F
    for dtype in (ember.int8, ember.uint8, ember.int16, ember.uint16):
        a = np.zeros((2, 300), dtype=dtype.np)
        a[0, 299], a[1, 280] = 7, 5
        x = ember.tensor(a, backend=backend)
        expect(ember.argmax(x, -1).tolist() == [299, 280], f"argmax {dtype.name}")
        expect(ember.argmin(7 - x, -1).tolist() == [299, 280],
               f"argmin {dtype.name}")
        image = ember.tensor(a.reshape(1, 1, 20, 30), backend=backend)
        _, index = F.max_pool2d(image, (20, 30), return_indices=True)
        expect(index.tolist() == [[[[299]]]], f"max_pool2d index {dtype.name}: {index.tolist()}")


def test_in_place_ops_cannot_change_the_shape(backend):
    x = ember.zeros(3, backend=backend)
    with pytest.raises(ember.ShapeError, match=r"result has shape \(2, 3\) but the tensor has \(3,\)"):
        x += ember.ones(2, 3, backend=backend)
    expect(x.shape == (3,) and x.tolist() == [0, 0, 0], "a refused x += y left x changed")


def test_gradients_are_zero_where_pytorch_gives_zero(backend):
    a = ember.tensor([1.0, 2.0, 3.0], backend=backend, requires_grad=True)
    (a * 0).std().backward()
    expect(a.grad.tolist() == [0, 0, 0], f"grad of std of a constant: {a.grad.tolist()}")
    x = ember.tensor([0.0, 0.0, 2.0], backend=backend, requires_grad=True)
    p = ember.tensor([2.0, 0.5, 0.0], backend=backend, requires_grad=True)
    (x ** p).sum().backward()
    expect(p.grad.tolist()[:2] == [0, 0], f"d(x ** p)/dp at x = 0: {p.grad.tolist()}")
    expect(x.grad.tolist()[2] == 0, f"d(x ** 0)/dx: {x.grad.tolist()}")


#: (what, function, input, PyTorch 2.13's gradient at it), each where a naive formula
#: divides by zero or must pick a subgradient
GRADIENT_EDGES = [
    ("sqrt at 0", lambda x: x.sqrt().sum(), [0.0, 4.0], [INF, 0.25]),
    ("abs at 0", lambda x: x.abs().sum(), [0.0, -2.0, 3.0], [0.0, -1.0, 1.0]),
    ("relu at 0", lambda x: ember.relu(x).sum(), [0.0, -1.0, 2.0], [0.0, 0.0, 1.0]),
    ("sign", lambda x: x.sign().sum(), [0.0, 1.0], [0.0, 0.0]),
    ("max with ties", lambda x: x.max(), [1.0, 3.0, 3.0, 2.0], [0.0, 0.5, 0.5, 0.0]),
    ("max over an axis with ties", lambda x: x.reshape(2, 2).max(axis=1).sum(),
     [3.0, 3.0, 1.0, 2.0], [0.5, 0.5, 0.0, 1.0]),
    ("maximum with ties", lambda x: ember.maximum(x, ember.tensor([1.0, 1.0, 4.0])).sum(),
     [1.0, 2.0, 3.0], [0.5, 1.0, 0.0]),
    ("norm of zeros", lambda x: ea.linalg.vector_norm(x), [0.0, 0.0], [0.0, 0.0]),
    ("clip at its bounds", lambda x: ember.clip(x, -1.0, 1.0).sum(), [-1.0, 1.0, 0.5, 2.0],
     [1.0, 1.0, 1.0, 0.0]),
    ("log at 0", lambda x: x.log().sum(), [0.0, 1.0], [INF, 1.0]),
    ("x ** 0.5 at 0", lambda x: (x ** 0.5).sum(), [0.0, 4.0], [INF, 0.25]),
    ("tanh saturated", lambda x: x.tanh().sum(), [100.0, -100.0], [0.0, 0.0]),
    ("logsumexp with -inf", lambda x: x.logsumexp(axis=0), [-INF, 0.0], [0.0, 1.0]),
    ("log_softmax beside -inf", lambda x: ember.log_softmax(x, axis=0)[1], [-INF, 0.0], [0.0, 0.0]),
]


@pytest.mark.parametrize("what,fn,x,want", GRADIENT_EDGES, ids=[e[0] for e in GRADIENT_EDGES])
def test_gradients_at_the_edges_are_pytorchs(backend, what, fn, x, want):
    t = _f32(x, backend).requires_grad_()
    fn(t).backward()
    np.testing.assert_array_equal(t.grad.numpy(), np.array(want, dtype=np.float32), err_msg=what)


def test_float16_mean_does_not_overflow(backend):
    if ember.float16 not in backend.dtypes:
        pytest.skip(f"backend {backend.device} has no float16")
    h = ember.tensor(np.full(100, 60000.0, dtype=np.float16), backend=backend)
    expect(h.mean().item() == 60000.0, f"float16 mean of 60000s: {h.mean().item()}")


def _need_bfloat16(backend):
    if ember.bfloat16 not in backend.dtypes:
        pytest.skip(f"backend {backend.device} has no bfloat16")
    return pytest.importorskip("ml_dtypes", reason="ml_dtypes, the oracle, is not installed")


def test_bfloat16_conversions_round_to_nearest_even(backend):
    """float32 -> bfloat16 bit for bit as ml_dtypes rounds: the low half just under, at
    and over a tie, for random high halves (every exponent, subnormals, the overflow to
    inf, NaN); float64 rounds once, not through float32; bfloat16 -> float32 is exact."""
    ml_dtypes = _need_bfloat16(backend)
    high = np.random.default_rng(0).integers(0, 1 << 16, 4096, dtype=np.uint32) << 16
    low = np.array([0, 1, 0x7FFF, 0x8000, 0x8001, 0xFFFF], dtype=np.uint32)
    x = (high[:, None] | low).ravel().view(np.float32)
    with np.errstate(invalid="ignore"):     # the reference's cast of signaling NaNs
        want = x.astype(ml_dtypes.bfloat16)
    got = ember.tensor(x, backend=backend).to(ember.bfloat16).numpy()
    nan = np.isnan(want.astype(np.float32))
    expect(np.array_equal(np.isnan(got.astype(np.float32)), nan), "NaN stays NaN, only NaN")
    bad = got.view(np.uint16)[~nan] != want.view(np.uint16)[~nan]
    expect(not bad.any(), f"float32 -> bfloat16 of {x[~nan][bad][:4]} gave "
                          f"{got[~nan][bad][:4]}, ml_dtypes {want[~nan][bad][:4]}")
    back = ember.tensor(want, backend=backend).to(ember.float32).numpy()
    expect(np.array_equal(back[~nan].view(np.uint32), want[~nan].astype(np.float32).view(np.uint32)),
           "bfloat16 -> float32 is exact")
    if ember.float64 in backend.dtypes:
        # 1 + 2^-8 + 2^-30 is above the tie: through float32 it would become the tie, then 1
        over = np.array([1 + 2.0 ** -8 + 2.0 ** -30, -(1 + 2.0 ** -8 + 2.0 ** -30)])
        got = ember.tensor(over, backend=backend).to(ember.bfloat16).numpy().astype(np.float64)
        expect(got.tolist() == [1 + 2.0 ** -7, -(1 + 2.0 ** -7)],
               f"float64 -> bfloat16 rounds twice: {got.tolist()}")


def test_bfloat16_sums_accumulate_in_float32(backend):
    """A bfloat16 running sum of 1000 ones stops at 256 (256 + 1 rounds back to 256)."""
    _need_bfloat16(backend)
    ones = ember.ones(1000, dtype=ember.bfloat16, backend=backend)
    expect(ones.sum().item() == 1000.0 and ones.mean().item() == 1.0,
           f"sum {ones.sum().item()}, mean {ones.mean().item()}")
    m = ember.ones(1, 1000, dtype=ember.bfloat16, backend=backend)
    expect((m @ m.T).item() == 1000.0, f"matmul gives {(m @ m.T).item()}")


def test_reductions_over_empty_axes(backend):
    e = ember.zeros(0, 3, backend=backend)
    expect(e.sum(axis=0).tolist() == [0, 0, 0], "sum over an empty axis is 0")
    expect(e.logsumexp(axis=0).tolist() == [-INF] * 3, "logsumexp over an empty axis is -inf")
    expect(all(math.isnan(v) for v in e.mean(axis=0).tolist()), "mean over an empty axis is NaN")
    with pytest.raises(ember.ShapeError, match="cannot reduce axis 0 of size 0"):
        e.max(axis=0)


def test_array_api_extremes(backend):
    big = [1e30, -1e30, 0.0, INF, -INF, NAN, 1e-30, 3.0]
    oth = [1e30, 1.0, 0.0, NAN, -INF, 1.0, 1e-30, 4.0]
    x, y = _f32(big, backend), _f32(oth, backend)
    a, b = np.array(big, np.float32), np.array(oth, np.float32)
    with np.errstate(all="ignore"):
        want_h = np.hypot(a.astype(np.float64), b.astype(np.float64))
        want_l = np.logaddexp(a.astype(np.float64), b.astype(np.float64))
    assert_ulp(ea.hypot(x, y).numpy(), want_h, ember.float32, 4, "hypot", inputs=a)
    assert_ulp(ea.logaddexp(x, y).numpy(), want_l, ember.float32,
               max(4, backend.ulp_bounds.get("softplus", 0)), "logaddexp", inputs=a)
    expect(ea.sort(ember.tensor([True, False, True], backend=backend),
                   descending=True).tolist() == [True, True, False], "sort(bool, descending)")
    ints = ember.tensor(np.array([-2 ** 31, 5, 0], dtype=np.int32), backend=backend)
    expect(ea.sort(ints, descending=True).tolist() == [5, 0, -2 ** 31], "INT_MIN sorts last")


def test_long_cumsums_and_products_keep_float32_precision(backend):
    """A float32 running sum of 2**17 values in [0, 1) drifts 230 roundings from the exact
    sums: ember's is a log-depth scan (or a float64 accumulator), within 2 log2 n
    roundings; a product, a tree of pairwise products, likewise. NaN and inf spread to
    every later position."""
    rng = np.random.default_rng(5)
    x = rng.uniform(0, 1, 2 ** 17).astype(np.float32)
    want = np.cumsum(x.astype(np.float64))
    got = _f32(x, backend).cumsum(0).numpy().astype(np.float64)
    worst = np.max(np.abs(got - want) / want)
    expect(worst <= 2 * 17 * 2.0 ** -24, f"cumsum of 2**17 float32 values: relative error "
                                         f"{worst:.2e}, {worst / 2.0 ** -24:.0f} roundings")
    y = rng.uniform(0.9, 1.1, 4096).astype(np.float32)
    want = np.prod(y.astype(np.float64))
    got = float(_f32(y, backend).prod().numpy())
    expect(abs(got - want) <= 2 * 12 * 2.0 ** -24 * want,
           f"prod of 4096 float32 values near 1: {got!r}, float64 {want!r}")
    spread = _f32([1.0, NAN, 2.0, INF], backend).cumsum(0).numpy()
    expect(spread[0] == 1 and np.isnan(spread[1:]).all(), f"cumsum past a NaN: {spread}")
    spread = _f32([1.0, INF, 2.0, -1.0], backend).cumsum(0).numpy()
    expect(spread.tolist() == [1, INF, INF, INF], f"cumsum past an inf: {spread}")


def test_products_have_exact_gradients_at_zeros(backend):
    """d prod / d x_i is the product of the other factors, 0 or not (x / prod divides by
    0), and d cumprod: the same for each prefix: checked exactly on small integers."""
    v = np.array([2.0, 0.0, 3.0, -1.0, 0.0, 5.0, 4.0])
    x = ember.tensor(v, dtype=ember.float32, backend=backend, requires_grad=True)
    x.prod().backward()
    others = [np.prod(np.delete(v, i)) for i in range(v.size)]
    expect(x.grad.tolist() == others, f"d prod: {x.grad.tolist()}, exact {others}")
    v[4] = 7.0                                   # one zero left: every prefix past it is 0
    x = ember.tensor(v, dtype=ember.float32, backend=backend, requires_grad=True)
    w = np.arange(1.0, v.size + 1)
    (x.cumprod(0) * ember.tensor(w, dtype=ember.float32, backend=backend)).sum().backward()
    exact = [sum(w[k] * np.prod(np.delete(v[:k + 1], i)) for k in range(i, v.size))
             for i in range(v.size)]
    expect(x.grad.tolist() == exact, f"d cumprod: {x.grad.tolist()}, exact {exact}")


def _stable_order(values, descending=False):
    """The stable order of a row by Python's sort: NaN after every number (first when
    descending), -0 equal to +0, ties in index order."""
    def key(i):
        v = int(values[i]) if np.issubdtype(values.dtype, np.integer) else float(values[i])
        if v != v:
            return (1, 0.0, i) if not descending else (0, 0.0, i)
        return (0, v, i) if not descending else (1, -v, i)
    return sorted(range(len(values)), key=key)


def test_sorting_at_the_edges(backend):
    """sort, argsort and topk order NaN after every number (first when descending, as
    PyTorch), keep ties (-0 and +0 among them) in index order, and reach every dtype's
    limits: checked against Python's own sort on each dtype the backend holds."""
    rng = np.random.default_rng(3)
    for dtype in sorted(backend.dtypes - {ember.bool_}, key=lambda d: d.name):
        if dtype.is_complex or dtype.stores_only:
            continue
        if dtype.is_inexact:
            info = ember.dtypes.finfo(dtype)
            pool = [NAN, INF, -INF, 0.0, -0.0, float(info.max), -float(info.max),
                    float(info.tiny), 1.0, -1.0, 2.5]
            if not backend.flushes_subnormals:
                pool.append(float(info.smallest_subnormal))
        else:
            info = np.iinfo(dtype.np)
            pool = [int(info.min), int(info.max), 0, 1, int(info.max) - 1, int(info.min) + 1]
        for n in (1, 2, 7, 33):
            row = np.array(rng.choice(np.array(pool, dtype=object), n).tolist(), dtype=dtype.np)
            t = ember.tensor(row, backend=backend)
            for descending in (False, True):
                order = _stable_order(row, descending)
                values, indices = t.sort(descending=descending)
                expect(indices.tolist() == order and t.argsort(descending=descending).tolist() == order,
                       f"{dtype.name} sort(descending={descending}) of {row.tolist()}: order "
                       f"{indices.tolist()}, expected {order}")
                got = values.numpy().astype(np.float64)
                want = row[order].astype(np.float64)
                expect(np.array_equal(got, want, equal_nan=True)
                       and np.array_equal(np.signbit(got), np.signbit(want)),
                       f"{dtype.name} sorted values {got.tolist()}, expected {want.tolist()}")
                k = min(3, n)
                top = t.topk(k, largest=descending)
                expect(top.indices.tolist() == order[:k], f"{dtype.name} topk({k}, largest="
                       f"{descending}) of {row.tolist()}: {top.indices.tolist()}")
    flags = ember.tensor([True, False, True, False], backend=backend)
    expect(flags.sort().values.tolist() == [False, False, True, True]
           and flags.argsort(descending=True).tolist() == [0, 2, 1, 3], "sorting bools")


def test_sorting_shapes_and_refusals(backend):
    """Empty axes give empty results, a 0-d tensor sorts to itself at index 0, a long row
    of many ties keeps them in index order; a k past the axis is refused with both
    numbers, complex values (no order) by name."""
    empty = ember.zeros(2, 0, backend=backend)
    values, indices = empty.sort()
    expect(values.shape == (2, 0) and indices.shape == (2, 0), "sort of an empty axis")
    expect(empty.topk(0).values.shape == (2, 0), "topk(0) of an empty axis")
    expect(ember.zeros(0, 3, backend=backend).argsort(0).shape == (0, 3), "argsort of 0 rows")
    scalar = _f32(2.5, backend).sort()
    expect(scalar.values.shape == () and scalar.values.item() == 2.5
           and scalar.indices.item() == 0, "sort of a 0-d tensor")
    row = np.random.default_rng(4).integers(0, 10, 1000).astype(np.float32)
    expect(_f32(row, backend).argsort().tolist() == _stable_order(row), "1000 values, 10 distinct")
    for k in (1, 10, 300):      # a top-k's network prunes blocks of the power of two >= k
        expect(_f32(row, backend).topk(k).indices.tolist() == _stable_order(row, True)[:k]
               and _f32(row, backend).topk(k, largest=False).indices.tolist()
               == _stable_order(row)[:k], f"topk({k}) of 1000 values, 10 distinct")
    cols = np.random.default_rng(5).standard_normal((6, 5)).astype(np.float32)
    got = _f32(cols, backend).kthvalue(3, 0, keepdims=True)
    expect(got.values.shape == (1, 5) and np.array_equal(got.values.numpy()[0], np.sort(cols, 0)[2])
           and got.indices.numpy()[0].tolist() == np.argsort(cols, 0, kind="stable")[2].tolist(),
           "kthvalue along axis 0")
    with pytest.raises(ember.RangeError, match="from 0 to the axis' length 4, got 5"):
        ember.zeros(3, 4, backend=backend).topk(5)
    with pytest.raises(ember.RangeError, match="from 1 to the axis' length 4, got 0"):
        ember.zeros(3, 4, backend=backend).kthvalue(0)
    if ember.complex64 in backend.dtypes:
        with pytest.raises(ember.DTypeError, match="complex numbers have no order"):
            ember.zeros(3, dtype=ember.complex64, backend=backend).sort()


def test_sorted_values_send_their_gradient_back(backend):
    """The gradient of sorted values (and of topk's) goes to the position each came from,
    the tied one that was taken among equals, as PyTorch's."""
    x = ember.tensor(np.array([[3.0, 1.0, 3.0, 2.0]], np.float32), backend=backend,
                     requires_grad=True)
    weights = _f32([[10.0, 20.0, 30.0, 40.0]], backend)
    (x.sort(descending=True).values * weights).sum().backward()
    expect(x.grad.tolist() == [[10.0, 40.0, 20.0, 30.0]], f"sort's gradient {x.grad.tolist()}")
    x.grad = None
    (x.topk(2, largest=False).values * weights[:, :2]).sum().backward()
    expect(x.grad.tolist() == [[0.0, 10.0, 0.0, 20.0]], f"topk's gradient {x.grad.tolist()}")


def test_take_along_axis_gathers_and_scatters_back(backend):
    """take_along_axis along each axis, with negative indices and broadcast axes, equals
    NumPy's; its gradient adds each output's weight where it was taken from (np.add.at);
    indices out of range or of the wrong rank are refused by name."""
    rng = np.random.default_rng(6)
    x = rng.standard_normal((3, 4, 5)).astype(np.float32)
    for axis in range(3):
        shape = list(x.shape)
        shape[axis], shape[(axis + 1) % 3] = 6, 1
        index = rng.integers(-x.shape[axis], x.shape[axis], shape)
        positive = np.where(index < 0, index + x.shape[axis], index)
        t = ember.tensor(x, backend=backend, requires_grad=True)
        got = ember.take_along_axis(t, ember.tensor(index.astype(np.int32), backend=backend), axis)
        full = tuple(6 if a == axis else x.shape[a] for a in range(3))
        picked = np.broadcast_to(positive, full)
        expect(np.array_equal(got.numpy(), np.take_along_axis(x, picked, axis)),
               f"take_along_axis along axis {axis}")
        weights = rng.standard_normal(full).astype(np.float32)
        (got * ember.tensor(weights, backend=backend)).sum().backward()
        want = np.zeros(x.shape)
        where = list(np.indices(full))
        where[axis] = picked
        np.add.at(want, tuple(where), weights.astype(np.float64))
        assert_ulp(t.grad.numpy(), want, ember.float32, 4, f"take_along_axis' gradient, axis {axis}")
    with pytest.raises(ember.IndexingError, match="index 5 is out of bounds for axis 2 with size 5"):
        ember.take_along_axis(_f32(x, backend), ember.tensor([[[5]]], backend=backend), 2)
    with pytest.raises(ember.IndexingError, match="indices have 1 axes and x has 3"):
        ember.take_along_axis(_f32(x, backend), ember.tensor([0], backend=backend), 2)


def test_rounding_has_pytorchs_zero_gradient_and_decimals(backend):
    """floor, ceil, trunc and round pass a zero gradient back (PyTorch's), and round's
    ``decimals`` scales as PyTorch's does; a bool tensor is refused by name."""
    x = ember.tensor(np.array([1.5, -2.25, 3.0], np.float32), backend=backend, requires_grad=True)
    sum(f(x) for f in (ember.floor, ember.ceil, ember.trunc, ember.round)).sum().backward()
    expect(x.grad.tolist() == [0.0, 0.0, 0.0], f"rounding's gradient {x.grad.tolist()}")
    values = np.array([1.2345, -1234.5, 0.125], np.float32)
    for decimals in (2, -1):
        scale = np.float32(10.0 ** abs(decimals))
        want = (np.rint(values * scale) / scale if decimals > 0 else np.rint(values / scale) * scale)
        got = _f32(values, backend).round(decimals).numpy()
        assert_ulp(got, want.astype(np.float64), ember.float32, 1, f"round(decimals={decimals})")
    with pytest.raises(ember.DTypeError, match="a bool tensor has nothing to round"):
        ember.floor(ember.tensor([True], backend=backend))
    with pytest.raises(ValueError, match="decimals must be an int, got 1.5"):
        ember.round(_f32([1.0], backend), 1.5)


def test_integer_running_sums_keep_the_dtype_asked_for(backend):
    """cumsum(dtype=int32) sums in int32 and says so: its buffer's dtype and values agree
    (NumPy's own cumsum of int32 would hand back int64)."""
    x = ember.tensor(np.array([[1, 2, 3], [2 ** 30, 2 ** 30, 5]], np.int32), backend=backend)
    got = x.cumsum(1, dtype=ember.int32)
    values = got.numpy()
    expect(got.dtype is ember.int32 and values.dtype == np.int32
           and values.tolist() == [[1, 3, 6], [2 ** 30, -2 ** 31, -2 ** 31 + 5]],
           f"int32 cumsum: {got.dtype.name}, {values.dtype}, {values.tolist()}")


def test_running_products_past_float32s_range(backend):
    """cumprod's partial products leave float32's range where the running product does
    not: a zero before two of 3e38 stays 0 (0 * inf would be NaN), and where the backend
    holds float64 (PyTorch's CPU accumulator) 3.39e38, 1.18e-38, 1.18e-38 ends at 4.7e-38,
    not at an underflowed 0."""
    for row in ([0.0, 3e38, 3e38, 1.0], [-0.0, 3e38, 3e38], [0.0, INF, 2.0], [2.0, 0.0, 3.0, -1.0]):
        got = _f32(row, backend).cumprod(0).numpy()
        with np.errstate(invalid="ignore"):     # 0 * inf: NaN, as the row expects
            want = np.cumprod(np.array(row, np.float32).astype(np.float64)).astype(np.float32)
        expect(np.array_equal(got, want, equal_nan=True)
               and np.array_equal(np.signbit(got), np.signbit(want)),
               f"cumprod of {row}: {got.tolist()}, expected {want.tolist()}")
    if ember.float64 in backend.dtypes:
        row = np.array([3.39e38, 1.18e-38, 1.18e-38], np.float32)
        got = _f32(row, backend).cumprod(0).numpy()
        expect(got[2] == np.float32(np.prod(row.astype(np.float64))), f"cumprod's tail {got[2]!r}")


def test_quantiles_between_infinities_and_huge_values_are_their_limits(backend):
    """A quantile between neighbours a <= b is a where its weight is 0 or a == b, b where
    it is 1, the infinity between one and anything else (NaN from -inf to inf), and
    a (1 - w) + b w where b - a overflows. a + (b - a) w gave NaN for lower, higher and
    nearest at any infinity, and PyTorch's lerp gives NaN or -inf at most of these."""
    m = 3e38
    rows = {   # row: {(interpolation, q): value}
        (-INF, -INF, -INF): {(i, q): -INF for i in ("linear", "lower", "midpoint") for q in (0.0, 0.3, 1.0)},
        (INF, INF): {("linear", 0.0): INF, ("linear", 0.5): INF, ("nearest", 0.7): INF},
        (1.0, INF): {("linear", 0.0): 1.0, ("linear", 0.25): INF, ("linear", 1.0): INF,
                     ("lower", 0.9): 1.0, ("higher", 0.1): INF, ("midpoint", 0.0): 1.0,
                     ("midpoint", 0.5): INF},
        (INF, -INF, 0.0): {("linear", 0.0): -INF, ("linear", 0.3): -INF, ("linear", 0.5): 0.0,
                           ("linear", 0.75): INF, ("linear", 1.0): INF, ("nearest", 0.3): 0.0},
        (-INF, INF): {("linear", 0.5): NAN, ("midpoint", 0.2): NAN, ("lower", 0.5): -INF,
                      ("higher", 0.5): INF, ("nearest", 0.5): -INF},
        (m, -m): {("linear", 0.5): 0.0, ("midpoint", 0.9): 0.0,
                  ("linear", 0.3): float(np.float32(-m) * 0.7 + np.float32(m) * 0.3)},
    }
    for row, cases in rows.items():
        for (interpolation, q), want in cases.items():
            for fn in (ember.quantile, ember.nanquantile):
                got = fn(_f32(row, backend), q, interpolation=interpolation).item()
                ok = math.isnan(got) if math.isnan(want) else (
                    got == want or abs(got - want) <= 1e-6 * abs(want))
                expect(ok, f"{fn.__name__}({row}, {q}, {interpolation}): {got}, expected {want}")


def test_searchsorted_is_numpys(backend):
    """Both sides, over sequences with -0 and 0, infinities and NaN (sorted last), empty
    and of every length to 100, against numpy.searchsorted; a ``sorter``; and rows of an
    N-d sequence searched by the values' own leading axes."""
    rng = np.random.default_rng(7)
    pool = np.array([0.0, -0.0, 1.0, 2.0, INF, -INF, NAN, 3.5], np.float32)
    values = rng.choice(np.concatenate([pool, [0.5, -1.0]]).astype(np.float32), (3, 5))
    for n in (0, 1, 2, 7, 8, 9, 100):
        seq = np.sort(rng.choice(pool, n))
        for side in ("left", "right"):
            got = ember.searchsorted(_f32(seq, backend), _f32(values, backend), side).numpy()
            expect(np.array_equal(got, np.searchsorted(seq, values, side)),
                   f"searchsorted({side}) in {seq.tolist()}: {got.tolist()}")
    x = rng.integers(0, 20, 10).astype(np.int32)
    order, probes = np.argsort(x, kind="stable"), rng.integers(-2, 22, 6).astype(np.int32)
    got = ember.searchsorted(ember.tensor(x, backend=backend), ember.tensor(probes, backend=backend),
                             "right", sorter=ember.tensor(order.astype(np.int32), backend=backend))
    expect(np.array_equal(got.numpy(), np.searchsorted(x, probes, "right", sorter=order)),
           "searchsorted with a sorter")
    rows = np.sort(rng.standard_normal((3, 8)).astype(np.float32), -1)
    probes = rng.standard_normal((3, 4)).astype(np.float32)
    got = ember.searchsorted(_f32(rows, backend), _f32(probes, backend)).numpy()
    expect(all(np.array_equal(got[r], np.searchsorted(rows[r], probes[r])) for r in range(3)),
           "searchsorted row by row")


def _division_references(x, y):
    """NumPy's fmod, remainder, floor_divide and truncated division of x and y (16-bit
    floats in float32, as ember computes them), in x's dtype."""
    d = x.dtype
    if d.kind == "f" or d == ember.bfloat16.np:
        w = np.float32 if d.itemsize == 2 else d
        x, y = x.astype(w), y.astype(w)
    with np.errstate(all="ignore"):
        q = np.trunc(x / y) if x.dtype.kind == "f" else np.floor_divide(x - np.fmod(x, y), y)
        floored = np.floor_divide(x, y)
        if x.dtype.kind == "f":       # floor(x / y) where an operand is infinite (the standard's)
            floored = np.where(np.isinf(x) | np.isinf(y), np.floor(x / y), floored)
        out = {"fmod": np.fmod(x, y), "remainder": np.remainder(x, y),
               "floor_divide": floored, "trunc": q}
        return {k: v.astype(d) for k, v in out.items()}


def _division_mismatches(backend, x, y, got):
    """{name: where ``got[name]`` is not NumPy's answer bit for bit (NaN for NaN); where
    the backend flushes subnormals, the answer for its inputs flushed to zeros of their
    sign, or a zero for a subnormal answer, counts too."""
    wants = [_division_references(x, y)]
    is_float = x.dtype.kind == "f" or x.dtype == ember.bfloat16.np
    tiny = float(ember.dtypes.finfo(ember.dtypes.dtype(x.dtype)).tiny) if is_float else 0
    if backend.flushes_subnormals and is_float:
        with np.errstate(invalid="ignore"):
            flush = lambda a: np.where(np.abs(a.astype(np.float64)) < tiny, a * 0, a)  # noqa: E731
            wants.append(_division_references(flush(x), flush(y)))
    bad = {}
    for name, g in got.items():
        ok = np.zeros(g.shape, bool)
        for want in wants:
            w = want[name]
            if not is_float:
                ok |= g == w
                continue
            g64, w64 = g.astype(np.float64), w.astype(np.float64)
            ok |= np.where(np.isnan(w64), np.isnan(g64),
                           (g == w) & (np.signbit(g) == np.signbit(w)))
            if len(wants) > 1:
                ok |= (g64 == 0) & (np.abs(w64) < tiny)
        bad[name] = np.flatnonzero(~ok)
    return bad


def test_division_rounds_exactly_at_every_special_pair(backend):
    """fmod, %, // and div(rounding_mode="trunc") of every pair of ±0, subnormals, the
    dtype's limits, ±inf, NaN and ordinary values, bit for bit against NumPy (signed zeros
    included): WGSL's float % rounds, C's integer / is undefined at 0 and INT_MIN / -1."""
    ops = {"fmod": ember.fmod, "remainder": lambda a, b: a % b,
           "floor_divide": lambda a, b: a // b,
           "trunc": lambda a, b: ember.div(a, b, rounding_mode="trunc")}
    for dtype in ember.dtypes.FLOATS + ember.dtypes.INTS:
        if dtype not in backend.dtypes:
            continue
        if dtype.is_float:
            info = ember.dtypes.finfo(dtype)
            v = [0.0, -0.0, info.smallest_subnormal, -info.smallest_subnormal, info.tiny,
                 info.max, -info.max, INF, -INF, NAN, 1.0, -1.0, 3.0, -3.0, 0.1, -0.1, 2.5,
                 1e30, -7.0, 0.3, 5e-39, 1e-44]
            with np.errstate(over="ignore"):
                v = np.array([float(a) for a in v]).astype(dtype.np)
        else:
            v = _integer_specials(dtype)
        x, y = (a.ravel() for a in np.meshgrid(v, v, indexing="ij"))
        want = _division_references(x, y)
        tx, ty = (ember.tensor(a, dtype=dtype, backend=backend) for a in (x, y))
        got = {name: fn(tx, ty).numpy() for name, fn in ops.items()}
        for name, bad in _division_mismatches(backend, x, y, got).items():
            g, w = got[name], want[name]
            expect(bad.size == 0, f"{name} {dtype.name}: {bad.size} pairs differ, e.g. "
                   + ", ".join(f"({x[i]}, {y[i]}) -> {g[i]}, not {w[i]}" for i in bad[:3]))


def _integer_specials(dtype):
    """An integer dtype's limits, their neighbours, small values of both signs and a
    third of the largest."""
    lo, hi = (int(v) for v in (np.iinfo(dtype.np).min, np.iinfo(dtype.np).max))
    return np.array(sorted({lo, lo + 1, hi, hi - 1, 0, 1, 2, 3, 7, hi // 3}
                           | ({-1, -2, -3, -7} if lo < 0 else set())), dtype=dtype.np)


def test_abs_gcd_and_lcm_at_the_integer_limits_are_numpys(backend):
    """abs, gcd and lcm of every pair of each integer dtype's specials, exactly as NumPy's:
    gcd took |x| first, so |INT_MIN|, which wraps to itself, made gcd(1, INT_MIN) -1; wgpu's
    abs of a u32 (naga's lowering) made |4294967294| 2. An lcm past the dtype's range
    wraps, where NumPy and PyTorch differ, so only those that fit are compared."""
    for dtype in ember.dtypes.INTS:
        if dtype not in backend.dtypes:
            continue
        v = _integer_specials(dtype)
        x, y = (a.ravel() for a in np.meshgrid(v, v, indexing="ij"))
        tx, ty = (ember.tensor(a, dtype=dtype, backend=backend) for a in (x, y))
        top = int(np.iinfo(dtype.np).max)
        fits = np.array([math.lcm(int(a), int(b)) <= top for a, b in zip(x, y)])
        with np.errstate(over="ignore"):
            cases = (("abs", ember.abs(tx), np.abs(x), slice(None)),
                     ("gcd", ember.gcd(tx, ty), np.gcd(x, y), slice(None)),
                     ("lcm", ember.lcm(tx, ty), np.lcm(x, y), fits))
        for name, got, want, kept in cases:
            got, want, xs, ys = got.numpy()[kept], want[kept], x[kept], y[kept]
            bad = np.flatnonzero(got != want)
            expect(bad.size == 0, f"{name} {dtype.name}: {bad.size} pairs differ, e.g. "
                   + ", ".join(f"({xs[i]}, {ys[i]}) -> {got[i]}, not {want[i]}" for i in bad[:3]))


def test_division_rounds_exactly_over_every_exponent(backend):
    """fmod, % and // of random float32 bit patterns (quotients up to 2**277, subnormal
    divisors): a remainder taken by x - trunc(x / y) y rounds away every bit of them."""
    bits = np.random.default_rng(0).integers(0, 2 ** 32, 4000, dtype=np.uint64).astype(np.uint32)
    x, y = bits[:2000].view(np.float32), bits[2000:].view(np.float32)
    tx, ty = ember.tensor(x, backend=backend), ember.tensor(y, backend=backend)
    got = {"fmod": ember.fmod(tx, ty).numpy(), "remainder": (tx % ty).numpy(),
           "floor_divide": (tx // ty).numpy()}
    for name, bad in _division_mismatches(backend, x, y, got).items():
        expect(bad.size == 0, f"{name}: {bad.size} of 2000 differ")


def test_division_gradients_are_pytorchs(backend):
    """d(x % y)/dy = -floor(x / y), d fmod/dy = -trunc(x / y), dx = 1; floor_divide's
    and div's rounding modes give zeros (PyTorch has none for floor_divide)."""
    x = ember.tensor([5.0, -3.0, 7.5, -0.5], backend=backend, requires_grad=True)
    y = ember.tensor([3.0, 2.0, -2.0, 0.25], backend=backend, requires_grad=True)
    for fn, dy in ((ember.remainder, [-1.0, 2.0, 4.0, 2.0]), (ember.fmod, [-1.0, 1.0, 3.0, 2.0]),
                   (ember.floor_divide, [0.0] * 4),
                   (lambda a, b: ember.div(a, b, rounding_mode="trunc"), [0.0] * 4)):
        gx, gy = ember.grad(lambda a, b: fn(a, b).sum(), argnums=(0, 1))(x, y)
        want_dx = [0.0] * 4 if dy == [0.0] * 4 else [1.0] * 4
        expect(gx.tolist() == want_dx and gy.tolist() == dy, f"{fn}: {gx.tolist()}, {gy.tolist()}")


def test_division_refusals(backend):
    b = ember.tensor([True, False], backend=backend)
    with pytest.raises(ember.DTypeError, match="cast them to an integer"):
        b % b
    with pytest.raises(ValueError, match="rounding_mode"):
        ember.div(ember.tensor([1.0], backend=backend), 2.0, rounding_mode="round")
    if ember.complex64 in backend.dtypes:
        z = ember.tensor([1 + 1j], backend=backend)
        with pytest.raises(ember.DTypeError, match="complex"):
            ember.fmod(z, z)


def test_bitwise_ops_at_every_integer_limit(backend):
    """& | ^ ~ << >> of every pair of each integer dtype's limits, small values and shift
    counts from -1 past the width, exactly as NumPy's (C's shifts are undefined past the
    width, WGSL's take the count modulo 32); bool tensors take the logical ops."""
    ops = {"and": (lambda a, b: a & b, np.bitwise_and), "or": (lambda a, b: a | b, np.bitwise_or),
           "xor": (lambda a, b: a ^ b, np.bitwise_xor), "not": (lambda a, b: ~a, lambda a, b: ~a),
           "<<": (lambda a, b: a << b, np.left_shift), ">>": (lambda a, b: a >> b, np.right_shift)}
    for dtype in ember.dtypes.INTS:
        if dtype not in backend.dtypes:
            continue
        info = np.iinfo(dtype.np)
        counts = {0, 1, 3, 7, 8, 15, 16, 31, 32, 33, 63, 64, 65, 100}
        v = sorted({int(info.min), int(info.min) + 1, int(info.max), 0, 1, 2, 5, 0x55}
                   | ({-1, -2, -100} if info.min < 0 else set())
                   | {c for c in counts if c <= info.max}
                   | ({-1} if info.min < 0 else set()))
        x, y = (a.ravel() for a in np.meshgrid(np.array(v, dtype=dtype.np),
                                               np.array(v, dtype=dtype.np), indexing="ij"))
        tx, ty = (ember.tensor(a, dtype=dtype, backend=backend) for a in (x, y))
        for name, (fn, ref) in ops.items():
            got, want = fn(tx, ty).numpy(), ref(x, y)
            bad = np.flatnonzero(got != want)
            expect(got.dtype == dtype.np and bad.size == 0,
                   f"{name} {dtype.name}: " + ", ".join(
                       f"({x[i]}, {y[i]}) -> {got[i]}, not {want[i]}" for i in bad[:3]))
    t = ember.tensor([True, False, True], backend=backend)
    expect((t & ~t).tolist() == [False] * 3 and (t ^ True).tolist() == [False, True, False],
           "bool tensors' logic")
    with pytest.raises(ember.DTypeError, match="integer"):
        ember.tensor([1.5], backend=backend) & 1
    with pytest.raises(ember.DTypeError, match="needs integer tensors, got bool"):
        t << t


def test_bitcast_reads_the_same_bytes_as_every_dtype(backend):
    """x.view(dtype) (ember.bitcast) between every pair of dtypes the backend holds, from
    random bytes (no NaN or, where the backend flushes them, subnormal source floats):
    the bytes NumPy's view gives, the last axis rescaled by the item sizes; refusals
    named."""
    rng = np.random.default_rng(7)
    dtypes = [d for d in ember.dtypes.ALL if d in backend.dtypes and d is not ember.bool_]
    for source in dtypes:
        data = rng.integers(0, 256, (3, 16), dtype=np.uint8).view(source.np)
        if source.is_inexact:
            parts = data.view(np.float32 if source.is_complex and source.itemsize == 8
                              else np.float64 if source.is_complex else source.np)
            wide = parts.astype(np.float64)
            tiny = float(ember.dtypes.finfo(source).tiny) if source.is_float else 0.0
            parts[np.isnan(wide) | ((np.abs(wide) < tiny) & backend.flushes_subnormals)] = 0
        x = ember.tensor(data, dtype=source, backend=backend)
        for target in dtypes:
            got, want = x.view(target).numpy(), data.view(target.np)
            same = got.shape == want.shape and (
                np.array_equal(got.astype(np.complex128 if target.is_complex else np.float64),
                               want.astype(np.complex128 if target.is_complex else np.float64),
                               equal_nan=True) if target.is_inexact else np.array_equal(got, want))
            expect(same, f"{source.name} viewed as {target.name}: {got.ravel()[:4]}, not "
                         f"{want.ravel()[:4]}")
    flags = ember.tensor([True, False], backend=backend)
    expect(flags.view(ember.uint8).tolist() == [1, 0], "bool as uint8")
    one = ember.tensor(1.0, backend=backend).view(ember.int32)
    expect(one.shape == () and one.numpy().shape == () and one.item() == 0x3F800000, "0-d")
    with pytest.raises(ember.ShapeError, match="last axis of .3,. holds 6 bytes, not a "
                                               "multiple of int32's 4"):
        ember.tensor([1, 2, 3], dtype=ember.int16, backend=backend).view(ember.int32)
    with pytest.raises(ember.ShapeError, match="0-d float32 tensor cannot be read as int16"):
        ember.tensor(1.0, backend=backend).view(ember.int16)


def test_scatter_add_refusals(backend):
    x = ember.tensor([1.0, 2.0], backend=backend)
    at = lambda *v: ember.tensor(list(v), backend=backend)       # noqa: E731
    for index, src, error, message in (
            (at(2), at(1.0), ember.IndexingError, "index 2 is out of bounds for axis 0 with size 2"),
            (at(-1), at(1.0), ember.IndexingError, "index -1 is out of bounds"),
            (at(0.5), at(1.0), ember.IndexingError, "index must be integers, got float32"),
            (at(0, 1, 0), at(1.0, 2.0), ember.ShapeError, "index .3,. is larger than src .2,.")):
        with pytest.raises(error, match=message):
            x.scatter_add(0, index, src)
    with pytest.raises(ember.DTypeError, match="src is int.. but x is float32; cast src"):
        x.scatter_add(0, at(0), ember.tensor([1], dtype=ember.int32, backend=backend))
    with pytest.raises(ember.ShapeError, match="as long as the 1-D index"):
        x.index_add(0, at(0, 1), at(1.0))


def test_copysign_and_signbit_read_the_sign_bit(backend):
    """copysign and signbit of every pair of signed zeros, NaNs of either sign, infinities,
    subnormals and limits, bit for bit against NumPy, and copysign's gradient PyTorch's
    (the sign x took; 0 at x = 0)."""
    for dtype in ember.dtypes.FLOATS:
        if dtype not in backend.dtypes:
            continue
        info = ember.dtypes.finfo(dtype)
        v = np.array([0.0, -0.0, NAN, -NAN, INF, -INF, float(info.smallest_subnormal),
                      -float(info.smallest_subnormal), float(info.max), -1.5, 2.0]).astype(dtype.np)
        x, y = (a.ravel() for a in np.meshgrid(v, v, indexing="ij"))
        got = ember.copysign(ember.tensor(x, backend=backend), ember.tensor(y, backend=backend))
        wide = np.float32 if dtype.itemsize == 2 else dtype.np      # (NumPy's, exact)
        want = np.copysign(x.astype(wide), y.astype(wide)).astype(dtype.np)
        got, nan = got.numpy(), np.isnan(want.astype(np.float64))     # (NaN payloads vary)
        expect(np.array_equal(np.isnan(got.astype(np.float64)), nan)
               and np.array_equal(np.signbit(got), np.signbit(want))
               and np.array_equal(got[~nan], want[~nan]), f"copysign {dtype.name}")
        sign = ember.signbit(ember.tensor(v, backend=backend)).numpy()
        expect(sign.tolist() == np.signbit(v.astype(wide)).tolist(), f"signbit {dtype.name}")
    ints = ember.tensor([-3, 0, 5], dtype=ember.int32, backend=backend)
    expect(ember.signbit(ints).tolist() == [True, False, False]
           and ember.copysign(ints, -1).tolist() == [-3.0, -0.0, -5.0], "integers")
    x = ember.tensor([1.0, -2.0, 0.0, 3.0], backend=backend, requires_grad=True)
    y = ember.tensor([-1.0, -1.0, -1.0, NAN], backend=backend)
    ember.copysign(x, y).sum().backward()
    expect(x.grad.tolist() == [-1.0, 1.0, 0.0, 1.0], f"copysign's gradient {x.grad.tolist()}")
