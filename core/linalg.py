"""``ember.linalg``: torch.linalg's names, arguments and results, so that a port of PyTorch
code keeps its calls. What LAPACK computes comes from ember.ops.lapack (differentiable,
on a host copy); the rest is composed of ember's ops on the tensor's backend."""

import collections
import math

from . import dtypes as dt
from . import ops
from .autograd import no_grad
from .creation import eye, ones_like, tensor, zeros
from .errors import LinAlgError, ShapeError
from .ops.lapack import (bad_minors, cholesky, default_rtol, det, eigh, eigvalsh, inv, matrices,
                         matrix_exp, pinv, qr, slogdet, solve, svd, svdvals)
from .ops._util import as_tensor
from .ops.eig import eig, eigvals
from .ops.householder import householder_product
from .ops.ldl import ldl_factor, ldl_factor_ex, ldl_solve
from .ops.lu_decomposition import factor, lu, lu_factor, lu_factor_ex, lu_solve
from .ops.reduce import vector_norm as _vector_norm
from .tensor import Tensor

__all__ = ["LinAlgError", "cholesky", "cholesky_ex", "cond", "cross", "det", "diagonal", "eig",
           "eigh", "eigvals", "eigvalsh", "householder_product", "inv", "inv_ex", "ldl_factor",
           "ldl_factor_ex", "ldl_solve", "lstsq", "lu", "lu_factor", "lu_factor_ex", "lu_solve",
           "matmul", "matrix_exp", "matrix_norm", "matrix_power", "matrix_rank", "multi_dot",
           "norm", "pinv", "qr", "slogdet", "solve", "solve_ex", "solve_triangular", "svd",
           "svdvals", "tensorinv", "tensorsolve", "vander", "vecdot", "vector_norm"]

CholeskyExResult = collections.namedtuple("CholeskyExResult", "L info")
LstsqResult = collections.namedtuple("LstsqResult", "solution residuals rank singular_values")
SolveExResult = collections.namedtuple("SolveExResult", "result info")
InvExResult = collections.namedtuple("InvExResult", "inverse info")

matmul = ops.matmul


def cholesky_ex(A, *, upper=False, check_errors=False):
    """(L, info) as torch.linalg.cholesky_ex: info (int32) is 0 for each matrix that is
    positive-definite, else the order of its first leading minor that is not, whose L
    is NaN; ``check_errors`` raises cholesky's LinAlgError instead."""
    A = matrices("cholesky_ex", A)
    found = bad_minors(A.detach().to(dt.float32 if A.dtype in dt.HALF else A.dtype).numpy())
    info = tensor(found, dtype=dt.int32, backend=A._backend)
    if check_errors or not found.any():
        return CholeskyExResult(cholesky(A, upper=upper), info)
    ok = ops.unsqueeze(ops.unsqueeze(info == 0, -1), -1)
    L = cholesky(ops.where(ok, A, _eye(A)), upper=upper)
    return CholeskyExResult(ops.where(ok, L, math.nan), info)


def solve_ex(A, B, *, left=True, check_errors=False):
    """(result, info) as torch.linalg.solve_ex: solve through A's LU factors, info (int32)
    the 1-based position of a zero pivot (A singular: the result holds inf and NaN there,
    as PyTorch's), else 0; ``check_errors`` refuses a singular A instead."""
    A = matrices("solve_ex", A)
    LU, pivots, info = factor("solve_ex", A, True, check_errors)[:3]
    n = A.shape[-1]
    B = as_tensor(B, "linalg.solve_ex", like=A)
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and B.shape == A.shape[:-1])
    if vector:
        X = lu_solve(LU, pivots, ops.unsqueeze(B, -1 if left else -2), left=left)
        return SolveExResult(ops.squeeze(X, -1 if left else -2), info)
    if B.ndim < 2 or B.shape[-2 if left else -1] != n:
        raise ShapeError(f"linalg.solve_ex: A {A.shape} holds {n} x {n} matrices, so B "
                         f"{B.shape} needs {n} {'rows' if left else 'columns'}")
    return SolveExResult(lu_solve(LU, pivots, B, left=left), info)


def inv_ex(A, *, check_errors=False):
    """(inverse, info) as torch.linalg.inv_ex: the inverse through A's LU factors, info
    (int32) the 1-based position of a zero pivot (A singular: inf and NaN, as PyTorch's),
    else 0; ``check_errors`` refuses a singular A instead."""
    A = matrices("inv_ex", A)
    LU, pivots, info = factor("inv_ex", A, True, check_errors)[:3]
    return InvExResult(lu_solve(LU, pivots, _eye(A)), info)


def _eye(A):
    return eye(A.shape[-1], dtype=A.dtype, backend=A._backend)


def cond(A, p=None):
    """The condition number of matrices in the ``p`` norm (torch.linalg.cond): for None
    and 2 the largest singular value over the smallest (inf for a singular matrix), for
    -2 the inverse ratio; for 'fro', 'nuc', 1, -1, inf and -inf norm(A) norm(A^-1)."""
    if A.ndim >= 2 and 0 in A.shape[-2:]:        # no singular values: 0, as PyTorch's
        return zeros(A.shape[:-2], dtype=dt.real_of(A.dtype), backend=A.backend)
    if p in (None, 2, -2):
        s = svdvals(A)
        big, small = s[..., 0], s[..., -1]
        return big / small if p != -2 else small / big
    return matrix_norm(A, p) * matrix_norm(inv(A), p)


def cross(input, other, *, dim=-1):
    """The cross product of 3-vectors along ``dim`` (the last by default, as
    torch.linalg.cross)."""
    return ops.cross(input, other, dim=dim)


def diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    """The diagonals of the matrices over ``dim1`` and ``dim2`` (the last two)."""
    return ops.diagonal(A, offset, dim1, dim2)


def lstsq(A, B, rcond=None, *, driver=None):
    """The least-squares solutions X minimizing |A X - B| (torch.linalg.lstsq), from the
    pseudo-inverse (singular values below ``rcond`` times the largest count as zero;
    default max(m, n) eps), so differentiable in A and B. The other fields are filled as
    PyTorch's CPU drivers fill them, without gradients: ``residuals`` (each column's
    squared residual) by 'gels', 'gelsd' and 'gelss' when A has more rows than columns
    and full rank, ``rank`` by all but 'gels', ``singular_values`` by 'gelsd' and
    'gelss'; an unfilled field is empty."""
    drivers = (None, "gels", "gelsy", "gelsd", "gelss")
    if driver not in drivers:
        raise ValueError(f"linalg.lstsq: driver must be one of {drivers[1:]}, got {driver!r}")
    A = matrices("lstsq", A, square=False)
    m, n = A.shape[-2:]
    if B.ndim < 2 or B.shape[-2] != m:
        raise ShapeError(f"linalg.lstsq: A {A.shape} has {m} rows, so B {B.shape} must be "
                         f"(..., {m}, k)")
    X = matmul(pinv(A, rtol=rcond), B)
    empty = zeros((0,), dtype=A.dtype, backend=A._backend)
    with no_grad():
        ranks = matrix_rank(A, rtol=rcond) if driver != "gels" or m > n else None
        rank = ranks if driver != "gels" else zeros((0,), dtype=dt.int64, backend=A._backend)
        residuals = empty
        if driver in ("gels", "gelsd", "gelss") and m > n and bool(ops.all(ranks == n)):
            r = matmul(A, X) - B
            residuals = ops.sum(r * r, axis=-2)
        values = svdvals(A) if driver in ("gelsd", "gelss") else empty
    return LstsqResult(X, residuals, rank, values)


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):
    """A matrix norm over the axes ``dim`` (torch.linalg.matrix_norm): 'fro', 'nuc' (the
    sum of singular values), 2 and -2 (the largest and smallest), 1 and -1 (the largest
    and smallest column sum of |A|), inf and -inf (row sums)."""
    if dtype is not None:
        A = ops.cast(A, dtype)
    if len(dim) != 2:
        raise ShapeError(f"linalg.matrix_norm: dim must name two axes, got {dim}")
    r, c = (d % A.ndim if A.ndim else d for d in dim)
    if r == c:
        raise ShapeError(f"linalg.matrix_norm: dim {dim} names one axis twice")
    if ord == "fro":
        return _vector_norm(A, 2, (r, c), keepdim)
    if ord in ("nuc", 2, -2):
        moved = ops.movedim(A, (r, c), (-2, -1))
        s = svdvals(moved)
        if s.shape[-1] == 0 and ord == -2:
            raise ShapeError(f"linalg.matrix_norm: ord=-2 is the smallest singular value, and "
                             f"a matrix of shape {moved.shape[-2:]} has none")
        # the largest of no singular values is 0, as the sum of none
        out = (ops.sum(s, axis=-1) if ord == "nuc" or s.shape[-1] == 0 else s[..., 0]
               if ord == 2 else s[..., -1])
        if keepdim:
            out = ops.unsqueeze(ops.unsqueeze(out, min(r, c)), max(r, c))
        return out
    if ord in (1, -1, math.inf, -math.inf):
        summed, over = (r, c) if ord in (1, -1) else (c, r)
        sums = ops.sum(ops.abs(A), axis=summed, keepdims=True)
        pick = ops.amax if ord > 0 else ops.amin
        out = pick(sums, axis=over, keepdims=True)
        return out if keepdim else ops.squeeze(out, axis=(r, c))
    raise ValueError(f"linalg.matrix_norm: ord must be 'fro', 'nuc', 2, -2, 1, -1, inf or "
                     f"-inf, got {ord!r}")


def matrix_power(A, n):
    """A to the integer power n (torch.linalg.matrix_power): the identity for 0, the
    inverse's power for n < 0; by repeated squaring, so differentiable."""
    if not isinstance(n, int) or isinstance(n, bool):
        raise TypeError(f"linalg.matrix_power: n must be an int, got {type(n).__name__}")
    if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        raise ShapeError(f"linalg.matrix_power: needs square matrices (..., n, n), got "
                         f"shape {A.shape}")
    if n == 0:
        return ops.broadcast_to(_eye(A), A.shape)
    if n < 0:
        A, n = inv(A), -n
    result, square = None, A
    while n:
        if n & 1:
            result = square if result is None else matmul(result, square)
        n >>= 1
        if n:
            square = matmul(square, square)
    return result


def matrix_rank(A, *, atol=None, rtol=None, hermitian=False):
    """How many singular values exceed max(atol, rtol * the largest) (torch.linalg.
    matrix_rank; rtol by default max(m, n) eps, or 0 with an atol), as int64."""
    A = matrices("matrix_rank", A, square=hermitian)
    with no_grad():
        s = ops.abs(eigvalsh(A)) if hermitian else svdvals(A)
        rtol = default_rtol(A, atol) if rtol is None else rtol
        top = ops.amax(s, axis=-1, keepdims=True) if s.shape[-1] else s[..., :1]
        rtol, atol = (ops.unsqueeze(t, -1) if isinstance(t, Tensor) else t   # per matrix
                      for t in (rtol, 0.0 if atol is None else atol))
        tol = ops.maximum(rtol * top, atol)
        return ops.sum(ops.cast(s > tol, A._backend.default_int), axis=-1)


def multi_dot(tensors):
    """The product of a chain of matrices (torch.linalg.multi_dot; the first may be a row
    vector and the last a column vector), multiplied in the order that needs the fewest
    multiplications."""
    ts = list(tensors)
    if len(ts) < 2:
        raise ValueError(f"linalg.multi_dot: needs at least two tensors, got {len(ts)}")
    first_vec, last_vec = ts[0].ndim == 1, ts[-1].ndim == 1
    if first_vec:
        ts[0] = ops.unsqueeze(ts[0], 0)
    if last_vec:
        ts[-1] = ops.unsqueeze(ts[-1], -1)
    for i, t in enumerate(ts):
        if t.ndim != 2:
            raise ShapeError(f"linalg.multi_dot: tensor {i} has shape {t.shape}; all must be "
                             f"2-D (the first and last may be 1-D)")
    dims = [ts[0].shape[0]] + [t.shape[1] for t in ts]
    for i in range(len(ts) - 1):
        if ts[i].shape[1] != ts[i + 1].shape[0]:
            raise ShapeError(f"linalg.multi_dot: tensor {i} {ts[i].shape} and tensor {i + 1} "
                             f"{ts[i + 1].shape} cannot be multiplied")
    out = _chain(ts, _order(dims), 0, len(ts) - 1)
    if first_vec:
        out = ops.squeeze(out, axis=0)
    if last_vec:
        out = ops.squeeze(out, axis=-1)
    return out


def _order(dims):
    """The split of each sub-chain that needs the fewest scalar multiplications (the
    textbook dynamic program over the chain's dims)."""
    n = len(dims) - 1
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j], split[i][j] = min(
                (cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1], k)
                for k in range(i, j))
    return split


def _chain(ts, split, i, j):
    if i == j:
        return ts[i]
    k = split[i][j]
    return matmul(_chain(ts, split, i, k), _chain(ts, split, k + 1, j))


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):
    """torch.linalg.norm: a vector norm over one axis ``dim`` (or all of a tensor when
    ord and dim are None), a matrix norm over two; with ``ord`` and no ``dim``, A must be
    1-D or 2-D."""
    if isinstance(dim, int):
        dim = (dim,)
    if dim is None:
        if ord is None:
            return vector_norm(A, 2, None, keepdim, dtype=dtype)
        if A.ndim not in (1, 2):
            raise ShapeError(f"linalg.norm: with ord={ord!r} and no dim, A must be 1-D or "
                             f"2-D, got shape {A.shape}")
        dim = tuple(range(A.ndim))
    if len(dim) == 1:
        return vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype)
    return matrix_norm(A, "fro" if ord is None else ord, dim, keepdim, dtype=dtype)


def solve_triangular(A, B, *, upper, left=True, unitriangular=False):
    """X with A X = B (or X A = B) for triangular A: only A's ``upper`` or lower triangle
    is read, its diagonal taken as ones when ``unitriangular`` (torch.linalg.
    solve_triangular); the gradient reaches that triangle only. A zero on the diagonal
    is a LinAlgError (PyTorch returns inf and NaN)."""
    T = ops.triu(A) if upper else ops.tril(A)
    if unitriangular:
        eye = _eye(A)
        T = T * (1.0 - eye) + eye
    return solve(T, B, left=left, vector=False)


def tensorinv(A, ind=2):
    """The tensor B with tensordot(A, B, ind) the identity (torch.linalg.tensorinv): A's
    first ``ind`` axes and the rest must hold as many elements; B's shape is the rest,
    then the first."""
    front, back = A.shape[:ind], A.shape[ind:]
    rows, cols = math.prod(front), math.prod(back)
    if ind < 1 or rows != cols:
        raise ShapeError(f"linalg.tensorinv: A {A.shape} with ind={ind} splits into {front} "
                         f"and {back}, which must hold as many elements ({rows} and {cols})")
    return ops.reshape(inv(ops.reshape(A, (rows, cols))), back + front)


def tensorsolve(A, B, dims=None):
    """X with tensordot(A, X, X.ndim) = B (torch.linalg.tensorsolve): A's shape is B's
    shape then X's; ``dims`` are axes of A moved to the end first."""
    if dims is not None:
        A = ops.movedim(A, tuple(dims), tuple(range(A.ndim - len(dims), A.ndim)))
    if A.shape[:B.ndim] != B.shape:
        raise ShapeError(f"linalg.tensorsolve: A {A.shape} must start with B's shape {B.shape}")
    rest = A.shape[B.ndim:]
    rows, cols = math.prod(B.shape), math.prod(rest)
    if rows != cols:
        raise ShapeError(f"linalg.tensorsolve: A {A.shape} past B's shape {B.shape} holds "
                         f"{cols} elements, B {rows}; they must be equal")
    X = solve(ops.reshape(A, (rows, cols)), ops.reshape(B, (rows,)))
    return ops.reshape(X, rest)


def vander(x, *, N=None):
    """The Vandermonde matrices of the vectors x (..., n): columns x^0, x^1, ... x^(N-1)
    (N = n by default), as torch.linalg.vander; powers by cumulative products, so that
    x = 0 has gradient 1 at its first power, not NaN."""
    n = x.shape[-1] if x.ndim else 1
    N = n if N is None else N
    if N < 1:
        raise ValueError(f"linalg.vander: N must be at least 1, got {N}")
    ones = ones_like(ops.unsqueeze(x, -1))
    if N == 1:
        return ones
    powers = ops.cumprod(ops.broadcast_to(ops.unsqueeze(x, -1), x.shape + (N - 1,)), -1)
    return ops.concatenate([ops.cast(ones, powers.dtype), powers], -1)


def vecdot(x, y, *, dim=-1):
    """The dot products of vectors along ``dim``, the first conjugated (torch.linalg.vecdot)."""
    return ops.sum(ops.conj(x) * y if x.dtype.is_complex else x * y, axis=dim)


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):
    """The vector ``ord``-norm over ``dim`` (all axes when None), as torch.linalg.vector_norm."""
    if dtype is not None:
        x = ops.cast(x, dtype)
    return _vector_norm(x, ord, dim, keepdim)
