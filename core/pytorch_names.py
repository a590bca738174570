"""PyTorch's other names for what ember computes, and its questions about dtypes and
sizes, so that a port of PyTorch code keeps its calls: each is one of ember's ops under
torch's name and arguments, or a question answered from ember's dtype table."""

import itertools
import math
from dataclasses import dataclass

import numpy as np

from . import dtypes as dt
from . import ops
from .creation import tensor
from .errors import DTypeError, ShapeError, refuses_none
from .ops._util import as_tensor
from .tensor import Tensor

__all__ = ["absolute", "adjoint", "arccos", "arccosh", "arcsin", "arcsinh", "arctan",
           "arctan2", "arctanh", "argwhere", "can_cast", "chain_matmul", "clamp_max",
           "clamp_min", "combinations", "diagflat", "finfo", "fix", "float_power", "geqrf",
           "get_default_dtype", "iinfo",
           "greater", "greater_equal", "is_complex", "is_floating_point", "is_nonzero",
           "is_same_size", "less", "less_equal", "lu", "lu_solve", "lu_unpack", "multiply",
           "negative", "not_equal", "orgqr", "ormqr",
           "positive", "promote_types", "result_type", "rsub", "subtract", "unflatten",
           "inf", "nan", "pi", "e", "newaxis"]

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
    """The dtype of float tensors made without one: float32 (ember's default float)."""
    return dt.default_float


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
