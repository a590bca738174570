"""Module hooks, as PyTorch's: forward pre-hooks and forward hooks (with_kwargs,
prepend, always_call), full backward pre-hooks and backward hooks, and the hooks
around state_dict and load_state_dict (Module runs those).

A backward hook needs every gradient of a call's outputs (and then of its inputs) at
once, so a hooked call passes its differentiable outputs through one
ember.autograd.Function, whose backward receives all their gradients together and
calls the hooks with them; the inputs pass through one the same way before forward.
Calls without backward hooks run as before, untouched."""

import types
import warnings

import ember
from ember.hooks import HookTable
from ember.tensor import Tensor

_NONE = types.MappingProxyType({})


class _Hooked(ember.autograd.Function):
    """Tensors passed through unchanged, as one node: its backward receives every
    piece's gradient at once and hands them to ``on_grads`` (which may replace them)."""

    @staticmethod
    def forward(ctx, on_grads, *tensors):
        ctx.on_grads = on_grads
        return tuple(t.detach() for t in tensors)

    @staticmethod
    def backward(ctx, *grads):
        return (None,) + tuple(ctx.on_grads(grads))


def _checked(name, new, old):
    """A hook's replacement gradients: a tuple as long as the old, each None or of its
    tensor's shape."""
    new = tuple(new) if isinstance(new, (tuple, list)) else (new,)
    if len(new) != len(old):
        raise ember.AutogradError(f"{name}: the hook returned {len(new)} gradients for "
                                  f"{len(old)}; return one per entry (None to keep none)")
    for n, o in zip(new, old):
        if n is not None and o is not None and n.shape != o.shape:
            raise ember.AutogradError(f"{name}: the hook returned a gradient of shape "
                                      f"{n.shape} for one of shape {o.shape}")
    return new


class _BackwardCall:
    """One hooked call's backward: the output gradients (after the pre-hooks), then the
    input gradients through the backward hooks."""

    def __init__(self, module, args):
        self.module, self.grad_output, self.outputs = module, None, ()
        self.slots = [i for i, a in enumerate(args) if _differentiable(a)]
        self.count = len(args)

    def outputs_done(self, grads):
        for hook in list(self.module._backward_pre_hooks.values()):
            new = hook(self.module, grads)
            if new is not None:
                grads = _checked("register_full_backward_pre_hook", new, grads)
        self.grad_output = grads
        if not self.slots:      # nothing flows to the inputs: the hooks hear of None
            self.inputs_done(())
        return tuple(ember.zeros_like(t) if g is None else g
                     for g, t in zip(grads, self.outputs))

    def inputs_done(self, grads):
        grad_input = [None] * self.count
        for i, g in zip(self.slots, grads):
            grad_input[i] = g
        grad_input = tuple(grad_input)
        for hook in list(self.module._backward_hooks.values()):
            new = hook(self.module, grad_input, self.grad_output)
            if new is not None:
                grad_input = _checked("register_full_backward_hook", new, grad_input)
        return tuple(grad_input[i] for i in self.slots)


def _differentiable(x):
    return isinstance(x, Tensor) and x.requires_grad and x.dtype.is_inexact


def _map_outputs(out, fn):
    """``out`` with ``fn`` applied to the list of its differentiable tensors (a tensor, or
    one level of tuple or list)."""
    if isinstance(out, Tensor):
        return fn([out])[0] if _differentiable(out) else out
    if isinstance(out, (tuple, list)):
        found = [x for x in out if _differentiable(x)]
        if not found:
            return out
        new = iter(fn(found))
        items = [next(new) if _differentiable(x) else x for x in out]
        return type(out)(*items) if hasattr(out, "_fields") else type(out)(items)
    return out


def _joined(tensors, on_grads):
    """``tensors`` through one _Hooked node; several dtypes pass in their common one
    (an autograd Function's outputs share one) and are cast back."""
    dtype = tensors[0].dtype
    for t in tensors[1:]:
        dtype = ember.promote(dtype, t.dtype)

    def in_own_dtypes(grads):       # the hooks see each gradient in its tensor's dtype
        new = on_grads(tuple(None if g is None else g.to(dtype=t.dtype)
                             for g, t in zip(grads, tensors)))
        return tuple(None if g is None else g.to(dtype=dtype) for g in new)
    pieces = _Hooked.apply(in_own_dtypes, *[t.to(dtype=dtype) for t in tensors])
    return [p.to(dtype=t.dtype) for p, t in zip(pieces, tensors)]


def call(module, forward, args, kwargs):
    """``forward(*args, **kwargs)`` with the module's hooks around it."""
    for hook_id, hook in list(module._forward_pre_hooks.items()):
        if hook_id in module._forward_hooks_with_kwargs:
            result = hook(module, args, kwargs)
            if result is not None:
                if not (isinstance(result, tuple) and len(result) == 2):
                    raise TypeError("a forward pre-hook registered with_kwargs=True must "
                                    "return None or a tuple (args, kwargs)")
                args, kwargs = result
        else:
            result = hook(module, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
    state = None
    if (module._backward_hooks or module._backward_pre_hooks) and ember.is_grad_enabled():
        state = _BackwardCall(module, args)
        if state.slots:
            joined = _joined([args[i] for i in state.slots], state.inputs_done)
            args = list(args)
            for i, t in zip(state.slots, joined):
                args[i] = t
            args = tuple(args)
    called = set()
    try:
        out = forward(*args, **kwargs)
        for hook_id, hook in list(module._forward_hooks.items()):
            called.add(hook_id)
            if hook_id in module._forward_hooks_with_kwargs:
                result = hook(module, args, kwargs, out)
            else:
                result = hook(module, args, out)
            if result is not None:
                out = result
    except Exception:
        for hook_id, hook in list(module._forward_hooks.items()):
            if hook_id in module._forward_hooks_always_called and hook_id not in called:
                try:
                    hook(module, args, None)
                except Exception as e:          # the forward's error is the one to see
                    warnings.warn(f"a forward hook with always_call=True raised {e!r} while "
                                  f"the forward's own error was on its way out")
        raise
    if state is not None:
        def join_outputs(tensors):
            state.outputs = tensors
            return _joined(tensors, state.outputs_done)
        out = _map_outputs(out, join_outputs)
    return out


class HookedModule:
    """The hook registrations of ember.nn.Module (mixed into it)."""

    def _hooks(self, name):
        table = self.__dict__.get(name)
        if table is None:
            table = HookTable()
            object.__setattr__(self, name, table)
        return table

    @property
    def _forward_pre_hooks(self): return self._hooks("_forward_pre_hooks_table")
    @property
    def _forward_hooks(self): return self._hooks("_forward_hooks_table")
    @property
    def _forward_hooks_with_kwargs(self): return self._hooks("_forward_kwargs_table")
    @property
    def _forward_hooks_always_called(self): return self._hooks("_forward_always_table")
    @property
    def _backward_hooks(self): return self._hooks("_backward_hooks_table")
    @property
    def _backward_pre_hooks(self): return self._hooks("_backward_pre_hooks_table")

    # the state-dict hooks, read on every state_dict() and load: an empty mapping where
    # none was registered (no table is made for reading)
    @property
    def _state_dict_pre_hooks(self): return self.__dict__.get("_state_dict_pre_table", _NONE)
    @property
    def _state_dict_post_hooks(self): return self.__dict__.get("_state_dict_post_table", _NONE)
    @property
    def _state_dict_replacing(self): return self.__dict__.get("_state_dict_replacing_table", _NONE)
    @property
    def _load_state_dict_pre_hooks(self): return self.__dict__.get("_load_pre_table", _NONE)
    @property
    def _load_state_dict_post_hooks(self): return self.__dict__.get("_load_post_table", _NONE)

    def _has_hooks(self):
        d = self.__dict__
        return bool(d.get("_forward_pre_hooks_table") or d.get("_forward_hooks_table")
                    or d.get("_backward_hooks_table") or d.get("_backward_pre_hooks_table"))

    def register_forward_pre_hook(self, hook, *, prepend=False, with_kwargs=False):
        """``hook(module, args)`` (``with_kwargs``: ``hook(module, args, kwargs)``) before
        each forward; what it returns, if not None, replaces the arguments."""
        handle = self._forward_pre_hooks.add(hook, prepend, (self._forward_hooks_with_kwargs,))
        if with_kwargs:
            self._forward_hooks_with_kwargs[handle.id] = True
        return handle

    def register_forward_hook(self, hook, *, prepend=False, with_kwargs=False,
                              always_call=False):
        """``hook(module, args, output)`` (``with_kwargs``: ``hook(module, args, kwargs,
        output)``) after each forward; what it returns, if not None, replaces the output.
        ``always_call``: it also runs when forward raises (with output None)."""
        handle = self._forward_hooks.add(hook, prepend, (self._forward_hooks_with_kwargs,
                                                          self._forward_hooks_always_called))
        if with_kwargs:
            self._forward_hooks_with_kwargs[handle.id] = True
        if always_call:
            self._forward_hooks_always_called[handle.id] = True
        return handle

    def register_full_backward_pre_hook(self, hook, prepend=False):
        """``hook(module, grad_output)`` once the gradients of a call's outputs are
        complete; a tuple it returns replaces them."""
        return self._backward_pre_hooks.add(hook, prepend)

    def register_full_backward_hook(self, hook, prepend=False):
        """``hook(module, grad_input, grad_output)`` once the gradients of a call's
        positional tensor inputs are complete (None for the others); a tuple it returns
        replaces grad_input."""
        return self._backward_hooks.add(hook, prepend)

    def register_backward_hook(self, hook):
        """PyTorch's deprecated form: registered as a full backward hook (what PyTorch
        says it will become), with its FutureWarning."""
        warnings.warn("register_backward_hook is deprecated (as in PyTorch); it registers a "
                      "full backward hook: call register_full_backward_hook", FutureWarning,
                      stacklevel=2)
        return self.register_full_backward_hook(hook)

    def register_state_dict_pre_hook(self, hook):
        """``hook(module, prefix, keep_vars)`` before ``state_dict`` collects this
        module's part."""
        return self._hooks("_state_dict_pre_table").add(hook)

    def register_state_dict_post_hook(self, hook):
        """``hook(module, state_dict, prefix, local_metadata)`` after this module's part
        is in ``state_dict``; it changes the dictionary in place and returns None."""
        return self._hooks("_state_dict_post_table").add(
            hook, also=(self._hooks("_state_dict_replacing_table"),))

    def _register_state_dict_hook(self, hook):
        """PyTorch's older form of the post-hook, which may return a replacement
        dictionary (ported code calls it)."""
        handle = self.register_state_dict_post_hook(hook)
        self._hooks("_state_dict_replacing_table")[handle.id] = True
        return handle

    def register_load_state_dict_pre_hook(self, hook):
        """``hook(module, state_dict, prefix, local_metadata, strict, missing_keys,
        unexpected_keys, error_msgs)`` before loading: ``state_dict`` holds the keys
        under this module's prefix, and what the hook changes in it (renamed keys) is
        loaded; messages it appends to ``error_msgs`` fail the load."""
        return self._hooks("_load_pre_table").add(hook)

    def _register_load_state_dict_pre_hook(self, hook, with_module=False):
        """PyTorch's older form, whose hook takes no module unless ``with_module``."""
        return self.register_load_state_dict_pre_hook(
            hook if with_module else lambda module, *rest: hook(*rest))

    def register_load_state_dict_post_hook(self, hook):
        """``hook(module, incompatible_keys)`` after loading, before ``strict`` judges
        the missing and unexpected keys (which it may change in place)."""
        return self._hooks("_load_post_table").add(hook)
