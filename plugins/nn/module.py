"""Module: a tree of layers holding parameters and buffers, as in PyTorch."""

from collections import OrderedDict, namedtuple
from dataclasses import dataclass

import numpy as np

import ember
from ember.errors import DTypeError, ShapeError, StateDictError, none_refused, required_params
from ember.dtypes import is_dtype_spec
from ember.tensor import Tensor

from . import module_hooks
from .module_hooks import HookedModule


class Parameter(Tensor):
    """A tensor that a Module trains: registered by assignment, requires grad."""

    __slots__ = ()

    def __new__(cls, data, requires_grad=True):
        if not isinstance(data, Tensor):
            data = ember.tensor(data)
        p = data.as_subclass(cls)
        if requires_grad:
            p.requires_grad_()
        return p

    def __init__(self, data, requires_grad=True):
        """Everything happens in __new__ (Tensor has slots, no __dict__)."""

    def __repr__(self):
        return "Parameter(" + super().__repr__() + ")"


class Buffer(Tensor):
    """A tensor that assignment to a Module attribute registers as a buffer (PyTorch's
    torch.nn.Buffer); ``persistent=False`` keeps it out of the state dict."""

    __slots__ = ("persistent",)

    def __new__(cls, data, persistent=True):
        b = (data if isinstance(data, Tensor) else ember.tensor(data)).as_subclass(cls)
        b.persistent = persistent
        return b

    def __init__(self, data, persistent=True):
        """Everything happens in __new__ (Tensor has slots, no __dict__)."""


_INPUTS = {}


def _input(cls):
    """The name of ``cls.forward``'s first input where it has no default (None for it is
    then a slip upstream; later inputs may take None for "none", as a mask), else None:
    found once per class."""
    if cls not in _INPUTS:
        first = [name for i, name in required_params(cls.forward) if i == 1]
        _INPUTS[cls] = first[0] if first else None
    return _INPUTS[cls]


@dataclass
class LayerExample:
    """How the conformance suite exercises a layer class (see ``Module.example``)."""

    kwargs: dict                      # the layer is built as cls(**kwargs)...
    shape: tuple                      # ...and called on one input of this shape
    low: float = -2.0                 # float inputs drawn uniformly from [low, high)
    high: float = 2.0
    integer_high: int = None          # integer inputs in [0, integer_high) instead (Embedding)
    bad_shape: tuple = None           # an input shape the layer must refuse with ShapeError
    scale: float = 1.0                # tolerance multiplier
    random_in_train: bool = False     # train-mode output is random (Dropout)
    build: object = None              # a callable building the layer, instead of kwargs
    call: object = None               # (layer, x) -> output, where a layer takes more than x


class Module(HookedModule):
    """Base class of layers. Assigning a Parameter, a Module or (through
    ``register_buffer``) a tensor registers it under the attribute's name."""

    #: the layout version a state dict records for the module's class (PyTorch's; hooks
    #: that upgrade old checkpoints read it from ``local_metadata``)
    _version = 1

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "training", True)

    @classmethod
    def example(cls):
        """A LayerExample for the conformance suite; every registered layer gives one."""
        raise NotImplementedError(f"{cls.__name__} declares no conformance example; "
                                  f"define a classmethod example() returning LayerExample")

    # -- registration -------------------------------------------------------------
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}.__init__ must call super().__init__() "
                                 f"before assigning attributes")
        if name in self._buffers and (value is None or isinstance(value, Tensor)) and \
                not isinstance(value, Parameter):      # a buffer stays one, as in PyTorch
            return self._set_buffer(name, value)
        if value is not None and not isinstance(value, (Parameter, Module, Tensor)):
            _refuse_replacing(self, name, value)
        elif isinstance(value, Tensor) and not isinstance(value, (Parameter, Buffer)) and \
                self._parameters.get(name) is not None:
            raise TypeError(f"{type(self).__name__}.{name} is a parameter: assign an "
                            f"nn.Parameter or None (got a plain {type(value).__name__}); to change "
                            f"its values keep it and copy into it (with ember.no_grad(): "
                            f"{name}.copy_(value)), as PyTorch asks")
        # a name moves out of the other tables; within its own it keeps its place, so a
        # replaced layer of a Sequential still runs where it stood
        own = self._buffers if isinstance(value, Buffer) else self._parameters \
            if isinstance(value, Parameter) else self._modules if isinstance(value, Module) \
            else None
        for table in (self._parameters, self._modules, self._buffers):
            if table is not own:
                table.pop(name, None)
        if isinstance(value, Buffer):       # torch.nn.Buffer: registered by assignment
            return self.register_buffer(name, value.detach(), value.persistent)
        if isinstance(value, Parameter):
            self._parameters[name] = value
            ember.name_state(value, name)
        elif isinstance(value, Module):
            self._modules[name] = value
            for path, t in [*value.named_parameters(name), *value.named_buffers(name)]:
                ember.name_state(t, path)       # compiled graphs print state by its path
        object.__setattr__(self, name, value)

    def register_buffer(self, name, tensor, persistent=True):
        """A tensor that is state but not trained (running statistics); a persistent=False
        one (a cache of positions) is left out of the state dict, as in PyTorch."""
        object.__setattr__(self, name, tensor)
        self._buffers[name] = tensor
        (self._non_persistent.discard if persistent else self._non_persistent.add)(name)
        if isinstance(tensor, ember.Tensor):
            ember.name_state(tensor, name)

    def _set_buffer(self, name, tensor):
        self._buffers[name] = tensor
        if isinstance(tensor, ember.Tensor):
            ember.name_state(tensor, name)
        object.__setattr__(self, name, tensor)

    def register_parameter(self, name, param):
        """``name`` as a parameter (None: declared, holding nothing), as setattr does."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: {name} must be a Parameter or None, got "
                            f"{type(param).__name__}")
        setattr(self, name, param)
        if param is None:
            self._parameters.pop(name, None)

    def add_module(self, name, module):
        """``module`` as a child under ``name`` (which may be any string, as "0")."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {name} must be a Module or None, got "
                            f"{type(module).__name__}")
        setattr(self, name, module)

    register_module = add_module

    def __delattr__(self, name):
        for table in (self._parameters, self._modules, self._buffers):
            table.pop(name, None)
        self._non_persistent.discard(name)
        object.__delattr__(self, name)

    def get_submodule(self, target):
        """The module at dotted path ``target`` ("" is this one)."""
        module = self
        for part in target.split(".") if target else ():
            if part not in module._modules:
                raise AttributeError(f"get_submodule: {type(module).__name__} has no child "
                                     f"{part!r} (in {target!r})")
            module = module._modules[part]
        return module

    def set_submodule(self, target, module):
        """Put ``module`` at dotted path ``target``, whose parent exists (swapping a
        layer, as PyTorch's)."""
        owner, _, name = target.rpartition(".")
        if not name:
            raise ValueError("set_submodule: the target is empty; name the child to set")
        setattr(self.get_submodule(owner), name, module)

    def get_parameter(self, target):
        """The parameter at dotted path ``target``."""
        return self._get_entry(target, "_parameters", "parameter")

    def get_buffer(self, target):
        """The buffer at dotted path ``target`` (running statistics, masks)."""
        return self._get_entry(target, "_buffers", "buffer")

    def _get_entry(self, target, table, what):
        owner, _, name = target.rpartition(".")
        module = self.get_submodule(owner)
        if name not in getattr(module, table):
            raise AttributeError(f"get_{what}: {type(module).__name__} has no {what} "
                                 f"{name!r} (in {target!r})")
        return getattr(module, table)[name]

    def apply(self, fn):
        """fn(module) for every child, depth first, then this module (weight init)."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    def __call__(self, *args, **kwargs):
        compiled = self.__dict__.get("_compiled_calls")
        if compiled is not None and not ember.is_grad_enabled() and not ember.is_compiling():
            return compiled[self.training](*args, **kwargs)
        return self._eager_call(*args, **kwargs)

    def _eager_call(self, *args, **kwargs):
        if args and args[0] is None and _input(type(self)):     # refused by name
            raise none_refused(type(self).__name__, _input(type(self)))
        with ember.layer_scope(self):       # a recorded call knows which layer made each node
            if self._has_hooks():
                return module_hooks.call(self, self.forward, args, kwargs)
            return self.forward(*args, **kwargs)

    def forward(self, *args):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    # -- traversal ----------------------------------------------------------------
    def named_children(self):
        """(name, child) of the direct children, each module once (as PyTorch's)."""
        seen = set()
        for name, child in self._modules.items():
            if child is not None and id(child) not in seen:
                seen.add(id(child))
                yield name, child

    def children(self):
        return (m for _, m in self.named_children())

    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """This module and every descendant with its dotted path, depth first; a module
        reached twice (shared) comes once unless ``remove_duplicate=False``, as PyTorch's."""
        if remove_duplicate:
            memo = set() if memo is None else memo
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child.named_modules(memo, f"{prefix}.{name}" if prefix else name,
                                               remove_duplicate)

    def modules(self):
        return (m for _, m in self.named_modules())

    def _named_members(self, table, prefix, recurse, remove_duplicate):
        """(dotted name, tensor) of each module's ``table``; a tensor shared by several
        modules (tied weights) comes once unless ``remove_duplicate=False``."""
        seen = set()
        mods = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) \
            if recurse else [(prefix, self)]
        for mod_prefix, mod in mods:
            for name, t in getattr(mod, table).items():
                if t is None or (remove_duplicate and id(t) in seen):
                    continue        # a None entry holds no state, as in PyTorch
                seen.add(id(t))
                yield (f"{mod_prefix}.{name}" if mod_prefix else name), t

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse=True):
        return (p for _, p in self.named_parameters(recurse=recurse))

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse=True):
        return (b for _, b in self.named_buffers(recurse=recurse))

    def num_parameters(self):
        return sum(p.size for p in self.parameters())

    # -- modes and gradients ------------------------------------------------------
    def train(self, mode=True):
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self):
        return self.train(False)

    def zero_grad(self, set_to_none=True):
        """Drop the parameters' gradients (``set_to_none=False``: fill them with zeros)."""
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad = ember.zeros_like(p.grad)

    def requires_grad_(self, flag=True):
        for p in self.parameters():
            p.requires_grad = flag
        return self

    # -- state --------------------------------------------------------------------
    def state_dict(self, destination=None, prefix="", keep_vars=False):
        """Parameters and persistent buffers by dotted name (after ``prefix``), module by
        module as PyTorch orders them, detached (values, not graph) unless ``keep_vars``,
        into ``destination`` if given. A tensor shared by two modules is under both keys.
        A module that defines ``get_extra_state`` adds what it returns under
        ``<prefix>_extra_state``; the state-dict hooks run around each module's part."""
        out = OrderedDict() if destination is None else destination
        for hook in self._state_dict_pre_hooks.values():
            hook(self, prefix, keep_vars)
        for name, t in self._own_tensors():
            out[prefix + name] = t if keep_vars else t.detach()
        if _overrides(self, "get_extra_state"):
            out[prefix + EXTRA_STATE] = self.get_extra_state()
        for name, child in self._modules.items():
            if child is not None:
                child.state_dict(out, prefix + name + ".", keep_vars)
        local_metadata = {"version": self._version}
        if hasattr(out, "__dict__"):
            out.__dict__.setdefault("_metadata", OrderedDict())[prefix[:-1]] = local_metadata
        for key, hook in self._state_dict_post_hooks.items():
            replaced = hook(self, out, prefix, local_metadata)
            if replaced is not None:
                if key not in self._state_dict_replacing:
                    raise TypeError(f"{type(self).__name__}: a state_dict post-hook changes "
                                    f"the dictionary in place and returns None (PyTorch's "
                                    f"rule), got {type(replaced).__name__}")
                out = replaced
        return out

    def _own_tensors(self):
        """This module's (name, tensor) pairs of the state dict: parameters, then
        persistent buffers."""
        for name, t in self._parameters.items():
            if t is not None:
                yield name, t
        for name, t in self._buffers.items():
            if t is not None and name not in self._non_persistent:
                yield name, t

    def _state_tensors(self, prefix=""):
        """The state dict's tensors by dotted name, without hooks or extra state (what
        loading and functional_call match names against)."""
        out = OrderedDict()
        for path, module in self._tree(prefix):
            out.update((path + name, t) for name, t in module._own_tensors())
        return out

    def _tree(self, prefix=""):
        """(key prefix, module) for this module and every descendant, parents first, a
        shared module under each of its names (the keys of the state dict)."""
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child._tree(prefix + name + ".")

    def get_extra_state(self):
        """What a module keeps in the state dict beyond tensors (under
        ``<prefix>_extra_state``): define it, with ``set_extra_state``, in a subclass."""
        raise NotImplementedError(f"{type(self).__name__}.get_extra_state: define it in the "
                                  f"module's class (with set_extra_state) to keep extra state")

    def set_extra_state(self, state):
        """Take back what ``get_extra_state`` returned, when the state dict is loaded."""
        raise NotImplementedError(f"{type(self).__name__}.set_extra_state: define it in the "
                                  f"module's class (with get_extra_state) to load extra state")

    def load_state_dict(self, state, strict=True, assign=False):
        """Copy values into this module's own tensors (optimizers keep their references),
        or with ``assign`` make the state's tensors the module's (as PyTorch's);
        lazy layers take their sizes from the state first. Returns the missing and
        unexpected keys (PyTorch's IncompatibleKeys); ``strict`` refuses either.

        Each module's load-state-dict pre-hooks may first rewrite its part of the
        dictionary (old key names), and its post-hooks see the IncompatibleKeys after
        the load (and may clear them) before ``strict`` is judged, as in PyTorch. Every
        shape and dtype is checked before anything is copied, and a load that ``strict``
        refuses changes nothing unless post-hooks must see it first."""
        from .lazy import materialize_from_state
        metadata = getattr(state, "_metadata", None) or {}
        state = OrderedDict(state)
        missing, unexpected, errors = [], [], []
        tree = list(self._tree())
        for prefix, module in tree:
            if module._load_state_dict_pre_hooks:
                local = OrderedDict((k, v) for k, v in state.items() if k.startswith(prefix))
                for hook in module._load_state_dict_pre_hooks.values():
                    hook(module, local, prefix, metadata.get(prefix[:-1], {}), strict, missing,
                         unexpected, errors)
                state = OrderedDict([*((k, v) for k, v in state.items()
                                       if not k.startswith(prefix)), *local.items()])
        materialize_from_state(self, state)
        own = self._state_tensors()
        extra = {prefix + EXTRA_STATE: module for prefix, module in tree
                 if _overrides(module, "set_extra_state")}
        missing += [k for k in (*own, *extra) if k not in state]
        unexpected += [k for k in state if k not in own and k not in extra]
        copies = [(name, target, _loadable(self, name, state[name], target))
                  for name, target in own.items() if name in state]
        post_hooks = any(m._load_state_dict_post_hooks for _, m in tree)
        if not post_hooks:
            _refuse(self, strict, missing, unexpected, errors)
        for name, target, value in copies:
            if assign:
                _assign(self, name, target, value)
            else:
                with ember.no_grad():
                    target.copy_(value)
        for key, module in extra.items():
            if key in state:
                module.set_extra_state(state[key])
        keys = IncompatibleKeys(missing, unexpected)
        for _, module in reversed(tree):       # children before their parents
            for hook in module._load_state_dict_post_hooks.values():
                if hook(module, keys) is not None:
                    raise TypeError(f"{type(module).__name__}: a load_state_dict post-hook "
                                    f"changes the IncompatibleKeys in place and returns None")
        if post_hooks:
            _refuse(self, strict, missing, unexpected, errors)
        return keys

    def to(self, target=None, dtype=None):
        """Move to a backend and/or cast floating state to a dtype, in place (the
        tensors keep their identity, so optimizers keep their references);
        gradients are dropped."""
        if target is not None and dtype is None and is_dtype_spec(target):
            target, dtype = None, target
        for t in (*self.parameters(), *self.buffers()):
            moved = t.detach()
            if target is not None:
                be = ember.get_backend(target)
                if t.dtype.is_int and t.dtype not in be.dtypes:   # a count, to wgpu's int32
                    moved = moved.to(dtype=be.default_int)
                moved = moved.to(target)
            if dtype is not None and t.dtype.is_float:
                moved = moved.to(dtype=dtype)
            t.data = moved
            t.grad = None
        return self

    def cpu(self):
        """Parameters and buffers into host memory (the numpy backend), in place."""
        return self.to("numpy")

    def cuda(self, device=None):
        """Parameters and buffers onto an NVIDIA GPU (the cupy backend), in place."""
        from ember.methods import cuda_backend
        return self.to(cuda_backend(device))

    def compile(self, **options):
        """Run calls that record no gradient (under ember.no_grad or inference_mode)
        through ember.compile from now on, as PyTorch's Module.compile: one compiled call
        for training mode and one for eval, each traced on first use; ``options`` are
        ember.compile's. A call that records gradients runs eagerly, since a compiled
        graph's outputs carry none: compile a training step whole (ember.compile(step),
        forward, backward and optimizer) instead."""
        object.__setattr__(self, "_compiled_calls", {
            mode: ember.compile(self._eager_call, **options) for mode in (True, False)})

    def float(self):
        return self.to(dtype=ember.float32)

    def double(self):
        return self.to(dtype=ember.float64)

    def half(self):
        return self.to(dtype=ember.float16)

    def bfloat16(self):
        return self.to(dtype=ember.bfloat16)

    # -- display ------------------------------------------------------------------
    def extra_repr(self):
        return ""

    def __repr__(self):
        own = sum(p.size for p in self._parameters.values())
        head = f"{type(self).__name__}({self.extra_repr()})"
        if not self._modules:
            return head + (f"  [{own:,} params]" if own else "")
        lines = [f"{type(self).__name__}(  [{self.num_parameters():,} params]"]
        for name, child in self._modules.items():
            body = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        lines.append(")")
        return "\n".join(lines)


def _refuse_replacing(module, name, value):
    """PyTorch's TypeError for a value that is not a tensor or module assigned where
    a parameter, child module or buffer is (it would drop it from training silently)."""
    for table, kind, wanted in ((module._parameters, "parameter", "an nn.Parameter"),
                                (module._modules, "child module", "a Module"),
                                (module._buffers, "buffer", "a tensor")):
        if table.get(name) is not None:
            raise TypeError(f"{type(module).__name__}.{name} is a {kind}: assign {wanted} "
                            f"or None (got {type(value).__name__})")


#: the state-dict key of a module's get_extra_state, after its prefix (PyTorch's)
EXTRA_STATE = "_extra_state"


def _overrides(module, method):
    """Whether ``module``'s class defines its own ``method`` (get_/set_extra_state)."""
    return getattr(type(module), method) is not getattr(Module, method)


def _loadable(module, name, value, target):
    """``value`` from the state dict, checked against the module's tensor ``target``
    and made a tensor of a dtype it can take."""
    if not isinstance(value, Tensor):
        value = ember.tensor(value, dtype=target.dtype)
    if value.shape != target.shape:
        raise ShapeError(f"load_state_dict: {name} has shape {value.shape} in the "
                         f"state_dict but {target.shape} in {type(module).__name__}")
    if value.dtype.is_int and target.dtype.is_int and value.dtype is not target.dtype:
        value = _fitted(name, value, target.dtype)
    if value.dtype is not target.dtype and not (value.dtype.is_float and target.dtype.is_float):
        # floats take the module's float dtype (a bfloat16 checkpoint into float32
        # parameters, as PyTorch's copy_ does); integers another width (PyTorch's
        # int64 count into wgpu's int32) where they fit; a change of kind is refused
        raise DTypeError(f"load_state_dict: {name} has dtype {value.dtype.name} in the "
                         f"state_dict but {target.dtype.name} in {type(module).__name__}; "
                         f"cast the module or the state first")
    return value


def _refuse(module, strict, missing, unexpected, errors):
    """Raise the StateDictError a load ends in: keys that ``strict`` refuses, or what
    a pre-hook put in its error messages."""
    parts = list(errors)
    if strict and missing:
        parts.append("missing keys " + ", ".join(missing))
    if strict and unexpected:
        parts.append("unexpected keys " + ", ".join(unexpected))
    if parts:
        fix = "; pass strict=False to load the rest" if strict and (missing or unexpected) else ""
        raise StateDictError(f"load_state_dict into {type(module).__name__}: "
                             + "; ".join(parts) + fix)


class IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What load_state_dict did not match: keys the module has that the state lacks,
    and keys the state has that the module lacks (PyTorch's _IncompatibleKeys)."""

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()


def _assign(module, name, target, value):
    """load_state_dict(assign=True): ``value`` itself becomes the state at dotted
    ``name``, a Parameter (keeping the old one's requires_grad) where one was."""
    owner, _, attr = name.rpartition(".")
    holder = module.get_submodule(owner)
    if isinstance(target, Parameter):
        value = Parameter(value.detach(), requires_grad=target.requires_grad)
        holder._parameters[attr] = value
    else:
        holder._buffers[attr] = value
    ember.name_state(value, attr)
    object.__setattr__(holder, attr, value)


def _fitted(name, value, dtype):
    """An integer state tensor in another integer dtype, refused where a value would wrap."""
    held = value.numpy()
    info = np.iinfo(dtype.np)
    if held.size and (held.min() < info.min or held.max() > info.max):
        raise DTypeError(f"load_state_dict: {name} holds values outside {dtype.name}'s range "
                         f"[{info.min}, {info.max}]")
    return ember.tensor(held.astype(dtype.np), dtype=dtype, backend=value.backend)


class _Numbered(Module):
    """Modules registered under their positions "0", "1", ... (Sequential, ModuleList),
    kept numbered in order through PyTorch's list methods."""

    def append(self, module):
        setattr(self, str(len(self)), self._checked(module, len(self)))
        return self

    def _checked(self, module, position):
        if not isinstance(module, Module):
            raise TypeError(f"{type(self).__name__}: item {position} must be a Module, got "
                            f"{type(module).__name__}")
        return module

    def extend(self, modules):
        for m in modules:
            self.append(m)
        return self

    def insert(self, index, module):
        """``module`` before position ``index``, the later ones moved up one."""
        layers = list(self._modules.values())
        layers.insert(index, module)
        self._renumber(layers)

    def pop(self, index=-1):
        module = self[index]
        del self[index]
        return module

    def __getitem__(self, i):
        items = list(self._modules.values())[i]
        return type(self)(items) if isinstance(i, slice) else items

    def __setitem__(self, i, module):
        setattr(self, list(self._modules)[i], self._checked(module, i))

    def __delitem__(self, i):
        layers = list(self._modules.values())
        del layers[i]
        self._renumber(layers)

    def _renumber(self, layers):
        for name in list(self._modules):
            delattr(self, name)
        for layer in layers:
            self.append(layer)

    def __iter__(self):
        return iter(self._modules.values())

    def __len__(self):
        return len(self._modules)


class Sequential(_Numbered):
    """Modules applied one after another."""

    def __init__(self, *layers):
        super().__init__()
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = layers[0]
        self.extend(layers)

    def forward(self, x):
        for layer in self._modules.values():
            x = layer(x)
        return x

    @classmethod
    def example(cls):
        from .activations import Tanh
        from .layers import Linear
        return LayerExample(kwargs={}, shape=(5, 4), bad_shape=(5, 3),
                            build=lambda: cls(Linear(4, 3), Tanh(), Linear(3, 2)))


class ModuleList(_Numbered):
    """Modules held in a list, registered under their indices ("0", "1", ...)."""

    def __init__(self, modules=()):
        super().__init__()
        self.extend(modules)


class _ByName:
    """A dict's reading methods over one of the module's own tables (``_held``)."""

    _held = "_modules"

    def __getitem__(self, name):
        return getattr(self, self._held)[name]

    def __contains__(self, name):
        return name in getattr(self, self._held)

    def __iter__(self):
        return iter(getattr(self, self._held))

    def __len__(self):
        return len(getattr(self, self._held))

    def keys(self):
        return getattr(self, self._held).keys()

    def values(self):
        return getattr(self, self._held).values()

    def items(self):
        return getattr(self, self._held).items()


class ModuleDict(_ByName, Module):
    """Modules held by name, in insertion order; each registered under its key."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def update(self, modules):
        for name, module in (modules.items() if hasattr(modules, "items") else modules):
            self[name] = module

    def __setitem__(self, name, module):
        if not isinstance(module, Module):
            raise TypeError(f"ModuleDict: {name!r} must be a Module, got {type(module).__name__}")
        setattr(self, name, module)

    def __delitem__(self, name):
        delattr(self, name)

    def pop(self, name):
        module = self[name]
        del self[name]
        return module


class ParameterList(Module):
    """Parameters held in a list, registered under their indices ("0", "1", ...);
    tensors given are wrapped as Parameters."""

    def __init__(self, values=()):
        super().__init__()
        for v in values:
            self.append(v)

    def append(self, value):
        setattr(self, str(len(self)), value if isinstance(value, Parameter) else Parameter(value))
        return self

    def extend(self, values):
        for v in values:
            self.append(v)
        return self

    def __getitem__(self, i):
        return list(self._parameters.values())[i]

    def __iter__(self):
        return iter(self._parameters.values())

    def __len__(self):
        return len(self._parameters)


class ParameterDict(_ByName, Module):
    """Parameters held by name, in insertion order; tensors given are wrapped."""

    _held = "_parameters"

    def __init__(self, parameters=None):
        super().__init__()
        for name, value in (parameters or {}).items():
            self[name] = value

    def __setitem__(self, name, value):
        setattr(self, name, value if isinstance(value, Parameter) else Parameter(value))



def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *,
                    tie_weights=True, strict=False):
    """Call ``module`` with some parameters or buffers replaced (torch.func's
    functional_call): a mapping of dotted name -> tensor, or a tuple of mappings whose
    names do not overlap; ``args`` a tuple or one argument. ``tie_weights``: a tensor
    held under two names (tied weights) is replaced under both when either is given;
    ``strict``: every parameter and buffer must be given. The originals come back after."""
    dicts = parameter_and_buffer_dicts
    given = {}
    for d in dicts if isinstance(dicts, (tuple, list)) else (dicts,):
        for name, value in d.items():
            if name in given:
                raise StateDictError(f"functional_call: {name!r} is in more than one of the "
                                     f"dictionaries; give each name once")
            given[name] = value
    own = module._state_tensors()
    unknown = [k for k in given if k not in own]
    missing = [k for k in own if k not in given] if strict else []
    if unknown or missing:
        parts = ([f"{type(module).__name__} has no parameter or buffer "
                  f"{', '.join(map(repr, unknown))}"] if unknown else []) + \
            ([f"strict=True and {', '.join(map(repr, missing))} not given"] if missing else [])
        raise StateDictError("functional_call: " + "; ".join(parts))
    if tie_weights:
        names_of = {}
        for name, t in own.items():
            names_of.setdefault(id(t), []).append(name)
        for name, value in list(given.items()):
            for twin in names_of[id(own[name])]:
                if given.setdefault(twin, value) is not value:
                    raise StateDictError(f"functional_call: {name!r} and {twin!r} are tied "
                                         f"(one tensor) but were given different values; give "
                                         f"one, or pass tie_weights=False")
    saved = []
    try:
        for name, value in given.items():
            owner_name, _, attr = name.rpartition(".")
            owner = module.get_submodule(owner_name)
            saved.append((owner, attr, owner.__dict__[attr]))
            object.__setattr__(owner, attr, value)
        args = args if isinstance(args, tuple) else () if args is None else (args,)
        return module(*args, **(kwargs or {}))
    finally:
        for owner, attr, value in reversed(saved):
            object.__setattr__(owner, attr, value)
