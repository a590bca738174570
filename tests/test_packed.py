"""PackedSequence and the recurrent layers on sequences of different lengths, against
PyTorch: outputs, final states, and the gradients of the inputs and weights."""

import numpy as np
import pytest

import ember
from ember.plugins import nn
from ember.plugins.nn.utils import rnn

torch = pytest.importorskip("torch", reason="PyTorch is the oracle here (pip install torch)")


def _close(got, want, what):
    got, want = np.asarray(got), want.detach().numpy()
    assert got.shape == want.shape, what
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-6 * np.abs(want).max(), err_msg=what)


@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
def test_recurrent_layers_run_each_sequence_for_its_own_length(mode):
    rng = np.random.default_rng(0)
    theirs = getattr(torch.nn, mode)(3, 4, num_layers=2, bidirectional=True, batch_first=True)
    ours = getattr(nn, mode)(3, 4, num_layers=2, bidirectional=True, batch_first=True)
    ours.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    x = rng.standard_normal((3, 5, 3)).astype(np.float32)
    h = rng.standard_normal((4, 3, 4)).astype(np.float32)
    lengths = [2, 5, 3]                          # unsorted: the layers sort and unsort
    results = []
    for lib, layer, utils in ((ember, ours, rnn), (torch, theirs, torch.nn.utils.rnn)):
        xs = lib.tensor(x, requires_grad=True)
        hx = (lib.tensor(h), lib.tensor(h * 0.5)) if mode == "LSTM" else lib.tensor(h)
        packed = utils.pack_padded_sequence(xs, lengths, batch_first=True, enforce_sorted=False)
        out, state = layer(packed, hx)
        padded, got_lengths = utils.pad_packed_sequence(out, batch_first=True, total_length=6)
        states = state if mode == "LSTM" else (state,)
        (padded.sum() * 2 + sum((s * s).sum() for s in states)).backward()
        results.append([padded, got_lengths] + list(states) + [xs.grad, layer.weight_hh_l1_reverse.grad])
    for k, (got, want) in enumerate(zip(*results)):
        _close(got.numpy(), want, f"{mode} result {k}")


def test_pack_and_pad_round_trip_and_refuse_bad_lengths():
    seqs = [np.arange(n * 2, dtype=np.float32).reshape(n, 2) + n for n in (3, 1, 4)]
    packed = rnn.pack_sequence([ember.tensor(s) for s in seqs], enforce_sorted=False)
    want = torch.nn.utils.rnn.pack_sequence([torch.tensor(s) for s in seqs], enforce_sorted=False)
    for got, their in zip(packed, want):
        _close(got.numpy(), their, "PackedSequence field")
    for got, s in zip(rnn.unpack_sequence(packed), seqs):
        np.testing.assert_array_equal(got.numpy(), s)
    padded = ember.zeros(4, 2, 2)
    with pytest.raises(ember.ShapeError, match="decreasing order"):
        rnn.pack_padded_sequence(padded, [2, 3])
    with pytest.raises(ember.ShapeError, match="at least 1"):
        rnn.pack_padded_sequence(padded, [3, 0])
    with pytest.raises(ember.ShapeError, match="exceeds the 4 time steps"):
        rnn.pack_padded_sequence(padded, [5, 3])

