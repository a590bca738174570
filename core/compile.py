"""ember.compile: run a function of tensors once per call as a recorded Graph.

Tracing runs the function eagerly with a recorder installed at the core's
dispatch point (ember.dispatch) for this thread: it sees every backend
primitive call, every buffer a primitive reads, every rebinding of a tensor
(``copy_``, ``x += y``, item assignment) and every new tensor. Buffers that the
calls read but did not make are the graph's inputs: the arguments' buffers,
and the buffers of other tensors the function reads (parameters, optimizer
state), remembered by their owning tensor. Tensors that existed before the
call and were rebound (an optimizer step), and tensors made during the call
that outlive it (``p.grad``), are the graph's state outputs: replaying rebinds
them.

A function is traced on each call until two calls record the same graph (the
first call often differs: optimizers create their state lazily); from then on
calls replay the graph. So everything Python decides (shapes,
hyperparameters, branches) is frozen at trace time, as with CUDA graphs and
tinygrad's TinyJit: values that change per call belong in tensors. Nothing
is patched while tracing: other threads compute eagerly meanwhile, unrecorded,
and a compiled function called inside another one's trace runs inline.
"""

import functools
import gc
import os
import threading
import warnings
import weakref

import numpy as np

from . import amp, dispatch
from .autograd import NotDifferentiable, is_grad_enabled
from .config import get_backend
from .errors import EmberError
from .graph import Graph, Node, V
from .pytree import flatten, unflatten
from .tensor import wrap


def _trace_in_progress():
    recorder = dispatch.active()
    return recorder if isinstance(recorder, _Trace) else None


def is_compiling():
    """True while ember.compile records a call in this thread: code that keeps Python
    numbers which change per call (Adam's step count) can keep them in tensors instead."""
    return _trace_in_progress() is not None


def before_replay(fn):
    """Call ``fn()`` before every replay of the function being traced now, and before its
    next traces (nothing when not compiling): code that keeps a number set from Python in a tensor (an optimizer's
    learning rate, which schedulers change) refreshes the tensor there."""
    trace = _trace_in_progress()
    if trace is not None and fn not in trace.refreshers:
        trace.refreshers.append(fn)


#: traces that must agree before a graph is replayed, and the most a function gets
AGREE, MAX_TRACES, MAX_REPLAYS = 2, 5, 4
#: signatures (argument shapes, dtypes, values of Python numbers...) one compiled function
#: caches by default, as torch.compile's recompile limit; past it, new ones run eagerly
CACHE_LIMIT = 8


class CompileWarning(UserWarning):
    """A compiled function falls back to eager calls (its cache is full)."""


class CompileError(EmberError, RuntimeError):
    """A function that cannot be compiled: it reads tensor values on the host, or traces
    differently on every call."""


def compile(fn=None, *, optimize=True, capture=True, cache_limit=CACHE_LIMIT):   # noqa: A001
    """``ember.compile(fn)`` or ``@ember.compile``: a callable that traces ``fn`` (see the
    module docstring) and then replays it, one graph per input shapes, dtypes and backend.
    ``capture=False`` keeps the backend from recording the whole replay (CUDA graphs).
    Past ``cache_limit`` signatures, a CompileWarning names the argument that keeps
    changing and calls with new signatures run eagerly."""
    options = dict(optimize=optimize, capture=capture, cache_limit=cache_limit)
    if fn is None:
        return lambda f: CompiledFunction(f, **options)
    return CompiledFunction(fn, **options)


class CompiledFunction:
    def __init__(self, fn, optimize=True, capture=True, cache_limit=CACHE_LIMIT):
        functools.update_wrapper(self, fn)
        self.fn, self.optimize, self.capture = fn, optimize, capture
        self.cache_limit, self._warned = cache_limit, False
        self._entries = {}
        self._lock = threading.RLock()     # one trace of this function at a time
        self.trace_count = 0    # eager runs that traced, over every entry (replays are free)

    def __repr__(self):
        return f"<ember.compile of {self.name}>"

    @property
    def name(self):
        return getattr(self.fn, "__qualname__", None) or type(self.fn).__name__

    def reset(self):
        """Forget every trace (after changing what the function reads: a new learning rate)."""
        self._entries.clear()
        self._warned = False

    def graph(self, *args, **kwargs):
        """The replayed Graph for these arguments' shapes (None while still tracing)."""
        entry = self._entries.get(_key(args, kwargs))
        return entry.graph if entry is not None else None

    def state(self, *args, **kwargs):
        """The tensors the replayed Graph reads besides the arguments (parameters,
        buffers, optimizer state), in the order of its inputs after the arguments' (None
        while still tracing): what an exporter writes as the graph's initializers."""
        entry = self._entries.get(_key(args, kwargs))
        if entry is None or not entry.replays:
            return None
        return [ref() for ref in entry.replays[0].state_in]

    def __call__(self, *args, **kwargs):
        if _trace_in_progress() is not None:     # inside another compiled function's trace
            return self.fn(*args, **kwargs)
        leaves = []      # the arguments' tensors, flattened once for the key and the replay
        key = _key(args, kwargs, leaves)
        entry = self._entries.get(key)
        if entry is None:
            if len(self._entries) >= self.cache_limit:
                self._full(key)
                return self.fn(*args, **kwargs)
            entry = self._entries[key] = _Entry(self)
        result = entry(args, kwargs, leaves)
        if key[-1][0] and any(t.requires_grad for t in leaves):
            refusal = NotDifferentiable(
                f"outputs of compile({self.name}) carry no gradients, though its arguments "
                f"require grad; call the function uncompiled to differentiate it, or compile "
                f"the whole training step (forward, loss.backward() and optimizer.step() inside "
                f"the compiled function, which records them)")
            leaves = []
            flatten(result, leaves)
            for t in leaves:
                t._ctx = refusal
        return result

    def _full(self, key):
        """Warn, once, that the cache is full, naming the argument that changed last."""
        if self._warned:
            return
        self._warned = True
        last = list(self._entries)[-1]
        changed = next((label for (label, part), (_, old) in zip(key[:-1], last[:-1]) if part != old),
                       "grad, autocast or matmul precision mode" if key[-1] != last[-1]
                       else "the number of arguments")
        warnings.warn(
            f"compile({self.name}): {self.cache_limit} signatures cached (cache_limit) and "
            f"{changed} keeps changing (shape, dtype, or the value of a Python number; other "
            f"objects count by identity); calls with new signatures now run eagerly. Pass "
            f"values that change per call as tensors of one shape, or raise cache_limit",
            CompileWarning, stacklevel=3)


def _key(args, kwargs, leaves=None):
    """Per argument (by position or keyword): its structure and tensors' shapes, dtypes,
    backends and requires_grad; then the mode: grad mode, the autocast dtype and the float32
    matmul precision (a CUDA graph keeps the compute type it was captured with). The
    tensors are appended to ``leaves`` in the order flatten((args, kwargs)) gives."""
    parts = [(f"argument {k}", a) for k, a in enumerate(args)]
    parts += [(f"argument {n!r}", v) for n, v in kwargs.items()]
    leaves = [] if leaves is None else leaves
    key = []
    for label, a in parts:
        start = len(leaves)
        spec = flatten(a, leaves)
        key.append((label, (_hashable(spec), tuple(
            (t.shape, t.dtype.name, t._backend.device, t.requires_grad) for t in leaves[start:]))))
    return tuple(key) + ((is_grad_enabled(), amp.state(), amp.get_float32_matmul_precision()),)


def _hashable(spec):
    """The structure as a key: numbers and strings by value, other objects by identity."""
    kind, body = spec
    if kind == "T":
        return body
    if kind == "C":
        return body if isinstance(body, (bool, int, float, str, type(None))) else ("id", id(body))
    return (kind,) + tuple((k, _hashable(v)) for k, v in body)


class _Entry:
    """One cache slot: traces until two agree, then replays."""

    def __init__(self, owner):
        self.owner, self.traces, self.graph = owner, [], None
        #: the graphs recorded, each replayed while what it reads is there: one that adds
        #: to gradients (they are None once the caller clears them) and one that makes them
        self.replays = []

    def __call__(self, args, kwargs, leaves):
        for replay in self.replays:
            try:
                return replay(leaves)
            except _Stale:          # a gradient it adds to is gone: the next, or record
                continue
        for fn in self.traces[-1].refreshers if self.traces else ():
            fn()       # outside the recording, so a changed learning rate is not a constant
        with self.owner._lock:
            trace, result = _Trace.run(self.owner.fn, args, kwargs)
        self.owner.trace_count += 1
        self.traces.append(trace)
        if len(self.traces) >= AGREE:
            # the last call against each before it: calls that alternate (a gradient
            # cleared, then accumulated into) agree with the call two back
            diffs = [prev.difference(trace) for prev in reversed(self.traces[:-1])]
            diff = diffs[0]
            if None in diffs:
                self._ready(trace)
            elif len(self.traces) >= MAX_TRACES:
                raise CompileError(
                    f"compile({self.owner.name}): calls {len(self.traces) - 1} and "
                    f"{len(self.traces)} recorded different graphs: {diff}. A compiled function "
                    f"must make the same calls each time: keep numbers that change per call in "
                    f"tensors (ember.is_compiling() tells when), and update state tensors in place "
                    f"(t.copy_(new), +=) instead of replacing them")
        return result

    def _ready(self, trace):
        self.traces = []
        graph = trace.graph
        backend = trace.backend
        if self.owner.optimize:
            graph = graph.optimized(backend)
        self.graph = graph
        replay = _Replay(trace, graph, backend, self.owner.capture)
        # a graph that adds to gradients first (it needs them there), then one that makes
        # them (it runs in every state); at most MAX_REPLAYS
        self.replays = sorted(self.replays + [replay], key=lambda r: not r.adds)[:MAX_REPLAYS]


class _Replay:
    def __init__(self, trace, graph, backend, capture):
        self.graph, self.backend = graph, backend
        self.out_spec, self.out_meta = trace.out_spec, trace.out_meta
        self.state_in = trace.state_in      # weakrefs of the tensors read, after the arguments
        self.state_out = trace.state_out    # per state output: a weakref, or an argument's index
        self.adds = any(type(r) is _GradSlot for r in self.state_in)   # to gradients
        self.n_args = trace.n_args
        self.refreshers = trace.refreshers
        self.run = graph.run
        if capture and backend.fast_capture is not None:
            # state read and rebound through the same tensor: a captured launch updates it in
            # place (not gradients: where one lands depends on what the caller did to it)
            owners = {id(r()): k for k, r in enumerate(self.state_in)}
            n_args, n_out = self.n_args, len(self.out_meta)
            aliases = [(n_args + owners[id(r())], n_out + k) for k, r in enumerate(self.state_out)
                       if type(r) not in (int, _Gradient) and id(r()) in owners]
            self.run = backend.fast_capture(graph, aliases, range(n_out)) or graph.run

    def __call__(self, leaves):
        """Run the Graph on the arguments' tensors ``leaves`` (as _key flattened them)."""
        for fn in self.refreshers:
            fn()
        bufs = [t._data for t in leaves]
        for ref in self.state_in:
            t = ref()
            if t is None:
                if type(ref) is _GradSlot:      # the gradient it adds to was cleared: trace anew
                    raise _Stale
                raise CompileError("compile: a tensor the graph reads (a parameter or optimizer "
                                   "state) no longer exists; call .reset() on the compiled function")
            bufs.append(t._data)
        outs = self.run(self.backend, bufs)
        n = len(self.out_meta)
        for ref, buf in zip(self.state_out, outs[n:]):
            if type(ref) is _Gradient:
                ref.land(buf, self.backend)
                continue
            t = leaves[ref] if type(ref) is int else ref()
            if t is not None:
                dispatch.rebind(t, buf)
        tensors = [wrap(b, self.backend, shape, dtype)
                   for b, (shape, dtype) in zip(outs[:n], self.out_meta)]
        return unflatten(self.out_spec, tensors)


class _Stale(Exception):
    """A replay cannot run: a gradient its graph adds to is None now."""


class _GradSlot:
    """A state input that is a gradient accumulated into: whatever ``owner.grad`` is when
    the graph replays (None, once the caller has cleared it)."""

    __slots__ = ("owner",)

    def __init__(self, owner):
        self.owner = weakref.ref(owner)

    def __call__(self):
        owner = self.owner()
        return None if owner is None else owner._grad


class _Gradient:
    """A state output that is a gradient the call made: ``owner.grad``. On replay it lands
    where eager code would put it, whatever the caller did to owner.grad between calls.
    Where the call replaced the gradient (it cleared it first, zero_grad inside, or
    added to it: the graph read it), the result replaces it: rebinding the tensor made
    last while owner.grad is still that one. Where the call found no gradient, its result
    is a new tensor if the caller cleared it again (zero_grad outside the compiled
    step), and is added to a gradient the caller left there."""

    __slots__ = ("tensor", "owner", "replaces", "shape", "dtype")

    def __init__(self, tensor, owner, replaces):
        self.tensor, self.owner = weakref.ref(tensor), weakref.ref(owner)
        self.replaces, self.shape, self.dtype = replaces, tensor.shape, tensor.dtype

    def land(self, buf, backend):
        owner = self.owner()
        if owner is None:
            return
        made = self.tensor()
        if self.replaces and made is not None and owner._grad is made:
            dispatch.rebind(made, buf)
            return
        fresh = wrap(buf, backend, self.shape, self.dtype)
        self.tensor = weakref.ref(fresh)
        owner._grad = fresh if owner._grad is None or self.replaces else owner._grad + fresh


class _View:
    """A backend as a recorded call sees it (what ember.dispatch.primitives hands out
    while tracing): primitives run and are recorded, host reads are checked, other
    attributes are the backend's own."""

    def __init__(self, trace, backend):
        self._trace, self._backend = trace, backend

    def __getattr__(self, name):
        attr = getattr(self._backend, name)
        if name in ("to_numpy", "dlpack"):
            attr = functools.partial(self._trace.host_read, attr)
        elif _recordable(self._backend, name):
            attr = self._trace.recorder(name, attr)
        self.__dict__[name] = attr
        return attr


class _Trace:
    """The record of one eager call (ember.dispatch's recorder while it runs): a Graph
    plus how its inputs and outputs map to the caller's tensors."""

    @classmethod
    def run(cls, fn, args, kwargs, keep=False):
        """(trace, result): the result rebuilt from the recorded buffers, or with ``keep``
        (True, or a test of the result) the call's own (its tensors then are results,
        not state the call made); ``trace.kept`` says which."""
        leaves = []
        flatten((args, kwargs), leaves)
        backends = {t._backend for t in leaves}
        if len(backends) > 1:
            raise CompileError("compile: the arguments are on different backends ("
                               + ", ".join(sorted(b.device for b in backends)) + ")")
        trace = cls(backends.pop() if backends else get_backend(None))
        for t in leaves:
            trace.input(t._data, ("arg", len(trace.inputs)))
            trace.note_owner(t)
        trace.n_args = len(leaves)
        enabled = gc.isenabled()
        gc.disable()    # no collection during the call: all it makes stays in generation 0
        try:
            with dispatch.recording(trace):
                result = fn(*args, **kwargs)
            trace.outputs(result)
            keep = trace.kept = keep(result) if callable(keep) else keep
            kept = result if keep else None
            if not keep:
                trace.out_tensors = set()    # what the call returned is gone with it
            del result
            # tensors made by the call that nothing holds any more (cycles) are gone, and
            # the rest of the heap is not walked (a full collection in a process holding
            # torch and transformers took 0.2 s a trace)
            gc.collect(0)
        finally:
            if enabled:
                gc.enable()
        trace.finish(leaves)
        if keep:
            return trace, kept
        return trace, unflatten(trace.out_spec, [wrap(b, trace.backend, s, d) for b, (s, d)
                                                  in zip(trace.out_bufs, trace.out_meta)])

    def __init__(self, backend):
        self.backend = backend
        self.values = {}        # id(buffer) -> value id
        self.keep = []          # the buffers, alive so that ids stay unique
        self.meta = {}
        self.inputs, self.consts, self.nodes = [], {}, []
        self.state_in = []      # weakrefs of the tensors whose buffers are state inputs
        self.names = {}
        self.created_refs, self.rebound_tensors = [], {}
        self.cleared = {}       # id -> weakref of the tensors whose .grad the call set to None
        self.grad_owners = {}   # id(a gradient present when its owner was read) -> the owner
        self.grads_read = set()  # ids of owners whose gradient the call read (accumulated into)
        self._view = _View(self, backend)
        self.pending_draw = None
        self.refreshers = []
        self.scope = ()          # the layers whose call is recording now (ember.layer_scope)

    def view(self, backend):
        """What dispatch.primitives hands out while this trace records: the one backend's view."""
        if backend is not self.backend:
            raise CompileError(f"compile: the function computes on {backend.device} as well "
                               f"as on {self.backend.device} (its arguments' backend); a "
                               f"compiled function runs on one backend: move tensors with "
                               f".to() outside it")
        return self._view

    # -- values ---------------------------------------------------------------------------
    def _new(self, buf):
        i = len(self.keep)
        self.keep.append(buf)
        self.values[id(buf)] = i
        self.meta[i] = (tuple(np.shape(buf)), np.dtype(getattr(buf, "dtype", np.float64)))
        return i

    def input(self, buf, label):
        i = self._new(buf)
        self.inputs.append(i)
        kind, k = label
        self.names[i] = f"x{k}" if kind == "arg" else f"s{k}"
        return i

    def read(self, tensor, buf):
        if id(buf) not in self.values:
            i = self.input(buf, ("state", len(self.state_in)))
            owner = self.grad_owners.get(id(tensor))
            if owner is not None and owner._grad is tensor:     # a gradient accumulated into
                self.state_in.append(_GradSlot(owner))
                self.grads_read.add(id(owner))
            else:
                self.state_in.append(weakref.ref(tensor))
            self.names[i] = dispatch.state_name(tensor, self.names[i])
            self.note_owner(tensor)

    def note_owner(self, tensor):
        """Remember ``tensor``'s gradient, should the call read it as state: the graph then
        reads whatever gradient ``tensor`` has when it replays, not that tensor object
        (autograd accumulates into a new one each call)."""
        grad = getattr(tensor, "_grad", None)
        if grad is not None:
            self.grad_owners[id(grad)] = tensor

    def rebound(self, tensor):
        self.rebound_tensors[id(tensor)] = tensor

    def created(self, tensor):
        self.created_refs.append(weakref.ref(tensor))

    def cleared_grad(self, tensor):
        self.cleared[id(tensor)] = weakref.ref(tensor)

    # -- calls -----------------------------------------------------------------------------
    def recorder(self, name, original):
        def record(*args):
            out = _own(original(*args))
            if name == "from_numpy":
                self.constant(args[0], out)
            else:
                self.call(name, args, out)
            return out
        return record

    def host_read(self, original, buf):
        i = self.values.get(id(buf))
        if i is not None and i in self.inputs[:self.n_args]:
            return original(buf)        # checks on an argument's values (labels in range)
        raise CompileError(
            "compile: the function reads a computed tensor's values on the host (.numpy(), "
            ".item(), float(), print or a branch on a value) at " + _user_frame()
            + "; a compiled function replays device work only: return the tensor instead")

    def constant(self, array, buf):
        i = self._new(buf)
        draw, self.pending_draw = self.pending_draw, None
        if draw is not None and draw[0] == array.shape:
            self.nodes.append(Node("random", draw[1] + (np.dtype(array.dtype).str,), [i]))
        else:
            self.consts[i] = np.array(array, copy=True)

    def random_draw(self, values, method, args, kwargs):
        """The next upload is this draw: record how to draw it again."""
        kw = tuple((k, np.dtype(v).str if k == "dtype" else v) for k, v in kwargs.items())
        self.pending_draw = (np.shape(values), (method, tuple(args), kw))

    def _arg(self, a):
        t = type(a)
        if t is tuple or t is list:
            return t(self._arg(x) for x in a)
        i = self.values.get(id(a))
        if i is not None:
            return V(i)
        if hasattr(a, "shape") and hasattr(a, "dtype") and not isinstance(a, np.generic) \
                and not isinstance(a, type):
            raise CompileError(f"compile: a primitive received a buffer no tensor holds ({a!r})")
        return a

    def call(self, name, args, out):
        refs = self._arg(args)
        outs = out if isinstance(out, tuple) else (out,)
        ids = [None if b is None else self._new(b) for b in outs]
        self.nodes.append(Node(name, refs, ids, self.scope))

    # -- the end ----------------------------------------------------------------------------
    def outputs(self, result):
        leaves = []
        self.out_spec = flatten(result, leaves)
        self.out_ids = []
        for t in leaves:
            i = self.values.get(id(t._data))
            self.out_ids.append(i if i is not None else self._new(t._data))
        self.out_meta = [(t.shape, t.dtype) for t in leaves]
        self.out_grad = [t.requires_grad for t in leaves]
        self.out_tensors = {id(t) for t in leaves}
        self.out_bufs = [t._data for t in leaves]

    def finish(self, args):
        """State outputs: tensors that existed and were rebound, and tensors the call made
        that are still alive (``p.grad``), whose buffer the graph computes."""
        outputs = list(self.out_ids)
        arg_pos = {id(t): k for k, t in enumerate(args)}
        state = list(self.rebound_tensors.values()) + [r() for r in self.created_refs]
        grad_of = self._gradient_owners(args)
        self.state_out, seen, out_names = [], set(), {}
        for t in state:
            if t is None or id(t) in seen or id(t) in self.out_tensors:
                continue
            seen.add(id(t))
            i = self.values.get(id(t._data))
            if i is not None and i not in self.inputs:
                outputs.append(i)
                owner = grad_of.get(id(t))
                self.state_out.append(
                    arg_pos[id(t)] if id(t) in arg_pos else
                    _Gradient(t, owner, id(owner) in self.cleared or id(owner) in self.grads_read)
                    if owner is not None else
                    weakref.ref(t))
                out_names[len(outputs) - 1] = dispatch.state_name(t) or (
                    self.names[self.inputs[arg_pos[id(t)]]] if id(t) in arg_pos else "new")
        made = {id(r()) for r in self.created_refs}
        #: whether the call rebound a tensor that existed before it (vmap needs to know)
        self.rebound_any = any(id(t) not in made for t in self.rebound_tensors.values())
        self.rebound_tensors, self.created_refs, self._view = {}, [], None
        self.graph = Graph(self.inputs, self.consts, self.nodes, outputs, self.meta, self.names,
                           out_names)
        self.signature = ([(n.name, n.key()[1], tuple(n.outs)) for n in self.nodes],
                          [(i, c.dtype.str, c.shape, c.tobytes()) for i, c in self.consts.items()],
                          self.inputs, outputs)
        self.keep = None
        self.values = None

    def _gradient_owners(self, args):
        """id(a gradient the call made) -> the tensor whose .grad it is, among the
        arguments, the state read and the tensors whose gradient the call cleared."""
        owners = list(args) + [r() for r in self.state_in] + [r() for r in self.cleared.values()]
        made = {id(r()) for r in self.created_refs}
        return {id(t._grad): t for t in owners
                if t is not None and getattr(t, "_grad", None) is not None
                and id(t._grad) in made}

    def difference(self, other):
        """None when ``other`` recorded the same graph over the same state; else what differs."""
        a, b = self.signature, other.signature
        mine, theirs = [r() for r in self.state_in], [r() for r in other.state_in]
        if any(t is None for t in mine + theirs) or list(map(id, mine)) != list(map(id, theirs)):
            return "the tensors read as state are different objects from call to call"
        for k, (x, y) in enumerate(zip(a[0], b[0])):
            if x != y:
                return f"call {k} is {_brief(x)} then {_brief(y)}"
        if len(a[0]) != len(b[0]):
            return f"{len(a[0])} then {len(b[0])} primitive calls"
        if a[1] != b[1]:
            return "constants uploaded from the host differ"
        if a[2:] != b[2:]:
            return "the inputs or outputs differ"
        return None


def _brief(entry):
    name, args, _ = entry
    text = _thaw(args)
    return f"{name}{text if len(text) < 120 else text[:117] + '...)'}"


def _thaw(a):
    """A frozen argument tuple (ember.graph._freeze) written as the call looked."""
    if type(a) is tuple and a and a[0] in ("tuple", "list"):
        inner = ", ".join(_thaw(x) for x in a[1:])
        return f"({inner})" if a[0] == "tuple" else f"[{inner}]"
    if type(a) is tuple and len(a) == 2 and a[0] == "dtype":
        return a[1]
    return repr(a)


def _own(out):
    """A result whose buffer is its own object: NumPy hands 0-d results out as scalars,
    and its bool scalars are two shared objects (np.True_, np.False_), which the trace,
    knowing buffers by id, would take for one value."""
    if isinstance(out, np.generic):
        return np.array(out)
    if type(out) is tuple:
        return tuple(map(_own, out))
    return out


def _recordable(backend, name):
    from .backend import COMPLEX_PRIMITIVES, FAST_PATHS, HOST_ROUTINES, PRIMITIVES
    return (name in PRIMITIVES or name in COMPLEX_PRIMITIVES or name in FAST_PATHS
            or name in HOST_ROUTINES) \
        and callable(getattr(backend, name, None)) and name not in ("fast_fused", "fast_capture")


def _user_frame():
    import traceback
    here = os.path.dirname(os.path.abspath(__file__))
    for frame in reversed(traceback.extract_stack()[:-3]):
        if not os.path.abspath(frame.filename).startswith(here):
            return f"{frame.filename}:{frame.lineno} ({frame.line})"
    return "an unknown place"


__all__ = ["CompileError", "CompileWarning", "before_replay", "compile", "is_compiling"]
