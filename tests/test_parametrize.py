"""torch.nn.utils' parametrizations and pad_sequence against PyTorch on every backend:
weight_norm (both forms) and spectral_norm give PyTorch's state-dict keys, and, loaded
with PyTorch's state, its outputs, gradients and power-iteration buffers; removing a
parametrization leaves the plain layer; pad_sequence pads on either side."""

import numpy as np
import pytest

import ember
from ember.plugins import nn

torch = pytest.importorskip("torch", reason="PyTorch is the oracle here (pip install torch)")


def _load(module, torch_module):
    module.load_state_dict({k: ember.tensor(v.detach().numpy())
                            for k, v in torch_module.state_dict().items()})


def _grads(module):
    return {k: p.grad.numpy() for k, p in module.named_parameters()}


CASES = [
    ("weight_norm conv1d", lambda m: m.utils.parametrizations.weight_norm(m.Conv1d(3, 4, 3)),
     (2, 3, 7)),
    ("weight_norm dim None", lambda m: m.utils.parametrizations.weight_norm(
        m.Linear(5, 4), dim=None), (3, 5)),
    ("weight_norm legacy", lambda m: m.utils.weight_norm(m.Linear(5, 4), dim=1), (3, 5)),
    ("spectral_norm linear", lambda m: m.utils.parametrizations.spectral_norm(m.Linear(5, 4)),
     (3, 5)),
    ("spectral_norm conv_transpose", lambda m: m.utils.parametrizations.spectral_norm(
        m.ConvTranspose2d(3, 2, 3), n_power_iterations=2), (1, 3, 4, 4)),
]


@pytest.mark.filterwarnings("ignore:.*weight_norm` is deprecated")
@pytest.mark.parametrize("what,build,shape", CASES, ids=[c[0] for c in CASES])
def test_parametrizations_match_torch(backend, what, build, shape):
    torch.manual_seed(0)
    t, e = build(torch.nn), build(nn)
    assert sorted(e.state_dict()) == sorted(t.state_dict())
    _load(e, t)
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    for step in range(2):                 # spectral norm advances its buffers each call
        out, tout = e(ember.tensor(x)), t(torch.tensor(x))
        np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-5, atol=1e-6,
                                   err_msg=f"{what}: step {step}")
        (out * out).sum().backward()
        (tout * tout).sum().backward()
    for k, g in _grads(e).items():
        tg = dict(t.named_parameters())[k].grad.numpy()
        np.testing.assert_allclose(g, tg, rtol=1e-4, atol=1e-5, err_msg=f"{what}: d/d{k}")
    for k, v in t.state_dict().items():
        np.testing.assert_allclose(e.state_dict()[k].numpy(), v.numpy(), rtol=1e-5, atol=1e-6,
                                   err_msg=f"{what}: {k}")
    e.eval()
    t.eval()
    np.testing.assert_allclose(e(ember.tensor(x)).numpy(), t(torch.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)


def test_removing_a_parametrization_leaves_the_plain_layer_with_its_value():
    layer = nn.utils.parametrizations.weight_norm(nn.Linear(4, 3))
    assert type(layer).__name__ == "ParametrizedLinear" and isinstance(layer, nn.Linear)
    assert nn.utils.parametrize.is_parametrized(layer, "weight")
    before = layer.weight.numpy()
    nn.utils.parametrize.remove_parametrizations(layer, "weight")
    assert type(layer) is nn.Linear and sorted(layer.state_dict()) == ["bias", "weight"]
    np.testing.assert_allclose(layer.weight.numpy(), before, rtol=1e-6)
    assert not hasattr(nn.Linear, "weight")           # the property stayed on its own class
    old = nn.utils.weight_norm(nn.Linear(4, 3))
    value = old.weight.numpy()
    nn.utils.remove_weight_norm(old)
    assert type(old) is nn.Linear
    np.testing.assert_allclose(old.weight.numpy(), value, rtol=1e-6)
    layer.weight = nn.Parameter(ember.ones(3, 4))
    with pytest.raises(ValueError, match="no parametrization"):
        nn.utils.parametrize.remove_parametrizations(layer, "weight")


def test_pad_sequence_matches_torch():
    seqs = [np.arange(k * 2, dtype=np.float32).reshape(k, 2) for k in (3, 1, 4)]
    for kw in ({}, {"batch_first": True}, {"padding_value": -1.0, "padding_side": "left"},
               {"batch_first": True, "padding_side": "left"}):
        got = nn.utils.rnn.pad_sequence([ember.tensor(s) for s in seqs], **kw)
        want = torch.nn.utils.rnn.pad_sequence([torch.tensor(s) for s in seqs], **kw)
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    with pytest.raises(ember.ShapeError, match="trailing shape"):
        nn.utils.rnn.pad_sequence([ember.ones(2, 3), ember.ones(2, 4)])
