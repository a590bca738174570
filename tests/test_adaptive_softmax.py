"""AdaptiveLogSoftmaxWithLoss against PyTorch's on every backend: the same state-dict
keys and shapes; loaded with PyTorch's weights, the same output, loss, gradients,
log_prob and predict; the refusals."""

import numpy as np
import pytest

import ember
from ember.plugins import nn

torch = pytest.importorskip("torch", reason="PyTorch is the oracle here (pip install torch)")


@pytest.mark.parametrize("head_bias", [False, True])
def test_adaptive_log_softmax_matches_torch(backend, head_bias):
    torch.manual_seed(0)
    t = torch.nn.AdaptiveLogSoftmaxWithLoss(16, 30, [4, 10, 20], div_value=2.0,
                                           head_bias=head_bias).double()
    dtype = ember.float64 if ember.float64 in backend.dtypes else ember.float32
    e = nn.AdaptiveLogSoftmaxWithLoss(16, 30, [4, 10, 20], div_value=2.0, head_bias=head_bias,
                                      dtype=dtype)
    assert {k: tuple(v.shape) for k, v in e.state_dict().items()} == \
        {k: tuple(v.shape) for k, v in t.state_dict().items()}
    e.load_state_dict({k: ember.tensor(v.numpy(), dtype=dtype) for k, v in t.state_dict().items()})
    rng = np.random.default_rng(1)
    x = rng.standard_normal((9, 16))
    target = np.array([0, 3, 4, 9, 10, 19, 20, 29, 5])
    ex = ember.tensor(x, dtype=dtype, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    out, tout = e(ex, ember.tensor(target)), t(tx, torch.tensor(target))
    rtol = 1e-10 if dtype is ember.float64 else 1e-5
    np.testing.assert_allclose(out.output.numpy(), tout.output.detach().numpy(), rtol=rtol)
    np.testing.assert_allclose(out.loss.numpy(), tout.loss.detach().numpy(), rtol=rtol)
    out.loss.backward()
    tout.loss.backward()
    np.testing.assert_allclose(ex.grad.numpy(), tx.grad.numpy(), rtol=rtol * 10, atol=rtol)
    for k, p in e.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), dict(t.named_parameters())[k].grad.numpy(),
                                   rtol=rtol * 10, atol=rtol, err_msg=k)
    lp = e.log_prob(ember.tensor(x, dtype=dtype)).numpy()
    np.testing.assert_allclose(lp, t.log_prob(torch.tensor(x)).detach().numpy(), rtol=rtol * 10)
    np.testing.assert_allclose(np.exp(lp).sum(1), 1.0, rtol=rtol * 10)
    np.testing.assert_array_equal(e.predict(ember.tensor(x, dtype=dtype)).numpy(),
                                  t.predict(torch.tensor(x)).numpy())
    one = e(ember.tensor(x[0], dtype=dtype), ember.tensor(target[:1]))
    np.testing.assert_allclose(one.output.numpy(), out.output.numpy()[0], rtol=rtol)


def test_bad_cutoffs_targets_and_shapes_are_refused():
    with pytest.raises(ValueError, match="cutoffs"):
        nn.AdaptiveLogSoftmaxWithLoss(8, 10, [5, 3])
    with pytest.raises(ValueError, match="cutoffs"):
        nn.AdaptiveLogSoftmaxWithLoss(8, 10, [10])
    m = nn.AdaptiveLogSoftmaxWithLoss(8, 10, [3])
    with pytest.raises(ember.IndexingError, match=r"\[0, 9\]"):
        m(ember.ones(2, 8), ember.tensor([1, 10]))
    with pytest.raises(ember.ShapeError, match="input must be"):
        m(ember.ones(2, 7), ember.tensor([1, 2]))
