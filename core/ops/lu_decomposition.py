"""LU factorization with partial pivoting, A = P L U, and the solves it serves, as
torch.linalg's lu_factor(_ex), lu, lu_solve and torch.lu_unpack, differentiable.

NumPy exposes no LU factors; SciPy's LAPACK (getrf, getrs) computes them on a host copy,
matrix by matrix as PyTorch's CPU does, 16-bit floats in float32. Pivots are LAPACK's:
1-based row interchanges, int32. ember.compile records each host call as one step.

At the edges, as PyTorch: a zero pivot leaves its column unscaled and reports info = its
1-based position (lu_factor refuses it, naming the matrix; lu_factor_ex and lu return
the factors); lu_solve with such factors divides by zero (inf and NaN); NaN in gives NaN
in U; 0 x 0 matrices and empty batches give empty factors. ``pivot=False`` is refused,
as by PyTorch's CPU (getrf always pivots). Gradients are PyTorch's formulas in ember's
ops, so they differentiate again."""

import collections
import functools

import numpy as np
from scipy.linalg.lapack import get_lapack_funcs

from .. import dtypes as dt
from ..autograd import run
from ..errors import IndexingError, LinAlgError, ShapeError
from ._util import as_tensor, unbroadcast
from .elementwise import cast
from .indexing import take_along_axis
from .lapack import ROUTINES, Lapack, batches, matrices, refuse_zero_pivots
from .linalg import matmul
from .movement import concatenate, reshape, tril, triu, unsqueeze

LUFactorResult = collections.namedtuple("LUFactorResult", "LU pivots")
LUFactorExResult = collections.namedtuple("LUFactorExResult", "LU pivots info")
LUResult = collections.namedtuple("LUResult", "P L U")

#: a batch of at least this many matrices of at most SMALL rows and columns is factored
#: and solved across the batch at once (one LAPACK call per matrix costs 1 to 5 us)
MANY, SMALL = 16, 8


# -- host --------------------------------------------------------------------------------
def _getrf(a):
    """getrf of each matrix of a (count, m, n): L - I + U and 0-based pivots. LAPACK's
    (SciPy's) one matrix at a time; many small ones by the same elimination (the first
    largest magnitude of each column pivots) across the batch."""
    count, m, n = a.shape
    k = min(m, n)
    if count >= MANY and max(m, n) <= SMALL:
        lu, piv, batch = a.copy(), np.zeros((count, k), np.int64), np.arange(count)
        for j in range(k):
            p = np.argmax(np.abs(lu[:, j:, j]), axis=1) + j
            piv[:, j] = p
            lu[batch, j], lu[batch, p] = lu[batch, p], lu[batch, j]
            d = lu[:, j, j, None]
            below = lu[:, j + 1:, j]
            np.divide(below, d, out=below, where=d != 0)
            lu[:, j + 1:, j + 1:] -= below[:, :, None] * lu[:, j, None, j + 1:]
        return lu, piv
    lu, piv = np.zeros_like(a), np.zeros((count, k), np.int64)
    if lu.size:
        (getrf,) = get_lapack_funcs(("getrf",), (a,))
        for i in range(count):
            lu[i], piv[i], _ = getrf(a[i])
    return lu, piv


def _getrs_batch(lu, order, b, adjoint):
    """getrs across a batch (count, n, n) at once, by substitution: row by row."""
    n = lu.shape[-1]
    if adjoint:         # U^T z = B, L^T w = z, x = P w
        z = b.copy()
        for i in range(n):
            z[:, i] -= np.einsum("bk,bkr->br", lu[:, :i, i], z[:, :i])
            z[:, i] /= lu[:, i, i, None]
        for i in range(n - 1, -1, -1):
            z[:, i] -= np.einsum("bk,bkr->br", lu[:, i + 1:, i], z[:, i + 1:])
        x = np.empty_like(z)
        np.put_along_axis(x, order[:, :, None], z, 1)
        return x
    y = np.take_along_axis(b, order[:, :, None], 1)        # L y = P^T B, U x = y
    for i in range(n):
        y[:, i] -= np.einsum("bk,bkr->br", lu[:, i, :i], y[:, :i])
    for i in range(n - 1, -1, -1):
        y[:, i] -= np.einsum("bk,bkr->br", lu[:, i, i + 1:], y[:, i + 1:])
        y[:, i] /= lu[:, i, i, None]
    return y


def _order(piv, m):
    """The rows of A in P^T A = L U (..., m) from 0-based pivots (..., k): the pivots'
    interchanges applied in order, for each matrix as Python ints when the batch is
    small (one interchange costs 0.1 us so), else across the batch at once (3 us)."""
    count, k = int(np.prod(piv.shape[:-1])), piv.shape[-1]
    pflat = piv.reshape(count, k)
    if count < 16:
        rows = []
        for swaps in pflat.tolist():
            row = list(range(m))
            for i, p in enumerate(swaps):
                row[i], row[p] = row[p], row[i]
            rows.append(row)
        return np.array(rows, dtype=np.int64).reshape(piv.shape[:-1] + (m,))
    flat = np.broadcast_to(np.arange(m), (count, m)).copy()
    batch = np.arange(count)
    for i in range(k):
        p = pflat[:, i]
        flat[batch, i], flat[batch, p] = flat[batch, p], flat[batch, i]
    return flat.reshape(piv.shape[:-1] + (m,))


def _given_order(pivots, m):
    """The row order from pivots a caller gave (1-based, as lu_factor's): each must name a
    row from 1 to m."""
    piv = pivots.astype(np.int64) - 1
    if piv.size and (piv.min() < 0 or piv.max() >= m):
        bad = int(piv[(piv < 0) | (piv >= m)].flat[0]) + 1
        raise IndexingError(f"linalg.lu_solve/lu_unpack: pivot {bad} names no row of a "
                            f"{m}-row matrix; pivots are lu_factor's, 1 to {m}")
    return _order(piv, m)


#: what to do instead, by the function that refuses a singular matrix
_INSTEAD = {"lu_factor": "linalg.lu_factor_ex and linalg.lu factor it anyway",
            "lu_factor_ex": "without check_errors it reports info instead",
            "solve_ex": "linalg.lstsq gives a least-squares answer",
            "inv_ex": "linalg.pinv gives the pseudo-inverse"}


def _info(lu):
    """getrf's info: the 1-based position of the first zero on U's diagonal, else 0."""
    zero = np.diagonal(lu, axis1=-2, axis2=-1) == 0
    return np.where(zero.any(-1), np.argmax(zero, -1) + 1, 0) if zero.shape[-1] else \
        np.zeros(zero.shape[:-1], np.int64)


def _factor_host(a, check):
    """[L - I + U as rows | pivots (1-based) | info | row order | its inverse], one float
    row per matrix; ``check`` (a function's name) refuses a zero pivot."""
    m, n = a.shape[-2:]
    (flat,), batch = batches(a)
    lu, piv = _getrf(flat)
    info = _info(lu)
    if check:
        refuse_zero_pivots(check, info.reshape(batch), "LU factor U", _INSTEAD[check])
    order = _order(piv, m)
    parts = [lu.reshape(len(lu), m * n), piv + 1, info[:, None], order,
             np.argsort(order, axis=-1)]
    return np.concatenate([p.astype(a.dtype) for p in parts], -1).reshape(
        batch + (m * n + piv.shape[-1] + 1 + 2 * m,))


def _solve_host(lu, pivots, b, adjoint):
    """X with A X = B (A^T X = B when ``adjoint``), A = P L U from lu_factor's LU and
    pivots: LAPACK's getrs on each matrix, batches broadcast."""
    (lus, pivs, bs), batch = batches(lu, pivots[..., None], b)
    n = lu.shape[-1]
    order = _given_order(pivs[:, :, 0], n)
    if len(bs) >= MANY and n <= SMALL:
        return _getrs_batch(lus, order, bs, adjoint).reshape(batch + b.shape[-2:])
    x = np.empty_like(bs)
    if x.size:
        (getrs,) = get_lapack_funcs(("getrs",), (lus,))
        for i in range(len(x)):
            x[i] = getrs(lus[i], pivs[i, :, 0] - 1, bs[i], trans=int(adjoint))[0]
    return x.reshape(batch + b.shape[-2:])


ROUTINES.update({
    "lu_factor": _factor_host,
    "lu_solve": _solve_host,
    "lu_order": _given_order,
})


# -- ops --------------------------------------------------------------------------------
def lu_factor_ex(A, *, pivot=True, check_errors=False):
    """(LU, pivots, info) as torch.linalg.lu_factor_ex: L - I + U packed in one (..., m, n)
    tensor, the 1-based row interchanges (int32, (..., min(m, n))), and info (int32), the
    1-based position of the first zero on U's diagonal, else 0; ``check_errors`` refuses a
    zero pivot as lu_factor does."""
    A = matrices("lu_factor_ex", A, square=False)
    return LUFactorExResult(*factor("lu_factor_ex", A, pivot, check_errors)[:3])


def lu_factor(A, *, pivot=True):
    """(LU, pivots) as torch.linalg.lu_factor; a matrix with a zero pivot (singular) is a
    LinAlgError naming it: lu_factor_ex or lu factor it anyway."""
    A = matrices("lu_factor", A, square=False)
    return LUFactorResult(*factor("lu_factor", A, pivot, True)[:2])


def lu(A, *, pivot=True):
    """(P, L, U) with A = P L U as torch.linalg.lu: P a permutation matrix, L unit lower
    triangular (m x k), U upper triangular (k x n), k = min(m, n)."""
    A = matrices("lu", A, square=False)
    LU, _, _, order, _ = factor("lu", A, pivot, False)
    L, U = _factors(LU)
    return LUResult(_permutation(order, A.dtype), L, U)


def lu_unpack(LU_data, LU_pivots, unpack_data=True, unpack_pivots=True):
    """(P, L, U) from lu_factor's results, as torch.lu_unpack; P, or L and U, are empty
    where not asked for."""
    LU = matrices("lu_unpack", LU_data, square=False)
    pivots = _pivots("lu_unpack", LU_pivots, LU)
    m = LU.shape[-2]
    empty = LU.new_zeros((0,))
    P = _permutation(_order_op(pivots, m), LU.dtype) if unpack_pivots else empty
    L, U = _factors(LU) if unpack_data else (empty, empty)
    return LUResult(P, L, U)


def lu_solve(LU, pivots, B, *, left=True, adjoint=False):
    """X with A X = B (A^T X = B when ``adjoint``; X A = B, or X A^T = B, unless ``left``)
    from A's lu_factor results, as torch.linalg.lu_solve: two triangular solves, O(n^2)
    per column of B. Batches broadcast. Differentiable in LU and B."""
    LU = matrices("lu_solve", LU)
    pivots = _pivots("lu_solve", pivots, LU)
    B = as_tensor(B, "linalg.lu_solve", like=LU)
    if not B.dtype.is_float:
        B = cast(B, LU.dtype)
    n = LU.shape[-1]
    if B.ndim < 2 or B.shape[-2 if left else -1] != n:
        side = f"(..., {n}, k)" if left else f"(..., k, {n})"
        raise ShapeError(f"linalg.lu_solve: LU {LU.shape} factors {n} x {n} matrices, so B "
                         f"{B.shape} must be {side}")
    if not left:        # X A = B is A^T X^T = B^T
        return lu_solve(LU, pivots, B.mT, adjoint=not adjoint).mT
    from ..shapes import broadcast_shapes
    dtype = dt.promote(LU.dtype, B.dtype)
    wide = dt.float32 if dtype in dt.HALF else dtype
    shape = broadcast_shapes("linalg.lu_solve", LU.shape[:-2], B.shape[:-2]) + B.shape[-2:]
    X = run(Lapack("lu_solve", (adjoint,), functools.partial(_solve_grad, adjoint)),
            (cast(LU, wide), pivots, cast(B, wide)), shape, wide)
    return cast(X, dtype)


def _pivots(name, pivots, LU):
    pivots = as_tensor(pivots, f"linalg.{name}", like=LU)
    k = min(LU.shape[-2:])
    if pivots.dtype.is_inexact or pivots.dtype is dt.bool_ or \
            pivots.shape != LU.shape[:-2] + (k,):
        raise ShapeError(f"linalg.{name}: pivots must be lu_factor's, integers of shape "
                         f"{LU.shape[:-2] + (k,)} for LU {LU.shape}; got {pivots.dtype.name} "
                         f"{pivots.shape}")
    return cast(pivots, dt.int32)


def _order_op(pivots, m):
    """The row order of P^T A (int32 (..., m)) from 1-based pivots: a host step."""
    return run(Lapack("lu_order", (m,), None), (pivots,), pivots.shape[:-1] + (m,), dt.int32)


def _permutation(order, dtype):
    """P (..., m, m) with P^T A = A's rows in ``order``: P[order[i], i] = 1."""
    from ..creation import arange
    m = order.shape[-1]
    rows = arange(m, dtype=dt.int32, backend=order._backend)
    return cast(unsqueeze(order, -2) == unsqueeze(rows, -1), dtype)


def factor(name, A, pivot, check):
    """(LU, pivots, info, row order, its inverse) of A on its backend (16-bit floats
    factored in float32), LU differentiable; with ``check``, function ``name`` refuses a
    zero pivot."""
    if not pivot:
        raise LinAlgError(f"linalg.{name}: LU without pivoting (pivot=False) is not "
                          f"implemented: ember factors with LAPACK's getrf, which always "
                          f"pivots (as PyTorch's CPU); leave pivot=True")
    m, n = A.shape[-2:]
    k = min(m, n)
    wide = dt.float32 if A.dtype in dt.HALF else A.dtype
    packed = run(Lapack("lu_factor", (name if check else None,), _factor_grad), (cast(A, wide),),
                 A.shape[:-2] + (m * n + k + 1 + 2 * m,), wide)
    LU = cast(reshape(packed[..., :m * n], A.shape), A.dtype)
    rest = cast(packed[..., m * n:], dt.int32)
    return LU, rest[..., :k], rest[..., k], rest[..., k + 1:k + 1 + m], rest[..., k + 1 + m:]


def _solve_grad(adjoint, g, X, LU, pivots, B):
    """gB = A^-T g (lu_solve with the other ``adjoint``), gA = -gB X^T (-X gB^T for A^T X
    = B), and from A = P L U: gL = tril(P^T gA U^T, -1), gU = triu(L^T P^T gA)."""
    gB = lu_solve(LU, pivots, g, adjoint=not adjoint)
    gLU = None
    if LU.requires_grad:
        gA = unbroadcast(-(matmul(X, gB.mT) if adjoint else matmul(gB, X.mT)), LU.shape)
        L, U = _factors(LU)
        PtgA = _rows(gA, _order_op(pivots, LU.shape[-1]))
        gLU = tril(matmul(PtgA, U.mT), -1) + triu(matmul(L.mT, PtgA))
    return gLU, None, unbroadcast(gB, B.shape) if B.requires_grad else None


def _factors(LU):
    """L (unit lower, m x k) and U (upper, k x n) from L - I + U."""
    m, n = LU.shape[-2:]
    k = min(m, n)
    from ..creation import eye
    ones = eye(m, k, dtype=LU.dtype, backend=LU._backend)
    return tril(LU[..., :, :k], -1) + ones, triu(LU[..., :k, :])


def _rows(x, order):
    """x's rows in ``order`` (a batch of row indices): P^T x for order = lu's."""
    return take_along_axis(x, unsqueeze(order, -1), -2)


def _factor_grad(g, packed, A):
    """PyTorch's linalg_lu_backward, with gL = tril(gLU, -1) and gU = triu(gLU): for A
    square, gA = P L^-T (tril(L^T gL, -1) + triu(gU U^T)) U^-T; a tall A's extra rows of L
    and a wide A's extra columns of U pass theirs straight through."""
    from ..linalg import solve_triangular
    m, n = A.shape[-2:]
    k = min(m, n)
    LU = reshape(packed[..., :m * n], A.shape)
    inverse = cast(packed[..., m * n + k + 1 + m:], dt.int32)
    gLU = reshape(g[..., :m * n], A.shape)
    L, U = _factors(LU)
    gL, gU = tril(gLU[..., :, :k], -1), triu(gLU[..., :k, :])
    L1, U1 = L[..., :k, :], U[..., :, :k]
    M = tril(matmul(L.mT, gL), -1) + triu(matmul(gU, U.mT))
    if m > n:
        L2, gL2 = L[..., k:, :], gL[..., k:, :]
        M = M - matmul(L2.mT, gL2)
    elif n > m:
        U2, gU2 = U[..., :, k:], gU[..., :, k:]
        M = M - matmul(gU2, U2.mT)
    top = solve_triangular(L1.mT, M, upper=True, unitriangular=True)
    top = solve_triangular(U1.mT, top, upper=False, left=False)
    if m > n:
        top = concatenate([top, solve_triangular(U1.mT, gL[..., k:, :], upper=False,
                                                 left=False)], -2)
    elif n > m:
        top = concatenate([top, solve_triangular(L1.mT, gU[..., :, k:], upper=True,
                                                 unitriangular=True)], -1)
    return (_rows(top, inverse),)

