"""The Array API ``linalg`` extension (``ember.array_api.linalg``): on real floats, the
differentiable functions of ember.linalg (LAPACK's values from a host copy, gradients in
ember's ops); on complex and integer input, NumPy's LAPACK on a host copy."""

import inspect

import numpy as np

from . import linalg as _torch_linalg
from . import ops
from .errors import ShapeError
from .ops import lapack
from .ops.lapack import EighResult, QRResult, SlogdetResult, SVDResult
from .ops.reduce import vector_norm as _vector_norm
from .array_api import _host, eye, matmul, matrix_transpose, on_host, sum, tensordot, vecdot
from .tensor import Tensor

__all__ = ["cholesky", "cross", "det", "diagonal", "eigh", "eigvalsh", "inv", "matmul",
           "matrix_norm", "matrix_power", "matrix_rank", "matrix_transpose", "outer", "pinv", "qr",
           "slogdet", "solve", "svd", "svdvals", "tensordot", "trace", "vecdot", "vector_norm"]


def _real_or_host(op, np_fn):
    """``op`` (ember.linalg's, differentiable) for a real float x; ``np_fn`` (a NumPy
    function spelling the standard's signature, which the result takes) on a host copy
    otherwise: complex, and integers, which NumPy computes in float64."""
    def fn(x, /, *args, **kwargs):
        if isinstance(x, Tensor) and x.dtype.is_float:
            return op(x, *args, **kwargs)
        return on_host(np_fn, x, *args, **kwargs)
    fn.__name__, fn.__doc__ = op.__name__, op.__doc__
    fn.__signature__ = inspect.signature(np_fn)
    return fn


det = _real_or_host(lapack.det, lambda x, /: np.linalg.det(x))
inv = _real_or_host(lapack.inv, lambda x, /: np.linalg.inv(x))
eigvalsh = _real_or_host(lapack.eigvalsh, lambda x, /: np.linalg.eigvalsh(x))
matrix_power = _real_or_host(_torch_linalg.matrix_power,
                             lambda x, n, /: np.linalg.matrix_power(x, n))
_solve = _host(np.linalg.solve)


def solve(x1, x2, /):
    """x1^-1 x2, x2 a vector (M,) or a stack of (M, K) matrices."""
    rows = x2.shape[0] if x2.ndim == 1 else x2.shape[-2] if x2.ndim else None
    if x1.ndim < 2 or x1.shape[-1] != x1.shape[-2] or rows != x1.shape[-1]:
        raise ShapeError(f"solve: x1 {x1.shape} must be square matrices (..., M, M) and x2 "
                         f"{x2.shape} hold M = {x1.shape[-1] if x1.ndim else '?'} rows, "
                         f"(M,) or (..., M, K)")
    if x1.dtype.is_float and x2.dtype.is_float:
        return lapack.solve(x1, x2, vector=x2.ndim == 1)
    return _solve(x1, x2)


cross = _host(lambda x1, x2, /, *, axis=-1: np.cross(x1, x2, axis=axis))
diagonal = _host(lambda x, /, *, offset=0: np.diagonal(x, offset, -2, -1))


def _cholesky_host(x, /, *, upper=False):
    return np.swapaxes(np.linalg.cholesky(x), -1, -2).conj() if upper else np.linalg.cholesky(x)


cholesky = _real_or_host(lapack.cholesky, _cholesky_host)
eigh = _real_or_host(lapack.eigh, lambda x, /: EighResult(*np.linalg.eigh(x)))
qr = _real_or_host(lapack.qr, lambda x, /, *, mode="reduced": QRResult(*np.linalg.qr(x, mode)))
slogdet = _real_or_host(lapack.slogdet, lambda x, /: SlogdetResult(*np.linalg.slogdet(x)))
svd = _real_or_host(lapack.svd, lambda x, /, *, full_matrices=True: SVDResult(
    *np.linalg.svd(x, full_matrices=full_matrices)))
svdvals = _real_or_host(lapack.svdvals, lambda x, /: np.linalg.svd(x, compute_uv=False))
matrix_rank = _real_or_host(_torch_linalg.matrix_rank,
                            lambda x, /, *, rtol=None: np.linalg.matrix_rank(x, rtol=rtol))
pinv = _real_or_host(lapack.pinv, lambda x, /, *, rtol=None: np.linalg.pinv(x, rtol=rtol))


def matrix_norm(x, /, *, keepdims=False, ord="fro"):
    if x.dtype.is_float:
        return _torch_linalg.matrix_norm(x, ord, keepdim=keepdims)
    return on_host(lambda a: np.linalg.norm(a, ord, axis=(-2, -1), keepdims=keepdims), x)


def vector_norm(x, /, *, axis=None, keepdims=False, ord=2):
    return _vector_norm(x, ord, axis, keepdims)


def outer(x1, x2, /):
    return ops.unsqueeze(x1, -1) * ops.unsqueeze(x2, 0)


def trace(x, /, *, offset=0, dtype=None):
    mask = eye(x.shape[-2], x.shape[-1], k=offset, dtype=x.dtype, device=x.device)
    return sum(x * mask, axis=(-2, -1), dtype=dtype)
