"""ember.linalg against torch.linalg (the oracle, where installed) on every backend: values,
first and second derivatives, the results' names, and the edges: singular and
non-positive-definite matrices, NaN, 0 x 0 matrices and empty batches, 16-bit floats,
and what PyTorch refuses."""

import math
import re

import numpy as np
import pytest

import ember
from ember.plugins.optim import SGD

torch = pytest.importorskip("torch", reason="PyTorch is the oracle here (pip install torch)")


def _matrix(shape, seed=0, kind="general"):
    """Float64 test matrices: general ones kept well away from singular, symmetric
    positive-definite, symmetric with spread eigenvalues, or rectangular."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    n = shape[-1]
    if kind == "general":
        return a + 2.0 * n ** 0.5 * np.eye(n)
    if kind == "spd":
        return a @ np.swapaxes(a, -1, -2) + n * np.eye(n)
    if kind == "symmetric":
        return a + np.swapaxes(a, -1, -2) + np.diag(np.arange(n) * 2.0)
    return a


def _weights(shape, seed):
    return np.random.default_rng(1000 + seed).standard_normal(shape)


def _eig_rebuilt(L, A):
    """The real part of V diag(L) V^-1 from one eig: what no eigenvector's phase changes."""
    w, v = L.eig(A)
    return (v * w.unsqueeze(-2) @ L.inv(v)).real


#: (name, inputs as (shape, kind), loss(linalg, A...) -> a tensor invariant under the
#: decompositions' sign choices); both libraries run the same expression
CASES = [
    ("inv", [((2, 4, 4), "general")], lambda L, A: L.inv(A)),
    ("det", [((3, 4, 4), "general")], lambda L, A: L.det(A)),
    ("slogdet", [((2, 3, 3), "general")],
     lambda L, A: L.slogdet(-A).logabsdet * L.slogdet(-A).sign),
    ("solve", [((2, 4, 4), "general"), ((2, 4, 3), "rect")], lambda L, A, B: L.solve(A, B)),
    ("solve_vector", [((4, 4), "general"), ((4,), "rect")], lambda L, A, b: L.solve(A, b)),
    ("solve_broadcast", [((3, 3), "general"), ((2, 3, 2), "rect")], lambda L, A, B: L.solve(A, B)),
    ("solve_right", [((2, 4, 4), "general"), ((2, 3, 4), "rect")],
     lambda L, A, B: L.solve(A, B, left=False)),
    ("cholesky", [((2, 4, 4), "spd")], lambda L, A: L.cholesky(A)),
    ("cholesky_upper", [((4, 4), "spd")], lambda L, A: L.cholesky(A, upper=True)),
    ("eigh", [((2, 4, 4), "symmetric")],
     lambda L, A: (L.eigh(A).eigenvalues, L.eigh(A).eigenvectors ** 2)),
    ("eigh_upper", [((4, 4), "symmetric")], lambda L, A: L.eigh(A, UPLO="U")[1] ** 2),
    ("eigvalsh", [((2, 4, 4), "symmetric")], lambda L, A: L.eigvalsh(A)),
    ("svd_tall", [((2, 5, 3), "rect")],
     lambda L, A: (L.svd(A, full_matrices=False).U ** 2, L.svd(A, full_matrices=False).S,
                   L.svd(A, full_matrices=False).Vh ** 2)),
    ("svd_wide", [((3, 5), "rect")],
     lambda L, A: (L.svd(A, full_matrices=False)[0] ** 2, L.svd(A, full_matrices=False)[2] ** 2)),
    ("svd_square_full", [((4, 4), "rect")], lambda L, A: L.svd(A)[0] ** 2 * L.svd(A)[1]),
    ("svdvals", [((2, 3, 5), "rect")], lambda L, A: L.svdvals(A)),
    ("qr_tall", [((2, 5, 3), "rect")], lambda L, A: (L.qr(A).Q, L.qr(A).R)),
    ("qr_wide", [((3, 5), "rect")], lambda L, A: (L.qr(A)[0], L.qr(A)[1])),
    ("qr_square", [((4, 4), "rect")], lambda L, A: L.qr(A)[0] * 2 + L.qr(A)[1]),
    ("pinv_tall", [((5, 3), "rect")], lambda L, A: L.pinv(A)),
    ("pinv_wide", [((2, 3, 5), "rect")], lambda L, A: L.pinv(A)),
    ("pinv_hermitian", [((4, 4), "symmetric")], lambda L, A: L.pinv(A, hermitian=True)),
    ("matrix_power", [((2, 3, 3), "general")],
     lambda L, A: (L.matrix_power(A, 5), L.matrix_power(A, -2), L.matrix_power(A, 0))),
    ("matrix_norm", [((2, 4, 3), "rect")],
     lambda L, A: tuple(L.matrix_norm(A, o) for o in ("fro", "nuc", 2, -2, 1, -1, math.inf,
                                                         -math.inf))),
    ("matrix_norm_dims", [((4, 2, 3), "rect")],
     lambda L, A: (L.matrix_norm(A, 1, dim=(0, 2), keepdim=True),
                   L.matrix_norm(A, "nuc", dim=(2, 0)))),
    ("norm", [((3, 4), "rect")],
     lambda L, A: (L.norm(A), L.norm(A, 1), L.norm(A, "fro"), L.norm(A, dim=1),
                   L.norm(A, 3, dim=0, keepdim=True), L.norm(A[0], math.inf))),
    ("vector_norm", [((3, 4), "rect")],
     lambda L, A: (L.vector_norm(A), L.vector_norm(A, 1, dim=(0, 1)),
                   L.vector_norm(A, -math.inf, 0))),
    # the other orders' values are test_torch_top_level_names's (PyTorch 2.13's cond in
    # them fails its own backward: "modified by an inplace operation")
    ("cond", [((2, 4, 4), "general")], lambda L, A: tuple(L.cond(A, p) for p in (None, 2, -2))),
    ("solve_triangular", [((2, 4, 4), "general"), ((2, 4, 2), "rect")],
     lambda L, A, B: (L.solve_triangular(A, B, upper=True),
                      L.solve_triangular(A, B, upper=False, unitriangular=True),
                      L.solve_triangular(A, B.mT, upper=True, left=False))),
    ("lstsq", [((2, 5, 3), "rect"), ((2, 5, 2), "rect")],
     lambda L, A, B: (L.lstsq(A, B).solution, L.lstsq(A, B, driver="gelsd").singular_values)),
    ("multi_dot", [((3, 4), "rect"), ((4, 2), "rect"), ((2, 5), "rect"), ((5,), "rect")],
     lambda L, A, B, C, d: L.multi_dot([A[0], B, C, d])),
    ("matrix_exp", [((2, 3, 3), "rect")], lambda L, A: (L.matrix_exp(A), L.matrix_exp(A * 4.0))),
    ("tensorinv_tensorsolve", [((4, 2, 2, 4), "rect"), ((4, 2), "rect")],
     lambda L, A, B: (L.tensorinv(A, ind=2), L.tensorsolve(A, B),
                      L.tensorsolve(A.permute(2, 3, 0, 1), B, dims=(0, 1)))),
    ("lu_factor", [((2, 4, 4), "general")], lambda L, A: L.lu_factor(A)),
    ("lu_factor_ex_tall", [((2, 5, 3), "rect")], lambda L, A: L.lu_factor_ex(A)),
    ("lu_factor_ex_wide", [((3, 5), "rect")], lambda L, A: L.lu_factor_ex(A)[:2]),
    ("lu", [((2, 4, 4), "rect")], lambda L, A: L.lu(A)),
    ("lu_tall", [((2, 5, 3), "rect")], lambda L, A: L.lu(A)),
    ("lu_wide", [((3, 5), "rect")], lambda L, A: L.lu(A)),
    ("lu_solve", [((2, 4, 4), "general"), ((3, 1, 4, 2), "rect")],
     lambda L, A, B: tuple(L.lu_solve(*L.lu_factor(A), C, left=left, adjoint=adjoint)
                           for C, left in ((B, True), (B.mT, False)) for adjoint in (False, True))),
    # 16 or more matrices of at most 8 x 8 are factored across the batch, not by LAPACK
    ("lu_many_small", [((20, 3, 3), "general"), ((20, 3, 2), "rect")],
     lambda L, A, B: (L.lu_factor_ex(A), L.lu_solve(*L.lu_factor(A), B),
                      L.lu_solve(*L.lu_factor(A), B, adjoint=True))),
    ("solve_ex_inv_ex", [((2, 4, 4), "general"), ((2, 4), "rect")],
     lambda L, A, b: (L.solve_ex(A, b), L.solve_ex(A, b.unsqueeze(-2), left=False).result,
                      L.inv_ex(A))),
    # eigenvectors are fixed up to a phase: compared through |V| and V diag(L) V^-1
    ("eig", [((2, 4, 4), "rect")],
     lambda L, A: (L.eigvals(A).real, L.eigvals(A).imag, L.eig(A).eigenvectors.abs(),
                   _eig_rebuilt(L, A))),
    ("eig_symmetric", [((3, 3), "symmetric")],
     lambda L, A: (L.eigvals(A).real, L.eig(A).eigenvectors.abs())),
    ("householder_product", [((2, 5, 3), "rect"), ((2, 2), "rect")],
     lambda L, A, tau: (L.householder_product(A, tau), L.householder_product(A[0, :3], tau[0]))),
    ("vander_vecdot_cross", [((2, 3), "rect"), ((2, 3), "rect")],
     lambda L, x, y: (L.vander(x), L.vander(x, N=5), L.vecdot(x, y), L.cross(x, y),
                      L.diagonal(L.vander(x), offset=1))),
]
IDS = [c[0] for c in CASES]


def _flat(out):
    """The tensors of a result, nested tuples (solve_ex's, lu's) taken apart."""
    if isinstance(out, (tuple, list)):
        return [t for part in out for t in _flat(part)]
    return [out]


def _inputs(case, seed=0):
    return [_matrix(shape, seed + i, kind) for i, (shape, kind) in enumerate(case[1])]


def _widest(backend):
    return ember.float64 if ember.float64 in backend.dtypes else ember.float32


def _t(a):
    """``a`` on the backend under test in its widest float."""
    return ember.tensor(a, dtype=_widest(ember.get_backend(None)))


def _close(got, want, rel, what, scale=None):
    """Each result within ``rel`` of the largest magnitude of torch's (norm-wise relative
    error: a tiny wrong entry cannot hide, a large one is judged against its scale), or
    of ``scale`` where the answer is 0 and its rounding is judged against the inputs'."""
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, f"{what}: shape {got.shape}, torch {want.shape}"
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=what)
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want), err_msg=what)
    finite = np.isfinite(want)
    if finite.any():
        scale = max(np.abs(want[finite]).max(), scale or np.finfo(np.float64).tiny)
        err = np.abs(got[finite] - want[finite]).max() / scale
        assert err <= rel, f"{what}: relative error {err:.2e} > {rel:.0e}"


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_values_and_gradients_match_torch(backend, case):
    """Values in float32 and in the backend's widest float, and the gradient of a weighted
    sum of every output, against PyTorch in float64."""
    name, _, fn = case
    arrays = _inputs(case)
    wide = _widest(backend)
    want = _flat(fn(torch.linalg, *[torch.tensor(a) for a in arrays]))
    got32 = _flat(fn(ember.linalg, *[ember.tensor(a, dtype=ember.float32) for a in arrays]))
    for g, w in zip(got32, want):
        _close(g.numpy(), w.numpy(), 2e-5 * 10 if name == "cond" else 2e-5, f"{name} float32")
    xs = [ember.tensor(a, dtype=wide, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    outs = _flat(fn(ember.linalg, *xs))
    touts = _flat(fn(torch.linalg, *ts))
    weights = [_weights(tuple(t.shape), k) for k, t in enumerate(touts)]
    loss = sum(((o * ember.tensor(w, dtype=wide)).sum() for o, w in zip(outs, weights)
                if o.dtype.is_float), ember.tensor(0.0, dtype=wide))
    tloss = sum((o * torch.tensor(w)).sum() for o, w in zip(touts, weights)
                if o.is_floating_point())
    loss.backward()
    tloss.backward()
    rel = 1e-9 if wide is ember.float64 else 2e-4
    for k, (x, t) in enumerate(zip(xs, ts)):
        _close(x.grad.numpy(), t.grad.numpy(), rel, f"{name}: gradient of input {k}")


SECOND = {   # second derivatives: their gradients are ember ops again
    "inv": lambda L, A: L.inv(A),
    "det": lambda L, A: L.det(A),
    "slogdet": lambda L, A: L.slogdet(A)[1],
    "cholesky": lambda L, A: L.cholesky(A),
    "solve": lambda L, A: L.solve(A, A.mT[..., :2] ** 2),
    "eigvalsh": lambda L, A: L.eigvalsh(A + A.mT),
    "svdvals": lambda L, A: L.svdvals(A),
    "matrix_exp": lambda L, A: L.matrix_exp(A * 0.5),
    "lu_factor": lambda L, A: L.lu_factor(A).LU,
    "eigvals": lambda L, A: L.eigvals(A).real,
    "lu_solve": lambda L, A: L.lu_solve(*L.lu_factor(A), A.mT[..., :2] ** 2, adjoint=True),
}


@pytest.mark.parametrize("name", sorted(SECOND))
def test_second_derivatives_match_torch(backend, name):
    wide = _widest(backend)
    if wide is not ember.float64:
        pytest.skip(f"{backend.device} has no float64 to judge second derivatives in")
    fn = SECOND[name]
    a = _matrix((2, 4, 4), 3, "spd" if name == "cholesky" else "general")
    x = ember.tensor(a, dtype=wide, requires_grad=True)
    t = torch.tensor(a, requires_grad=True)
    w = _weights(tuple(fn(torch.linalg, t).shape), 0)
    c = _weights(a.shape, 1)
    (g,) = ember.grad(lambda x: (fn(ember.linalg, x) * ember.tensor(w)).sum())(x),
    (tg,) = torch.autograd.grad((fn(torch.linalg, t) * torch.tensor(w)).sum(), t, create_graph=True)
    (g * ember.tensor(c)).sum().backward()
    (tg * torch.tensor(c)).sum().backward()
    _close(x.grad.numpy(), t.grad.numpy(), 1e-8, f"{name}: second derivative")


# -- the edges ------------------------------------------------------------------------
SINGULAR = np.array([[[2.0, 1.0, 0.0], [1.0, 3.0, 1.0], [0.0, 1.0, 4.0]],
                     [[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]]])   # the second: rank 2


def test_a_singular_matrix_is_a_linalg_error_naming_it(backend):
    A = _t(SINGULAR)
    for fn in (lambda: ember.linalg.inv(A), lambda: ember.linalg.solve(A, A[..., :1])):
        with pytest.raises(ember.LinAlgError, match=r"batch index \(1,\)\) is singular.*pinv"):
            fn()
        with pytest.raises(torch.linalg.LinAlgError):      # as PyTorch refuses it
            torch.linalg.inv(torch.tensor(SINGULAR))
    assert issubclass(ember.linalg.LinAlgError, ValueError)


def _cofactors(a):
    """The cofactor matrix from its definition: signed determinants of the minors."""
    n = a.shape[-1]
    out = np.empty_like(a)
    for i in range(n):
        for j in range(n):
            minor = np.delete(np.delete(a, i, -2), j, -1)
            out[..., i, j] = (-1) ** (i + j) * np.linalg.det(minor)
    return out


def test_det_of_singular_matrices_is_zero_with_its_cofactors_as_gradient(backend):
    """det 0, and its gradient the cofactors, finite at rank n-1 and 0 at rank n-2. (At
    the rank-2 matrix PyTorch 2.13 gives a zero gradient, though moving one entry moves
    the determinant: d det / d a_00 is 4 there.)"""
    wide = _widest(backend)
    low = np.outer([1.0, 2.0, 3.0], [1.0, -1.0, 2.0])            # rank 1
    for a in (SINGULAR, low):
        x = ember.tensor(a, dtype=wide, requires_grad=True)
        d = ember.linalg.det(x)
        d.sum().backward()
        _close(d.numpy(), np.linalg.det(a), 1e-6, "det of singular")
        _close(x.grad.numpy(), _cofactors(a), 1e-6 if wide is ember.float64 else 1e-5,
               "det's gradient at a singular matrix", scale=np.abs(a).max() ** 2)


def test_slogdet_and_logdet_of_singular_and_negative(backend):
    got = ember.linalg.slogdet(_t(SINGULAR))
    want = torch.linalg.slogdet(torch.tensor(SINGULAR))
    _close(got.sign.numpy(), want.sign.numpy(), 0, "slogdet sign")
    _close(got.logabsdet.numpy(), want.logabsdet.numpy(), 1e-6, "slogdet logabsdet")
    flipped = SINGULAR[:1] * np.array([[-1.0], [1.0], [1.0]])    # det < 0: logdet NaN
    for a in (SINGULAR, flipped):
        _close(ember.logdet(_t(a)).numpy(), torch.logdet(torch.tensor(a)).numpy(),
               1e-6, "logdet")


def test_cholesky_names_the_first_bad_minor_and_cholesky_ex_reports_it(backend):
    bad = np.array([[[4.0, 2.0], [2.0, 3.0]], [[1.0, 2.0], [2.0, 1.0]]])
    with pytest.raises(ember.LinAlgError, match=r"batch index \(1,\)\) is not positive-"
                                                r"definite \(its leading minor of order 2"):
        ember.linalg.cholesky(_t(bad))
    with pytest.raises(torch.linalg.LinAlgError, match="leading minor of order 2"):
        torch.linalg.cholesky(torch.tensor(bad))
    L, info = ember.linalg.cholesky_ex(_t(bad))
    tL, tinfo = torch.linalg.cholesky_ex(torch.tensor(bad))
    np.testing.assert_array_equal(info.numpy(), tinfo.numpy())
    assert info.dtype is ember.int32
    _close(L.numpy()[0], tL.numpy()[0], 1e-6, "cholesky_ex's good matrix")
    assert np.isnan(L.numpy()[1]).all()      # PyTorch leaves it undefined; ember says so
    with pytest.raises(ember.LinAlgError):
        ember.linalg.cholesky_ex(_t(bad), check_errors=True)


def test_nan_and_inf(backend):
    """NaN in gives NaN out where LAPACK finishes (inv, det, eigh), as PyTorch's; cholesky
    and svd cannot finish on it (PyTorch refuses both) and say the input holds inf or NaN."""
    a = np.eye(3)
    a[2, 1] = np.nan      # in the lower triangle, which cholesky and eigh read
    for fn in ("inv", "det", "eigvalsh"):
        got = getattr(ember.linalg, fn)(_t(a)).numpy()
        want = getattr(torch.linalg, fn)(torch.tensor(a)).numpy()
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=fn)
    for fn in ("cholesky", "svd"):
        with pytest.raises(ember.LinAlgError, match="holds inf or NaN"):
            getattr(ember.linalg, fn)(_t(a))
        with pytest.raises(torch.linalg.LinAlgError):
            getattr(torch.linalg, fn)(torch.tensor(a))


def test_empty_matrices_and_batches(backend):
    """0 x 0: det 1, slogdet (1, 0), inv empty (as PyTorch); empty batches keep their shape."""
    z = ember.zeros((0, 0))
    assert float(ember.linalg.det(z)) == 1.0 == float(torch.linalg.det(torch.zeros(0, 0)))
    sign, logabs = ember.linalg.slogdet(z)
    assert (float(sign), float(logabs)) == (1.0, 0.0)
    assert ember.linalg.inv(z).shape == (0, 0)
    batch = ember.zeros((0, 3, 3))
    assert ember.linalg.inv(batch).shape == (0, 3, 3)
    assert ember.linalg.det(batch).shape == (0,)
    assert ember.linalg.svd(ember.zeros((0, 3, 2)), full_matrices=False).S.shape == (0, 2)
    assert ember.linalg.eigh(batch).eigenvalues.shape == (0, 3)


def test_norms_and_condition_numbers_of_matrices_with_no_entries_are_pytorchs(backend):
    """A matrix with no singular values: its 2-norm, like its nuclear norm, is 0, and so is
    its condition number, as PyTorch's (ember indexed the first singular value); its -2
    norm, the smallest singular value, is refused, as PyTorch refuses it."""
    for shape in ((0, 0), (3, 0), (0, 3), (2, 0, 0)):
        z, tz = ember.zeros(shape), torch.zeros(shape)
        for name, got, want in (
                ("2-norm", ember.linalg.matrix_norm(z, 2), torch.linalg.matrix_norm(tz, 2)),
                ("nuc", ember.linalg.matrix_norm(z, "nuc"), torch.linalg.matrix_norm(tz, "nuc")),
                ("cond", ember.linalg.cond(z), torch.linalg.cond(tz))):
            assert got.shape == tuple(want.shape), (shape, name)
            np.testing.assert_array_equal(got.numpy(), want.numpy(), err_msg=f"{shape} {name}")
        with pytest.raises(ember.ShapeError, match="ord=-2 is the smallest singular value, and "
                           "a matrix of shape " + re.escape(str(shape[-2:])) + " has none"):
            ember.linalg.matrix_norm(z, -2)


@pytest.mark.parametrize("dtype", [ember.float16, ember.bfloat16])
def test_half_precision_computes_in_float32_and_rounds(backend, dtype):
    if dtype not in backend.dtypes:
        pytest.skip(f"{backend.device} has no {dtype.name}")
    a = _matrix((2, 3, 3), 4)
    x = ember.tensor(a, dtype=dtype)
    got = ember.linalg.inv(x)
    assert got.dtype is dtype
    want = np.linalg.inv(x.to(ember.float32).numpy().astype(np.float64))
    eps = ember.dtypes.finfo(dtype).eps
    _close(got.to(ember.float32).numpy(), want, 4 * eps, f"inv in {dtype.name}")


def test_refusals_name_the_problem(backend):
    with pytest.raises(ember.DTypeError, match="floating-point.*int32.*to\\(ember.float32\\)"):
        ember.linalg.inv(ember.tensor([[1, 2], [3, 4]], dtype=ember.int32))
    with pytest.raises(ember.ShapeError, match=r"square matrices \(..., n, n\), got shape"):
        ember.linalg.det(ember.ones((2, 3)))
    with pytest.raises(ember.ShapeError, match=r"needs 3 rows"):
        ember.linalg.solve(ember.eye(3), ember.ones((2, 2)))
    with pytest.raises(ValueError, match="UPLO"):
        ember.linalg.eigh(ember.eye(2), UPLO="X")
    with pytest.raises(ember.AutogradError, match="mode='reduced'"):
        x = ember.ones((3, 2), requires_grad=True)
        ember.linalg.qr(x, mode="r").R.sum().backward()
    if ember.complex64 in backend.dtypes:
        with pytest.raises(ember.DTypeError, match="inv, solve, eig and eigvals take complex "
                                                   "ones.*array_api.linalg"):
            ember.linalg.det(ember.eye(2).to(ember.complex64))


def test_compiled_functions_replay_lapack(backend):
    """ember.compile records each LAPACK call as one step that replays the host round trip:
    new arguments give new answers, and a singular one is still refused by name."""
    f = ember.compile(lambda A, b: (ember.linalg.solve(A, b), ember.linalg.det(A) * 2.0))
    for seed in range(3):
        a, b = _matrix((3, 3), seed), _matrix((3,), seed + 10, "rect")
        x, d = f(_t(a), _t(b))
        _close(x.numpy(), np.linalg.solve(a, b), 1e-5, f"compiled solve, call {seed}")
        _close(d.numpy(), 2 * np.linalg.det(a), 1e-5, f"compiled det, call {seed}")
    assert "lapack" in str(f.graph(_t(a), _t(b)))
    with pytest.raises(ember.LinAlgError, match="singular"):
        f(_t(SINGULAR[1]), _t(b))


def test_a_compiled_training_step_through_logdet(backend):
    """A Gaussian's negative log-likelihood with a learned Cholesky factor, trained eagerly
    and compiled: the same losses."""
    data = _t(np.random.default_rng(0).standard_normal((32, 3)))

    def run(compiled):
        raw = ember.tensor(np.eye(3) * 0.5, dtype=data.dtype, requires_grad=True)
        opt = SGD([raw], lr=0.05)

        def step(x):
            opt.zero_grad()
            L = ember.tril(raw)
            cov = L @ L.mT + ember.eye(3) * 0.1
            z = ember.linalg.solve(cov, x.mT)
            loss = 0.5 * (x.mT * z).sum() / x.shape[0] + 0.5 * ember.linalg.slogdet(cov)[1]
            loss.backward()
            opt.step()
            return loss.detach()
        fn = ember.compile(step) if compiled else step
        return [float(fn(data)) for _ in range(5)]
    eager, compiled = run(False), run(True)
    _close(np.array(compiled), np.array(eager), 1e-5, "compiled losses")
    assert eager[-1] < eager[0]


def test_torch_top_level_names_and_methods(backend):
    a = _matrix((2, 3, 3), 5)
    x, t = _t(a), torch.tensor(a)
    for name in ("det", "logdet", "inverse", "pinverse", "matrix_exp"):
        _close(getattr(x, name)().numpy(), getattr(t, name)().numpy(), 2e-5, f"Tensor.{name}")
        _close(getattr(ember, name)(x).numpy(), getattr(torch, name)(t).numpy(), 2e-5, name)
    _close(x.slogdet()[1].numpy(), t.slogdet()[1].numpy(), 2e-5, "Tensor.slogdet")
    spd = _matrix((2, 3, 3), 8, "spd")
    for upper in (False, True):
        L, tL = ember.linalg.cholesky(_t(spd), upper=upper), torch.linalg.cholesky(
            torch.tensor(spd), upper=upper)
        _close(ember.cholesky_solve(x, L, upper).numpy(),
               torch.cholesky_solve(t, tL, upper).numpy(), 2e-5, "cholesky_solve")
        _close(L.cholesky_inverse(upper).numpy(), torch.cholesky_inverse(tL, upper).numpy(),
               2e-5, "cholesky_inverse")
    r = _matrix((4, 3), 6, "rect")
    got = ember.linalg.lstsq(_t(r), _t(r[:, :2] + 1.0))
    want = torch.linalg.lstsq(torch.tensor(r), torch.tensor(r[:, :2] + 1.0))
    for field in ("solution", "residuals", "rank", "singular_values"):
        _close(getattr(got, field).numpy(), getattr(want, field).numpy(), 2e-5, f"lstsq {field}")
    _close(ember.linalg.matrix_rank(_t(SINGULAR)).numpy(),
           torch.linalg.matrix_rank(torch.tensor(SINGULAR)).numpy(), 0, "matrix_rank")
    got = ember.linalg.cond(_t(SINGULAR)).numpy()
    want = torch.linalg.cond(torch.tensor(SINGULAR)).numpy()
    _close(got[0], want[0], 1e-5, "cond")
    # the second is singular: its least singular value is rounding (2.7e-16 from one
    # LAPACK, 5.3e-16 from another), so its cond is any number past about 1 / eps
    past = 0.01 / np.finfo(_widest(backend).np).eps
    assert got[1] > past and want[1] > past, f"cond of a singular matrix: {got[1]}"
    for p in ("fro", "nuc", 1, -1, math.inf, -math.inf):
        _close(ember.linalg.cond(x, p).numpy(), torch.linalg.cond(t, p).numpy(), 1e-5, f"cond {p}")


def test_array_api_linalg_differentiates_on_real_floats(backend):
    xp = ember.array_api
    a = _matrix((3, 3), 7)
    x = ember.tensor(a, dtype=_widest(backend), requires_grad=True)
    xp.linalg.det(xp.linalg.inv(x)).backward()
    t = torch.tensor(a, requires_grad=True)
    torch.linalg.det(torch.linalg.inv(t)).backward()
    _close(x.grad.numpy(), t.grad.numpy(), 1e-4, "array_api.linalg gradient")


def test_singular_values_of_rank_deficient_matrices_have_finite_gradients(backend):
    """A loss of S alone, at a tall matrix of rank 1 (two zero singular values): U's and
    V's terms add nothing (not 0 / 0), and the gradient is sum u_i v_i^T, as PyTorch's.
    Its terms of the zero singular values are as arbitrary as their vectors (each LAPACK
    picks its own), so the gradient is held to what every choice shares: u1 v1^T along
    u1 and v1, and a spectral norm of 1 (S.sum() is the nuclear norm; this is a
    subgradient of it)."""
    x_, y_ = np.array([1.0, 2.0, 0.5, -1.0]), np.array([1.0, -1.0, 2.0])
    u1, v1 = x_ / np.linalg.norm(x_), y_ / np.linalg.norm(y_)
    x = ember.tensor(np.outer(x_, y_), dtype=_widest(backend), requires_grad=True)
    t = torch.tensor(np.outer(x_, y_), requires_grad=True)
    ember.linalg.svd(x, full_matrices=False).S.sum().backward()
    torch.linalg.svd(t, full_matrices=False).S.sum().backward()
    for grad, who in ((x.grad.numpy().astype(np.float64), "ember"), (t.grad.numpy(), "torch")):
        assert np.isfinite(grad).all(), who
        rel = 1e-6 if who == "torch" or x.dtype is ember.float64 else 1e-5
        _close(grad @ v1, u1, rel, f"{who}: the S gradient at rank 1, times v1")
        _close(u1 @ grad, v1, rel, f"{who}: u1 times the S gradient at rank 1")
        _close(np.linalg.norm(grad, 2), 1.0, rel, f"{who}: its spectral norm")


def test_lu_of_singular_matrices_reports_or_refuses_them_as_pytorch(backend):
    """A zero pivot: lu_factor refuses it naming the matrix, lu_factor_ex and lu return
    PyTorch's factors and info, solve_ex and inv_ex PyTorch's inf and NaN, and each
    ``check_errors`` refuses it."""
    A, tA = _t(SINGULAR), torch.tensor(SINGULAR)
    with pytest.raises(ember.LinAlgError, match=r"lu_factor: the input \(batch index \(1,\)\) "
                                                r"is singular.*diagonal position 3.*lu_factor_ex"):
        ember.linalg.lu_factor(A)
    with pytest.raises(RuntimeError, match="U.3,3. is zero"):
        torch.linalg.lu_factor(tA)
    got, want = ember.linalg.lu_factor_ex(A), torch.linalg.lu_factor_ex(tA)
    for g, w, what in zip(got, want, ("LU", "pivots", "info")):
        assert g.dtype is (ember.int32 if what != "LU" else A.dtype), what
        _close(g.numpy(), w.numpy(), 1e-6, f"lu_factor_ex's {what} of singular matrices",
               scale=1.0)
    for g, w, what in zip(ember.linalg.lu(A), torch.linalg.lu(tA), "PLU"):
        _close(g.numpy(), w.numpy(), 1e-6, f"lu's {what} of singular matrices", scale=1.0)
    b = np.ones((2, 3))
    for got, want in ((ember.linalg.solve_ex(A, _t(b)), torch.linalg.solve_ex(tA, torch.tensor(b))),
                      (ember.linalg.inv_ex(A), torch.linalg.inv_ex(tA))):
        np.testing.assert_array_equal(got[1].numpy(), want[1].numpy())
        np.testing.assert_array_equal(np.isfinite(got[0].numpy()[1]), np.isfinite(want[0].numpy()[1]))
        _close(got[0].numpy()[0], want[0].numpy()[0], 1e-6, "the invertible one")
    for fn in (lambda: ember.linalg.solve_ex(A, _t(b), check_errors=True),
               lambda: ember.linalg.inv_ex(A, check_errors=True),
               lambda: ember.linalg.lu_factor_ex(A, check_errors=True)):
        with pytest.raises(ember.LinAlgError, match=r"batch index \(1,\)\) is singular"):
            fn()
    with pytest.raises(ember.LinAlgError, match="pivot=False.*getrf"):
        ember.linalg.lu(A, pivot=False)
    many = np.concatenate([SINGULAR, np.zeros((1, 3, 3)), SINGULAR[:, :, ::-1]] * 4)
    got, want = ember.linalg.lu_factor_ex(_t(many)), torch.linalg.lu_factor_ex(
        torch.tensor(many))     # 20 small matrices: factored across the batch
    for g, w, what in zip(got, want, ("LU", "pivots", "info")):
        _close(g.numpy(), w.numpy(), 1e-6, f"lu_factor_ex's {what} of many", scale=1.0)


def test_lu_edges_empty_half_nan_and_refusals(backend):
    for shape in ((0, 3, 3), (0, 0), (2, 0, 3), (2, 3, 0)):
        z, tz = ember.zeros(shape), torch.zeros(shape)
        for g, w in zip(_flat(ember.linalg.lu_factor_ex(z)) + _flat(ember.linalg.lu(z)),
                        _flat(torch.linalg.lu_factor_ex(tz)) + _flat(torch.linalg.lu(tz))):
            assert g.shape == tuple(w.shape), shape
    LU, piv = ember.linalg.lu_factor(ember.eye(3).unsqueeze(0)[:0])
    assert ember.linalg.lu_solve(LU, piv, ember.ones((0, 3, 2))).shape == (0, 3, 2)
    a = _matrix((2, 4, 4), 3)
    for dtype in (ember.float16, ember.bfloat16):
        if dtype in backend.dtypes:
            x = ember.tensor(a, dtype=dtype)
            LU, piv = ember.linalg.lu_factor(x)
            assert LU.dtype is dtype and piv.dtype is ember.int32
            want = torch.linalg.lu_factor(torch.tensor(x.to(ember.float32).numpy()))
            np.testing.assert_array_equal(piv.numpy(), want.pivots.numpy())
            _close(LU.to(ember.float32).numpy(), want.LU.numpy(), 2 * ember.finfo(dtype).eps,
                   f"lu_factor in {dtype.name}")
    nan = np.eye(3)
    nan[1, 0] = np.nan
    assert np.isnan(ember.linalg.lu(_t(nan)).U.numpy()).any(), "NaN in, NaN in U"
    LU, piv = ember.linalg.lu_factor(_t(a))
    with pytest.raises(ember.ShapeError, match=r"pivots must be lu_factor's.*\(2, 4\)"):
        ember.linalg.lu_solve(LU, piv[..., :3], _t(a))
    with pytest.raises(ember.IndexingError, match="pivot 9 names no row of a 4-row matrix"):
        ember.linalg.lu_solve(LU, piv * 0 + 9, _t(a))
    with pytest.raises(ember.ShapeError, match=r"B \(2, 3, 1\) must be \(..., 4, k\)"):
        ember.linalg.lu_solve(LU, piv, ember.ones((2, 3, 1)))


@pytest.mark.filterwarnings("ignore:torch.lu")
def test_lu_compiles_and_has_pytorchs_top_level_names(backend):
    """lu_factor and lu_solve replay as host steps of a compiled function; torch.lu,
    torch.lu_solve, torch.lu_unpack and the Tensor methods are ember's too."""
    f = ember.compile(lambda A, B: ember.linalg.lu_solve(*ember.linalg.lu_factor(A), B))
    for seed in range(2):
        a, b = _matrix((2, 3, 3), seed), _matrix((2, 3, 2), seed + 5, "rect")
        _close(f(_t(a), _t(b)).numpy(), np.linalg.solve(a, b), 1e-5, f"compiled lu_solve {seed}")
    a, b = _matrix((2, 4, 4), 7), _matrix((2, 4, 3), 8, "rect")
    x, t = _t(a), torch.tensor(a)
    got, want = ember.lu(x, get_infos=True), torch.lu(t, get_infos=True)
    for g, w in zip(got + x.lu(), want + t.lu()):
        _close(g.numpy(), w.numpy(), 2e-5, "torch.lu")
    _close(ember.lu_solve(_t(b), *got[:2]).numpy(), torch.lu_solve(torch.tensor(b), *want[:2]).numpy(),
           2e-5, "torch.lu_solve")
    _close(_t(b).lu_solve(*got[:2]).numpy(), torch.tensor(b).lu_solve(*want[:2]).numpy(), 2e-5,
           "Tensor.lu_solve")
    for g, w in zip(ember.lu_unpack(*got[:2]), torch.lu_unpack(*want[:2])):
        _close(g.numpy(), w.numpy(), 2e-5, "torch.lu_unpack")
    P, L, U = ember.lu_unpack(*got[:2], unpack_data=False)
    assert L.shape == U.shape == (0,) and P.shape == (2, 4, 4)


def test_householder_reflectors_match_torch(backend):
    """geqrf's values, and ormqr's on each side and transposed, values and gradients in
    the input, tau and the other operand; geqrf has no derivative, as in PyTorch."""
    wide = _widest(backend)
    a = _matrix((2, 5, 3), 11, "rect")
    got, want = ember.geqrf(_t(a)), torch.geqrf(torch.tensor(a))
    for g, w, what in zip(got + _t(a).geqrf(), want + want, ("a", "tau") * 2):
        _close(g.numpy(), w.numpy(), 2e-5 if wide is ember.float32 else 1e-12, f"geqrf {what}")
    h, tau = want
    c = _matrix((2, 5, 4), 12, "rect")
    for left in (True, False):
        for transpose in (False, True):
            other = c if left else np.swapaxes(c, -1, -2)
            xs = [ember.tensor(v.numpy() if hasattr(v, "numpy") else v, dtype=wide,
                               requires_grad=True) for v in (h, tau, other)]
            ts = [torch.tensor(v.numpy() if hasattr(v, "numpy") else v, requires_grad=True)
                  for v in (h, tau, other)]
            out, tout = ember.ormqr(*xs, left, transpose), torch.ormqr(*ts, left, transpose)
            what = f"ormqr left={left} transpose={transpose}"
            _close(out.detach().numpy(), tout.detach().numpy(), 1e-5, what)
            w = _weights(tuple(tout.shape), 3)
            (out * ember.tensor(w, dtype=wide)).sum().backward()
            (tout * torch.tensor(w)).sum().backward()
            for k, (x, t) in enumerate(zip(xs, ts)):
                _close(x.grad.numpy(), t.grad.numpy(), 1e-9 if wide is ember.float64 else 2e-4,
                       f"{what}: gradient of input {k}")
    _close(_t(h.numpy()).orgqr(_t(tau.numpy())).numpy(), torch.orgqr(h, tau).numpy(), 1e-5,
           "Tensor.orgqr")
    x = ember.tensor(a, dtype=wide, requires_grad=True)
    with pytest.raises(ember.AutogradError, match="geqrf: has no derivative.*linalg.qr"):
        ember.geqrf(x).a.sum().backward()
    with pytest.raises(ember.ShapeError, match="at least as many rows"):
        ember.linalg.householder_product(_t(a).mT, _t(tau.numpy()))
    with pytest.raises(ember.ShapeError, match=r"tau must hold at most 3"):
        ember.linalg.householder_product(_t(a), ember.ones((2, 4)))
    with pytest.raises(ember.ShapeError, match="needs 5 rows"):
        ember.ormqr(_t(a), _t(tau.numpy()), ember.ones((2, 4, 4)))
    z = ember.zeros((0, 3))
    assert ember.geqrf(z).tau.shape == (0,) and ember.geqrf(z).a.shape == (0, 3)
    assert ember.linalg.householder_product(ember.zeros((3, 0)), ember.zeros((0,))).shape == (3, 0)


def test_ldl_factor_and_solve_match_torch(backend):
    """LAPACK's Bunch-Kaufman factors and pivots, as PyTorch's (2 x 2 blocks included),
    solves within rounding, a zero block of D reported or refused by name, and ldl_solve's
    gradient in B."""
    wide = _widest(backend)
    a = _matrix((2, 5, 5), 13, "symmetric")
    a[1][np.diag_indices(5)] = 0.0      # a zero diagonal: 2 x 2 blocks
    got, want = ember.linalg.ldl_factor_ex(_t(a)), torch.linalg.ldl_factor_ex(torch.tensor(a))
    rel = 1e-12 if wide is ember.float64 else 2e-5
    for g, w, what in zip(got, want, ("LD", "pivots", "info")):
        _close(g.numpy(), w.numpy(), rel, f"ldl_factor_ex {what}")
    assert (want.pivots.numpy() < 0).any(), "the case has a 2 x 2 block"
    b = _matrix((3, 1, 5, 2), 14, "rect")
    x = ember.tensor(b, dtype=wide, requires_grad=True)
    X = ember.linalg.ldl_solve(*ember.linalg.ldl_factor(_t(a)), x)
    # (PyTorch 2.13's ldl_solve crashes the process on batches that broadcast)
    tX = torch.linalg.ldl_solve(*want[:2], torch.tensor(b[0, 0]).expand(2, 5, 2))
    _close(X.detach().numpy()[0], tX.numpy(), 1e-5, "ldl_solve")
    _close(X.detach().numpy(), np.linalg.solve(a, b), 1e-5, "ldl_solve, batches broadcast")
    w = _weights(tuple(X.shape), 0)
    (X * ember.tensor(w, dtype=wide)).sum().backward()
    _close(x.grad.numpy(), np.linalg.solve(a, w).sum(1, keepdims=True), 1e-5,
           "ldl_solve's gradient in B")
    singular = np.zeros((2, 2, 2))
    singular[0] = np.eye(2)
    LD, piv, info = ember.linalg.ldl_factor_ex(_t(singular))
    np.testing.assert_array_equal(info.numpy(), torch.linalg.ldl_factor_ex(
        torch.tensor(singular)).info.numpy())
    for fn in (lambda: ember.linalg.ldl_factor(_t(singular)),
               lambda: ember.linalg.ldl_factor_ex(_t(singular), check_errors=True)):
        with pytest.raises(ember.LinAlgError, match=r"batch index \(1,\)\) is singular: its "
                                                    r"factor D .* position 1"):
            fn()
    A = ember.tensor(a, dtype=wide, requires_grad=True)
    with pytest.raises(ember.AutogradError, match="no derivative"):
        ember.linalg.ldl_factor(A).LD.sum().backward()
    with pytest.raises(ember.ShapeError, match=r"B \(5,\) must be \(..., 5, k\)"):
        ember.linalg.ldl_solve(*got[:2], ember.ones(5))
    for bad in ([1, 2, 3, 4, 6], [1, 2, 3, 4, -5], [0, 2, 3, 4, 5], [-2, 2, 3, 4, 5]):
        with pytest.raises(ember.IndexingError, match="not ldl_factor's"):
            ember.linalg.ldl_solve(got.LD[0], ember.tensor(bad, dtype=ember.int32),
                                   ember.ones((5, 1), dtype=got.LD.dtype))
    assert ember.linalg.ldl_factor(ember.zeros((0, 3, 3))).pivots.shape == (0, 3)


def test_eig_edges_and_complex_inputs(backend):
    """Complex inverse, solve and eig against PyTorch's values and gradients; eig of NaN
    refused, of 0 x 0 and empty batches empty, of 16-bit floats complex64; a loss that
    depends on an eigenvector's phase refused, as PyTorch refuses it."""
    cdtype = ember.complex128 if ember.complex128 in backend.dtypes else ember.complex64
    rng = np.random.default_rng(21)
    a = rng.standard_normal((2, 3, 3)) + 1j * rng.standard_normal((2, 3, 3)) + 3 * np.eye(3)
    b = rng.standard_normal((2, 3, 2)) + 1j * rng.standard_normal((2, 3, 2))
    xs = [ember.tensor(v, dtype=cdtype, requires_grad=True) for v in (a, b)]
    ts = [torch.tensor(v, requires_grad=True) for v in (a, b)]
    wv = rng.standard_normal((2, 3, 3))

    def loss(L, A, B, weights):
        w, v = L.eig(A)
        return ((L.solve(A, B).abs() ** 2).sum() + (L.inv(A).real * weights).sum()
                + (w.imag ** 2).sum() + (v.abs() * weights).sum())
    loss(ember.linalg, *xs, ember.tensor(wv, dtype=_widest(backend))).backward()
    loss(torch.linalg, *ts, torch.tensor(wv)).backward()
    rel = 1e-9 if cdtype is ember.complex128 else 2e-4
    for k, (x, t) in enumerate(zip(xs, ts)):
        assert x.grad.dtype is cdtype
        _close(x.grad.numpy().view(np.float32 if cdtype is ember.complex64 else np.float64),
               t.grad.numpy().view(np.float64).astype(np.float64), rel,
               f"complex gradient of input {k}")
    x = ember.tensor(a.real, dtype=_widest(backend), requires_grad=True)
    with pytest.raises(ember.AutogradError, match="up to a phase"):
        ember.linalg.eig(x).eigenvectors.real.sum().backward()
    nan = np.eye(3)
    nan[1, 2] = np.nan
    with pytest.raises(ember.LinAlgError, match="eig: the input holds inf or NaN"):
        ember.linalg.eig(_t(nan))
    with pytest.raises(RuntimeError, match="infs or NaNs"):
        torch.linalg.eig(torch.tensor(nan))
    for shape in ((0, 0), (2, 0, 0), (0, 3, 3)):
        w, v = ember.linalg.eig(ember.zeros(shape))
        tw, tv = torch.linalg.eig(torch.zeros(shape))
        assert (w.shape, v.shape) == (tuple(tw.shape), tuple(tv.shape)), shape
    for dtype, want in ((ember.float32, ember.complex64), (ember.float16, ember.complex64)):
        if dtype in backend.dtypes:
            assert ember.linalg.eigvals(ember.eye(2, dtype=dtype)).dtype is want
