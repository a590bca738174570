"""ember.func.vmap: a function of slices mapped over a dimension of its arguments, as
torch.func.vmap. The function runs once, on the first slice, recorded; the recording then
runs once over the whole batch with each primitive batched (ember.batching), so
vmap(grad(f)) gives per-sample gradients in one pass. Where results need gradients, the
batched results join the graph as one node whose backward is itself a vmap: of the
function's vector-Jacobian product, slice by slice, recomputing the forward. Where the
function cannot be batched (it reads values on the host, changes tensors outside it,
draws random numbers while results need gradients, or reaches a primitive with no
batching rule), it runs once per slice and the results are stacked, with the same
semantics.
"""

import functools

from . import batching, dispatch
from . import random as _random
from .autograd import (AutogradError, _topological, enable_grad, grad as _autograd_grad,
                       is_grad_enabled)
from .creation import zeros_like
from .custom_function import Function
from .errors import ShapeError
from .pytree import flatten, tensors_of, unflatten

__all__ = ["stack_module_state", "vmap"]


def check_mode(name, chunk_size, randomness=None):
    """Refuse a chunk_size or randomness that is none of the ones torch.func takes."""
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size < 1):
        raise AutogradError(f"{name}: chunk_size must be a positive int or None, "
                            f"got {chunk_size!r}")
    if randomness not in (None, "error", "different", "same"):
        raise AutogradError(f"{name}: randomness must be 'error', 'different' or 'same', "
                            f"got {randomness!r}")


def _dims_for(name, value, d):
    """One dimension (or None) per tensor of ``value``, in tensors_of's order, from
    ``d``: an int or None for all of them, or a structure matching value's."""
    if d is None or isinstance(d, int):
        return [d] * len(tensors_of(value)[0])
    if isinstance(value, dict) and isinstance(d, dict) and value.keys() == d.keys():
        return [x for k in value for x in _dims_for(name, value[k], d[k])]
    if (isinstance(value, (tuple, list)) and isinstance(d, (tuple, list))
            and len(value) == len(d)):
        return [x for v, e in zip(value, d) for x in _dims_for(name, v, e)]
    raise ShapeError(f"vmap: {name} {d!r} does not match the structure it describes "
                     f"(a {type(value).__name__}); give an int, None, or the same structure")


def vmap(func, in_dims=0, out_dims=0, randomness="error", *, chunk_size=None):
    """func mapped over a dimension of its arguments (torch.func.vmap): ``in_dims`` per
    argument (an int, None for an argument passed whole, or a nested structure), the
    results stacked along ``out_dims``: one batched pass, or one call per slice where
    func cannot be batched (see the module).
    ``randomness``: "error" refuses a func that draws random numbers, "different" lets
    each slice draw its own, "same" gives every slice the same draws. ``chunk_size``:
    at most that many slices a batched pass (less memory for the batch's values)."""
    check_mode("vmap", chunk_size, randomness)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        leaves, spec = tensors_of(list(args))
        if not isinstance(in_dims, (int, type(None), tuple)):
            raise ShapeError(f"vmap: in_dims must be an int, None or a tuple with one entry "
                             f"per argument, got {in_dims!r}")
        dims = _dims_for("in_dims", list(args), list(in_dims) if isinstance(in_dims, tuple)
                         else in_dims)
        sizes = set()
        for t, d in zip(leaves, dims):
            if d is not None:
                if not -t.ndim <= d < max(t.ndim, 1) or t.ndim == 0:
                    raise ShapeError(f"vmap: in_dim {d} is out of range for an argument of "
                                     f"shape {t.shape}")
                sizes.add(t.shape[d])
        if not sizes:
            raise ShapeError("vmap: no argument is mapped (every in_dim is None or no "
                             "argument is a tensor); map at least one tensor")
        if len(sizes) > 1:
            raise ShapeError(f"vmap: the mapped dimensions have different sizes "
                             f"{sorted(sizes)}; they must all be the same")
        size = sizes.pop()
        if size == 0:
            raise ShapeError("vmap: the mapped dimension has size 0; func never runs, so "
                             "the results' shapes are unknown")
        state = _random.get_rng_state()
        first = [t.select(d, 0) if d is not None else t for t, d in zip(leaves, dims)]
        call_args = unflatten(spec, first)
        trace, result = batching.record(func, call_args, kwargs)
        _refuse_draws(randomness, state)
        if trace is not None:
            batched = _batched(trace, result, _Call(func, spec, kwargs, leaves, first, dims),
                               size, (randomness, chunk_size, state), out_dims)
            if batched is not None:
                return batched
        if trace is None or not trace.kept or dispatch.active() is not None:
            # the loop starts over from the first slice: the recording kept no graph, or
            # an outer one (ember.compile) has to see the first slice computed too
            _random.set_rng_state(state)
            result = None
        results = [] if result is None else [result]
        for b in range(len(results), size):
            if randomness == "same":
                _random.set_rng_state(state)
            sliced = [t.select(d, b) if d is not None else t for t, d in zip(leaves, dims)]
            results.append(func(*unflatten(spec, sliced), **kwargs))
            _refuse_draws(randomness, state)
        return _stacked(results, out_dims)
    return wrapper


def _refuse_draws(randomness, state):
    """randomness="error" and func drew random numbers since ``state``: say what to pass."""
    if randomness == "error" and _random.get_rng_state() != state:
        raise AutogradError("vmap: func draws random numbers and randomness='error'; pass "
                            "randomness='different' (each slice its own draws) or 'same'")


class _Call:
    """One vmap call: func, its arguments' structure ``spec`` and ``kwargs``, the
    argument tensors ``leaves``, their first slices and their in_dims."""

    def __init__(self, func, spec, kwargs, leaves, first, dims):
        self.func, self.spec, self.kwargs = func, spec, kwargs
        self.leaves, self.first, self.dims = leaves, first, dims


def _batched(trace, result, call, size, mode, out_dims):
    """vmap's results from batched runs of func's recording (ember.batching), or None
    where it has none: its results are not all tensors, a recorded call has no batching
    rule, or results that need gradients come with random draws, chunks or several
    dtypes. ``mode``: (randomness, chunk_size, the random state before the first
    slice)."""
    from .ops import concatenate
    randomness, chunk_size, state = mode
    if any(kind == "C" for kind in _kinds(trace.out_spec)):
        return None
    live = [k for k, needs in enumerate(trace.out_grad) if needs]
    if live and (chunk_size or any(n.name == "random" for n in trace.graph.nodes)
                 or len({trace.out_meta[k][1] for k in live}) > 1):
        return None
    whole = {id(s): t.movedim(d, 0) for t, s, d in zip(call.leaves, call.first, call.dims)
             if d is not None}
    inputs = []
    flatten((unflatten(call.spec, call.first), call.kwargs), inputs)
    dims = _dims_for("out_dims", result, out_dims)
    if any(dims[k] is None for k in live):
        return None         # only the first slice's: its gradient is that slice's alone
    step = chunk_size or size

    def forward():
        nonlocal state
        parts = []
        for start in range(0, size, step):       # chunk_size samples a pass (memory)
            stop = min(start + step, size)
            args = [(dispatch.read(whole[id(s)][start:stop] if step < size else whole[id(s)]),
                     True) if id(s) in whole else (dispatch.read(s), False) for s in inputs]
            _random.set_rng_state(state)  # "same": every chunk draws what the first slice did
            outs = batching.run(trace, args, stop - start, randomness)
            parts.append(batching.assemble(trace, outs, stop - start, dims))
            if randomness == "different":
                state = _random.get_rng_state()
        return [part[0] if d is None or len(parts) == 1 else
                concatenate([p[k] for p in parts], axis=d) for k, (d, part) in
                enumerate(zip(dims, zip(*parts)))]
    try:
        if not live:
            return unflatten(trace.out_spec, forward())
        # shared by every slice: what func read from outside, keyword tensors, and unmapped
        # arguments (which func may also read from outside: differentiated as themselves)
        shared = [r() for r in trace.state_in] + tensors_of(call.kwargs)[0] + [
            t for t, d in zip(call.leaves, call.dims) if d is None]
        outside = list({id(t): t for t in shared if t is not None and id(t) in trace.reached
                        and t.requires_grad and t.dtype.is_inexact}.values())
        if _nested(outside, call.leaves):
            return None
        return unflatten(trace.out_spec, _Mapped.joined(forward, call, live, dims, outside))
    except batching.Unbatchable:
        return None


def _nested(outside, args):
    """Whether a tensor func reads from outside was used to compute another one, or an
    argument: the backward, which differentiates by calling func again (not by the
    buffers it read), would then count the path through the later one twice."""
    ids = {id(t) for t in outside}
    return any(id(n) in ids for t in [*outside, *args] if t.requires_grad and t._ctx is not None
               for n in _topological([t]) if n is not t)


class _Mapped(Function):
    """The batched results that need gradients, as one node over the tensors they
    depend on: the mapped arguments (whole) and the outside tensors func read. Its
    backward is a vmap of func's vector-Jacobian product, slice by slice."""

    @staticmethod
    def joined(forward, call, live, dims, outside):
        """forward()'s tensors, those at positions ``live`` joined to the graph."""
        positions = [k for k, (t, d) in enumerate(zip(call.leaves, call.dims))
                     if d is not None and t.requires_grad and t.dtype.is_inexact]
        args = [call.leaves[k] for k in positions]      # the mapped ones that need gradients
        computed = {}

        def run():
            computed["all"] = forward()
            return tuple(computed["all"][k] for k in live)
        linked = _Mapped.apply(run, (call, live, dims, positions, outside), *args, *outside)
        tensors = list(computed["all"])
        for k, t in zip(live, linked if isinstance(linked, tuple) else (linked,)):
            tensors[k] = t
        return tensors

    @staticmethod
    def forward(ctx, run, how, *tensors):
        ctx.how = how
        return run()

    @staticmethod
    def backward(ctx, *grads):
        call, live, dims, positions, outside = ctx.how
        create_graph = is_grad_enabled()       # a gradient that is differentiated again

        from .func import _tracked      # (ember.func imports this module)

        def vjp_of_slice(*flat):
            slices, cotangents = flat[:len(call.leaves)], flat[len(call.leaves):]
            with enable_grad():
                tracked = list(slices)
                for k in positions:     # a fresh node, linked to an outer pass's slice
                    tracked[k] = _tracked("vmap", slices[k])
                out = tensors_of(call.func(*unflatten(call.spec, tracked), **call.kwargs))[0]
                targets = [tracked[k] for k in positions] + list(outside)
                found = _autograd_grad([out[k] for k in live], targets, list(cotangents),
                                       allow_unused=True, create_graph=create_graph)
            return tuple(zeros_like(t) if g is None else g for g, t in zip(found, targets))

        in_dims = tuple(call.dims) + tuple(dims[k] for k in live)
        out_dims = tuple(call.dims[k] for k in positions) + (0,) * len(outside)
        per_slice = vmap(vjp_of_slice, in_dims=in_dims, out_dims=out_dims)(*call.leaves, *grads)
        shared = [g.sum(0) for g in per_slice[len(positions):]]  # the slices' sum
        return (None, None) + tuple(per_slice[:len(positions)]) + tuple(shared)


def _stacked(results, out_dims):
    """Each output tensor of the per-slice results, stacked along its out_dim."""
    from .ops import stack
    outs = [tensors_of(r) for r in results]
    leaves0, spec = outs[0]
    if any(kind == "C" for kind in _kinds(spec)):
        raise ShapeError("vmap: func must return tensors (or tuples, lists and dicts of "
                         "them); it returned another value")
    dims = _dims_for("out_dims", results[0], out_dims)
    return unflatten(spec, [leaves0[i] if d is None else stack([o[0][i] for o in outs], axis=d)
                            for i, d in enumerate(dims)])


def stack_module_state(models):
    """(params, buffers) of like modules stacked along a new first axis, by name, as
    torch.func.stack_module_state: with ``vmap`` over a functional_call, an ensemble of
    models runs as one. The stacked parameters are new leaves that require grad where
    every model's do."""
    from .ops import stack
    models = list(models)
    if not models:
        raise ShapeError("stack_module_state: expected at least one model, got none")
    if len({type(m) for m in models}) > 1 or len({m.training for m in models}) > 1:
        raise ShapeError("stack_module_state: the models must be of one class and all in "
                         "training mode or all in eval mode")
    out = []
    for kind in ("named_parameters", "named_buffers"):
        tables = [dict(getattr(m, kind)()) for m in models]
        if any(t.keys() != tables[0].keys() for t in tables):
            raise ShapeError(f"stack_module_state: the models' {kind[6:]} differ in name")
        stacked = {}
        for name in tables[0]:
            values = [t[name] for t in tables]
            grads = {v.requires_grad for v in values}
            if len(grads) > 1:
                raise AutogradError(f"stack_module_state: {name} requires grad in some models "
                                    f"and not in others; make them agree")
            value = stack([v.detach() for v in values])
            stacked[name] = value.requires_grad_(grads.pop()) if kind == "named_parameters" \
                else value
        out.append(stacked)
    return tuple(out)


def _kinds(spec):
    """The kinds of spec's leaves: "T" for a tensor, "C" for anything else."""
    kind, body = spec
    if kind in ("T", "C"):
        yield kind
        return
    for _, v in body:
        yield from _kinds(v)
