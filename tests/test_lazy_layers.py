"""The lazy layers against PyTorch's: each reads its input size from the first input
(batched or not) or from a state dict loaded first, becomes the ordinary layer with
the parameters that layer would have drawn from the same seed, and from then on is
that layer: its state dict keys and shapes are PyTorch's, and it trains."""

import numpy as np
import pytest

import ember
from ember.plugins import nn
from ember.plugins.optim import SGD

torch = pytest.importorskip("torch", reason="PyTorch is the oracle here (pip install torch)")

#: (lazy class name, its arguments, the ordinary layer's leading size argument, an input
#: shape with that size on the channel axis (or last, for Linear), an unbatched shape)
CASES = [
    ("LazyLinear", (3,), 5, (4, 5), (5,)),
    ("LazyConv1d", (4, 3), 2, (2, 2, 9), (2, 9)),
    ("LazyConv2d", (4, 3), {"groups": 2, "in": 6}, (1, 6, 7, 7), (6, 7, 7)),
    ("LazyConv3d", (2, 2), 3, (1, 3, 4, 4, 4), (3, 4, 4, 4)),
    ("LazyConvTranspose1d", (4, 3), 2, (2, 2, 9), (2, 9)),
    ("LazyConvTranspose2d", (2, 3), 3, (1, 3, 5, 5), (3, 5, 5)),
    ("LazyConvTranspose3d", (2, 2), 3, (1, 3, 3, 3, 3), (3, 3, 3, 3)),
    ("LazyBatchNorm1d", (), 4, (6, 4), None),
    ("LazyBatchNorm2d", (), 3, (2, 3, 4, 4), None),
    ("LazyBatchNorm3d", (), 3, (2, 3, 2, 2, 2), None),
    ("LazyInstanceNorm1d", (), 4, (2, 4, 6), (4, 6)),
    ("LazyInstanceNorm2d", {"affine": True}, 3, (2, 3, 4, 4), (3, 4, 4)),
    ("LazyInstanceNorm3d", (), 3, (1, 3, 3, 3, 3), (3, 3, 3, 3)),
]


def _split(args, size):
    kwargs = {}
    if isinstance(args, dict):
        args, kwargs = (), dict(args)
    if isinstance(size, dict):
        kwargs["groups"] = size["groups"]
        size = size["in"]
    return tuple(args), kwargs, size


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_a_lazy_layer_becomes_the_layer_it_stands_for(case):
    name, args, size, shape, unbatched = case
    args, kwargs, size = _split(args, size)
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)

    lazy = getattr(nn, name)(*args, **kwargs)
    assert not list(lazy.parameters()) and name in repr(lazy)
    ember.manual_seed(7)
    out = lazy(ember.tensor(x))
    concrete_cls = getattr(nn, name[len("Lazy"):])
    assert type(lazy) is concrete_cls
    ember.manual_seed(7)
    twin = concrete_cls(size, *args, **{**getattr(nn, name).defaults, **kwargs})
    assert list(twin.state_dict()) == list(lazy.state_dict())
    np.testing.assert_allclose(out.numpy(), twin(ember.tensor(x)).numpy(), rtol=1e-6)
    for (k, a), (j, b) in zip(lazy.state_dict().items(), twin.state_dict().items()):
        assert k == j                  # (running statistics too: one training step each)
        np.testing.assert_array_equal(a.numpy(), b.numpy())

    t = getattr(torch.nn, name)(*args, **kwargs)
    t(torch.tensor(x))
    theirs = {k: tuple(v.shape) for k, v in t.state_dict().items()}
    assert {k: tuple(v.shape) for k, v in lazy.state_dict().items()} == theirs
    assert type(t).__name__ == concrete_cls.__name__

    if unbatched is not None:
        one = getattr(nn, name)(*args, **kwargs)
        one(ember.tensor(x.reshape(shape)[0] if len(unbatched) < len(shape) else x))
        assert type(one) is concrete_cls
        assert {k: tuple(v.shape) for k, v in one.state_dict().items()} == theirs


def test_a_state_dict_loaded_first_sizes_nested_lazy_layers_and_then_they_train():
    ember.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 4 * 4, 2))
    state = model.state_dict()
    lazy = nn.Sequential(nn.LazyConv2d(8, 3), nn.ReLU(), nn.Flatten(), nn.LazyLinear(2))
    lazy.load_state_dict(state)
    assert [type(m).__name__ for m in lazy] == ["Conv2d", "ReLU", "Flatten", "Linear"]
    x = ember.randn(5, 3, 6, 6)
    np.testing.assert_array_equal(lazy(x).numpy(), model(x).numpy())

    dry = nn.Sequential(nn.LazyLinear(16), nn.Tanh(), nn.LazyLinear(1))
    data = ember.randn(64, 7)
    target = data.sum(1, keepdim=True)
    dry(data)                                  # a dry run sizes it; then the optimizer
    opt = SGD(dry.parameters(), lr=0.05)
    first = None
    for _ in range(100):
        opt.zero_grad()
        loss = ((dry(data) - target) ** 2).mean()
        loss.backward()
        opt.step()
        first = first if first is not None else loss.item()
    assert loss.item() < 0.2 * first


def test_an_input_without_a_channel_axis_is_refused_by_name():
    with pytest.raises(ember.ShapeError, match="no axis 1"):
        nn.LazyBatchNorm1d()(ember.ones(4))
