"""Recurrent layers with PyTorch's arguments, gate order, initialization and state-dict
keys (weight_ih_l0, bias_hh_l1_reverse, weight_hr_l0...), so its checkpoints load
unchanged: RNN, LSTM and GRU, and their cells. A layer projects the whole sequence's
input in one GEMM, then steps through time with one small GEMM per step, as tensor
code that autograd and ember.compile (unrolled) go through on every backend."""

import math

import numpy as np

import ember
from ember.errors import ShapeError

from . import functional as F
from . import init
from .module import LayerExample, Module, Parameter
from .packed import PackedSequence, packed_like, padded_in_sorted_order

#: gates per cell: how many blocks of rows weight_ih and weight_hh stack
GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _step(mode, x_proj, h, c, w_hh, b_hh, w_hr=None):
    """One time step from the input's projection ``x_proj`` (x W_ih^T + b_ih) and the
    previous state: (h, c), c None but for LSTM. PyTorch's gate orders: LSTM i, f, g, o;
    GRU r, z, n, its new gate n = tanh(x_n + r (h W_hn^T + b_hn))."""
    h_proj = h @ w_hh.T
    if b_hh is not None:
        h_proj = h_proj + b_hh
    if mode == "LSTM":
        i, f, g, o = ember.split(x_proj + h_proj, 4, -1)
        c = ember.sigmoid(f) * c + ember.sigmoid(i) * ember.tanh(g)
        h = ember.sigmoid(o) * ember.tanh(c)
        return (h if w_hr is None else h @ w_hr.T), c
    if mode == "GRU":
        (xr, xz, xn), (hr, hz, hn) = ember.split(x_proj, 3, -1), ember.split(h_proj, 3, -1)
        r, z = ember.sigmoid(xr + hr), ember.sigmoid(xz + hz)
        n = ember.tanh(xn + r * hn)
        return n + z * (h - n), None                     # (1 - z) n + z h
    pre = x_proj + h_proj
    return (ember.tanh(pre) if mode == "RNN_TANH" else ember.relu(pre)), None


def _check_size(name, x, size):
    if x.ndim == 0 or x.shape[-1] != size:
        raise ShapeError(f"{name}: input of shape {x.shape} must end in input_size {size}")


class RNNBase(Module):
    """The stacked, optionally bidirectional recurrence of ``mode``. Init: every weight
    and bias ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as PyTorch's."""

    mode = "RNN_TANH"

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, dtype=None, backend=None):
        super().__init__()
        name = type(self).__name__
        for what, v, least in (("input_size", input_size, 0), ("hidden_size", hidden_size, 1),
                               ("num_layers", num_layers, 1), ("proj_size", proj_size, 0)):
            if not isinstance(v, int) or isinstance(v, bool) or v < least:
                raise ValueError(f"{name}: {what} must be an int >= {least}, got {v!r}")
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"{name}: dropout must be in [0, 1], got {dropout}")
        if proj_size and (self.mode != "LSTM" or proj_size >= hidden_size):
            raise ValueError(f"{name}: proj_size must be 0, or (LSTM only) below hidden_size "
                             f"{hidden_size}, got {proj_size}")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.proj_size = bidirectional, proj_size
        out = proj_size or hidden_size
        bound = 1.0 / math.sqrt(hidden_size)
        rows = GATES[self.mode] * hidden_size
        for layer in range(num_layers):
            for suffix in ("", "_reverse")[:2 if bidirectional else 1]:
                ins = input_size if layer == 0 else out * (2 if bidirectional else 1)
                shapes = {"weight_ih": (rows, ins), "weight_hh": (rows, out)}
                if bias:
                    shapes.update(bias_ih=(rows,), bias_hh=(rows,))
                if proj_size:
                    shapes["weight_hr"] = (proj_size, hidden_size)
                for kind, shape in shapes.items():
                    setattr(self, f"{kind}_l{layer}{suffix}",
                            Parameter(init.uniform(shape, -bound, bound, dtype, backend)))

    def _weights(self, layer, suffix):
        get = (lambda kind: getattr(self, f"{kind}_l{layer}{suffix}", None))
        return get("weight_ih"), get("bias_ih"), get("weight_hh"), get("bias_hh"), \
            get("weight_hr")

    def forward(self, input, hx=None):
        """input (L, N, input_size), (N, L, input_size) with batch_first, or unbatched
        (L, input_size), or a PackedSequence; hx the initial state (num_layers *
        directions, N, hidden), zeros if None (LSTM: a pair (h0, c0)). Returns (output,
        h_n), LSTM's h_n a pair (h_n, c_n); output is packed when input was."""
        name = type(self).__name__
        if isinstance(input, PackedSequence):
            return self._forward_packed(name, input, hx)
        if input.ndim not in (2, 3):
            raise ShapeError(f"{name}: input must be (L, N, input_size), (N, L, input_size) "
                             f"with batch_first, or (L, input_size), got {input.shape}")
        _check_size(name, input, self.input_size)
        batched = input.ndim == 3
        x = (input.transpose(0, 1) if self.batch_first else input) if batched \
            else input.unsqueeze(1)
        if x.shape[0] == 0:
            raise ShapeError(f"{name}: the sequence {input.shape} has no time steps")
        h0, c0 = self._initial(hx, name, batched, self._count(), x.shape[1], x)
        x, state = self._layers(x, h0, c0)
        if not batched:
            return x.squeeze(1), (tuple(s.squeeze(1) for s in state) if self.mode == "LSTM"
                                  else state.squeeze(1))
        return (x.transpose(0, 1) if self.batch_first else x), state

    def _count(self):
        return self.num_layers * (2 if self.bidirectional else 1)

    def _layers(self, x, h0, c0, valid=None):
        """Every layer and direction over x (L, N, ins): the last layer's outputs and
        the final state (h_n, or LSTM's pair). ``valid`` (L, N, 1), for packed input:
        where each sequence has a step; elsewhere the state holds."""
        directions = 2 if self.bidirectional else 1
        last_h, last_c = [], []
        for layer in range(self.num_layers):
            if layer and self.dropout and self.training:
                x = F.dropout(x, self.dropout, True)
            outputs = []
            for d, suffix in enumerate(("", "_reverse")[:directions]):
                k = layer * directions + d
                seq, h, c = self._run(x, suffix == "_reverse", self._weights(layer, suffix),
                                      h0[k], None if c0 is None else c0[k], valid)
                outputs.append(seq)
                last_h.append(h)
                last_c.append(c)
            x = outputs[0] if directions == 1 else ember.concatenate(outputs, axis=-1)
        h_n = ember.stack(last_h)
        return x, ((h_n, ember.stack(last_c)) if self.mode == "LSTM" else h_n)

    def _forward_packed(self, name, packed, hx):
        """A PackedSequence through the layers: padded in its sorted order, each
        sequence run for its own length, packed again; hx and h_n in the batch's order."""
        x, lengths = padded_in_sorted_order(packed)
        _check_size(name, x, self.input_size)
        n = x.shape[1]
        steps = np.arange(x.shape[0])[:, None] < np.asarray(lengths)[None, :]
        valid = ember.tensor(steps[..., None], backend=x.backend)
        if hx is not None:
            hx = self._reordered(hx, packed.sorted_indices)
        h0, c0 = self._initial(hx, name, True, self._count(), n, x)
        out, state = self._layers(x, h0, c0, valid)
        return packed_like(packed, out), self._reordered(state, packed.unsorted_indices)

    def _reordered(self, state, order):
        """A state (LSTM's pair, or h) with its batch axis permuted by ``order`` (None:
        as it is)."""
        if order is None:
            return state
        if self.mode == "LSTM":
            return tuple(ember.index_select(s, 1, order) for s in state)
        return ember.index_select(state, 1, order)

    def _initial(self, hx, name, batched, count, n, x):
        """(h0, c0) as (count, N, size) tensors, zeros where not given."""
        out = self.proj_size or self.hidden_size
        zeros = (lambda size: ember.zeros((count, n, size), dtype=x.dtype, backend=x.backend))
        if hx is None:
            return zeros(out), (zeros(self.hidden_size) if self.mode == "LSTM" else None)
        given = hx if self.mode == "LSTM" else (hx, None)
        if self.mode == "LSTM" and not (isinstance(hx, (tuple, list)) and len(hx) == 2):
            raise ShapeError(f"{name}: hx must be a pair (h0, c0)")
        states = []
        for what, s, size in zip(("h0", "c0"), given, (out, self.hidden_size)):
            if s is None:
                states.append(None)
                continue
            want = (count, n, size) if batched else (count, size)
            if s.shape != want:
                raise ShapeError(f"{name}: {what} has shape {s.shape}; expected {want} "
                                 f"(num_layers * directions, batch, size)")
            states.append(s if batched else s.unsqueeze(1))
        return states[0], states[1]

    def _run(self, x, reverse, weights, h, c, valid=None):
        """One direction of one layer over the sequence x (L, N, ins): the outputs
        (L, N, out) in time order, and the last state (each sequence's own last, where
        ``valid`` marks their steps)."""
        w_ih, b_ih, w_hh, b_hh, w_hr = weights
        projected = x @ w_ih.T
        if b_ih is not None:
            projected = projected + b_ih
        steps = range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])
        outputs = [None] * x.shape[0]
        for t in steps:
            h_new, c_new = _step(self.mode, projected[t], h, c, w_hh, b_hh, w_hr)
            if valid is None:
                h, c = h_new, c_new
            else:
                h = ember.where(valid[t], h_new, h)
                c = None if c is None else ember.where(valid[t], c_new, c)
            outputs[t] = h
        return ember.stack(outputs), h, c

    def extra_repr(self):
        extra = "".join(f", {k}={getattr(self, k)}" for k, default in (
            ("num_layers", 1), ("bias", True), ("batch_first", False), ("dropout", 0.0),
            ("bidirectional", False), ("proj_size", 0)) if getattr(self, k) != default)
        return f"{self.input_size}, {self.hidden_size}{extra}"

    @classmethod
    def example(cls):
        return LayerExample({"input_size": 4, "hidden_size": 3, "num_layers": 2,
                             "bidirectional": True}, shape=(3, 2, 4), bad_shape=(3, 2, 5),
                            call=lambda layer, x: layer(x)[0])


class RNN(RNNBase):
    """h_t = tanh(x_t W_ih^T + b_ih + h_(t-1) W_hh^T + b_hh) (or relu), stacked."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, dtype=None, backend=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, 0, dtype, backend)
        self.nonlinearity = nonlinearity
        self.mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"     # one gate either way


class LSTM(RNNBase):
    """Long short-term memory (Hochreiter & Schmidhuber 1997), PyTorch's gates i, f, g, o;
    ``proj_size`` projects h (LSTMP, Sak et al. 2014)."""

    mode = "LSTM"


class GRU(RNNBase):
    """Gated recurrent unit (Cho et al. 2014), PyTorch's gates r, z, n."""

    mode = "GRU"

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, dtype=None, backend=None):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, 0, dtype, backend)


class RNNCellBase(Module):
    """One step of ``mode``: weight_ih, weight_hh, bias_ih, bias_hh as PyTorch's cells.
    Init: U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""

    mode = "RNN_TANH"

    def __init__(self, input_size, hidden_size, bias=True, dtype=None, backend=None):
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        bound, rows = 1.0 / math.sqrt(hidden_size), GATES[self.mode] * hidden_size
        shapes = {"weight_ih": (rows, input_size), "weight_hh": (rows, hidden_size)}
        if bias:
            shapes.update(bias_ih=(rows,), bias_hh=(rows,))
        for kind, shape in shapes.items():
            setattr(self, kind, Parameter(init.uniform(shape, -bound, bound, dtype, backend)))
        if not bias:
            self.bias_ih = self.bias_hh = None

    def forward(self, input, hx=None):
        """input (N, input_size) or (input_size,); hx (N, hidden_size), zeros if None
        (LSTMCell: a pair (h, c)). Returns h' (LSTMCell: (h', c'))."""
        name = type(self).__name__
        if input.ndim not in (1, 2):
            raise ShapeError(f"{name}: input must be (N, input_size) or (input_size,), got "
                             f"{input.shape}")
        _check_size(name, input, self.input_size)
        batched = input.ndim == 2
        x = input if batched else input.unsqueeze(0)
        if hx is None:
            states = [ember.zeros((x.shape[0], self.hidden_size), dtype=x.dtype,
                                  backend=x.backend)] * (2 if self.mode == "LSTM" else 1)
        else:
            if self.mode == "LSTM" and not (isinstance(hx, (tuple, list)) and len(hx) == 2):
                raise ShapeError(f"{name}: hx must be a pair (h, c)")
            states = list(hx) if self.mode == "LSTM" else [hx]
            want = input.shape[:-1] + (self.hidden_size,)
            for s in states:
                if s.shape != want:
                    raise ShapeError(f"{name}: the state has shape {s.shape}; expected {want}")
            states = [s if batched else s.unsqueeze(0) for s in states]
        projected = x @ self.weight_ih.T
        if self.bias_ih is not None:
            projected = projected + self.bias_ih
        h, c = _step(self.mode, projected, states[0], states[-1], self.weight_hh, self.bias_hh)
        if not batched:
            h, c = h.squeeze(0), (None if c is None else c.squeeze(0))
        return (h, c) if self.mode == "LSTM" else h

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")

    @classmethod
    def example(cls):
        return LayerExample({"input_size": 4, "hidden_size": 3}, shape=(2, 4), bad_shape=(2, 5),
                            call=lambda layer, x: layer(x)[0] if cls.mode == "LSTM" else layer(x))


class RNNCell(RNNCellBase):
    """h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu)."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", dtype=None,
                 backend=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got "
                             f"{nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias, dtype, backend)
        self.nonlinearity = nonlinearity
        self.mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"     # one gate either way


class LSTMCell(RNNCellBase):
    """One LSTM step; forward takes and returns the pair (h, c)."""

    mode = "LSTM"


class GRUCell(RNNCellBase):
    """One GRU step."""

    mode = "GRU"
