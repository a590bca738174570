"""Element types and the promotion rule.

Promotion (documented in docs/user-guide.md):

* two tensors: bool < int32 < int64 < float16, bfloat16 < float32 < float64, the
  larger wins; float16 with bfloat16 gives float32 (neither holds the other), as in
  PyTorch; an integer or bool tensor with a float tensor gives that float dtype
  (as PyTorch does, so float16 stays float16 beside int64);
* a Python scalar is "weak": it takes the tensor's dtype when its kind fits
  (``float32_tensor * 2.0`` stays float32); a float scalar with an integer or
  bool tensor gives the default float, an int scalar with a bool tensor int64.
* the default float is float32; Python ints become int64.
"""

import numpy as np

from .errors import DTypeError

try:    # bfloat16's host arrays; without ml_dtypes no backend offers bfloat16
    from ml_dtypes import bfloat16 as _host_bfloat16, finfo as _ml_finfo
except ImportError:
    _host_bfloat16 = _ml_finfo = None


class DType:
    """A named element type; compare with ``is`` or ``==``."""

    __slots__ = ("name", "np", "itemsize", "is_float", "is_int", "is_bool", "rank")

    def __init__(self, name, np_dtype, rank, kind=None, itemsize=None):
        self.name = name
        #: the NumPy dtype of its host arrays (None: bfloat16 without ml_dtypes)
        self.np = None if np_dtype is None else np.dtype(np_dtype)
        self.itemsize = itemsize or self.np.itemsize
        kind = kind or self.np.kind
        self.is_float = kind == "f"
        self.is_int = kind == "i"
        self.is_bool = kind == "b"
        self.rank = rank

    def __repr__(self):
        return f"ember.{self.name}"

    __str__ = __repr__

    def __reduce__(self):  # dtypes are singletons, even through copy/deepcopy
        return (dtype, (self.name,))


bool_ = DType("bool", np.bool_, 0)
int32 = DType("int32", np.int32, 1)
int64 = DType("int64", np.int64, 2)
float16 = DType("float16", np.float16, 3)
#: 8 exponent bits as float32, 8 significand bits; float16 and bfloat16 share a rank
bfloat16 = DType("bfloat16", _host_bfloat16, 3, kind="f", itemsize=2)
float32 = DType("float32", np.float32, 4)
float64 = DType("float64", np.float64, 5)

ALL = (bool_, int32, int64, float16, bfloat16, float32, float64)
FLOATS = (float16, bfloat16, float32, float64)
#: the 16-bit floats: their sums, means and products accumulate in float32
HALF = (float16, bfloat16)
BY_NAME = {d.name: d for d in ALL}
BY_NAME["bool_"] = bool_
_BY_NP = {d.np: d for d in ALL if d.np is not None}
# NumPy types ember stores in a wider type of the same kind without loss.
_WIDENED = {np.dtype(t): int32 for t in (np.int8, np.uint8, np.int16, np.uint16)}
_WIDENED[np.dtype(np.uint32)] = int64

default_float = float32


def dtype(spec):
    """The DType for an ember dtype, a name, a NumPy dtype or a Python type."""
    if isinstance(spec, DType):
        return spec
    if spec is float:
        return default_float
    if spec is int:
        return int64
    if spec is bool:
        return bool_
    if isinstance(spec, str) and spec in BY_NAME:
        return BY_NAME[spec]
    try:
        npd = np.dtype(spec)
    except TypeError:
        npd = None
    if npd is not None and npd in _BY_NP:
        return _BY_NP[npd]
    names = ", ".join(d.name for d in ALL)
    raise DTypeError(f"unknown dtype {spec!r}; ember has {names}")


def is_dtype_spec(x):
    """Whether x names a dtype (as .to(x) reads it) rather than a backend."""
    return isinstance(x, (DType, np.dtype)) or x in (float, int, bool) or (
        isinstance(x, str) and x in BY_NAME)


def from_numpy_dtype(npd, what="array"):
    """The DType that holds a NumPy dtype, widening small integers."""
    found = _BY_NP.get(npd) or _WIDENED.get(npd)
    if found is None:
        names = ", ".join(d.name for d in ALL)
        raise DTypeError(f"{what} has NumPy dtype {npd}, which ember cannot hold; "
                         f"convert it to one of {names} first")
    return found


def finfo(d):
    """NumPy's finfo of a float DType (ml_dtypes' for bfloat16, which NumPy's refuses)."""
    return _ml_finfo(d.np) if d is bfloat16 else np.finfo(d.np)


def _promote_pair(a, b):
    if a is b:
        return a
    if a.is_float != b.is_float:
        return a if a.is_float else b
    if a.rank == b.rank:      # float16 with bfloat16
        return float32
    return a if a.rank > b.rank else b


PROMOTE = {(a, b): _promote_pair(a, b) for a in ALL for b in ALL}


def promote(a, b):
    """The result dtype of a binary operation between tensors of dtypes a and b."""
    return PROMOTE[a, b]


def scalar_dtype(value, other, default_int=None):
    """The dtype a Python scalar takes beside a tensor of dtype ``other`` (a bool tensor
    and an int give ``default_int``, the backend's integer dtype; int64 by default)."""
    if isinstance(value, bool) or isinstance(value, np.bool_):
        return other
    if isinstance(value, (int, np.integer)):
        return (default_int or int64) if other is bool_ else other
    if isinstance(value, (float, np.floating)):
        return other if other.is_float else default_float
    raise DTypeError(f"cannot combine a tensor with {type(value).__name__} {value!r}; "
                     f"use a bool, int, float or tensor")
