"""The optimizer base: parameter groups, per-parameter state, state_dict.

Updates run under no_grad as backend tensor operations (nothing is read back
to the host); a backend's fused update, when it offers one, replaces the
composed rule. A step rebinds each parameter to its new value, so the
Parameter objects a model holds stay the same objects.
"""

import numbers
from dataclasses import dataclass

import ember
from ember.errors import StateDictError
from ember.tensor import Tensor

from .optimizer_hooks import (HookedOptimizer, register_optimizer_step_post_hook,  # noqa: F401
                              register_optimizer_step_pre_hook)  # (PyTorch has them here)


@dataclass
class OptimizerExample:
    """How the conformance suite checks an optimizer class.

    ``reference(arrays, **kwargs)`` builds a float64 NumPy implementation of the
    same published rule whose ``step(grads)`` updates the arrays in place.
    """

    kwargs: dict
    reference: object
    #: the only number of axes its parameters may have (Muon's 2), or None for any
    ndim: int | None = None


class Optimizer(HookedOptimizer):
    defaults = {}
    #: the settings that must be >= 0 where an optimizer has them (NaN refused), as
    #: PyTorch checks them; a subclass adds its own (RMSprop's alpha)
    non_negative = ("momentum", "weight_decay", "eps", "lr_decay", "initial_accumulator_value",
                    "momentum_decay")

    def __init__(self, params, **settings):
        unknown = set(settings) - set(self.defaults)
        if unknown:
            raise TypeError(f"{type(self).__name__}: unknown settings {', '.join(sorted(unknown))}; "
                            f"it takes {', '.join(self.defaults)}")
        #: the settings a group takes where it names none: the class's, then the
        #: constructor's (PyTorch's optimizer.defaults)
        self.defaults = {**self.defaults, **settings}
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        self.param_groups = []
        for g in params if isinstance(params[0], dict) else [{"params": params}]:
            self.add_param_group(g)
        self.state = {}   # id(param) -> {name: tensor or number}
        self._lr_tensors = {}   # id(group) -> [0-d tensor, the lr it holds] (compiled steps)
        self._guarded = False   # inside step(found_inf=...): step counts are tensors

    def add_param_group(self, param_group):
        """Optimize one more group of parameters (a dict with "params" and any settings,
        the others taken from ``defaults``), as PyTorch's: fine-tuning adds the layers it
        unfreezes. A parameter already in a group is refused (it would step twice)."""
        if not isinstance(param_group, dict) or "params" not in param_group:
            raise TypeError(f"{type(self).__name__}: a parameter group is a dict with "
                            f"'params', got {type(param_group).__name__}")
        params = param_group["params"]
        group = {**self.defaults, **{k: v for k, v in param_group.items() if k != "params"}}
        group["params"] = [params] if isinstance(params, Tensor) else list(params)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for p in group["params"]:
            if not isinstance(p, Tensor) or not p.dtype.is_float:
                got = p.dtype.name if isinstance(p, Tensor) else type(p).__name__
                fix = ("; optimize its real and imaginary parts as one real parameter "
                       "(ember.view_as_real) and build the complex value from it "
                       "(ember.view_as_complex)" if isinstance(p, Tensor) and
                       p.dtype.is_complex else "")
                raise TypeError(f"{type(self).__name__}: parameters must be floating "
                                f"tensors, got {got}{fix}")
            if id(p) in seen:   # it would be stepped twice per step()
                raise ValueError(f"{type(self).__name__}: a parameter of shape {p.shape} "
                                 f"appears twice (again in group {len(self.param_groups)}); "
                                 f"list each parameter in one group, once")
            seen.add(id(p))
        self.validate(group)
        self.param_groups.append(group)

    def validate(self, group):
        lr = group["lr"]
        if isinstance(lr, bool) or not isinstance(lr, (numbers.Real, Tensor)):
            raise TypeError(f"{type(self).__name__}: learning rate must be a number (or a 0-d "
                            f"tensor), got {type(lr).__name__} {lr!r}")
        if not lr >= 0:          # NaN too
            raise ValueError(f"{type(self).__name__}: learning rate must be >= 0, got {lr}")
        for name in self.non_negative:
            if name in group and not group[name] >= 0:
                raise ValueError(f"{type(self).__name__}: {name} must be >= 0, got "
                                 f"{group[name]}")
        if "betas" in group and not all(0.0 <= b < 1.0 for b in group["betas"]):
            raise ValueError(f"{type(self).__name__}: betas must be in [0, 1), got "
                             f"{group['betas']}")
        if "rho" in group and not 0.0 <= group["rho"] <= 1.0:
            raise ValueError(f"{type(self).__name__}: rho must be in [0, 1], got {group['rho']}")

    def zero_grad(self, set_to_none=True):
        """Forget the gradients (None, PyTorch's default), or with ``set_to_none=False``
        make them zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                p.grad = None if set_to_none or p.grad is None else ember.zeros_like(p.grad)

    def step(self, closure=None, found_inf=None):
        """One update of every parameter that has a gradient; with a ``closure`` (which
        zeroes the gradients, computes the loss, calls backward and returns the loss, as
        in PyTorch) it is called first, with gradients recorded, and its loss returned.

        With ``found_inf`` (a 0-d bool tensor, as GradScaler passes), the update is kept
        only where it is False: on a step whose gradients hold inf or NaN, parameters and
        state tensors keep their values, decided on the device, with nothing read back to
        the host. Only while some parameter has never been stepped is the flag read, so
        that a skipped first step makes no state; inside ember.compile, which
        reads nothing, such state keeps its zero start instead (exact for Adam and plain
        SGD). Step counts are then tensors; other state an optimizer holds in Python
        numbers is not guarded."""
        loss = None
        if closure is not None:
            with ember.enable_grad():
                loss = closure()
        compiling = ember.is_compiling()
        if found_inf is not None and not compiling and any(
                id(p) not in self.state for g in self.param_groups for p in g["params"]
                if p.grad is not None) and bool(found_inf.item()):
            return loss
        self._guarded = found_inf is not None
        try:
            with ember.no_grad():
                for group in self.param_groups:
                    for p in group["params"]:
                        if p.grad is not None:
                            self._step_one(p, group, found_inf, compiling)
        finally:
            self._guarded = False
        return loss

    def _step_one(self, p, group, found_inf, compiling):
        state = self.state.setdefault(id(p), {})
        # a guarded step keeps the values before the update (state tensors change value,
        # not identity); a plain step needs none
        before = {} if found_inf is None else \
            {k: v.detach() if isinstance(v, Tensor) else v for k, v in state.items()}
        new = self.update(p, p.grad, state, group)
        if found_inf is not None:
            new = ember.where(found_inf, p, new)
            for name, value in state.items():
                if isinstance(value, Tensor) and (name in before or compiling):
                    old = before.get(name, 0.0)
                    old = old.to(value.dtype) if isinstance(old, Tensor) else \
                        ember.full_like(value, old)
                    value.copy_(ember.where(found_inf, old, value))
        p.copy_(new)
        if compiling:    # how the compiled graph prints this state
            for name, v in state.items():
                if isinstance(v, Tensor):
                    ember.name_state(v, f"{name}[{ember.state_name(p, 'param')}]")

    def lr(self, group):
        """The group's learning rate: the number, or while ember.compile traces a 0-d
        tensor holding it, refreshed before every replay, so a compiled step follows a
        scheduler's changes."""
        if not ember.is_compiling():
            return group["lr"]
        held = self._lr_tensors.get(id(group))
        if held is None:
            p = group["params"][0]
            held = self._lr_tensors[id(group)] = [
                ember.tensor(float(group["lr"]), dtype=p.dtype, backend=p.backend), group["lr"],
                self._fixed(group)]
            k = self.param_groups.index(group)
            ember.name_state(held[0], "lr" if len(self.param_groups) == 1 else f"lr[group {k}]")
        ember.before_replay(self._refresh_lr)
        self._refresh_lr()
        return held[0]

    def _fixed(self, group):
        """The group's settings that a compiled step holds as they were traced: all but lr."""
        return {k: group[k] for k in self.defaults if k != "lr" and k in group}

    def _refresh_lr(self):
        for group in self.param_groups:
            held = self._lr_tensors.get(id(group))
            if held is not None and held[2] != self._fixed(group):
                changed = next(k for k, v in self._fixed(group).items() if held[2].get(k) != v)
                raise ember.CompileError(
                    f"{type(self).__name__}: its setting {changed!r} changed from "
                    f"{held[2][changed]!r} to {group[changed]!r} after the step was compiled; "
                    f"a compiled step holds every setting but lr as traced. Set it before "
                    f"compiling, or compile the step anew (a scheduler that cycles momentum: "
                    f"pass cycle_momentum=False)")
            if held is not None and held[1] != group["lr"]:
                with ember.no_grad():
                    held[0].copy_(float(group["lr"]))
                held[1] = group["lr"]

    @staticmethod
    def keep(state, name, value):
        """Store a state tensor: an existing one is rebound to the new value, so the state
        stays the same tensor objects from step to step (what ember.compile replays)."""
        old = state.get(name)
        if isinstance(old, Tensor) and isinstance(value, Tensor):
            old.copy_(value)
        else:
            state[name] = value.detach() if isinstance(value, Tensor) else value

    def count_step(self, state, p, in_tensor):
        """``state["step"]`` plus one, stored back and returned: a Python int, or with
        ``in_tensor`` (capturable, or while ember.compile traces) or in a guarded step
        (``step(found_inf)``) a 0-d tensor counted in place, so that each replay of a
        compiled step counts on and a skipped step does not count."""
        step = state.get("step", 0)
        if not (in_tensor or self._guarded):
            state["step"] = (int(step.item()) if isinstance(step, Tensor) else step) + 1
            return state["step"]
        if not isinstance(step, Tensor):
            state["step"] = ember.tensor(float(step), dtype=p.dtype, backend=p.backend)
        state["step"] += 1              # the same tensor, rebound
        return state["step"]

    def update(self, p, g, state, group):
        """The new value of ``p`` from gradient ``g``; may update ``state``."""
        raise NotImplementedError(f"{type(self).__name__} must define update()")

    # -- state --------------------------------------------------------------------
    def _params(self):
        return [p for g in self.param_groups for p in g["params"]]

    def state_dict(self):
        """{"state": {index: {...}}, "param_groups": [{settings, "params": [index...]}]}
        (after the state-dict hooks)."""
        self._notify("_state_dict_pre_hooks")
        index = {id(p): i for i, p in enumerate(self._params())}
        state = {index[k]: {n: (v.detach() if isinstance(v, Tensor) else v) for n, v in s.items()}
                 for k, s in self.state.items() if k in index}
        groups, start = [], 0
        for g in self.param_groups:
            entry = {k: v for k, v in g.items() if k != "params"}
            entry["params"] = list(range(start, start + len(g["params"])))
            start += len(g["params"])
            groups.append(entry)
        return self._rewritten("_state_dict_post_hooks", {"state": state, "param_groups": groups})

    def load_state_dict(self, state_dict):
        """Take the state and group settings of ``state_dict()`` (parameters matched by
        position), after the load-state-dict pre-hooks have rewritten it."""
        state_dict = self._rewritten("_load_state_dict_pre_hooks", dict(state_dict))
        groups = state_dict.get("param_groups")
        if not isinstance(groups, list) or len(groups) != len(self.param_groups):
            raise StateDictError(f"{type(self).__name__}.load_state_dict: the state has "
                                 f"{len(groups) if isinstance(groups, list) else 'no'} parameter "
                                 f"groups, this optimizer {len(self.param_groups)}")
        for i, (mine, theirs) in enumerate(zip(self.param_groups, groups)):
            if len(theirs["params"]) != len(mine["params"]):
                raise StateDictError(f"{type(self).__name__}.load_state_dict: group {i} holds "
                                     f"{len(theirs['params'])} parameters in the state, "
                                     f"{len(mine['params'])} here")
        params = self._params()
        self.state = {}
        for key, entries in state_dict.get("state", {}).items():
            p = params[int(key)]
            self.state[id(p)] = {n: (ember.tensor(v, dtype=p.dtype, backend=p.backend)
                                     if isinstance(v, Tensor) or hasattr(v, "shape") else v)
                                 for n, v in entries.items()}
        for mine, theirs in zip(self.param_groups, groups):
            mine.update({k: v for k, v in theirs.items() if k != "params"})
        self._notify("_load_state_dict_post_hooks")

    def __repr__(self):
        lines = [f"{type(self).__name__}("]
        for i, g in enumerate(self.param_groups):
            settings = ", ".join(f"{k}={v}" for k, v in g.items() if k != "params")
            lines.append(f"  group {i}: {len(g['params'])} params, {settings}")
        return "\n".join(lines + [")"])
