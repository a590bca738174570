"""Update rules that treat a parameter as a matrix, as PyTorch 2.13 has them:
Adafactor (second moments factored into a row and a column average) and Muon
(momentum orthogonalized by a Newton-Schulz iteration). Like the others they
run as tensor operations, reading nothing back to the host, so a compiled step
replays them."""

import math

import ember

from . import reference
from .optimizer import Optimizer, OptimizerExample


def _larger(a, b):
    """max(a, b) of numbers or tensors (a compiled or guarded step holds lr and t in them)."""
    tensors = isinstance(a, ember.Tensor) or isinstance(b, ember.Tensor)
    return ember.maximum(a, b) if tensors else max(a, b)


def _smaller(a, b):
    tensors = isinstance(a, ember.Tensor) or isinstance(b, ember.Tensor)
    return ember.minimum(a, b) if tensors else min(a, b)


def _rms(x):
    """The root mean square of all of x's elements, as a 0-d tensor."""
    return ember.linalg.vector_norm(x) / math.sqrt(max(x.numel(), 1))


class Adafactor(Optimizer):
    """Adafactor (Shazeer and Stern 2018), PyTorch's form: beta = t^beta2_decay (the weight
    of the new square), rho = min(lr, 1 / sqrt(t)), alpha = max(eps[1], rms(p)) rho;
    p = p (1 - lr wd); a matrix (or a stack of them: the last two axes) keeps the row and
    column means of g^2, R and C, and estimates v = R C / max(mean(R), eps[0]); a vector
    keeps v itself. u = g / sqrt(max(v, eps[0]^2)); p = p - alpha u / max(1, rms(u) / d).
    eps[0] None is the parameter dtype's machine epsilon."""

    defaults = {"lr": 1e-2, "beta2_decay": -0.8, "eps": (None, 1e-3), "d": 1.0,
                "weight_decay": 0.0, "maximize": False}
    non_negative = ("weight_decay",)

    def validate(self, group):
        super().validate(group)
        eps1, eps2 = group["eps"]
        checks = [(not group["beta2_decay"] <= 0, f"beta2_decay must be <= 0, got "
                                                  f"{group['beta2_decay']}"),
                  (eps1 is not None and not eps1 >= 0, f"eps[0] must be >= 0 or None, got {eps1}"),
                  (not eps2 >= 0, f"eps[1] must be >= 0, got {eps2}"),
                  (not group["d"] >= 1, f"the clipping threshold d must be >= 1, got "
                                        f"{group['d']}")]
        for failed, message in checks:
            if failed:
                raise ValueError(f"Adafactor: {message}")

    def update(self, p, g, state, group):
        if group["maximize"]:
            g = -g
        lr, wd = self.lr(group), group["weight_decay"]
        eps1, eps2 = group["eps"]
        eps1 = float(ember.finfo(p.dtype).eps) if eps1 is None else eps1
        t = self.count_step(state, p, ember.is_compiling())
        beta = t ** group["beta2_decay"]
        rho = _smaller(lr, t ** -0.5)
        alpha = _larger(_rms(p), eps2) * rho
        if wd:
            p = p * (1.0 - lr * wd)
        square = g * g
        if g.ndim > 1:
            rows = self._average(state, "row_var", square.mean(axis=-1, keepdims=True), beta)
            cols = self._average(state, "col_var", square.mean(axis=-2, keepdims=True), beta)
            v = (rows @ cols) / ember.clip(rows.mean(axis=-2, keepdims=True), min=eps1)
        else:
            v = self._average(state, "variance", square, beta)
        u = g * ember.rsqrt(ember.clip(v, min=eps1 * eps1))
        return p - u * (alpha / ember.maximum(_rms(u) / group["d"], 1.0))

    def _average(self, state, name, new, beta):
        """The running average state[name] moved a fraction beta toward new (it starts at 0)."""
        old = state.get(name)
        value = new * beta if old is None else old + (new - old) * beta
        self.keep(state, name, value)
        return value

    @classmethod
    def example(cls):
        return OptimizerExample({"lr": 0.05, "beta2_decay": -0.6, "eps": (1e-10, 1e-3),
                                 "d": 1.5, "weight_decay": 0.02}, reference.Adafactor)


#: Muon's quintic Newton-Schulz coefficients (Keller Jordan's, PyTorch's defaults)
NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)


def orthogonalize(m, coefficients=NS_COEFFICIENTS, steps=5, eps=1e-7):
    """Newton-Schulz's approximation of U V^T for m = U S V^T (the "zeroth power"):
    X = m / max(|m|_F, eps) (transposed when it has more rows than columns), then
    ``steps`` times X = a X + (b A + c A A) X with A = X X^T. The singular values end
    near 1 (within about 0.3, by design), not exactly at 1. PyTorch runs it in bfloat16;
    this runs in m's dtype."""
    a, b, c = coefficients
    tall = m.shape[0] > m.shape[1]
    x = m.T if tall else m
    x = x / ember.maximum(ember.linalg.matrix_norm(x), eps)
    for _ in range(steps):
        gram = x @ x.T
        x = x * a + (gram * b + (gram @ gram) * c) @ x
    return x.T if tall else x


class Muon(Optimizer):
    """Muon (Jordan et al. 2024), PyTorch's form, for 2-D parameters only:
    B = B + (1 - mu)(g - B) (B starts at 0); the update is
    g + mu (B - g) (Nesterov) or B, orthogonalized by Newton-Schulz; p = p (1 - lr wd)
    - lr' O with lr' = lr sqrt(max(1, rows / cols)) ("original"), lr 0.2 sqrt(max(rows,
    cols)) ("match_rms_adamw", Moonshot's, to reuse AdamW's lr and wd). Optimize
    biases, norms and embeddings with another optimizer, as PyTorch's documentation
    says."""

    defaults = {"lr": 1e-3, "weight_decay": 0.1, "momentum": 0.95, "nesterov": True,
                "ns_coefficients": NS_COEFFICIENTS, "eps": 1e-7, "ns_steps": 5,
                "adjust_lr_fn": None}
    ADJUSTMENTS = (None, "original", "match_rms_adamw")

    def validate(self, group):
        super().validate(group)
        if group["adjust_lr_fn"] not in self.ADJUSTMENTS:
            raise ValueError(f"Muon: adjust_lr_fn must be one of {self.ADJUSTMENTS}, got "
                             f"{group['adjust_lr_fn']!r}")
        if not 0 <= group["ns_steps"] < 100:
            raise ValueError(f"Muon: ns_steps must be in [0, 100), got {group['ns_steps']}")
        if len(group["ns_coefficients"]) != 3:
            raise ValueError(f"Muon: ns_coefficients are three numbers (a, b, c), got "
                             f"{group['ns_coefficients']}")
        for p in group["params"]:
            if p.ndim != 2:
                raise ValueError(f"Muon: it optimizes matrices (2-D parameters), got one of "
                                 f"shape {p.shape}; give biases, norms and embeddings to "
                                 f"another optimizer (AdamW) in a second optimizer")

    def update(self, p, g, state, group):
        lr, mu = self.lr(group), group["momentum"]
        buf = state.get("momentum_buffer")
        buf = g * (1.0 - mu) if buf is None else buf + (g - buf) * (1.0 - mu)
        self.keep(state, "momentum_buffer", buf)
        direction = g + (buf - g) * mu if group["nesterov"] else buf
        o = orthogonalize(direction, group["ns_coefficients"], group["ns_steps"], group["eps"])
        rows, cols = p.shape
        scale = (0.2 * math.sqrt(max(rows, cols)) if group["adjust_lr_fn"] == "match_rms_adamw"
                 else math.sqrt(max(1.0, rows / cols)))
        return p * (1.0 - lr * group["weight_decay"]) - o * (lr * scale)

    @classmethod
    def example(cls):
        return OptimizerExample({"lr": 0.05, "weight_decay": 0.05, "momentum": 0.9},
                                reference.Muon, ndim=2)
