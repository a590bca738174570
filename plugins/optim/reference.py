"""Float64 NumPy implementations of the published update rules, written
independently of ember's tensors, that the conformance suite follows step by
step. Each cites the rule as PyTorch's documentation states it."""

import numpy as np


class _Reference:
    def __init__(self, params, **settings):
        self.params = params            # float64 arrays, updated in place
        self.s = settings
        self.t = 0
        self.state = [dict() for _ in params]

    def step(self, grads):
        self.t += 1
        for p, g, st in zip(self.params, grads, self.state):
            p[...] = self.rule(p, np.asarray(g, dtype=np.float64), st)


class SGD(_Reference):
    """torch.optim.SGD: g += wd p; b = mu b + (1 - tau) g (b_1 = g); g = g + mu b if nesterov
    else b; p -= lr g."""

    def rule(self, p, g, st):
        s = self.s
        g = g + s.get("weight_decay", 0.0) * p
        mu = s.get("momentum", 0.0)
        if mu:
            st["b"] = g.copy() if "b" not in st else mu * st["b"] + (1 - s.get("dampening", 0.0)) * g
            g = g + mu * st["b"] if s.get("nesterov") else st["b"]
        return p - s["lr"] * g


class Adam(_Reference):
    """torch.optim.Adam: g += wd p; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
    m_hat = m / (1 - b1^t); v_hat = max(v_max, v) / (1 - b2^t) with amsgrad, else v / (1 - b2^t);
    p -= lr m_hat / (sqrt(v_hat) + eps)."""

    decoupled = False

    def rule(self, p, g, st):
        s = self.s
        lr, (b1, b2), eps, wd = s["lr"], s.get("betas", (0.9, 0.999)), s.get("eps", 1e-8), \
            s.get("weight_decay", 0.0)
        if self.decoupled:
            p = p * (1 - lr * wd)
        else:
            g = g + wd * p
        st["m"] = b1 * st.get("m", 0.0) + (1 - b1) * g
        st["v"] = b2 * st.get("v", 0.0) + (1 - b2) * g * g
        v = st["v"]
        if s.get("amsgrad"):
            st["vmax"] = np.maximum(st.get("vmax", 0.0), v)
            v = st["vmax"]
        m_hat = st["m"] / (1 - b1 ** self.t)
        v_hat = v / (1 - b2 ** self.t)
        return p - lr * m_hat / (np.sqrt(v_hat) + eps)


class AdamW(Adam):
    """torch.optim.AdamW: p *= 1 - lr wd, then the Adam step without weight decay in g."""

    decoupled = True


class RMSprop(_Reference):
    """torch.optim.RMSprop: g += wd p; v = a v + (1 - a) g^2; centered: ga = a ga + (1 - a) g,
    v~ = v - ga^2; b = mu b + g / (sqrt(v~) + eps), p -= lr b (or p -= lr g / (sqrt(v~) + eps))."""

    def rule(self, p, g, st):
        s = self.s
        a, eps, mu = s.get("alpha", 0.99), s.get("eps", 1e-8), s.get("momentum", 0.0)
        g = g + s.get("weight_decay", 0.0) * p
        st["v"] = a * st.get("v", 0.0) + (1 - a) * g * g
        v = st["v"]
        if s.get("centered"):
            st["ga"] = a * st.get("ga", 0.0) + (1 - a) * g
            v = v - st["ga"] ** 2
        if mu > 0:
            st["b"] = mu * st.get("b", 0.0) + g / (np.sqrt(v) + eps)
            return p - s["lr"] * st["b"]
        return p - s["lr"] * g / (np.sqrt(v) + eps)


class Adagrad(_Reference):
    """torch.optim.Adagrad: g += wd p; lr_t = lr / (1 + (t - 1) eta); sum += g^2;
    p -= lr_t g / (sqrt(sum) + eps)."""

    def rule(self, p, g, st):
        s = self.s
        g = g + s.get("weight_decay", 0.0) * p
        lr_t = s["lr"] / (1 + (self.t - 1) * s.get("lr_decay", 0.0))
        st["sum"] = st.get("sum", s.get("initial_accumulator_value", 0.0)) + g * g
        return p - lr_t * g / (np.sqrt(st["sum"]) + s.get("eps", 1e-10))


class Adamax(_Reference):
    """torch.optim.Adamax: g += wd p; m = b1 m + (1 - b1) g; u = max(b2 u, |g| + eps);
    p -= lr / (1 - b1^t) m / u."""

    def rule(self, p, g, st):
        s = self.s
        (b1, b2), eps = s.get("betas", (0.9, 0.999)), s.get("eps", 1e-8)
        g = g + s.get("weight_decay", 0.0) * p
        st["m"] = b1 * st.get("m", 0.0) + (1 - b1) * g
        st["u"] = np.maximum(b2 * st.get("u", 0.0), np.abs(g) + eps)
        return p - s["lr"] / (1 - b1 ** self.t) * st["m"] / st["u"]


class NAdam(_Reference):
    """torch.optim.NAdam: g += wd p; mu_t = b1 (1 - 0.5 * 0.96^(t psi)); m and v as Adam;
    p -= lr (1 - mu_t) / (1 - prod_{i<=t} mu_i) g / d + lr mu_{t+1} / (1 - prod_{i<=t+1} mu_i) m / d,
    d = sqrt(v / (1 - b2^t)) + eps."""

    def rule(self, p, g, st):
        s = self.s
        lr, (b1, b2), eps = s["lr"], s.get("betas", (0.9, 0.999)), s.get("eps", 1e-8)
        psi = s.get("momentum_decay", 4e-3)
        g = g + s.get("weight_decay", 0.0) * p
        mu = b1 * (1 - 0.5 * 0.96 ** (self.t * psi))
        mu_next = b1 * (1 - 0.5 * 0.96 ** ((self.t + 1) * psi))
        st["prod"] = st.get("prod", 1.0) * mu
        st["m"] = b1 * st.get("m", 0.0) + (1 - b1) * g
        st["v"] = b2 * st.get("v", 0.0) + (1 - b2) * g * g
        d = np.sqrt(st["v"] / (1 - b2 ** self.t)) + eps
        return p - lr * (1 - mu) / (1 - st["prod"]) * g / d \
            - lr * mu_next / (1 - st["prod"] * mu_next) * st["m"] / d


class RAdam(_Reference):
    """torch.optim.RAdam: g += wd p; m and v as Adam; rho_inf = 2 / (1 - b2) - 1,
    rho_t = rho_inf - 2 t b2^t / (1 - b2^t); if rho_t > 5:
    r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t)),
    p -= lr m_hat r_t sqrt(1 - b2^t) / (sqrt(v) + eps); else p -= lr m_hat."""

    def rule(self, p, g, st):
        s = self.s
        lr, (b1, b2), eps = s["lr"], s.get("betas", (0.9, 0.999)), s.get("eps", 1e-8)
        g = g + s.get("weight_decay", 0.0) * p
        st["m"] = b1 * st.get("m", 0.0) + (1 - b1) * g
        st["v"] = b2 * st.get("v", 0.0) + (1 - b2) * g * g
        m_hat = st["m"] / (1 - b1 ** self.t)
        rho_inf = 2 / (1 - b2) - 1
        rho = rho_inf - 2 * self.t * b2 ** self.t / (1 - b2 ** self.t)
        if rho <= 5:
            return p - lr * m_hat
        r = np.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))
        return p - lr * m_hat * r * np.sqrt(1 - b2 ** self.t) / (np.sqrt(st["v"]) + eps)


class Adadelta(_Reference):
    """torch.optim.Adadelta: g += wd p; v = rho v + (1 - rho) g^2;
    d = sqrt(u + eps) / sqrt(v + eps) g; u = rho u + (1 - rho) d^2; p -= lr d."""

    def rule(self, p, g, st):
        s = self.s
        rho, eps = s.get("rho", 0.9), s.get("eps", 1e-6)
        g = g + s.get("weight_decay", 0.0) * p
        st["v"] = rho * st.get("v", 0.0) + (1 - rho) * g * g
        d = np.sqrt(st.get("u", 0.0) + eps) / np.sqrt(st["v"] + eps) * g
        st["u"] = rho * st.get("u", 0.0) + (1 - rho) * d * d
        return p - s["lr"] * d


class Rprop(_Reference):
    """torch.optim.Rprop: s = sign(g g_prev); step = clip(step eta+ (s > 0), eta- (s < 0),
    or 1, to step_sizes); g = 0 where s < 0; p -= sign(g) step; g_prev = g (step starts
    at lr, g_prev at 0)."""

    def rule(self, p, g, st):
        s = self.s
        (minus, plus), (lo, hi) = s.get("etas", (0.5, 1.2)), s.get("step_sizes", (1e-6, 50.0))
        sign = np.sign(g * st.get("prev", 0.0))
        factor = np.where(sign > 0, plus, np.where(sign < 0, minus, 1.0))
        st["step"] = np.clip(st.get("step", np.full_like(p, s["lr"])) * factor, lo, hi)
        st["prev"] = np.where(sign < 0, 0.0, g)
        return p - np.sign(st["prev"]) * st["step"]


class ASGD(_Reference):
    """torch.optim.ASGD: g += wd p; p = p (1 - lambd eta) - eta g; ax = p while mu is 1,
    else ax += mu (p - ax); then eta = lr / (1 + lambd lr t)^alpha and mu = 1 / max(1,
    t - t0) for the next step (eta starts at lr, mu at 1)."""

    def rule(self, p, g, st):
        s = self.s
        lr, lambd, alpha, t0 = s["lr"], s.get("lambd", 1e-4), s.get("alpha", 0.75), s.get("t0", 1e6)
        g = g + s.get("weight_decay", 0.0) * p
        eta, mu = st.get("eta", lr), st.get("mu", 1.0)
        p = p * (1 - lambd * eta) - eta * g
        st["ax"] = p.copy() if mu == 1 else st["ax"] + mu * (p - st["ax"])
        st["eta"] = lr / (1 + lambd * lr * self.t) ** alpha
        st["mu"] = 1 / max(1, self.t - t0)
        return p


def _rms(x):
    return np.sqrt(np.mean(x * x)) if x.size else 0.0


class Adafactor(_Reference):
    """torch.optim.Adafactor: beta = t^beta2_decay; rho = min(lr, t^-1/2); alpha =
    max(eps2, rms(p)) rho; p *= 1 - lr wd; matrices: R = lerp(R, mean(g^2, -1), beta),
    C = lerp(C, mean(g^2, -2), beta), v = R C / max(mean(R, -2), eps1); vectors:
    v = lerp(v, g^2, beta); u = g / sqrt(max(v, eps1^2)); p -= alpha / max(1, rms(u) / d) u."""

    def rule(self, p, g, st):
        s = self.s
        lr, wd, d = s["lr"], s.get("weight_decay", 0.0), s.get("d", 1.0)
        eps1, eps2 = s.get("eps", (None, 1e-3))
        eps1 = np.finfo(np.float64).eps if eps1 is None else eps1
        g = -g if s.get("maximize") else g
        beta = self.t ** s.get("beta2_decay", -0.8)
        alpha = max(eps2, _rms(p)) * min(lr, self.t ** -0.5)
        p = p * (1 - lr * wd)
        if g.ndim > 1:
            for name, axis in (("R", -1), ("C", -2)):
                mean = np.mean(g * g, axis=axis, keepdims=True)
                st[name] = st.get(name, 0.0) * (1 - beta) + beta * mean
            v = st["R"] @ st["C"] / np.maximum(np.mean(st["R"], axis=-2, keepdims=True), eps1)
        else:
            st["v"] = st.get("v", 0.0) * (1 - beta) + beta * g * g
            v = st["v"]
        u = g / np.sqrt(np.maximum(v, eps1 * eps1))
        return p - alpha / max(1.0, _rms(u) / d) * u


class Muon(_Reference):
    """torch.optim.Muon (2-D parameters): B = mu B + (1 - mu) g; U = g + mu (B - g)
    (Nesterov) or B; X = U / max(|U|_F, eps) (of U^T when U is tall), ns_steps times
    X = a X + (b X X^T + c (X X^T)^2) X; p = p (1 - lr wd) - lr sqrt(max(1, rows / cols)) X
    (or lr 0.2 sqrt(max(rows, cols)) X for adjust_lr_fn="match_rms_adamw")."""

    def rule(self, p, g, st):
        s = self.s
        lr, wd, mu = s["lr"], s.get("weight_decay", 0.1), s.get("momentum", 0.95)
        a, b, c = s.get("ns_coefficients", (3.4445, -4.7750, 2.0315))
        st["B"] = mu * st.get("B", 0.0) + (1 - mu) * g
        u = g + mu * (st["B"] - g) if s.get("nesterov", True) else st["B"]
        x = u.T if u.shape[0] > u.shape[1] else u
        x = x / max(np.linalg.norm(x), s.get("eps", 1e-7))
        for _ in range(s.get("ns_steps", 5)):
            gram = x @ x.T
            x = a * x + (b * gram + c * gram @ gram) @ x
        x = x.T if u.shape[0] > u.shape[1] else x
        rows, cols = p.shape
        scale = (0.2 * np.sqrt(max(rows, cols)) if s.get("adjust_lr_fn") == "match_rms_adamw"
                 else np.sqrt(max(1.0, rows / cols)))
        return p * (1 - lr * wd) - lr * scale * x
