"""ONNX control flow (If, Loop, Scan) and containers (sequences, optionals). A subgraph
is a Program (model.py) that reads the values around it; sequences are Python lists
of tensors, and an empty optional is EMPTY."""

import numpy as np

import ember

from .ops import OPS, op

#: ops whose subgraphs read the enclosing values: never folded, never run as host ops
SCOPED = frozenset({"If", "Loop", "Scan", "SequenceMap"})
EMPTY = None


def _stack(c, parts, axis=0):
    """One iteration's outputs stacked along a new axis: on the host while they all are."""
    if all(isinstance(p, np.ndarray) for p in parts):
        return np.stack(parts, axis)
    return ember.stack([c.tensor(p) for p in parts], axis)


def _iterations(body, fixed):
    """Empty lists for the per-iteration outputs of ``body`` (those after its first
    ``fixed`` outputs)."""
    return [[] for _ in body.outputs[fixed:]]


def _take(x, index, axis):
    return x[(slice(None),) * axis + (index,)]


@op("If")
def if_(c, a, cond):
    branch = a["then_branch"] if c.scalar(cond) else a["else_branch"]
    out = branch.call(c, [])
    return tuple(out) if len(out) > 1 else out[0]


@op("Loop")
def loop(c, a, trips=None, cond=None, *carried):
    """Run the body while the trip count and condition allow; carried values go round,
    per-iteration outputs are stacked."""
    body, limit = a["body"], None if trips is None else int(c.scalar(trips))
    going = True if cond is None else bool(c.scalar(cond))
    carried, i = list(carried), 0
    scans = _iterations(body, 1 + len(carried))
    while going and (limit is None or i < limit):
        out = body.call(c, [np.asarray(i, np.int64), np.asarray(going), *carried])
        going = bool(c.scalar(out[0]))
        carried = out[1:1 + len(carried)]
        for parts, value in zip(scans, out[1 + len(carried):]):
            parts.append(value)
        i += 1
    if scans and not i:
        c.refuse("Loop that runs no iteration cannot give its scan outputs a shape")
    out = carried + [_stack(c, p) for p in scans]
    return tuple(out) if len(out) > 1 else out[0]


def _scan(c, a, states, inputs):
    body = a["body"]
    n_in, n_state = len(inputs), len(states)
    in_axes = a.get("scan_input_axes", [0] * n_in)
    in_dirs = a.get("scan_input_directions", [0] * n_in)
    steps = inputs[0].shape[in_axes[0]]
    collected = _iterations(body, n_state)
    for t in range(steps):
        slices = [_take(x, steps - 1 - t if d else t, ax) for x, ax, d in zip(inputs, in_axes, in_dirs)]
        out = body.call(c, list(states) + slices)
        states = out[:n_state]
        for parts, value in zip(collected, out[n_state:]):
            parts.append(value)
    if collected and not steps:
        c.refuse("Scan over zero steps cannot give its scan outputs a shape")
    n_out = len(collected)
    out_axes = a.get("scan_output_axes", [0] * n_out)
    out_dirs = a.get("scan_output_directions", [0] * n_out)
    stacked = [_stack(c, p[::-1] if d else p, ax if ax >= 0 else ax + p[0].ndim + 1)
               for p, ax, d in zip(collected, out_axes, out_dirs)]
    return list(states) + stacked


@op("Scan")
def scan(c, a, *inputs):
    n_in = a["num_scan_inputs"]
    if c.opset >= 9:
        out = _scan(c, a, inputs[:len(inputs) - n_in], inputs[len(inputs) - n_in:])
    else:                                   # opset 8: a batch axis first, then sequence_lens
        lengths, rest = inputs[0], inputs[1:]
        if lengths is not None:
            c.refuse("Scan (opset 8) with sequence_lens is not supported")
        states, xs = rest[:len(rest) - n_in], rest[len(rest) - n_in:]
        a = dict(a, scan_input_axes=[0] * n_in)
        per = [_scan(c, a, [_take(s, b, 0) for s in states], [_take(x, b, 0) for x in xs])
               for b in range(xs[0].shape[0])]
        out = [_stack(c, list(parts)) for parts in zip(*per)]
    return tuple(out) if len(out) > 1 else out[0]


# -- sequences and optionals ------------------------------------------------------------

OPS["SequenceEmpty"] = lambda c, a: []
OPS["SequenceConstruct"] = lambda c, a, *xs: list(xs)
OPS["SequenceLength"] = lambda c, a, seq: np.asarray(len(seq), np.int64)
OPS["SequenceAt"] = lambda c, a, seq, pos: seq[int(c.scalar(pos))]


@op("SequenceInsert")
def sequence_insert(c, a, seq, x, position=None):
    out = list(seq)
    out.insert(len(out) if position is None else int(c.scalar(position)), x)
    return out


@op("SequenceErase")
def sequence_erase(c, a, seq, position=None):
    out = list(seq)
    del out[-1 if position is None else int(c.scalar(position))]
    return out


@op("SplitToSequence")
def split_to_sequence(c, a, x, split=None):
    x = c.tensor(x)
    axis = a.get("axis", 0) % x.ndim
    n = x.shape[axis]
    if split is None:
        parts = ember.split(x, n, axis=axis)
        return parts if a.get("keepdims", 1) else [ember.squeeze(p, axis) for p in parts]
    sizes = c.ints(split)
    if c.host(split).ndim == 0:
        sizes = [sizes[0]] * (n // sizes[0]) + ([n % sizes[0]] if n % sizes[0] else [])
    return list(ember.split(x, sizes, axis=axis))


@op("ConcatFromSequence")
def concat_from_sequence(c, a, seq):
    parts = [c.tensor(p) for p in seq]
    axis = a["axis"]
    if a.get("new_axis", 0):
        return ember.stack(parts, axis=axis if axis >= 0 else axis + parts[0].ndim + 1)
    return ember.concatenate(parts, axis=axis)


@op("SequenceMap")
def sequence_map(c, a, *inputs):
    body = a["body"]
    count = len(inputs[0])
    outs = [body.call(c, [x[i] if isinstance(x, list) else x for x in inputs]) for i in range(count)]
    result = [list(parts) for parts in zip(*outs)] if outs else [[] for _ in body.outputs]
    return tuple(result) if len(result) > 1 else result[0]


OPS["Optional"] = lambda c, a, x=None: EMPTY if x is None else x
OPS["OptionalGetElement"] = lambda c, a, x: x
OPS["OptionalHasElement"] = lambda c, a, x=None: np.asarray(x is not EMPTY)
