"""Optimizer and scheduler API behaviour; trajectories against PyTorch when it is installed."""

import numpy as np
import pytest

import ember
from ember.plugins import optim

SETTINGS = {
    "SGD": {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01},
    "Adam": {"lr": 0.05, "betas": (0.8, 0.95), "weight_decay": 0.02, "amsgrad": True},
    "AdamW": {"lr": 0.05, "weight_decay": 0.1},
    "RMSprop": {"lr": 0.01, "alpha": 0.9, "momentum": 0.5, "centered": True},
    "Adagrad": {"lr": 0.1, "lr_decay": 0.01, "initial_accumulator_value": 0.1},
    "Adamax": {"lr": 0.05, "betas": (0.8, 0.95), "weight_decay": 0.01},
    "NAdam": {"lr": 0.05, "betas": (0.8, 0.95), "weight_decay": 0.01, "momentum_decay": 0.01},
    "NAdam-decoupled": {"lr": 0.05, "weight_decay": 0.1, "decoupled_weight_decay": True},
    "RAdam": {"lr": 0.05, "betas": (0.8, 0.95), "weight_decay": 0.01},
    "RAdam-decoupled": {"lr": 0.05, "weight_decay": 0.1, "decoupled_weight_decay": True},
    "Adadelta": {"lr": 0.5, "rho": 0.8, "weight_decay": 0.01},
    "Rprop": {"lr": 0.05, "etas": (0.4, 1.3), "step_sizes": (1e-3, 0.5)},
    "Rprop-maximize": {"lr": 0.05, "maximize": True},
    "ASGD": {"lr": 0.05, "lambd": 0.01, "alpha": 0.6, "t0": 5.0, "weight_decay": 0.01},
    "Adafactor": {"lr": 0.05, "weight_decay": 0.1},
    "Adafactor-maximize": {"eps": (1e-6, 1e-2), "d": 2.0, "beta2_decay": -0.5, "maximize": True},
}


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_trajectory_matches_pytorch(name):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch==2.13.0)")
    x0 = np.array([1.0, -2.0, 0.5, 3.0])
    a = np.array([1.0, 3.0, 0.5, 2.0])
    p = ember.tensor(x0, dtype=ember.float64, requires_grad=True)
    tp = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
    cls = name.split("-")[0]
    opt = getattr(optim, cls)([p], **SETTINGS[name])
    topt = getattr(torch.optim, cls)([tp], **SETTINGS[name])
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)    # NAdam's mu_product is a float32 scalar otherwise
    try:
        for _ in range(20):
            opt.zero_grad()
            (0.5 * ember.tensor(a) * p * p).sum().backward()
            opt.step()
            topt.zero_grad()
            (0.5 * torch.tensor(a) * tp * tp).sum().backward()
            topt.step()
    finally:
        torch.set_default_dtype(default)
    np.testing.assert_allclose(p.numpy(), tp.detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_16_bit_parameters_and_state_stay_16_bit_and_follow_pytorch(dtype):
    """Every optimizer on bfloat16 and float16 parameters: after ten steps the parameter
    and every floating state buffer hold the tensor's dtype (SGD's and Adam's fast paths
    left bfloat16 in float32 buffers: ml_dtypes' bfloat16 times a Python float is
    float32), and the trajectory stays within a few of the dtype's ULPs of PyTorch's in
    the same dtype (each step rounds)."""
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch==2.13.0)")
    if dtype == "bfloat16" and ember.bfloat16.np is None:
        pytest.skip("ml_dtypes is not installed")
    x0, a = np.array([1.0, -2.0, 0.5, 3.0]), np.array([1.0, 3.0, 0.5, 2.0])
    eps = float(ember.finfo(dtype).eps)
    for name in sorted(SETTINGS):
        cls = name.split("-")[0]
        p = ember.tensor(x0, dtype=dtype, requires_grad=True)
        tp = torch.tensor(x0, dtype=getattr(torch, dtype), requires_grad=True)
        opt = getattr(optim, cls)([p], **SETTINGS[name])
        topt = getattr(torch.optim, cls)([tp], **SETTINGS[name])
        for _ in range(10):
            opt.zero_grad()
            (0.5 * ember.tensor(a, dtype=dtype) * p * p).sum().backward()
            opt.step()
            topt.zero_grad()
            (0.5 * torch.tensor(a, dtype=tp.dtype) * tp * tp).sum().backward()
            topt.step()
        held = [p] + [s for state in opt.state.values() for s in state.values()
                      if isinstance(s, ember.Tensor) and s.dtype.is_float]
        assert all(t.dtype.name == dtype and t.numpy().dtype == t.dtype.np for t in held), name
        want = tp.detach().float().numpy()
        err = np.abs(p.numpy().astype(np.float32) - want) / (np.abs(want) + 1e-3)
        assert err.max() <= 12 * eps, (name, err.max() / eps)


MATRIX_CASES = [("Adafactor", {}, (4, 6)), ("Adafactor", {"lr": 0.05, "weight_decay": 0.1}, (3, 4, 5)),
                ("Adafactor", {"eps": (1e-6, 1e-2), "d": 2.0, "beta2_decay": -0.5}, (6, 1)),
                ("Muon", {}, (4, 6)), ("Muon", {"lr": 0.02, "nesterov": False}, (6, 4)),
                ("Muon", {"adjust_lr_fn": "match_rms_adamw", "ns_steps": 3}, (5, 5)),
                ("Muon", {"adjust_lr_fn": "original", "weight_decay": 0.0}, (7, 3))]


@pytest.mark.parametrize("name, settings, shape", MATRIX_CASES)
def test_matrix_optimizers_follow_pytorch(name, settings, shape, monkeypatch):
    """Adafactor's factored moments (a matrix, a stack of them, a column) and Muon's
    orthogonalized momentum (wide, tall and square): 20 float64 steps on a quadratic
    equal PyTorch's to 1e-12. PyTorch runs Muon's Newton-Schulz iteration in bfloat16
    (ember in the parameter's dtype); here its bfloat16 cast keeps the dtype instead, so
    the rule itself is compared, not bfloat16's rounding."""
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch==2.13.0)")
    monkeypatch.setattr(torch.Tensor, "bfloat16", lambda self: self.clone())
    rng = np.random.default_rng(1)
    x0, a, b = rng.standard_normal(shape), rng.uniform(0.5, 3, shape), rng.standard_normal(shape)
    p = ember.tensor(x0, dtype=ember.float64, requires_grad=True)
    tp = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
    opt, topt = getattr(optim, name)([p], **settings), getattr(torch.optim, name)([tp], **settings)
    for _ in range(20):
        for lib, x, o in ((ember, p, opt), (torch, tp, topt)):
            o.zero_grad()
            (0.5 * lib.tensor(a) * x * x + lib.tensor(b) * x).sum().backward()
            o.step()
    want = tp.detach().numpy()
    assert np.max(np.abs(p.numpy() - want) / np.abs(want)) < 1e-12


def test_muon_takes_matrices_and_adafactor_checks_its_settings():
    """PyTorch's checks, with messages that say what to do."""
    w, b = ember.zeros(3, 4, requires_grad=True), ember.zeros(4, requires_grad=True)
    with pytest.raises(ValueError, match=r"Muon: it optimizes matrices \(2-D parameters\), got one "
                                         r"of shape \(4,\); give biases.* to another optimizer"):
        optim.Muon([w, b])
    opt = optim.Muon([w])
    with pytest.raises(ValueError, match="Muon: it optimizes matrices"):
        opt.add_param_group({"params": [b]})
    for settings, message in (({"adjust_lr_fn": "rms"}, "adjust_lr_fn must be one of"),
                              ({"ns_steps": 100}, r"ns_steps must be in \[0, 100\)"),
                              ({"ns_coefficients": (1.0, 2.0)}, "ns_coefficients are three numbers")):
        with pytest.raises(ValueError, match=f"Muon: {message}"):
            optim.Muon([w], **settings)
    for settings, message in (({"beta2_decay": 0.1}, "beta2_decay must be <= 0"),
                              ({"eps": (-1.0, 1e-3)}, r"eps\[0\] must be >= 0 or None"),
                              ({"eps": (None, float("nan"))}, r"eps\[1\] must be >= 0"),
                              ({"d": 0.5}, "the clipping threshold d must be >= 1"),
                              ({"weight_decay": -1.0}, "weight_decay must be >= 0")):
        with pytest.raises(ValueError, match=f"Adafactor: {message}"):
            optim.Adafactor([w], **settings)


def test_muon_orthogonalizes_an_ill_conditioned_update():
    """The Newton-Schulz iteration of ``orthogonalize`` brings every singular value of
    a matrix of any scale and a condition number up to 100 (the smallest, 1/100 of the
    largest, needs all five steps to grow) into PyTorch's documented
    band around 1 (about 0.7 to 1.2 with the default coefficients), in float32 on
    every size it gets; a zero matrix stays zero (no NaN from dividing by its norm)."""
    from ember.plugins.optim.matrix_rules import orthogonalize
    rng = np.random.default_rng(0)
    for rows, cols in ((8, 8), (16, 4), (4, 16)):
        u, _ = np.linalg.qr(rng.standard_normal((rows, rows)))
        v, _ = np.linalg.qr(rng.standard_normal((cols, cols)))
        k = min(rows, cols)
        m = (u[:, :k] * np.geomspace(1.0, 1e-2, k)) @ v[:, :k].T * 1e4
        s = np.linalg.svd(orthogonalize(ember.tensor(m, dtype=ember.float32)).numpy(),
                          compute_uv=False)
        assert 0.6 < s.min() and s.max() < 1.25, (rows, cols, s)
    zero = orthogonalize(ember.zeros(3, 5)).numpy()
    assert not np.isnan(zero).any() and not zero.any()


@pytest.mark.parametrize("line_search", [None, "strong_wolfe"])
def test_lbfgs_follows_pytorchs_on_rosenbrock(line_search):
    """step(closure) as PyTorch's: the same iterates, losses and evaluation counts, with
    and without the strong-Wolfe line search (history shorter than the run)."""
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch==2.13.0)")
    settings = {"lr": 0.5 if line_search is None else 1.0, "max_iter": 15, "history_size": 4,
                "line_search_fn": line_search}
    runs = []
    for lib, opt_lib in ((ember, optim), (torch, torch.optim)):
        x = lib.tensor([-1.5, 2.0, 0.5], dtype=lib.float64, requires_grad=True)
        opt = opt_lib.LBFGS([x], **settings)

        def closure():
            opt.zero_grad()
            loss = (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()
            loss.backward()
            return loss
        losses = [float(opt.step(closure)) for _ in range(4)]
        state = opt.state[id(x)] if lib is ember else opt.state[x]
        runs.append((x.detach().numpy(), losses, state["func_evals"], state["n_iter"]))
    (x, losses, evals, iters), (tx, tlosses, tevals, titers) = runs
    np.testing.assert_allclose(x, tx, rtol=1e-7)        # Rosenbrock's conditioning grows
    np.testing.assert_allclose(losses, tlosses, rtol=1e-7)  # the dot products' rounding
    assert (evals, iters) == (tevals, titers)


def test_step_takes_a_closure_and_returns_its_loss():
    p = ember.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([p], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss
    with ember.no_grad():                        # the closure records gradients anyway
        assert float(opt.step(closure)) == 5.0
    np.testing.assert_allclose(p.numpy(), [0.8, 1.6], rtol=1e-7)
    with pytest.raises(ValueError, match="needs a closure"):
        optim.LBFGS([p]).step()


def test_bad_settings_are_named():
    p = [ember.zeros(2, requires_grad=True)]
    with pytest.raises(TypeError, match="SGD: unknown settings betas"):
        optim.SGD(p, betas=(0.9, 0.9))
    with pytest.raises(ValueError, match="Nesterov momentum needs momentum > 0"):
        optim.SGD(p, nesterov=True)
    with pytest.raises(ValueError, match="learning rate must be >= 0"):
        optim.Adam(p, lr=-1)
    with pytest.raises(ValueError, match="learning rate must be >= 0, got nan"):
        optim.Adam(p, lr=float("nan"))        # a NaN rate made every parameter NaN
    with pytest.raises(TypeError, match="learning rate must be a number .* got str '0.1'"):
        optim.SGD(p, lr="0.1")
    # the other settings PyTorch checks, NaN included (they were taken as they came)
    nan = float("nan")
    for make, message in (
            (lambda: optim.SGD(p, momentum=nan), "SGD: momentum must be >= 0, got nan"),
            (lambda: optim.Adam(p, eps=-1e-8), "Adam: eps must be >= 0"),
            (lambda: optim.AdamW(p, weight_decay=-0.1), "AdamW: weight_decay must be >= 0"),
            (lambda: optim.RMSprop(p, alpha=-1), "RMSprop: alpha must be >= 0"),
            (lambda: optim.Adagrad(p, lr_decay=-1), "Adagrad: lr_decay must be >= 0"),
            (lambda: optim.NAdam(p, betas=(nan, 0.9)), r"NAdam: betas must be in \[0, 1\)"),
            (lambda: optim.Adamax(p, betas=(0.9, 1.0)), r"Adamax: betas must be in \[0, 1\)"),
            (lambda: optim.Adadelta(p, rho=1.5), r"Adadelta: rho must be in \[0, 1\]")):
        with pytest.raises(ValueError, match=message):
            make()
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.Adam([])
    with pytest.raises(TypeError, match="parameters must be floating tensors"):
        optim.SGD([ember.zeros(2, dtype=ember.int32)])
    w = ember.zeros(2, 3, requires_grad=True)
    with pytest.raises(ValueError, match=r"a parameter of shape \(2, 3\) appears twice "
                                         r"\(again in group 1\); list each parameter in one group"):
        optim.SGD([{"params": [w]}, {"params": [p[0], w], "lr": 0.1}])
    with pytest.raises(ValueError, match="appears twice"):
        optim.Adam([w, w])
    # schedulers that would divide by zero at their first step
    with pytest.raises(ValueError, match="StepLR: step_size must be >= 1, got 0"):
        optim.StepLR(optim.SGD(p, lr=0.1), 0)
    with pytest.raises(ValueError, match="CosineAnnealingLR: T_max .* must be >= 1, got 0"):
        optim.CosineAnnealingLR(optim.SGD(p, lr=0.1), 0)
    with pytest.raises(ValueError, match="OneCycleLR: pct_start 0.1 of 10 steps leaves a phase"):
        optim.OneCycleLR(optim.SGD(p, lr=0.1), 0.1, 10, pct_start=0.1)


def test_load_state_dict_refuses_a_different_layout():
    a = optim.Adam([ember.zeros(2, requires_grad=True)])
    b = optim.Adam([{"params": [ember.zeros(2, requires_grad=True)]},
                    {"params": [ember.zeros(1, requires_grad=True)]}])
    with pytest.raises(ember.StateDictError, match="the state has 2 parameter groups, this optimizer 1"):
        a.load_state_dict(b.state_dict())


def test_parameters_without_gradients_are_left_alone():
    used, unused = ember.ones(2, requires_grad=True), ember.ones(2, requires_grad=True)
    opt = optim.SGD([used, unused], lr=0.5)
    (used * 2.0).sum().backward()
    opt.step()
    np.testing.assert_allclose(used.numpy(), [0.0, 0.0])
    np.testing.assert_allclose(unused.numpy(), [1.0, 1.0])


def test_schedulers_and_optimizers_are_registered_by_name():
    assert ember.registry.names("optimizers") == ["adadelta", "adafactor", "adagrad", "adam",
                                                  "adamax", "adamw", "asgd", "muon", "nadam",
                                                  "radam", "rmsprop", "rprop", "sgd"]
    assert set(ember.registry.names("schedulers")) == {
        "step", "exponential", "cosine", "linear_warmup", "cosine_with_warmup", "one_cycle",
        "reduce_on_plateau", "multi_step", "constant", "polynomial", "lambda", "multiplicative",
        "cosine_warm_restarts", "cyclic"}


def test_cosine_with_warmup_matches_transformers():
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch==2.13.0)")
    transformers = pytest.importorskip("transformers", reason="transformers is the oracle here")
    from transformers.optimization import get_cosine_with_min_lr_schedule_with_warmup
    p = torch.zeros(1, requires_grad=True)
    theirs = torch.optim.SGD([p], lr=0.3)
    schedule = get_cosine_with_min_lr_schedule_with_warmup(theirs, 10, 50, min_lr_rate=0.1)
    ours = optim.SGD([ember.zeros(1, requires_grad=True)], lr=0.3)
    mine = optim.CosineWithWarmupLR(ours, warmup_steps=10, total_steps=50, min_lr_ratio=0.1)
    for step in range(60):
        assert ours.param_groups[0]["lr"] == pytest.approx(theirs.param_groups[0]["lr"],
                                                           rel=1e-12), step
        theirs.step()
        schedule.step()
        mine.step()


#: PyTorch's scheduler name -> its arguments, ember's the same
TORCH_SCHEDULERS = {
    "MultiStepLR": {"milestones": [3, 7, 7], "gamma": 0.5},
    "ConstantLR": {"factor": 0.25, "total_iters": 4},
    "PolynomialLR": {"total_iters": 6, "power": 1.5},
    "LinearLR": {"start_factor": 0.2, "end_factor": 0.9, "total_iters": 5},
    "LambdaLR": {"lr_lambda": lambda t: 1.0 / (1.0 + t)},
    "MultiplicativeLR": {"lr_lambda": lambda t: 0.9 if t % 2 else 0.99},
    "CosineAnnealingWarmRestarts": {"T_0": 3, "T_mult": 2, "eta_min": 0.001},
    "CosineAnnealingWarmRestarts-1": {"T_0": 4, "eta_min": 0.01},
}


def _learning_rates_side_by_side(build, steps):
    """The learning rates of ``build(optim module, scheduler module, params)``'s
    (optimizer, scheduler) in ember and in PyTorch, before and after each of ``steps``."""
    torch = pytest.importorskip("torch")
    ours_opt, ours = build(optim, optim, [ember.zeros(1, requires_grad=True)])
    theirs_opt, theirs = build(torch.optim, torch.optim.lr_scheduler,
                               [torch.zeros(1, requires_grad=True)])
    got, want = [ours.get_last_lr()[0]], [theirs.get_last_lr()[0]]
    for _ in range(steps):
        theirs_opt.step()
        ours.step()
        theirs.step()
        got.append(ours.get_last_lr()[0])
        want.append(theirs.get_last_lr()[0])
    return got, want


@pytest.mark.parametrize("name", sorted(TORCH_SCHEDULERS))
def test_scheduler_learning_rates_are_pytorchs(name):
    """20 steps of each scheduler give PyTorch's learning rates (to rounding: PyTorch
    updates some recursively)."""
    cls, kwargs = name.split("-")[0], TORCH_SCHEDULERS[name]

    def build(lib, sched, params):
        opt = lib.SGD(params, lr=0.1)
        return opt, getattr(sched, cls)(opt, **kwargs)
    got, want = _learning_rates_side_by_side(build, 20)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("optimizer, kwargs", [
    ("SGD", {"max_lr": 0.5, "total_steps": 20}),
    ("Adam", {"max_lr": 0.5, "epochs": 4, "steps_per_epoch": 5, "anneal_strategy": "linear",
              "three_phase": True, "pct_start": 0.25}),
    ("SGD", {"max_lr": [0.5, 0.2], "total_steps": 20, "cycle_momentum": False}),
])
def test_one_cycle_moves_lr_and_momentum_as_pytorchs(optimizer, kwargs):
    _cycles_as_pytorchs(optimizer, "OneCycleLR", kwargs, 20)


@pytest.mark.parametrize("optimizer, kwargs", [
    ("SGD", {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 3}),
    ("Adam", {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 2, "step_size_down": 5,
              "mode": "triangular2"}),
    ("SGD", {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 4, "mode": "exp_range",
             "gamma": 0.9}),
])
def test_cyclic_lr_moves_lr_and_momentum_as_pytorchs(optimizer, kwargs):
    _cycles_as_pytorchs(optimizer, "CyclicLR", kwargs, 25)


def _cycles_as_pytorchs(optimizer, scheduler, kwargs, steps):
    """Learning rate and momentum (SGD's, or Adam's first beta) of two parameter groups,
    before and after each step, in ember and in PyTorch."""
    torch = pytest.importorskip("torch")
    seen = []
    for lib, sched in ((optim, optim), (torch.optim, torch.optim.lr_scheduler)):
        params = [(ember if lib is optim else torch).zeros(1, requires_grad=True)
                  for _ in range(2)]
        extra = {"momentum": 0.9} if optimizer == "SGD" else {}
        opt = getattr(lib, optimizer)([{"params": [params[0]]}, {"params": [params[1]]}],
                                      lr=0.1, **extra)
        s = getattr(sched, scheduler)(opt, **kwargs)
        run = []
        for _ in range(steps):
            run.append([(g["lr"], g.get("momentum", g.get("betas", (0,))[0]))
                        for g in opt.param_groups])
            if lib is torch.optim:
                opt.step()
            s.step()
        seen.append(run)
    np.testing.assert_allclose(np.array(seen[0]), np.array(seen[1]), rtol=1e-12, atol=1e-15)


def test_sequential_lr_is_pytorchs():
    """A warmup then a cosine (the schedules restart their counts at the milestone)."""
    def build(lib, sched, params):
        opt = lib.SGD(params, lr=0.1)
        first = sched.LinearLR(opt, start_factor=0.1, total_iters=3)
        second = sched.CosineAnnealingLR(opt, T_max=5, eta_min=0.01)
        return opt, sched.SequentialLR(opt, [first, second], milestones=[3])
    got, want = _learning_rates_side_by_side(build, 10)
    np.testing.assert_allclose(got, want, rtol=1e-12)


CHAINS = {
    "constant+exponential": lambda s, o: [s.ConstantLR(o, factor=0.1, total_iters=4),
                                          s.ExponentialLR(o, gamma=0.9)],
    "warmup+cosine(eta_min)": lambda s, o: [s.LinearLR(o, start_factor=0.2, total_iters=3),
                                            s.CosineAnnealingLR(o, T_max=4, eta_min=0.01)],
    "step+multistep+polynomial": lambda s, o: [s.StepLR(o, step_size=3, gamma=0.5),
                                               s.MultiStepLR(o, milestones=[2, 7], gamma=0.3),
                                               s.PolynomialLR(o, total_iters=12, power=1.5)],
    "multiplicative+lambda": lambda s, o: [s.MultiplicativeLR(o, lambda t: 0.97),
                                           s.LambdaLR(o, lambda t: 1.0 / (1 + t))],
    "lambda+multiplicative": lambda s, o: [s.LambdaLR(o, lambda t: 1.0 / (1 + t)),
                                           s.MultiplicativeLR(o, lambda t: 0.97)],
    "exponential+one-cycle": lambda s, o: [s.ExponentialLR(o, gamma=0.9),
                                           s.OneCycleLR(o, max_lr=1.0, total_steps=20)],
}


@pytest.mark.parametrize("chain", sorted(CHAINS))
def test_chained_scheduler_is_pytorchs_and_resumes(chain):
    """ChainedScheduler: chainable schedulers scale the lr the ones before them left
    (the cosine's eta_min recursion past its trough too), the others set theirs; 16
    steps equal PyTorch's, and a chain rebuilt from a state dict at step 7 goes on
    with the same rates."""
    def build(lib, sched, params):
        opt = lib.SGD(params, lr=0.1, momentum=0.9)
        return opt, sched.ChainedScheduler(CHAINS[chain](sched, opt), optimizer=opt)
    got, want = _learning_rates_side_by_side(build, 16)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    opt, chained = build(optim, optim, [ember.zeros(1, requires_grad=True)])
    for _ in range(7):
        chained.step()
    saved = chained.state_dict()
    opt2, resumed = build(optim, optim, [ember.zeros(1, requires_grad=True)])
    resumed.load_state_dict(saved)
    rest = []
    for _ in range(9):
        resumed.step()
        rest.append(resumed.get_last_lr()[0])
    np.testing.assert_allclose(rest, got[8:], rtol=1e-12)


def test_chained_scheduler_refuses_what_it_cannot_chain():
    p = [ember.zeros(1, requires_grad=True)]
    a, b = optim.SGD(p, lr=0.1), optim.SGD([ember.zeros(1, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="scheduler 1 is a ReduceLROnPlateau"):
        optim.ChainedScheduler([optim.StepLR(a, 2), optim.ReduceLROnPlateau(a)])
    with pytest.raises(ValueError, match=r"scheduler 1 \(StepLR\) drives another optimizer"):
        optim.ChainedScheduler([optim.StepLR(a, 2), optim.StepLR(b, 2)])
    with pytest.raises(ValueError, match="at least one scheduler"):
        optim.ChainedScheduler([])


def test_a_compiled_step_follows_lr_and_refuses_a_changed_momentum():
    p = ember.tensor([1.0, -2.0], requires_grad=True)
    opt = optim.SGD([p], lr=0.1, momentum=0.9)

    def step():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        opt.step()
        return loss
    compiled = ember.compile(step)
    schedule = optim.OneCycleLR(opt, max_lr=0.5, total_steps=10, cycle_momentum=False)
    for _ in range(4):
        compiled()
        schedule.step()
    cycling = optim.OneCycleLR(opt, max_lr=0.5, total_steps=10)    # moves the momentum
    cycling.step()
    with pytest.raises(ember.CompileError, match="'momentum' changed from 0.9"):
        compiled()


def _twin_models(torch, momentum=0.1):
    """The same small network (Linear, BatchNorm1d, Linear) in ember and in PyTorch."""
    from ember.plugins import nn
    rng = np.random.default_rng(0)
    ours = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4, momentum=momentum), nn.Linear(4, 2))
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4, momentum=momentum),
                                 torch.nn.Linear(4, 2))
    values = {k: rng.standard_normal(v.shape).astype(np.float32) if v.dtype.is_float
              else v.numpy() for k, v in ours.state_dict().items()}
    ours.load_state_dict({k: ember.tensor(v) for k, v in values.items()})
    theirs.load_state_dict({k: torch.tensor(v) for k, v in values.items()})
    return ours, theirs


@pytest.mark.parametrize("kind", ["swa", "ema", "ema-buffers", "avg_fn"])
def test_averaged_model_follows_pytorchs(kind):
    """AveragedModel over SGD steps: the averaged weights, buffers, n_averaged and the
    state-dict keys; then update_bn and SWALR's learning rates."""
    torch = pytest.importorskip("torch")
    from torch.optim import swa_utils as tswa
    swa = optim.swa_utils
    ours, theirs = _twin_models(torch)
    rng = np.random.default_rng(1)
    batches = [rng.standard_normal((6, 3)).astype(np.float32) for _ in range(5)]
    averaged = []
    for lib, utils, model in ((ember, swa, ours), (torch, tswa, theirs)):
        settings = {"swa": {}, "ema": {"multi_avg_fn": utils.get_ema_multi_avg_fn(0.9)},
                    "ema-buffers": {"multi_avg_fn": utils.get_ema_multi_avg_fn(0.9),
                                    "use_buffers": True},
                    "avg_fn": {"avg_fn": utils.get_ema_avg_fn(0.8)}}[kind]
        avg = utils.AveragedModel(model, **settings)
        opt = (optim if lib is ember else torch.optim).SGD(model.parameters(), lr=0.1)
        schedule = utils.SWALR(opt, swa_lr=0.02, anneal_epochs=3)
        lrs = []
        for x in batches:
            opt.zero_grad()
            (model(lib.tensor(x)) ** 2).mean().backward()
            opt.step()
            avg.update_parameters(model)
            schedule.step()
            lrs.append(opt.param_groups[0]["lr"])
        utils.update_bn([lib.tensor(x) for x in batches], avg)
        state = {k: v.detach().numpy().copy() for k, v in avg.state_dict().items()}
        avg.eval()
        averaged.append((state, lrs, avg(lib.tensor(batches[0])).detach().numpy()))
    (mine, my_lrs, my_out), (want, their_lrs, their_out) = averaged
    assert mine.keys() == want.keys()
    for k in want:
        np.testing.assert_allclose(mine[k], want[k], rtol=2e-5, atol=0, err_msg=k)
    np.testing.assert_allclose(my_lrs, their_lrs, rtol=1e-12)
    np.testing.assert_allclose(my_out, their_out, rtol=2e-5, atol=1e-6)


def test_modules_deep_copy_and_batch_norm_averages_cumulatively():
    import copy
    torch = pytest.importorskip("torch")
    ours, theirs = _twin_models(torch, momentum=None)
    twin = copy.deepcopy(ours)
    assert type(twin[0].weight) is type(ours[0].weight) and twin[0].weight is not ours[0].weight
    with ember.no_grad():
        twin[0].weight.copy_(ember.zeros_like(twin[0].weight))      # the original keeps its own
    assert ours[0].weight.numpy().any()
    x = np.random.default_rng(2).standard_normal((3, 6, 3)).astype(np.float32)
    for batch in x:
        ours(ember.tensor(batch))
        theirs(torch.tensor(batch))
    for name in ("running_mean", "running_var"):
        np.testing.assert_allclose(getattr(ours[1], name).numpy(),
                                   getattr(theirs[1], name).detach().numpy(), rtol=1e-5)
    with pytest.raises(ember.AutogradError, match="graph leaves"):
        copy.deepcopy(ours[0].weight * 2.0)


def test_add_param_group_unfreezes_layers_as_pytorchs():
    """A group added after some steps (fine-tuning's unfreezing) takes the constructor's
    settings where it names none and its own where it does; the trajectories match
    PyTorch's, defaults hold the constructor's settings, and a parameter already in a
    group is refused."""
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch==2.13.0)")
    x0, y0, a = np.array([1.0, -2.0]), np.array([0.5, 3.0, -1.0]), 0.7
    p, q = (ember.tensor(v, dtype=ember.float64, requires_grad=True) for v in (x0, y0))
    tp, tq = (torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (x0, y0))
    opt = optim.Adam([p], lr=0.05, betas=(0.8, 0.95))
    topt = torch.optim.Adam([tp], lr=0.05, betas=(0.8, 0.95))
    assert opt.defaults["betas"] == (0.8, 0.95) and opt.defaults["lr"] == 0.05
    for step in range(12):
        if step == 5:
            opt.add_param_group({"params": q, "lr": 0.01})
            topt.add_param_group({"params": tq, "lr": 0.01})
        for o, x, y, lib in ((opt, p, q, ember), (topt, tp, tq, torch)):
            o.zero_grad()
            (a * (x * x).sum() + (y * y * y).sum() * (1.0 if step >= 5 else 0.0)).backward()
            o.step()
    np.testing.assert_allclose(p.numpy(), tp.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(q.numpy(), tq.detach().numpy(), rtol=1e-10)
    assert opt.param_groups[1]["betas"] == (0.8, 0.95) and opt.param_groups[1]["lr"] == 0.01
    with pytest.raises(ValueError, match="appears twice"):
        opt.add_param_group({"params": [p]})
    with pytest.raises(TypeError, match="dict with 'params'"):
        opt.add_param_group([p])


def test_optimizer_hooks_are_called_as_pytorchs():
    """Step pre- and post-hooks (one optimizer's and every optimizer's, a pre-hook that
    replaces the step's arguments), state-dict and load-state-dict hooks (that rewrite
    the dictionary) and handles that remove them: the same calls, in the same order,
    with the same results, as PyTorch's."""
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch==2.13.0)")
    from torch.optim.optimizer import (register_optimizer_step_post_hook as t_every_post,
                                       register_optimizer_step_pre_hook as t_every_pre)
    from ember.plugins.optim.optimizer import (register_optimizer_step_post_hook as every_post,
                                               register_optimizer_step_pre_hook as every_pre)

    def run(lib, opt_lib, every_pre, every_post):
        calls = []
        p = lib.tensor([1.0, -2.0], dtype=lib.float64, requires_grad=True)
        opt = opt_lib.SGD([p], lr=0.1)

        def closure():
            calls.append("closure")
            opt.zero_grad()
            loss = (p * p).sum()
            loss.backward()
            return loss

        def swap_closure(o, args, kwargs):
            calls.append(("pre", len(args), sorted(kwargs)))
            return (o, closure), {}

        handles = [every_pre(lambda o, a, k: calls.append(("every pre", type(o).__name__))),
                   opt.register_step_pre_hook(swap_closure),
                   opt.register_step_post_hook(lambda o, a, k: calls.append(("post", len(a)))),
                   every_post(lambda o, a, k: calls.append("every post"))]
        loss = opt.step()                  # the pre-hook hands it the closure
        calls.append(("loss", float(loss)))
        for h in handles:
            h.remove()
        opt.step(closure)
        opt.register_state_dict_pre_hook(lambda o: calls.append("sd pre"))
        opt.register_state_dict_post_hook(lambda o, sd: {**sd, "extra": 7})
        opt.register_state_dict_post_hook(lambda o, sd: calls.append(("sd post", sorted(sd))),
                                          prepend=False)
        saved = opt.state_dict()
        opt.register_load_state_dict_pre_hook(
            lambda o, sd: {k: v for k, v in sd.items() if k != "extra"})
        opt.register_load_state_dict_pre_hook(lambda o, sd: calls.append(("load pre", sorted(sd))),
                                              prepend=True)
        opt.register_load_state_dict_post_hook(lambda o: calls.append("load post"))
        opt.load_state_dict(saved)
        calls.append(("extra" in saved, p.detach().numpy().tolist()))
        return calls

    ours = run(ember, optim, every_pre, every_post)
    theirs = run(torch, torch.optim, t_every_pre, t_every_post)
    assert ours == theirs, (ours, theirs)
    p = ember.zeros(2, requires_grad=True)
    opt = optim.SGD([p])
    opt.register_step_pre_hook(lambda o, a, k: "no")
    with pytest.raises(TypeError, match="a step pre-hook returns None or a pair"):
        opt.step()
