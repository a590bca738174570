"""Mixed precision beyond the per-backend suite (ember.testing.suite.test_amp): GradScaler
against PyTorch's, step for step; loss scaling inside a compiled step; the Trainer's and
`ember train`'s precision setting."""

import numpy as np
import pytest

import ember
from ember.plugins.nn import Linear, Sequential, ReLU
from ember.plugins.optim import SGD, Adam, GradScaler, clip_grad_norm_
from ember.plugins.train import Trainer

#: per step: the gradient's scale (inf: an overflowing step, which is skipped)
GRADIENTS = [np.inf, 1.0, 1.0, 1.0, np.nan, 1.0, 1.0, 1.0, 1.0, -np.inf, 1.0]


def _ember_run(optimizer_cls, **kwargs):
    p = ember.tensor([0.5, -1.0, 2.0], requires_grad=True)
    opt = optimizer_cls([p], lr=0.1, **kwargs)
    scaler = GradScaler(init_scale=1024.0, growth_interval=3)
    trail = []
    for k in GRADIENTS:
        loss = scaler.scale((p * p).sum() * 0.5)
        loss.backward()
        p.grad = p.grad * k        # an inf or NaN gradient, as float16 overflow gives
        scaler.step(opt)
        scaler.update()
        opt.zero_grad()
        trail.append((scaler.get_scale(), p.numpy().copy()))
    return trail, scaler


def _torch_run(torch, optimizer_cls, **kwargs):
    p = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)
    opt = optimizer_cls([p], lr=0.1, **kwargs)
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0, growth_interval=3)
    trail = []
    for k in GRADIENTS:
        scaler.scale((p * p).sum() * 0.5).backward()
        p.grad = p.grad * k
        scaler.step(opt)
        scaler.update()
        opt.zero_grad()
        trail.append((scaler.get_scale(), p.detach().numpy().copy()))
    return trail, scaler


@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_grad_scaler_follows_pytorchs_step_for_step(name):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch==2.13.0)")
    kwargs = {"momentum": 0.9} if name == "sgd" else {}
    ours, scaler = _ember_run(SGD if name == "sgd" else Adam, **kwargs)
    theirs, reference = _torch_run(torch, torch.optim.SGD if name == "sgd" else torch.optim.Adam,
                                   **kwargs)
    for step, ((s, p), (ts, tp)) in enumerate(zip(ours, theirs)):
        assert s == ts, f"step {step}: scale {s}, PyTorch {ts}"
        err = np.linalg.norm(p - tp) / np.linalg.norm(tp)     # float32 rounding only
        assert err < 1e-5, f"{name}: parameter after step {step} is {err:.1e} off: {p} vs {tp}"
    assert scaler.state_dict() == reference.state_dict()


def test_grad_scaler_state_dict_resumes_and_errors_are_named():
    _, scaler = _ember_run(SGD)
    again = GradScaler()
    again.load_state_dict(scaler.state_dict())
    assert again.state_dict() == scaler.state_dict()
    with pytest.raises(ember.StateDictError, match="_growth_tracker"):
        GradScaler().load_state_dict({"scale": 2.0})
    with pytest.raises(ValueError, match="backoff_factor"):
        GradScaler(backoff_factor=2.0)
    with pytest.raises(ValueError, match="init_scale must be a finite number > 0, got -1"):
        GradScaler(init_scale=-1)
    p = ember.tensor([1.0], requires_grad=True)
    opt = SGD([p])
    (p * 2).sum().backward()
    scaler = GradScaler()
    scaler.unscale_(opt)
    with pytest.raises(RuntimeError, match="once per step"):
        scaler.unscale_(opt)


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_scaled_steps_read_nothing_back_once_stepped(monkeypatch, momentum):
    """After the first step (whose skip must make no state), unscale, step and update run
    on the device: no host read, with state (momentum) or without (plain SGD)."""
    p = ember.tensor([1.0, -2.0], requires_grad=True)
    opt, scaler = SGD([p], lr=0.1, momentum=momentum), GradScaler(init_scale=8.0)

    def step(k):
        scaler.scale((p * p).sum() * k).backward()
        scaler.step(opt)
        scaler.update()
        opt.zero_grad()
    step(1.0)
    backend = p.backend
    reads = []
    original = backend.to_numpy
    monkeypatch.setattr(backend, "to_numpy", lambda buf: reads.append(1) or original(buf))
    for k in (1.0, np.inf, 1.0):
        step(k)
    monkeypatch.undo()
    assert not reads, f"{len(reads)} host reads in three scaled steps"
    assert scaler.get_scale() == 4.0        # backed off once, on the inf step


def test_unscale_before_clipping_clips_the_true_gradient():
    p = ember.tensor([3.0, 4.0], requires_grad=True)
    scaler = GradScaler(init_scale=256.0)
    scaler.scale((p * p).sum() * 0.5).backward()       # gradient (3, 4), norm 5, scaled 256x
    scaler.unscale_(SGD([p]))
    norm = clip_grad_norm_([p], 1.0)
    assert norm.item() == pytest.approx(5.0, rel=1e-6)
    np.testing.assert_allclose(p.grad.numpy(), [0.6, 0.8], rtol=1e-5)


def test_loss_scaling_replays_in_a_compiled_step():
    """A compiled float16-autocast step with a GradScaler: replays skip and back off on an
    overflowing batch exactly as the eager step does, reading nothing back."""
    results = []
    for compiled in (False, True):
        ember.manual_seed(0)
        model = Sequential(Linear(4, 8), ReLU(), Linear(8, 1))
        opt = Adam(model.parameters(), lr=0.01)
        scaler = GradScaler(init_scale=2.0 ** 10, growth_interval=2)

        def step(x, y):
            with ember.autocast(ember.float16):
                loss = ((model(x) - y) ** 2).mean()
            opt.zero_grad()
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            return loss

        run = ember.compile(step) if compiled else step
        rng = np.random.default_rng(0)
        trail = []
        for i in range(8):
            x = rng.standard_normal((16, 4)).astype(np.float32) * (3e4 if i == 3 else 1.0)
            run(ember.tensor(x), ember.tensor(x.sum(axis=1, keepdims=True)))
            trail.append((scaler.get_scale(), model[0].weight.numpy().copy()))
        results.append(trail)
    for step, ((s, w), (cs, cw)) in enumerate(zip(*results)):
        assert s == cs, f"step {step}: eager scale {s}, compiled {cs}"
        np.testing.assert_allclose(cw, w, rtol=1e-5, err_msg=f"weights after step {step}")
    assert results[0][3][0] < results[0][2][0], "the overflowing batch backs the scale off"


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_trainer_trains_in_low_precision(precision):
    ember.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 6)).astype(np.float32)
    y = (x[:, :3].sum(axis=1) > 0).astype(np.int64)
    from ember.plugins.data import DataLoader, TensorDataset
    loader = DataLoader(TensorDataset(ember.tensor(x), ember.tensor(y)), 32, shuffle=True)
    model = Sequential(Linear(6, 16), ReLU(), Linear(16, 2))
    trainer = Trainer(progress=False, precision=precision)
    history = trainer.fit(model, "cross_entropy", Adam(model.parameters(), lr=0.02), loader,
                          loader, epochs=4)
    assert history["val_loss"][-1] < 0.6 * history["val_loss"][0], history["val_loss"]
    assert all(p.dtype is ember.float32 for p in model.parameters())
    assert (trainer.scaler is not None) == (precision == "fp16")
    with pytest.raises(ValueError, match="precision must be one of fp32, bf16, fp16"):
        Trainer(precision="int8")


def test_float32_matmul_precision_is_pytorchs_setting_and_keys_compiled_traces():
    """set/get_float32_matmul_precision as torch's: "highest" by default, a name outside
    its three refused by name; a compiled function traces once per precision (a CUDA graph
    keeps the compute type it was captured with), and on the CPU backends every precision
    computes in float32."""
    torch = pytest.importorskip("torch")
    assert ember.get_float32_matmul_precision() == torch.get_float32_matmul_precision() == "highest"
    with pytest.raises(ValueError, match="highest, high, medium.*'fast'"):
        ember.set_float32_matmul_precision("fast")
    traces = []

    @ember.compile
    def product(a, b):
        traces.append(1)
        return a @ b

    a = ember.randn(8, 8)
    want = [product(a, a).numpy() for _ in range(3)][0]
    first = len(traces)
    try:
        ember.set_float32_matmul_precision("high")
        assert ember.get_float32_matmul_precision() == "high"
        for _ in range(3):
            assert np.array_equal(product(a, a).numpy(), want)
        assert len(traces) == 2 * first          # traced anew, as for a new signature
    finally:
        ember.set_float32_matmul_precision("highest")
    product(a, a)
    assert len(traces) == 2 * first            # the first trace kept
