"""L-BFGS, as PyTorch's torch.optim.LBFGS computes it (after minFunc): a quasi-Newton
step from the last ``history_size`` steps and gradient changes, optionally with a
line search meeting the strong Wolfe conditions (cubic interpolation).

Each ``step(closure)`` re-evaluates the loss and gradients through the closure several
times, and its control flow reads numbers back to the host (losses, dot products). So
it is not registered for ``ember train``, whose steps are closure-free and
compilable. The vectors (the flat gradient, the direction, the history) stay on the
parameters' backend.
"""

import ember

from .optimizer import Optimizer


def _cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None):
    """The minimizer of the cubic through (x1, f1, g1) and (x2, f2, g2), within bounds
    (the interval's ends by default); its midpoint where the cubic has none."""
    lo, hi = bounds if bounds is not None else ((x1, x2) if x1 <= x2 else (x2, x1))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 ** 2 - g1 * g2
    if d2_square < 0:
        return (lo + hi) / 2.0
    d2 = d2_square ** 0.5
    if x1 <= x2:
        at = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        at = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(at, lo), hi)


def _dot(a, b):
    return float((a * b).sum().item())


def _strong_wolfe(evaluate, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9,
                  max_ls=25):
    """A step t along d meeting the strong Wolfe conditions (sufficient decrease c1,
    curvature c2): bracketing, then zooming by cubic interpolation. Returns (loss, flat
    gradient, t, evaluations)."""
    d_norm = float(ember.abs(d).max().item())
    f_new, g_new = evaluate(t)
    evals, gtd_new = 1, _dot(g_new, d)
    t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g, gtd
    done, ls_iter = False, 0
    bracket = None
    while ls_iter < max_ls:
        if f_new > f + c1 * t * gtd or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g, done = [t], [f_new], [g_new], True
            break
        if gtd_new >= 0:
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new], [gtd_prev, gtd_new]
            break
        step = _cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new,
                                  bounds=(t + 0.01 * (t - t_prev), t * 10))
        t_prev, f_prev, g_prev, gtd_prev = t, f_new, g_new, gtd_new
        t = step
        f_new, g_new = evaluate(t)
        evals, gtd_new, ls_iter = evals + 1, _dot(g_new, d), ls_iter + 1
    if ls_iter == max_ls:
        bracket, bracket_f, bracket_g = [0.0, t], [f, f_new], [g, g_new]
    insufficient = False
    low, high = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = _cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0],
                               bracket[1], bracket_f[1], bracket_gtd[1])
        eps = 0.1 * (max(bracket) - min(bracket))
        if min(max(bracket) - t, t - min(bracket)) < eps:
            if insufficient or t >= max(bracket) or t <= min(bracket):
                t = max(bracket) - eps if abs(t - max(bracket)) < abs(t - min(bracket)) \
                    else min(bracket) + eps
                insufficient = False
            else:
                insufficient = True
        else:
            insufficient = False
        f_new, g_new = evaluate(t)
        evals, gtd_new, ls_iter = evals + 1, _dot(g_new, d), ls_iter + 1
        if f_new > f + c1 * t * gtd or f_new >= bracket_f[low]:
            bracket[high], bracket_f[high] = t, f_new
            bracket_g[high], bracket_gtd[high] = g_new, gtd_new
            low, high = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high] - bracket[low]) >= 0:
                bracket[high], bracket_f[high] = bracket[low], bracket_f[low]
                bracket_g[high], bracket_gtd[high] = bracket_g[low], bracket_gtd[low]
            bracket[low], bracket_f[low] = t, f_new
            bracket_g[low], bracket_gtd[low] = g_new, gtd_new
    return bracket_f[low], bracket_g[low], bracket[low], evals


class LBFGS(Optimizer):
    """torch.optim.LBFGS: ``step(closure)``, where the closure zeroes the gradients,
    computes the loss, calls backward and returns the loss. One parameter group."""

    defaults = {"lr": 1.0, "max_iter": 20, "max_eval": None, "tolerance_grad": 1e-7,
                "tolerance_change": 1e-9, "history_size": 100, "line_search_fn": None}

    def __init__(self, params, **settings):
        super().__init__(params, **settings)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS: takes one parameter group (no per-parameter options)")
        group = self.param_groups[0]
        if group["max_eval"] is None:
            group["max_eval"] = group["max_iter"] * 5 // 4
        if group["line_search_fn"] not in (None, "strong_wolfe"):
            raise ValueError(f"LBFGS: line_search_fn must be None or 'strong_wolfe', got "
                             f"{group['line_search_fn']!r}")
        self._params = group["params"]

    def _flat_grad(self):
        return ember.concatenate([(p.grad if p.grad is not None else ember.zeros_like(p))
                                  .reshape(-1) for p in self._params])

    def _add(self, t, d):
        """p += t d, over the parameters' slices of the flat vector d."""
        start = 0
        for p in self._params:
            p.copy_(p + d[start:start + p.size].reshape(p.shape) * t)
            start += p.size

    def _evaluate_at(self, closure, t, d):
        """Loss and flat gradient at x + t d, the parameters then put back at x."""
        saved = [p.detach().clone() for p in self._params]
        self._add(t, d)
        loss = float(closure())
        grad = self._flat_grad()
        for p, x in zip(self._params, saved):
            p.copy_(x)
        return loss, grad

    def step(self, closure=None, found_inf=None):
        if closure is None:
            raise ValueError("LBFGS.step needs a closure that re-evaluates the model: "
                             "zeroes the gradients, computes the loss, calls backward and "
                             "returns the loss")
        if found_inf is not None:
            raise ValueError("LBFGS.step does not take found_inf (GradScaler): its line "
                             "search evaluates the loss itself")

        def evaluate():
            with ember.enable_grad():
                return closure()
        with ember.no_grad():
            return self._run(evaluate)

    def _run(self, closure):
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tol_grad, tol_change = group["tolerance_grad"], group["tolerance_change"]
        state = self.state.setdefault(id(self._params[0]), {})
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)
        orig_loss = closure()
        loss, evals = float(orig_loss), 1
        state["func_evals"] += 1
        flat_grad = self._flat_grad()
        if float(ember.abs(flat_grad).max().item()) <= tol_grad:
            return orig_loss
        d, t = state.get("d"), state.get("t")
        old_dirs, old_stps, ro = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
        h_diag, prev_flat_grad = state.get("H_diag"), state.get("prev_flat_grad")
        prev_loss = state.get("prev_loss")
        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d, old_dirs, old_stps, ro, h_diag = -flat_grad, [], [], [], 1.0
            else:
                y, s = flat_grad - prev_flat_grad, d * t
                ys = _dot(y, s)
                if ys > 1e-10:
                    if len(old_dirs) == group["history_size"]:
                        old_dirs.pop(0), old_stps.pop(0), ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    h_diag = ys / _dot(y, y)
                al = [0.0] * len(old_dirs)
                q = -flat_grad
                for i in range(len(old_dirs) - 1, -1, -1):
                    al[i] = _dot(old_stps[i], q) * ro[i]
                    q = q - old_dirs[i] * al[i]
                d = q * h_diag
                for i in range(len(old_dirs)):
                    d = d + old_stps[i] * (al[i] - _dot(old_dirs[i], d) * ro[i])
            prev_flat_grad, prev_loss = flat_grad, loss
            if state["n_iter"] == 1:
                t = min(1.0, 1.0 / float(ember.abs(flat_grad).sum().item())) * lr
            else:
                t = lr
            gtd = _dot(flat_grad, d)
            if gtd > -tol_change:
                break
            if group["line_search_fn"] == "strong_wolfe":
                loss, flat_grad, t, ls_evals = _strong_wolfe(
                    lambda step: self._evaluate_at(closure, step, d), t, d, loss, flat_grad,
                    gtd, max_ls=max_eval - evals)
                self._add(t, d)
                optimal = float(ember.abs(flat_grad).max().item()) <= tol_grad
            else:
                self._add(t, d)
                ls_evals, optimal = 0, False
                if n_iter != max_iter:          # the last iteration's loss is not needed
                    loss = float(closure())
                    flat_grad = self._flat_grad()
                    optimal = float(ember.abs(flat_grad).max().item()) <= tol_grad
                    ls_evals = 1
            evals += ls_evals
            state["func_evals"] += ls_evals
            if (n_iter == max_iter or evals >= max_eval or optimal
                    or float(ember.abs(d * t).max().item()) <= tol_change
                    or abs(loss - prev_loss) < tol_change):
                break
        state.update({"d": d, "t": t, "old_dirs": old_dirs, "old_stps": old_stps, "ro": ro,
                      "H_diag": h_diag, "prev_flat_grad": prev_flat_grad,
                      "prev_loss": prev_loss})
        return orig_loss
