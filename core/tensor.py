"""The Tensor: a backend buffer with a shape, a dtype and an autograd link.

Tensors are values: in-place operators compute a new buffer and rebind the
tensor to it, so views never alias and a backend may share memory freely.
"""

import sys

import numpy as np

from . import dispatch as _dispatch
from .dtypes import is_dtype_spec
from .errors import AutogradError, BackendError, DTypeError, ShapeError
from .methods import Count, Methods


class Tensor(Methods):
    __slots__ = ("_data", "_backend", "shape", "dtype", "requires_grad", "_grad",
                 "_ctx", "_retain", "__weakref__")

    __array_ufunc__ = None  # make NumPy defer to our reflected operators

    def __init__(self, data, dtype=None, backend=None, requires_grad=False):
        from .creation import tensor
        t = tensor(data, dtype=dtype, backend=backend, requires_grad=requires_grad)
        for name in ("_data", "_backend", "shape", "dtype", "requires_grad"):
            setattr(self, name, getattr(t, name))
        self._grad = None
        self._ctx = None
        self._retain = False
        if _dispatch.active_count:
            _dispatch.created(self)

    # -- facts -------------------------------------------------------------
    @property
    def backend(self):
        return self._backend

    @property
    def device(self):
        """The backend name, with the device index when it is not 0: "opencl:1"."""
        return self._backend.device

    def __array_namespace__(self, /, *, api_version=None):
        """The Python Array API namespace, ``ember.array_api`` (standard 2024.12)."""
        if api_version not in (None, "2023.12", "2024.12"):
            raise ValueError(f"__array_namespace__: api_version {api_version!r} is not "
                             f"supported; ember implements 2024.12")
        from . import array_api
        return array_api

    def to_device(self, device, /, *, stream=None):
        """The Array API spelling of ``.to(backend)``."""
        return self.to(device)

    @property
    def mT(self):  # noqa: N802  (the Array API's name)
        return _ops.transpose(self, -2, -1)

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        """The element count, an int; called, PyTorch's x.size(): see methods.Count."""
        return Count(self.shape)

    @property
    def grad(self):
        """The gradient backward accumulated (None before the first backward)."""
        return self._grad

    @grad.setter
    def grad(self, value):
        """Refuse a gradient that could not be this tensor's, as PyTorch does: an optimizer
        would otherwise broadcast it, cast it or fail far from the assignment."""
        if value is not None:
            if not isinstance(value, Tensor):
                raise DTypeError(f".grad must be a Tensor or None, not {type(value).__name__}")
            if value.shape != self.shape:
                raise ShapeError(f".grad of shape {value.shape} assigned to a tensor of shape "
                                 f"{self.shape}; a gradient has its tensor's shape")
            if value.dtype is not self.dtype:
                raise DTypeError(f".grad of dtype {value.dtype.name} assigned to a "
                                 f"{self.dtype.name} tensor; cast it with .to({self.dtype.name})")
            if value._backend is not self._backend:
                raise BackendError(f".grad on {value.device} assigned to a tensor on "
                                   f"{self.device}; move it with .to({self.device!r})")
            if _dispatch.active_count:      # how a compiled graph prints it
                _dispatch.name_state(value, f"grad[{_dispatch.state_name(self, 'param')}]")
        elif _dispatch.active_count:
            _dispatch.cleared_grad(self)
        self._grad = value

    @property
    def is_leaf(self):
        return self._ctx is None

    @property
    def grad_fn(self):
        return self._ctx

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self):
        if not self.shape:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.shape[0]))

    __hash__ = object.__hash__

    # -- to the host ---------------------------------------------------------
    def numpy(self):
        """A NumPy copy of the values (never shared with the tensor)."""
        return _dispatch.primitives(self._backend).to_numpy(_dispatch.read(self))

    def __array__(self, dtype=None, copy=None):
        """np.asarray(t): on a backend whose memory is the host's (numpy), a read-only view
        of the tensor's own buffer (tensors are values); elsewhere, and with copy=True, a
        copy. copy=False where no view can be given is a ValueError, as NumPy's protocol asks."""
        if copy is True or not self._backend.host_memory or _dispatch.active():
            if copy is False:
                raise ValueError(f"np.asarray(copy=False): backend {self.device} keeps the "
                                 f"tensor in device memory; NumPy can only get a copy")
            a = self.numpy()
        else:
            a = np.asarray(self._data).view()     # NumPy's 0-d results may be scalars
            a.flags.writeable = False
        if dtype is not None and np.dtype(dtype) != a.dtype:
            if copy is False:
                raise ValueError(f"np.asarray(copy=False): the tensor is {self.dtype.name}, "
                                 f"so {np.dtype(dtype)} needs a copy")
            a = a.astype(dtype)
        return a

    def __dlpack__(self, *, stream=None, max_version=None, dl_device=None, copy=None):
        """DLPack export: NumPy and CuPy buffers are shared without a copy (so the consumer
        must not write to them: ember tensors are values); other backends copy to the host."""
        kwargs = {k: v for k, v in (("stream", stream), ("max_version", max_version),
                                    ("dl_device", dl_device), ("copy", copy)) if v is not None}
        exporter = _dispatch.primitives(self._backend).dlpack(_dispatch.read(self))
        from .dlpack import CODES, labelled
        if self.dtype.name in CODES:     # NumPy and CuPy carry them as unsigned (ember.dlpack)
            carrier = np.dtype(f"uint{CODES[self.dtype.name][1]}")
            return labelled(exporter.view(carrier).__dlpack__(**kwargs), self.dtype.name)
        return exporter.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self._backend.dlpack_device(self._data)

    def item(self):
        if self.size != 1:
            raise ValueError(f"item: the tensor has shape {self.shape} ({self.size} elements); "
                             f"item() needs exactly one")
        return self.numpy().reshape(()).item()

    def tolist(self):
        return self.numpy().tolist()

    def __bool__(self):
        if self.size != 1:
            raise ValueError(f"the truth value of a tensor of shape {self.shape} is ambiguous; "
                             f"use .any() or .all()")
        return bool(self.item())

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __complex__(self):
        return complex(self.item())

    def __index__(self):
        """A one-element integer tensor serves as an index or slice bound (x[:n])."""
        if self.size != 1 or self.dtype.is_inexact:
            raise TypeError(f"only a one-element integer or bool tensor can be used as an "
                            f"index, not a {self.dtype.name} tensor of shape {self.shape}")
        return int(self.item())

    def __format__(self, spec):
        """A 0-d tensor formats as its number (f"{loss:.4f}"), as in PyTorch; others as
        their repr, which takes no format spec."""
        if self.ndim == 0:
            return format(self.item(), spec)
        return object.__format__(self, spec)

    def __repr__(self):
        o = PRINT_OPTIONS
        formatter = None
        if o["sci_mode"] and self.dtype.is_inexact:
            digits = 8 if o["precision"] is None else o["precision"]
            formatter = {"float_kind": lambda v: f"{v:.{digits}e}"}
        body = np.array2string(self.numpy(), separator=", ", prefix="tensor(",
                               threshold=o["threshold"], edgeitems=o["edgeitems"],
                               max_line_width=o["linewidth"], precision=o["precision"],
                               suppress_small=o["sci_mode"] is False, formatter=formatter)
        extra = f", dtype={self.dtype.name}, backend={self.device}"
        if self.requires_grad:
            extra += ", requires_grad=True"
        if self._ctx is not None:
            extra += f", grad_fn={self._ctx!r}"
        return f"tensor({body}{extra})"

    # -- autograd --------------------------------------------------------------
    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None, *,
                 grad=None):
        """Accumulate d self / d leaf into every leaf's ``.grad`` (with ``inputs``, into
        those tensors' only). PyTorch's arguments; ember keeps graphs until their tensors
        are freed, so ``retain_graph`` changes nothing. ``grad`` is ember's older name of
        ``gradient``."""
        _autograd.backward(self, gradient if grad is None else grad, create_graph, inputs)

    def register_post_accumulate_grad_hook(self, fn):
        """Call ``fn(self)`` after each backward pass has accumulated this leaf's ``.grad``."""
        if self._ctx is not None:
            raise AutogradError("register_post_accumulate_grad_hook: only leaf tensors "
                                "accumulate .grad; this one was computed by an op")
        _autograd.register_grad_hook(self, fn)

    def register_hook(self, hook):
        """Call ``hook(grad)`` with this tensor's gradient in each backward pass, before it
        accumulates into .grad or flows on; a tensor it returns replaces the gradient.
        ``.remove()`` on the returned handle takes the hook out."""
        if not self.requires_grad:
            raise AutogradError("register_hook: this tensor does not require grad, so no "
                                "gradient reaches the hook; create it with requires_grad=True")
        return _autograd.register_tensor_hook(self, hook)

    def requires_grad_(self, flag=True):
        if flag and not self.dtype.is_inexact:
            raise DTypeError(f"requires_grad: only floating and complex tensors have "
                             f"gradients; this one is {self.dtype}; cast it first with "
                             f".to(ember.float32)")
        if not flag and self._ctx is not None:
            raise AutogradError("requires_grad_(False) on a non-leaf tensor; use .detach()")
        self.requires_grad = flag
        return self

    def retain_grad(self):
        """Keep ``.grad`` on this non-leaf tensor after backward."""
        self._retain = True
        return self

    def detach(self):
        """The same values with no autograd history (shares the buffer)."""
        return wrap(_dispatch.read(self), self._backend, self.shape, self.dtype)

    def zero_grad_(self):
        self.grad = None
        return self

    def to(self, target=None, dtype=None):
        """Move to a backend ("numpy", "opencl:1"), cast to a dtype, or both."""
        if target is not None and dtype is None and is_dtype_spec(target):
            target, dtype = None, target
        out = self
        if target is not None:
            out = _ops.to_backend(out, target)
        if dtype is not None:
            out = _ops.cast(out, dtype)
        return out

    def float(self):
        return _ops.cast(self, "float32")

    def double(self):
        return _ops.cast(self, "float64")

    def half(self):
        return _ops.cast(self, "float16")

    def bfloat16(self):
        return _ops.cast(self, "bfloat16")

    def int(self):
        return _ops.cast(self, "int32")

    def long(self):
        return _ops.cast(self, "int64")

    def bool(self):
        return _ops.cast(self, "bool")

    # -- operators -------------------------------------------------------------
    def __add__(self, o): return _ops.add(self, o)
    def __radd__(self, o): return _ops.add(o, self)
    def __sub__(self, o): return _ops.sub(self, o)
    def __rsub__(self, o): return _ops.sub(o, self)
    def __mul__(self, o): return _ops.mul(self, o)
    def __rmul__(self, o): return _ops.mul(o, self)
    def __truediv__(self, o): return _ops.div(self, o)
    def __rtruediv__(self, o): return _ops.div(o, self)
    def __pow__(self, o): return _ops.pow(self, o)
    def __rpow__(self, o): return _ops.pow(o, self)
    def __matmul__(self, o): return _ops.matmul(self, o)
    def __rmatmul__(self, o): return _ops.matmul(o, self)
    def __neg__(self): return _ops.neg(self)
    def __pos__(self): return self
    def __abs__(self): return _ops.abs(self)
    # None compares by identity (x == None is False), as in PyTorch
    def __eq__(self, o): return NotImplemented if o is None else _ops.eq(self, o)
    def __ne__(self, o): return NotImplemented if o is None else _ops.ne(self, o)
    def __lt__(self, o): return _ops.lt(self, o)
    def __le__(self, o): return _ops.le(self, o)
    def __gt__(self, o): return _ops.gt(self, o)
    def __ge__(self, o): return _ops.ge(self, o)
    # integers bit by bit, bool tensors logically (ember.ops.bitwise)
    def __and__(self, o): return _ops.bitwise_and(self, o)
    def __rand__(self, o): return _ops.bitwise_and(o, self)
    def __or__(self, o): return _ops.bitwise_or(self, o)
    def __ror__(self, o): return _ops.bitwise_or(o, self)
    def __xor__(self, o): return _ops.bitwise_xor(self, o)
    def __rxor__(self, o): return _ops.bitwise_xor(o, self)
    def __invert__(self): return _ops.bitwise_not(self)
    def __lshift__(self, o): return _ops.bitwise_left_shift(self, o)
    def __rlshift__(self, o): return _ops.bitwise_left_shift(o, self)
    def __rshift__(self, o): return _ops.bitwise_right_shift(self, o)
    def __rrshift__(self, o): return _ops.bitwise_right_shift(o, self)
    def __floordiv__(self, o): return _ops.floor_divide(self, o)
    def __rfloordiv__(self, o): return _ops.floor_divide(o, self)
    def __mod__(self, o): return _ops.remainder(self, o)
    def __rmod__(self, o): return _ops.remainder(o, self)

    def __iadd__(self, o): return self._inplace(_ops.add, o, "+=")
    def __isub__(self, o): return self._inplace(_ops.sub, o, "-=")
    def __imul__(self, o): return self._inplace(_ops.mul, o, "*=")
    def __itruediv__(self, o): return self._inplace(_ops.div, o, "/=")
    def __ipow__(self, o): return self._inplace(_ops.pow, o, "**=")
    def __ifloordiv__(self, o): return self._inplace(type(self).__floordiv__, o, "//=")
    def __imod__(self, o): return self._inplace(type(self).__mod__, o, "%=")
    def __iand__(self, o): return self._inplace(type(self).__and__, o, "&=")
    def __ior__(self, o): return self._inplace(type(self).__or__, o, "|=")
    def __ixor__(self, o): return self._inplace(type(self).__xor__, o, "^=")
    def __ilshift__(self, o): return self._inplace(type(self).__lshift__, o, "<<=")
    def __irshift__(self, o): return self._inplace(type(self).__rshift__, o, ">>=")

    def _in_autograd(self, other):
        """Whether updating this tensor with ``other`` would cut an autograd graph."""
        return _autograd.is_grad_enabled() and (self.requires_grad
                                      or (isinstance(other, Tensor) and other.requires_grad))

    def _inplace(self, fn, other, sym):
        if self._in_autograd(other):
            raise AutogradError(f"in-place {sym} on a tensor that takes part in autograd; "
                                f"write x = x {sym[:-1]} y, or update under ember.no_grad()")
        out = fn(self, other)
        if out.shape != self.shape:
            from .errors import ShapeError
            raise ShapeError(f"in-place {sym}: the result has shape {out.shape} but the tensor "
                             f"has {self.shape}; an in-place update cannot change a tensor's "
                             f"shape: write x = x {sym[:-1]} y")
        if out.dtype is not self.dtype:
            if out.dtype.is_inexact and not self.dtype.is_inexact or out.dtype.is_complex \
                    and not self.dtype.is_complex:
                raise DTypeError(f"in-place {sym}: the result is {out.dtype} but the tensor is "
                                 f"{self.dtype}; write x = x {sym[:-1]} y to get a new tensor")
            out = _ops.cast(out, self.dtype)
        _dispatch.rebind(self, out._data)
        return self

    def copy_(self, src):
        """Take ``src``'s values (broadcast to this shape, cast to this dtype, moved to this
        backend) and keep this tensor's identity: the one way parameters and optimizer
        state change value, which ember.compile records. Refused while either tensor
        takes part in autograd (an optimizer steps under ember.no_grad())."""
        if self._in_autograd(src):
            from .errors import MutationError
            raise MutationError("copy_ on a tensor that takes part in autograd; update it "
                                "under ember.no_grad(), as an optimizer step does")
        if not isinstance(src, Tensor):
            from .ops._util import as_tensor
            src = as_tensor(src, "copy_", like=self)
        if src._backend is not self._backend:
            src = _ops.to_backend(src, self._backend)
        if src.dtype is not self.dtype:
            src = _ops.cast(src, self.dtype)
        if src.shape != self.shape:
            src = _ops.broadcast_to(src, self.shape)
        _dispatch.rebind(self, src._data)
        return self

    @property
    def data(self):
        """The value without autograd history (PyTorch's ``.data``): in-place updates of
        it (``p.data.normal_()``, ``w.data.copy_(v)``, ``x.data[i] = 0``) reach this
        tensor too, as PyTorch's shared storage makes them, outside autograd."""
        view = wrap(_dispatch.read(self), self._backend, self.shape, self.dtype, DataView)
        view._owner = self
        return view

    @data.setter
    def data(self, value):
        """Replace value, shape, dtype and backend at once, keeping this tensor's identity,
        as PyTorch's ``p.data = ...`` (how Module.to moves its parameters)."""
        if not isinstance(value, Tensor):
            raise DTypeError(f".data must be set to a Tensor, not {type(value).__name__}")
        self._backend, self.shape, self.dtype = value._backend, value.shape, value.dtype
        _dispatch.rebind(self, _dispatch.read(value))

    def __deepcopy__(self, memo):
        """A new leaf holding a copy of the values (and of ``.grad``), requires_grad
        kept, of the same class (a Parameter stays one): what ``copy.deepcopy(model)``
        needs for an EMA copy or a frozen target network. As in PyTorch, a tensor
        computed by a recorded op is refused: copy ``t.detach()`` instead."""
        if self._ctx is not None:
            raise AutogradError("deepcopy: only tensors made directly (graph leaves) can be "
                                "deep-copied, not one computed by a recorded op; deep-copy "
                                "t.detach() instead")
        cls = Tensor if isinstance(self, DataView) else type(self)
        new = _ops.clone(self.detach()).as_subclass(cls)
        new.requires_grad = self.requires_grad
        memo[id(self)] = new
        if self._grad is not None:
            import copy
            new.grad = copy.deepcopy(self._grad, memo)
        return new

    def as_subclass(self, cls):
        """A ``cls`` (a Tensor subclass, such as Parameter) holding this value, without
        autograd history."""
        if not (isinstance(cls, type) and issubclass(cls, Tensor)):
            raise TypeError(f"as_subclass: {cls!r} is not a Tensor subclass")
        return wrap(_dispatch.read(self), self._backend, self.shape, self.dtype, cls)

    def __getitem__(self, key):
        return _ops.getitem(self, key)

    def __setitem__(self, key, value):
        """x[key] = value rebinds x to the updated value, as x += y does (views taken
        before keep what they saw); refused on tensors that take part in autograd."""
        from .errors import MutationError
        if self._in_autograd(value):
            raise MutationError("item assignment on a tensor that takes part in autograd; "
                                "build the new tensor instead, e.g. x = ember.where(mask, value, x), "
                                "or assign under ember.no_grad()")
        _dispatch.rebind(self, _ops.setitem(self, key, value)._data)

    @property
    def T(self):
        return _ops.permute(self, tuple(range(self.ndim))[::-1])


_new = object.__new__


#: how repr shows a tensor's values (set_printoptions); None: NumPy's choice
_PROFILES = {"default": {"precision": None, "threshold": 200, "edgeitems": 3, "linewidth": 75,
                         "sci_mode": None},
             "short": {"precision": 2, "threshold": 200, "edgeitems": 2, "linewidth": 75,
                       "sci_mode": None},
             "full": {"precision": None, "threshold": sys.maxsize, "edgeitems": 3,
                      "linewidth": 75, "sci_mode": None}}
PRINT_OPTIONS = dict(_PROFILES["default"])


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None,
                     profile=None, sci_mode=None):
    """How tensors print, PyTorch's arguments: digits after the point, how many values
    before the middle is elided (and how many shown at each edge), line width, and
    scientific notation (True, False, or None: chosen per tensor). A profile
    ("default", "short", "full") sets them all first; ember's default shows NumPy's
    digits and elides past 200 values."""
    if profile is not None:
        if profile not in _PROFILES:
            raise ValueError(f"set_printoptions: profile must be one of {sorted(_PROFILES)}, "
                             f"got {profile!r}")
        PRINT_OPTIONS.update(_PROFILES[profile])
    given = {"precision": precision, "threshold": threshold, "edgeitems": edgeitems,
             "linewidth": linewidth}
    PRINT_OPTIONS.update({k: v for k, v in given.items() if v is not None})
    if sci_mode is not None or profile is not None:
        PRINT_OPTIONS["sci_mode"] = sci_mode


class DataView(Tensor):
    """What ``.data`` gives: a tensor with no history whose rebinds (every in-place
    update) rebind the tensor it came from as well."""

    __slots__ = ("_owner",)


def wrap(data, backend, shape, dtype, cls=Tensor):
    """A tensor around a backend buffer; the caller vouches for shape and dtype."""
    t = _new(cls)
    t._data = data
    t._backend = backend
    t.shape = shape
    t.dtype = dtype
    t.requires_grad = False
    t._grad = None
    t._ctx = None
    t._retain = False
    if _dispatch.active_count:
        _dispatch.created(t)
    return t


from . import autograd as _autograd  # noqa: E402  (they build on Tensor)
from . import ops as _ops  # noqa: E402
from . import methods as _methods  # noqa: E402

_methods.use(_ops)
