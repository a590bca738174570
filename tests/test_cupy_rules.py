"""The CuPy backend's own rules where CuPy and NumPy differ (cupy.add.at's dtypes, %, the
shifts), run here with NumPy as the array module against NumPy's answers: CI has no GPU,
and these are array-module code, so NumPy executes them line for line as CuPy would."""

import numpy as np
import pytest

import ember

from ember.backends.cupy.backend import CupyBackend
from ember.backends.numpy.backend import NumpyBackend

RULES = ("scatter_add", "fast_remainder", "fast_floor_divide", "fast_left_shift",
         "fast_right_shift", "log", "fast_log1p", "_complex_log", "sign", "sin", "tanh",
         "fast_expm1", "div")


@pytest.fixture(scope="module")
def pair():
    """(NumPy's backend, the same with the CuPy backend's rules)."""
    rules = type("CupyRulesOnNumpy", (NumpyBackend,),
                 {name: CupyBackend.__dict__[name] for name in RULES})
    return NumpyBackend(), rules()


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int16", "uint16", "bool", "complex64",
                                   "complex128", "int32", "float16", "bfloat16"])
def test_scatter_add_of_every_dtype_cupy_add_at_refuses(pair, dtype):
    numpy_backend, rules = pair
    rng = np.random.default_rng(0)
    src = (rng.integers(-120, 120, (6, 3)) + (1j * rng.standard_normal((6, 3))
                                               if dtype.startswith("complex") else 0))
    src = src.astype(dtype) if dtype != "bool" else src > 0
    index = np.array([0, 2, 2, 1, 0, 2])       # repeats: 2 takes three rows (int8 wraps)
    for axis, idx, s in ((0, index, src), (1, np.array([1, 1, 0]), src)):
        want = numpy_backend.scatter_add((4, 3) if axis == 0 else (6, 2), axis, idx, s)
        got = rules.scatter_add((4, 3) if axis == 0 else (6, 2), axis, idx, s)
        assert got.dtype == want.dtype and np.array_equal(got, want), (dtype, axis)


@pytest.mark.parametrize("name", ["fast_remainder", "fast_floor_divide"])
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_remainder_and_floor_division_are_numpys_bit_for_bit_at_every_special_pair(pair, name,
                                                                                   dtype):
    """float32, and bfloat16 (computed in float32 and rounded once, where CuPy's own loops
    have CuPy's rules) against NumPy's (ml_dtypes')."""
    if ember.dtype(dtype).np is None:
        pytest.skip("ml_dtypes is not installed")
    v = np.array([0.0, -0.0, 1e-45, -1e-45, 1.2e-38, 1.0, -1.0, 3.0, -3.0, 0.1, 2.5, 7.0,
                  3.4e38, -3.4e38, np.inf, -np.inf, np.nan], np.float32)
    x, y = (a.ravel() for a in np.meshgrid(v, v, indexing="ij"))
    bits = np.random.default_rng(0).integers(0, 2 ** 32, 4000, dtype=np.uint64).astype(np.uint32)
    x = np.concatenate([x, bits[:2000].view(np.float32)])     # and every exponent
    y = np.concatenate([y, bits[2000:].view(np.float32)])
    with np.errstate(all="ignore"):
        x, y = (a.astype(ember.dtype(dtype).np) for a in (x, y))
        got, want = (getattr(b, name)(x, y).astype(np.float32) for b in (pair[1], pair[0]))
    same = np.where(np.isnan(want), np.isnan(got),
                    (got == want) & (np.signbit(got) == np.signbit(want)))
    bad = np.flatnonzero(~same)
    assert bad.size == 0, [(x[i], y[i], got[i], want[i]) for i in bad[:4]]


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int32", "int64", "uint64"])
def test_shifts_past_the_width_and_below_zero_are_numpys(pair, dtype):
    info = np.iinfo(dtype)
    values = sorted({int(info.min), int(info.max), 0, 1, 5} | ({-1, -100} if info.min else set()))
    counts = [c for c in (-1, 0, 1, 7, 8, 31, 32, 63, 64, 65, 100) if info.min <= c <= info.max]
    x, y = (a.ravel() for a in np.meshgrid(np.array(values, dtype), np.array(counts, dtype)))
    for name, ref in (("fast_left_shift", np.left_shift), ("fast_right_shift", np.right_shift)):
        got = getattr(pair[1], name)(x, y)
        assert got.dtype == x.dtype and np.array_equal(got, ref(x, y)), name


@pytest.mark.parametrize("name", ["log", "fast_log1p"])
@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
def test_complex_logs_at_infinite_and_nan_parts_are_annex_gs(pair, name, dtype):
    """Every pair of parts from +-0, +-1, +-inf and NaN: NumPy's values (C's Annex G),
    as the rule writes them over what the array module's own log gave (here NaN wherever
    a part is not finite, as CuPy's gives at inf + NaN i and NaN + inf i)."""
    parts = [0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan]
    z = np.array([complex(a, b) for a in parts for b in parts], dtype)
    with np.errstate(all="ignore"):
        want = getattr(pair[0], name)(z)
        spoiled = np.where(np.isfinite(z), want, np.nan + 0j).astype(dtype)   # CuPy's NaNs
        got = pair[1]._complex_log(z, spoiled)
    for part in (np.real, np.imag):
        np.testing.assert_array_equal(part(got), part(want), err_msg=f"{name} {dtype}")


@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
def test_complex_sign_at_infinite_and_nan_parts_is_numpys(pair, dtype):
    parts = [0.0, -0.0, 1.0, -2.5, np.inf, -np.inf, np.nan]
    z = np.array([complex(a, b) for a in parts for b in parts], dtype)
    with np.errstate(all="ignore"):
        got, want = pair[1].sign(z), np.sign(z)
    for part in (np.real, np.imag):
        g, w = part(got), part(want)
        kept = ~np.isnan(w)
        assert np.array_equal(np.isnan(g), ~kept) and np.array_equal(g[kept], w[kept]), dtype


def _nan_where_not_finite(fn):
    def spoiled(z):
        out = fn(z)
        return np.where(np.isfinite(z), out, np.nan) if z.dtype.kind == "c" else out
    return spoiled


class _CupysComplexMath:
    """NumPy standing in for CuPy's complex math: sin, tanh and expm1 NaN wherever a part is
    not finite, and a quotient scaled by |b.real| + |b.imag| (CuPy's operator/, whose
    1 / (inf + 0i) is NaN)."""

    def __getattr__(self, name):
        return getattr(np, name)

    sin, tanh, expm1 = (staticmethod(_nan_where_not_finite(f)) for f in (np.sin, np.tanh,
                                                                        np.expm1))

    @staticmethod
    def true_divide(a, b):
        s = np.abs(b.real) + np.abs(b.imag)
        ar, ai, br, bi = a.real / s, a.imag / s, b.real / s, b.imag / s
        n = br * br + bi * bi
        return ((ar * br + ai * bi) / n + 1j * ((ai * br - ar * bi) / n)).astype(a.dtype)


_PARTS = [0.0, -0.0, 1.0, -1.0, -2.5, 2.0, 1e30, -1e30, 1e-20, np.inf, -np.inf, np.nan]


def _same(got, want, wide=None, within=0):
    """Per element: NaN where NumPy's part is NaN, and otherwise NumPy's sign and the same
    value, or within ``within`` eps of the modulus of ``wide`` (the same in complex128)
    where NumPy's is finite."""
    ok = np.ones(got.shape, bool)
    eps = np.finfo(got.real.dtype).eps
    for part in (np.real, np.imag):
        g, w = part(got), part(want)
        with np.errstate(invalid="ignore"):
            near = np.abs(g - part(wide)) <= within * eps * np.abs(wide) if within else False
        ok &= np.where(np.isnan(w), np.isnan(g), (np.signbit(g) == np.signbit(w)) & (
            (g == w) | (np.isfinite(w) & near)))
    return ok


@pytest.mark.parametrize("name", ["sin", "tanh", "fast_expm1", "div"])
@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
def test_complex_sin_tanh_expm1_and_quotients_at_every_special_part_are_numpys(pair, name,
                                                                             dtype):
    """Every pair of parts from +-0, +-1, 2, -2.5, +-1e30, 1e-20, +-inf and NaN (and each
    such quotient), through CuPy's complex math as the stand-in gives it: NumPy's values
    and signs of zero where a part is not finite (C's Annex G, glibc's csin and ctanh,
    Smith's quotient), and elsewhere within 4 eps of the modulus of the complex128 answer
    (libm's sin and exp are not NumPy's own loops)."""
    numpy_backend, rules = pair
    rules = type(rules)()
    rules.xp = _CupysComplexMath()
    z = np.array([complex(a, b) for a in _PARTS for b in _PARTS], dtype)
    with np.errstate(all="ignore"):
        if name == "div":
            x, y = (a.ravel() for a in np.meshgrid(z, z))
            got, want, wide = rules.div(x, y), x / y, x.astype(complex) / y.astype(complex)
            assert not _same(rules.xp.true_divide(x, y), want).all()   # the stand-in's NaNs
        else:
            fn = getattr(numpy_backend, name)
            got, want, wide = getattr(rules, name)(z), fn(z), fn(z.astype(complex))
            assert not _same(getattr(rules.xp, name.removeprefix("fast_"))(z), want).all()
    assert got.dtype == want.dtype
    bad = np.flatnonzero(~_same(got, want, wide, within=4))
    cases = (x[bad], y[bad]) if name == "div" else z[bad]
    assert bad.size == 0, (name, cases, got[bad][:4], want[bad][:4])


def test_float32_matmul_precision_sets_cublass_compute_type_once_per_change():
    """ember.set_float32_matmul_precision reaches cuBLAS as CuPy's compute type for float32
    (COMPUTE_TYPE_DEFAULT 1, TF32 7, BF16 6), set when it changes, not per matmul; other
    dtypes leave it alone."""
    calls = []

    class Linalg:
        @staticmethod
        def set_compute_type(dtype, kind):
            calls.append((np.dtype(dtype).name, kind))

    rules = type("CupyMatmulOnNumpy", (NumpyBackend,),
                 {"matmul": CupyBackend.matmul, "_cublas": lambda self: Linalg,
                  "_precision": "highest"})()
    a = np.eye(3, dtype=np.float32)
    try:
        for setting in ("highest", "high", "high", "medium", "highest"):
            ember.set_float32_matmul_precision(setting)
            assert np.array_equal(rules.matmul(a, a), a)
            rules.matmul(a.astype(np.float64), a.astype(np.float64))
    finally:
        ember.set_float32_matmul_precision("highest")
    assert calls == [("float32", 7), ("float32", 6), ("float32", 1)]


def test_bfloat16_optimizer_steps_take_the_array_rule_as_numpys(pair):
    """bfloat16 parameters (CuPy 14 holds them; its fused steps are float16/32/64 kernels)
    step by the array-module rule: NumPy's own answers, bit for bit."""
    bf16 = ember.bfloat16.np
    if bf16 is None:
        pytest.skip("ml_dtypes is not installed")
    numpy_backend, _ = pair
    rules = type("CupyStepsOnNumpy", (NumpyBackend,), {
        name: CupyBackend.__dict__[name] for name in ("fast_sgd_step", "fast_adam_step")})()
    rng = np.random.default_rng(0)
    p, g, m, v = (rng.standard_normal(50).astype(bf16) for _ in range(4))
    v = np.abs(v)
    for args in ((p, g, None, 0.1, 0.9, 0.0, 0.01, True), (p, g, m, 0.1, 0.9, 0.1, 0.0, False)):
        for got, want in zip(rules.fast_sgd_step(*args), numpy_backend.fast_sgd_step(*args)):
            assert got.dtype == bf16 and np.array_equal(got.view(np.uint16), want.view(np.uint16))
    args = (p, g, m, v, None, 1e-3, 0.9, 0.999, 1e-8, 0.01, True, 3)
    for got, want in zip(rules.fast_adam_step(*args), numpy_backend.fast_adam_step(*args)):
        assert (got is None and want is None) or np.array_equal(got.view(np.uint16),
                                                                 want.view(np.uint16))
