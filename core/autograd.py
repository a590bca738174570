"""Ops and reverse-mode autograd.

An Op's ``forward`` takes backend buffers and returns one; its ``backward``
takes the output gradient and the input Tensors and returns one gradient
Tensor (or None) per input. Because backward is written in Tensor operations,
running it with grad mode on records a graph of its own: that is all
``create_graph=True`` and ``ember.grad`` need for higher derivatives.
"""

import functools
import itertools
import threading
import traceback
import weakref

from . import amp, dispatch
from .errors import AutogradError, BackendError, DTypeError
from .tensor import Tensor, wrap


class _GradMode(threading.local):
    enabled = True


_mode = _GradMode()


def is_grad_enabled():
    return _mode.enabled


class _SetGrad:
    """Context manager and decorator that sets grad mode for its extent."""

    def __init__(self, enabled):
        self.enabled = enabled
        self._prev = []

    def __enter__(self):
        self._prev.append(_mode.enabled)
        _mode.enabled = self.enabled

    def __exit__(self, *exc):
        _mode.enabled = self._prev.pop()

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with _SetGrad(self.enabled):
                return fn(*args, **kwargs)
        return wrapper


class set_grad_enabled(_SetGrad):
    """torch.set_grad_enabled: sets grad mode at once when called, and as a context
    manager (or decorator) restores the mode it found on leaving."""

    def __init__(self, mode):
        super().__init__(bool(mode))
        self._found = _mode.enabled
        _mode.enabled = self.enabled

    def __enter__(self):
        self._prev.append(self._found)

    def __call__(self, fn):
        _mode.enabled = self._found            # as a decorator it acts per call only
        return super().__call__(fn)


def no_grad():
    """Nothing inside records a graph (evaluation, optimizer updates)."""
    return _SetGrad(False)


def enable_grad():
    return _SetGrad(True)


#: id(leaf tensor) -> functions called with it once backward has accumulated its .grad
#: (by id: tensors compare elementwise, so they cannot be weak dictionary keys)
_grad_hooks = {}
#: numbers recorded ops in the order they ran (backward goes newest first)
_sequence = itertools.count()
#: functions to call once, when the backward pass in progress ends
_end_of_backward = []


class _Passes(threading.local):
    """How many backward passes this thread is inside (one runs inside another when a
    backward recomputes and differentiates, as checkpoint's does)."""
    depth = 0


_passes = _Passes()


def register_grad_hook(t, fn):
    """Call ``fn(t)`` each time a backward pass has accumulated leaf ``t``'s gradient
    (data-parallel training starts reducing a bucket as soon as it is complete)."""
    if id(t) not in _grad_hooks:
        _grad_hooks[id(t)] = []
        weakref.finalize(t, _grad_hooks.pop, id(t), None)
    _grad_hooks[id(t)].append(fn)


#: id(tensor) -> HookTable of functions of its gradient, run once the gradient is complete
#: and before it is used (Tensor.register_hook)
_tensor_hooks = {}


def register_tensor_hook(t, fn):
    """Run ``fn(grad)`` on ``t``'s gradient in each backward pass, before it accumulates
    into .grad or flows on; a result other than None replaces the gradient."""
    if id(t) not in _tensor_hooks:
        from .hooks import HookTable
        _tensor_hooks[id(t)] = HookTable()
        weakref.finalize(t, _tensor_hooks.pop, id(t), None)
    return _tensor_hooks[id(t)].add(fn)


def _hooked(t, g):
    for fn in list(_tensor_hooks[id(t)].values()):
        out = fn(g)
        if out is not None:
            if not isinstance(out, Tensor) or out.shape != g.shape:
                got = out.shape if isinstance(out, Tensor) else type(out).__name__
                raise AutogradError(f"a hook registered with register_hook returned {got}; it "
                                    f"must return None or a gradient of shape {g.shape}")
            g = out
    return g


def queue_callback(fn):
    """Call ``fn()`` once, after the backward pass in progress has finished; False when
    it was queued already (so the first caller of a pass knows it is the first)."""
    if fn in _end_of_backward:
        return False
    _end_of_backward.append(fn)
    return True


class Op:
    """One differentiable operation; subclasses set forward and backward."""

    __slots__ = ("backend", "inputs", "_out", "seq")
    #: True when backward needs the output tensor (exp, tanh, softmax...)
    saves_output = False
    #: True when it only moves or selects values (reshape, slice, where, cast...), so it
    #: takes dtypes that are only stored (float8) too
    moves = False
    #: True when backward is right for complex tensors too: PyTorch's convention, the
    #: gradient of a real loss L is dL/dx + i dL/dy (for holomorphic f, g * conj(f'(z)));
    #: ops that only move values are right as they stand
    complex_grad = False

    def forward(self, *bufs):
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def backward(self, g, *inputs):
        raise NotImplementedError(f"{type(self).__name__}.backward")

    @property
    def out(self):
        """The output Tensor; alive whenever backward runs (its consumer holds it)."""
        return self._out()

    def __repr__(self):
        return type(self).__name__


def run(op, inputs, shape, dtype):
    """Apply ``op`` to checked inputs on one backend and record it for backward."""
    backend = inputs[0]._backend
    for t in inputs:
        if t._backend is not backend:   # every op meets here: layers' and losses' own too
            raise BackendError(f"{type(op).__name__}: tensors are on different backends "
                               f"({backend.device} and {t._backend.device}); move one with "
                               f".to({backend.device!r})")
        if t.dtype.stores_only and not op.moves:
            raise stored_only(type(op).__name__, t.dtype)
    if dispatch.active_count and dispatch.active() is not None:   # ember.compile records
        op.backend = dispatch.primitives(backend)
        out = wrap(op.forward(*[dispatch.read(t) for t in inputs]), backend, shape, dtype)
    else:
        op.backend = backend
        out = wrap(op.forward(*[t._data for t in inputs]), backend, shape, dtype)
    if _mode.enabled and dtype.is_inexact:
        for t in inputs:
            if t.requires_grad:
                if not (op.moves or op.complex_grad) and (
                        dtype.is_complex or any(i.dtype.is_complex for i in inputs)):
                    raise AutogradError(
                        f"{type(op).__name__}: ember has no gradient of this op for complex "
                        f"tensors; compute it from the parts (ember.real, ember.imag, "
                        f"ember.abs) or under ember.no_grad()")
                link(out, op, inputs)
                break
    return out


def stored_only(name, dtype):
    """The error for computing on a dtype that is only stored (float8)."""
    return DTypeError(f"{name}: {dtype.name} values are stored, moved and cast, not computed "
                      f"on (as in PyTorch); cast first, e.g. x.to(ember.float32)")


def link(out, op, inputs):
    """Record that ``op`` made ``out`` from ``inputs``, for backward."""
    op.inputs = inputs
    op.seq = next(_sequence)
    if _anomaly.traces is not None:
        _anomaly.traces[op.seq] = traceback.format_stack()[:-3]
    out._ctx = op
    out.requires_grad = True
    if op.saves_output:
        op._out = weakref.ref(out)


def _newest_first(t):
    ctx = t._ctx
    return 1 if ctx is None else -ctx.seq     # leaves last


def _topological(roots):
    """Tensors that need a gradient, each after every tensor computed from it: those
    reachable from ``roots``, newest op first (an op is numbered after its inputs')."""
    found, stack = {}, list(roots)
    while stack:
        t = stack.pop()
        if id(t) in found:
            continue
        found[id(t)] = t
        ctx = t._ctx
        if ctx is not None:
            stack.extend(i for i in ctx.inputs if i.requires_grad and id(i) not in found)
    return sorted(found.values(), key=_newest_first)


def run_backward(roots, grads, create_graph=False, wanted=None):
    """Propagate ``grads`` from ``roots``.

    With ``wanted`` (a list of tensors) return their gradients and leave every
    ``.grad`` alone; otherwise accumulate into leaves' (and retained) ``.grad``.
    """
    acc = {}
    for r, g in zip(roots, grads):
        acc[id(r)] = acc[id(r)] + g if id(r) in acc else g
    wanted_ids = {id(w): i for i, w in enumerate(wanted)} if wanted is not None else None
    found = [None] * len(wanted) if wanted is not None else None
    _passes.depth += 1
    try:
        _propagate(roots, acc, create_graph, wanted_ids, found)
    except BaseException:
        if _passes.depth == 1:
            _end_of_backward.clear()     # a failed pass finishes nothing
        raise
    finally:
        _passes.depth -= 1
    while _end_of_backward and not _passes.depth:   # a pass run inside another one's
        _end_of_backward.pop(0)()                   # backward (checkpoint) ends nothing
    return found


def _propagate(roots, acc, create_graph, wanted_ids, found):
    # each backward computes in its forward's dtypes: autocast, if on, is not reapplied
    with _SetGrad(create_graph), amp.autocast(enabled=False):
        order = _topological(roots)
        needed = None if wanted_ids is None else _leading_to(order, wanted_ids)
        for t in order:
            g = acc.pop(id(t), None)
            if g is None or (needed is not None and id(t) not in needed):
                continue
            if _tensor_hooks and id(t) in _tensor_hooks:
                g = _hooked(t, g)
            ctx = t._ctx
            if wanted_ids is not None:
                if id(t) in wanted_ids:
                    found[wanted_ids[id(t)]] = g
            elif ctx is None or t._retain:
                t.grad = g if t.grad is None else t.grad + g
                if _grad_hooks and ctx is None and id(t) in _grad_hooks:
                    for hook in _grad_hooks[id(t)]:
                        hook(t)
            if ctx is None:
                continue
            for k, (inp, ig) in enumerate(zip(ctx.inputs, ctx.backward(g, *ctx.inputs))):
                if ig is None or not inp.requires_grad:
                    continue
                if ig.shape != inp.shape:
                    raise AutogradError(f"{ctx!r}.backward returned a gradient of shape "
                                        f"{ig.shape} for an input of shape {inp.shape}")
                if _anomaly.check_nan:
                    _check_nan(ctx, k, ig)
                key = id(inp)
                acc[key] = acc[key] + ig if key in acc else ig


def _leading_to(order, wanted_ids):
    """The ids of the tensors in ``order`` (newest first) from which a wanted tensor
    was computed, or that are wanted: the only ones autograd.grad must go through."""
    needed = set()
    for t in reversed(order):               # oldest first: inputs before their outputs
        if id(t) in wanted_ids or (t._ctx is not None and any(
                id(i) in needed for i in t._ctx.inputs)):
            needed.add(id(t))
    return needed


class _AnomalyMode:
    """detect_anomaly's state: per recorded op (by its number) the stack where its
    forward ran, or None when off; and whether backward checks gradients for NaN."""

    traces = None
    check_nan = False


_anomaly = _AnomalyMode()


def set_detect_anomaly(mode, check_nan=True):
    """Anomaly mode (PyTorch's): each op recorded meanwhile keeps the stack where its
    forward ran, and with ``check_nan`` a backward that produces NaN is an
    AutogradError naming the op and that stack. Slow (a stack per op, a host check per
    gradient): for finding where a NaN starts, not for training."""
    _anomaly.traces = {} if mode else None
    _anomaly.check_nan = bool(mode and check_nan)


def is_anomaly_enabled():
    return _anomaly.traces is not None


def is_anomaly_check_nan_enabled():
    return _anomaly.check_nan


class detect_anomaly:
    """``with ember.autograd.detect_anomaly():`` (or as a decorator): anomaly mode
    inside, the previous mode restored after."""

    def __init__(self, check_nan=True):
        self.check_nan = check_nan

    def __enter__(self):
        self.previous = (_anomaly.traces, _anomaly.check_nan)
        if _anomaly.traces is None:
            _anomaly.traces = {}
        _anomaly.check_nan = bool(self.check_nan)

    def __exit__(self, *exc):
        _anomaly.traces, _anomaly.check_nan = self.previous

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with detect_anomaly(self.check_nan):
                return fn(*args, **kwargs)
        return wrapper


def _check_nan(op, k, grad):
    """Anomaly mode: refuse a gradient with NaN, naming the op and where it ran."""
    from .ops import isnan
    if grad.dtype.is_inexact and grad.size and bool(isnan(grad).any().item()):
        trace = _anomaly.traces.get(op.seq)
        where = ("its forward ran at:\n" + "".join(trace)) if trace else (
            "it was recorded before anomaly mode was on")
        raise AutogradError(f"anomaly: {op!r}.backward returned NaN in the gradient of its "
                            f"input {k} (shape {grad.shape}); {where}")


class NotDifferentiable:
    """The grad_fn of a result autograd cannot go through (what ember.compile returns):
    backward names why and what to do instead."""

    __slots__ = ("reason",)
    inputs = ()
    seq = 0

    def __init__(self, reason):
        self.reason = reason

    def backward(self, g):
        raise AutogradError(f"backward: {self.reason}")

    def __repr__(self):
        return "<NotDifferentiable>"


def backward(t, grad=None, create_graph=False, inputs=None):
    if isinstance(t._ctx, NotDifferentiable):
        t._ctx.backward(grad)
    if not t.requires_grad:
        raise AutogradError("backward: this tensor does not require grad: no tensor it was "
                            "computed from does (outputs of ember.compile never do); create its "
                            "inputs with requires_grad=True (and not under ember.no_grad())")
    if grad is None:
        if t.size != 1:
            raise AutogradError(f"backward: the output has shape {t.shape}; backward() "
                                f"needs a single-element output or an explicit grad of that shape")
        if t.dtype.is_complex:
            raise AutogradError("backward: the output is complex; a gradient is implicitly "
                                "created only for a real single-element output: reduce it to "
                                "a real number first (ember.abs(t).sum()) or pass grad")
        from .creation import ones_like
        grad = ones_like(t)
    elif not isinstance(grad, Tensor) or grad.shape != t.shape:
        got = grad.shape if isinstance(grad, Tensor) else type(grad).__name__
        raise AutogradError(f"backward: grad must be a tensor of shape {t.shape}, got {got}")
    if inputs is None:
        run_backward([t], [grad], create_graph=create_graph)
        return
    inputs = _sequence_of("inputs", inputs, caller="backward")
    for x, g in zip(inputs, run_backward([t], [grad], create_graph=create_graph, wanted=inputs)):
        if g is not None:       # only these accumulate, leaves or not (PyTorch's inputs=)
            x.grad = g if x.grad is None else x.grad + g


def grad(outputs, inputs=None, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """PyTorch's torch.autograd.grad: the gradients of ``outputs`` (a tensor or a
    sequence) with respect to ``inputs`` (a tensor or a sequence, leaves or not), as a
    tuple, leaving every ``.grad`` alone.

    ``grad_outputs`` holds one gradient per output (None for a single-element one,
    which gets 1). With ``create_graph`` the gradients are differentiable again.
    An input the outputs do not depend on is an error unless ``allow_unused``; then
    its gradient is None, or zeros with ``materialize_grads``. With
    ``is_grads_batched`` each gradient in ``grad_outputs`` has a leading batch
    dimension: the result is the gradients of each, stacked (one backward pass per
    entry). ember keeps graphs until their tensors are freed, so ``retain_graph`` is
    accepted and changes nothing. (The function transform that PyTorch calls
    torch.func.grad is ember.grad, in ember.func; given a function instead of outputs,
    as ember's older form ``grad(fn, argnums)``, this is that transform.)
    """
    if callable(outputs) and not isinstance(outputs, Tensor):
        from .func import grad as transform
        return transform(outputs, 0 if inputs is None else inputs)
    if inputs is None:
        raise AutogradError("autograd.grad: give the inputs to differentiate with respect "
                            "to: grad(outputs, inputs)")
    outputs = _sequence_of("outputs", outputs)
    inputs = _sequence_of("inputs", inputs)
    if allow_unused is None:
        allow_unused = materialize_grads
    elif materialize_grads and not allow_unused:
        raise AutogradError("autograd.grad: materialize_grads=True needs allow_unused "
                            "True or None (it gives zeros for the unused inputs)")
    for i, x in enumerate(inputs):
        if not x.requires_grad:
            raise AutogradError(f"autograd.grad: inputs[{i}] does not require grad; create it "
                                f"with requires_grad=True (or call .requires_grad_())")
    given = [None] * len(outputs) if grad_outputs is None else _sequence_of(
        "grad_outputs", grad_outputs, allow_none=True)
    if len(given) != len(outputs):
        raise AutogradError(f"autograd.grad: {len(given)} grad_outputs for {len(outputs)} "
                            f"outputs; give one per output (None for a single-element one)")
    if is_grads_batched:
        return _batched_grads(outputs, inputs, given, create_graph, allow_unused,
                              materialize_grads)
    roots, grads = [], []
    for i, (out, g) in enumerate(zip(outputs, given)):
        g = _output_grad(i, out, g)
        if out.requires_grad:
            roots.append(out)
            grads.append(g)
        elif not allow_unused:
            raise AutogradError(f"autograd.grad: outputs[{i}] does not require grad: no "
                                f"input it was computed from does (or it was computed under "
                                f"ember.no_grad())")
    found = run_backward(roots, grads, create_graph=create_graph, wanted=inputs) if roots \
        else [None] * len(inputs)
    result = []
    for i, (x, g) in enumerate(zip(inputs, found)):
        if g is None:
            if not allow_unused:
                raise AutogradError(
                    f"autograd.grad: inputs[{i}] was not used to compute the outputs; pass "
                    f"allow_unused=True to get None for it (materialize_grads=True: zeros)")
            if materialize_grads:
                from .creation import zeros_like
                g = zeros_like(x)
        result.append(g)
    return tuple(result)


def _sequence_of(name, value, allow_none=False, caller="autograd.grad"):
    """A tensor or a sequence of tensors (and Nones, for grad_outputs) as a list."""
    items = [value] if isinstance(value, Tensor) else list(value) \
        if isinstance(value, (tuple, list)) else None
    if items is None or not all(isinstance(t, Tensor) or (allow_none and t is None)
                                for t in items):
        raise AutogradError(f"{caller}: {name} must be a tensor or a sequence of "
                            f"tensors, got {type(value).__name__}")
    return items


def _output_grad(i, out, g):
    """The gradient given for output ``i``, checked; ones for a single-element output."""
    if g is None:
        if out.size != 1:
            raise AutogradError(f"autograd.grad: outputs[{i}] has shape {out.shape}; give its "
                                f"gradient in grad_outputs (only a single-element output "
                                f"gets an implicit 1)")
        from .creation import ones_like
        return ones_like(out)
    if g.shape != out.shape:
        raise AutogradError(f"autograd.grad: grad_outputs[{i}] has shape {g.shape} and "
                            f"outputs[{i}] has shape {out.shape}; they must match")
    return g


def _batched_grads(outputs, inputs, given, create_graph, allow_unused, materialize_grads):
    """is_grads_batched: one pass per entry of the leading dimension, stacked."""
    from .ops import stack
    counts = {g.shape[0] for g in given if g is not None and g.ndim}
    if any(g is None or not g.ndim for g in given) or len(counts) != 1:
        raise AutogradError("autograd.grad: with is_grads_batched=True every grad_outputs "
                            "entry needs the same leading batch dimension")
    rows = [grad(outputs, inputs, [g[b] for g in given], create_graph=create_graph,
                 allow_unused=allow_unused, materialize_grads=materialize_grads)
            for b in range(counts.pop())]
    if not rows:
        from .creation import full
        return tuple(full((0,) + x.shape, 0, x.dtype, x._backend) for x in inputs)
    return tuple(None if col[0] is None else stack(col) for col in zip(*rows))


# PyTorch's torch.autograd.Function and torch.autograd.functional, which build on the above
from . import autograd_functional as functional  # noqa: E402,F401
from .custom_function import Function, FunctionCtx, once_differentiable  # noqa: E402,F401
from .gradcheck import GradcheckError, gradcheck, gradgradcheck  # noqa: E402,F401
