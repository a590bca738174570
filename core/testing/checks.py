"""Checking helpers the suite is built from; third parties may use them directly."""

import contextlib

import numpy as np

import ember
from ember import dtypes as dt
from ember.backend import FAST_PATHS

#: (rtol, atol) against a float64 NumPy reference, per dtype
TOLERANCE = {
    dt.float16: (1e-2, 1e-2),
    dt.bfloat16: (8e-2, 8e-2),   # 8 significand bits to float16's 11
    dt.float32: (1e-4, 1e-5),
    dt.float64: (1e-10, 1e-12),
    dt.bool_: (0, 0), **{d: (0, 0) for d in dt.INTS},
}


def reference_dtype(dtype):
    """The NumPy dtype a float64 reference computes an op of ``dtype`` in: float64 for
    floats, uint64 for unsigned integers (wrapping as they do), int64 for the rest."""
    return np.float64 if dtype.is_float else np.uint64 if dtype.is_unsigned else np.int64


def tolerance(dtype, scale=1.0):
    rtol, atol = TOLERANCE[dtype]
    return rtol * scale, atol * scale


def assert_close(actual, expected, dtype, scale=1.0, what="", floor=0.0):
    """Compare an ember result with a float64 reference by relative error.

    ``floor`` is the magnitude below which relative error means nothing: 0 for ops
    whose result is as precise as its inputs (exp, sigmoid, products...), the inputs'
    largest magnitude for ops that cancel (sums, differences, matmul), whose error
    bound is relative to the terms and not to the result. Below the dtype's smallest
    normal number a result has only absolute precision (a product of float32s at
    1.4e-42 is off by one subnormal step, 1e-3 of it), so the error there is relative
    to that number."""
    got = actual.numpy() if isinstance(actual, ember.Tensor) else np.asarray(actual)
    exp = np.asarray(expected)
    if got.shape != exp.shape:
        raise AssertionError(f"{what}: shape {got.shape}, expected {exp.shape}")
    rtol, _ = tolerance(dtype, scale)
    with np.errstate(all="ignore"):   # the reference as the dtype holds it: overflow is inf
        exp = exp.astype(dtype.np).astype(np.float64) if dtype.is_float else exp
    if dtype.is_float:
        floor = max(floor, float(ember.finfo(dtype).tiny))
    np.testing.assert_allclose(got.astype(np.float64), exp.astype(np.float64), rtol=rtol,
                               atol=rtol * floor, equal_nan=True, err_msg=what)


def ulp_error(got, want, dtype, flushes_subnormals=False, signed_zeros=False):
    """|got - want| in units of ``dtype``'s spacing at the float64 reference ``want``.

    0 where ``got`` is exactly the reference rounded to ``dtype`` (the same NaN or
    infinity; with ``signed_zeros``, the same zero), inf where exactly one of them is NaN
    or infinite (or, with ``signed_zeros``, a zero's sign differs). Where a backend
    flushes subnormals, a zero for a subnormal reference counts as exact."""
    with np.errstate(all="ignore"):     # a signaling NaN's widening raises 'invalid'
        got = np.asarray(got).astype(np.float64)
        want = np.asarray(want, dtype=np.float64)
        ref = want.astype(dtype.np).astype(np.float64)     # overflow rounds to inf
        err = np.abs(got - want) / np.spacing(np.abs(ref).astype(dtype.np)).astype(np.float64)
    same = got == ref
    if signed_zeros:
        same &= np.signbit(got) == np.signbit(ref)
    same |= np.isnan(got) & np.isnan(ref)
    if flushes_subnormals:
        tiny = dt.finfo(dtype).tiny
        same |= (got == 0) & (np.abs(ref) < tiny)
    special = ~np.isfinite(got) | ~np.isfinite(ref) | (got == 0) & (ref == 0)
    return np.where(same, 0.0, np.where(special, np.inf, err))


def assert_ulp(got, want, dtype, ulps, what="", inputs=None, flushes_subnormals=False,
               signed_zeros=False):
    """Every element of ``got`` within ``ulps`` of the float64 reference (see ulp_error);
    the message names the worst input, its result and the reference."""
    err = ulp_error(got, want, dtype, flushes_subnormals, signed_zeros)
    if err.size and err.max() > ulps:
        i = np.unravel_index(np.argmax(err), err.shape)
        at = "" if inputs is None else f" at x = {np.asarray(inputs)[i]!r}"
        raise AssertionError(f"{what} ({dtype.name}): {err[i]:.3g} ULP{at}: got "
                             f"{np.asarray(got)[i]!r}, float64 reference {np.asarray(want)[i]!r} "
                             f"(bound {ulps} ULP)")


def grad_dtype(backend):
    """float64 where the backend has it (the finite-difference check), else float32."""
    return dt.float64 if dt.float64 in backend.dtypes else dt.float32


#: an input of more elements than this is checked by finite differences along PROBES
#: random directions (PyTorch's gradcheck ``fast_mode``), not element by element: a
#: layer's gradcheck took two forwards per parameter element (77 s for the layers on
#: NumPy). A wrong element still shows: its error times a random weight, against the
#: elementwise tolerances' 2-norm (``assert_projected_close``)
ELEMENTWISE_UP_TO, PROBES = 64, 3


def numerical_grads(fn, arrays, backend, dtype, weights, eps, seed=0):
    """Central differences of sum(fn(*xs) * weights) w.r.t. each input: for one of at
    most ELEMENTWISE_UP_TO elements, its gradient; for a larger one, (directions,
    derivatives) along PROBES random directions. Run on ``backend``."""
    def loss(i, step):
        xs = [ember.tensor(a + step if k == i else a, dtype=dtype, backend=backend)
              for k, a in enumerate(arrays)]
        with ember.no_grad():
            out = fn(*xs)
        return float((out.numpy().astype(np.float64) * weights).sum())

    def derivative(i, direction):
        return (loss(i, eps * direction) - loss(i, -eps * direction)) / (2 * eps)

    rng = np.random.default_rng(seed + 1)
    grads = []
    for i, a in enumerate(arrays):
        if a.size <= ELEMENTWISE_UP_TO:
            grads.append(np.array([derivative(i, np.eye(1, a.size, j).reshape(a.shape))
                                   for j in range(a.size)]).reshape(a.shape))
        else:
            directions = rng.standard_normal((PROBES,) + a.shape)
            grads.append((directions, np.array([derivative(i, d) for d in directions])))
    return grads


def assert_projected_close(grad, directions, derivatives, rtol, atol, what):
    """``grad`` (autograd's) against finite differences along ``directions``: each
    derivative within rtol |g v| + atol |v| (2-norms: the elementwise tolerances, far
    above float64's differencing error, adding up as independent errors do)."""
    for v, d in zip(directions, derivatives):
        got = float((grad * v).sum())
        bound = float(rtol * np.linalg.norm(grad * v) + atol * np.linalg.norm(v))
        if not abs(got - d) <= bound:
            raise AssertionError(f"{what}: along a random direction autograd gives {got!r}, "
                                 f"finite differences {d!r} (bound {bound:.3g})")


def analytic_grads(fn, arrays, backend, dtype, weights):
    """Gradients of sum(fn(*xs) * weights) by ember's autograd, as float64 arrays."""
    xs = [ember.tensor(a, dtype=dtype, backend=backend, requires_grad=True) for a in arrays]
    out = fn(*xs)
    w = ember.tensor(weights, dtype=dtype, backend=backend)
    loss = (out * w).sum()
    if loss.requires_grad:  # a constant (the derivative of a linear op) has zero gradient
        loss.backward()
    return [np.zeros(a.shape) if x.grad is None else x.grad.numpy().astype(np.float64)
            for a, x in zip(arrays, xs)]


def gradcheck(fn, arrays, backend, seed=0, scale=1.0, reference=None):
    """Check ember's gradients of ``fn`` on ``backend``.

    On the NumPy backend, the reference: against central finite differences in float64.
    On any other backend: its gradients (float64 where it has it, else float32) against
    the NumPy backend's float64 gradients, which that backend's run of the same check
    verifies by finite differences (one backward per backend instead of two forwards per
    input element, on a device where each launch costs), computed with the fast paths
    ``backend`` lacks hidden on NumPy, so that both compute the same function (the op
    table's gradchecks verify the composed fallbacks on NumPy); ``reference`` is fn's twin
    for NumPy when fn holds tensors of its own (a layer's buffers, a fixed input) on
    ``backend``.
    """
    arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
    dtype = grad_dtype(backend)
    with ember.no_grad():
        out_shape = fn(*[ember.tensor(a, dtype=dtype, backend=backend) for a in arrays]).shape
    weights = np.random.default_rng(seed).standard_normal(out_shape)
    got = analytic_grads(fn, arrays, backend, dtype, weights)
    if backend.name == "numpy":
        want = numerical_grads(fn, arrays, backend, dtype, weights, eps=1e-6, seed=seed)
        rtol, atol = 1e-5 * scale, 1e-7 * scale
    else:
        # the same computation on NumPy: the fast paths ``backend`` lacks are hidden there
        # too, so a composed fallback meets its own gradient (the composed GELU holds
        # float32's precision, NumPy's fast one float64's: 7e-6 apart in a decoder)
        numpy_backend = ember.get_backend("numpy")
        lacking = [name for name in FAST_PATHS if getattr(backend, name, None) is None
                   and getattr(numpy_backend, name, None) is not None]
        with without_fast_paths(numpy_backend, *lacking):
            want = analytic_grads(reference or fn, arrays, numpy_backend, dt.float64, weights)
        rtol, atol = (1e-9, 1e-11) if dtype is dt.float64 else (1e-3, 1e-4)
        rtol, atol = rtol * scale, atol * scale
    for i, (g, w) in enumerate(zip(got, want)):
        if isinstance(w, tuple):
            assert_projected_close(g, *w, rtol, atol, f"gradient of input {i} ({dtype.name})")
        else:
            np.testing.assert_allclose(g, w, rtol=rtol, atol=atol,
                                       err_msg=f"gradient of input {i} ({dtype.name})")


def gradgradcheck(fn, arrays, backend, seed=0, scale=1.0):
    """Check second derivatives: the gradient of <grad fn, v> by gradcheck."""
    arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
    dtype = grad_dtype(backend)
    rng = np.random.default_rng(seed + 1)
    with ember.no_grad():
        out_shape = fn(*[ember.tensor(a, dtype=dtype, backend=backend) for a in arrays]).shape
    w = rng.standard_normal(out_shape)
    vs = [rng.standard_normal(a.shape) for a in arrays]
    n = len(arrays)

    def first_derivative_dot_v(*xs):
        weights = ember.tensor(w, dtype=xs[0].dtype, backend=xs[0].backend)
        grads = ember.grad(lambda *ys: (fn(*ys) * weights).sum(), argnums=tuple(range(n)))(*xs)
        total = None
        for g, v in zip(grads, vs):
            term = (g * ember.tensor(v, dtype=g.dtype, backend=g.backend)).sum()
            total = term if total is None else total + term
        return total

    gradcheck(first_derivative_dot_v, arrays, backend, seed=seed, scale=scale * 10)


def build_example(kind, name, backend, dtype=None, seed=0):
    """(module, example): the registered layer or model ``name`` built from its
    ``example()`` on ``backend`` after seeding, cast to ``dtype`` if given."""
    cls = ember.registry.get(kind, name)
    ex = cls.example()
    ember.manual_seed(seed)
    with ember.backend(backend):
        module = ex.build() if ex.build is not None else cls(**ex.kwargs)
    if dtype is not None:
        module.to(dtype=dtype)
    return module, ex


def other_backend(backend):
    """An available backend other than ``backend``, for the mixed-backend checks; the test
    skips where this machine has only one."""
    import pytest
    for name in ember.registry.names("backends"):
        if name != backend.name and ember.config.availability(name)[0]:
            return ember.get_backend(name)
    pytest.skip("mixed-backend checks need a second available backend")


def expect(condition, message="expectation failed"):
    """An assert that survives ``python -O`` (suite modules are not assert-rewritten)."""
    if not condition:
        raise AssertionError(message)


@contextlib.contextmanager
def without_fast_paths(backend, *names):
    """Within the block, ``backend`` runs the core's composed fallbacks for ``names``
    (fast paths hidden on this instance only), so the two can be compared."""
    saved = {name: backend.__dict__[name] for name in names if name in backend.__dict__}
    for name in names:
        setattr(backend, name, None)
    try:
        yield backend
    finally:
        for name in names:
            if name in saved:
                setattr(backend, name, saved[name])
            else:
                delattr(backend, name)
