"""The Array API ``linalg`` extension (``ember.array_api.linalg``): what composes from
ember's ops (and so differentiates) is written with them; decompositions, solves and
inverses run NumPy's LAPACK on a host copy."""

import collections

import numpy as np

from . import ops
from .errors import ShapeError
from .ops.reduce import vector_norm as _vector_norm
from .array_api import _host, eye, matmul, matrix_transpose, on_host, sum, tensordot, vecdot

__all__ = ["cholesky", "cross", "det", "diagonal", "eigh", "eigvalsh", "inv", "matmul",
           "matrix_norm", "matrix_power", "matrix_rank", "matrix_transpose", "outer", "pinv", "qr",
           "slogdet", "solve", "svd", "svdvals", "tensordot", "trace", "vecdot", "vector_norm"]

EighResult = collections.namedtuple("EighResult", "eigenvalues eigenvectors")
QRResult = collections.namedtuple("QRResult", "Q R")
SlogdetResult = collections.namedtuple("SlogdetResult", "sign logabsdet")
SVDResult = collections.namedtuple("SVDResult", "U S Vh")

det, inv, eigvalsh, matrix_power = (_host(np.linalg.det), _host(np.linalg.inv),
                                    _host(np.linalg.eigvalsh), _host(np.linalg.matrix_power))
_solve = _host(np.linalg.solve)


def solve(x1, x2, /):
    """x1^-1 x2, x2 a vector (M,) or a stack of (M, K) matrices; NumPy's LAPACK on the host."""
    rows = x2.shape[0] if x2.ndim == 1 else x2.shape[-2] if x2.ndim else None
    if x1.ndim < 2 or x1.shape[-1] != x1.shape[-2] or rows != x1.shape[-1]:
        raise ShapeError(f"solve: x1 {x1.shape} must be square matrices (..., M, M) and x2 "
                         f"{x2.shape} hold M = {x1.shape[-1] if x1.ndim else '?'} rows, "
                         f"(M,) or (..., M, K)")
    return _solve(x1, x2)
cross = _host(lambda x1, x2, /, *, axis=-1: np.cross(x1, x2, axis=axis))
diagonal = _host(lambda x, /, *, offset=0: np.diagonal(x, offset, -2, -1))


def cholesky(x, /, *, upper=False):
    return on_host(lambda a: np.swapaxes(np.linalg.cholesky(a), -1, -2).conj() if upper
                   else np.linalg.cholesky(a), x)


def eigh(x, /):
    return on_host(lambda a: EighResult(*np.linalg.eigh(a)), x)


def qr(x, /, *, mode="reduced"):
    return on_host(lambda a: QRResult(*np.linalg.qr(a, mode=mode)), x)


def slogdet(x, /):
    return on_host(lambda a: SlogdetResult(*np.linalg.slogdet(a)), x)


def svd(x, /, *, full_matrices=True):
    return on_host(lambda a: SVDResult(*np.linalg.svd(a, full_matrices=full_matrices)), x)


def svdvals(x, /):
    return on_host(lambda a: np.linalg.svd(a, compute_uv=False), x)


def matrix_rank(x, /, *, rtol=None):
    return on_host(lambda a: np.linalg.matrix_rank(a, rtol=rtol), x)


def pinv(x, /, *, rtol=None):
    return on_host(lambda a: np.linalg.pinv(a, rtol=rtol), x)


def matrix_norm(x, /, *, keepdims=False, ord="fro"):
    if ord == "fro":
        return ops.sqrt(ops.sum(x * x, (-2, -1), keepdims))
    return on_host(lambda a: np.linalg.norm(a, ord, axis=(-2, -1), keepdims=keepdims), x)


def vector_norm(x, /, *, axis=None, keepdims=False, ord=2):
    return _vector_norm(x, ord, axis, keepdims)


def outer(x1, x2, /):
    return ops.unsqueeze(x1, -1) * ops.unsqueeze(x2, 0)


def trace(x, /, *, offset=0, dtype=None):
    mask = eye(x.shape[-2], x.shape[-1], k=offset, dtype=x.dtype, device=x.device)
    return sum(x * mask, axis=(-2, -1), dtype=dtype)
