"""F.linear_cross_entropy and nn.LinearCrossEntropyLoss (PyTorch 2.13's) against
PyTorch: the plain path and the chunked one, values and the gradients of input,
weight and bias, on every backend."""

import numpy as np
import pytest

import ember
from ember.plugins import nn
from ember.plugins.nn import functional as F

torch = pytest.importorskip("torch", reason="PyTorch is the oracle here (pip install torch)")
TF = torch.nn.functional

N, D, C = 37, 8, 50


def _data(dtype=np.float64):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, D)).astype(dtype)
    w = (rng.standard_normal((C, D)) * 0.3).astype(dtype)
    b = (rng.standard_normal(C) * 0.1).astype(dtype)
    t = rng.integers(0, C, N)
    t[[3, 10]] = -100
    return x, w, b, t, rng.uniform(0.5, 2, C).astype(dtype)


def _run(lib, fn, x, w, b, t, backend=None, upstream=None, **kwargs):
    """The loss and the gradients of x, w and b, with ``upstream`` as the loss's
    gradient (a tensor for reduction='none')."""
    make = (lambda a, **k: torch.tensor(a, **k)) if lib is torch else \
        (lambda a, **k: ember.tensor(a, backend=backend, **k))
    leaves = [make(a, requires_grad=True) for a in (x, w, b)]
    loss = fn(leaves[0], leaves[1], make(t), linear_bias=leaves[2],
              **{k: make(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()})
    (loss * make(upstream)).sum().backward()
    return [loss.detach().numpy() if lib is torch else loss.numpy()] + \
        [leaf.grad.numpy() for leaf in leaves]


CHUNKS = [None, nn.LinearCrossEntropyOptions(batch_chunk_size=5, chunking_method=None),
          nn.LinearCrossEntropyOptions()]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("chunks", range(len(CHUNKS)))
def test_values_and_gradients_are_pytorchs(backend, reduction, weighted, chunks):
    """Plain, 5 rows a chunk and PyTorch's "auto" chunking; class weights and ignored
    (-100) targets: the loss and three gradients within 1e-5 of the largest (float32)."""
    x, w, b, t, cw = _data(np.float32)
    extra = {"reduction": reduction, **({"weight": cw} if weighted else {})}
    upstream = np.random.default_rng(1).standard_normal(N if reduction == "none" else ())
    ours = _run(ember, F.linear_cross_entropy, x, w, b, t, backend, upstream.astype(np.float32),
                options=CHUNKS[chunks], **extra)
    theirs = _run(torch, TF.linear_cross_entropy, x, w, b, t, None, upstream.astype(np.float32),
                  **extra)
    for name, a, e in zip(("loss", "input", "weight", "bias"), ours, theirs):
        np.testing.assert_allclose(a, e, rtol=0, atol=1e-5 * np.abs(e).max(), err_msg=name)


def test_chunking_is_exact_in_float64_and_keeps_16_bit_inputs_in_float32():
    """float64: every chunk size gives the plain path's numbers to 1e-15. bfloat16 input:
    the chunks' logits and sums are float32 (PyTorch's auto acc_dtype), so the loss is
    the float32 loss of the same bfloat16 values, rounded once."""
    x, w, b, t, _ = _data()
    plain = _run(ember, F.linear_cross_entropy, x, w, b, t, upstream=np.array(1.0))
    for rows in (1, 4, 36, 37, 100):
        opts = nn.LinearCrossEntropyOptions(batch_chunk_size=rows, chunking_method=None)
        got = _run(ember, F.linear_cross_entropy, x, w, b, t, upstream=np.array(1.0),
                   options=opts)
        for a, e in zip(got, plain):
            np.testing.assert_allclose(a, e, rtol=1e-14, atol=1e-15)
    if ember.bfloat16.np is None:
        pytest.skip("ml_dtypes is not installed")
    xb, wb = (ember.tensor(a, dtype=ember.bfloat16) for a in (x, w))
    loss = F.linear_cross_entropy(xb, wb, ember.tensor(t), options=nn.LinearCrossEntropyOptions())
    want = TF.linear_cross_entropy(torch.tensor(x).bfloat16().float(),
                                   torch.tensor(w).bfloat16().float(), torch.tensor(t))
    assert loss.dtype is ember.bfloat16
    assert abs(float(loss.item()) - want.item()) <= 2 ** -8 * abs(want.item())


def test_k_dimensional_probabilities_and_smoothing_take_the_plain_path():
    """A (C, d1, d2, in) weight (K-dimensional loss), probability targets and label
    smoothing: PyTorch's values and gradients (through linear then cross_entropy)."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((6, 5))
    w, b = rng.standard_normal((4, 3, 2, 5)), rng.standard_normal((4, 3, 2))
    t = rng.integers(0, 4, (6, 3, 2))
    p = rng.dirichlet(np.ones(4), (6,))
    cases = [(w, b, t, {}), (w[:, 0, 0], b[:, 0, 0], p, {"label_smoothing": 0.1}),
             (w[:, 0, 0], b[:, 0, 0], t[:, 0, 0], {"label_smoothing": 0.2,
                                                   "options": nn.LinearCrossEntropyOptions()})]
    for w_, b_, t_, kw in cases:
        ours = _run(ember, F.linear_cross_entropy, x, w_, b_, t_, upstream=np.array(1.0), **kw)
        kw.pop("options", None)
        with np.errstate(all="ignore"):
            theirs = _run(torch, TF.linear_cross_entropy, x, w_, b_, t_, upstream=np.array(1.0),
                          **kw)
        for a, e in zip(ours, theirs):
            np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-14)


def test_the_loss_module_loads_pytorchs_state_and_gives_its_loss():
    """PyTorch's keys (linear.weight flat as (C d1..dK, in), linear.bias) and values."""
    torch.manual_seed(0)
    theirs = torch.nn.LinearCrossEntropyLoss(5, 4, out_features=(3,), bias=True,
                                             label_smoothing=0.05).double()
    ours = nn.LinearCrossEntropyLoss(5, 4, out_features=(3,), bias=True, label_smoothing=0.05,
                                     dtype=ember.float64)
    state = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
    assert sorted(state) == sorted(ours.state_dict()) == ["linear.bias", "linear.weight"]
    ours.load_state_dict({k: ember.tensor(v) for k, v in state.items()})
    rng = np.random.default_rng(3)
    x, t = rng.standard_normal((7, 5)), rng.integers(0, 4, (7, 3))
    want = theirs(torch.tensor(x), torch.tensor(t)).item()
    assert abs(ours(ember.tensor(x), ember.tensor(t)).item() - want) <= 1e-14 * abs(want)


def test_bad_shapes_and_options_are_named():
    x, w = ember.zeros(3, 4), ember.zeros(6, 4)
    t = ember.tensor([0, 1, 2])
    with pytest.raises(ember.ShapeError, match=r"input \(3, 5\) and linear_weight \(6, 4\) must end"):
        F.linear_cross_entropy(ember.zeros(3, 5), w, t)
    with pytest.raises(ember.ShapeError, match=r"linear_bias must have shape \(6,\)"):
        F.linear_cross_entropy(x, w, t, linear_bias=ember.zeros(5))
    with pytest.raises(ember.ShapeError, match="target class 9 is out of range for 6 classes"):
        F.linear_cross_entropy(x, w, ember.tensor([0, 9, 1]),
                               options=nn.LinearCrossEntropyOptions())
    with pytest.raises(ValueError, match="batch_chunk_size 3 and chunking_method"):
        F.linear_cross_entropy(x, w, t, options=nn.LinearCrossEntropyOptions(
            batch_chunk_size=3, chunking_method="aspect_ratio"))
    for bad in ({"acc_policy": "fast"}, {"chunking_method": "square"},
                {"batch_chunk_size": 0}):
        with pytest.raises(ValueError, match="LinearCrossEntropyOptions"):
            nn.LinearCrossEntropyOptions(**bad)
