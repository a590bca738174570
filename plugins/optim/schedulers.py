"""Learning-rate schedulers, each a closed form of the step count as PyTorch
documents it (torch.optim.lr_scheduler). Call ``step()`` once per epoch (or
per batch for OneCycle); ReduceLROnPlateau's ``step(metric)`` takes the metric."""

import bisect
import math
from dataclasses import dataclass, field


@dataclass
class SchedulerExample:
    """How the conformance suite checks a scheduler: ``expected(base_lr, metrics)``
    gives the learning rate after each of ``steps`` calls to step()."""

    kwargs: dict
    steps: int
    expected: object
    metrics: list = field(default_factory=list)


class LRScheduler:
    """Base: remembers each group's initial lr and sets lr = lr_at(t) on step()."""

    #: whether, inside a ChainedScheduler, a step scales the lr it finds as its closed
    #: form changes from t - 1 to t (PyTorch's chainable schedulers), rather than
    #: setting its closed form's lr (LambdaLR, OneCycleLR and the like)
    chainable = False

    def __init__(self, optimizer):
        self.optimizer = optimizer
        for g in optimizer.param_groups:
            g.setdefault("initial_lr", g["lr"])
        self.base_lrs = [g["initial_lr"] for g in optimizer.param_groups]
        self.last_epoch = 0
        self._apply()

    def lr_at(self, base_lr, t):
        raise NotImplementedError(f"{type(self).__name__} must define lr_at()")

    def _apply(self):
        for g, base in zip(self.optimizer.param_groups, self.base_lrs):
            g["lr"] = self.lr_at(base, self.last_epoch)

    def step(self):
        self.last_epoch += 1
        self._apply()

    def get_last_lr(self):
        return [g["lr"] for g in self.optimizer.param_groups]

    def _chain_step(self):
        """Set the lr of step ``last_epoch`` inside a ChainedScheduler, from the lr the
        schedulers before it left."""
        if not self.chainable:
            self._apply()
            return
        for g, base in zip(self.optimizer.param_groups, self.base_lrs):
            g["lr"] = self.chained(g["lr"], base, self.last_epoch)

    def chained(self, lr, base_lr, t):
        """PyTorch's chainable form: ``lr`` scaled by lr_at(t) / lr_at(t - 1) (by
        lr_at(0) / base at t = 0); a closed form already at 0 leaves it."""
        before = self.lr_at(base_lr, t - 1) if t > 0 else base_lr
        return lr * (self.lr_at(base_lr, t) / before) if before else lr

    def state_dict(self):
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state):
        self.__dict__.update(state)
        self._apply()


class StepLR(LRScheduler):
    """lr = base * gamma ** (t // step_size)."""

    chainable = True

    def __init__(self, optimizer, step_size, gamma=0.1):
        if step_size < 1:
            raise ValueError(f"StepLR: step_size must be >= 1, got {step_size}")
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer)

    def lr_at(self, base_lr, t):
        return base_lr * self.gamma ** (t // self.step_size)

    @classmethod
    def example(cls):
        return SchedulerExample({"step_size": 3, "gamma": 0.5}, 10,
                                lambda b, m: [b * 0.5 ** (t // 3) for t in range(1, 11)])


class ExponentialLR(LRScheduler):
    """lr = base * gamma ** t."""

    chainable = True

    def __init__(self, optimizer, gamma):
        self.gamma = gamma
        super().__init__(optimizer)

    def lr_at(self, base_lr, t):
        return base_lr * self.gamma ** t

    @classmethod
    def example(cls):
        return SchedulerExample({"gamma": 0.9}, 8, lambda b, m: [b * 0.9 ** t for t in range(1, 9)])


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (base - eta_min) (1 + cos(pi t / T_max)) / 2."""

    chainable = True

    def __init__(self, optimizer, T_max, eta_min=0.0):  # noqa: N803  (PyTorch's name)
        if T_max < 1:
            raise ValueError(f"CosineAnnealingLR: T_max (the steps of a half cosine) must be "
                             f">= 1, got {T_max}")
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer)

    def lr_at(self, base_lr, t):
        return self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * t / self.T_max)) / 2

    def chained(self, lr, base_lr, t):
        """PyTorch's recursion: lr - eta_min scaled by the cosine's ratio, and past each
        trough (where that ratio is 0 / 0) raised by the cosine's first step."""
        if t == 0:
            return lr
        if (t - 1 - self.T_max) % (2 * self.T_max) == 0:
            return lr + (base_lr - self.eta_min) * (1 - math.cos(math.pi / self.T_max)) / 2
        return self.eta_min + (lr - self.eta_min) * (1 + math.cos(math.pi * t / self.T_max)) \
            / (1 + math.cos(math.pi * (t - 1) / self.T_max))

    @classmethod
    def example(cls):
        return SchedulerExample({"T_max": 6, "eta_min": 0.001}, 6, lambda b, m: [
            0.001 + (b - 0.001) * (1 + math.cos(math.pi * t / 6)) / 2 for t in range(1, 7)])


class LinearWarmup(LRScheduler):
    """lr = base * (start_factor + (end_factor - start_factor) * min(t, total_iters) / total_iters),
    PyTorch's LinearLR: a linear warmup from start_factor * base to base."""

    chainable = True

    def __init__(self, optimizer, start_factor=1.0 / 3, end_factor=1.0, total_iters=5):
        if not 0 < start_factor <= 1 or not 0 <= end_factor <= 1 or total_iters < 1:
            raise ValueError("LinearWarmup: needs 0 < start_factor <= 1, 0 <= end_factor <= 1 "
                             "and total_iters >= 1")
        self.start_factor, self.end_factor, self.total_iters = start_factor, end_factor, total_iters
        super().__init__(optimizer)

    def lr_at(self, base_lr, t):
        frac = min(t, self.total_iters) / self.total_iters
        return base_lr * (self.start_factor + (self.end_factor - self.start_factor) * frac)

    @classmethod
    def example(cls):
        return SchedulerExample({"start_factor": 0.1, "total_iters": 4}, 6, lambda b, m: [
            b * (0.1 + 0.9 * min(t, 4) / 4) for t in range(1, 7)])


#: PyTorch's name for LinearWarmup
LinearLR = LinearWarmup


class MultiStepLR(LRScheduler):
    """lr = base * gamma ** (the milestones passed: how many are <= t)."""

    chainable = True

    def __init__(self, optimizer, milestones, gamma=0.1):
        self.milestones, self.gamma = sorted(int(m) for m in milestones), gamma
        super().__init__(optimizer)

    def lr_at(self, base_lr, t):
        return base_lr * self.gamma ** bisect.bisect_right(self.milestones, t)

    @classmethod
    def example(cls):
        return SchedulerExample({"milestones": [2, 5, 5], "gamma": 0.5}, 7, lambda b, m: [
            b * 0.5 ** sum(t >= k for k in (2, 5, 5)) for t in range(1, 8)])


class ConstantLR(LRScheduler):
    """lr = base * factor for the first total_iters steps, then base."""

    chainable = True

    def __init__(self, optimizer, factor=1.0 / 3, total_iters=5):
        if not 0 <= factor <= 1:
            raise ValueError(f"ConstantLR: factor must be in [0, 1], got {factor}")
        self.factor, self.total_iters = factor, total_iters
        super().__init__(optimizer)

    def lr_at(self, base_lr, t):
        return base_lr * (self.factor if t < self.total_iters else 1.0)

    @classmethod
    def example(cls):
        return SchedulerExample({"factor": 0.25, "total_iters": 3}, 5,
                                lambda b, m: [b * 0.25, b * 0.25, b, b, b])


class PolynomialLR(LRScheduler):
    """lr = base * (1 - min(t, total_iters) / total_iters) ** power."""

    chainable = True

    def __init__(self, optimizer, total_iters=5, power=1.0):
        if total_iters < 1:
            raise ValueError(f"PolynomialLR: total_iters must be >= 1, got {total_iters}")
        self.total_iters, self.power = total_iters, power
        super().__init__(optimizer)

    def lr_at(self, base_lr, t):
        return base_lr * (1.0 - min(t, self.total_iters) / self.total_iters) ** self.power

    @classmethod
    def example(cls):
        return SchedulerExample({"total_iters": 4, "power": 2.0}, 6, lambda b, m: [
            b * (1 - min(t, 4) / 4) ** 2 for t in range(1, 7)])


class LambdaLR(LRScheduler):
    """lr = base * lr_lambda(t) (a function, or one per parameter group)."""

    def __init__(self, optimizer, lr_lambda):
        groups = len(optimizer.param_groups)
        self.lr_lambdas = list(lr_lambda) if isinstance(lr_lambda, (list, tuple)) else \
            [lr_lambda] * groups
        if len(self.lr_lambdas) != groups:
            raise ValueError(f"{type(self).__name__}: {len(self.lr_lambdas)} functions for "
                             f"{groups} parameter groups")
        super().__init__(optimizer)

    def _apply(self):
        for g, base, f in zip(self.optimizer.param_groups, self.base_lrs, self.lr_lambdas):
            g["lr"] = self._lr(base, f, self.last_epoch)

    @staticmethod
    def _lr(base_lr, f, t):
        return base_lr * f(t)

    def state_dict(self):
        """Without the functions (code is not state; PyTorch leaves them out too)."""
        return {k: v for k, v in super().state_dict().items() if k != "lr_lambdas"}

    @classmethod
    def example(cls):
        return SchedulerExample({"lr_lambda": lambda t: 0.9 ** t + 0.1}, 5,
                                lambda b, m: [b * (0.9 ** t + 0.1) for t in range(1, 6)])


class MultiplicativeLR(LambdaLR):
    """lr = the previous lr * lr_lambda(t): base times the product of lr_lambda(1..t)."""

    @staticmethod
    def _lr(base_lr, f, t):
        return base_lr * math.prod(f(k) for k in range(1, t + 1))

    def _chain_step(self):
        if self.last_epoch > 0:
            for g, f in zip(self.optimizer.param_groups, self.lr_lambdas):
                g["lr"] = g["lr"] * f(self.last_epoch)

    @classmethod
    def example(cls):
        return SchedulerExample({"lr_lambda": lambda t: 0.95}, 5,
                                lambda b, m: [b * 0.95 ** t for t in range(1, 6)])


class CosineAnnealingWarmRestarts(LRScheduler):
    """SGDR (Loshchilov & Hutter 2017): a cosine from base to eta_min over T_i steps,
    restarted at base, T_i = T_0 * T_mult ** (restarts so far)."""

    def __init__(self, optimizer, T_0, T_mult=1, eta_min=0.0):  # noqa: N803  (PyTorch's names)
        if T_0 < 1 or not isinstance(T_mult, int) or T_mult < 1:
            raise ValueError(f"CosineAnnealingWarmRestarts: T_0 must be >= 1 and T_mult an int "
                             f">= 1, got {T_0} and {T_mult}")
        self.T_0, self.T_mult, self.eta_min = T_0, T_mult, eta_min
        super().__init__(optimizer)

    def lr_at(self, base_lr, t):
        if self.T_mult == 1:
            done, length = t % self.T_0, self.T_0
        else:
            n = int(math.log(t / self.T_0 * (self.T_mult - 1) + 1, self.T_mult))
            done = t - self.T_0 * (self.T_mult ** n - 1) // (self.T_mult - 1)
            length = self.T_0 * self.T_mult ** n
        return self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * done / length)) / 2

    @classmethod
    def example(cls):
        ends = [0, 2, 6, 14]                             # restarts at 2, 2 + 4, 6 + 8

        def expected(b, m):
            out = []
            for t in range(1, 10):
                k = max(i for i, e in enumerate(ends) if e <= t)
                done, length = t - ends[k], 2 * 2 ** k
                out.append(0.01 + (b - 0.01) * (1 + math.cos(math.pi * done / length)) / 2)
            return out
        return SchedulerExample({"T_0": 2, "T_mult": 2, "eta_min": 0.01}, 9, expected)


class _Composite(LRScheduler):
    """A scheduler made of others (``self.schedulers``): its state dict holds theirs,
    and loading it loads them, then sets the lr as the whole would have it."""

    def state_dict(self):
        return {**{k: v for k, v in super().state_dict().items() if k != "schedulers"},
                "schedulers": [inner.state_dict() for inner in self.schedulers]}

    def load_state_dict(self, state):
        for inner, saved in zip(self.schedulers, state["schedulers"]):
            inner.load_state_dict(saved)
        super().load_state_dict({k: v for k, v in state.items() if k != "schedulers"})


class SequentialLR(_Composite):
    """``schedulers`` one after another: the k-th runs from milestones[k - 1] (its own
    count restarting at 0 there), as PyTorch's SequentialLR."""

    def __init__(self, optimizer, schedulers, milestones):
        if len(milestones) != len(schedulers) - 1 or list(milestones) != sorted(milestones):
            raise ValueError(f"SequentialLR: {len(schedulers)} schedulers need "
                             f"{len(schedulers) - 1} increasing milestones, got {milestones}")
        if any(s.optimizer is not optimizer for s in schedulers):
            raise ValueError("SequentialLR: every scheduler must drive its optimizer")
        self.schedulers, self.milestones = list(schedulers), list(milestones)
        super().__init__(optimizer)

    def _apply(self):
        k = bisect.bisect_right(self.milestones, self.last_epoch)
        inner = self.schedulers[k]
        inner.last_epoch = self.last_epoch - (self.milestones[k - 1] if k else 0)
        inner._apply()



class ChainedScheduler(_Composite):
    """Several schedulers of one optimizer stepped together, as PyTorch's: each step
    runs them in order, a chainable one (StepLR, MultiStepLR, ExponentialLR,
    ConstantLR, LinearLR, PolynomialLR, CosineAnnealingLR, MultiplicativeLR) scaling
    the lr the ones before it left, another setting its own. Its state dict holds the
    schedulers' states, and loading it replays the steps, so the lr is exact after a
    resume."""

    def __init__(self, schedulers, optimizer=None):
        schedulers = list(schedulers)
        if not schedulers:
            raise ValueError("ChainedScheduler: give at least one scheduler")
        optimizer = optimizer or schedulers[0].optimizer
        for k, inner in enumerate(schedulers):
            if isinstance(inner, ReduceLROnPlateau):
                raise ValueError(f"ChainedScheduler: scheduler {k} is a ReduceLROnPlateau, "
                                 f"whose step takes the metric; step it on its own")
            if inner.optimizer is not optimizer:
                raise ValueError(f"ChainedScheduler: scheduler {k} ({type(inner).__name__}) "
                                 f"drives another optimizer; chain schedulers of one optimizer")
        self.schedulers = schedulers
        super().__init__(optimizer)

    def _apply(self):
        """Replay every step from the base lrs (at construction and after a load)."""
        for g, base in zip(self.optimizer.param_groups, self.base_lrs):
            g["lr"] = base
        for t in range(self.last_epoch + 1):
            for inner in self.schedulers:
                inner.last_epoch = t
                inner._chain_step()

    def step(self):
        self.last_epoch += 1
        for inner in self.schedulers:
            inner.last_epoch = self.last_epoch
            inner._chain_step()



class CosineWithWarmupLR(LRScheduler):
    """lr = base * t / warmup_steps during the warmup, then base * (m + (1 - m) * (1 +
    cos(pi * p)) / 2) with p the fraction of the remaining steps done and m = min_lr_ratio:
    transformers' get_cosine_with_min_lr_schedule_with_warmup, the schedule of GPT training
    (past total_steps the cosine goes on, as there)."""

    def __init__(self, optimizer, warmup_steps, total_steps, min_lr_ratio=0.0):
        if not 0 <= warmup_steps <= total_steps or not 0 <= min_lr_ratio <= 1:
            raise ValueError(f"CosineWithWarmupLR: needs 0 <= warmup_steps {warmup_steps} <= "
                             f"total_steps {total_steps} and 0 <= min_lr_ratio <= 1")
        self.warmup_steps, self.total_steps, self.min_lr_ratio = warmup_steps, total_steps, min_lr_ratio
        super().__init__(optimizer)

    def lr_at(self, base_lr, t):
        if t < self.warmup_steps:
            return base_lr * t / self.warmup_steps
        done = (t - self.warmup_steps) / max(1, self.total_steps - self.warmup_steps)
        m = self.min_lr_ratio
        return base_lr * (m + (1 - m) * 0.5 * (1 + math.cos(math.pi * done)))

    @classmethod
    def example(cls):
        return SchedulerExample({"warmup_steps": 2, "total_steps": 6, "min_lr_ratio": 0.1}, 7,
                                lambda b, m: [b / 2, b, *(b * (0.1 + 0.45 * (1 + math.cos(
                                    math.pi * k / 4))) for k in (1, 2, 3, 4, 5))])


def _per_group(name, optimizer, value):
    """A setting given once or per parameter group, as a list per group."""
    if isinstance(value, (list, tuple)):
        if len(value) != len(optimizer.param_groups):
            raise ValueError(f"{name}: {len(value)} values for "
                             f"{len(optimizer.param_groups)} parameter groups")
        return list(value)
    return [value] * len(optimizer.param_groups)


class _CyclesMomentum:
    """What OneCycleLR and CyclicLR share: the momentum (SGD's momentum, or the first of
    Adam's betas) moved opposite to the learning rate, as PyTorch's cycle_momentum."""

    def _setup_momentum(self, optimizer, cycle, base, top):
        self.cycle_momentum = cycle
        if not cycle:
            return
        if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
            raise ValueError(f"{type(self).__name__}: cycle_momentum needs an optimizer with "
                             f"momentum or betas; pass cycle_momentum=False")
        self.use_beta1 = "betas" in optimizer.defaults
        self.base_momentums = _per_group("base_momentum", optimizer, base)
        self.max_momentums = _per_group("max_momentum", optimizer, top)
        for g, m in zip(optimizer.param_groups, self.max_momentums):
            self._set_momentum(g, m)

    def _set_momentum(self, group, value):
        if self.use_beta1:
            group["betas"] = (value, *group["betas"][1:])
        else:
            group["momentum"] = value


class OneCycleLR(_CyclesMomentum, LRScheduler):
    """The 1cycle policy (Smith, 2018), PyTorch's OneCycleLR: the learning rate anneals
    (cosine or linear) from max_lr / div_factor up to max_lr over pct_start of the
    steps, then down to max_lr / (div_factor * final_div_factor) (three_phase: back to
    the start first, then down); the momentum moves the other way between
    max_momentum and base_momentum. Step it once per batch."""

    def __init__(self, optimizer, max_lr, total_steps=None, epochs=None, steps_per_epoch=None,
                 pct_start=0.3, anneal_strategy="cos", cycle_momentum=True, base_momentum=0.85,
                 max_momentum=0.95, div_factor=25.0, final_div_factor=1e4, three_phase=False):
        if total_steps is None:
            if not (isinstance(epochs, int) and isinstance(steps_per_epoch, int)
                    and epochs > 0 and steps_per_epoch > 0):
                raise ValueError("OneCycleLR: give total_steps, or epochs and steps_per_epoch "
                                 "(positive ints)")
            total_steps = epochs * steps_per_epoch
        if not isinstance(total_steps, int) or total_steps <= 0:
            raise ValueError(f"OneCycleLR: total_steps must be a positive int, got {total_steps!r}")
        if not 0 <= pct_start <= 1:
            raise ValueError(f"OneCycleLR: pct_start must be in [0, 1], got {pct_start}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"OneCycleLR: anneal_strategy must be 'cos' or 'linear', got "
                             f"{anneal_strategy!r}")
        self.total_steps, self.anneal_strategy = total_steps, anneal_strategy
        up = float(pct_start * total_steps) - 1
        # (end step, start and end lr, start and end momentum) per phase
        self.phases = [(up, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                       (total_steps - 1, "max_lr", "min_lr", "base_momentum", "max_momentum")]
        if three_phase:
            self.phases = [self.phases[0],
                           (float(2 * pct_start * total_steps) - 2, "max_lr", "initial_lr",
                            "base_momentum", "max_momentum"),
                           (total_steps - 1, "initial_lr", "min_lr", "max_momentum",
                            "max_momentum")]
        ends = [0.0] + [phase[0] for phase in self.phases]
        if any(b <= a for a, b in zip(ends, ends[1:])):     # PyTorch: a division by zero
            raise ValueError(f"OneCycleLR: pct_start {pct_start} of {total_steps} steps leaves "
                             f"a phase without steps; give 1 / total_steps < pct_start < 1"
                             f"{' / 2' if three_phase else ''}")
        for g, top in zip(optimizer.param_groups, _per_group("max_lr", optimizer, max_lr)):
            g["initial_lr"], g["max_lr"] = top / div_factor, top
            g["min_lr"] = g["initial_lr"] / final_div_factor
        self._setup_momentum(optimizer, cycle_momentum, base_momentum, max_momentum)
        if cycle_momentum:
            for g, low, top in zip(optimizer.param_groups, self.base_momentums,
                                   self.max_momentums):
                g["base_momentum"], g["max_momentum"] = low, top
        super().__init__(optimizer)

    def _anneal(self, start, end, pct):
        if self.anneal_strategy == "linear":
            return (end - start) * pct + start
        return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)

    def _apply(self):
        t = self.last_epoch
        if t > self.total_steps:
            raise ValueError(f"OneCycleLR: stepped {t} times, more than total_steps="
                             f"{self.total_steps}")
        for g in self.optimizer.param_groups:
            start = 0.0
            for i, (end, lr0, lr1, m0, m1) in enumerate(self.phases):
                if t <= end or i == len(self.phases) - 1:
                    pct = (t - start) / (end - start)
                    g["lr"] = self._anneal(g[lr0], g[lr1], pct)
                    if self.cycle_momentum:
                        self._set_momentum(g, self._anneal(g[m0], g[m1], pct))
                    break
                start = end

    @classmethod
    def example(cls):
        def expected(b, m):
            out = []
            for t in range(1, 10):
                up_end = 0.3 * 10 - 1
                a, c, pct = (0.04, 1.0, t / up_end) if t <= up_end else \
                    (1.0, 0.04 / 1e4, (t - up_end) / (9 - up_end))
                out.append(c + (a - c) / 2 * (math.cos(math.pi * pct) + 1))
            return out
        return SchedulerExample({"max_lr": 1.0, "total_steps": 10}, 9, expected)


class CyclicLR(_CyclesMomentum, LRScheduler):
    """Cyclical learning rates (Smith, 2017), PyTorch's CyclicLR: the rate rises from
    base_lr to max_lr over step_size_up steps and falls back over step_size_down, the
    amplitude scaled per cycle (triangular: 1, triangular2: halved each cycle) or per
    step (exp_range: gamma^t), or by scale_fn; the momentum moves the other way. Step it
    once per batch."""

    def __init__(self, optimizer, base_lr, max_lr, step_size_up=2000, step_size_down=None,
                 mode="triangular", gamma=1.0, scale_fn=None, scale_mode="cycle",
                 cycle_momentum=True, base_momentum=0.8, max_momentum=0.9):
        if scale_fn is None and mode not in ("triangular", "triangular2", "exp_range"):
            raise ValueError(f"CyclicLR: mode must be 'triangular', 'triangular2' or "
                             f"'exp_range' (or give scale_fn), got {mode!r}")
        for g, lr in zip(optimizer.param_groups, _per_group("base_lr", optimizer, base_lr)):
            g["lr"] = g["initial_lr"] = lr
        self.max_lrs = _per_group("max_lr", optimizer, max_lr)
        down = float(step_size_down if step_size_down is not None else step_size_up)
        self.total_size = float(step_size_up) + down
        self.step_ratio = float(step_size_up) / self.total_size
        self.mode, self.gamma, self.custom = mode, gamma, scale_fn
        self.scale_mode = scale_mode if scale_fn is not None else \
            ("iterations" if mode == "exp_range" else "cycle")
        self._setup_momentum(optimizer, cycle_momentum, base_momentum, max_momentum)
        super().__init__(optimizer)

    def scale_fn(self, x):
        if self.custom is not None:
            return self.custom(x)
        return {"triangular": 1.0, "triangular2": 1 / (2.0 ** (x - 1)),
                "exp_range": self.gamma ** x}[self.mode]

    def _apply(self):
        t = self.last_epoch
        cycle = math.floor(1 + t / self.total_size)
        x = 1.0 + t / self.total_size - cycle
        factor = x / self.step_ratio if x <= self.step_ratio else (x - 1) / (self.step_ratio - 1)
        scale = self.scale_fn(cycle if self.scale_mode == "cycle" else t)
        for k, (g, base, top) in enumerate(zip(self.optimizer.param_groups, self.base_lrs,
                                               self.max_lrs)):
            g["lr"] = base + (top - base) * factor * scale
            if self.cycle_momentum:
                low, high = self.base_momentums[k], self.max_momentums[k]
                self._set_momentum(g, high - (high - low) * factor * scale)

    def state_dict(self):
        return {k: v for k, v in super().state_dict().items() if k != "custom"}

    @classmethod
    def example(cls):
        def expected(b, m):
            return [0.1 + 0.9 * (t % 4 if t % 4 <= 2 else 4 - t % 4) / 2 * 0.5 ** (t // 4)
                    for t in range(1, 10)]
        return SchedulerExample({"base_lr": 0.1, "max_lr": 1.0, "step_size_up": 2,
                                 "mode": "triangular2", "cycle_momentum": False}, 9, expected)


class ReduceLROnPlateau(LRScheduler):
    """Multiply lr by factor when the metric has not improved (by threshold, relative or
    absolute) for more than patience steps; then wait cooldown steps; never below min_lr."""

    def __init__(self, optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4,
                 threshold_mode="rel", cooldown=0, min_lr=0.0, eps=1e-8):
        if mode not in ("min", "max") or threshold_mode not in ("rel", "abs") or factor >= 1:
            raise ValueError("ReduceLROnPlateau: mode is 'min' or 'max', threshold_mode 'rel' or "
                             "'abs', and factor < 1")
        self.mode, self.factor, self.patience, self.threshold = mode, factor, patience, threshold
        self.threshold_mode, self.cooldown, self.min_lr, self.eps = threshold_mode, cooldown, min_lr, eps
        self.best = math.inf if mode == "min" else -math.inf
        self.bad_epochs, self.cooldown_counter = 0, 0
        super().__init__(optimizer)

    def lr_at(self, base_lr, t):
        return base_lr

    def _apply(self):
        """The learning rate changes only in step(metric), from the metric's history."""

    def _better(self, value):
        if self.mode == "min":
            bound = self.best * (1 - self.threshold) if self.threshold_mode == "rel" \
                else self.best - self.threshold
            return value < bound
        bound = self.best * (1 + self.threshold) if self.threshold_mode == "rel" \
            else self.best + self.threshold
        return value > bound

    def step(self, metric):
        value = float(metric)
        self.last_epoch += 1
        if self._better(value):
            self.best, self.bad_epochs = value, 0
        else:
            self.bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.bad_epochs = 0
        if self.bad_epochs > self.patience:
            for g in self.optimizer.param_groups:
                new = max(g["lr"] * self.factor, self.min_lr)
                if g["lr"] - new > self.eps:
                    g["lr"] = new
            self.cooldown_counter, self.bad_epochs = self.cooldown, 0

    @classmethod
    def example(cls):
        # patience 1: the lr drops after the 2nd non-improving step, then cooldown 1
        metrics = [1.0, 0.9, 0.95, 0.92, 0.91, 0.99, 0.95, 0.5, 0.6, 0.7, 0.8]
        return SchedulerExample({"factor": 0.5, "patience": 1, "cooldown": 1}, len(metrics),
                                lambda b, m: [b, b, b, b * .5, b * .5, b * .5, b * .25, b * .25,
                                              b * .25, b * .125, b * .125], metrics)


SCHEDULERS = {"step": StepLR, "exponential": ExponentialLR, "cosine": CosineAnnealingLR,
              "linear_warmup": LinearWarmup, "cosine_with_warmup": CosineWithWarmupLR,
              "one_cycle": OneCycleLR, "cyclic": CyclicLR, "reduce_on_plateau": ReduceLROnPlateau,
              "multi_step": MultiStepLR, "constant": ConstantLR, "polynomial": PolynomialLR,
              "lambda": LambdaLR, "multiplicative": MultiplicativeLR,
              "cosine_warm_restarts": CosineAnnealingWarmRestarts}
