"""Optimizer hooks, as PyTorch's: before and after each step (of one optimizer, or of
every optimizer: ``register_optimizer_step_pre_hook``), and around ``state_dict`` and
``load_state_dict``, where a hook may rewrite the dictionary (a checkpoint's old
setting names, extra entries a training library keeps). Each registration returns a
handle whose ``remove()`` takes the hook out again."""

import functools

from ember.hooks import HookTable

_EVERY_PRE, _EVERY_POST = HookTable(), HookTable()


def register_optimizer_step_pre_hook(hook):
    """``hook(optimizer, args, kwargs)`` before every optimizer's step (before its own
    pre-hooks); a pair ``(args, kwargs)`` it returns replaces the step's arguments.
    As in PyTorch, ``args`` begins with the optimizer itself."""
    return _EVERY_PRE.add(hook)


def register_optimizer_step_post_hook(hook):
    """``hook(optimizer, args, kwargs)`` after every optimizer's step (after its own
    post-hooks)."""
    return _EVERY_POST.add(hook)


def _hooked(step):
    """``step`` with the step hooks run around it."""
    @functools.wraps(step)
    def run(*args, **kwargs):
        self = args[0]                  # the hooks see it in args, as PyTorch's
        for hook in (*_EVERY_PRE.values(), *self._hook_table("_step_pre_hooks").values()):
            out = hook(self, args, kwargs)
            if out is not None:
                if not (isinstance(out, tuple) and len(out) == 2):
                    raise TypeError(f"{type(self).__name__}: a step pre-hook returns None or "
                                    f"a pair (args, kwargs), got {type(out).__name__}")
                args, kwargs = out
        result = step(*args, **kwargs)
        for hook in (*self._hook_table("_step_post_hooks").values(), *_EVERY_POST.values()):
            hook(self, args, kwargs)
        return result
    run.hooked = True
    return run


class HookedOptimizer:
    """The hook registrations of Optimizer (mixed into it). A class that defines its own
    ``step`` (LBFGS) gets the step hooks around it too."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if step is not None and not getattr(step, "hooked", False):
            cls.step = _hooked(step)

    def _hook_table(self, name):
        table = self.__dict__.get(name)
        if table is None:
            table = self.__dict__[name] = HookTable()
        return table

    def register_step_pre_hook(self, hook):
        """``hook(optimizer, args, kwargs)`` before each step; a pair ``(args, kwargs)``
        it returns replaces the step's arguments (``args`` begins with the optimizer)."""
        return self._hook_table("_step_pre_hooks").add(hook)

    def register_step_post_hook(self, hook):
        """``hook(optimizer, args, kwargs)`` after each step."""
        return self._hook_table("_step_post_hooks").add(hook)

    def register_state_dict_pre_hook(self, hook, prepend=False):
        """``hook(optimizer)`` before ``state_dict()`` builds the dictionary."""
        return self._hook_table("_state_dict_pre_hooks").add(hook, prepend)

    def register_state_dict_post_hook(self, hook, prepend=False):
        """``hook(optimizer, state_dict)`` on the dictionary ``state_dict()`` built; one
        it returns replaces it."""
        return self._hook_table("_state_dict_post_hooks").add(hook, prepend)

    def register_load_state_dict_pre_hook(self, hook, prepend=False):
        """``hook(optimizer, state_dict)`` on (a shallow copy of) the dictionary given to
        ``load_state_dict``, before it loads; one it returns is loaded instead."""
        return self._hook_table("_load_state_dict_pre_hooks").add(hook, prepend)

    def register_load_state_dict_post_hook(self, hook, prepend=False):
        """``hook(optimizer)`` after ``load_state_dict`` has loaded."""
        return self._hook_table("_load_state_dict_post_hooks").add(hook, prepend)

    def _rewritten(self, name, state_dict):
        """``state_dict`` passed through the hooks of table ``name``, each of which may
        return a replacement."""
        for hook in self._hook_table(name).values():
            out = hook(self, state_dict)
            state_dict = state_dict if out is None else out
        return state_dict

    def _notify(self, name):
        for hook in self._hook_table(name).values():
            hook(self)
