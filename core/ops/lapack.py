"""The linear algebra that LAPACK computes: inverses, determinants, solves, and the
Cholesky, symmetric eigen, singular value and QR decompositions, differentiable as
PyTorch's torch.linalg.

No backend has a LAPACK of its own, so every backend computes these values with NumPy's
on a host copy (16-bit floats in float32) through Backend.lapack, which ember.compile
records as one step of the graph and replays; the gradients are PyTorch's formulas
written in ember's ops, on the tensor's own backend, so they differentiate again.

At the edges, as PyTorch: a singular matrix is a LinAlgError naming the first one (inv,
solve), a matrix that is not positive-definite names the order of its first bad leading
minor (cholesky); det of a singular matrix is 0 with a finite gradient (its cofactors);
slogdet gives (0, -inf); NaN in gives NaN out, except in cholesky and svd, which cannot
finish on it (a LinAlgError that says so); an empty batch or a 0 x 0 matrix gives empty
results and det 1. Eigenvector and singular vector gradients divide by gaps between
eigen or singular values: repeated ones give inf or NaN there, as in PyTorch.
"""

import collections

import numpy as np

from .. import dtypes as dt
from ..autograd import Op, no_grad, run
from ..errors import AutogradError, DTypeError, LinAlgError, ShapeError
from ._util import as_tensor, unbroadcast
from .elementwise import cast, where
from .movement import concatenate, diagonal, reshape, tril, unsqueeze
from .linalg import matmul
from .stacking import diag_embed
from .reduce import sum as sum_

#: the results' names, as torch.linalg's and the Array API's
EighResult = collections.namedtuple("EighResult", "eigenvalues eigenvectors")
QRResult = collections.namedtuple("QRResult", "Q R")
SlogdetResult = collections.namedtuple("SlogdetResult", "sign logabsdet")
SVDResult = collections.namedtuple("SVDResult", "U S Vh")


class Lapack(Op):
    """``routine`` of ROUTINES with constant ``params``, through the backend's ``lapack``
    (a host round trip that ember.compile records as one step); backward is
    ``gradient(g, out, *inputs)`` in tensor ops."""

    __slots__ = ("routine", "params", "gradient")
    saves_output = True

    def __init__(self, routine, params, gradient):
        self.routine, self.params, self.gradient = routine, params, gradient

    def forward(self, *bufs):
        return self.backend.lapack(self.routine, self.params, *bufs)

    def backward(self, g, *inputs):
        return self.gradient(g, self.out, *inputs)

    def __repr__(self):
        return f"Lapack({self.routine})"


class ComplexLapack(Lapack):
    """Lapack whose gradient holds for complex matrices too (the conjugate transposes in
    place of transposes): what ``matrices(..., complex_ok=True)`` lets through."""

    __slots__ = ()
    complex_grad = True


def _compute(routine, params, gradient, inputs, shape):
    """ROUTINES[routine] of ``inputs`` (checked floats) and ``params``, recorded for
    backward; 16-bit floats in float32 (NumPy's LAPACK has no half precision), rounded
    back."""
    dtype = inputs[0].dtype
    if dtype in dt.HALF:
        inputs = tuple(cast(t, dt.float32) for t in inputs)
        return cast(run(Lapack(routine, params, gradient), inputs, shape, dt.float32), dtype)
    op = (ComplexLapack if dtype.is_complex else Lapack)(routine, params, gradient)
    return run(op, inputs, shape, dtype)


def matrices(name, A, square=True, complex_ok=False):
    """A as a float tensor of matrices (..., m, n), complex ones only where ``complex_ok``:
    integers are refused, as by PyTorch."""
    A = as_tensor(A, f"linalg.{name}")
    if A.dtype.is_complex and not complex_ok:
        raise DTypeError(f"linalg.{name}: takes real floating-point matrices, got "
                         f"{A.dtype.name}; of ember.linalg, inv, solve, eig and eigvals take "
                         f"complex ones, and ember.array_api.linalg computes the rest (with "
                         f"NumPy on the host, without gradients)")
    if not A.dtype.is_inexact:
        raise DTypeError(f"linalg.{name}: needs a floating-point tensor, got {A.dtype.name}; "
                         f"convert it first, e.g. A.to(ember.float32)")
    if A.ndim < 2 or (square and A.shape[-1] != A.shape[-2]):
        what = "square matrices (..., n, n)" if square else "matrices (..., m, n)"
        raise ShapeError(f"linalg.{name}: needs {what}, got shape {A.shape}")
    return A


def _first_failing(name, fn, a, problem):
    """NumPy's LinAlgError for a batch, as ours naming the first matrix ``fn`` fails on."""
    flat = a.reshape((-1,) + a.shape[-2:])
    for i, m in enumerate(flat):
        try:
            fn(m)
        except np.linalg.LinAlgError:
            index = tuple(int(k) for k in np.unravel_index(i, a.shape[:-2]))
            where_ = f" (batch index {index})" if a.ndim > 2 else ""
            return LinAlgError(f"linalg.{name}: the input{where_} {problem(m)}")
    return LinAlgError(f"linalg.{name}: LAPACK could not finish")


def _lapack(name, fn, problem, check=None):
    """``fn`` of host arrays, NumPy's LinAlgError as ours naming the first matrix of the
    first argument that ``check`` (default ``fn``) fails on, and the fix."""
    def compute(a, *rest):
        try:
            return fn(a, *rest)
        except np.linalg.LinAlgError:
            raise _first_failing(name, check or fn, a, problem) from None
    return compute


def batches(*arrays):
    """Host arrays as flat batches of matrices, their batch axes broadcast: (count, r, c)
    each, and the batch shape (for routines that LAPACK runs matrix by matrix)."""
    batch = np.broadcast_shapes(*(x.shape[:-2] for x in arrays))
    count = int(np.prod(batch))
    return [np.broadcast_to(x, batch + x.shape[-2:]).reshape((count,) + x.shape[-2:])
            for x in arrays], batch


def refuse_zero_pivots(name, info, factor, instead):
    """The LinAlgError of linalg.``name`` for the first matrix whose info (a host array of
    the batch's shape) is nonzero: ``factor`` has a zero on its diagonal there."""
    flat = info.reshape(-1)
    bad = np.flatnonzero(flat)
    if bad.size:
        j = int(flat[bad[0]])
        index = tuple(int(i) for i in np.unravel_index(bad[0], info.shape))
        where_ = f" (batch index {index})" if info.ndim else ""
        raise LinAlgError(f"linalg.{name}: the input{where_} is singular: its {factor} has a "
                          f"zero at diagonal position {j} (1-based, as info); {instead}")


def _singular(m):
    return ("is singular (not invertible); use linalg.pinv or linalg.lstsq for a "
            "least-squares answer" if np.all(np.isfinite(m)) else
            "holds inf or NaN")


def _eye_like(x, n):
    from ..creation import eye
    return eye(n, dtype=x.dtype, backend=x._backend)


def _batch_sum(x):
    """The sum over each matrix of a batch, shaped to broadcast against it."""
    return sum_(x, (-2, -1), True)


def _quotient(num, den):
    """num / den where num is nonzero, else 0: a pair of repeated eigen or singular values
    whose vectors the loss does not use adds nothing (0 / 0 would be NaN)."""
    return where(num == 0, 0.0, num / where(num == 0, 1.0, den))


# -- inverse, determinants, solve -------------------------------------------------------
def inv(A):
    """A^-1 for square matrices (..., n, n), real or complex (torch.linalg.inv); a
    singular one is a LinAlgError naming it. Gradient: -A^-H g A^-H."""
    A = matrices("inv", A, complex_ok=True)
    return _compute("inv", (), _inv_grad, (A,), A.shape)


def _inv_grad(g, Y, A):
    Yh = Y.mH
    return (-matmul(matmul(Yh, g), Yh),)


def _cofactor_host(a):
    """The cofactor matrices (adj(A)^T, the gradient of det), finite for singular ones
    too: from A = U S V^T, det(U) det(V) U diag(prod_{j != i} s_j) V^T."""
    u, s, vh = np.linalg.svd(a)
    n = a.shape[-1]
    others = np.where(np.eye(n, dtype=bool), 1, s[..., None, :])
    adj_s = np.prod(others, axis=-1)
    sign = np.linalg.det(u) * np.linalg.det(vh)
    return sign[..., None, None] * ((u * adj_s[..., None, :]) @ vh)


def _cofactor(A):
    return _compute("cofactor", (), _cofactor_grad, (A,), A.shape)


def _cofactor_grad(G, C, A):
    """The cofactors C = det(A) A^-T change as dC = (tr(A^-1 dA) C - C dA^T C) / det(A):
    the gradient is (<G, C> C - C G^T C) / det(A) (a singular A gives inf or NaN)."""
    d = unsqueeze(unsqueeze(det(A), -1), -1)
    return ((_batch_sum(G * C) * C - matmul(matmul(C, G.mT), C)) / d,)


def det(A):
    """The determinants of square matrices (..., n, n) (torch.linalg.det): 1 for 0 x 0,
    0 for a singular matrix, whose gradient is still its cofactors."""
    A = matrices("det", A)
    return _compute("det", (), _det_grad, (A,), A.shape[:-2])


def _det_grad(g, d, A):
    return (unsqueeze(unsqueeze(g, -1), -1) * _cofactor(A),)


def slogdet(A):
    """(sign, log|det|) of square matrices (torch.linalg.slogdet): (0, -inf) for a
    singular one. Gradient of log|det|: A^-T."""
    A = matrices("slogdet", A)
    with no_grad():
        sign = _compute("slogdet_sign", (), None, (A.detach(),), A.shape[:-2])
    logabs = _compute("slogdet_logabs", (), _logabsdet_grad, (A,), A.shape[:-2])
    return SlogdetResult(sign, logabs)


def _logabsdet_grad(g, out, A):
    return (unsqueeze(unsqueeze(g, -1), -1) * inv(A).mT,)


def solve(A, B, left=True, vector=None):
    """X with A X = B (``left``) or X A = B, A square (..., n, n) and broadcasting batch
    axes (torch.linalg.solve). ``vector`` says B is a vector (..., n) or a batch of them;
    by default, as PyTorch, when B is 1-D or has A's shape less its last axis. Real or
    complex. Gradients: gB = A^-H g, gA = -gB X^H."""
    A = matrices("solve", A, complex_ok=True)
    B = as_tensor(B, "linalg.solve", like=A)
    if vector is None:
        vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and B.shape == A.shape[:-1])
    if not left:    # X A = B is A^T X^T = B^T
        if vector:
            return solve(A.mT, B, True, True)
        return solve(A.mT, B.mT, True, False).mT
    n = A.shape[-1]
    rows = B.shape[-1] if vector else B.shape[-2] if B.ndim >= 2 else None
    if rows != n:
        raise ShapeError(f"linalg.solve: A {A.shape} holds {n} x {n} matrices, so B {B.shape} "
                         f"needs {n} rows: (..., {n}) for vectors or (..., {n}, k)")
    dtype = dt.promote(A.dtype, B.dtype) if B.dtype.is_inexact else A.dtype
    A, B = cast(A, dtype), cast(B, dtype)
    Bm = unsqueeze(B, -1) if vector else B
    from ..shapes import broadcast_shapes
    batch = broadcast_shapes("linalg.solve", A.shape[:-2], Bm.shape[:-2])
    X = _compute("solve", (), _solve_grad, (A, Bm), batch + Bm.shape[-2:])
    return reshape(X, X.shape[:-1]) if vector else X


def _solve_grad(g, X, A, B):
    gB = solve(A.mH, g, vector=False)
    gA = -matmul(gB, X.mH) if A.requires_grad else None
    return (unbroadcast(gA, A.shape) if gA is not None else None,
            unbroadcast(gB, B.shape) if B.requires_grad else None)


# -- decompositions ---------------------------------------------------------------------
def _potrf(a):
    """NumPy's Cholesky factors, where a NaN (which NumPy passes through) fails as
    LAPACK's potrf and PyTorch fail it."""
    L = np.linalg.cholesky(a)
    if np.isnan(L).any():
        raise np.linalg.LinAlgError("not positive-definite")
    return L


def bad_minor(m):
    """The order of the first leading minor of ``m`` that is not positive-definite (what
    LAPACK's potrf reports), or 0."""
    for k in range(1, m.shape[-1] + 1):
        try:
            _potrf(m[:k, :k])
        except np.linalg.LinAlgError:
            return k
    return 0


def bad_minors(a):
    """bad_minor of each matrix of a batch (int32, the batch's shape): one factorization
    of the whole batch when every matrix is positive-definite."""
    try:
        _potrf(a)
        return np.zeros(a.shape[:-2], dtype=np.int32)
    except np.linalg.LinAlgError:
        return np.array([bad_minor(m) for m in a.reshape((-1,) + a.shape[-2:])],
                        dtype=np.int32).reshape(a.shape[:-2])


def _not_positive_definite(m):
    if not np.all(np.isfinite(m)):
        return "holds inf or NaN"
    return (f"is not positive-definite (its leading minor of order {bad_minor(m)} is not); "
            f"cholesky needs a symmetric positive-definite matrix")


def cholesky(A, upper=False):
    """L lower triangular with A = L L^T (torch.linalg.cholesky; ``upper``: U = L^T with
    A = U^T U), from A's lower triangle; a matrix that is not positive-definite is a
    LinAlgError naming its first bad leading minor. Gradient (Murray, 2016):
    sym(L^-T Phi(L^T gL) L^-1), Phi taking the lower triangle with half the diagonal."""
    A = matrices("cholesky", A)
    L = _compute("cholesky", (), _cholesky_grad, (A,), A.shape)
    return L.mT if upper else L


def _cholesky_grad(gL, L, A):
    phi = tril(matmul(L.mT, gL))
    phi = phi - 0.5 * diag_embed(diagonal(phi, 0, -2, -1))
    Linv = inv(L)
    S = matmul(matmul(Linv.mT, phi), Linv)
    return (0.5 * (S + S.mT),)


def eigh(A, UPLO="L"):
    """(eigenvalues ascending, eigenvectors as columns) of symmetric matrices, from the
    ``UPLO`` triangle (torch.linalg.eigh). Gradient, symmetric as PyTorch's:
    V (diag(gw) + skew(V^T gV) / 2 (w_j - w_i)) V^T."""
    A = matrices("eigh", A)
    n = A.shape[-1]
    _uplo(UPLO)
    both = _compute("eigh", (UPLO,), _eigh_grad, (A,), A.shape[:-1] + (n + 1,))
    return EighResult(both[..., :, n], both[..., :, :n])


def _uplo(UPLO):
    if UPLO not in ("L", "U"):
        raise ValueError(f"linalg.eigh: UPLO must be 'L' or 'U', got {UPLO!r}")


def _packed_eigh(a, UPLO="L"):
    w, v = np.linalg.eigh(a, UPLO)
    return np.concatenate([v, w[..., :, None]], axis=-1)


def _no_convergence(m):
    return ("holds inf or NaN" if not np.all(np.isfinite(m)) else
            "did not converge in LAPACK")


def _eigh_grad(g, both, A):
    n = A.shape[-1]
    V, w = both[..., :, :n], both[..., :, n]
    VtgV = matmul(V.mT, g[..., :, :n])
    gaps = unsqueeze(w, -2) - unsqueeze(w, -1) + _eye_like(w, n)   # w_j - w_i off the diagonal
    inner = _quotient(0.5 * _skew(VtgV), gaps) + diag_embed(g[..., :, n])
    return (matmul(matmul(V, inner), V.mT),)


def eigvalsh(A, UPLO="L"):
    """The eigenvalues of symmetric matrices, ascending (torch.linalg.eigvalsh).
    Gradient: V diag(g) V^T."""
    A = matrices("eigvalsh", A)
    _uplo(UPLO)
    return _compute("eigvalsh", (UPLO,), lambda g, w, A: _eigvalsh_grad(g, A, UPLO), (A,),
                    A.shape[:-1])


def _eigvalsh_grad(g, A, UPLO):
    V = eigh(A, UPLO)[1]
    return (matmul(V * unsqueeze(g, -2), V.mT),)


def svd(A, full_matrices=True):
    """(U, S, Vh) with A = U diag(S) Vh, S descending (torch.linalg.svd). The gradient
    is PyTorch's; with ``full_matrices`` only U's and Vh's first min(m, n) vectors have
    one (the rest are any basis of the complement)."""
    A = matrices("svd", A, square=False)
    m, n = A.shape[-2:]
    k = min(m, n)
    mu, nv = (m, n) if full_matrices else (k, k)
    sizes = (m * mu, k, nv * n)
    packed = _compute("svd", (full_matrices,),
                      lambda g, out, A: _svd_grad(g, out, A, full_matrices),
                      (A,), A.shape[:-2] + (sum(sizes),))
    U, S, Vh = _unpack_svd(packed, m, n, full_matrices)
    return SVDResult(U, S, Vh)


def _packed_svd(a, full=True):
    u, s, vh = np.linalg.svd(a, full_matrices=full)
    return np.concatenate([_rows(u), s, _rows(vh)], axis=-1)


def _rows(x):
    """A batch of matrices as a batch of rows (an empty batch too)."""
    return x.reshape(x.shape[:-2] + (x.shape[-2] * x.shape[-1],))


def _unpack_svd(packed, m, n, full):
    k = min(m, n)
    mu, nv = (m, n) if full else (k, k)
    b = packed.shape[:-1]
    U = reshape(packed[..., :m * mu], b + (m, mu))
    S = packed[..., m * mu:m * mu + k]
    Vh = reshape(packed[..., m * mu + k:], b + (nv, n))
    return U, S, Vh


def _svd_grad(g, packed, A, full):
    m, n = A.shape[-2:]
    k = min(m, n)
    U, S, Vh = _unpack_svd(packed, m, n, full)
    gU, gS, gVh = _unpack_svd(g, m, n, full)
    if full:     # the complement's vectors are arbitrary: only the first k count
        U, gU, Vh, gVh = U[..., :, :k], gU[..., :, :k], Vh[..., :k, :], gVh[..., :k, :]
    return (_svd_backward(gU, S, gS, U, Vh, gVh),)


def _skew(X):
    return X - X.mT


def _svd_backward(gU, S, gS, U, Vh, gVh):
    """PyTorch's svd_backward (real): with E_ij = S_j^2 - S_i^2,
    gA = U [(skew(U^T gU) S + S skew(V^T gV)) / E + diag(gS)] V^T, plus the parts of gU
    and gV outside U's and V's span when A is not square."""
    m, n, k = U.shape[-2], Vh.shape[-1], S.shape[-1]
    V, gV = Vh.mT, gVh.mT
    S2 = S * S
    E = unsqueeze(S2, -2) - unsqueeze(S2, -1)
    inner = _quotient(_skew(matmul(U.mT, gU)) * unsqueeze(S, -2)
                      + unsqueeze(S, -1) * _skew(matmul(Vh, gV)), E) + diag_embed(gS)
    if m > k:
        gUSinv = _quotient(gU, unsqueeze(S, -2))     # 0 where the loss ignores U
        gA = matmul(U, inner) + gUSinv - matmul(U, matmul(U.mT, gUSinv))
        return matmul(gA, Vh)
    if n > k:
        SinvgVh = _quotient(gVh, unsqueeze(S, -1))
        gA = matmul(inner, Vh) + SinvgVh - matmul(matmul(SinvgVh, V), Vh)
        return matmul(U, gA)
    return matmul(matmul(U, inner), Vh)


def svdvals(A):
    """The singular values, descending (torch.linalg.svdvals). Gradient: U diag(g) V^T."""
    A = matrices("svdvals", A, square=False)
    return _compute("svdvals", (), _svdvals_grad, (A,), A.shape[:-2] + (min(A.shape[-2:]),))


def _svdvals_grad(g, S, A):
    U, _, Vh = svd(A, full_matrices=False)
    return (matmul(U * unsqueeze(g, -2), Vh),)


def qr(A, mode="reduced"):
    """(Q, R) with A = Q R, Q orthonormal columns and R upper triangular (torch.linalg.qr);
    ``mode`` "reduced", "complete" or "r" (Q empty). Gradient as PyTorch's: for mode "r",
    and for "complete" with more rows than columns, Q is not unique and backward refuses."""
    if mode not in ("reduced", "complete", "r"):
        raise ValueError(f"linalg.qr: mode must be 'reduced', 'complete' or 'r', got {mode!r}")
    A = matrices("qr", A, square=False)
    m, n = A.shape[-2:]
    k = min(m, n)
    q_cols, r_rows = (m, m) if mode == "complete" else (k, k)
    sizes = (m * q_cols, r_rows * n)
    packed = _compute("qr", ("complete" if mode == "complete" else "reduced",),
                      lambda g, out, A: _qr_grad(g, out, A, mode, q_cols, r_rows),
                      (A,), A.shape[:-2] + (sum(sizes),))
    b = A.shape[:-2]
    Q = reshape(packed[..., :sizes[0]], b + (m, q_cols))
    R = reshape(packed[..., sizes[0]:], b + (r_rows, n))
    if mode == "r":
        Q = reshape(Q[..., :0], (0,))
    return QRResult(Q, R)


def _packed_qr(a, mode):
    q, r = np.linalg.qr(a, mode)
    return np.concatenate([_rows(q), _rows(r)], axis=-1)


def _qr_grad(g, packed, A, mode, q_cols, r_rows):
    m, n = A.shape[-2:]
    if mode == "r" or (mode == "complete" and m > n):
        why = ("does not return" if mode == "r" else
               f"does not fix for {m} rows and {n} columns")
        raise AutogradError(f"linalg.qr: the gradient needs Q, which mode={mode!r} {why}; "
                            f"use mode='reduced'")
    b = A.shape[:-2]
    cut = m * q_cols
    Q, R = reshape(packed[..., :cut], b + (m, q_cols)), reshape(packed[..., cut:], b + (r_rows, n))
    gQ, gR = reshape(g[..., :cut], Q.shape), reshape(g[..., cut:], R.shape)
    if m >= n:
        return (_qr_square_grad(Q, R, gQ, gR),)
    # A = [X | Y] with X = Q R1 square: Y = Q R2 feeds Q's gradient back through R2
    R1, gR1, gR2 = R[..., :, :m], gR[..., :, :m], gR[..., :, m:]
    Y = A[..., :, m:]
    gX = _qr_square_grad(Q, R1, gQ + matmul(Y, gR2.mT), gR1)
    return (concatenate([gX, matmul(Q, gR2)], -1),)


def _qr_square_grad(Q, R, gQ, gR):
    """A = Q R with m >= n: gA = (gQ + Q copyltu(M)) R^-T, M = R gR^T - gQ^T Q, copyltu
    making a symmetric matrix of M's lower triangle."""
    M = matmul(R, gR.mT) - matmul(gQ.mT, Q)
    low = tril(M, -1)
    sym = low + low.mT + diag_embed(diagonal(M, 0, -2, -1))
    return matmul(gQ + matmul(Q, sym), inv(R).mT)


def default_rtol(A, atol):
    """PyTorch's relative cutoff for singular values where none is given: max(m, n) eps,
    or 0 when an absolute one is."""
    return 0.0 if atol is not None else max(A.shape[-2:]) * dt.finfo(A.dtype).eps


def pinv(A, atol=None, rtol=None, hermitian=False):
    """The Moore-Penrose pseudo-inverse (torch.linalg.pinv): singular values at most
    max(atol, rtol * the largest) count as zero (rtol by default max(m, n) eps, or 0 with
    an atol); ``hermitian`` reads a symmetric A's lower triangle (eigh for the SVD).
    Gradient: PyTorch's pinv_backward, finite where the rank does not change."""
    A = matrices("pinv", A, square=hermitian)
    rtol = default_rtol(A, atol) if rtol is None else rtol
    # the tolerances (numbers, or tensors of the batch's shape) are inputs of the step
    atol, rtol = (cast(as_tensor(0.0 if t is None else t, "linalg.pinv", like=A), A.dtype)
                  for t in (atol, rtol))
    return _compute("pinv", (bool(hermitian),), _pinv_grad, (A, atol, rtol),
                    A.shape[:-2] + A.shape[:-3:-1])


def _pinv_host(a, atol=0.0, rtol=0.0, hermitian=False):
    if hermitian:
        w, v = np.linalg.eigh(a)
        s, u, vh = np.abs(w), v * np.sign(w)[..., None, :], np.swapaxes(v, -1, -2)
    else:
        u, s, vh = np.linalg.svd(a, full_matrices=False)
    top = s.max(axis=-1, keepdims=True, initial=0.0)
    keep = s > np.maximum(np.asarray(atol)[..., None], np.asarray(rtol)[..., None] * top)
    s_inv = np.where(keep, 1.0 / np.where(keep, s, 1.0), 0.0)
    return np.swapaxes(vh, -1, -2) @ (s_inv[..., :, None] * np.swapaxes(u, -1, -2))


def _pinv_grad(g, P, A, atol, rtol):
    m, n = A.shape[-2:]
    Pt, gt = P.mT, g.mT
    if m <= n:
        K = matmul(gt, P)
        KPt = matmul(K, Pt)
        return (-matmul(P, K).mT + KPt - matmul(matmul(A, P), KPt)
                + matmul(matmul(Pt, P), gt - matmul(K, A)), None, None)
    K = matmul(P, gt)
    PtK = matmul(Pt, K)
    return (-matmul(K, P).mT + matmul(matmul(gt - matmul(A, K), P), Pt) + PtK
            - matmul(matmul(PtK, P), A), None, None)


# -- the matrix exponential -------------------------------------------------------------
#: Higham (2005): the [13/13] Pade approximant's coefficients, and the 1-norm up to which
#: it meets float64's precision without scaling
PADE13 = (64764752532480000.0, 32382376266240000.0, 7771770303897600.0, 1187353796428800.0,
          129060195264000.0, 10559470521600.0, 670442572800.0, 33522128640.0, 1323241920.0,
          40840800.0, 960960.0, 16380.0, 182.0, 1.0)
THETA13 = 5.371920351148152


def _expm_host(a):
    """exp(A) by scaling and squaring with the [13/13] Pade approximant (Higham, 2005),
    in float64 whatever a's dtype; each matrix scaled by its own power of two."""
    x = np.asarray(a, dtype=np.float64)
    n = x.shape[-1]
    norm = np.abs(x).sum(axis=-2).max(axis=-1, initial=0.0)
    with np.errstate(all="ignore"):
        s = np.where(np.isfinite(norm) & (norm > THETA13),
                     np.ceil(np.log2(np.where(norm > 0, norm, 1.0) / THETA13)), 0).astype(int)
    x = x / np.exp2(s)[..., None, None]
    b, eye = PADE13, np.eye(n)
    x2 = x @ x
    x4 = x2 @ x2
    x6 = x4 @ x2
    u = x @ (x6 @ (b[13] * x6 + b[11] * x4 + b[9] * x2) + b[7] * x6 + b[5] * x4 + b[3] * x2
             + b[1] * eye)
    v = x6 @ (b[12] * x6 + b[10] * x4 + b[8] * x2) + b[6] * x6 + b[4] * x4 + b[2] * x2 \
        + b[0] * eye
    r = np.linalg.solve(v - u, v + u) if n else v
    for k in range(int(s.max(initial=0))):
        r = np.where((k < s)[..., None, None], r @ r, r)
    return r


def matrix_exp(A):
    """exp(A) = sum A^k / k! of square matrices (torch.linalg.matrix_exp). Gradient:
    exp of the block matrix [[A^T, g], [0, A^T]], its upper right block (Najfeld and
    Havel), the same routine again, so it differentiates any number of times."""
    A = matrices("matrix_exp", A)
    return _compute("expm", (), _expm_grad, (A,), A.shape)


def _expm_grad(g, E, A):
    n = A.shape[-1]
    At = A.mT
    top = concatenate([At, g], -1)
    bottom = concatenate([A * 0.0, At], -1)
    return (matrix_exp(concatenate([top, bottom], -2))[..., :n, n:],)


# -- PyTorch's top-level names ----------------------------------------------------------
def logdet(A):
    """log(det(A)) (torch.logdet): -inf for a singular matrix, NaN where det < 0."""
    sign, logabs = slogdet(A)
    return where(sign < 0, float("nan"), logabs)


def inverse(A):
    """torch.inverse: linalg.inv."""
    return inv(A)


def cholesky_solve(B, L, upper=False):
    """X with A X = B given A's Cholesky factor L (torch.cholesky_solve; ``upper``: L is
    U with A = U^T U)."""
    L = matrices("cholesky_solve", L)
    return solve(matmul(L.mT, L) if upper else matmul(L, L.mT), B, vector=False)


def cholesky_inverse(L, upper=False):
    """A^-1 given A's Cholesky factor L (torch.cholesky_inverse; ``upper``: L is U)."""
    L = matrices("cholesky_inverse", L)
    return inv(matmul(L.mT, L) if upper else matmul(L, L.mT))


def pinverse(A, rcond=1e-15):
    """torch.pinverse: linalg.pinv with singular values below ``rcond`` times the largest
    taken as zero."""
    return pinv(A, rtol=rcond)


def _solve_host(a, b):
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    return np.linalg.solve(np.broadcast_to(a, batch + a.shape[-2:]),
                           np.broadcast_to(b, batch + b.shape[-2:]))


#: the host computations ember.linalg runs, by name, each of host arrays and then the
#: Lapack op's constant parameters (a compiled graph's "lapack" step names one)
ROUTINES = {
    "inv": _lapack("inv", np.linalg.inv, _singular),
    "cofactor": _cofactor_host,
    "det": np.linalg.det,
    "slogdet_sign": lambda a: np.linalg.slogdet(a)[0],
    "slogdet_logabs": lambda a: np.linalg.slogdet(a)[1],
    "solve": _lapack("solve", _solve_host, _singular, np.linalg.inv),
    "cholesky": _lapack("cholesky", _potrf, _not_positive_definite),
    "eigh": _lapack("eigh", _packed_eigh, _no_convergence),
    "eigvalsh": _lapack("eigvalsh", np.linalg.eigvalsh, _no_convergence),
    "svd": _lapack("svd", _packed_svd, _no_convergence),
    "svdvals": _lapack("svdvals", lambda a: np.linalg.svd(a, compute_uv=False), _no_convergence),
    "qr": _packed_qr,
    "pinv": _lapack("pinv", _pinv_host, _no_convergence),
    "expm": _expm_host,
}
