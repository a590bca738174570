"""ember.special and the gamma, Bessel and erf families on every backend: values against
mpmath at 40 digits on dense grids (lgamma's zeros at 1 and 2 and digamma's at 1.4616
included, where C's lgamma and SciPy's lose thousands of ULP), the reflected negative
arguments, gradients and second derivatives against PyTorch, the edges where PyTorch is
right, compiled use, and the refusals."""

import functools
import math

import numpy as np
import pytest

import ember
from ember.testing.checks import ulp_error

mpmath = pytest.importorskip("mpmath", reason="mpmath is the reference here (pip install mpmath)")
torch = pytest.importorskip("torch", reason="PyTorch is the oracle here (pip install torch)")

mpmath.mp.dps = 30          # 30 digits: float64's 17 with room to spare


def _ncdf(v):
    return mpmath.ncdf(v)


def _precise(fn, digits=80):
    """fn evaluated at ``digits`` digits: erfcx's exp(v^2) erfc(v) far out and ndtri's
    2p - 1 for a tiny p need more than the default."""
    def ref(v):
        with mpmath.workdps(digits):
            return fn(v)
    return ref


#: name -> (ember function, mpmath reference, grid, ULP bound for float32 and float64)
FUNCTIONS = {
    "lgamma": (ember.lgamma, lambda v: mpmath.log(abs(mpmath.gamma(v))),
               np.r_[np.linspace(1e-3, 12, 241), np.linspace(0.9, 2.1, 121), 30.0, 1e5, 1e20],
               (10, 8)),
    "digamma": (ember.digamma, mpmath.digamma,
                np.r_[np.linspace(1e-3, 12, 241), np.linspace(1.2, 1.75, 111),
                      1.4616321449683622, 1.4616321, 1e5, 1e20], (4, 8)),
    "trigamma": (lambda x: ember.polygamma(1, x), lambda v: mpmath.psi(1, v),
                 np.r_[np.linspace(1e-3, 30, 241), 1e5], (4, 8)),
    "polygamma4": (lambda x: ember.polygamma(4, x), lambda v: mpmath.psi(4, v),
                   np.r_[np.linspace(1e-2, 30, 241), 1e3], (8, 8)),
    "zeta_2.5": (lambda q: ember.special.zeta(2.5, q), lambda v: mpmath.zeta(2.5, v),
                 np.r_[np.linspace(1e-2, 30, 181), 1e4], (8, 8)),
    "i0": (ember.i0, lambda v: mpmath.besseli(0, v), np.linspace(-80, 80, 321), (8, 10)),
    "i1": (ember.special.i1, lambda v: mpmath.besseli(1, v), np.linspace(-80, 80, 321), (8, 10)),
    "i0e": (ember.special.i0e, lambda v: mpmath.besseli(0, v) * mpmath.exp(-abs(v)),
            np.r_[np.linspace(-80, 80, 321), 1e4], (8, 10)),
    "i1e": (ember.special.i1e, lambda v: mpmath.besseli(1, v) * mpmath.exp(-abs(v)),
            np.r_[np.linspace(-80, 80, 321), -1e4], (8, 10)),
    "k0": (ember.special.modified_bessel_k0, lambda v: mpmath.besselk(0, v),
           np.r_[np.geomspace(1e-20, 1, 41), np.linspace(0.9, 80, 317), 300.0, 700.0], (8, 8)),
    "k1": (ember.special.modified_bessel_k1, lambda v: mpmath.besselk(1, v),
           np.r_[np.geomspace(1e-20, 1, 41), np.linspace(0.9, 80, 317), 300.0, 700.0], (8, 8)),
    "k0e": (ember.special.scaled_modified_bessel_k0,
            lambda v: mpmath.besselk(0, v) * mpmath.exp(v),
            np.r_[np.geomspace(1e-20, 1, 41), np.linspace(0.9, 80, 317), 1e4, 1e20], (8, 8)),
    "k1e": (ember.special.scaled_modified_bessel_k1,
            lambda v: mpmath.besselk(1, v) * mpmath.exp(v),
            np.r_[np.geomspace(1e-20, 1, 41), np.linspace(0.9, 80, 317), 1e4, 1e20], (8, 8)),
    "spherical_j0": (ember.special.spherical_bessel_j0, lambda v: mpmath.sin(v) / v if v else 1,
                     np.r_[np.linspace(-3, 3, 241), np.linspace(3.5, 30, 101), 1e-5, 0.4999,
                           0.5, 1e5], (4, 4)),
    "erf": (ember.erf, mpmath.erf, np.linspace(-6, 6, 481), (4, 4)),
    "erfc": (ember.erfc, mpmath.erfc, np.linspace(-6, 27, 529), (8, 6)),
    "erfcx": (ember.special.erfcx, _precise(lambda v: mpmath.exp(v * v) * mpmath.erfc(v),
                                            400),
              np.r_[np.linspace(-9, 30, 625), 1e3, 1e150], (8, 6)),
    "ndtr": (ember.special.ndtr, _ncdf, np.linspace(-38, 8, 737), (8, 6)),
    "log_ndtr": (ember.special.log_ndtr, lambda v: mpmath.log(_ncdf(v)),
                 np.r_[np.linspace(-60, 5, 521), -1e5], (8, 6)),
    "erfinv": (ember.erfinv, mpmath.erfinv, np.r_[np.linspace(-0.999, 0.999, 401), 1e-20],
               (6, 6)),
    "ndtri": (ember.special.ndtri, _precise(lambda p: mpmath.sqrt(2) * mpmath.erfinv(2 * p - 1)),
              np.r_[np.linspace(1e-3, 1 - 1e-3, 401), 1e-10, 1e-20], (6, 6)),
}


def _dtypes(backend):
    return [d for d in (ember.float32, ember.float64) if d in backend.dtypes]


@functools.lru_cache(maxsize=None)
def _reference(name, dtype_name):
    """The grid in the dtype, and mpmath's values at exactly those points."""
    _, ref, grid, _ = FUNCTIONS[name]
    with np.errstate(over="ignore"):
        x = grid.astype(dtype_name)
    x = x[np.isfinite(x)]
    with mpmath.workdps(30):            # whatever another test left mpmath at
        return x, np.array([float(ref(mpmath.mpf(float(v)))) for v in x])


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_values_match_mpmath_to_a_few_ulp(backend, name):
    fn, _, _, bounds = FUNCTIONS[name]
    for dtype in _dtypes(backend):
        x, want = _reference(name, np.dtype(dtype.np).name)
        got = fn(ember.tensor(x, dtype=dtype)).numpy()
        err = ulp_error(got, want, dtype, flushes_subnormals=backend.flushes_subnormals)
        bound = bounds[dtype is ember.float64]
        worst = int(np.argmax(err))
        assert err.max() <= bound, (f"{name} ({dtype.name}): {err[worst]:.3g} ULP at "
                                    f"x = {x[worst]!r}: got {got[worst]!r}, want {want[worst]!r}")


#: name -> polygamma's order (None: lgamma)
NEGATIVE = {"lgamma": None, "digamma": 0, "trigamma": 1, "polygamma3": 3}


@functools.lru_cache(maxsize=None)
def _negative_reference(name, dtype_name):
    """Points below -1/2 (not at the poles), mpmath's values there, and the size of the
    reflection's terms (what cancels)."""
    x = np.linspace(-30.3, -0.55, 241)
    xs = x[np.abs(x - np.round(x)) > 1e-3].astype(dtype_name)
    n, points = NEGATIVE[name], [mpmath.mpf(v) for v in xs.tolist()]
    if n is None:
        want = [mpmath.log(abs(mpmath.gamma(v))) for v in points]
        size = [abs(mpmath.log(mpmath.pi / abs(mpmath.sin(mpmath.pi * v))))
                + abs(mpmath.loggamma(1 - v).real) for v in points]
    else:
        want = [mpmath.psi(n, v) for v in points]
        size = [abs(mpmath.psi(n, 1 - v)) + abs(w - (-1) ** n * mpmath.psi(n, 1 - v))
                for v, w in zip(points, want)]
    return xs, np.array([float(w) for w in want]), np.array([float(v) for v in size])


@pytest.mark.parametrize("name", sorted(NEGATIVE))
def test_negative_arguments_reflect_to_absolute_precision(backend, name):
    """Below -1/2 the reflection formulas subtract: next to a root only absolute precision
    can hold, so the error is judged against the size of the terms (the cot or log-sine
    term and the function at 1 - x), at 16 ULP of it."""
    for dtype in _dtypes(backend):
        xs, want, size = _negative_reference(name, np.dtype(dtype.np).name)
        t = ember.tensor(xs, dtype=dtype)
        n = NEGATIVE[name]
        got = (ember.lgamma(t) if n is None else ember.polygamma(n, t)).numpy()
        eps = np.finfo(dtype.np).eps
        err = np.abs(got.astype(np.float64) - want) / (size * eps)
        worst = int(np.argmax(err))
        assert err.max() <= 16, f"{name} ({dtype.name}) at {xs[worst]}: {got[worst]} vs {want[worst]}"


#: (name, ember function, torch function, inputs as (low, high) per argument)
GRADIENTS = [
    ("lgamma", ember.lgamma, torch.lgamma, [(0.1, 6.0)]),
    ("lgamma_negative", ember.lgamma, torch.lgamma, [(-3.9, -3.1)]),
    ("digamma", ember.digamma, torch.digamma, [(0.1, 6.0)]),
    ("polygamma2", lambda x: ember.polygamma(2, x), lambda x: torch.polygamma(2, x),
     [(0.3, 6.0)]),
    ("mvlgamma", lambda x: ember.mvlgamma(x, 4), lambda x: torch.mvlgamma(x, 4), [(2.0, 6.0)]),
    ("erfc", ember.erfc, torch.erfc, [(-3.0, 3.0)]),
    ("erfinv", ember.erfinv, torch.erfinv, [(-0.95, 0.95)]),
    ("erfcx", ember.special.erfcx, torch.special.erfcx, [(-2.0, 5.0)]),
    ("ndtr", ember.special.ndtr, torch.special.ndtr, [(-5.0, 5.0)]),
    ("log_ndtr", ember.special.log_ndtr, torch.special.log_ndtr, [(-30.0, 5.0)]),
    ("ndtri", ember.special.ndtri, torch.special.ndtri, [(0.01, 0.99)]),
    ("i0", ember.i0, torch.i0, [(-15.0, 15.0)]),
    ("i0e", ember.special.i0e, torch.special.i0e, [(-15.0, 15.0)]),
    ("i1", ember.special.i1, torch.special.i1, [(-15.0, 15.0)]),
    ("i1e", ember.special.i1e, torch.special.i1e, [(-15.0, 15.0)]),
    ("entr", ember.special.entr, torch.special.entr, [(0.05, 3.0)]),
    ("xlog1py", ember.special.xlog1py, torch.special.xlog1py, [(-2.0, 2.0), (-0.9, 3.0)]),
    ("zeta_q", lambda q: ember.special.zeta(3.0, q), lambda q: torch.special.zeta(3.0, q),
     [(0.2, 5.0)]),
    ("gammainc", lambda x: ember.special.gammainc(2.5, x),
     lambda x: torch.special.gammainc(torch.full_like(x, 2.5), x), [(0.2, 6.0)]),
]


def _inputs(ranges, seed):
    rng = np.random.default_rng(seed)
    return [rng.uniform(lo, hi, (3, 4)) for lo, hi in ranges]


@pytest.mark.parametrize("case", GRADIENTS, ids=[c[0] for c in GRADIENTS])
def test_gradients_and_second_derivatives_match_torch(backend, case):
    name, fn, torch_fn, ranges = case
    dtype = ember.float64 if ember.float64 in backend.dtypes else ember.float32
    arrays = _inputs(ranges, len(name))
    weights = np.random.default_rng(7).standard_normal((3, 4))
    xs = [ember.tensor(a, dtype=dtype, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, tout = fn(*xs), torch_fn(*ts)
    rtol = 1e-10 if dtype is ember.float64 else 2e-5
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=rtol, err_msg=name)
    w, tw = ember.tensor(weights, dtype=dtype), torch.tensor(weights)
    gs = _first((out * w).sum(), xs)
    tgs = torch.autograd.grad((tout * tw).sum(), ts, create_graph=True)
    for g, tg in zip(gs, tgs):
        np.testing.assert_allclose(g.numpy(), tg.detach().numpy(), rtol=rtol * 10,
                                   err_msg=f"{name}: first derivative")
    if name in ("xlog1py", "entr", "zeta_q"):
        return                   # PyTorch has no second derivative for these
    second = sum(g.sum() for g in gs)
    second.backward()
    tsecond = torch.autograd.grad(sum(tg.sum() for tg in tgs), ts)
    for x, tg in zip(xs, tsecond):
        np.testing.assert_allclose(x.grad.numpy(), tg.numpy(), rtol=rtol * 100,
                                   err_msg=f"{name}: second derivative")


def _first(loss, xs):
    """d loss / d xs, kept differentiable (create_graph)."""
    loss.backward(create_graph=True)
    gs = [x.grad for x in xs]
    for x in xs:
        x.grad = None
    return gs


#: the edges: zeros, tiny, poles, huge, infinities and NaN
EDGES = [0.0, -0.0, 1e-30, -1e-30, 1.0, -1.0, 2.0, -2.0, -2.5, 0.5, 1e30, -1e30,
         math.inf, -math.inf, math.nan]
#: where ember differs from PyTorch on purpose (the modules' docstrings say why): name ->
#: {edge: (ember's value, PyTorch's)}
DIFFERS = {
    "polygamma2": {math.inf: (0.0, math.nan), -math.inf: (math.nan, -math.inf)},
    "i1e": {-0.0: (-0.0, 0.0)},                         # odd: -0 stays -0
}
EDGE_FUNCTIONS = [
    ("lgamma", ember.lgamma, torch.lgamma), ("digamma", ember.digamma, torch.digamma),
    ("polygamma2", lambda x: ember.polygamma(2, x), lambda x: torch.polygamma(2, x)),
    ("erfc", ember.erfc, torch.erfc), ("erfinv", ember.erfinv, torch.erfinv),
    ("erfcx", ember.special.erfcx, torch.special.erfcx),
    ("ndtr", ember.special.ndtr, torch.special.ndtr),
    ("log_ndtr", ember.special.log_ndtr, torch.special.log_ndtr),
    ("ndtri", ember.special.ndtri, torch.special.ndtri),
    ("i0e", ember.special.i0e, torch.special.i0e), ("i1e", ember.special.i1e, torch.special.i1e),
    ("entr", ember.special.entr, torch.special.entr),
    ("k0", ember.special.modified_bessel_k0, torch.special.modified_bessel_k0),
    ("k1", ember.special.modified_bessel_k1, torch.special.modified_bessel_k1),
    ("k0e", ember.special.scaled_modified_bessel_k0, torch.special.scaled_modified_bessel_k0),
    ("k1e", ember.special.scaled_modified_bessel_k1, torch.special.scaled_modified_bessel_k1),
    ("spherical_j0", ember.special.spherical_bessel_j0, torch.special.spherical_bessel_j0),
]


@pytest.mark.parametrize("case", EDGE_FUNCTIONS, ids=[c[0] for c in EDGE_FUNCTIONS])
def test_edges_match_torch(backend, case):
    """The same infinities, NaNs and signed zeros as PyTorch at every edge, and the same
    finite values to PyTorch's own precision (mpmath judges the last digits above)."""
    name, fn, torch_fn = case
    for dtype, tdtype in ((ember.float32, torch.float32), (ember.float64, torch.float64)):
        if dtype not in backend.dtypes:
            continue
        x = np.array(EDGES, dtype=dtype.np)
        got = fn(ember.tensor(x, dtype=dtype)).numpy().astype(np.float64)
        want = torch_fn(torch.tensor(x, dtype=tdtype)).numpy().astype(np.float64)
        for k, (ours, theirs) in DIFFERS.get(name, {}).items():
            at = np.flatnonzero((x == k) & (np.signbit(x) == np.signbit(k)))
            np.testing.assert_array_equal(want[at], theirs)
            want[at] = ours
        special = ~np.isfinite(want) | (want == 0)
        np.testing.assert_array_equal(got[special], want[special], err_msg=name)
        signed = special & ~np.isnan(want)
        np.testing.assert_array_equal(np.signbit(got[signed]), np.signbit(want[signed]))
        np.testing.assert_allclose(got[~special], want[~special], err_msg=name,
                                   rtol=1e-12 if dtype is ember.float64 else 3e-6)


def test_16_bit_floats_compute_in_float32_and_round_once(backend):
    x = np.array([0.1, 0.5, 1.5, 2.5, 7.0, -2.5], dtype=np.float32)
    for dtype in (ember.float16, ember.bfloat16):
        if dtype not in backend.dtypes:
            continue
        t = ember.tensor(x, dtype=dtype)
        for fn in (ember.lgamma, ember.digamma, ember.i0, ember.erfc,
                   lambda x: ember.special.gammaincc(x.abs(), 2.0)):
            got = fn(t)
            assert got.dtype is dtype
            want = fn(t.to(ember.float32)).to(dtype)
            np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_compiled_functions_give_the_eager_values(backend):
    x = ember.tensor(np.linspace(0.2, 5.0, 12).reshape(3, 4), dtype=ember.float32)

    def f(x):
        return (ember.lgamma(x) + ember.polygamma(1, x) * ember.special.i1e(x)
                + ember.erfinv(x / 6.0) + ember.special.log_ndtr(-x)
                + ember.special.gammainc(x, x * 1.1) + ember.special.gammaincc(x * 10.0, x * 9.0))

    compiled = ember.compile(f)
    for _ in range(2):
        np.testing.assert_allclose(compiled(x).numpy(), f(x).numpy(), rtol=1e-6)


def test_a_gamma_likelihood_trains_to_its_maximum(backend):
    """Fitting a gamma distribution's shape by gradient ascent on its log-likelihood
    (lgamma forward, digamma in its gradient) reaches the maximum-likelihood shape: the k
    solving log(k) - digamma(k) = log(mean) - mean(log), by Newton's steps in mpmath."""
    rng = np.random.default_rng(0)
    data = rng.gamma(3.0, 2.0, 2000)
    s = math.log(data.mean()) - np.log(data).mean()
    k = (3 - s + math.sqrt((s - 3) ** 2 + 24 * s)) / (12 * s)     # Minka's start
    for _ in range(6):                                           # and Newton's steps
        k -= (math.log(k) - float(mpmath.digamma(k)) - s) / (1 / k - float(mpmath.psi(1, k)))
    x = ember.tensor(data, dtype=ember.float32)
    log_k = ember.tensor(0.0, requires_grad=True)
    for _ in range(40):
        shape = log_k.exp()
        scale = x.mean() / shape
        ll = ((shape - 1) * x.log() - x / scale - ember.lgamma(shape) - shape * scale.log()).mean()
        log_k.grad = None
        (-ll).backward()
        with ember.no_grad():
            log_k -= 1.5 * log_k.grad            # about 1 / the curvature
    assert abs(float(log_k.exp()) / k - 1) < 1e-3


def test_special_names_are_torch_specials_and_refusals_say_what_to_do():
    assert sorted(ember.special.__all__) == sorted(torch.special.__all__)   # all of it
    with pytest.raises(ember.DTypeError, match="non-negative Python int"):
        ember.polygamma(-1, ember.tensor([1.0]))
    with pytest.raises(ember.DTypeError, match="non-negative Python int"):
        ember.polygamma(ember.tensor(1), ember.tensor([1.0]))
    with pytest.raises(ember.DTypeError, match="positive Python int"):
        ember.mvlgamma(ember.tensor([3.0]), 0)
    with pytest.raises(ember.DTypeError, match="complex"):
        ember.lgamma(ember.tensor([1 + 1j]))
    assert np.isnan(ember.mvlgamma(ember.tensor([1.0]), 3).numpy()).all()
    a = ember.tensor([2.0], requires_grad=True)
    with pytest.raises(ember.AutogradError, match="derivative in a"):
        ember.special.gammainc(a, ember.tensor([1.5])).sum().backward()
    with pytest.raises(ember.DTypeError, match="complex"):
        ember.special.gammaincc(ember.tensor([1 + 1j]), ember.tensor([1.0]))
    np.testing.assert_allclose(ember.special.softmax(ember.tensor([1, 2, 3]), 0,
                                                     dtype=ember.float32).numpy(),
                               torch.special.softmax(torch.tensor([1., 2, 3]), 0).numpy(),
                               rtol=1e-6)
    np.testing.assert_allclose(ember.special.logsumexp(ember.tensor([[1., 2], [3, 4]]), 1).numpy(),
                               torch.special.logsumexp(torch.tensor([[1., 2], [3, 4]]), 1).numpy(),
                               rtol=1e-6)


#: shapes a and points x / a (and a few x alone) that cross every form's borders:
#: Temme's band 1/2 to 5/4 from a = 20, the small-x series below 1.1, x = a + 1 between
#: the series and the continued fraction, Stirling's factor from a = 10
INCOMPLETE_A = [1e-3, 0.1, 0.5, 1.0, 1.37, 3.5, 9.9, 10.3, 19.9, 20.0, 27.7, 150.9, 1e4 + 0.3]
INCOMPLETE_RATIOS = [1e-3, 0.1, 0.49, 0.51, 0.8, 0.99, 1.0, 1.01, 1.24, 1.26, 1.5, 3.0, 10.0]
INCOMPLETE_X = [1e-25, 1e-3, 0.5, 1.09, 1.11, 2.0, 5.0, 30.0, 300.0]


def _incomplete_points():
    return [(a, x) for a in INCOMPLETE_A
            for x in sorted({a * r for r in INCOMPLETE_RATIOS} | set(INCOMPLETE_X)
                            | {a + 0.99, a + 1.01})]


def _mp_incomplete(a, x):
    """mpmath's P and Q at 40 digits (its hypergeometric series with more digits where
    its own choice does not converge), and the density x^(a-1) e^-x / Gamma(a)."""
    with mpmath.workdps(40):
        a, x = mpmath.mpf(a), mpmath.mpf(x)
        density = mpmath.exp((a - 1) * mpmath.log(x) - x - mpmath.loggamma(a))
        try:
            if x < a:
                p = mpmath.gammainc(a, 0, x, regularized=True)
                return p, 1 - p, density
            q = mpmath.gammainc(a, x, mpmath.inf, regularized=True)
            return 1 - q, q, density
        except mpmath.libmp.libhyper.NoConvergence:
            extra = int((x - a - a * mpmath.log(x / a)) / 2.3)
        with mpmath.workdps(40 + extra):
            p = (mpmath.exp(a * mpmath.log(x) - x - mpmath.loggamma(a + 1))
                 * mpmath.hyp1f1(1, a + 1, x, maxterms=10 ** 7))
            return p, 1 - p, density


@functools.lru_cache(maxsize=None)
def _incomplete_reference(dtype_name):
    """The points in the dtype, mpmath's P and Q there, and the condition number of each
    (x P'(x) / P, x P'(x) / Q): what one rounding of x alone would move them by."""
    rows = []
    for a, x in _incomplete_points():
        a, x = np.array([a, x], dtype=dtype_name).tolist()
        p, q, density = _mp_incomplete(a, x)
        if min(p, q) > np.finfo(dtype_name).tiny:
            rows.append((a, x, float(p), float(q), float(x * density / p),
                         float(x * density / q)))
    return np.array(rows).T


def test_incomplete_gamma_matches_mpmath_to_its_condition_number(backend):
    """gammainc and gammaincc (P and Q) are each within a few ULP of mpmath times 1 +
    their condition number, the smaller of the two included (Q = 1e-200 keeps its
    digits): near x = a for large a the condition is about sqrt(a), in the tails x - a."""
    for dtype in _dtypes(backend):
        a, x, p, q, kp, kq = _incomplete_reference(np.dtype(dtype.np).name)
        ta, tx = ember.tensor(a, dtype=dtype), ember.tensor(x, dtype=dtype)
        eps = np.finfo(dtype.np).eps
        for name, fn, want, k in (("gammainc", ember.special.gammainc, p, kp),
                                  ("gammaincc", ember.special.gammaincc, q, kq)):
            got = fn(ta, tx).numpy().astype(np.float64)
            err = np.abs(got - want) / (want * eps * (1 + k))
            worst = int(np.argmax(err))
            assert err.max() <= 16, (f"{name} ({dtype.name}) at a = {a[worst]!r}, x = "
                                     f"{x[worst]!r}: got {got[worst]!r}, want {want[worst]!r}")


#: a and x at the edges: zeros, tiny, huge, infinities, NaN and negatives
INCOMPLETE_EDGES = [0.0, -0.0, 1e-30, 0.5, 1.0, 2.5, 30.0, 1e30, math.inf, -1.0, math.nan]


def test_incomplete_gamma_edges_match_torch(backend):
    """NaN, 0 and 1 where PyTorch gives them (a or x zero, infinite, negative or NaN), but
    NaN wherever the value depends on a NaN (PyTorch's P(NaN, 0) is 0, P(NaN, inf) 1 and
    P(inf, NaN) 0, though P(0, 0) and P(inf, inf) are NaN). Between, mpmath's values:
    PyTorch's Q(1e-30, 0.5) is 2x too large (it is a E1(x)), and its float32 P(30, 0.5)
    is 0 where float32's subnormals hold 2.2e-42."""
    a, x = (v.ravel() for v in np.meshgrid(INCOMPLETE_EDGES, INCOMPLETE_EDGES))
    edge = ~((a > 0) & (x > 0) & np.isfinite(a) & np.isfinite(x))
    differs = (np.isnan(a) & ((x == 0) | (x == math.inf))) | ((a == math.inf) & np.isnan(x))
    both_huge = (a == 1e30) & (x == 1e30)
    inner = ~edge & ~both_huge
    reference = [_mp_incomplete(u, v) for u, v in zip(a[inner], x[inner])]
    for dtype, tdtype in ((ember.float32, torch.float32), (ember.float64, torch.float64)):
        if dtype not in backend.dtypes:
            continue
        ta, tx = ember.tensor(a, dtype=dtype), ember.tensor(x, dtype=dtype)
        eps = np.finfo(dtype.np).eps
        for k, fn, torch_fn in ((0, ember.special.gammainc, torch.special.gammainc),
                                (1, ember.special.gammaincc, torch.special.gammaincc)):
            got = fn(ta, tx).numpy().astype(np.float64)
            want = torch_fn(torch.tensor(a, dtype=tdtype),
                            torch.tensor(x, dtype=tdtype)).numpy().astype(np.float64)
            assert np.isfinite(want[differs]).all() and np.isnan(got[differs]).all()
            want[differs] = math.nan
            np.testing.assert_array_equal(got[edge], want[edge], err_msg=fn.__name__)
            assert abs(got[both_huge][0] - 0.5) <= 2 * eps
            exact = np.array([float(r[k]) for r in reference])
            cond = np.array([float(v * r[2] / r[k]) for v, r in zip(x[inner], reference)])
            floor = np.finfo(dtype.np).smallest_subnormal
            err = np.abs(got[inner] - exact) / np.maximum(exact * eps * (1 + cond), floor)
            assert err.max() <= 16, (fn.__name__, dtype.name, a[inner][err.argmax()],
                                     x[inner][err.argmax()], got[inner][err.argmax()])


def test_incomplete_gamma_gradient_is_the_density(backend):
    """d/dx P(a, x) = x^(a-1) e^-x / Gamma(a) = -d/dx Q(a, x), within a few ULP of mpmath
    times 1 + the density's condition number |a - 1 - x| + |a (log x - digamma(a))|
    (PyTorch is no reference here: its Q(30, x) is 1.4e-9 off near x = 30), and x = 0's
    limits: inf for a < 1, 1 at a = 1, 0 above."""
    points = [(a, x) for a in (0.3, 1.0, 2.5, 9.9, 30.0, 400.0)
              for x in (0.05, 0.7, 0.9 * a, a, 1.3 * a, 3.0 * a + 2.0)]
    for dtype in _dtypes(backend):
        a, x = np.array(points, dtype=dtype.np).T
        want, cond = [], []
        with mpmath.workdps(40):
            for u, v in zip(a.tolist(), x.tolist()):
                u, v = mpmath.mpf(u), mpmath.mpf(v)
                want.append(float(mpmath.exp((u - 1) * mpmath.log(v) - v - mpmath.loggamma(u))))
                cond.append(float(abs(u - 1 - v) + abs(u * (mpmath.log(v) - mpmath.digamma(u)))))
        eps = np.finfo(dtype.np).eps
        for fn, sign in ((ember.special.gammainc, 1.0), (ember.special.gammaincc, -1.0)):
            tx = ember.tensor(x, dtype=dtype, requires_grad=True)
            fn(ember.tensor(a, dtype=dtype), tx).sum().backward()
            held = np.array(want) > np.finfo(dtype.np).tiny
            got = sign * tx.grad.numpy()[held]
            err = np.abs(got - np.array(want)[held]) / (np.array(want)[held] * eps
                                                        * (1 + np.array(cond)[held]))
            assert err.max() <= 16, (fn.__name__, dtype.name, a[held][err.argmax()],
                                     x[held][err.argmax()])
        tx = ember.tensor([0.0, 0.0, 0.0], dtype=dtype, requires_grad=True)
        ember.special.gammainc(ember.tensor([0.5, 1.0, 2.0], dtype=dtype), tx).sum().backward()
        np.testing.assert_array_equal(tx.grad.numpy(), [math.inf, 1.0, 0.0])


@functools.lru_cache(maxsize=None)
def _slope_in_a_reference(dtype_name):
    """(a, x, dP/da, its condition |a d2P/da2 / dP/da|) by mpmath at points in the dtype:
    a from 1e-3 to 1e4, x / a from 1e-3 to 5, across every form's borders (the smaller
    of P and Q differentiated, so that a derivative near 0 keeps its digits)."""
    points = [(a, a * r) for a in (1e-3, 0.01, 0.3, 1.0, 2.5, 7.0, 19.0, 25.0, 100.0, 1e3, 1e4)
              for r in (1e-3, 0.1, 0.5, 0.8, 0.999, 1.0, 1.001, 1.2, 2.0, 5.0)]
    a, x = np.array(points, dtype=dtype_name).T
    want, cond = [], []
    with mpmath.workdps(60):
        for u, v in zip(a.tolist(), x.tolist()):
            u, v = mpmath.mpf(u), mpmath.mpf(v)
            if v > u:
                fn = lambda t, v=v: -mpmath.gammainc(t, v, mpmath.inf, regularized=True)  # noqa: E731
            else:
                fn = lambda t, v=v: mpmath.gammainc(t, 0, v, regularized=True)  # noqa: E731
            d1, d2 = mpmath.diff(fn, u), mpmath.diff(fn, u, 2)
            want.append(float(d1))
            cond.append(float(abs(u * d2 / d1)) if d1 else 0.0)
    return a, x, np.array(want), np.array(cond)


def test_incomplete_gamma_derivative_in_a_matches_mpmath(backend):
    """dP/da, which the gamma distributions' rsample needs (implicit reparameterization):
    within 16 ULP of mpmath times 1 + its condition number, 0 where mpmath's is below the
    dtype's smallest normal number."""
    from ember.ops.incomplete_gamma import lower_gamma_slope
    for dtype in _dtypes(backend):
        a, x, want, cond = _slope_in_a_reference(np.dtype(dtype.np).name)
        got = lower_gamma_slope(ember.tensor(a, dtype=dtype),
                                ember.tensor(x, dtype=dtype)).numpy().astype(np.float64)
        tiny = np.abs(want) < np.finfo(dtype.np).tiny
        assert np.all(np.abs(got[tiny]) < 1e-30), (dtype.name, got[tiny])
        err = np.abs(got - want)[~tiny] / (np.abs(want[~tiny]) * np.finfo(dtype.np).eps
                                           * (1 + cond[~tiny]))
        worst = int(np.argmax(err))
        assert err.max() <= 16, (f"dP/da ({dtype.name}) at a = {a[~tiny][worst]!r}, x = "
                                 f"{x[~tiny][worst]!r}: got {got[~tiny][worst]!r}, want "
                                 f"{want[~tiny][worst]!r}")


#: name -> (ember function, mpmath derivative, points): PyTorch does not differentiate these
DERIVATIVES = {
    "k0": (ember.special.modified_bessel_k0, lambda v: -mpmath.besselk(1, v)),
    "k1": (ember.special.modified_bessel_k1,
           lambda v: -mpmath.besselk(0, v) - mpmath.besselk(1, v) / v),
    "k0e": (ember.special.scaled_modified_bessel_k0,
            lambda v: (mpmath.besselk(0, v) - mpmath.besselk(1, v)) * mpmath.exp(v)),
    "k1e": (ember.special.scaled_modified_bessel_k1,
            lambda v: (mpmath.besselk(1, v) * (1 - 1 / v) - mpmath.besselk(0, v)) * mpmath.exp(v)),
    "spherical_j0": (ember.special.spherical_bessel_j0,
                     lambda v: mpmath.cos(v) / v - mpmath.sin(v) / v ** 2),
    "j0": (ember.special.bessel_j0, lambda v: -mpmath.besselj(1, v)),
    "j1": (ember.special.bessel_j1, lambda v: mpmath.besselj(0, v) - mpmath.besselj(1, v) / v),
    "y0": (ember.special.bessel_y0, lambda v: -mpmath.bessely(1, v)),
    "y1": (ember.special.bessel_y1, lambda v: mpmath.bessely(0, v) - mpmath.bessely(1, v) / v),
}


@pytest.mark.parametrize("name", sorted(DERIVATIVES))
def test_bessel_k_and_spherical_j0_gradients_are_their_derivatives(backend, name):
    """K_0' = -K_1, K_1' = -K_0 - K_1 / x, the scaled forms', j_0' = (cos x - j_0) / x
    (its series near 0, where the difference cancels) and J's and Y's, within 16 ULP of
    mpmath (J's and Y's times their envelope sqrt(2 / pi x), as their values)."""
    fn, derivative = DERIVATIVES[name]
    points = [1e-3, 0.3, 0.9, 1.0, 2.5, 7.0, 30.0]
    if name == "spherical_j0":
        points += [-0.2, 1e-6, 0.49, 100.0]
    for dtype in _dtypes(backend):
        x = ember.tensor(np.array(points, dtype=dtype.np), dtype=dtype, requires_grad=True)
        fn(x).sum().backward()
        with mpmath.workdps(40):
            want = np.array([float(derivative(mpmath.mpf(float(v)))) for v in x.numpy()])
        if name[0] in "jy":                 # oscillating: against the envelope, as above
            scale = np.maximum(np.abs(want), np.sqrt(2 / (np.pi * np.maximum(points, 1.0))))
            err = np.abs(x.grad.numpy() - want) / (scale * np.finfo(dtype.np).eps)
        else:
            err = ulp_error(x.grad.numpy(), want, dtype,
                            flushes_subnormals=backend.flushes_subnormals)
        assert err.max() <= 16, (name, dtype.name, points[int(np.argmax(err))], err.max())


POLYNOMIALS = [n for n in ember.special.__all__ if "polynomial" in n]


@pytest.mark.parametrize("name", POLYNOMIALS)
def test_orthogonal_polynomials_match_torch_and_mpmath(backend, name):
    """Each polynomial against PyTorch for degrees -1 to 30 (0 below 0), a Python int or
    a tensor of degrees; T, U, P, H and L against mpmath within 8 n ULP of the largest
    value on the grid (both libraries' recurrences lose about n ULP); and d/dx T_n = n
    U_(n-1) through the recurrence."""
    fn, torch_fn = getattr(ember.special, name), getattr(torch.special, name)
    x = np.r_[np.linspace(-1.2, 1.2, 49), -1.0, 1.0, 0.0, 0.5, 3.0]
    for dtype, tdtype in ((ember.float32, torch.float32), (ember.float64, torch.float64)):
        if dtype not in backend.dtypes:
            continue
        rtol = 1e-9 if dtype is ember.float64 else 2e-4
        tx = ember.tensor(x, dtype=dtype)
        for n in (-1, 0, 1, 2, 5, 7, 12, 30):
            want = torch_fn(torch.tensor(x, dtype=tdtype), n).numpy()
            np.testing.assert_allclose(fn(tx, n).numpy(), want, rtol=rtol,
                                       atol=rtol * np.abs(want).max(), err_msg=f"{name} n={n}")
        degrees = np.arange(x.size) % 9 - 1.0
        want = torch_fn(torch.tensor(x, dtype=tdtype), torch.tensor(degrees, dtype=tdtype))
        got = fn(tx, ember.tensor(degrees, dtype=dtype))
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=rtol,
                                   atol=rtol * np.abs(want.numpy()).max(), err_msg=name)
    reference = {"chebyshev_polynomial_t": mpmath.chebyt,
                 "chebyshev_polynomial_u": mpmath.chebyu,
                 "legendre_polynomial_p": mpmath.legendre, "hermite_polynomial_h": mpmath.hermite,
                 "laguerre_polynomial_l": lambda n, v: mpmath.laguerre(n, 0, v)}.get(name)
    if reference is not None:
        dtype = _dtypes(backend)[-1]
        eps = np.finfo(dtype.np).eps
        points = np.linspace(-0.999, 0.999, 101).astype(dtype.np)
        for n in (10, 40):
            got = fn(ember.tensor(points, dtype=dtype), n).numpy().astype(np.float64)
            want = np.array([float(reference(n, mpmath.mpf(float(v)))) for v in points])
            assert np.abs(got - want).max() <= 8 * n * eps * np.abs(want).max(), (name, n)
    if name == "chebyshev_polynomial_t":
        t = ember.tensor(x, dtype=ember.float32, requires_grad=True)
        fn(t, 6).sum().backward()
        want = 6 * ember.special.chebyshev_polynomial_u(ember.tensor(x, dtype=ember.float32),
                                                        5).numpy()
        np.testing.assert_allclose(t.grad.numpy(), want, rtol=1e-5, atol=1e-5)


def test_polynomial_degrees_are_refused_by_name():
    x = ember.tensor([0.5])
    with pytest.raises(ember.DTypeError, match="bool"):
        ember.special.legendre_polynomial_p(x, True)
    with pytest.raises(ember.DTypeError, match="complex"):
        ember.special.hermite_polynomial_h(x, ember.tensor([1 + 1j]))
    with pytest.raises(ember.DTypeError, match="Python int"):
        ember.compile(lambda x, n: ember.special.chebyshev_polynomial_t(x, n))(
            x, ember.tensor([3]))
    compiled = ember.compile(lambda x: ember.special.chebyshev_polynomial_t(x, 3))
    np.testing.assert_allclose(compiled(x).numpy(), [4 * 0.125 - 1.5])


#: the Bessel functions J and Y, and mpmath's
BESSEL_JY = {"bessel_j0": lambda v: mpmath.besselj(0, v), "bessel_j1": lambda v: mpmath.besselj(1, v),
             "bessel_y0": lambda v: mpmath.bessely(0, v), "bessel_y1": lambda v: mpmath.bessely(1, v)}


@pytest.mark.parametrize("name", sorted(BESSEL_JY))
def test_bessel_j_and_y_match_mpmath_to_their_envelope(backend, name):
    """J_0, J_1, Y_0 and Y_1 from 1e-8 to 1e8, both sides of the switch to Hankel's
    expansions, within 16 eps of mpmath times max(|value|, sqrt(2 / pi x)): relative
    where the value is its envelope's size, absolute next to the zeros (where every
    libm past the first zeros is too; PyTorch's J_0(2) is 36 ULP off); and their edges."""
    fn, ref = getattr(ember.special, name), BESSEL_JY[name]
    grid = np.r_[np.linspace(1e-3, 40, 321), 1e-8, 0.5, 9.99, 10.01, 17.99, 18.01, 100.0, 1e4,
                 1e8]
    for dtype in _dtypes(backend):
        x = grid.astype(dtype.np)
        got = fn(ember.tensor(x, dtype=dtype)).numpy().astype(np.float64)
        with mpmath.workdps(30):
            want = np.array([float(ref(mpmath.mpf(float(v)))) for v in x])
        envelope = np.sqrt(2 / (np.pi * np.maximum(x.astype(np.float64), 1.0)))
        err = np.abs(got - want) / (np.maximum(np.abs(want), envelope) * np.finfo(dtype.np).eps)
        assert err.max() <= 16, (name, dtype.name, x[err.argmax()], err.max())
        edges = np.array([0.0, -0.0, math.inf, -math.inf, math.nan, -1.0], dtype=dtype.np)
        got = fn(ember.tensor(edges, dtype=dtype)).numpy()
        want = {"bessel_j0": [1.0, 1.0, 0.0, 0.0, math.nan, 0.7651976865579666],
                "bessel_j1": [0.0, -0.0, 0.0, 0.0, math.nan, -0.44005058574493355],
                "bessel_y0": [-math.inf, -math.inf, 0.0, math.nan, math.nan, math.nan],
                "bessel_y1": [-math.inf, -math.inf, 0.0, math.nan, math.nan, math.nan]}[name]
        np.testing.assert_allclose(got, np.array(want, dtype=dtype.np), rtol=4e-6)
        assert np.array_equal(np.signbit(got[:2]), np.signbit(np.array(want[:2])))


#: x and q at zeta's edges: its pole, x below 1, q at poles, between them and infinite
ZETA_EDGES = [0.0, -0.0, 0.5, 1.0, -1.0, 2.0, -2.0, 2.5, -2.5, 30.0, math.inf, -math.inf,
              math.nan]


def test_zeta_edges_follow_cephes_order_and_take_limits(backend):
    """zeta(x, q) as PyTorch's (Cephes'): inf at x = 1, else NaN for x < 1, else inf at
    q = 0 or a negative integer; 1 at x = inf and q = 1 and inf below it. Where PyTorch
    gives NaN for a limit that exists, ember gives the limit (0 at q = inf, or at x = inf
    and q > 1); a negative q that is not an integer is NaN (PyTorch sums the series)."""
    x, q = (v.ravel() for v in np.meshgrid(ZETA_EDGES, ZETA_EDGES))
    limits = ((x > 1) & (q == math.inf)) | ((x == math.inf) & (q > 1))
    between_poles = (q < 0) & (q != np.floor(q)) & (x > 1)
    for dtype, tdtype in ((ember.float32, torch.float32), (ember.float64, torch.float64)):
        if dtype not in backend.dtypes:
            continue
        got = ember.special.zeta(ember.tensor(x, dtype=dtype), ember.tensor(q, dtype=dtype))
        got = got.numpy().astype(np.float64)
        want = torch.special.zeta(torch.tensor(x, dtype=tdtype),
                                  torch.tensor(q, dtype=tdtype)).numpy().astype(np.float64)
        assert np.isnan(want[limits]).all()
        want[limits] = 0.0
        want[between_poles] = math.nan
        info = np.finfo(dtype.np)    # subnormal results have absolute precision only
        floor = info.smallest_normal if backend.flushes_subnormals else info.smallest_subnormal
        np.testing.assert_allclose(got, want, rtol=4 * info.eps, atol=4 * floor,
                                   err_msg=dtype.name)


def test_airy_ai_and_its_derivative_match_mpmath(backend):
    """Ai and Ai' from -1e4 to past Ai's underflow, both sides of the switch from Taylor's
    series to the asymptotic expansions: within 4 eps of mpmath times max(|value|, the
    envelope |x|^(-+1/4) / sqrt(pi) where x < 0) inside the switch, and within 2 eps
    (1 + zeta) past it, zeta = 2/3 |x|^(3/2) being Ai's condition number (the phase of the
    oscillation, the exponent of the decay). PyTorch's float64 Ai(-2.1) is 2.7e10 eps
    off. Edges: Ai(+-inf) = 0 (PyTorch's NaN), Ai(-0) = Ai(0)."""
    from ember.ops.airy import TERMS, ai_prime
    grid = np.r_[np.linspace(-30, 30, 1201), -np.logspace(-8, 4, 61), np.logspace(-8, 2.05, 61),
                 -9.5, 9.5, -6.0, 6.0, -6.01, 6.01, -9.51, 9.51]
    for dtype in _dtypes(backend):
        x = grid.astype(dtype.np)
        wide = x.astype(np.float64)
        zeta = 2 / 3 * np.abs(wide) ** 1.5
        inside = np.abs(wide) <= TERMS[dtype][0]
        info = np.finfo(dtype.np)
        for fn, order, power in ((ember.special.airy_ai, 0, -0.25), (ai_prime, 1, 0.25)):
            got = fn(ember.tensor(x, dtype=dtype)).numpy().astype(np.float64)
            with mpmath.workdps(30):
                want = np.array([float(mpmath.airyai(mpmath.mpf(v), order)) for v in wide])
            envelope = np.where(wide < 0, np.maximum(np.abs(wide), info.tiny) ** power
                                / np.sqrt(np.pi), 0.0)
            err = np.abs(got - want) / (np.maximum(np.maximum(np.abs(want), envelope), info.tiny)
                                        * info.eps)
            assert err[inside].max() <= 4, (order, dtype.name, x[inside][err[inside].argmax()])
            err = err / (1 + zeta)
            assert err.max() <= 2, (order, dtype.name, x[err.argmax()], err.max())
        edges = np.array([0.0, -0.0, math.inf, -math.inf, math.nan], dtype=dtype.np)
        got = ember.special.airy_ai(ember.tensor(edges, dtype=dtype)).numpy()
        want = np.array([0.3550280538878172, 0.3550280538878172, 0.0, 0.0, math.nan])
        np.testing.assert_allclose(got, want.astype(dtype.np), rtol=info.eps)


def test_airy_ai_differentiates_through_its_derivative_and_x_ai(backend):
    """d/dx Ai = Ai' and d^2/dx^2 Ai = x Ai (Airy's equation), against mpmath, through
    ember.grad twice; PyTorch's airy_ai has no gradient."""
    dtype = _dtypes(backend)[0]
    x = np.array([-12.0, -3.3, -0.7, 0.0, 0.4, 2.5, 7.0, 11.0])
    first = ember.grad(lambda t: ember.special.airy_ai(t).sum())
    second = ember.grad(lambda t: first(t).sum())
    t = ember.tensor(x, dtype=dtype)
    with mpmath.workdps(30):
        slope = np.array([float(mpmath.airyai(v, 1)) for v in x])
        curvature = np.array([float(v * mpmath.airyai(v)) for v in x])
    rtol = 8 * np.finfo(dtype.np).eps * (1 + 2 / 3 * np.abs(x).max() ** 1.5)
    np.testing.assert_allclose(first(t).numpy(), slope, rtol=rtol, atol=rtol * 0.1)
    np.testing.assert_allclose(second(t).numpy(), curvature, rtol=rtol, atol=rtol * 0.1)
