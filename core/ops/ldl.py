"""The LDL^T factorization of symmetric matrices with Bunch-Kaufman pivoting, as
torch.linalg.ldl_factor(_ex) and ldl_solve: LAPACK's sytrf and sytrs from SciPy, on a
host copy, matrix by matrix (16-bit floats in float32).

LD holds L below the diagonal and the 1 x 1 and 2 x 2 blocks of D on and beside it
(only the lower triangle is read and written, as PyTorch's); pivots are LAPACK's
(1-based; a negative pair marks a 2 x 2 block). A zero block of D is info = its
1-based position, which ldl_factor refuses naming the matrix (PyTorch 2.13 fails an
internal assert there). PyTorch differentiates neither; ember's ldl_solve
differentiates in B (gB = A^-1 g, A symmetric), and asking for the factors' gradient is
an AutogradError. ``hermitian`` means nothing for real matrices, the only ones ember.
linalg takes."""

import collections

import numpy as np
from scipy.linalg.lapack import get_lapack_funcs

from .. import dtypes as dt
from ..autograd import run
from ..errors import AutogradError, IndexingError, ShapeError
from ._util import as_tensor, unbroadcast
from .elementwise import cast
from .lapack import ROUTINES, Lapack, batches, matrices, refuse_zero_pivots
from .movement import reshape

LDLFactorResult = collections.namedtuple("LDLFactorResult", "LD pivots")
LDLFactorExResult = collections.namedtuple("LDLFactorExResult", "LD pivots info")


def _factor_host(a, check):
    """[LD's rows | pivots | info], one float row per matrix; ``check`` (a function's
    name) refuses a zero block of D."""
    n = a.shape[-1]
    (flat,), batch = batches(a)
    out = np.zeros((len(flat), n * n + n + 1), a.dtype)
    if flat.size:
        (sytrf,) = get_lapack_funcs(("sytrf",), (flat,))
        for i, x in enumerate(flat):
            ld, piv, info = sytrf(x, lower=1)
            out[i, :n * n], out[i, n * n:-1], out[i, -1] = np.tril(ld).reshape(-1), piv, info
    if check:
        refuse_zero_pivots(check, out[:, -1].reshape(batch), "factor D",
                           "linalg.ldl_factor_ex factors it anyway")
    return out.reshape(batch + (n * n + n + 1,))


def _check_pivots(piv, n):
    """sytrf's pivots for lower storage, as LAPACK reads them: each names a row from 1 to
    n, and a negative one comes in an equal pair (a 2 x 2 block) that fits; anything else
    would send LAPACK's sytrs past the matrix."""
    flat = piv.reshape(-1, n)
    ok = (flat != 0).all() and (np.abs(flat) <= n).all()
    for row in flat if ok else ():
        k = 0
        while ok and k < n:
            if row[k] < 0:
                ok = k + 1 < n and row[k + 1] == row[k]
                k += 2
            else:
                k += 1
    if not ok:
        raise IndexingError(f"linalg.ldl_solve: pivots {piv.tolist() if piv.size <= 16 else ''}"
                            f" are not ldl_factor's for {n} x {n} matrices (each from 1 to {n}, "
                            f"a negative one in an equal pair)")


def _solve_host(ld, pivots, b):
    _check_pivots(pivots, ld.shape[-1])
    (lds, pivs, bs), batch = batches(ld, pivots[..., None], b)
    x = np.empty_like(bs)
    if x.size:
        (sytrs,) = get_lapack_funcs(("sytrs",), (lds,))
        for i in range(len(x)):
            x[i] = sytrs(lds[i], pivs[i, :, 0], bs[i], lower=1)[0]
    return x.reshape(batch + b.shape[-2:])


ROUTINES.update({"ldl_factor": _factor_host, "ldl_solve": _solve_host})


def _no_derivative(g, out, A):
    raise AutogradError("linalg.ldl_factor: has no derivative (nor has PyTorch's); "
                        "linalg.cholesky or linalg.eigh differentiate a symmetric matrix")


def _factor(name, A, check):
    A = matrices(name, A)
    n = A.shape[-1]
    wide = dt.float32 if A.dtype in dt.HALF else A.dtype
    packed = run(Lapack("ldl_factor", (name if check else None,), _no_derivative),
                 (cast(A, wide),), A.shape[:-2] + (n * n + n + 1,), wide)
    rest = cast(packed[..., n * n:], dt.int32)
    return cast(reshape(packed[..., :n * n], A.shape), A.dtype), rest[..., :n], rest[..., n]


def ldl_factor_ex(A, *, hermitian=False, check_errors=False):
    """(LD, pivots, info) as torch.linalg.ldl_factor_ex: info (int32) the 1-based position
    of a zero block of D, else 0; ``check_errors`` refuses it as ldl_factor does."""
    return LDLFactorExResult(*_factor("ldl_factor_ex", A, check_errors))


def ldl_factor(A, *, hermitian=False):
    """(LD, pivots) as torch.linalg.ldl_factor; a singular D is a LinAlgError naming the
    matrix (ldl_factor_ex factors it anyway)."""
    return LDLFactorResult(*_factor("ldl_factor", A, True)[:2])


def ldl_solve(LD, pivots, B, *, hermitian=False):
    """X with A X = B from A's ldl_factor results (torch.linalg.ldl_solve), batches
    broadcast; differentiable in B."""
    LD = matrices("ldl_solve", LD)
    n = LD.shape[-1]
    pivots = as_tensor(pivots, "linalg.ldl_solve", like=LD)
    if pivots.dtype.is_inexact or pivots.shape != LD.shape[:-1]:
        raise ShapeError(f"linalg.ldl_solve: pivots must be ldl_factor's, integers of shape "
                         f"{LD.shape[:-1]} for LD {LD.shape}; got {pivots.dtype.name} "
                         f"{pivots.shape}")
    B = as_tensor(B, "linalg.ldl_solve", like=LD)
    if B.ndim < 2 or B.shape[-2] != n:
        raise ShapeError(f"linalg.ldl_solve: LD {LD.shape} factors {n} x {n} matrices, so B "
                         f"{B.shape} must be (..., {n}, k)")
    from ..shapes import broadcast_shapes
    dtype = dt.promote(LD.dtype, B.dtype) if B.dtype.is_float else LD.dtype
    wide = dt.float32 if dtype in dt.HALF else dtype
    shape = broadcast_shapes("linalg.ldl_solve", LD.shape[:-2], B.shape[:-2]) + B.shape[-2:]
    X = run(Lapack("ldl_solve", (), _solve_grad), (cast(LD, wide), cast(pivots, dt.int32),
                                                    cast(B, wide)), shape, wide)
    return cast(X, dtype)


def _solve_grad(g, X, LD, pivots, B):
    if LD.requires_grad:
        raise AutogradError("linalg.ldl_solve: differentiates in B only (PyTorch's in "
                            "neither); the factors of linalg.ldl_factor have no derivative")
    return None, None, unbroadcast(ldl_solve(LD, pivots, g), B.shape) if B.requires_grad else None
