"""Batches of sequences of different lengths for the recurrent layers, PyTorch's
PackedSequence (torch.nn.utils.rnn): the time steps of every sequence laid out step
by step, the longest sequences first, with how many sequences reach each step.

An RNN, LSTM or GRU given one runs each sequence for its own length only: the state
stops at a sequence's last step (so h_n is each sequence's own last state) and the
reverse direction starts there. The functions here convert between it and padded
batches; the gradients flow through all of them."""

from collections import namedtuple

import numpy as np

import ember
from ember.errors import ShapeError


class PackedSequence(namedtuple("PackedSequence",
                                ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])):
    """``data`` (sum of the lengths, *): step 0 of every sequence, then step 1 of those
    that have one...; ``batch_sizes``: how many sequences have each step (int64);
    ``sorted_indices``: the batch order by decreasing length (None when the batch was
    sorted already), ``unsorted_indices`` its inverse."""

    __slots__ = ()

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None and sorted_indices is not None:
            unsorted_indices = ember.argsort(sorted_indices)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    @property
    def sizes(self):
        """batch_sizes as host ints."""
        return [int(b) for b in self.batch_sizes.numpy()]


def _host_lengths(lengths, batch):
    values = lengths.numpy() if isinstance(lengths, ember.Tensor) else np.asarray(lengths)
    if values.ndim != 1 or len(values) != batch:
        raise ShapeError(f"pack_padded_sequence: {values.size} lengths for a batch of {batch}; "
                         f"give one length per sequence")
    if values.size and values.min() < 1:
        raise ShapeError(f"pack_padded_sequence: every length must be at least 1, got "
                         f"{values.min()}")
    return values.astype(np.int64)


def _index(values, like):
    return ember.tensor(np.asarray(values, dtype=np.int64), backend=like.backend)


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):  # noqa: A002
    """A padded batch (L, B, *) (or (B, L, *) with batch_first) and each sequence's
    length as a PackedSequence; with enforce_sorted=False the lengths may come in any
    order (the batch is sorted, and the order kept to undo it)."""
    x = input.transpose(0, 1) if batch_first else input
    if x.ndim < 2:
        raise ShapeError(f"pack_padded_sequence: input must be (L, B, *), got {input.shape}")
    n = _host_lengths(lengths, x.shape[1])
    if n.max() > x.shape[0]:
        raise ShapeError(f"pack_padded_sequence: a length {n.max()} exceeds the {x.shape[0]} "
                         f"time steps of the input")
    sorted_indices = None
    if enforce_sorted:
        if np.any(np.diff(n) > 0):
            raise ShapeError("pack_padded_sequence: the lengths must be in decreasing order "
                             "when enforce_sorted is True; pass enforce_sorted=False to have "
                             "the batch sorted")
    else:
        order = np.argsort(-n, kind="stable")
        sorted_indices = _index(order, x)
        x, n = ember.index_select(x, 1, sorted_indices), n[order]
    sizes = [int((n > t).sum()) for t in range(int(n.max()))]
    return PackedSequence(_packed_data(x, sizes), ember.tensor(np.asarray(sizes, dtype=np.int64)),
                          sorted_indices)


def _packed_data(padded, sizes):
    """The first sizes[t] rows of each time step of ``padded`` (L, B, *), one after another."""
    return ember.concatenate([padded[t, :b] for t, b in enumerate(sizes)], 0)


def padded_in_sorted_order(sequence, padding_value=0.0, total_length=None):
    """(L, B, *) padded from a PackedSequence, the batch in its sorted order, and the
    sorted lengths (host ints)."""
    sizes = sequence.sizes
    data, batch = sequence.data, sizes[0]
    steps = len(sizes) if total_length is None else total_length
    if steps < len(sizes):
        raise ShapeError(f"pad_packed_sequence: total_length {total_length} is shorter than "
                         f"the longest sequence, {len(sizes)} steps")
    rows, start = [], 0
    for b in sizes:
        row = data[start:start + b]
        if b < batch:
            row = ember.concatenate([row, ember.full((batch - b,) + data.shape[1:],
                                                     padding_value, dtype=data.dtype,
                                                     backend=data.backend)], 0)
        rows.append(row)
        start += b
    rows += [ember.full((batch,) + data.shape[1:], padding_value, dtype=data.dtype,
                        backend=data.backend)] * (steps - len(sizes))
    lengths = [sum(1 for b in sizes if b > k) for k in range(batch)]
    return ember.stack(rows), lengths


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """The padded batch (L, B, *) (or (B, L, *)) of a PackedSequence, in the batch's
    original order, and each sequence's length (an int64 tensor)."""
    padded, lengths = padded_in_sorted_order(sequence, padding_value, total_length)
    lengths = np.asarray(lengths, dtype=np.int64)
    if sequence.unsorted_indices is not None:
        padded = ember.index_select(padded, 1, sequence.unsorted_indices)
        lengths = lengths[sequence.unsorted_indices.numpy()]
    return (padded.transpose(0, 1) if batch_first else padded), ember.tensor(lengths)


def pack_sequence(sequences, enforce_sorted=True):
    """A list of tensors (L_i, *) as one PackedSequence."""
    from .utils import rnn
    sequences = list(sequences)
    return pack_padded_sequence(rnn.pad_sequence(sequences), [s.shape[0] for s in sequences],
                                enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences):
    """A PackedSequence as the list of its sequences (L_i, *), in the original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return [padded[k, :int(n)] for k, n in enumerate(lengths.numpy())]


def packed_like(sequence, padded):
    """``padded`` (L, B, *) in ``sequence``'s sorted order, packed with its layout."""
    return PackedSequence(_packed_data(padded, sequence.sizes), sequence.batch_sizes,
                          sequence.sorted_indices, sequence.unsorted_indices)
