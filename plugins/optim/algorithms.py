"""The update rules, each as PyTorch documents it (torch.optim, 2.x)."""

import ember

from . import reference
from .optimizer import Optimizer, OptimizerExample


def _with_decay(p, g, weight_decay):
    return g + weight_decay * p if weight_decay else g


class SGD(Optimizer):
    """g = grad + wd p; buf = momentum buf + (1 - dampening) g (buf = g at first);
    g = g + momentum buf (Nesterov) or buf; p = p - lr g."""

    defaults = {"lr": 0.01, "momentum": 0.0, "dampening": 0.0, "weight_decay": 0.0,
                "nesterov": False, "maximize": False}

    def validate(self, group):
        super().validate(group)
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("SGD: Nesterov momentum needs momentum > 0 and dampening = 0")

    def update(self, p, g, state, group):
        if group["maximize"]:
            g = -g
        lr, mom, damp, wd = self.lr(group), group["momentum"], group["dampening"], group["weight_decay"]
        fast = p.backend.fast_sgd_step
        if fast is not None:
            buf = state.get("momentum_buffer")
            new_p, new_buf = ember.fast_path("fast_sgd_step", p, p, g, buf, lr, mom, damp, wd,
                                             group["nesterov"])
            if mom:
                self.keep(state, "momentum_buffer", new_buf)
            return new_p
        g = _with_decay(p, g, wd)
        if mom:
            buf = state.get("momentum_buffer")
            buf = g if buf is None else buf * mom + g * (1.0 - damp)
            self.keep(state, "momentum_buffer", buf)
            g = g + buf * mom if group["nesterov"] else buf
        return p - g * lr

    @classmethod
    def example(cls):
        return OptimizerExample({"lr": 0.05, "momentum": 0.9, "dampening": 0.1, "weight_decay": 0.01},
                                reference.SGD)


class Adam(Optimizer):
    """m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2; (amsgrad: vmax = max(vmax, v));
    p = p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps), with g = grad + wd p.
    capturable=True (and any step inside ember.compile) keeps the step count t in a
    tensor, so a replayed training step computes the bias corrections of each new step."""

    defaults = {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0,
                "amsgrad": False, "capturable": False}
    decoupled = False

    def update(self, p, g, state, group):
        lr, (b1, b2), eps, wd = self.lr(group), group["betas"], group["eps"], group["weight_decay"]
        capturable = group["capturable"] or ember.is_compiling()
        t = self.count_step(state, p, capturable)
        if "exp_avg" not in state:
            state["exp_avg"] = ember.zeros_like(p)
            state["exp_avg_sq"] = ember.zeros_like(p)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = ember.zeros_like(p)
        m, v, vmax = state["exp_avg"], state["exp_avg_sq"], state.get("max_exp_avg_sq")
        fast = p.backend.fast_adam_step
        if fast is not None:
            new_p, m, v, vmax = ember.fast_path("fast_adam_step", p, p, g, m, v, vmax, lr, b1, b2,
                                                eps, wd, self.decoupled, t)
        else:
            if self.decoupled:
                p = p * (1.0 - lr * wd)
            else:
                g = _with_decay(p, g, wd)
            m = m * b1 + g * (1.0 - b1)
            v = v * b2 + g * g * (1.0 - b2)
            if vmax is not None:
                vmax = ember.maximum(vmax, v)
            denom = ember.sqrt(vmax if vmax is not None else v) * (1 - b2 ** t) ** -0.5 + eps
            new_p = p - (m / denom) * (lr / (1 - b1 ** t))
        self.keep(state, "exp_avg", m)
        self.keep(state, "exp_avg_sq", v)
        if vmax is not None:
            self.keep(state, "max_exp_avg_sq", vmax)
        return new_p

    @classmethod
    def example(cls):
        return OptimizerExample({"lr": 0.05, "betas": (0.8, 0.95), "weight_decay": 0.02,
                                 "amsgrad": True}, reference.Adam)


class AdamW(Adam):
    """Adam with decoupled weight decay: p = p (1 - lr wd) before the Adam step."""

    defaults = {**Adam.defaults, "weight_decay": 1e-2}
    decoupled = True

    @classmethod
    def example(cls):
        return OptimizerExample({"lr": 0.05, "betas": (0.85, 0.99), "weight_decay": 0.1},
                                reference.AdamW)


class RMSprop(Optimizer):
    """v = a v + (1 - a) g^2; centered: ga = a ga + (1 - a) g, avg = sqrt(v - ga^2) + eps,
    else avg = sqrt(v) + eps; momentum: buf = m buf + g / avg, p = p - lr buf;
    else p = p - lr g / avg; g = grad + wd p."""

    defaults = {"lr": 0.01, "alpha": 0.99, "eps": 1e-8, "weight_decay": 0.0, "momentum": 0.0,
                "centered": False}
    non_negative = Optimizer.non_negative + ("alpha",)

    def update(self, p, g, state, group):
        a, eps, mom = group["alpha"], group["eps"], group["momentum"]
        g = _with_decay(p, g, group["weight_decay"])
        v = state.get("square_avg", 0.0) * a + g * g * (1.0 - a)
        self.keep(state, "square_avg", v)
        if group["centered"]:
            ga = state.get("grad_avg", 0.0) * a + g * (1.0 - a)
            self.keep(state, "grad_avg", ga)
            avg = ember.sqrt(v - ga * ga) + eps
        else:
            avg = ember.sqrt(v) + eps
        if mom > 0:
            buf = state.get("momentum_buffer", 0.0) * mom + g / avg
            self.keep(state, "momentum_buffer", buf)
            return p - buf * self.lr(group)
        return p - (g / avg) * self.lr(group)

    @classmethod
    def example(cls):
        return OptimizerExample({"lr": 0.01, "alpha": 0.9, "momentum": 0.5, "centered": True,
                                 "weight_decay": 0.01}, reference.RMSprop)


class Adagrad(Optimizer):
    """clr = lr / (1 + (t - 1) lr_decay); sum = sum + g^2; p = p - clr g / (sqrt(sum) + eps);
    g = grad + wd p; sum starts at initial_accumulator_value."""

    defaults = {"lr": 0.01, "lr_decay": 0.0, "weight_decay": 0.0,
                "initial_accumulator_value": 0.0, "eps": 1e-10}

    def update(self, p, g, state, group):
        t = self.count_step(state, p, ember.is_compiling())
        g = _with_decay(p, g, group["weight_decay"])
        clr = self.lr(group) / ((t - 1) * group["lr_decay"] + 1)
        acc = state.get("sum")
        if acc is None:
            acc = ember.full_like(p, group["initial_accumulator_value"])
        acc = acc + g * g
        self.keep(state, "sum", acc)
        return p - (g / (ember.sqrt(acc) + group["eps"])) * clr

    @classmethod
    def example(cls):
        return OptimizerExample({"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.01,
                                 "initial_accumulator_value": 0.1}, reference.Adagrad)


def _branch(condition, then, otherwise):
    """then where ``condition`` holds, else otherwise: a Python if for a number, a where
    for a step count held in a tensor (a compiled or guarded step)."""
    if isinstance(condition, ember.Tensor):
        return ember.where(condition, then, otherwise)
    return then if condition else otherwise


def _adam_moments(optimizer, p, g, state, group):
    """What NAdam and RAdam begin with: the step count t, weight decay (added to g, or
    decoupled: p (1 - lr wd)), and Adam's moments m and v, kept in ``state``; returns
    (p, g, t, m, v)."""
    lr, (b1, b2), wd = optimizer.lr(group), group["betas"], group["weight_decay"]
    t = optimizer.count_step(state, p, ember.is_compiling())
    if group["decoupled_weight_decay"]:
        p = p * (1.0 - lr * wd)
    else:
        g = _with_decay(p, g, wd)
    m = state.get("exp_avg", 0.0) * b1 + g * (1.0 - b1)
    v = state.get("exp_avg_sq", 0.0) * b2 + g * g * (1.0 - b2)
    optimizer.keep(state, "exp_avg", m)
    optimizer.keep(state, "exp_avg_sq", v)
    return p, g, t, m, v


class Adamax(Optimizer):
    """Adam with the infinity norm: m = b1 m + (1 - b1) g; u = max(b2 u, |g| + eps);
    p = p - lr / (1 - b1^t) m / u; g = grad + wd p."""

    defaults = {"lr": 2e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0}

    def update(self, p, g, state, group):
        (b1, b2), eps = group["betas"], group["eps"]
        t = self.count_step(state, p, ember.is_compiling())
        g = _with_decay(p, g, group["weight_decay"])
        m = state.get("exp_avg", 0.0) * b1 + g * (1.0 - b1)
        u = ember.maximum(state.get("exp_inf", ember.zeros_like(p)) * b2, ember.abs(g) + eps)
        self.keep(state, "exp_avg", m)
        self.keep(state, "exp_inf", u)
        return p - (m / u) * (self.lr(group) / (1 - b1 ** t))

    @classmethod
    def example(cls):
        return OptimizerExample({"lr": 0.05, "betas": (0.8, 0.95), "weight_decay": 0.01},
                                reference.Adamax)


class NAdam(Optimizer):
    """Adam with Nesterov momentum (Dozat 2016), PyTorch's momentum schedule
    mu_t = b1 (1 - 0.96^(t psi) / 2): p = p - lr (1 - mu_t) / (1 - prod mu) g / d
    - lr mu_(t+1) / (1 - prod mu mu_(t+1)) m / d, d = sqrt(v / (1 - b2^t)) + eps;
    weight decay added to g, or decoupled (p = p (1 - lr wd))."""

    defaults = {"lr": 2e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0,
                "momentum_decay": 4e-3, "decoupled_weight_decay": False}

    def update(self, p, g, state, group):
        lr, (b1, b2), eps = self.lr(group), group["betas"], group["eps"]
        p, g, t, m, v = _adam_moments(self, p, g, state, group)
        psi = group["momentum_decay"]
        mu, mu_next = (b1 * (1.0 - 0.5 * 0.96 ** (k * psi)) for k in (t, t + 1))
        product = state.get("mu_product", 1.0) * mu
        self.keep(state, "mu_product", product)
        denom = ember.sqrt(v / (1 - b2 ** t)) + eps
        return p - (g / denom) * (lr * (1.0 - mu) / (1.0 - product)) \
            - (m / denom) * (lr * mu_next / (1.0 - product * mu_next))

    @classmethod
    def example(cls):
        return OptimizerExample({"lr": 0.05, "betas": (0.8, 0.95), "weight_decay": 0.01,
                                 "momentum_decay": 0.01}, reference.NAdam)


class RAdam(Optimizer):
    """Rectified Adam (Liu et al. 2019): the Adam step scaled by the variance
    rectification r_t where the approximated SMA length rho_t > 5, else the plain
    momentum step lr m / (1 - b1^t); weight decay added to g, or decoupled."""

    defaults = {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0,
                "decoupled_weight_decay": False}

    def update(self, p, g, state, group):
        lr, (b1, b2), eps = self.lr(group), group["betas"], group["eps"]
        p, g, t, m, v = _adam_moments(self, p, g, state, group)
        m_hat = m / (1 - b1 ** t)
        rho_inf = 2.0 / (1.0 - b2) - 1.0
        rho = rho_inf - 2.0 * t * b2 ** t / (1 - b2 ** t)
        long_enough = rho > 5.0
        safe = _branch(long_enough, rho, 6.0)             # the unused branch stays finite
        rect = ((safe - 4) * (safe - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * safe)) ** 0.5
        adaptive = (1 - b2 ** t) ** 0.5 / (ember.sqrt(v) + eps)
        return p - m_hat * _branch(long_enough, adaptive * rect, 1.0) * lr

    @classmethod
    def example(cls):
        return OptimizerExample({"lr": 0.05, "betas": (0.8, 0.95), "weight_decay": 0.01},
                                reference.RAdam)


class Adadelta(Optimizer):
    """v = rho v + (1 - rho) g^2; d = sqrt(u + eps) / sqrt(v + eps) g;
    u = rho u + (1 - rho) d^2; p = p - lr d; g = grad + wd p."""

    defaults = {"lr": 1.0, "rho": 0.9, "eps": 1e-6, "weight_decay": 0.0}

    def update(self, p, g, state, group):
        rho, eps = group["rho"], group["eps"]
        g = _with_decay(p, g, group["weight_decay"])
        v = state.get("square_avg", 0.0) * rho + g * g * (1.0 - rho)
        acc = state.get("acc_delta")
        acc = ember.zeros_like(p) if acc is None else acc      # in p's dtype from the start
        delta = ember.sqrt(acc + eps) / ember.sqrt(v + eps) * g
        u = acc * rho + delta * delta * (1.0 - rho)
        self.keep(state, "square_avg", v)
        self.keep(state, "acc_delta", u)
        return p - delta * self.lr(group)

    @classmethod
    def example(cls):
        return OptimizerExample({"lr": 0.5, "rho": 0.8, "weight_decay": 0.01}, reference.Adadelta)


class Rprop(Optimizer):
    """Resilient backpropagation (Riedmiller and Braun 1993), PyTorch's form: per
    element, s = sign(g g_prev); its step grows by etas[1] where s > 0, shrinks by
    etas[0] where s < 0 (within step_sizes); there g counts as 0 (no move, and no sign
    change next step); p = p - sign(g) step. Steps start at lr."""

    defaults = {"lr": 0.01, "etas": (0.5, 1.2), "step_sizes": (1e-6, 50.0), "maximize": False}

    def validate(self, group):
        super().validate(group)
        minus, plus = group["etas"]
        if not 0.0 < minus < 1.0 < plus:
            raise ValueError(f"Rprop: etas must satisfy 0 < etas[0] < 1 < etas[1], got "
                             f"{group['etas']}")

    def update(self, p, g, state, group):
        if group["maximize"]:
            g = -g
        (minus, plus), (lo, hi) = group["etas"], group["step_sizes"]
        self.count_step(state, p, ember.is_compiling())
        prev, size = state.get("prev"), state.get("step_size")
        if size is None:
            prev, size = ember.zeros_like(p), ember.zeros_like(p) + self.lr(group)
        sign = ember.sign(g * prev)
        factor = ember.where(sign > 0, plus, ember.where(sign < 0, minus, ember.ones_like(size)))
        size = ember.clip(size * factor, lo, hi)        # (the factors in p's dtype)
        g = ember.where(sign < 0, 0.0, g)
        self.keep(state, "prev", g)
        self.keep(state, "step_size", size)
        return p - ember.sign(g) * size

    @classmethod
    def example(cls):
        return OptimizerExample({"lr": 0.05, "etas": (0.4, 1.3), "step_sizes": (1e-3, 0.5)},
                                reference.Rprop)


class ASGD(Optimizer):
    """Averaged SGD (Polyak and Juditsky 1992), PyTorch's form: p = p (1 - lambd eta) -
    eta g; the average ax follows p, averaging from step t0 on (mu = 1 / max(1, t - t0));
    eta = lr / (1 + lambd lr t)^alpha for the next step. g = grad + wd p; the average is
    state["ax"]."""

    defaults = {"lr": 0.01, "lambd": 1e-4, "alpha": 0.75, "t0": 1e6, "weight_decay": 0.0,
                "maximize": False}

    def update(self, p, g, state, group):
        if group["maximize"]:
            g = -g
        lr, lambd, alpha, t0 = self.lr(group), group["lambd"], group["alpha"], group["t0"]
        t = self.count_step(state, p, ember.is_compiling())
        g = _with_decay(p, g, group["weight_decay"])
        eta, mu = state.get("eta", lr), state.get("mu", 1.0)
        p = p * (1.0 - lambd * eta) - g * eta
        ax = state.get("ax")
        if ax is None or (not isinstance(mu, ember.Tensor) and mu == 1.0):
            ax = p                          # no averaging yet: the same value, exactly
        else:
            ax = _branch(mu == 1.0, p, ax + (p - ax) * mu)
        self.keep(state, "ax", ax)
        self.keep(state, "eta", lr / (1.0 + lambd * lr * t) ** alpha)
        self.keep(state, "mu", 1.0 / ember.maximum(t - t0, 1.0) if isinstance(t, ember.Tensor)
                  else 1.0 / max(1.0, t - t0))
        return p

    @classmethod
    def example(cls):
        return OptimizerExample({"lr": 0.05, "lambd": 0.01, "alpha": 0.6, "t0": 5.0,
                                 "weight_decay": 0.01}, reference.ASGD)


OPTIMIZERS = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop, "adagrad": Adagrad,
              "adamax": Adamax, "nadam": NAdam, "radam": RAdam, "adadelta": Adadelta, "rprop": Rprop, "asgd": ASGD}
