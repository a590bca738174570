"""PyTorch's other names for what ember computes, and its questions about dtypes and
sizes, so that a port of PyTorch code keeps its calls: each is one of ember's ops under
torch's name and arguments, or a question answered from ember's dtype table."""

import itertools
import math
from collections import namedtuple
from dataclasses import dataclass

import numpy as np

from . import dtypes as dt
from . import ops
from .creation import tensor
from .errors import DTypeError, ShapeError, refuses_none
from .ops._util import as_tensor
from .tensor import Tensor

#: torch's top-level in-place functions (torch.abs_(x) changes x as x.abs_() does)
INPLACE = ("abs_", "acos_", "acosh_", "addmv_", "arccos_", "arccosh_", "arcsin_", "arcsinh_",
           "arctan_", "arctanh_", "asin_", "asinh_", "atan_", "atanh_", "ceil_", "clamp_",
           "clamp_max_", "clamp_min_", "clip_", "conj_physical_", "cos_", "cosh_", "deg2rad_",
           "detach_", "erf_", "erfc_", "exp2_", "exp_", "expm1_", "fill_", "fix_", "floor_",
           "frac_", "gcd_", "i0_", "index_put_", "lcm_", "ldexp_", "log10_", "log1p_", "log2_",
           "log_", "logit_", "nan_to_num_", "neg_", "negative_", "rad2deg_", "reciprocal_",
           "relu_", "round_", "rsqrt_", "sigmoid_", "sin_", "sinc_", "sinh_", "sqrt_", "square_",
           "tan_", "tanh_", "trunc_", "xlogy_", "zero_")

__all__ = ["absolute", "adjoint", "arccos", "arccosh", "arcsin", "arcsinh", "arctan",
           "arctan2", "arctanh", "argwhere", "can_cast", "chain_matmul", "clamp_max",
           "clamp_min", "combinations", "diagflat", "finfo", "fix", "float_power", "geqrf",
           "get_default_dtype", "iinfo",
           "greater", "greater_equal", "is_complex", "is_floating_point", "is_nonzero",
           "is_same_size", "less", "less_equal", "lu", "lu_solve", "lu_unpack", "multiply",
           "negative", "not_equal", "orgqr", "ormqr",
           "positive", "promote_types", "result_type", "rsub", "subtract", "unflatten",
           "inf", "nan", "pi", "e", "newaxis",
           "set_default_dtype", "index_put", "masked_scatter", "ger", "matrix_power", "vander",
           "scalar_tensor", "randint_like", "addbmm", "split_with_sizes", "is_signed",
           "is_conj", "is_neg", "resolve_conj", "resolve_neg", "conj_physical", "detach",
           "fill", "nuclear_norm", "frobenius_norm", "svd", "qr", "cholesky",
           "triangular_solve", "poisson", "binomial", "pdist", "gradient", "index_reduce",
           "svd_lowrank", "pca_lowrank",
           "put", *INPLACE]

#: torch.inf, torch.nan, torch.pi, torch.e and torch.newaxis (the array API's too)
inf, nan, pi, e, newaxis = math.inf, math.nan, math.pi, math.e, None

absolute, negative, multiply, fix = ops.abs, ops.neg, ops.mul, ops.trunc
arccos, arcsin, arctan, arctan2 = ops.acos, ops.asin, ops.atan, ops.atan2
arccosh, arcsinh, arctanh = ops.acosh, ops.asinh, ops.atanh
greater, greater_equal, less, less_equal, not_equal = ops.gt, ops.ge, ops.lt, ops.le, ops.ne


lu_unpack = ops.lu_decomposition.lu_unpack
geqrf, ormqr = ops.householder.geqrf, ops.householder.ormqr
orgqr = ops.householder.householder_product


def lu(A, pivot=True, get_infos=False):
    """torch.lu (deprecated there for linalg.lu_factor): (LU, pivots), and info with
    ``get_infos``; a singular matrix is factored either way, as PyTorch's."""
    LU, pivots, info = ops.lu_decomposition.lu_factor_ex(A, pivot=pivot)
    return (LU, pivots, info) if get_infos else (LU, pivots)


def lu_solve(b, LU_data, LU_pivots):
    """torch.lu_solve (deprecated there): linalg.lu_solve with B first."""
    return ops.lu_decomposition.lu_solve(LU_data, LU_pivots, b)


def argwhere(input):  # noqa: A002  (PyTorch's names)
    """The indices of the nonzero elements, one row each (torch.argwhere)."""
    return ops.nonzero(input)


def subtract(input, other, *, alpha=1):  # noqa: A002
    """input - alpha * other (torch.subtract, torch.sub)."""
    return ops.sub(input, other if alpha == 1 else other * alpha)


def rsub(input, other, alpha=1):  # noqa: A002
    """other - alpha * input (torch.rsub)."""
    return ops.sub(other, input if alpha == 1 else input * alpha)


@refuses_none
def positive(input):  # noqa: A002
    """input itself (torch.positive); refused for bool, as PyTorch refuses it."""
    if input.dtype is dt.bool_:
        raise DTypeError("positive: bool tensors have no unary +; use the tensor itself")
    return input


@refuses_none
def clamp_min(input, min):  # noqa: A002
    """max(input, min) elementwise (torch.clamp_min)."""
    return ops.clip(input, min, None)


@refuses_none
def clamp_max(input, max):  # noqa: A002
    """min(input, max) elementwise (torch.clamp_max)."""
    return ops.clip(input, None, max)


@refuses_none
def float_power(input, exponent):  # noqa: A002
    """input ** exponent in float64 (torch.float_power); a backend without float64
    (wgpu) refuses it by name."""
    x = as_tensor(input, "float_power", like=exponent if isinstance(exponent, Tensor) else None)
    if dt.float64 not in x.backend.dtypes:
        raise DTypeError(f"float_power: computes in float64, which the {x.backend.device} "
                         f"backend lacks; use pow, or move the tensor to a backend with "
                         f"float64")
    e = exponent.to(dt.float64) if isinstance(exponent, Tensor) else float(exponent)
    return ops.pow(x.to(dt.float64), e)


@refuses_none
def adjoint(input):  # noqa: A002
    """The conjugate transpose of the last two axes (torch.adjoint)."""
    return ops.conj(input.mT) if input.dtype.is_complex else input.mT


def chain_matmul(*matrices):
    """The product of the matrices in their cheapest order (torch.chain_matmul,
    ember.linalg.multi_dot)."""
    from .linalg import multi_dot
    return multi_dot(matrices)


@refuses_none
def diagflat(input, offset=0):  # noqa: A002
    """A matrix with input's elements (flattened) on its ``offset`` diagonal."""
    return ops.diag(ops.reshape(input, (-1,)), offset)


@refuses_none
def unflatten(input, dim, sizes):  # noqa: A002
    """``dim`` split into ``sizes`` (one may be -1), as torch.unflatten."""
    from .shapes import normalize_axis
    dim = normalize_axis("unflatten", dim, input.ndim, input.shape)
    shape = input.shape[:dim] + tuple(sizes) + input.shape[dim + 1:]
    return ops.reshape(input, shape)


@refuses_none
def combinations(input, r=2, with_replacement=False):  # noqa: A002
    """The length-r combinations of a 1-D tensor's elements, one row each, in
    itertools' order (torch.combinations); differentiable (the rows gather)."""
    if input.ndim != 1:
        raise ShapeError(f"combinations: input must be 1-D, got shape {input.shape}")
    pick = itertools.combinations_with_replacement if with_replacement else \
        itertools.combinations
    rows = list(pick(range(input.shape[0]), r))
    if not rows or r == 0:
        return ops.reshape(input[:0], (0,) if r == 0 else (0, r))
    index = tensor(rows, dtype=input.backend.default_int, backend=input.backend).reshape(-1)
    return ops.reshape(ops.index_select(input, 0, index), (len(rows), r))


@refuses_none
def is_floating_point(input):  # noqa: A002
    return input.dtype.is_float


@refuses_none
def is_complex(input):  # noqa: A002
    return input.dtype.is_complex


@refuses_none
def is_same_size(input, other):  # noqa: A002
    return tuple(input.shape) == tuple(other.shape)


@refuses_none
def is_nonzero(input):  # noqa: A002
    """Whether a one-element tensor is not zero (torch.is_nonzero); any other size is
    ambiguous and refused."""
    if input.size != 1:
        raise ShapeError(f"is_nonzero: a tensor of {input.size} elements is ambiguous; give "
                         f"one element, or use .any() or .all()")
    return bool(input.reshape(()).item() != 0)


def get_default_dtype():
    """The dtype of float tensors made without one: float32 unless set_default_dtype
    changed it."""
    return dt.default_float


def set_default_dtype(d):
    """torch.set_default_dtype: the dtype of float tensors made without one (Python
    floats, randn, zeros, a layer's parameters), float32, float64, float16 or bfloat16;
    complex ones take its complex counterpart."""
    dt.set_default_float(d)


def promote_types(type1, type2):
    """The dtype of a binary op between tensors of these dtypes (torch.promote_types)."""
    return dt.promote(dt.dtype(type1), dt.dtype(type2))


def result_type(tensor1, tensor2):
    """The dtype of a binary op between these tensors or Python numbers
    (torch.result_type): a number takes its kind's place beside a tensor."""
    def kind(v):
        return dt.dtype(v.dtype) if isinstance(v, Tensor) else None
    a, b = kind(tensor1), kind(tensor2)
    if a and b:
        return dt.promote(a, b)
    if a or b:
        return dt.scalar_dtype(tensor2 if a else tensor1, a or b)
    return dt.scalar_dtype(tensor2, dt.scalar_dtype(tensor1, dt.bool_))


def _kind(d):
    """bool < integers < floats < complex: a cast within a kind or up is allowed."""
    d = dt.dtype(d)
    return 0 if d.is_bool else 1 if d.is_int else 3 if d.is_complex else 2


def can_cast(from_, to):
    """Whether PyTorch's type promotion allows the cast: not from a float to an integer,
    from complex to real, or from anything but bool to bool (torch.can_cast)."""
    return _kind(from_) <= _kind(to)


@dataclass(frozen=True)
class TypeInfo:
    """torch.finfo's and torch.iinfo's fields (an integer dtype has no eps, tiny,
    smallest_normal or resolution: None)."""

    bits: int
    max: float
    min: float
    dtype: str
    eps: float = None
    tiny: float = None
    smallest_normal: float = None
    resolution: float = None


def finfo(type=None):  # noqa: A002  (PyTorch's name)
    """The limits of a floating (or complex: its parts') dtype, the default float's when
    none is given, as torch.finfo: bits, eps, max, min, tiny (= smallest_normal) and
    resolution (10^-floor(-log10 eps), the decimal digits it holds)."""
    d = dt.default_float if type is None else dt.dtype(type)
    if not d.is_inexact:
        raise DTypeError(f"finfo: {d.name} is not a floating dtype; use ember.iinfo")
    info = dt.finfo(d)
    return TypeInfo(int(info.bits), float(info.max), float(info.min), dt.real_of(d).name,
                    float(info.eps), float(info.smallest_normal), float(info.smallest_normal),
                    10.0 ** -math.floor(-math.log10(float(info.eps))))


def iinfo(type):  # noqa: A002  (PyTorch's name)
    """The limits of an integer dtype, as torch.iinfo: bits, max, min."""
    d = dt.dtype(type)
    if not d.is_int:
        raise DTypeError(f"iinfo: {d.name} is not an integer dtype; use ember.finfo")
    info = np.iinfo(d.np)
    return TypeInfo(int(info.bits), int(info.max), int(info.min), d.name)


# -- PyTorch's functions for what ember has as methods or under torch.linalg -------------
@refuses_none
def index_put(input, indices, values, accumulate=False):  # noqa: A002
    """input with values at the index tensors ``indices`` (torch.index_put)."""
    return input.index_put(indices, values, accumulate)


@refuses_none
def masked_scatter(input, mask, source):  # noqa: A002
    """input with its masked positions taken in order from source (torch.masked_scatter)."""
    return input.masked_scatter(mask, source)


@refuses_none
def ger(input, vec2):  # noqa: A002
    """The outer product (torch.ger, PyTorch's older name for outer)."""
    return ops.outer(input, vec2)


@refuses_none
def matrix_power(input, n):  # noqa: A002
    """torch.matrix_power: linalg.matrix_power."""
    from . import linalg
    return linalg.matrix_power(input, n)


@refuses_none
def vander(x, N=None, increasing=False):  # noqa: N803  (PyTorch's argument name)
    """The Vandermonde matrix of a 1-D x, as torch.vander: powers N - 1 down to 0 in its
    columns (up from 0 with ``increasing``); N defaults to len(x)."""
    from . import linalg
    x = as_tensor(x, "vander")
    if x.ndim != 1:
        raise ShapeError(f"vander: takes a 1-D tensor, got shape {x.shape}")
    powers = linalg.vander(x, N=x.shape[0] if N is None else N)
    return powers if increasing else ops.flip(powers, -1)


def scalar_tensor(s, dtype=None, backend=None, requires_grad=False):
    """A 0-d tensor of the number s, in the default float dtype unless ``dtype`` says
    otherwise (torch.scalar_tensor)."""
    return tensor(s, dtype=dtype or dt.default_float, backend=backend,
                  requires_grad=requires_grad)


@refuses_none
def randint_like(input, low=0, high=None, dtype=None):  # noqa: A002
    """Integers in [low, high) of input's shape, dtype and backend (torch.randint_like,
    also called as randint_like(input, high))."""
    from .creation import randint
    if high is None:
        low, high = 0, low
    return randint(low, high, input.shape, dtype=dtype or input.dtype, backend=input.backend)


@refuses_none
def addbmm(input, batch1, batch2, beta=1, alpha=1):  # noqa: A002
    """beta input + alpha sum_b batch1[b] @ batch2[b] (torch.addbmm); beta 0 ignores
    input, NaN included, as PyTorch."""
    product = ops.sum(ops.matmul(batch1, batch2), 0)
    product = product if alpha == 1 else product * alpha
    if beta == 0:
        return ops.broadcast_to(product, ops.broadcast_shapes(input.shape, product.shape))
    return (input if beta == 1 else input * beta) + product


@refuses_none
def split_with_sizes(input, split_sizes, dim=0):  # noqa: A002
    """input cut along dim into pieces of the given sizes (torch.split_with_sizes)."""
    return ops.split(input, list(split_sizes), dim)


@refuses_none
def is_signed(input):  # noqa: A002
    """Whether input's dtype holds negative numbers (floats, complex, signed ints)."""
    return input.dtype.is_float or input.dtype.is_complex or input.dtype.kind == "i"


@refuses_none
def is_conj(input):  # noqa: A002
    """False: ember's conj computes the conjugate, never a lazy view of one."""
    return False


is_neg = is_conj


@refuses_none
def resolve_conj(input):  # noqa: A002
    """input itself: ember has no lazy conjugate to resolve (see is_conj)."""
    return input


resolve_neg = resolve_conj
conj_physical = ops.conj


@refuses_none
def detach(input):  # noqa: A002
    """input cut from the graph that made it (torch.detach)."""
    return input.detach()


@refuses_none
def fill(input, value):  # noqa: A002
    """A tensor of input's shape, dtype and backend holding value (torch.fill)."""
    from .creation import full_like
    return full_like(input, value)


@refuses_none
def nuclear_norm(input, dim=(-2, -1), keepdim=False):  # noqa: A002
    """The sum of the singular values of the matrices over ``dim`` (torch.nuclear_norm)."""
    from . import linalg
    return linalg.matrix_norm(input, "nuc", dim, keepdim)


@refuses_none
def frobenius_norm(input, dim=(-2, -1), keepdim=False):  # noqa: A002
    """sqrt of the sum of squares over ``dim`` (torch.frobenius_norm)."""
    from . import linalg
    return linalg.vector_norm(input, 2, dim, keepdim)


# -- torch's older linear algebra, as torch.linalg computes it ------------------------
@refuses_none
def svd(input, some=True, compute_uv=True):  # noqa: A002
    """(U, S, V) with input = U diag(S) V^H (torch.svd: V, not linalg.svd's V^H; ``some``
    is full_matrices=False). Without ``compute_uv``, U and V are square zeros, as
    PyTorch's."""
    from . import linalg
    from .creation import zeros
    if not compute_uv:
        *batch, m, n = input.shape
        return (zeros(tuple(batch) + (m, m), dtype=input.dtype, backend=input.backend),
                linalg.svdvals(input),
                zeros(tuple(batch) + (n, n), dtype=input.dtype, backend=input.backend))
    u, s, vh = linalg.svd(input, full_matrices=not some)
    return u, s, vh.mH


@refuses_none
def qr(input, some=True):  # noqa: A002
    """(Q, R) (torch.qr: ``some`` is mode "reduced", else "complete")."""
    from . import linalg
    return linalg.qr(input, mode="reduced" if some else "complete")


def _approximate_basis(A, q, niter, M):
    """An orthonormal (m, q) basis Q of A's range from a Gaussian sketch and ``niter``
    power iterations, re-orthonormalized by QR at each half-step (Halko, Martinsson and
    Tropp 2009, algorithm 4.4), of A - M where M is given."""
    from . import linalg
    from .creation import randn
    product = (lambda B: ops.matmul(A, B) - ops.matmul(M, B)) if M is not None else \
        (lambda B: ops.matmul(A, B))
    adjoint = (lambda B: ops.matmul(A.mH, B) - ops.matmul(M.mH, B)) if M is not None else \
        (lambda B: ops.matmul(A.mH, B))
    Q = linalg.qr(product(randn(A.shape[-1], q, dtype=A.dtype, backend=A.backend))).Q
    for _ in range(niter):
        Q = linalg.qr(adjoint(Q)).Q
        Q = linalg.qr(product(Q)).Q
    return Q


@refuses_none
def svd_lowrank(A, q=6, niter=2, M=None):  # noqa: N803  (PyTorch's names)
    """torch.svd_lowrank: (U, S, V), a rank-q approximation of A (or of A - M) by the
    randomized SVD of Halko et al. 2009 (algorithm 5.1): an approximate basis of the
    range (``niter`` power iterations), the SVD of A projected onto it. Exact where A's
    rank is at most q. Random: it draws from ember's generator (manual_seed)."""
    from . import linalg
    q = 6 if q is None else q
    m, n = A.shape[-2:]
    if not 0 < q <= min(m, n):
        raise ShapeError(f"svd_lowrank: q must be in 1..min(m, n) = {min(m, n)} for a "
                         f"({m}, {n}) matrix, got {q}")
    if m < n or n > q:          # the transpose's basis keeps B and V small, as PyTorch's
        Q = _approximate_basis(A.mH, q, niter, None if M is None else M.mH)
        B = ops.matmul(A, Q) - (ops.matmul(M, Q) if M is not None else 0)
        U, S, Vh = linalg.svd(B, full_matrices=False)
        return U, S, ops.matmul(Q, Vh.mH)
    Q = _approximate_basis(A, q, niter, M)
    B = ops.matmul(Q.mH, A) - (ops.matmul(Q.mH, M) if M is not None else 0)
    U, S, Vh = linalg.svd(B, full_matrices=False)
    return ops.matmul(Q, U), S, Vh.mH


@refuses_none
def pca_lowrank(A, q=None, center=True, niter=2):  # noqa: N803
    """torch.pca_lowrank: (U, S, V) of svd_lowrank on A with each column's mean taken
    away (``center``); V's columns are the principal directions, S^2 / (m - 1) their
    variances. q defaults to min(6, m, n)."""
    m, n = A.shape[-2:]
    q = min(6, m, n) if q is None else q
    return svd_lowrank(A - A.mean(axis=-2, keepdims=True) if center else A, q, niter)


@refuses_none
def cholesky(input, upper=False):  # noqa: A002
    """The Cholesky factor, lower unless ``upper`` (torch.cholesky)."""
    from . import linalg
    return linalg.cholesky(input, upper=upper)


TriangularSolve = namedtuple("TriangularSolve", ["solution", "cloned_coefficient"])


@refuses_none
def triangular_solve(b, A, upper=True, transpose=False, unitriangular=False):  # noqa: N803
    """(X, A) with op(A) X = b, op(A) A or its transpose, A upper (default) or lower
    triangular (torch.triangular_solve, whose second result is a copy of A)."""
    from . import linalg
    x = linalg.solve_triangular(A.mT if transpose else A, b, upper=upper != transpose,
                                unitriangular=unitriangular)
    return TriangularSolve(x, A.clone())


# -- draws -----------------------------------------------------------------------------
@refuses_none
def poisson(input, generator=None):  # noqa: A002
    """A Poisson draw per element, its rate the element (torch.poisson), in input's dtype."""
    _no_generator("poisson", generator)
    from .distributions import Poisson
    return Poisson(input).sample()


@refuses_none
def binomial(count, prob, generator=None):
    """A binomial draw per element of count trials with success probability prob
    (torch.binomial), in prob's dtype."""
    _no_generator("binomial", generator)
    from .distributions import Binomial
    return Binomial(count, probs=prob).sample()


def _no_generator(name, generator):
    if generator is not None:
        raise ValueError(f"{name}: ember draws from one seeded generator; seed it with "
                         f"ember.manual_seed instead of passing generator=")


@refuses_none
def pdist(input, p=2.0):  # noqa: A002
    """The p-norm distances between the rows of an (N, M) input, each pair i < j once, in
    torch.pdist's order (the upper triangle row by row)."""
    from . import linalg
    from .creation import triu_indices
    if input.ndim != 2:
        raise ShapeError(f"pdist: takes an (N, M) tensor, got shape {input.shape}")
    i, j = triu_indices(input.shape[0], input.shape[0], 1, backend=input.backend)
    difference = ops.index_select(input, 0, i) - ops.index_select(input, 0, j)
    return linalg.vector_norm(difference, p, -1)


# -- torch.gradient, index_reduce, put -------------------------------------------------------
@refuses_none
def gradient(input, *, spacing=1, dim=None, edge_order=1):  # noqa: A002
    """torch.gradient (NumPy's gradient): the derivative along each of ``dim`` (every
    axis by default) by second-order central differences inside and one-sided ones of
    ``edge_order`` (1 or 2) at the ends, one tensor per axis. ``spacing`` is one step
    for every axis, a step per axis, or per axis a 1-D tensor of coordinates (unequal
    steps). An integer input gives the default float, as PyTorch's."""
    x = as_tensor(input, "gradient")
    if not (x.dtype.is_float or x.dtype.is_complex):
        x = x.to(dtype=dt.default_float)
    dims = list(range(x.ndim)) if dim is None else [dim] if isinstance(dim, int) else list(dim)
    dims = [d + x.ndim if d < 0 else d for d in dims]
    if edge_order not in (1, 2):
        raise ValueError(f"gradient: edge_order must be 1 or 2, got {edge_order}")
    steps = list(spacing) if isinstance(spacing, (list, tuple)) else [spacing] * len(dims)
    if len(steps) != len(dims):
        raise ShapeError(f"gradient: {len(steps)} spacings for {len(dims)} axes; give one "
                         f"per axis, or one for all")
    out = []
    for d, h in zip(dims, steps):
        n = x.shape[d]
        if n < edge_order + 1:
            raise ShapeError(f"gradient: axis {d} has {n} elements; edge_order={edge_order} "
                             f"needs at least {edge_order + 1}")
        if isinstance(h, Tensor) and h.ndim == 1:
            if h.shape[0] != n:
                raise ShapeError(f"gradient: the coordinates of axis {d} number "
                                 f"{h.shape[0]}, the axis {n}")
            h = h.to(dtype=x.dtype).reshape((1,) * d + (-1,) + (1,) * (x.ndim - 1 - d))
            out.append(_uneven(x, d, h, edge_order))
        else:
            out.append(_even(x, d, h, edge_order))
    return tuple(out)


def _cut(x, d, start, stop=None):
    """x's slice [start:stop] along axis ``d``."""
    return x[(slice(None),) * d + (slice(start, stop),)]


def _even(x, d, h, edge_order):
    """Axis d's differences at a constant step ``h``."""
    n, f = x.shape[d], lambda a, b=None: _cut(x, d, a, b)  # noqa: E731
    if edge_order == 1:
        first, last = (f(1, 2) - f(0, 1)) / h, (f(n - 1) - f(n - 2, n - 1)) / h
    else:
        first = (f(0, 1) * -3 + f(1, 2) * 4 - f(2, 3)) / (2 * h)
        last = (f(n - 1) * 3 - f(n - 2, n - 1) * 4 + f(n - 3, n - 2)) / (2 * h)
    inner = [(f(2) - f(0, n - 2)) / (2 * h)] if n > 2 else []
    return ops.concatenate([first, *inner, last], axis=d)


def _uneven(x, d, c, edge_order):
    """Axis d's differences at coordinates ``c`` (laid along d): NumPy's second-order
    weights for unequal steps."""
    n, f = x.shape[d], lambda a, b=None: _cut(x, d, a, b)  # noqa: E731
    h = _cut(c, d, 1) - _cut(c, d, 0, n - 1)             # the n - 1 steps
    s = lambda a, b=None: _cut(h, d, a, b)  # noqa: E731
    if edge_order == 1:
        first, last = (f(1, 2) - f(0, 1)) / s(0, 1), (f(n - 1) - f(n - 2, n - 1)) / s(n - 2)
    else:
        a, b = s(0, 1), s(1, 2)
        first = (f(0, 1) * -(2 * a + b) / (a * (a + b)) + f(1, 2) * (a + b) / (a * b)
                 - f(2, 3) * a / (b * (a + b)))
        a, b = s(n - 3, n - 2), s(n - 2)
        last = (f(n - 3, n - 2) * b / (a * (a + b)) - f(n - 2, n - 1) * (a + b) / (a * b)
                + f(n - 1) * (2 * b + a) / (b * (a + b)))
    inner = []
    if n > 2:
        a, b = s(0, n - 2), s(1)
        inner = [f(0, n - 2) * -b / (a * (a + b)) + f(1, n - 1) * (b - a) / (a * b)
                 + f(2) * a / (b * (a + b))]
    return ops.concatenate([first, *inner, last], axis=d)


#: the reductions torch.index_reduce takes
INDEX_REDUCTIONS = ("prod", "mean", "amax", "amin")


@refuses_none
def index_reduce(input, dim, index, source, reduce, *, include_self=True):  # noqa: A002
    """torch.index_reduce: source's slices along ``dim`` reduced ("prod", "mean", "amax"
    or "amin") into input's slices that the 1-D ``index`` names, with input's own values
    unless ``include_self`` is False; slices nothing names keep input's."""
    x, source = as_tensor(input, "index_reduce"), as_tensor(source, "index_reduce")
    index = as_tensor(index, "index_reduce")
    if reduce not in INDEX_REDUCTIONS:
        raise ValueError(f"index_reduce: reduce must be one of {', '.join(INDEX_REDUCTIONS)}, "
                         f"got {reduce!r}")
    dim = dim + x.ndim if dim < 0 else dim
    if index.ndim != 1 or source.ndim != x.ndim or index.shape[0] != source.shape[dim] or \
            any(a != b for k, (a, b) in enumerate(zip(x.shape, source.shape)) if k != dim):
        raise ShapeError(f"index_reduce: source {source.shape} must be input's shape "
                         f"{x.shape} but along dim {dim}, where a 1-D index of "
                         f"{index.shape[0] if index.ndim == 1 else index.shape} entries "
                         f"names its slices")
    spread = index.reshape((-1,) + (1,) * (x.ndim - 1 - dim))
    return ops.scatter_reduce(x, dim, ops.broadcast_to(spread, source.shape), source, reduce,
                              include_self)


@refuses_none
def put(input, index, source, accumulate=False):  # noqa: A002
    """torch.put: input, read as 1-D, with source's values at ``index`` (added with
    ``accumulate``); negative indices count from the end."""
    x = as_tensor(input, "put")
    flat = x.reshape(-1).index_put((as_tensor(index, "put").reshape(-1),),
                                   as_tensor(source, "put", like=x).reshape(-1), accumulate)
    return flat.reshape(x.shape)


# -- torch's in-place functions: torch.abs_(x) is x.abs_() -------------------------------
def _inplace(name):
    def fn(input, *args, **kwargs):  # noqa: A002
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: changes a tensor in place, got "
                            f"{type(input).__name__}; pass the tensor to change")
        return getattr(input, name)(*args, **kwargs)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"torch.{name}(x, ...): x.{name}(...), in place."
    return fn


for _name in INPLACE:
    globals()[_name] = _inplace(_name)
