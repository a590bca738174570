"""Conformance checks for every registered optimizer and scheduler, on every backend.

Optimizers follow a float64 NumPy implementation of their published rule (the
class's ``example().reference``) step by step, on a fixed quadratic and on a
tiny MLP with two parameter groups; a state_dict taken mid-run resumes the
identical trajectory. Schedulers follow their closed forms.
"""

import numpy as np
import pytest

import ember
from ember.registry import registry
from ember.testing.checks import expect, grad_dtype

from .clip import clip_grad_norm_, clip_grad_value_

OPTIMIZERS = registry.names("optimizers")
SCHEDULERS = registry.names("schedulers")

A = [np.array([1.0, 3.0, 0.5]), np.array([[2.0, 0.2], [1.0, 4.0]])]
B = [np.array([0.5, -1.0, 2.0]), np.array([[-0.3, 1.0], [0.0, 0.7]])]
X0 = [np.array([1.0, -2.0, 0.5]), np.array([[0.3, -0.4], [1.5, -1.0]])]


def _rule(reference):
    """The published formula a reference implements (its docstring), for failure messages."""
    return " ".join((type(reference).__doc__ or type(reference).__name__).split())


def _tol(dtype):
    return dict(rtol=1e-9, atol=1e-11) if dtype is ember.float64 else dict(rtol=2e-4, atol=2e-5)


def _fits(ex, arrays):
    """The indices of ``arrays`` an optimizer takes: those with its example's number of
    axes (Muon optimizes matrices only), or all."""
    return [i for i, x in enumerate(arrays) if ex.ndim is None or np.ndim(x) == ex.ndim]


def _start(ex, dtype=ember.float32):
    """The quadratic's parameters an optimizer takes, and their indices in X0."""
    keep = _fits(ex, X0)
    return [ember.tensor(X0[i], dtype=dtype, requires_grad=True) for i in keep], keep


def _quadratic_loss(params, keep):
    """The quadratic of the parameters ``keep`` indexes in X0."""
    total = None
    for p, (a, b) in zip(params, [(A[i], B[i]) for i in keep]):
        term = (0.5 * ember.tensor(a, dtype=p.dtype) * p * p + ember.tensor(b, dtype=p.dtype) * p).sum()
        total = term if total is None else total + term
    return total


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_optimizer_follows_its_rule_on_a_quadratic(backend, name):
    """f(x) = sum(a x^2 / 2 + b x), gradient a x + b, 15 steps."""
    cls = registry.get("optimizers", name)
    ex = cls.example()
    dtype = grad_dtype(backend)
    params, keep = _start(ex, dtype)
    opt = cls(params, **ex.kwargs)
    ref = ex.reference([X0[i].copy() for i in keep], **ex.kwargs)
    for step in range(15):
        opt.zero_grad()
        _quadratic_loss(params, keep).backward()
        opt.step()
        ref.step([A[i] * r + B[i] for i, r in zip(keep, ref.params)])
        for i, (p, r) in enumerate(zip(params, ref.params)):
            np.testing.assert_allclose(p.numpy(), r, **_tol(dtype),
                                       err_msg=f"{name}: parameter {i} after step {step + 1}; "
                                               f"rule: {_rule(ref)}")


def _mlp_data():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((6, 3)), rng.standard_normal((6, 2))
    weights = [rng.standard_normal((3, 4)) * 0.5, np.zeros(4) + 0.1,
               rng.standard_normal((4, 2)) * 0.5, np.zeros(2) - 0.1]
    return x, y, weights


def _mlp_grads_numpy(x, y, w1, b1, w2, b2):
    """Backpropagation by hand for mean((tanh(x w1 + b1) w2 + b2 - y)^2)."""
    h = np.tanh(x @ w1 + b1)
    out = h @ w2 + b2
    d_out = 2 * (out - y) / out.size
    d_h = d_out @ w2.T * (1 - h * h)
    return [x.T @ d_h, d_h.sum(0), h.T @ d_out, d_out.sum(0)]


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_optimizer_follows_its_rule_on_a_tiny_mlp_with_two_groups(backend, name):
    cls = registry.get("optimizers", name)
    ex = cls.example()
    dtype = grad_dtype(backend)
    x, y, weights = _mlp_data()
    params = [ember.tensor(w, dtype=dtype, requires_grad=True) for w in weights]
    lr = ex.kwargs.get("lr", cls.defaults["lr"])
    # the layers' weights and biases in two groups (Muon's: the weights, biases left fixed);
    # the references update the arrays of ``current`` in place
    keep = _fits(ex, weights)
    groups = [[i for i in keep if i < 2], [i for i in keep if i >= 2]]
    opt = cls([{"params": [params[i] for i in groups[0]], "lr": lr * 0.5},
               {"params": [params[i] for i in groups[1]]}], **ex.kwargs)
    current = [w.copy() for w in weights]
    first = ex.reference([current[i] for i in groups[0]], **{**ex.kwargs, "lr": lr * 0.5})
    second = ex.reference([current[i] for i in groups[1]], **ex.kwargs)
    tx, ty = ember.tensor(x, dtype=dtype), ember.tensor(y, dtype=dtype)
    for step in range(10):
        w1, b1, w2, b2 = params
        loss = ((ember.tanh(tx @ w1 + b1) @ w2 + b2 - ty) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        grads = _mlp_grads_numpy(x, y, *current)
        first.step([grads[i] for i in groups[0]])
        second.step([grads[i] for i in groups[1]])
        for i, (p, r) in enumerate(zip(params, current)):
            np.testing.assert_allclose(p.numpy(), r, **_tol(dtype),
                                       err_msg=f"{name}: MLP parameter {i} after step "
                                               f"{step + 1}; rule: {_rule(first)}")


def _run(opt, params, keep, steps):
    trajectory = []
    for _ in range(steps):
        opt.zero_grad()
        _quadratic_loss(params, keep).backward()
        opt.step()
        trajectory.append([p.numpy() for p in params])
    return trajectory


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_optimizer_state_dict_resumes_the_identical_trajectory(backend, name):
    cls = registry.get("optimizers", name)
    ex = cls.example()
    params, keep = _start(ex)
    opt = cls(params, **ex.kwargs)
    _run(opt, params, keep, 5)
    saved_state, saved_params = opt.state_dict(), [p.numpy() for p in params]
    uninterrupted = _run(opt, params, keep, 5)
    fresh = [ember.tensor(v, requires_grad=True) for v in saved_params]
    resumed_opt = cls(fresh, **ex.kwargs)
    resumed_opt.load_state_dict(saved_state)
    resumed = _run(resumed_opt, fresh, keep, 5)
    for step, (a, b) in enumerate(zip(uninterrupted, resumed)):
        for pa, pb in zip(a, b):
            np.testing.assert_array_equal(pa, pb, err_msg=f"{name}: step {step + 6} after resume")


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_optimizer_skips_a_step_with_found_inf_on_the_device(backend, name):
    """step(found_inf) (what GradScaler calls): True leaves parameters and state as they
    were, the first step included (its state keeps its zero start, its count 0); False
    follows the rule exactly as a plain step, so a run with skipped steps equals the run
    without them."""
    cls = registry.get("optimizers", name)
    ex = cls.example()
    dtype = grad_dtype(backend)
    (guarded, keep), (plain, _) = _start(ex, dtype), _start(ex, dtype)
    g_opt, p_opt = cls(guarded, **ex.kwargs), cls(plain, **ex.kwargs)
    yes, no = (ember.tensor(v, backend=backend) for v in (True, False))
    for step, skip in enumerate([True, False, True, True, False, False]):
        g_opt.zero_grad()
        _quadratic_loss(guarded, keep).backward()
        g_opt.step(found_inf=yes if skip else no)
        if not skip:
            p_opt.zero_grad()
            _quadratic_loss(plain, keep).backward()
            p_opt.step()
        for i, (g, p) in enumerate(zip(guarded, plain)):
            np.testing.assert_allclose(g.numpy(), p.numpy(), **_tol(dtype),
                                       err_msg=f"{name}: parameter {i} after guarded step "
                                               f"{step + 1} ({'skipped' if skip else 'kept'})")


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_optimizer_compiled_step_matches_eager(backend, name):
    """The whole step (loss, backward, step) under ember.compile follows the eager
    trajectory, with the learning rate changed mid-run by hand (as a scheduler does)
    and no retrace for it: an optimizer needs no knowledge of compilation."""
    cls = registry.get("optimizers", name)
    ex = cls.example()

    def trajectory(compiled):
        params, keep = _start(ex)
        opt = cls(params, **ex.kwargs)

        def step():
            opt.zero_grad()
            loss = _quadratic_loss(params, keep)
            loss.backward()
            opt.step()
            return loss
        run = ember.compile(step) if compiled else step
        out, traced = [], None
        for i in range(7):
            if i == 5:
                traced = getattr(run, "trace_count", None)
                for group in opt.param_groups:
                    group["lr"] = group["lr"] * 0.5
            out.append([run().item()] + [p.numpy() for p in params])
        return out, run, traced

    eager, _, _ = trajectory(False)
    compiled, run, traced = trajectory(True)
    expect(run.graph() is not None and run.trace_count == traced,
           f"{name}: {traced} traces before the learning rate changed, {run.trace_count} after "
           f"(a new learning rate must not retrace)")
    for i, (a, b) in enumerate(zip(compiled, eager)):
        for x, y in zip(a, b):
            np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6, err_msg=f"{name}: step {i + 1}")


@pytest.mark.parametrize("name", SCHEDULERS)
def test_scheduler_follows_its_closed_form_and_resumes(backend, name):
    cls = registry.get("schedulers", name)
    ex = cls.example()
    base = 0.1
    opt = registry.get("optimizers", "sgd")([ember.zeros(2, requires_grad=True)], lr=base)
    sched = cls(opt, **ex.kwargs)
    lrs = []
    for i in range(ex.steps):
        sched.step(ex.metrics[i]) if ex.metrics else sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    rule = " ".join((cls.__doc__ or name).split())
    np.testing.assert_allclose(lrs, ex.expected(base, ex.metrics), rtol=1e-12,
                               err_msg=f"{name}: {rule}")
    # resume half-way: a new optimizer and scheduler from state dicts continue identically
    opt2 = registry.get("optimizers", "sgd")([ember.zeros(2, requires_grad=True)], lr=base)
    sched2 = cls(opt2, **ex.kwargs)
    half = ex.steps // 2
    for i in range(half):
        sched2.step(ex.metrics[i]) if ex.metrics else sched2.step()
    opt3 = registry.get("optimizers", "sgd")([ember.zeros(2, requires_grad=True)], lr=base)
    sched3 = cls(opt3, **ex.kwargs)
    opt3.load_state_dict(opt2.state_dict())
    sched3.load_state_dict(sched2.state_dict())
    rest = []
    for i in range(half, ex.steps):
        sched3.step(ex.metrics[i]) if ex.metrics else sched3.step()
        rest.append(opt3.param_groups[0]["lr"])
    np.testing.assert_allclose(rest, lrs[half:], rtol=1e-12, err_msg=f"{name} after resume")


def test_clip_grad_norm_and_value(backend):
    a, b = ember.zeros(3, requires_grad=True), ember.zeros(2, 2, requires_grad=True)
    ga, gb = np.array([3.0, -4.0, 0.0]), np.array([[12.0, 0.0], [0.0, 0.0]])
    a.grad, b.grad = ember.tensor(ga, dtype=ember.float32), ember.tensor(gb, dtype=ember.float32)
    total = clip_grad_norm_([a, b], max_norm=6.5)
    expect(abs(total.item() - 13.0) < 1e-5, f"total norm {total.item()}")
    np.testing.assert_allclose(a.grad.numpy(), ga * 6.5 / (13 + 1e-6), rtol=1e-5)
    np.testing.assert_allclose(b.grad.numpy(), gb * 6.5 / (13 + 1e-6), rtol=1e-5)
    clip_grad_norm_([a, b], max_norm=100.0)   # below the limit: unchanged
    np.testing.assert_allclose(a.grad.numpy(), ga * 6.5 / (13 + 1e-6), rtol=1e-5)
    a.grad = ember.tensor(ga, dtype=ember.float32)
    clip_grad_value_([a], 1.5)
    np.testing.assert_array_equal(a.grad.numpy(), [1.5, -1.5, 0.0])
