"""What is particular to the OpenCL backend: its own float32 exp, log, log1p, expm1, pow,
sin and cos (kernels/helpers.cl), written so that pocl can vectorize them. (Every
primitive is checked by the conformance suite, which runs on OpenCL too.)"""

import numpy as np
import pytest

import ember
from ember.testing.checks import ulp_error

available, why = ember.config.availability("opencl")
pytestmark = pytest.mark.skipif(not available, reason=f"OpenCL unavailable: {why}")

#: float32 bit patterns 1021 apart: 4.2M floats of every sign, exponent and mantissa
#: region, zeros, subnormals, infinities and NaNs among them
EVERY_1021ST = np.arange(0, 2 ** 32, 1021, dtype=np.uint64).astype(np.uint32).view(np.float32)


def _worst(got, want):
    err = ulp_error(got, want, ember.float32)
    return err.max(), err.argmax()


@pytest.mark.parametrize("name, bound", [("exp", 1.02), ("log", 0.83), ("log1p", 1.44),
                                         ("expm1", 1.5)])
def test_unary_functions_within_their_ulp_bound_across_the_float_range(name, bound):
    """Bounds measured over all 2^32 floats (worst: exp 1.010 ULP, log 0.827, log1p
    1.437); this samples every 1021st. NaN, infinities and zeros must match exactly."""
    x = EVERY_1021ST
    got = getattr(ember, name)(ember.tensor(x, backend="opencl")).numpy()
    with np.errstate(all="ignore"):
        want = getattr(np, name)(x.astype(np.float64))
    worst, at = _worst(got, want)
    assert worst <= bound, f"{name}({x[at]!r}) = {got[at]!r}, float64 gives {want[at]!r}"


@pytest.mark.parametrize("name", ["sin", "cos"])
def test_sin_and_cos_round_once_from_float64_for_every_float(name):
    """sin and cos compute in float64 after taking off x's quarter turns against 2/pi in
    four doubles, so every float32, 3.4e38 included, rounds once: within 0.5 ULP on every
    1021st float, on the floats nearest to multiples of pi/2 (up to 2^40 of them, where
    the remainder is smallest) and at the edges; sin(-0) is -0, inf and NaN give NaN."""
    k = np.random.default_rng(0).integers(1, 2 ** 40, 200_000).astype(np.float64)
    near = (np.concatenate([k, np.arange(1, 100_000)]) * np.pi / 2).astype(np.float32)
    edges = np.float32([0.0, -0.0, 1e-45, -1e-45, 3.4e38, -3.4e38, 2 ** 24, 2 ** 53, 2 ** 54,
                        -2 ** 54 - 2 ** 32, np.inf, -np.inf, np.nan])
    for x in (EVERY_1021ST, near, edges):
        got = getattr(ember, name)(ember.tensor(x, backend="opencl")).numpy()
        with np.errstate(all="ignore"):
            want = getattr(np, name)(x.astype(np.float64))
        worst, at = _worst(got, want)
        assert worst <= 0.5, f"{name}({x[at]!r}) = {got[at]!r}, float64 gives {want[at]!r}"
    got = ember.sin(ember.tensor(edges[:2], backend="opencl")).numpy()
    assert np.signbit(got).tolist() == [False, True]


def test_pow_is_correctly_rounded_but_for_ties_and_follows_c_at_its_special_cases():
    """pow computes through float64 (2^(y log2|x|) within 2^-31), so it rounds once:
    worst 0.501 ULP over 250M pairs. Integer, half-integer and random exponents, and
    every pair of special values (C99's table: 0^y, x^0, (-1)^inf, negative bases)."""
    rng = np.random.default_rng(0)
    n = 1 << 20
    special = np.array([0.0, -0.0, 1, -1, 2, -2, 0.5, -0.5, 3, -3, np.inf, -np.inf, np.nan,
                        1e-45, -1e-45, 3.4e38, -3.4e38, 1.5, -1.5, 2 ** 24, 2 ** 23 + 1],
                       np.float32)
    xs, ys = np.meshgrid(special, special)
    cases = [
        (rng.integers(0, 2 ** 32, n, dtype=np.uint64).astype(np.uint32).view(np.float32),
         rng.integers(-40, 40, n).astype(np.float32)),
        (np.abs(rng.standard_normal(n) * 10).astype(np.float32),
         rng.uniform(-3, 3, n).astype(np.float32)),
        (rng.uniform(0.5, 2, n).astype(np.float32), rng.uniform(-200, 200, n).astype(np.float32)),
        (xs.ravel(), ys.ravel())]
    for x, y in cases:
        got = ember.pow(ember.tensor(x, backend="opencl"), ember.tensor(y, backend="opencl"))
        with np.errstate(all="ignore"):
            want = np.power(x.astype(np.float64), y.astype(np.float64))
        worst, at = _worst(got.numpy(), want)
        assert worst <= 0.502, f"pow({x[at]!r}, {y[at]!r}) = {got.numpy()[at]!r}, want {want[at]!r}"
