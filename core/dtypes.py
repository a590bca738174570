"""Element types and the promotion rule.

Promotion (documented in docs/user-guide.md), the Array API standard's table where
it has one and PyTorch's where it is silent:

* two tensors of one kind: the larger wins (int8 < int16 < int32 < int64, uint8 <
  ... < uint64, float16 and bfloat16 < float32 < float64, complex64 < complex128);
  float16 with bfloat16 gives float32 (neither holds the other), as in PyTorch;
* a signed with an unsigned integer: the smallest signed integer that holds both
  (uint8 with int8 gives int16); uint64 with a signed integer has none, and is
  refused by name (NumPy's float64 would lose integers past 2**53);
* bool with anything gives the other; an integer with a float or complex gives that
  float or complex (as PyTorch does, so float16 stays float16 beside int64); a float
  with a complex gives the complex that holds both (float64 with complex64 gives
  complex128);
* a Python scalar is "weak": it takes the tensor's dtype when its kind fits
  (``float32_tensor * 2.0`` stays float32, ``uint8_tensor + 1`` stays uint8, and a
  value the dtype cannot hold is refused); a float scalar with an integer or bool
  tensor gives the default float, an int scalar with a bool tensor int64, a complex
  scalar with a float tensor the complex of that precision.
* the default float is float32, the default complex complex64; Python ints become int64.
"""

import numpy as np

from .errors import DTypeError

try:    # bfloat16's and float8's host arrays; without ml_dtypes no backend offers them
    from ml_dtypes import bfloat16 as _host_bfloat16, finfo as _ml_finfo
    from ml_dtypes import float8_e4m3fn as _host_e4m3fn, float8_e5m2 as _host_e5m2
    from ml_dtypes import float8_e4m3fnuz as _host_e4m3fnuz, float8_e5m2fnuz as _host_e5m2fnuz
except ImportError:
    _host_bfloat16 = _ml_finfo = _host_e4m3fn = _host_e5m2 = None
    _host_e4m3fnuz = _host_e5m2fnuz = None


class DType:
    """A named element type; compare with ``is`` or ``==``."""

    __slots__ = ("name", "np", "itemsize", "kind", "bits", "is_float", "is_int", "is_bool",
                 "is_complex", "is_unsigned", "is_inexact", "stores_only")

    def __init__(self, name, np_dtype, kind=None, itemsize=None, stores_only=False):
        self.name = name
        #: the NumPy dtype of its host arrays (None: bfloat16 and float8 without ml_dtypes)
        self.np = None if np_dtype is None else np.dtype(np_dtype)
        self.itemsize = itemsize or self.np.itemsize
        self.bits = 8 * self.itemsize
        #: NumPy's kind letter: b(ool), i(nt), u(nsigned), f(loat), c(omplex)
        self.kind = kind = kind or self.np.kind
        self.is_float = kind == "f"          # real floating
        self.is_int = kind in "iu"           # integral, signed or unsigned
        self.is_unsigned = kind == "u"
        self.is_bool = kind == "b"
        self.is_complex = kind == "c"
        self.is_inexact = kind in "fc"       # float or complex: what true division gives
        #: values are stored, moved and cast, not computed on (float8, as PyTorch's)
        self.stores_only = stores_only

    def __repr__(self):
        return f"ember.{self.name}"

    __str__ = __repr__

    def __reduce__(self):  # dtypes are singletons, even through copy/deepcopy
        return (dtype, (self.name,))


bool_ = DType("bool", np.bool_)
int8 = DType("int8", np.int8)
int16 = DType("int16", np.int16)
int32 = DType("int32", np.int32)
int64 = DType("int64", np.int64)
uint8 = DType("uint8", np.uint8)
uint16 = DType("uint16", np.uint16)
uint32 = DType("uint32", np.uint32)
uint64 = DType("uint64", np.uint64)
float16 = DType("float16", np.float16)
#: 8 exponent bits as float32, 8 significand bits
bfloat16 = DType("bfloat16", _host_bfloat16, kind="f", itemsize=2)
#: 8-bit floats (PyTorch's names): 4 exponent bits and 3 significand bits, no infinity
#: (a cast saturates at +-448, as PyTorch's), and 5 and 2 with infinity (IEEE-like); the
#: "fnuz" ones (AMD's) have no infinity and no -0, one NaN (0x80), and a cast past their
#: largest value gives NaN, as PyTorch's and ml_dtypes'
float8_e4m3fn = DType("float8_e4m3fn", _host_e4m3fn, kind="f", itemsize=1, stores_only=True)
float8_e5m2 = DType("float8_e5m2", _host_e5m2, kind="f", itemsize=1, stores_only=True)
float8_e4m3fnuz = DType("float8_e4m3fnuz", _host_e4m3fnuz, kind="f", itemsize=1,
                        stores_only=True)
float8_e5m2fnuz = DType("float8_e5m2fnuz", _host_e5m2fnuz, kind="f", itemsize=1,
                        stores_only=True)
float32 = DType("float32", np.float32)
float64 = DType("float64", np.float64)
complex64 = DType("complex64", np.complex64)
complex128 = DType("complex128", np.complex128)

SIGNED = (int8, int16, int32, int64)
UNSIGNED = (uint8, uint16, uint32, uint64)
INTS = SIGNED + UNSIGNED
FLOATS = (float16, bfloat16, float32, float64)
COMPLEX = (complex64, complex128)
#: the 8-bit floats: held, moved and cast to and from every dtype; computing on them
#: takes a cast first (ember.ops refuse them by name)
FLOAT8 = (float8_e4m3fn, float8_e5m2, float8_e4m3fnuz, float8_e5m2fnuz)
ALL = (bool_,) + INTS + FLOATS + COMPLEX + FLOAT8
#: the 16-bit floats: their sums, means and products accumulate in float32
HALF = (float16, bfloat16)
BY_NAME = {d.name: d for d in ALL}
BY_NAME["bool_"] = bool_
_BY_NP = {d.np: d for d in ALL if d.np is not None}

default_float = float32
default_complex = complex64
#: the dtype each Python type names (``.to(float)``, ``dtype=int``)
_PYTHON_TYPES = {float: default_float, int: int64, bool: bool_, complex: default_complex}


def set_default_float(d):
    """Make ``d`` the dtype of float tensors made without one (torch.set_default_dtype),
    and its complex counterpart that of complex ones."""
    global default_float, default_complex
    d = dtype(d)
    if d not in (float32, float64, float16, bfloat16):
        raise DTypeError(f"set_default_dtype: the default must be float32, float64, float16 "
                         f"or bfloat16, got {d.name}")
    default_float, default_complex = d, complex128 if d is float64 else complex64
    _PYTHON_TYPES[float], _PYTHON_TYPES[complex] = default_float, default_complex


def dtype(spec):
    """The DType for an ember dtype, a name, a NumPy dtype or a Python type."""
    if isinstance(spec, DType):
        return spec
    if isinstance(spec, type) and spec in _PYTHON_TYPES:
        return _PYTHON_TYPES[spec]
    if isinstance(spec, str) and spec in BY_NAME:
        return BY_NAME[spec]
    try:
        npd = np.dtype(spec)
    except (TypeError, ValueError):      # (a tensor, say: ValueError)
        npd = None
    if npd is not None and npd in _BY_NP:
        return _BY_NP[npd]
    names = ", ".join(d.name for d in ALL)
    raise DTypeError(f"unknown dtype {spec!r}; ember has {names}")


def is_dtype_spec(x):
    """Whether x names a dtype (as .to(x) reads it) rather than a backend."""
    return isinstance(x, (DType, np.dtype)) or (isinstance(x, type) and x in _PYTHON_TYPES) or (
        isinstance(x, str) and x in BY_NAME)


def from_numpy_dtype(npd, what="array"):
    """The DType that holds a NumPy dtype."""
    found = _BY_NP.get(npd)
    if found is None:
        names = ", ".join(d.name for d in ALL)
        raise DTypeError(f"{what} has NumPy dtype {npd}, which ember cannot hold; "
                         f"convert it to one of {names} first")
    return found


def host_array(values, d, xp=np):
    """``values`` (an array or a number) as a NumPy array of DType ``d`` (or an array of
    ``xp``, an array module such as CuPy's, the same way). float64 to
    bfloat16 or float8 rounds once, as ml_dtypes 0.7 and ember's OpenCL kernels do;
    ml_dtypes below 0.7 (ember pins it there: 0.7 takes 0.8 s to import) and PyTorch 2.13
    round through float32, twice. So float64 goes to float32 rounding to odd (a dropped
    remainder sets the lowest bit), whose rounding to nearest even is then the one
    rounding. float8_e4m3fn saturates at +-448 (infinities too), as PyTorch's cast."""
    arr = xp.asarray(values)
    # past a float dtype's range is inf, as in PyTorch; NaN is no error (ml_dtypes 0.6 warns)
    with np.errstate(over="ignore", invalid="ignore"):
        if d is float8_e4m3fn and arr.dtype.kind in "biufV" and arr.dtype != d.np:
            arr = xp.clip(arr.astype(np.float64 if arr.dtype == np.float64 else np.float32),
                          -448.0, 448.0)
        if not (d is bfloat16 or d.stores_only) or arr.dtype != np.float64:
            return arr.astype(d.np, copy=False)
        near = arr.astype(np.float32)
        bits = near.view(np.uint32) - (xp.abs(near.astype(np.float64)) > xp.abs(arr))  # toward 0
        sticky = bits.view(np.float32).astype(np.float64) != arr
        return (bits | sticky).view(np.float32).astype(d.np)


def host_scalar(value, d):
    """A number as ``d`` rounds it (``host_array``'s one rounding), for a backend's ``full``."""
    return host_array(np.float64(value), d)[()] if (d is bfloat16 or d.stores_only) and \
        isinstance(value, (float, np.floating)) else value


def finfo(d):
    """NumPy's finfo of a float or complex DType (ml_dtypes' for bfloat16 and float8,
    which NumPy's refuses); a complex dtype's limits are its parts'."""
    return _ml_finfo(d.np) if d is bfloat16 or d.stores_only else np.finfo(d.np)


def real_of(d):
    """The real dtype of a complex dtype's parts (other dtypes are their own)."""
    return {complex64: float32, complex128: float64}.get(d, d)


def complex_of(d):
    """The complex dtype whose parts hold the float dtype ``d`` (float64: complex128)."""
    return complex128 if d in (float64, complex128) else complex64


_KINDS = "biufc"


def _promote_pair(a, b):
    if a is b:
        return a
    if a.stores_only or b.stores_only:       # as PyTorch: float8 promotes with nothing
        return None
    if a.kind == b.kind:
        if a.bits == b.bits:      # float16 with bfloat16
            return float32
        return a if a.bits > b.bits else b
    lo, hi = sorted((a, b), key=lambda d: _KINDS.index(d.kind))
    if lo.is_bool:
        return hi
    if lo.kind == "i" and hi.kind == "u":
        bits = max(lo.bits, 2 * hi.bits)
        return {8: int8, 16: int16, 32: int32, 64: int64}.get(bits)
    if hi.is_complex and lo.is_float:
        return complex_of(lo) if lo.bits > hi.bits // 2 else hi
    return hi                 # an integer with a float or complex


PROMOTE = {(a, b): _promote_pair(a, b) for a in ALL for b in ALL}


def promote(a, b):
    """The result dtype of a binary operation between tensors of dtypes a and b."""
    out = PROMOTE.get((a, b), promote)
    if out is promote:
        raise DTypeError(f"promote: {a!r} and {b!r} are not both ember dtypes; give "
                         f"ember.float32 and the like")
    if out is None and (a.stores_only or b.stores_only):
        raise DTypeError(f"{a.name} with {b.name}: an 8-bit float promotes with no other "
                         f"dtype (as in PyTorch); cast it first, e.g. x.to(ember.float32)")
    if out is None:
        raise DTypeError(f"{a.name} with {b.name}: no integer dtype holds both (it would "
                         f"take 128 bits); cast one with .to(ember.int64) or "
                         f".to(ember.float64) first")
    return out


def scalar_dtype(value, other, default_int=None):
    """The dtype a Python scalar takes beside a tensor of dtype ``other`` (a bool tensor
    and an int give ``default_int``, the backend's integer dtype; int64 by default)."""
    if isinstance(value, (bool, np.bool_)):
        return other
    if isinstance(value, (int, np.integer)):
        return (default_int or int64) if other is bool_ else other
    if isinstance(value, (float, np.floating)):
        return other if other.is_float or other.is_complex else default_float
    if isinstance(value, (complex, np.complexfloating)):
        return other if other.is_complex else complex_of(other) if other.is_float \
            else default_complex
    raise DTypeError(f"cannot combine a tensor with {type(value).__name__} {value!r}; "
                     f"use a bool, int, float, complex or tensor")
