"""The op table: each entry declared once, checked on every backend.

From each OpCase the suite derives forward checks against float64 NumPy over
every shape set, dtype and memory layout, a finite-difference gradcheck, and
(where ``double``) a second-order check.
"""

import math
from dataclasses import dataclass, field

import numpy as np

import ember
from ember import dtypes as dt
from ember.ops import special
from ember.ops.activation import gelu_tanh
from ember.ops.reduce import standardize

try:
    from scipy import special as _sp        # the special functions' references
except ImportError:
    _sp = None

FLOAT = dt.FLOATS
#: the floats of at most float32's precision
SINGLE = tuple(d for d in FLOAT if d is not dt.float64)
#: every integer dtype: the references compute in int64 and wrap to the dtype, as its
#: arithmetic does (unsigned inputs are drawn non-negative)
NUMERIC = dt.INTS + FLOAT
ALL = (dt.bool_,) + NUMERIC

UNARY = [((),), ((1,),), ((7,),), ((3, 4),), ((2, 1, 3),), ((0, 3),)]
BINARY = [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 3), (4, 1)), ((), (2, 3)),
          ((1,), (5,)), ((3, 1), (1, 3)), ((0, 3), (1, 3))]
REDUCE = [((3, 4),), ((2, 3, 4),), ((5,),), ((1, 4),)]
MATMUL = [((3, 4), (4, 5)), ((2, 3, 4), (4, 2)), ((2, 1, 3, 4), (3, 4, 2)), ((4,), (4, 3)),
          ((3, 4), (4,)), ((4,), (4,)), ((1, 1), (1, 1)), ((0, 4), (4, 3)), ((3, 0), (0, 2)),
          ((17, 33), (33, 9)), ((2, 3, 0), (0, 2))]


#: the edge inputs every unary float op is run on, as functions of the dtype's limits:
#: signed zeros, the smallest subnormal, the smallest normal, the largest finite values,
#: infinities and NaN (each op's expectation is its float64 reference, rounded)
EDGES = ("0", "-0", "subnormal", "-subnormal", "tiny", "max", "-max", "inf", "-inf", "nan",
         1.0, -1.0, 1e-30, -1e-30)

#: the edge bound, in ULPs of the result's dtype, unless a case says otherwise
ULPS = {dt.float16: 2, dt.bfloat16: 2, dt.float32: 4, dt.float64: 8}


def edge_values(case, dtype):
    """The case's edge inputs in ``dtype`` (values it cannot hold round, as a cast does)."""
    info = dt.finfo(dtype)
    named = {"0": 0.0, "-0": -0.0, "subnormal": float(info.smallest_subnormal),
             "-subnormal": -float(info.smallest_subnormal), "tiny": float(info.tiny),
             "max": float(info.max), "-max": -float(info.max), "inf": np.inf, "-inf": -np.inf,
             "nan": np.nan}
    values = [named.get(v, v) for v in EDGES + tuple(case.edges)]
    with np.errstate(over="ignore"):
        return np.array(values, dtype=np.float64).astype(dtype.np)


@dataclass
class OpCase:
    name: str
    fn: object                       # ember function of tensors
    ref: object                      # NumPy function of float64 (or integer) arrays
    shapes: list = field(default_factory=lambda: UNARY)
    dtypes: tuple = FLOAT
    domain: tuple = (-2.0, 2.0)
    sample: str = "uniform"          # uniform | distinct | away_from_zero
    grad: bool = True
    double: bool = False
    out: str = "same"                # same | bool | index
    scale: float = 1.0               # tolerance multiplier (long sums, fp16 ranges)
    needs: tuple = ()                # dtypes the case uses whatever its input dtype
    cancels: bool = False            # sums/differences: error is relative to the inputs' size
    #: products: whether a partial product overflows depends on the order the backend
    #: multiplies in (0 * max * max is 0 one way, 0 * inf = NaN another), so the fuzzer
    #: keeps the dtype's largest values out, as it does for sums that cancel
    order_overflows: bool = False
    #: edge inputs (unary float ops), besides the ones every float op gets (EDGES): each
    #: is judged in ULPs against ``ref`` in float64, NaN and infinities exactly
    edges: tuple = ()
    ulps: dict = field(default_factory=lambda: dict(ULPS))
    signed_zeros: bool = False       # f(-0) is -0 (odd functions), checked at the edges
    #: the output's shape depends on the input's values (a mask): ember.compile refuses it
    data_dependent_shape: bool = False
    #: the result's error grows with the input's condition number (inverses, solves,
    #: decompositions): the fuzzer's free values would judge the matrix, not the op
    conditioned: bool = False

    @property
    def main_dtype(self):
        """The dtype a check that samples dtypes always runs the op in: float32, or the
        op's first where it has no float32."""
        return dt.float32 if dt.float32 in self.dtypes else self.dtypes[0]

    def arrays(self, shapes, seed):
        """Float64 inputs for ``shapes``, drawn reproducibly from this case's domain."""
        rng = np.random.default_rng(seed)
        lo, hi = self.domain
        out = []
        for shape in shapes:
            n = int(np.prod(shape, dtype=np.int64))
            if self.sample == "distinct":  # spaced values: no ties, FD-safe for max/min
                vals = (rng.permutation(n) - n / 2) * (hi - lo) / max(n, 1) * 0.9
                vals = vals + rng.uniform(-0.1, 0.1) * (hi - lo) / max(n, 1)
            elif self.sample == "away_from_zero":
                vals = rng.uniform(0.2, hi, n) * rng.choice([-1.0, 1.0], n)
            else:
                vals = rng.uniform(lo, hi, n)
            out.append(np.asarray(vals, dtype=np.float64).reshape(shape))
        return out


#: square matrices (a batch, 1 x 1, an empty batch, 0 x 0), and rectangular ones
SQUARE = [((4, 4),), ((2, 3, 3),), ((1, 1),), ((0, 2, 2),), ((0, 0),)]
RECTANGULAR = [((3, 5),), ((2, 4, 3),), ((1, 1),), ((0, 2, 3),)]


#: signals for the transforms (a line, a batch, one point, an empty batch); spectra of
#: Hermitian signals need two terms or more; the transforms compute in float32 or float64
SIGNALS = [((8,),), ((3, 5),), ((2, 1, 6),), ((1,),), ((0, 4),)]
HALF_SPECTRA = [((5,),), ((3, 4),), ((2, 1, 2),), ((0, 3),)]
SPECTRAL = (dt.float32, dt.float64)


def _eye_like(a):
    n = a.shape[-1]
    return np.eye(n) if isinstance(a, np.ndarray) else ember.eye(n, dtype=a.dtype,
                                                                  backend=a._backend)


def _well(a):
    """a + 4n I: a matrix drawn from (-2, 2) is then diagonally dominant by 2n, so its
    condition number (in the inf-norm) is below 3."""
    return a + _eye_like(a) * (4.0 * a.shape[-1])


def _spd(a):
    """a a^T + n I: symmetric positive-definite, well-conditioned."""
    return a @ a.mT + _eye_like(a) * float(a.shape[-1])


def _np_doolittle(a):
    """L - I + U of a's LU factors without interchanges (Doolittle's elimination) in
    float64: partial pivoting interchanges nothing in a matrix diagonally dominant by
    columns, as _well's are."""
    a = np.array(a, dtype=np.float64)
    for j in range(a.shape[-1]):
        a[..., j + 1:, j] /= a[..., j, j, None]
        a[..., j + 1:, j + 1:] -= a[..., j + 1:, j, None] * a[..., j, None, j + 1:]
    return a


def _np_householder(a, tau):
    """The first n columns of (I - tau_1 v_1 v_1^T) ... (I - tau_k v_k v_k^T), each
    reflector built as a full matrix, in float64."""
    m, n = a.shape[-2:]
    q = np.broadcast_to(np.eye(m), a.shape[:-2] + (m, m))
    for i in range(tau.shape[-1]):
        v = np.concatenate([np.zeros(a.shape[:-2] + (i,)), np.ones(a.shape[:-2] + (1,)),
                            a[..., i + 1:, i]], -1)
        h = np.eye(m) - tau[..., i, None, None] * v[..., :, None] * v[..., None, :]
        q = q @ h
    return q[..., :, :n]


def _np_expm(a):
    """exp(A) as its Taylor series (30 terms of A / 64, then squared six times): a
    reference independent of the Pade approximant ember uses."""
    x = a / 64.0
    term = total = np.broadcast_to(np.eye(a.shape[-1]), a.shape).copy()
    for k in range(1, 30):
        term = term @ x / k
        total = total + term
    for _ in range(6):
        total = total @ total
    return total


def _np_gelu_tanh(x):
    u = np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)
    return x / (1.0 + np.exp(-2 * u))       # 0.5 x (1 + tanh(u)) without its cancellation


def _np_sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0, e) / (1.0 + e)


def c_pow(a, b):
    """np.power as C's pow: NumPy computes an exponent of 0.5 that broadcasts as sqrt,
    which differs at -inf (NaN, not inf) and -0 (-0, not +0)."""
    return np.where((b == 0.5) & ((a == 0) | (a == -np.inf)), np.abs(a), np.power(a, b))


def _np_erf(x):
    return np.vectorize(math.erf, otypes=[np.float64])(x)


def _np_lgamma(x):
    """log |Gamma(x)| by C's lgamma (SciPy's gammaln is inf at 5e-324, not 744.4), +inf
    at the poles and at -inf. Next to lgamma's roots at 1 and 2 C's is thousands of ULP
    off (glibc's: 14 at 1.5), so the edges keep away from them; tests/test_special.py
    checks them against mpmath."""
    def one(v):
        try:
            return math.lgamma(v) if v != -math.inf else math.inf
        except (ValueError, OverflowError):
            return math.inf
    return np.vectorize(one, otypes=[np.float64])(x)


def _scipy(name, inf=None, neg_inf=None, odd=False):
    """SciPy's ``name`` as the float64 reference, with ember's (PyTorch's) values at +inf
    and -inf where SciPy's differ, and -0 at -0 where ``odd``; None without SciPy (the
    case is then left out)."""
    if _sp is None:
        return None
    fn = getattr(_sp, name)

    def ref(*args):                      # polygamma's order first; x last
        x = args[-1]
        with np.errstate(all="ignore"):
            y = np.asarray(fn(*args), dtype=np.float64)
        if inf is not None:
            y = np.where(x == np.inf, inf, y)
        if neg_inf is not None:
            y = np.where(x == -np.inf, neg_inf, y)
        return np.where(x == 0, x, y) if odd else y
    return ref


def _np_bessel_k(name):
    """SciPy's K function ``name``, but at float64's subnormals (where SciPy gives inf or
    NaN) the series' first term: -log(x / 2) - gamma for K_0, 1 / x for K_1."""
    fn = _scipy(name)
    if fn is None:
        return None

    def ref(x):
        tiny = (x > 0) & (x < np.finfo(np.float64).tiny)
        safe = np.where(tiny, 1.0, x)
        with np.errstate(all="ignore"):
            first = (-np.log(np.where(tiny, x, 1.0)) + math.log(2.0) - 0.5772156649015329
                     if name.startswith("k0") else 1.0 / np.where(tiny, x, 1.0))
        return np.where(tiny, first, fn(safe))
    return ref


def _np_orthogonal(family, n):
    """NumPy's degree-n polynomial of ``family`` (numpy.polynomial's module name) as a
    power series, +-inf with its leading term's sign where that overflows float64."""
    basis = getattr(getattr(np.polynomial, family), family.capitalize()).basis(n)
    power = np.polynomial.Polynomial.cast(basis).coef

    def ref(x):
        with np.errstate(all="ignore"):
            y = np.polynomial.polynomial.polyval(x, power)
        lead = np.sign(power[-1]) * np.sign(x) ** n * np.inf
        return np.where(np.isfinite(y) | np.isnan(x), y, lead)
    return ref


def _np_bessel_jy(name):
    """SciPy's J or Y ``name`` (j0, j1, y0, y1), 0 at +-inf (-0 at -inf for the odd J_1)
    and, past |x| = 1e10, Hankel's leading term from NumPy's cos and sin of x itself
    (SciPy takes cos(x - pi/4), whose rounded argument is noise there)."""
    fn = _scipy(name)
    if fn is None:
        return None
    # sqrt(2 / pi x) times (a cos x + b sin x) / sqrt(2), as cos and sin of x - phase
    a, b = {"j0": (1, 1), "j1": (-1, 1), "y0": (-1, 1), "y1": (-1, -1)}[name]

    def ref(x):
        huge = np.abs(x) > 1e10
        with np.errstate(all="ignore"):
            m = np.abs(np.where(huge, x, 1.0))
            lead = (a * np.cos(m) + b * np.sin(m)) / (np.sqrt(np.pi) * np.sqrt(m))
            if name == "j1":
                lead = np.where(x < 0, -lead, lead)
            if name[0] == "y":
                lead = np.where(x < 0, np.nan, lead)
            y = np.where(huge, lead, fn(np.where(huge, 1.0, x)))
        if name == "j1":                  # x / 2 below 1e-150 (SciPy's rounds it twice)
            y = np.where(np.abs(x) < 1e-150, x / 2, y)
        y = np.where(x == np.inf, 0.0, y)
        at_minus_inf = np.nan if name[0] == "y" else -0.0 if name == "j1" else 0.0
        return np.where(x == -np.inf, at_minus_inf, y)
    return ref


def _np_entr(x):
    with np.errstate(all="ignore"):
        return np.where(x > 0, -x * np.log(np.where(x > 0, x, 1.0)),
                        np.where(x == 0, 0.0, np.where(np.isnan(x), x, -np.inf)))


def _np_exp_half_square(x):
    """exp(-x^2 / 2) with x split so that the square of its high part is exact: x^2
    rounded would cost x^2 ULP (90 at x = 13)."""
    z = (x + 3221225472.0) - 3221225472.0            # x to a multiple of 2^-21
    return np.exp(-z * z * 0.5) * np.exp(-(x - z) * (x + z) * 0.5)


def _np_ndtr_tail(x):
    """Phi(-|x|): SciPy's erfcx (the Faddeeva package) times the exact exp(-x^2 / 2), or
    erfc of the rounded |x| / sqrt 2 without SciPy. SciPy's own ndtr and log_ndtr lose
    that rounding times x^2 (135 ULP at -13)."""
    a = np.abs(x)
    with np.errstate(all="ignore"):
        if _sp is None:
            return 0.5 * np.vectorize(math.erfc, otypes=[np.float64])(a / math.sqrt(2))
        far = a > 40.0                                  # Phi(-40) is 0 in float64
        return np.where(far, 0.0, 0.5 * _sp.erfcx(a * math.sqrt(0.5)) *
                        _np_exp_half_square(np.where(far, 0.0, a)))


def _np_ndtr(x):
    tail = _np_ndtr_tail(x)
    return np.where(x < 0, tail, 1.0 - tail)


def _np_log_ndtr(x):
    with np.errstate(all="ignore"):
        if _sp is None:
            return np.log(_np_ndtr(x))
        a = np.abs(x)
        lower = np.log(0.5 * _sp.erfcx(a * math.sqrt(0.5))) - a * a * 0.5
        return np.where(x < 0, np.where(x == -np.inf, -np.inf, lower),
                        np.log1p(-_np_ndtr_tail(x)))


def _np_gelu(x):
    with np.errstate(all="ignore"):
        return np.where(np.isfinite(x), x * _np_ndtr(x), np.where(x > 0, x, np.nan))


def _np_standardize(x):
    d = x - x.mean(axis=-1, keepdims=True)
    return d / np.sqrt((d * d).mean(axis=-1, keepdims=True) + 1e-5)


def _np_norm(x, p, axis=None, keepdims=False):
    """The p-norm scaled by the largest magnitude, as ember's: sum(|x|^p) of subnormals
    would underflow to 0 (12 elements of 5e-324 have norm 1.5e-323, not 0); infinities
    and NaN as the unscaled formula gives them."""
    a = np.abs(x)
    with np.errstate(all="ignore"):
        plain = np.sum(a ** p, axis=axis, keepdims=keepdims) ** (1 / p)
        s = np.max(a, axis=axis, keepdims=True) if a.size else np.ones((1,) * a.ndim)
        ok = np.isfinite(s) & (s > 0)
        s = np.where(ok, s, 1.0)
        scaled = np.sum((a / s) ** p, axis=axis, keepdims=True) ** (1 / p) * s
        scaled = scaled if keepdims else (np.squeeze(scaled, axis) if axis is not None
                                          else scaled.reshape(()))
    fine = np.all(np.isfinite(a), axis=axis, keepdims=keepdims)
    return np.where(fine, scaled, plain)


def _np_spread(x, axis):
    """The sample standard deviation in float64 without underflow or overflow: the
    deviations scaled by their largest magnitude before squaring (as ember's own)."""
    d = x - x.mean(axis=axis, keepdims=True)
    s = np.abs(d).max(axis=axis, keepdims=True)
    s = np.where((s == 0) | ~np.isfinite(s), 1.0, s)
    return np.squeeze(s * (d / s).std(axis=axis, ddof=1, keepdims=True), axis=axis)


def _np_logsumexp(x, axis=None, keepdims=False):
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)         # +inf terms give +inf, as in PyTorch
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


def _np_softmax(x, axis=-1):
    if x.size == 0:           # PyTorch's answer: an empty tensor of x's shape
        return x.copy()
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _np_log_softmax(x, axis=-1):
    if x.size == 0:
        return x.copy()
    s = x - np.max(x, axis=axis, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=axis, keepdims=True))


def _np_attention(q, k, v, mask=None, causal=False, scale=None, gqa=False):
    """Attention in float64 with PyTorch's semantics: a row that may attend nowhere is 0."""
    if gqa:
        k = np.repeat(k, q.shape[-3] // k.shape[-3], axis=-3)
        v = np.repeat(v, q.shape[-3] // v.shape[-3], axis=-3)
    # E = 0: every score an empty sum, 0 at any scale
    s = q @ np.swapaxes(k, -1, -2) * (1 / np.sqrt(q.shape[-1] or 1) if scale is None else scale)
    if causal:
        mask = np.tri(q.shape[-2], k.shape[-2], dtype=bool)
    if mask is not None:
        s = np.where(mask, s, -np.inf) if mask.dtype == bool else s + mask
    top = s.max(axis=-1, keepdims=True) if s.shape[-1] else np.zeros(s.shape[:-1] + (1,))
    dead = top == -np.inf
    e = np.exp(s - np.where(dead, 0, top))
    total = e.sum(axis=-1, keepdims=True)
    return (e / np.where(total == 0, 1, total)) @ v


def _attention_mask(length, source):
    """A bool mask with a row that may attend nowhere (the first) and one that may
    attend everywhere (the last)."""
    m = (np.arange(length)[:, None] + np.arange(source)) % 3 != 0
    m[0], m[-1] = False, True
    return m


def _additive_mask(length, source):
    """A float mask: -inf where _attention_mask refuses, a finite bias elsewhere."""
    return np.where(_attention_mask(length, source), np.linspace(-1, 1, length * source)
                    .reshape(length, source), -np.inf)


def _with_mask(make, dtype_of):
    """An attention case's ember function: the mask built for the inputs' lengths."""
    def fn(q, k, v):
        m = make(q.shape[-2], k.shape[-2])
        mask = ember.tensor(m, dtype=dtype_of(q), backend=q.backend)
        return ember.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    return fn


#: q, k, v shapes: heads and batch, broadcast batch axes, a single query, nothing to
#: attend to (S = 0: zeros) and no queries (L = 0)
ATTENTION = [((2, 3, 4), (2, 5, 4), (2, 5, 6)), ((1, 2, 4, 3), (2, 1, 6, 3), (2, 6, 2)),
             ((1, 4), (3, 4), (3, 2)), ((3, 4), (0, 4), (0, 2)), ((0, 4), (3, 4), (3, 2)),
             ((2, 3, 0), (2, 5, 0), (2, 5, 6))]
MASKED = [((2, 4, 3), (2, 5, 3), (2, 5, 2)), ((2, 3), (3, 3), (3, 4))]


def _pad_ref(x):
    return np.pad(x, ((1, 2), (0, 1)), constant_values=0.5)


#: scatter_add's index along axis 1 (2 and 0 repeat: their values add up)
_SCATTER = np.array([[0, 2, 2], [1, 0, 0]])


def _scatter_add(x, s):
    return ember.scatter_add(x, 1, ember.tensor(_SCATTER, backend=x.device), s)


def _np_scatter_add(x, s):
    out = x.copy()
    np.add.at(out, (np.arange(2)[:, None], _SCATTER), s[:2, :3])
    return out


#: the float dtypes and two integers (signed and unsigned): for composed ops whose integer
#: paths are one (the op table runs the primitives beneath them at every integer dtype)
SOME_INTS = FLOAT + (dt.int32, dt.uint8)


def _np_scatter(x, s):
    """torch.scatter along axis 1 with _SCATTER: the last write to an element wins."""
    out = x.copy()
    for i in range(2):
        for j in range(3):
            out[i, _SCATTER[i, j]] = s[i, j]
    return out


def _np_scatter_reduce(kind, include_self):
    def ref(x, s):
        out = x.copy()
        for i in range(2):
            for t in range(x.shape[1]):
                group = [s[i, j] for j in range(3) if _SCATTER[i, j] == t]
                if group:
                    values = ([x[i, t]] if include_self else []) + group
                    out[i, t] = {"amax": np.max, "mean": np.mean}[kind](values)
        return out
    return ref


def _np_cummax_indices(x):
    """The latest index of the running maximum along the last axis (NaN ranks highest)."""
    out = np.zeros(x.shape, dtype=np.int64)
    for idx in np.ndindex(x.shape[:-1]):
        best = 0
        for j in range(x.shape[-1]):
            v, b = x[idx + (j,)], x[idx + (best,)]
            if np.isnan(v) or (not np.isnan(b) and v >= b):
                best = j
            out[idx + (j,)] = best
    return out


def _np_logcumsumexp(x, axis=-1):
    return np.logaddexp.accumulate(x, axis=axis) if x.size else x


def _np_xlogy(x, y):
    with np.errstate(all="ignore"):
        return np.where((x == 0) & ~np.isnan(y), 0.0, x * np.log(y))


def _np_sinc(x):
    """sin(pi x) / (pi x) with sin(pi x) = +-sin(pi (x - n)), n the nearest integer:
    exactly 0 at the integers, as the true function (numpy.sinc rounds pi x first)."""
    n = np.round(x)
    with np.errstate(all="ignore"):
        sine = np.sin(np.pi * (x - n)) * np.where(np.mod(n, 2) == 1, -1.0, 1.0)
        return np.where(x == 0, 1.0, sine / (np.pi * x))


def _np_index_add(x, s):
    out = x.copy()
    np.add.at(out, [0, 2, 2, 1], s)
    return out


OPS = [
    # unary elementwise
    OpCase("neg", ember.neg, np.negative, dtypes=NUMERIC, signed_zeros=True),
    OpCase("abs", ember.abs, np.abs, dtypes=NUMERIC, sample="away_from_zero"),
    OpCase("sign", ember.sign, np.sign, dtypes=NUMERIC, sample="away_from_zero", grad=False),
    # inverse trigonometric and hyperbolic functions: C99's edges (odd ones keep -0, NaN
    # outside the domain, atan2 by the signs of zeros and infinities), a few ULP inside
    *[OpCase(n, getattr(ember, n), ref, domain=dom, double=True, signed_zeros=odd,
             edges=(0.5, -0.5, 0.66, 2.4142137, 0.99999, -0.99999, 1.0000001, 3.0, 1e20))
      for n, ref, dom, odd in (("atan", np.arctan, (-4.0, 4.0), True),
                               ("asin", np.arcsin, (-0.95, 0.95), True),
                               ("acos", np.arccos, (-0.95, 0.95), False),
                               ("asinh", np.arcsinh, (-4.0, 4.0), True),
                               ("acosh", np.arccosh, (1.05, 4.0), False),
                               ("atanh", np.arctanh, (-0.95, 0.95), True))],
    OpCase("atan2", ember.atan2, np.arctan2, BINARY, double=True, sample="away_from_zero"),
    # rounding: halves to even, a zero result keeps x's sign, inf and NaN pass through,
    # integers come back as they are (np.rint would make them float64); the gradient is
    # zero (test_numerics)
    *[OpCase(n, getattr(ember, n), ref, dtypes=NUMERIC, domain=(-4.0, 4.0), grad=False,
             signed_zeros=True, edges=(0.5, -0.5, 1.5, -2.5, 2.5, 0.49999997, 8388607.5, -4097.5))
      for n, ref in (("floor", np.floor), ("ceil", np.ceil), ("trunc", np.trunc),
                     ("round", lambda x: x if x.dtype.kind in "iu" else np.rint(x)))],
    # division that rounds, exact: fmod is C's (x's sign), remainder and floor_divide
    # Python's (y's sign, a zero one too; 1 // 0.1 is 9); x / 0 gives inf or NaN, an
    # integer's 0; floor_divide's gradient is zero (every special pair: test_numerics)
    *[OpCase(n, getattr(ember, n), ref, BINARY, dtypes=NUMERIC, domain=(-4.0, 4.0),
             sample="away_from_zero", grad=n != "floor_divide")
      for n, ref in (("fmod", np.fmod), ("remainder", np.remainder),
                     ("floor_divide", np.floor_divide))],
    OpCase("exp", ember.exp, np.exp, double=True,
           edges=(88.7, 89.0, -87.3, -103.0, -110.0, 11.0, -17.0, 709.0, 710.0, -745.0)),
    OpCase("log", ember.log, np.log, domain=(0.1, 4.0), double=True, edges=(2.0, 0.5, 1e30)),
    OpCase("sqrt", ember.sqrt, np.sqrt, domain=(0.1, 4.0), signed_zeros=True, edges=(4.0, 2.0, 1e30)),
    OpCase("sin", ember.sin, np.sin, double=True, signed_zeros=True),
    OpCase("cos", ember.cos, np.cos),
    OpCase("tanh", ember.tanh, np.tanh, double=True, signed_zeros=True,
           edges=(1e-8, -1e-8, 0.5, -0.5, 9.0, -9.0, 20.0, -20.0)),
    OpCase("sigmoid", ember.sigmoid, _np_sigmoid, domain=(-30, 30),
           double=True, edges=(-17.0, -88.0, -104.0, 17.0, 40.0, -9.0, -700.0, -740.0)),
    # GELU's tanh form: +-0 -> +-0, tiny -> x / 2, huge -> x, huge negative -> -0 (and
    # -inf -> NaN, as PyTorch); in the left tail exp(-2u) carries u's rounding times 2|u|,
    # hence 12 + 6|u| ULP at x = -5 (u = -7.5) on top of the device's exp
    OpCase("gelu_tanh", gelu_tanh, _np_gelu_tanh, domain=(-3, 3), double=True,
           signed_zeros=True, edges=(1e-8, -1e-8, -5.0, 5.0, 12.0, -12.0, 1e15, -1e15),
           ulps={dt.float16: 4, dt.bfloat16: 4, dt.float32: 64, dt.float64: 64}),
    # erf and the exact GELU hold their dtype's precision (ember.ops.special), a fast
    # path's and the tensor ops' alike (tests/test_nn.py checks the fast paths' gradients).
    # erf: +-0 -> +-0, tiny -> 2x / sqrt(pi) (its Taylor series below 3/4), huge and inf
    # -> +-1, NaN -> NaN
    OpCase("erf", special.erf, _np_erf, domain=(-3, 3), grad=False,
           signed_zeros=True, edges=(1e-8, -1e-8, 0.7499, 0.75, -0.75, 3.0, -3.0, 6.0, -10.0)),
    # the exact GELU, x Phi(x): +-0 -> +-0, tiny -> x / 2, huge -> x, huge negative -> -0,
    # -inf -> NaN (as PyTorch); the tensor ops (wgpu) are within 8 ULP of float32, a fast
    # path 2.3; in float64 the fast paths take libm's erfc of the rounded |x| / sqrt 2,
    # which costs x^2 / 4 ULP in the left tail (26 at -10, where GELU is -7.6e-23), the
    # tensor ops 4
    OpCase("gelu", special.gelu, _np_gelu, domain=(-3, 3), grad=False,
           signed_zeros=True, edges=(1e-8, -1e-8, -5.0, 5.0, -10.0, 12.0, 1e15, -1e15),
           ulps={dt.float16: 2, dt.bfloat16: 2, dt.float32: 8, dt.float64: 32}),
    # the gamma family (ember.ops.gamma), to float32's and float64's precision: lgamma is
    # +inf at 0, the negative integers and +-inf; digamma -inf at +0, +inf at -0, NaN at
    # the negative integers and -inf; polygamma(n) (-1)^(n+1) inf at the poles, 0 at
    # inf, NaN at -inf; below 0 only absolute precision holds next to their roots (-2.457
    # for lgamma, -0.504 for digamma), hence the domains
    *[OpCase(n, fn, ref, domain=(0.2, 5.0), double=True, edges=edges)
      for n, fn, ref, edges in (
          ("lgamma", ember.lgamma, _np_lgamma,
           (2.0, 0.5, -0.5, -3.5, 3.0, 1.4616321, 10.0, 100.0, 1e10, 1e30, -1e10)),
          ("digamma", ember.digamma, _scipy("psi"),
           (2.0, 0.5, -0.5, -1.5, 1.4616321, 1.4616322, 10.0, 1e10, 1e30, -1e10)),
          ("trigamma", lambda x: ember.polygamma(1, x), _sp and (
              lambda x: _scipy("polygamma", neg_inf=np.nan)(1, x)),
           (2.0, 0.5, -0.5, -2.5, 10.0, 1e10, -1e10)))
      if ref is not None],
    *[OpCase("polygamma3", lambda x: ember.polygamma(3, x), lambda x: polygamma(3, x),
             domain=(0.2, 5.0), edges=(2.0, -0.5, -2.5, 10.0, 1e10, -1e10))
      for polygamma in (_scipy("polygamma", neg_inf=np.nan),) if polygamma is not None],
    # mvlgamma(x, p): a sum of lgammas at x, x - 1/2, ..., so +inf from x = (p - 1) / 2 down
    OpCase("mvlgamma", lambda x: ember.mvlgamma(x, 3), lambda x: np.where(x > 1, sum(
        _np_lgamma(x - j / 2) for j in range(3)) + 1.5 * math.log(math.pi), np.nan),
           domain=(1.5, 6.0)),
    # the incomplete gamma functions (ember.ops.incomplete_gamma) as functions of x at a
    # fixed shape: P(2.5, x) by its series, the small-x series and the continued fraction,
    # Q(30, x) by Temme's expansion between 15 and 37.5 and the others outside; NaN below
    # 0 (-0 is 0: P = 0, Q = 1), P = 1 and Q = 0 at inf, Q's tail relative down to its
    # subnormals; within 8 ULP times 1 + the condition number x P'(x) / P, about 3 on
    # these edges (tests/test_special.py holds it to that against mpmath, far into the
    # tails): SciPy, the reference here, is itself 19 ULP off at P(2.5, 1e-30) and 80 at
    # Q(30, 45)
    *[OpCase(n, fn, (lambda g, a: lambda x: g(a, x))(ref, a), domain=domain, edges=edges,
             ulps={**ULPS, dt.float32: 32, dt.float64: 32})
      for n, fn, ref, a, domain, edges in (
          ("gammainc", lambda x: ember.special.gammainc(2.5, x), _scipy("gammainc"), 2.5,
           (0.1, 8.0), (0.5, 1.09, 1.11, 3.49, 3.51, 20.0, 100.0)),
          ("gammaincc", lambda x: ember.special.gammaincc(30.0, x), _scipy("gammaincc"), 30.0,
           (12.0, 45.0), (14.9, 15.1, 30.0, 37.4, 37.6)))
      if ref is not None],
    # modified Bessel functions (ember.ops.bessel): i0 even, i1 odd (-0 stays -0), at +-inf
    # i0 inf (SciPy's and PyTorch's NaN), i1 +-inf, the scaled forms 0 and +-0; the power
    # series' sum times exp(-x) costs up to 8 ULP of float32 near its switch point
    *[OpCase(n, fn, ref, domain=(-6.0, 6.0), signed_zeros=odd, ulps={**ULPS, dt.float32: 8,
                                                                      dt.float64: 10},
             edges=(5.0, 11.99, 12.0, 19.99, 20.0, 50.0, -88.0, 92.0, 700.0, 714.0))
      for n, fn, ref, odd in (
          ("i0", ember.i0, _scipy("i0", inf=np.inf, neg_inf=np.inf), False),
          ("i0e", ember.special.i0e, _scipy("i0e"), False),
          ("i1", ember.special.i1, _scipy("i1", inf=np.inf, neg_inf=-np.inf, odd=True), True),
          ("i1e", ember.special.i1e, _scipy("i1e", odd=True), True))
      if ref is not None],
    # the modified Bessel functions of the second kind (ember.ops.bessel_k): inf at +-0,
    # NaN below 0, 0 at inf (the scaled forms too); their series below 1 and a trapezoidal
    # rule above, within 8 ULP; spherical_bessel_j0 = sin(x) / x: 1 at 0 (its series below
    # |x| = 1/2), 0 at +-inf, even (near its zeros, the device's sin decides)
    *[OpCase(n, fn, ref, domain=(0.2, 8.0), ulps={**ULPS, dt.float32: 8, dt.float64: 8},
             edges=(0.5, 0.99, 1.0, 2.0, 30.0, 80.0, 700.0))
      for n, fn, ref in (
          ("modified_bessel_k0", ember.special.modified_bessel_k0, _np_bessel_k("k0")),
          ("modified_bessel_k1", ember.special.modified_bessel_k1, _np_bessel_k("k1")),
          ("scaled_modified_bessel_k0", ember.special.scaled_modified_bessel_k0,
           _np_bessel_k("k0e")),
          ("scaled_modified_bessel_k1", ember.special.scaled_modified_bessel_k1,
           _np_bessel_k("k1e")))
      if ref is not None],
    OpCase("spherical_bessel_j0", ember.special.spherical_bessel_j0,
           lambda x: np.where(x == 0, 1.0, np.where(np.isinf(x), 0.0, np.sin(x) / np.where(
               x == 0, 1.0, x))),
           domain=(-3.0, 3.0), edges=(1e-5, 0.4999, 0.5, 2.0, 100.0, 1e30)),
    # the orthogonal polynomials (ember.ops.polynomials) at a fixed degree, by their
    # recurrences: against NumPy's series of the same family; where the value overflows,
    # +-inf with the leading term's sign (NumPy's Clenshaw sums and PyTorch give NaN)
    *[OpCase(n, lambda x, n=n, k=k: getattr(ember.special, n)(x, k),
             _np_orthogonal(family, k), domain=domain, double=True)
      for n, family, k, domain in (
          ("chebyshev_polynomial_t", "chebyshev", 5, (-1.0, 1.0)),
          ("hermite_polynomial_h", "hermite", 4, (-3.0, 3.0)),
          ("laguerre_polynomial_l", "laguerre", 3, (0.0, 5.0)),
          ("legendre_polynomial_p", "legendre", 6, (-1.0, 1.0)))],
    # the Bessel functions J and Y (ember.ops.bessel_jy), on domains short of their first
    # zeros and at edges near their extrema, both sides of the switch to Hankel's
    # expansions (next to a zero only absolute precision holds, tests/test_special.py): J_0
    # even, J_1 odd, 1 and 0 at 0; Y_0 and Y_1 -inf at +-0, NaN below; all 0 at +-inf
    # (SciPy's Y and PyTorch's are NaN there)
    *[OpCase(n, fn, ref, domain=domain, edges=edges, signed_zeros=odd,
             ulps={**ULPS, dt.float32: 16, dt.float64: 16})
      for n, fn, ref, domain, edges, odd in (
          ("bessel_j0", ember.special.bessel_j0, _np_bessel_jy("j0"), (-2.2, 2.2),
           (0.5, 7.02, 10.17, 16.47, 19.62), False),
          ("bessel_j1", ember.special.bessel_j1, _np_bessel_jy("j1"), (-3.6, 3.6),
           (0.5, 5.33, 8.54, 11.71, 18.02, 21.16), True),
          ("bessel_y0", ember.special.bessel_y0, _np_bessel_jy("y0"), (0.05, 0.85),
           (0.5, 5.43, 8.6, 11.75, 18.04, 21.19), False),
          ("bessel_y1", ember.special.bessel_y1, _np_bessel_jy("y1"), (0.05, 2.1),
           (0.5, 3.68, 6.94, 10.12, 16.44, 19.59), False))
      if ref is not None],
    # Airy's Ai (ember.ops.airy) short of its first zero and at its extrema beyond, both
    # sides of the switch to the asymptotic expansions (6 in float32, 9.5 in float64),
    # within 2 eps (1 + zeta), zeta = 2/3 |x|^(3/2) its condition number (up to 28 here;
    # SciPy's float64 is 10 ULP off at 9.4); its gradient is Ai', whose is x Ai. 0 past
    # x = 200 (it underflows) and, as ember's, below
    # -5.4e4, where float32's zeta keeps no digit of the phase (the dtype limits only; the
    # float64 values between are tests/test_special.py's); SciPy's and PyTorch's are NaN
    *[OpCase("airy_ai", ember.special.airy_ai,
             lambda x, ai=ai: np.where((x > 200) | (x < -5.4e4), 0.0,
                                       ai(np.where((x > 200) | (x < -5.4e4), 0.0, x))),
             domain=(-2.2, 3.0), edges=(0.5, 5.9, 6.1, 9.4, 9.6, 12.0, -3.25, -6.16, -9.54,
                                         -11.48), ulps={**ULPS, dt.float32: 32, dt.float64: 32})
      for ai in (None if _sp is None else (lambda x: _sp.airy(x)[0]),) if ai is not None],
    # the erf family (ember.ops.special): erfc 2 at -inf and 0 past 10.06 (float32) or
    # 27.2 (float64); erfinv +-inf at +-1 and NaN past; ndtri -inf at 0, inf at 1;
    # log_ndtr finite far into the lower tail
    OpCase("erfc", ember.erfc, lambda x: np.vectorize(math.erfc, otypes=[np.float64])(x),
           domain=(-4, 4), edges=(0.7499, 0.75, -0.75, 1.875, 2.99, 3.0, 5.0, 9.0, 10.0,
                                  10.5, -6.0, 26.0, 27.5)),
    *[OpCase(n, fn, ref, domain=domain, edges=edges, signed_zeros=odd)
      for n, fn, ref, domain, edges, odd in (
          ("erfinv", ember.erfinv, _scipy("erfinv", odd=True), (-0.99, 0.99),
           (0.5, -0.5, 0.50001, 0.999, -0.9999, 1e-8, 0.99999994), True),
          ("erfcx", ember.special.erfcx, _scipy("erfcx"), (-2, 4),
           (0.5, 3.0, 30.0, 1e10, -5.0, -9.0, -9.5, -27.0), False),
          ("ndtr", ember.special.ndtr, _np_ndtr, (-6, 6),
           (0.5, 3.0, -5.0, -8.0, -13.0, -14.0, 8.0), False),
          ("log_ndtr", ember.special.log_ndtr, _np_log_ndtr, (-10, 6),
           (0.5, 3.0, -5.0, -20.0, -40.0, -1e10, 5.0, 8.0), False),
          ("ndtri", ember.special.ndtri, _scipy("ndtri"), (0.01, 0.99),
           (0.5, 0.25, 0.2499, 0.975, 1e-10, 1e-30, 0.99999994), False))
      if ref is not None],
    OpCase("entr", ember.special.entr, _np_entr, domain=(0.05, 3.0), edges=(0.5, 2.0, 1e30)),
    OpCase("log1p", ember.log1p, np.log1p, domain=(-0.9, 3.0), double=True, signed_zeros=True,
           edges=(1e-10, -1e-10, 1e-5, -0.5, -1.0, -2.0, 1e30)),
    OpCase("expm1", ember.expm1, np.expm1, domain=(-3, 3), double=True, signed_zeros=True,
           edges=(1e-10, -1e-10, 1e-5, -1e-5, 0.5, -20.0, 88.0, 89.0, -104.0, 709.0, 710.0)),
    OpCase("softplus", ember.softplus, lambda x: np.where(x > 20, x, np.logaddexp(0, x)),
           domain=(-30, 30), double=True,
           edges=(-17.0, -88.0, -104.0, 17.0, 20.0, 20.5, 30.0, -700.0, -740.0)),
    OpCase("log_sigmoid", ember.log_sigmoid, lambda x: -np.logaddexp(0, -x), domain=(-30, 30),
           double=True, edges=(-17.0, -88.0, -104.0, 17.0, 40.0, 88.0, 104.0, 700.0, 745.0)),
    OpCase("relu", ember.relu, lambda x: np.maximum(x, 0), sample="away_from_zero"),
    OpCase("clip", lambda x: ember.clip(x, -1.0, 0.5), lambda x: np.clip(x, -1.0, 0.5),
           sample="distinct"),
    # bounds that are tensors (torch.clamp's): broadcast, and where min > max, max
    OpCase("clip_tensor_bounds", ember.clip,
           lambda x, lo, hi: np.minimum(np.maximum(x, lo), hi),
           [((3, 4), (3, 4), (3, 4)), ((2, 1, 3), (4, 1), (3,)), ((0, 3), (1, 3), ())],
           sample="distinct"),
    OpCase("square_via_pow_scalar", lambda x: x ** 2, lambda x: x ** 2, dtypes=NUMERIC,
           double=True),
    # binary elementwise
    OpCase("add", ember.add, np.add, BINARY, NUMERIC, cancels=True),
    OpCase("sub", ember.sub, np.subtract, BINARY, NUMERIC, cancels=True),
    OpCase("mul", ember.mul, np.multiply, BINARY, NUMERIC, double=True),
    OpCase("div", ember.div, np.divide, BINARY, sample="away_from_zero", double=True),
    # C's pow everywhere, a 0-d exponent included: (-inf) ** 0.5 is inf, (-0) ** 0.5 is +0
    OpCase("pow", ember.pow, c_pow, BINARY, domain=(0.5, 2.0), double=True),
    OpCase("maximum", ember.maximum, np.maximum, BINARY, NUMERIC, sample="distinct"),
    OpCase("minimum", ember.minimum, np.minimum, BINARY, NUMERIC, sample="distinct"),
    OpCase("scalar_rsub", lambda x: 3.0 - x, lambda x: 3.0 - x, dtypes=FLOAT),
    OpCase("scalar_rdiv", lambda x: 1.5 / x, lambda x: 1.5 / x, sample="away_from_zero"),
    # comparisons and where
    *[OpCase(n, getattr(ember, n), ref, BINARY, NUMERIC, sample="distinct", grad=False, out="bool")
      for n, ref in (("eq", np.equal), ("ne", np.not_equal), ("lt", np.less),
                     ("le", np.less_equal), ("gt", np.greater), ("ge", np.greater_equal))],
    OpCase("where", lambda x, y: ember.where(x > y, x, y * 2.0), lambda x, y: np.where(x > y, x, y * 2),
           BINARY, sample="distinct"),
    # reductions
    OpCase("sum_all", lambda x: x.sum(), np.sum, REDUCE, NUMERIC, out="sum",
           cancels=True),
    OpCase("sum_axis", lambda x: x.sum(axis=-1), lambda x: x.sum(axis=-1), REDUCE, NUMERIC, out="sum",
           cancels=True),
    OpCase("sum_axes_keepdims", lambda x: x.sum(axis=(0, -1), keepdims=True),
           lambda x: x.sum(axis=(0, -1), keepdims=True), [((3, 4),), ((2, 3, 4),), ((1, 4),)], NUMERIC,
           out="sum", cancels=True),
    # cumsum, cumprod and prod (scans and a tree of pairwise products: their gradients need
    # no division, so zeros are exact): NaN and inf spread to later positions and into the
    # product, as in float64; an empty axis gives an empty scan and a product of 1; where a
    # partial product overflows, the answer depends on the order (0 * max * max: 0, or NaN
    # from 0 * inf on a backend that multiplies the maxima first), as on PyTorch's GPUs
    OpCase("cumsum", lambda x: x.cumsum(-1), lambda x: np.cumsum(x, -1),
           [((3, 5),), ((2, 3, 17),), ((1,),), ((2, 0),)], NUMERIC, out="sum", double=True,
           cancels=True),
    OpCase("cumsum_axis0", lambda x: x.cumsum(0), lambda x: np.cumsum(x, 0), [((9, 2),), ((0, 2),)],
           cancels=True),
    OpCase("cumprod", lambda x: x.cumprod(-1), lambda x: np.cumprod(x, -1),
           [((3, 5),), ((2, 3, 9),), ((1,),), ((2, 0),)], NUMERIC, out="sum", double=True,
           order_overflows=True),
    OpCase("prod", lambda x: x.prod(axis=-1), lambda x: np.prod(x, -1),
           [((3, 5),), ((2, 3, 7),), ((4, 0),), ((1,),)], NUMERIC, out="sum", double=True,
           order_overflows=True),
    OpCase("prod_axes_keepdims", lambda x: x.prod(axis=(0, -1), keepdims=True),
           lambda x: np.prod(x, (0, -1), keepdims=True), [((3, 2, 4),), ((0, 3),)], NUMERIC,
           out="sum", order_overflows=True),
    OpCase("mean", lambda x: x.mean(axis=0), lambda x: x.mean(axis=0), REDUCE, cancels=True),
    # var and std: edges in test_numerics (tiny rows, huge ones, rows near the dtype's
    # limit: std finite, var inf past the range); a NaN or inf gives NaN, no values NaN
    OpCase("var", lambda x: x.var(axis=-1), lambda x: _np_spread(x, -1) ** 2,
           [((3, 4),), ((2, 3, 4),), ((5,),)], double=True, scale=3, cancels=True),
    # layer norm's core over the last axis (test_numerics has its edges: tiny, huge and
    # constant rows, NaN and inf)
    OpCase("standardize", lambda x: standardize(x, -1), _np_standardize,
           [((3, 4),), ((2, 3, 5),), ((4, 1),)], double=True, scale=3, cancels=True),
    OpCase("std", lambda x: x.std(), lambda x: _np_spread(x, None), [((3, 4),), ((5,),)], scale=3,
           cancels=True),
    OpCase("max_axis", lambda x: x.max(axis=-1), lambda x: x.max(axis=-1), REDUCE, NUMERIC,
           sample="distinct"),
    OpCase("min_all", lambda x: x.min(), np.min, REDUCE, NUMERIC, sample="distinct"),
    OpCase("max_keepdims", lambda x: x.max(axis=0, keepdims=True),
           lambda x: x.max(axis=0, keepdims=True), REDUCE, NUMERIC, sample="distinct"),
    OpCase("argmax", lambda x: x.argmax(axis=-1), lambda x: np.argmax(x, axis=-1), REDUCE, NUMERIC,
           sample="distinct", grad=False, out="index"),
    OpCase("argmin_flat", lambda x: x.argmin(), np.argmin, REDUCE, NUMERIC, sample="distinct",
           grad=False, out="index"),
    # einsum: contractions as batched GEMMs, diagonals, sums, '...' broadcasting; operands
    # contract left to right (as torch.einsum without opt_einsum), which decides where a
    # chain through infinities meets 0 * inf: the chain's reference pairs them so too
    *[OpCase(f"einsum_{name}", (lambda eq: lambda *xs: ember.einsum(eq, *xs))(eq),
             ref or (lambda eq: lambda *xs: np.einsum(eq, *xs))(eq), [shapes], NUMERIC,
             cancels=True)
      for name, eq, shapes, ref in (
          ("attention", "bhqd,bhkd->bhqk", ((2, 3, 4, 5), (2, 3, 6, 5)), None),
          ("trace_diag", "iij->j", ((3, 3, 4),), None),
          ("ellipsis", "...ij,...jk->...ik", ((2, 3, 4), (4, 5)), None),
          ("chain", "ab,bc,cd->ad", ((2, 3), (3, 4), (4, 5)), lambda a, b, c: (a @ b) @ c),
          ("outer_sum", "i,j->", ((3,), (4,)), None))],
    # sorting, stable: ties keep their order, -0 equals +0, NaN after every number (first
    # when descending), an empty axis gives empty results; the values are gathered from x,
    # so their gradient goes back to where each came from
    OpCase("sort", lambda x: x.sort(-1).values, lambda x: np.sort(x, -1) if x.ndim else x,
           [((3, 5),), ((2, 3, 17),), ((1,),), ((2, 0),), ((),)], NUMERIC, sample="distinct"),
    OpCase("sort_descending_axis0", lambda x: x.sort(0, descending=True).values,
           lambda x: np.flip(np.sort(x, 0), 0), [((9, 2),), ((0, 2),)], sample="distinct"),
    OpCase("argsort", lambda x: x.argsort(-1), lambda x: np.argsort(x, -1, kind="stable"),
           [((3, 5),), ((2, 3, 17),), ((1,),), ((2, 0),)], NUMERIC, sample="distinct",
           grad=False, out="index"),
    OpCase("topk", lambda x: x.topk(3).values, lambda x: np.flip(np.sort(x, -1), -1)[..., :3],
           [((3, 5),), ((2, 4, 7),), ((4, 3),)], NUMERIC, sample="distinct"),
    OpCase("topk_smallest_axis0", lambda x: x.topk(2, 0, largest=False).indices,
           lambda x: np.argsort(x, 0, kind="stable")[:2], [((5, 3),), ((2, 0),)], NUMERIC,
           sample="distinct", grad=False, out="index"),
    OpCase("kthvalue", lambda x: x.kthvalue(2).values, lambda x: np.sort(x, -1)[..., 1],
           [((3, 5),), ((2, 3, 4),)], NUMERIC, sample="distinct"),
    OpCase("logsumexp", lambda x: x.logsumexp(axis=-1), lambda x: _np_logsumexp(x, axis=-1),
           REDUCE, domain=(-5, 5), double=True, cancels=True),
    # softmax and log_softmax of an empty axis (or none to normalize): empty, as PyTorch
    OpCase("softmax", lambda x: ember.softmax(x, -1), _np_softmax, REDUCE + [((3, 0),), ((0, 4),)],
           domain=(-5, 5), double=True),
    OpCase("log_softmax", lambda x: ember.log_softmax(x, 0), lambda x: _np_log_softmax(x, 0),
           REDUCE + [((0, 4),), ((3, 0),)], domain=(-5, 5), cancels=True),
    # movement
    OpCase("reshape", lambda x: x.reshape(4, -1), lambda x: x.reshape(4, -1),
           [((2, 6),), ((3, 4),), ((4, 1, 2),)], ALL),
    OpCase("transpose", lambda x: x.T, lambda x: x.T, [((3, 4),), ((2, 3, 4),), ((5,),)], ALL),
    OpCase("permute", lambda x: x.permute(2, 0, 1), lambda x: x.transpose(2, 0, 1),
           [((2, 3, 4),), ((1, 3, 1),)], ALL),
    OpCase("broadcast_to", lambda x: ember.broadcast_to(x, (2, 3, 4)),
           lambda x: np.broadcast_to(x, (2, 3, 4)), [((3, 1),), ((4,),), ((1, 3, 4),)], ALL),
    OpCase("squeeze_unsqueeze", lambda x: x.squeeze().unsqueeze(0),
           lambda x: np.squeeze(x)[None], [((1, 3, 1, 2),), ((1,),)], ALL),
    OpCase("flatten", lambda x: x.flatten(1), lambda x: x.reshape(x.shape[0], -1),
           [((2, 3, 4),), ((3, 1),)], ALL),
    OpCase("concatenate", lambda x, y: ember.concatenate([x, y, x], axis=1),
           lambda x, y: np.concatenate([x, y, x], axis=1), [((2, 3), (2, 1)), ((2, 0, 3), (2, 2, 3))], ALL),
    OpCase("stack", lambda x, y: ember.stack([x, y], axis=-1), lambda x, y: np.stack([x, y], -1),
           [((2, 3), (2, 3)), ((4,), (4,))], ALL),
    OpCase("split", lambda x: ember.split(x, [1, 3], axis=1)[1] * 1,
           lambda x: np.split(x, [1], axis=1)[1] * 1, [((2, 4),), ((3, 4, 2),)], NUMERIC),
    OpCase("pad", lambda x: ember.pad(x, ((1, 2), (0, 1)), value=0.5), _pad_ref,
           [((2, 3),), ((1, 1),), ((0, 2),)]),
    OpCase("flip", lambda x: ember.flip(x, (0, -1)), lambda x: np.flip(x, (0, -1)),
           [((3, 4),), ((2, 3, 4),)], ALL),
    # an int count, and counts per element (a 0 drops the element; an empty axis stays empty)
    OpCase("repeat_interleave", lambda x: ember.repeat_interleave(x, 2, dim=1),
           lambda x: np.repeat(x, 2, 1), [((2, 3),), ((3, 0),), ((2, 1, 2),)], ALL),
    OpCase("repeat_interleave_counts", lambda x: x.repeat_interleave([1, 0, 3], dim=-1),
           lambda x: np.repeat(x, [1, 0, 3], -1), [((2, 3),), ((0, 3),), ((3,),)], ALL),
    OpCase("cast_f64_roundtrip", lambda x: x.to(ember.float64).to(x.dtype) * 1.5,
           lambda x: x * 1.5, dtypes=FLOAT, needs=(dt.float64,)),
    # scattering: repeated indices add up; src may be larger than the index
    OpCase("scatter_add", _scatter_add, _np_scatter_add, [((2, 4), (2, 3)), ((2, 3), (3, 5))],
           NUMERIC, cancels=True),
    OpCase("index_add", lambda x, s: x.index_add(0, ember.tensor([0, 2, 2, 1], backend=x.device), s),
           _np_index_add, [((3, 5), (4, 5)), ((3, 1), (4, 1))], NUMERIC, cancels=True),
    # indexing
    OpCase("index_basic", lambda x: x[1:, ::2], lambda x: x[1:, ::2], [((4, 5),), ((3, 3, 2),)], ALL),
    OpCase("index_negative_step", lambda x: x[::-1, 1], lambda x: x[::-1, 1], [((4, 5),)], ALL),
    OpCase("index_none_ellipsis", lambda x: x[None, ..., -1], lambda x: x[None, ..., -1],
           [((2, 3),), ((2, 3, 4),)], ALL),
    OpCase("index_int_array", lambda x: x[[0, 2, 2, -1]], lambda x: x[[0, 2, 2, -1]],
           [((4, 3),), ((5,),)], ALL),
    OpCase("index_two_arrays", lambda x: x[[0, 1, 1], [2, 0, 2]], lambda x: x[[0, 1, 1], [2, 0, 2]],
           [((3, 4),), ((2, 3, 2),)], ALL),
    OpCase("index_array_after_slice", lambda x: x[:, [1, 0, 1]], lambda x: x[:, [1, 0, 1]],
           [((3, 4),), ((2, 3, 2),)], ALL),
    OpCase("index_mask", lambda x: x[x > 0], lambda x: x[x > 0], [((3, 4),), ((5,),)], NUMERIC,
           data_dependent_shape=True),
    # linear algebra
    OpCase("matmul", ember.matmul, np.matmul, MATMUL, NUMERIC, domain=(-1, 1), double=True, scale=3,
           cancels=True),
    # a few rows against a weight seen transposed (a decoding step's Linear): K past and
    # off a vector's width, rows up to 8 and past, batch axes folded into the rows
    OpCase("matmul_rows_by_transposed", lambda a, w: a @ w.T, lambda a, w: a @ w.T,
           [((1, 37), (50, 37)), ((8, 16), (7, 16)), ((9, 24), (5, 24)), ((2, 1, 40), (3, 40))],
           NUMERIC, domain=(-1, 1), cancels=True),
    OpCase("matmul_operator", lambda a, b: a @ b.transpose(-1, -2),
           lambda a, b: a @ np.swapaxes(b, -1, -2),
           [((3, 4), (5, 4)), ((2, 3, 8), (2, 6, 8))], FLOAT, domain=(-1, 1), cancels=True),
    # attention: a row that may attend nowhere (every key masked) gives 0 and a zero
    # gradient, not NaN (PyTorch's safe softmax); S = 0 gives zeros, L = 0 nothing; a +inf
    # score gives NaN (inf - inf), a NaN input NaN in its batch entry, as the composed ops
    # (a key a row may not attend weighs 0, and 0 * an infinite value is NaN, as PyTorch's);
    # E = 0: every score is 0, each row the mean of the values it may attend (PyTorch's);
    # float16 and bfloat16 compute in float32 and round once
    OpCase("attention", ember.scaled_dot_product_attention, _np_attention, ATTENTION,
           domain=(-1, 1), double=True, scale=3, cancels=True),
    OpCase("attention_causal", lambda q, k, v: ember.scaled_dot_product_attention(
        q, k, v, is_causal=True, scale=0.7), lambda q, k, v: _np_attention(
        q, k, v, causal=True, scale=0.7), MASKED, domain=(-1, 1), scale=3, cancels=True),
    OpCase("attention_bool_mask", _with_mask(_attention_mask, lambda q: ember.bool_),
           lambda q, k, v: _np_attention(q, k, v, _attention_mask(q.shape[-2], k.shape[-2])),
           MASKED, domain=(-1, 1), scale=3, cancels=True),
    OpCase("attention_float_mask", _with_mask(_additive_mask, lambda q: q.dtype),
           lambda q, k, v: _np_attention(q, k, v, _additive_mask(q.shape[-2], k.shape[-2])),
           MASKED, domain=(-1, 1), scale=3, cancels=True),
    OpCase("attention_grouped_query", lambda q, k, v: ember.scaled_dot_product_attention(
        q, k, v, enable_gqa=True), lambda q, k, v: _np_attention(q, k, v, gqa=True),
        [((1, 4, 3, 4), (1, 2, 5, 4), (1, 2, 5, 3)), ((6, 2, 2), (3, 4, 2), (1, 4, 2))],
        domain=(-1, 1), scale=3, cancels=True),
    # PyTorch's names composed of the ops above. Integers hold no NaN or infinity;
    # nan_to_num puts the dtype's largest finite values for the infinities unless told
    *[OpCase(n, getattr(ember, n), getattr(np, n), dtypes=NUMERIC, grad=False, out="bool")
      for n in ("isnan", "isinf", "isfinite")],
    OpCase("nan_to_num", lambda x: ember.nan_to_num(x / x - 1 + x, 1.5, 2.0, -3.0),
           lambda x: np.nan_to_num(x / x - 1 + x, nan=1.5, posinf=2.0, neginf=-3.0), grad=False),
    # |a - b| <= atol + rtol |b|; equal infinities close, NaN close to nothing
    OpCase("isclose", lambda a, b: ember.isclose(a, b, rtol=0.1, atol=0.5),
           lambda a, b: np.isclose(a, b, rtol=0.1, atol=0.5), BINARY, grad=False, out="bool"),
    # 1 / sqrt(x): +-0 -> +-inf, inf -> 0, below 0 NaN; 1 / x: +-0 -> +-inf, a subnormal's
    # reciprocal overflows to inf
    OpCase("square", ember.square, np.square, dtypes=NUMERIC, double=True, signed_zeros=False),
    OpCase("rsqrt", ember.rsqrt, lambda x: 1 / np.sqrt(x), domain=(0.1, 4.0), edges=(4.0, 1e30)),
    OpCase("reciprocal", ember.reciprocal, lambda x: 1 / x, sample="away_from_zero", double=True),
    # start + w (end - start) below |w| 0.5, end - (end - start)(1 - w) from it: exact at
    # w = 0 and 1
    OpCase("lerp", ember.lerp, lambda a, b, w: np.where(np.abs(w) < 0.5, a + w * (b - a),
                                                        b - (b - a) * (1 - w)),
           [((3, 4), (3, 4), (3, 4)), ((2, 1, 3), (4, 1), (3,)), ((0, 3), (1, 3), ())],
           cancels=True),
    # no overflow in exp or in the squares; equal infinities: logaddexp gives them, hypot
    # inf (test_torch_names checks both against PyTorch at every special pair)
    OpCase("logaddexp", ember.logaddexp, np.logaddexp, BINARY, domain=(-30, 30), double=True),
    OpCase("hypot", ember.hypot, np.hypot, BINARY, sample="away_from_zero", double=True),
    OpCase("logaddexp2", ember.logaddexp2, np.logaddexp2, BINARY, domain=(-30, 30)),
    # 2^x exact at integers; log2 and log10: -inf at +-0, NaN below 0
    OpCase("exp2", ember.exp2, np.exp2, domain=(-4, 4), edges=(3.0, -3.0, 0.5, 127.0, 128.0,
                                                                -149.0, -150.0, 1023.0)),
    OpCase("log2", ember.log2, np.log2, domain=(0.1, 4.0), edges=(2.0, 0.5, 1024.0, 1e30)),
    OpCase("log10", ember.log10, np.log10, domain=(0.1, 4.0), edges=(10.0, 0.1, 1e30)),
    # sinh and cosh stay finite up to log(2 max) (88.72 to 89.4 in float32, where
    # exp(x) / 2 overflows); sinh is odd
    OpCase("sinh", ember.sinh, np.sinh, domain=(-3, 3), double=True, signed_zeros=True,
           edges=(0.5, 0.999, 1.0, 1e-10, 20.0, 88.0, 89.0, -89.0, 710.0, 711.0)),
    OpCase("cosh", ember.cosh, np.cosh, domain=(-3, 3), double=True,
           edges=(0.5, 1e-10, 20.0, 88.0, 89.0, -89.0, 710.0, 711.0)),
    OpCase("tan", ember.tan, np.tan, domain=(-1.2, 1.2), double=True, signed_zeros=True,
           edges=(0.5, 1.5, -1.5, 3.0)),
    OpCase("fmax", ember.fmax, np.fmax, BINARY, edges=()),
    OpCase("fmin", ember.fmin, np.fmin, BINARY),
    # Euclid's steps on integers: non-negative, gcd(x, 0) = |x|, lcm 0 where either is 0
    # (integers are drawn as 3x: the domain keeps lcm inside int8, whose overflow wraps
    # before the absolute value is taken, as PyTorch's)
    *[OpCase(n, getattr(ember, n), getattr(np, n), BINARY, dtypes=dt.INTS, domain=(-3.5, 3.5),
             grad=False) for n in ("gcd", "lcm")],
    # the float next to x towards y: exact, so every backend equals NumPy's bit for bit
    OpCase("nextafter", ember.nextafter, np.nextafter, BINARY, grad=False),
    # movement: what is outside a triangle becomes 0 (NaN and inf too)
    OpCase("tril", lambda x: ember.tril(x, 1), lambda x: np.tril(x, 1),
           [((3, 4),), ((2, 3, 3),), ((4, 2),), ((0, 3),)], ALL),
    OpCase("triu", lambda x: ember.triu(x, -1), lambda x: np.triu(x, -1),
           [((3, 4),), ((2, 3, 3),), ((4, 2),)], ALL),
    OpCase("roll", lambda x: ember.roll(x, -3, -1), lambda x: np.roll(x, -3, -1),
           [((3, 4),), ((2, 3, 5),), ((7,),), ((3, 0),)], ALL),
    OpCase("movedim", lambda x: ember.movedim(x, (0, 1), (-1, 0)),
           lambda x: np.moveaxis(x, (0, 1), (-1, 0)), [((2, 3, 4),), ((1, 3, 2),)], ALL),
    OpCase("tile", lambda x: ember.tile(x, (2, 3)), lambda x: np.tile(x, (2, 3)),
           [((3, 4),), ((2,),), ((0, 2),)], ALL),
    OpCase("clone", ember.clone, np.copy, dtypes=ALL, signed_zeros=True),
    # torch.gather reads x at the index's extent on the other axes; masked_fill keeps x's
    # dtype
    OpCase("gather", lambda x: ember.gather(x, 1, ember.tensor(
        [[0, 2, 2], [1, 0, 0]], backend=x.backend)), lambda x: np.take_along_axis(
        x[:2], np.array([[0, 2, 2], [1, 0, 0]]), 1), [((3, 4),), ((2, 3),)], NUMERIC),
    OpCase("masked_fill", lambda x: ember.masked_fill(x, x > 1, 3),
           lambda x: np.where(x > 1, 3, x), [((),), ((3, 4),), ((0, 3),)], NUMERIC,
           domain=(-3, 3)),
    OpCase("nonzero", lambda x: ember.nonzero(x > 0), lambda x: np.argwhere(x > 0),
           [((3, 4),), ((5,),), ((0, 2),)], NUMERIC, grad=False, out="index",
           data_dependent_shape=True),
    # reductions: amax shares a tie's gradient, max(x, dim=) gives it to the index it
    # returns; the norm is scaled by the largest magnitude, so no square overflows
    OpCase("amax", lambda x: ember.amax(x, dim=(0, -1)), lambda x: np.amax(x, axis=(0, -1)),
           [((3, 4),), ((2, 3, 4),), ((1, 4),)], NUMERIC, sample="distinct"),
    OpCase("max_dim", lambda x: ember.max(x, dim=-1).values, lambda x: np.max(x, -1), REDUCE,
           NUMERIC, sample="distinct"),
    OpCase("min_dim_indices", lambda x: x.min(dim=0, keepdim=True).indices,
           lambda x: np.argmin(x, 0)[None], REDUCE, NUMERIC, sample="distinct", grad=False,
           out="index"),
    OpCase("norm", lambda x: x.norm(), lambda x: _np_norm(x, 2), REDUCE, double=True,
           sample="away_from_zero"),
    OpCase("norm_p3_dim", lambda x: ember.norm(x, 3, dim=-1, keepdim=True),
           lambda x: _np_norm(x, 3, -1, True), REDUCE, sample="away_from_zero"),
    OpCase("mm", ember.mm, np.matmul, [((3, 4), (4, 5)), ((1, 7), (7, 1)), ((0, 2), (2, 3))],
           domain=(-1, 1), cancels=True),
    OpCase("bmm", ember.bmm, np.matmul, [((2, 3, 4), (2, 4, 5)), ((1, 0, 2), (1, 2, 3))],
           domain=(-1, 1), cancels=True),
    OpCase("dot", ember.dot, np.dot, [((4,), (4,)), ((0,), (0,))], domain=(-1, 1), cancels=True),
    OpCase("outer", ember.outer, np.outer, [((3,), (4,)), ((1,), (0,))], NUMERIC),
    # scattering with PyTorch's names: of repeated positions scatter's last write wins;
    # scatter_reduce's amax shares a tie's gradient, its mean counts x's own value
    OpCase("scatter", lambda x, s: x.scatter(1, ember.tensor(_SCATTER, backend=x.device), s),
           _np_scatter, [((2, 4), (2, 3)), ((2, 3), (3, 5))], SOME_INTS),
    OpCase("scatter_reduce_amax", lambda x, s: x.scatter_reduce(
        1, ember.tensor(_SCATTER, backend=x.device), s, "amax"),
        _np_scatter_reduce("amax", True), [((2, 4), (2, 3)), ((2, 3), (3, 5))], SOME_INTS,
        sample="distinct"),
    OpCase("scatter_reduce_mean", lambda x, s: ember.scatter_reduce(
        x, 1, ember.tensor(_SCATTER, backend=x.device), s, "mean", include_self=False),
        _np_scatter_reduce("mean", False), [((2, 4), (2, 3))], FLOAT, cancels=True),
    OpCase("index_fill", lambda x: x.index_fill(1, ember.tensor([0, 2], backend=x.device), -1.5),
           lambda x: np.where(np.isin(np.arange(x.shape[1]), [0, 2]).reshape(
               (-1,) + (1,) * (x.ndim - 2)), -1.5, x),
           [((2, 3),), ((0, 4),), ((1, 3, 2),)], FLOAT),
    # running extremes: values gathered at the latest index of equal extremes (NaN ranks
    # highest); logcumsumexp: -inf adds nothing, inf gives inf, NaN spreads
    OpCase("cummax", lambda x: ember.cummax(x, -1).values,
           lambda x: np.maximum.accumulate(x, -1) if x.size else x, UNARY[1:], SOME_INTS,
           sample="distinct"),
    # (the reference reverses the order by ~x on unsigned integers, where -x would wrap)
    OpCase("cummin_indices", lambda x: x.cummin(dim=-1).indices,
           lambda x: _np_cummax_indices(~x if x.dtype.kind == "u" else -x), UNARY[1:],
           SOME_INTS, grad=False, out="index", domain=(-3, 3)),
    OpCase("logcumsumexp", lambda x: ember.logcumsumexp(x, -1), _np_logcumsumexp, UNARY[1:],
           domain=(-30, 30), edges=(-1e30, 80.0)),
    OpCase("nansum", lambda x: ember.nansum(ember.where(x > 1, math.nan, x), dim=-1),
           lambda x: np.nansum(np.where(x > 1, np.nan, x), -1), REDUCE, cancels=True),
    OpCase("diff", lambda x: ember.diff(x, n=2, dim=-1, prepend=x[..., :1]),
           lambda x: np.diff(x, 2, -1, prepend=x[..., :1]), [((3, 4),), ((5,),), ((2, 1),)],
           SOME_INTS, cancels=True),
    # log(x) - log1p(-x): -inf at 0, inf at 1, NaN outside [0, 1]; 0 log 0 = 0, as in
    # entropies; sinc is 1 at 0, with gradient 0
    OpCase("logit", ember.logit, lambda x: np.log(x) - np.log1p(-x), domain=(0.02, 0.98),
           edges=(0.5, 0.25, 0.75, 0.999)),
    OpCase("xlogy", ember.xlogy, _np_xlogy, [((3, 4), (3, 4)), ((2, 1, 3), (4, 1))],
           domain=(0.1, 3.0)),
    OpCase("sinc", ember.sinc, _np_sinc, edges=(0.5, 1e10, 1e-20)),
    OpCase("kron", ember.kron, np.kron, [((2, 3), (3, 2)), ((3,), (2, 2)), ((0, 2), (2, 1))],
           SOME_INTS),
    OpCase("cross", lambda a, b: ember.cross(a, b, dim=-1), np.cross,
           [((4, 3), (4, 3)), ((2, 1, 3), (5, 3))], cancels=True),
    # LAPACK's (ember.linalg): on matrices kept well-conditioned, so that float32's and
    # float64's answers are close; singular ones, NaN and inf are tests/test_linalg.py's
    OpCase("linalg_inv", lambda a: ember.linalg.inv(_well(a)), lambda a: np.linalg.inv(_well(a)),
           SQUARE, conditioned=True, double=True),
    OpCase("linalg_det", lambda a: ember.linalg.det(_well(a)), lambda a: np.linalg.det(_well(a)),
           SQUARE, conditioned=True, double=True),
    OpCase("linalg_slogdet", lambda a: ember.linalg.slogdet(-_well(a)).logabsdet,
           lambda a: np.linalg.slogdet(-_well(a))[1], SQUARE, conditioned=True),
    OpCase("linalg_solve", lambda a, b: ember.linalg.solve(_well(a), b),
           lambda a, b: np.linalg.solve(_well(a), b),
           [((3, 3), (3, 2)), ((2, 3, 3), (3, 4)), ((4, 4), (2, 4, 1)), ((0, 2, 2), (2, 1))],
           conditioned=True, cancels=True),
    # LU: a zero pivot is reported (info) or refused (lu_factor), NaN in gives NaN in U;
    # tests/test_linalg.py's, against PyTorch
    OpCase("linalg_lu_factor", lambda a: ember.linalg.lu_factor(_well(a)).LU,
           lambda a: _np_doolittle(_well(a)), SQUARE, conditioned=True, double=True),
    OpCase("linalg_lu_solve", lambda a, b: ember.linalg.lu_solve(
               *ember.linalg.lu_factor(_well(a)), b, adjoint=True),
           lambda a, b: np.linalg.solve(np.swapaxes(_well(a), -1, -2), b),
           [((3, 3), (3, 2)), ((2, 3, 3), (3, 4)), ((4, 4), (2, 4, 1)), ((0, 2, 2), (2, 1))],
           conditioned=True, cancels=True),
    # symmetric: only the lower triangle is read; a zero block of D is reported or refused,
    # 2 x 2 blocks and singular ones are tests/test_linalg.py's; no derivative in A
    OpCase("linalg_ldl_solve", lambda a, b: ember.linalg.ldl_solve(
               *ember.linalg.ldl_factor(_well(a + a.mT)), b),
           lambda a, b: np.linalg.solve(_well(a + np.swapaxes(a, -1, -2)), b),
           [((3, 3), (3, 2)), ((2, 3, 3), (3, 4)), ((4, 4), (2, 4, 1)), ((0, 2, 2), (2, 1))],
           conditioned=True, cancels=True, grad=False),
    # tau = 0 is the identity; NaN spreads along what a reflector mixes
    OpCase("linalg_householder_product", ember.linalg.householder_product, _np_householder,
           [((4, 3), (3,)), ((2, 5, 3), (2, 2)), ((3, 1), (1,)), ((0, 3, 2), (0, 2))],
           cancels=True),
    OpCase("linalg_cholesky", lambda a: ember.linalg.cholesky(_spd(a)),
           lambda a: np.linalg.cholesky(_spd(a)), SQUARE, conditioned=True, double=True),
    OpCase("linalg_eigh", lambda a: ember.linalg.eigh(a + a.mT).eigenvectors ** 2,
           lambda a: np.linalg.eigh(a + a.mT)[1] ** 2, SQUARE, conditioned=True),
    # geev's eigenvalues of a symmetric matrix, sorted, against eigh's; NaN or inf in is a
    # LinAlgError, general matrices and phases are tests/test_linalg.py's; complex64 from
    # 16-bit floats (there is no complex32), so those stay out
    OpCase("linalg_eigvals", lambda a: ember.sort(ember.linalg.eigvals(a + a.mT).real, -1)[0],
           lambda a: np.linalg.eigvalsh(a + np.swapaxes(a, -1, -2)), SQUARE,
           (dt.float32, dt.float64), conditioned=True),
    OpCase("linalg_eigvalsh", lambda a: ember.linalg.eigvalsh(a + a.mT),
           lambda a: np.linalg.eigvalsh(a + a.mT), SQUARE, conditioned=True),
    OpCase("linalg_svdvals", ember.linalg.svdvals, lambda a: np.linalg.svd(a, compute_uv=False),
           RECTANGULAR, conditioned=True, double=True),
    OpCase("linalg_svd", lambda a: ember.linalg.svd(a, full_matrices=False).U ** 2,
           lambda a: np.linalg.svd(a, full_matrices=False)[0] ** 2, RECTANGULAR,
           conditioned=True),
    OpCase("linalg_qr", lambda a: ember.linalg.qr(a).R, lambda a: np.linalg.qr(a)[1],
           RECTANGULAR, conditioned=True),
    OpCase("linalg_pinv", ember.linalg.pinv, np.linalg.pinv, RECTANGULAR, conditioned=True),
    OpCase("linalg_matrix_exp", ember.linalg.matrix_exp, _np_expm, SQUARE, conditioned=True,
           double=True),
    # ember.fft (a host step, as LAPACK's), seen through real parts so that every gradcheck
    # runs complex autograd; each output sums its whole line, so NaN or inf spreads along
    # it, and the error is relative to the inputs' size (cancels)
    OpCase("fft_rfft_abs", lambda a: ember.abs(ember.fft.rfft(a)),
           lambda a: np.abs(np.fft.rfft(a)), SIGNALS, SPECTRAL, cancels=True, double=True),
    OpCase("fft_fft2_real", lambda a: ember.real(ember.fft.fft2(a * a, norm="ortho")),
           lambda a: np.real(np.fft.fft2(a * a, norm="ortho")), RECTANGULAR, SPECTRAL,
           cancels=True, double=True),
    OpCase("fft_irfft", lambda a: ember.fft.irfft(a, norm="forward"),
           lambda a: np.fft.irfft(a, norm="forward"), HALF_SPECTRA, SPECTRAL, cancels=True),
    OpCase("fft_ihfft_imag", lambda a: ember.imag(ember.fft.ihfft(a, n=5)),
           lambda a: np.imag(np.fft.ihfft(a, n=5)), SIGNALS, SPECTRAL, cancels=True),
]

CASES = {c.name: c for c in OPS}
