"""Activation checkpointing (PyTorch's torch.utils.checkpoint): a segment of the network
keeps only its inputs for backward and runs again when backward reaches it, trading
one more forward pass of the segment for the memory its activations held.

checkpoint runs the function once with gradients recorded, notes which tensors from
outside it needs gradients for (its tensor arguments, and the parameters and other
tensors it closes over), and lets the recorded graph go: only the outputs stay. When
backward reaches them it reruns the function on the saved inputs, with the random
state it first saw (so dropout draws the same masks), and differentiates that rerun
with ember.autograd.grad: with ``.backward()``, with ``autograd.grad``, and with
``create_graph`` alike. Inside ember.compile the function runs as it is: a compiled
graph keeps what its replay needs.
"""

from .. import random as _random
from ..autograd import (AutogradError, Function, enable_grad, grad,
                        is_grad_enabled, _sequence)
from ..compile import is_compiling
from ..func import _tracked
from ..pytree import tensors_of, unflatten

__all__ = ["checkpoint", "checkpoint_sequential"]


def _outside(outputs, start):
    """The tensors requiring grad that the outputs were computed from and that were
    made before op number ``start``: where the segment's graph meets the rest."""
    seen, stack, found = set(), list(outputs), []
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        if t._ctx is None or t._ctx.seq < start:
            found.append(t)
        else:
            stack.extend(i for i in t._ctx.inputs if i.requires_grad)
    return found


class _Segment(Function):
    """The outputs, already computed, joined to the segment's outside tensors; backward
    reruns the segment and differentiates the rerun."""

    @staticmethod
    def forward(ctx, segment, *outside):
        ctx.segment = segment
        return tuple(segment.outputs)

    @staticmethod
    def backward(ctx, *grads):
        return (None,) + ctx.segment.rerun_grads(grads)


class _Run:
    """One checkpointed call: its function and arguments, the random state it began
    with, its outputs' shapes, and the outside tensors it needs gradients for."""

    def __init__(self, function, args, kwargs, preserve_rng_state):
        self.function, self.args, self.kwargs = function, args, kwargs
        self.rng = _random.get_rng_state() if preserve_rng_state else None

    def first(self):
        start = next(_sequence)
        with enable_grad():
            result = self.function(*self.args, **self.kwargs)
        outs, self.spec = tensors_of(result)
        live = [o for o in outs if o.requires_grad]
        self.outside = _outside(live, start)
        self.shapes = [o.shape for o in outs]
        self.outputs = [o.detach() for o in outs]
        return result

    def rerun_grads(self, grads):
        """Run the function again on stand-ins for the saved inputs (aliases of those
        that require grad, so that a create_graph pass reaches them) and differentiate
        it with respect to them and to the tensors it closes over."""
        arg_leaves, arg_spec = tensors_of((self.args, self.kwargs))
        now = _random.get_rng_state()
        if self.rng is not None:
            _random.set_rng_state(self.rng)
        try:
            with enable_grad():
                stand_ins = {id(a): _tracked("checkpoint", a) if a.requires_grad
                             else a.detach() for a in arg_leaves}
                args, kwargs = unflatten(arg_spec, [stand_ins[id(a)] for a in arg_leaves])
                outs, _ = tensors_of(self.function(*args, **kwargs))
        finally:
            _random.set_rng_state(now)
        if [o.shape for o in outs] != self.shapes:
            raise AutogradError(f"checkpoint: the rerun gave outputs of shapes "
                                f"{[o.shape for o in outs]}, the first run "
                                f"{self.shapes}; the function must compute the same "
                                f"way each time it runs")
        wrt = [stand_ins.get(id(t), t) for t in self.outside]
        pairs = [(o, g) for o, g in zip(outs, grads) if o.requires_grad and g is not None]
        if not pairs:
            return (None,) * len(wrt)
        return grad([o for o, _ in pairs], wrt, [g for _, g in pairs],
                    create_graph=is_grad_enabled(), allow_unused=True)


def checkpoint(function, *args, use_reentrant=None, preserve_rng_state=True, **kwargs):
    """``function(*args, **kwargs)``, whose activations are not kept for backward but
    recomputed when backward needs them (see the module). ``use_reentrant`` is
    PyTorch's choice between two implementations; ember has one, which behaves as
    PyTorch's non-reentrant one whatever is passed."""
    if is_compiling() or not is_grad_enabled():
        return function(*args, **kwargs)
    run = _Run(function, args, kwargs, preserve_rng_state)
    result = run.first()
    if not run.outside:
        return result
    linked = _Segment.apply(run, *run.outside)
    linked = linked if isinstance(linked, tuple) else (linked,)
    return unflatten(run.spec, list(linked))


def checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs):
    """A Sequential (or a list of modules) run in ``segments`` pieces, each but the last
    checkpointed: memory for about one segment's activations at a time."""
    functions = list(functions.children()) if hasattr(functions, "children") else list(functions)
    if not isinstance(segments, int) or not 1 <= segments <= max(len(functions), 1):
        raise AutogradError(f"checkpoint_sequential: segments must be an int from 1 to the "
                            f"number of functions ({len(functions)}), got {segments!r}")
    size = -(-len(functions) // segments)
    pieces = [functions[i:i + size] for i in range(0, len(functions), size)]

    def run_piece(piece):
        def run(x):
            for f in piece:
                x = f(x)
            return x
        return run
    for k, piece in enumerate(pieces):
        last = k == len(pieces) - 1
        input = run_piece(piece)(input) if last else checkpoint(
            run_piece(piece), input, use_reentrant=use_reentrant, **kwargs)
    return input
