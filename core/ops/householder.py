"""Householder reflectors, as LAPACK stores a QR factorization: torch.geqrf, torch.linalg.
householder_product (torch.orgqr) and torch.ormqr.

geqrf is SciPy's LAPACK on a host copy, matrix by matrix (PyTorch defines no derivative
for it, nor does ember). The products are composed of ember's ops on the tensor's
backend, one reflector H_i = I - tau_i v_i v_i^T at a time (v_i is 1 at i, 0 above and
A's column i below), so they run everywhere, compile, and differentiate in A, tau and
the other operand as PyTorch's. tau_i = 0 is the identity; NaN spreads along the rows
or columns a reflector mixes; empty matrices give empty products."""

import collections

import numpy as np
from scipy.linalg.lapack import get_lapack_funcs

from .. import dtypes as dt
from ..autograd import run
from ..errors import AutogradError, ShapeError
from ._util import as_tensor
from .elementwise import cast
from .lapack import ROUTINES, Lapack, matrices
from .linalg import matmul
from .movement import reshape, tril, unsqueeze

GeqrfResult = collections.namedtuple("GeqrfResult", "a tau")


def _geqrf_host(a):
    """[LAPACK's geqrf as rows | tau], one row per matrix of a (..., m, n)."""
    m, n = a.shape[-2:]
    flat = a.reshape((int(np.prod(a.shape[:-2])), m, n))
    out = np.zeros((len(flat), m * n + min(m, n)), a.dtype)
    if flat.size:
        (geqrf,) = get_lapack_funcs(("geqrf",), (flat,))
        for i, x in enumerate(flat):
            qr, tau = geqrf(x)[:2]
            out[i, :m * n], out[i, m * n:] = qr.reshape(-1), tau
    return out.reshape(a.shape[:-2] + out.shape[-1:])


ROUTINES["geqrf"] = _geqrf_host


def _no_derivative(g, out, A):
    raise AutogradError("geqrf: has no derivative (nor has PyTorch's); linalg.qr "
                        "differentiates the same factorization")


def geqrf(A):
    """(a, tau) as torch.geqrf: R on and above a's diagonal, the Householder vectors below
    it, and their scalars tau (..., min(m, n)); linalg.householder_product(a, tau) is Q."""
    A = matrices("geqrf", A, square=False)
    m, n = A.shape[-2:]
    wide = dt.float32 if A.dtype in dt.HALF else A.dtype
    packed = run(Lapack("geqrf", (), _no_derivative), (cast(A, wide),),
                 A.shape[:-2] + (m * n + min(m, n),), wide)
    packed = cast(packed, A.dtype)
    return GeqrfResult(reshape(packed[..., :m * n], A.shape), packed[..., m * n:])


def _reflectors(name, A, tau, k_max):
    """The unit lower trapezoidal V (..., m, k) of A's first k = tau's length columns,
    and tau, checked."""
    tau = as_tensor(tau, name, like=A)
    k = tau.shape[-1] if tau.ndim else -1
    if k < 0 or k > k_max or tau.shape[:-1] != A.shape[:-2]:
        raise ShapeError(f"{name}: tau must hold at most {k_max} scalars per matrix, shape "
                         f"{A.shape[:-2]} + (k,) for A {A.shape}; got {tau.shape}")
    from ..creation import eye
    m = A.shape[-2]
    V = tril(A[..., :, :k], -1) + eye(m, k, dtype=A.dtype, backend=A._backend)
    return V, cast(tau, A.dtype)


def _reflect(V, tau, C, left, first_to_last):
    """C with the reflectors H_i = I - tau_i v_i v_i^T applied one at a time: from the left
    (H C) or the right (C H), the first reflector first or last."""
    k = V.shape[-1]
    for i in (range(k) if first_to_last else range(k - 1, -1, -1)):
        v = V[..., :, i:i + 1]
        t = unsqueeze(unsqueeze(tau[..., i], -1), -1)
        if left:
            C = C - matmul(v * t, matmul(v.mT, C))
        else:
            C = C - matmul(matmul(C, v) * t, v.mT)
    return C


def householder_product(A, tau):
    """The first n columns of H_1 ... H_k (torch.linalg.householder_product, torch.orgqr):
    Q of geqrf's (a, tau). A is (..., m, n) with m >= n >= k."""
    A = matrices("householder_product", A, square=False)
    m, n = A.shape[-2:]
    if m < n:
        raise ShapeError(f"linalg.householder_product: A {A.shape} has {m} rows and {n} "
                         f"columns; it needs at least as many rows")
    V, tau = _reflectors("linalg.householder_product", A, tau, n)
    from ..creation import eye
    return _reflect(V, tau, eye(m, n, dtype=A.dtype, backend=A._backend), True, False)


def ormqr(input, tau, other, left=True, transpose=False):  # noqa: A002  (PyTorch's names)
    """Q other, other Q, or with Q^T (torch.ormqr), Q = H_1 ... H_k the m x m product of
    geqrf's reflectors (input (..., m, k), m other's rows when ``left``, else its
    columns)."""
    A = matrices("ormqr", input, square=False)
    C = as_tensor(other, "ormqr", like=A)
    m = A.shape[-2]
    side = C.shape[-2 if left else -1] if C.ndim >= 2 else None
    if side != m:
        which = "rows" if left else "columns"
        raise ShapeError(f"ormqr: input {A.shape} holds reflectors of length {m}, so other "
                         f"{C.shape} needs {m} {which}")
    V, tau = _reflectors("ormqr", A, tau, min(A.shape[-2:]))
    return _reflect(V, tau, cast(C, A.dtype), left, left == transpose)
