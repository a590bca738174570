"""Batched matrix multiplication: a real primitive, never multiply-and-sum."""

import math

from .. import amp
from .. import dtypes as dt
from ..autograd import Op, run
from ..errors import ShapeError
from ..shapes import broadcast_shapes
from ._util import as_tensor, check_dtype, same_backend, unbroadcast
from .elementwise import NUMERIC, cast, conj
from .movement import reshape, transpose


class MatMul(Op):
    __slots__ = ()

    def forward(self, a, b):
        return self.backend.matmul(a, b)

    complex_grad = True

    def backward(self, g, a, b):
        ga = unbroadcast(matmul(g, _adjoint(b)), a.shape) if a.requires_grad else None
        gb = unbroadcast(matmul(_adjoint(a), g), b.shape) if b.requires_grad else None
        return ga, gb


def _adjoint(m):
    """The conjugate transpose (of a real matrix: its transpose)."""
    return conj(transpose(m)) if m.dtype.is_complex else transpose(m)


def matmul(a, b):
    """a @ b: (..., m, k) @ (..., k, n) with broadcast batch axes; 1-D operands
    act as a row (left) or column (right) vector, as in NumPy."""
    a = as_tensor(a, "matmul", like=b if hasattr(b, "_backend") else None)
    b = as_tensor(b, "matmul", like=a)
    same_backend("matmul", (a, b))
    a, b = amp.lower(a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(f"matmul: {a.shape} @ {b.shape}: operands need at least one "
                         f"dimension; use * for scalars")
    ka = a.shape[-1]
    kb = b.shape[-2] if b.ndim > 1 else b.shape[0]
    if ka != kb:
        raise ShapeError(f"matmul: {a.shape} @ {b.shape}: inner dimensions {ka} and {kb} differ")
    if a.dtype is not b.dtype:
        dtype = dt.promote(a.dtype, b.dtype)
        a, b = cast(a, dtype), cast(b, dtype)
    check_dtype("matmul", a, NUMERIC)
    va, vb = a.ndim == 1, b.ndim == 1
    if va:
        a = reshape(a, (1, ka))
    if vb:
        b = reshape(b, (kb, 1))
    batch = broadcast_shapes("matmul", a.shape[:-2], b.shape[:-2])
    out = run(MatMul(), (a, b), batch + (a.shape[-2], b.shape[-1]), a.dtype)
    if va or vb:
        shape = out.shape[:-2] + (() if va else (out.shape[-2],)) + (() if vb else (out.shape[-1],))
        out = reshape(out, shape)
    return out


def _ranks(op, tensors, ranks, what):
    for t, rank in zip(tensors, ranks):
        if getattr(t, "ndim", None) != rank:
            shapes = " and ".join(str(getattr(u, "shape", type(u).__name__)) for u in tensors)
            raise ShapeError(f"{op}: needs {what}, got {shapes}; matmul (@) takes any ranks")


def mm(a, b):
    """Matrix product of two matrices (torch.mm)."""
    _ranks("mm", (a, b), (2, 2), "two matrices")
    return matmul(a, b)


def bmm(a, b):
    """Matrix products of two batches of matrices, (b, n, k) @ (b, k, m) (torch.bmm): the
    batch sizes must match, as no broadcasting is done."""
    _ranks("bmm", (a, b), (3, 3), "two (batch, rows, columns) tensors")
    if a.shape[0] != b.shape[0]:
        raise ShapeError(f"bmm: batch sizes {a.shape[0]} and {b.shape[0]} differ ({a.shape} and "
                         f"{b.shape}); matmul (@) broadcasts them")
    return matmul(a, b)


def dot(a, b):
    """The inner product of two vectors of one length (torch.dot)."""
    _ranks("dot", (a, b), (1, 1), "two vectors")
    return matmul(a, b)


def outer(a, b):
    """The (n, m) products a[i] * b[j] of two vectors (torch.outer)."""
    _ranks("outer", (a, b), (1, 1), "two vectors")
    return reshape(a, (a.shape[0], 1)) * reshape(b, (1, b.shape[0]))


def mv(a, v):
    """Matrix times vector, (n, m) @ (m,) (torch.mv)."""
    _ranks("mv", (a, v), (2, 1), "a matrix and a vector")
    return matmul(a, v)


def addmv(input, mat, vec, *, beta=1, alpha=1):  # noqa: A002  (PyTorch's names)
    """beta input + alpha (mat @ vec) (torch.addmv; beta 0 ignores the input, NaN
    included)."""
    return _scaled_sum("addmv", input, mv(mat, vec), beta, alpha)


def addr(input, vec1, vec2, *, beta=1, alpha=1):  # noqa: A002
    """beta input + alpha outer(vec1, vec2) (torch.addr; beta 0 ignores the input)."""
    return _scaled_sum("addr", input, outer(vec1, vec2), beta, alpha)


def vdot(a, b):
    """The inner product of two vectors, the first conjugated (torch.vdot)."""
    _ranks("vdot", (a, b), (1, 1), "two vectors")
    from .elementwise import conj
    return matmul(conj(a) if a.dtype.is_complex else a, b)


def inner(a, b):
    """Sums of products over the last axes of a and b (torch.inner, numpy.inner): shape
    a.shape[:-1] + b.shape[:-1]; a scalar multiplies."""
    a = as_tensor(a, "inner", like=b if hasattr(b, "_backend") else None)
    b = as_tensor(b, "inner", like=a)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    return tensordot(a, b, ([-1], [-1]))


def tensordot(a, b, dims=2):
    """Sums of products over ``dims`` pairs of axes (torch.tensordot; numpy's ``axes``):
    an int n pairs a's last n with b's first n, or two lists name them. One matmul."""
    from ..shapes import normalize_axis
    from .movement import permute
    a = as_tensor(a, "tensordot", like=b if hasattr(b, "_backend") else None)
    b = as_tensor(b, "tensordot", like=a)
    if isinstance(dims, int):
        if not 0 <= dims <= min(a.ndim, b.ndim):
            raise ShapeError(f"tensordot: dims={dims} contracts more axes than {a.shape} or "
                             f"{b.shape} has; give 0 to {min(a.ndim, b.ndim)}")
        a_axes, b_axes = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    else:
        a_axes = [normalize_axis("tensordot", i, a.ndim, a.shape) for i in dims[0]]
        b_axes = [normalize_axis("tensordot", i, b.ndim, b.shape) for i in dims[1]]
    pairs = [(a.shape[i], b.shape[j]) for i, j in zip(a_axes, b_axes)]
    if len(a_axes) != len(b_axes) or len(set(a_axes)) < len(a_axes) or \
            len(set(b_axes)) < len(b_axes) or any(p != q for p, q in pairs):
        raise ShapeError(f"tensordot: axes {a_axes} of {a.shape} and {b_axes} of {b.shape} "
                         f"must pair up, distinct and of equal sizes")
    a_free = [i for i in range(a.ndim) if i not in a_axes]
    b_free = [j for j in range(b.ndim) if j not in b_axes]
    k = math.prod(a.shape[i] for i in a_axes)
    m = math.prod(a.shape[i] for i in a_free)
    n = math.prod(b.shape[j] for j in b_free)
    left = reshape(permute(a, tuple(a_free + a_axes)), (m, k))      # sizes, not -1:
    right = reshape(permute(b, tuple(b_axes + b_free)), (k, n))     # k may be 0
    return reshape(matmul(left, right), tuple(a.shape[i] for i in a_free)
                   + tuple(b.shape[j] for j in b_free))


def trace(x):
    """The sum of a matrix's main diagonal (torch.trace)."""
    from .movement import diagonal
    _ranks("trace", (x,), (2,), "a matrix")
    return diagonal(x).sum()


def cdist(x1, x2, p=2.0):
    """Distances between the rows of x1 (..., P, M) and of x2 (..., R, M): (..., P, R),
    each the p-norm of a difference (torch.cdist), computed from the differences
    themselves (PyTorch's matrix-product shortcut for p = 2 loses digits to
    cancellation) and scaled, so that no square overflows; a zero distance has gradient
    0."""
    from .movement import unsqueeze
    from .reduce import vector_norm
    x1, x2 = as_tensor(x1, "cdist"), as_tensor(x2, "cdist", like=x1)
    if x1.ndim < 2 or x2.ndim < 2 or x1.shape[-1] != x2.shape[-1]:
        raise ShapeError(f"cdist: needs (..., P, M) and (..., R, M) with one M, got {x1.shape} "
                         f"and {x2.shape}")
    if p < 0:
        raise ValueError(f"cdist: p must be >= 0, got {p}")
    return vector_norm(unsqueeze(x1, -2) - unsqueeze(x2, -3), p, -1)


def _scaled_sum(op, inp, product, beta, alpha):
    """beta * inp + alpha * product; beta 0 ignores inp (its NaN and inf too), as PyTorch."""
    product = product if alpha == 1 else product * alpha
    if beta == 0:
        return product
    inp = as_tensor(inp, op, like=product)
    return (inp if beta == 1 else inp * beta) + product


def addmm(input, mat1, mat2, beta=1, alpha=1):  # noqa: A002  (PyTorch's names)
    """beta * input + alpha * (mat1 @ mat2), two matrices (torch.addmm: a Linear's
    bias and product in one call in older code)."""
    return _scaled_sum("addmm", input, mm(mat1, mat2), beta, alpha)


def baddbmm(input, batch1, batch2, beta=1, alpha=1):  # noqa: A002
    """beta * input + alpha * bmm(batch1, batch2) (torch.baddbmm)."""
    return _scaled_sum("baddbmm", input, bmm(batch1, batch2), beta, alpha)


def kron(a, b):
    """The Kronecker product, as torch.kron: every element of a times the whole of b,
    laid out in blocks; the fewer axes of either count as leading 1s."""
    a, b = as_tensor(a, "kron"), as_tensor(b, "kron", like=a)
    n = max(a.ndim, b.ndim)
    a_shape, b_shape = (1,) * (n - a.ndim) + a.shape, (1,) * (n - b.ndim) + b.shape
    product = reshape(a, tuple(d for s in a_shape for d in (s, 1))) * \
        reshape(b, tuple(d for s in b_shape for d in (1, s)))
    return reshape(product, tuple(p * q for p, q in zip(a_shape, b_shape)))


def cross(a, b, dim=None):
    """The cross product of 3-vectors along ``dim``, a and b broadcast together, as
    torch.cross: without dim, the first axis of length 3 (PyTorch's old default;
    torch.linalg.cross takes the last)."""
    from ..shapes import normalize_axis
    from .movement import broadcast_to, stack
    a, b = as_tensor(a, "cross"), as_tensor(b, "cross", like=a)
    shape = broadcast_shapes("cross", a.shape, b.shape)
    if dim is None:
        dim = next((i for i, d in enumerate(shape) if d == 3), None)
        if dim is None:
            raise ShapeError(f"cross: no axis of length 3 in the shape {shape}; give dim")
    dim = normalize_axis("cross", dim, len(shape), shape)
    for t in (a, b):        # 3 along dim in each: a length 1 does not broadcast there
        k = t.ndim - len(shape) + dim
        if k < 0 or t.shape[k] != 3:
            raise ShapeError(f"cross: a {a.shape} and b {b.shape} must each have 3 elements "
                             f"along axis {dim}")
    a, b = broadcast_to(a, shape), broadcast_to(b, shape)
    (a0, a1, a2), (b0, b1, b2) = ([t[(slice(None),) * dim + (i,)] for i in range(3)]
                                  for t in (a, b))
    return stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], dim)
