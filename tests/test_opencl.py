"""What is particular to the OpenCL backend: its own float32 exp, log, log1p, expm1, pow,
sin and cos (kernels/helpers.cl), written so that pocl can vectorize them, and fused
float32 kernels of 16 lanes a work-item on a CPU. (Every primitive is checked by the
conformance suite, which runs on OpenCL too.)"""

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


#: the ops whose spellings a kernel of lanes takes (backend._LANE_SPELLINGS), each after
#: an exact product by 1, so that every one is a fused group of two
LANE_OPS = {
    "exp": ember.exp, "log": ember.log, "log1p": ember.log1p, "sqrt": ember.sqrt,
    "abs": ember.abs, "neg": ember.neg, "sigmoid": ember.sigmoid, "relu": ember.relu,
    "add": lambda x, y: x + y, "sub": lambda x, y: x - y, "mul": lambda x, y: x * y,
    "div": lambda x, y: x / y, "maximum": ember.maximum, "minimum": ember.minimum}


@pytest.mark.parametrize("name", sorted(LANE_OPS))
def test_a_fused_float32_kernel_of_sixteen_lanes_gives_the_scalar_kernels_bits(name, monkeypatch):
    """On a CPU, a compiled group of float32 ops reading its operands whole runs 16
    elements a work-item as vectors (vload16, helpers.cl's functions on float16): each
    lane must give the bits of the scalar kernel that eager mode runs, whose ULP bounds
    the tests above check, over every 1021st float (NaN as NaN). A group whose size is
    not a multiple of 16 keeps the scalar kernel."""
    backend = ember.get_backend("opencl")
    if not backend._vector_stores:
        pytest.skip("kernels of lanes are for a CPU device whose buffers align to a vector")
    sources = []
    build = backend.kernels.build
    monkeypatch.setattr(backend.kernels, "build",
                        lambda file, code, names: sources.append(code) or build(file, code, names))
    op = LANE_OPS[name]
    unary = name in ("exp", "log", "log1p", "sqrt", "abs", "neg", "sigmoid", "relu")

    def fused(x, y):
        x = x * 1.0
        return op(x) if unary else op(x, y)

    for n in (len(EVERY_1021ST) // 16 * 16, 1021):
        x = ember.tensor(EVERY_1021ST[:n], backend="opencl")
        y = ember.tensor(np.roll(EVERY_1021ST[:n], 7), backend="opencl")
        compiled = ember.compile(fused)
        for _ in range(3):
            got = compiled(x, y).numpy()
        want = fused(x, y).numpy()
        nan = np.isnan(want)
        assert np.array_equal(np.isnan(got), nan)
        differ = np.flatnonzero(got.view(np.uint32)[~nan] != want.view(np.uint32)[~nan])
        assert differ.size == 0, f"{name}: {got[~nan][differ[:3]]}, scalar {want[~nan][differ[:3]]}"
        assert any("vload16" in code for code in sources) == (n % 16 == 0), n
        sources.clear()


def test_each_helper_section_builds_with_only_the_sections_it_names():
    """A kernel's program holds only the sections of kernels/helpers.cl that its code
    names (kernels.helpers_for): each function and macro helpers.cl defines is listed on
    its section's "//@" line, and each section builds with just what it pulls in (with
    float64: every line of it; the suite builds the float32-only programs)."""
    import re

    import pyopencl as cl
    from ember.backends.opencl import kernels

    text = (kernels._SOURCES / "helpers.cl").read_text()
    _, parts = kernels.sections(text)
    for names, _, part in parts:
        defined = set(re.findall(r"inline[^{;]*?\b(ember_\w+)\s*\(", part))
        defined |= set(re.findall(r"#define (EMBER_\w+)", part))
        assert defined <= names, f"{sorted(defined - names)} not on the //@ line of {part[:80]!r}"
    context = ember.get_backend("opencl").context
    for names, _, part in parts:
        code = " ".join(sorted(names))
        source = "#define NEED_FP64 1\n" + kernels.helpers_for(text, code) + "__kernel void k() {}\n"
        assert part in source
        cl.Program(context, source).build(kernels.BUILD_OPTIONS)
