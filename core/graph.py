"""A Graph: a recorded sequence of backend primitive calls, free of Python.

``ember.compile`` records a function as the primitive calls it makes (see
ember.compile); the Graph holds them as nodes over numbered values, so it can be
printed, optimized (constant folding, common subexpressions, dead code), saved
as msgpack (data only: loading runs no code) and run on any backend that has
the primitives it names. Running a graph skips everything eager execution pays
for per op: Tensor objects, shape checks, autograd bookkeeping.
"""

import numpy as np

from . import dtypes as dt
from .errors import BackendError, SerializationError

#: primitives that compute one output element from the same position of their inputs;
#: a run of them over one shape becomes one kernel where the backend has ``fast_fused``
ELEMENTWISE = frozenset(
    "neg exp log sin cos tanh sqrt abs sign add sub mul div pow maximum minimum "
    "eq ne lt le gt ge where cast fast_relu fast_sigmoid fast_log1p fast_expm1 fast_erf fast_gelu "
    "fast_gelu_grad fast_gelu_tanh fast_gelu_tanh_grad fast_fmod fast_trunc_div fast_copysign "
    "fast_remainder fast_floor_divide "
    "fast_bitwise_and fast_bitwise_or fast_bitwise_xor fast_bitwise_not fast_left_shift "
    "fast_right_shift".split())
FORMAT = "ember-graph"
VERSION = 1


class V:
    """A reference to value ``i`` of a graph inside a node's arguments."""

    __slots__ = ("i",)

    def __init__(self, i):
        self.i = i

    def __eq__(self, other):
        return type(other) is V and other.i == self.i

    def __hash__(self):
        return hash(("V", self.i))

    def __repr__(self):
        return f"%{self.i}"


class Node:
    """``outs = name(*args)``: args nest tuples and lists of V refs and constants;
    outs has one value id per output, None where the primitive returns None. ``scope``
    is the stack of layers (ember.layer_scope) whose call recorded it, outermost
    first: what an exporter reads to write a layer as one op. It is trace metadata:
    replays ignore it and saved graphs leave it out."""

    __slots__ = ("name", "args", "outs", "scope")

    def __init__(self, name, args, outs, scope=()):
        self.name, self.args, self.outs, self.scope = name, args, outs, scope

    def refs(self):
        return [a.i for a in _walk(self.args) if type(a) is V]

    def key(self):
        return (self.name, _freeze(self.args))


def _walk(a):
    if type(a) in (tuple, list):
        for x in a:
            yield from _walk(x)
    else:
        yield a


def _freeze(a):
    if type(a) in (tuple, list):
        return (type(a).__name__,) + tuple(_freeze(x) for x in a)
    if isinstance(a, dt.DType):
        return ("dtype", a.name)
    if isinstance(a, (float, complex, np.generic)) and a != a:
        return ("nan", type(a).__name__)     # NaN equals nothing: two calls' would differ
    return a


def resolve(a, env):
    """``a`` with each V ref replaced by its value in ``env``."""
    t = type(a)
    if t is V:
        return env[a.i]
    if t is tuple or t is list:
        return t(resolve(x, env) for x in a)
    return a


class Graph:
    """inputs: value ids fed by the caller; consts: value id -> host array uploaded once
    per backend; nodes in order; outputs: value ids handed back; meta: value id ->
    (shape, NumPy dtype) for printing and planning. names: value id -> its label
    (arguments "x0", state by ember.name_state: "0.weight", "lr"); out_names: output
    position -> the state it rebinds. Random draws read and advance the host generator:
    the printout lists it as ``rng``, an input and an output."""

    def __init__(self, inputs, consts, nodes, outputs, meta, names=None, out_names=None):
        self.inputs, self.consts, self.nodes = list(inputs), dict(consts), list(nodes)
        self.outputs, self.meta = list(outputs), dict(meta)
        self.names = dict(names or {})
        self.out_names = dict(out_names or {})
        self._plans = {}

    # -- reading ----------------------------------------------------------------------
    def _label(self, i):
        return self.names.get(i, f"%{i}")

    def _type(self, i):
        shape, dtype = self.meta.get(i, ((), None))
        return f"{np.dtype(dtype).name if dtype is not None else '?'}{list(shape)}"

    def __repr__(self):
        rng = any(n.name == "random" for n in self.nodes)
        lines = ["graph(" + ", ".join([f"{self._label(i)}: {self._type(i)}" for i in self.inputs]
                                      + ["rng: generator"] * rng) + "):"]
        for i, c in sorted(self.consts.items()):
            body = repr(c.item()) if c.size == 1 else f"<{c.size} values>"
            lines.append(f"  %{i} = const {body}  # {self._type(i)}")
        for n in self.nodes:
            outs = ", ".join("_" if o is None else f"%{o}" for o in n.outs)
            args = ", ".join(_show(a, self) for a in n.args)
            types = ", ".join(self._type(o) for o in n.outs if o is not None)
            lines.append(f"  {outs} = {n.name}({args})  # {types}")
        outs = [f"{self.out_names[k]} <- {self._label(i)}" if k in self.out_names else self._label(i)
                for k, i in enumerate(self.outputs)]
        lines.append("  return " + ", ".join(outs + ["rng"] * rng))
        return "\n".join(lines)

    def count(self):
        """{primitive name: calls} (what a run launches)."""
        out = {}
        for n in self.nodes:
            out[n.name] = out.get(n.name, 0) + 1
        return out

    # -- passes -----------------------------------------------------------------------
    def optimized(self, backend):
        """Constant folding, common subexpressions, then dead code (in that order, so
        folded and merged nodes leave dead ones behind)."""
        return self.folded(backend).deduplicated().pruned()

    def pruned(self):
        """Without the nodes whose outputs nothing needs."""
        live, keep = set(self.outputs), []
        for n in reversed(self.nodes):
            if any(o is not None and o in live for o in n.outs):
                keep.append(n)
                live.update(n.refs())
        consts = {i: c for i, c in self.consts.items() if i in live}
        return self._with(consts=consts, nodes=keep[::-1])

    def deduplicated(self):
        """One node per distinct (primitive, arguments): later copies reuse the first's
        outputs. Random draws are never merged: two draws of one shape differ."""
        seen, alias, nodes = {}, {}, []
        for n in self.nodes:
            args = _rename(n.args, alias)
            key = (n.name, _freeze(args))
            first = seen.get(key) if n.name != "random" else None
            if first is not None and len(first.outs) == len(n.outs):
                alias.update({o: f for o, f in zip(n.outs, first.outs) if o is not None})
                continue
            node = Node(n.name, args, n.outs, n.scope)
            seen[key] = node
            nodes.append(node)
        return self._with(nodes=nodes, outputs=[alias.get(o, o) for o in self.outputs])

    def folded(self, backend):
        """Nodes whose inputs are all constants computed once, here, into constants."""
        _check_names(self)
        consts, nodes, env = dict(self.consts), [], {}
        for n in self.nodes:
            refs = n.refs()
            if all(r in consts for r in refs) and n.name not in ("random",) \
                    and all(o is not None for o in n.outs):
                for r in refs:
                    if r not in env:
                        env[r] = backend.from_numpy(consts[r])
                out = getattr(backend, n.name)(*resolve(n.args, env))
                outs = out if len(n.outs) > 1 else (out,)
                for o, b in zip(n.outs, outs):
                    env[o] = b
                    consts[o] = backend.to_numpy(b)
                continue
            nodes.append(n)
        return self._with(consts=consts, nodes=nodes)

    def _with(self, **changes):
        parts = dict(inputs=self.inputs, consts=self.consts, nodes=self.nodes,
                     outputs=self.outputs, meta=self.meta, names=self.names,
                     out_names=self.out_names)
        parts.update(changes)
        return Graph(**parts)

    # -- running ------------------------------------------------------------------------
    def run(self, backend, buffers):
        """Output buffers for input ``buffers`` (in ``inputs`` order) on ``backend``."""
        return self.plan(backend)(buffers)

    def plan(self, backend):
        plan = self._plans.get(backend)
        if plan is None:
            plan = self._plans[backend] = Plan(self, backend)
        return plan

    # -- files ----------------------------------------------------------------------------
    def to_bytes(self):
        import msgpack
        doc = {"format": FORMAT, "version": VERSION, "inputs": self.inputs, "outputs": self.outputs,
               "consts": [[i, c.dtype.str, list(c.shape), c.tobytes()] for i, c in self.consts.items()],
               "nodes": [[n.name, _encode(n.args), list(n.outs)] for n in self.nodes],
               "meta": [[i, list(s), np.dtype(d).str] for i, (s, d) in self.meta.items()],
               "names": [[i, s] for i, s in self.names.items()],
               "out_names": [[k, s] for k, s in self.out_names.items()]}
        return msgpack.packb(doc, use_bin_type=True)

    @classmethod
    def from_bytes(cls, data, source="graph"):
        import msgpack
        try:
            doc = msgpack.unpackb(data, raw=False, strict_map_key=False, max_bin_len=2 ** 31)
            if not isinstance(doc, dict) or doc.get("format") != FORMAT:
                raise ValueError("not an ember graph (no 'format: ember-graph' header)")
            if doc.get("version") != VERSION:
                raise ValueError(f"graph format version {doc.get('version')}; this ember reads "
                                 f"{VERSION}")
            consts = {}
            for i, dtype, shape, raw in doc["consts"]:
                arr = np.frombuffer(raw, dtype=np.dtype(dtype))
                consts[i] = arr.reshape(shape).copy()
            nodes = [Node(name, _decode(args), outs) for name, args, outs in doc["nodes"]]
            meta = {i: (tuple(s), np.dtype(d)) for i, s, d in doc["meta"]}
            return cls(doc["inputs"], consts, nodes, doc["outputs"], meta,
                       {i: s for i, s in doc["names"]}, dict(doc.get("out_names", [])))
        except (ValueError, TypeError, KeyError, msgpack.ExtraData, msgpack.FormatError,
                msgpack.StackError) as exc:
            raise SerializationError(f"{source}: cannot read the graph: {exc}") from None


def _show(a, graph):
    if type(a) is V:
        return graph._label(a.i)
    if type(a) in (tuple, list):
        inner = ", ".join(_show(x, graph) for x in a)
        return f"({inner}{',' if len(a) == 1 else ''})" if type(a) is tuple else f"[{inner}]"
    if isinstance(a, dt.DType):
        return a.name
    return repr(a)


def _rename(a, alias):
    t = type(a)
    if t is V:
        return V(alias[a.i]) if a.i in alias else a
    if t is tuple or t is list:
        return t(_rename(x, alias) for x in a)
    return a


def _encode(a):
    t = type(a)
    if t is V:
        return {"v": a.i}
    if t is tuple:
        return {"t": [_encode(x) for x in a]}
    if t is list:
        return [_encode(x) for x in a]
    if isinstance(a, dt.DType):
        return {"dtype": a.name}
    if isinstance(a, (np.generic,)):
        return a.item()
    if a is None or isinstance(a, (bool, int, float, str)):
        return a
    raise SerializationError(f"graph: cannot save an argument of type {type(a).__name__}")


def _decode(a):
    if isinstance(a, dict):
        if "v" in a:
            return V(int(a["v"]))
        if "t" in a:
            return tuple(_decode(x) for x in a["t"])
        if "dtype" in a:
            return dt.dtype(a["dtype"])
        raise ValueError(f"unknown argument record {sorted(a)}")
    if isinstance(a, list):
        return [_decode(x) for x in a]
    return a


def _check_names(graph):
    """Every node names a backend primitive or fast path (a loaded file could name any
    attribute)."""
    from .backend import COMPLEX_PRIMITIVES, FAST_PATHS, HOST_ROUTINES, PRIMITIVES
    allowed = (set(PRIMITIVES) | set(COMPLEX_PRIMITIVES) | set(FAST_PATHS) | set(HOST_ROUTINES)
               | {"random"}) - {"fast_fused", "fast_capture"}
    unknown = sorted({n.name for n in graph.nodes if n.name not in allowed})
    if unknown:
        raise BackendError(f"graph: {', '.join(map(repr, unknown))} is not a backend primitive")


class Plan:
    """A graph prepared for one backend: constants uploaded, elementwise runs fused into
    one kernel each where the backend compiles them (``fast_fused``), and the steps
    written out as one Python function over local variables (what a call runs: no
    per-step lookups), each value deleted after its last use so the allocator can
    reuse its memory. The function's text holds only generated names (``v7``, ``F[3]``,
    ``A[2]``); callables and constant arguments stay in lists beside it, so a loaded
    graph file cannot put code into it."""

    def __init__(self, graph, backend):
        _check_names(graph)
        missing = sorted({n.name for n in graph.nodes if n.name != "random"
                          and not callable(getattr(backend, n.name, None))})
        if missing:
            raise BackendError(f"graph: backend {backend.device} has no {', '.join(missing)} "
                               f"(a fast path of the backend the graph was traced on); trace "
                               f"the function again on {backend.device}")
        self.backend, self.graph = backend, graph
        self.consts = {i: backend.from_numpy(c) for i, c in graph.consts.items()}
        steps = _fuse(graph, backend) if backend.fast_fused is not None else \
            [(n.name, n.args, n.outs) for n in graph.nodes]
        # (callable, args, outs, fused): a fused kernel returns a list of its outputs
        self.steps = [(fn if not isinstance(fn, str) else _random_draw(backend) if fn == "random"
                       else backend.plan_function(fn), args, outs, not isinstance(fn, str))
                      for fn, args, outs in steps]
        self._code, self._funcs, self._consts = self._generate()
        self._run = backend.plan_scope(self.calling(None))

    def _generate(self):
        graph, funcs, consts = self.graph, [], []
        last = {}
        for k, (_, args, _, _) in enumerate(self.steps):
            for a in _walk(args):
                if type(a) is V:
                    last[a.i] = k
        dead_after = {}                 # step -> the values no later step reads
        for i, k in last.items():
            if i not in graph.outputs:
                dead_after.setdefault(k, []).append(f"v{i}")

        def expr(a):
            if type(a) is V:
                return f"v{a.i}"
            if type(a) in (tuple, list) and any(type(x) is V for x in _walk(a)):
                inner = ", ".join(expr(x) for x in a)
                return f"({inner},)" if type(a) is tuple else f"[{inner}]"
            consts.append(a)
            return f"A[{len(consts) - 1}]"

        lines = ["def run(inputs):"]
        if graph.inputs:
            lines.append("    " + ", ".join(f"v{i}" for i in graph.inputs) + ", = inputs")
        lines += [f"    v{i} = K[{i}]" for i in self.consts]
        for k, (call, args, outs, fused) in enumerate(self.steps):
            funcs.append(call)
            call_text = f"F[{k}](" + ", ".join(expr(a) for a in args) + ")"
            if len(outs) == 1:
                target = f"v{outs[0]}" + ("," if fused else "")
            else:
                target = ", ".join("_" if o is None else f"v{o}" for o in outs) + ","
            lines.append(f"    {target} = {call_text}")
            if k in dead_after:
                lines.append("    del " + ", ".join(dead_after[k]))
        lines.append("    return [" + ", ".join(f"v{i}" for i in graph.outputs) + "]")
        self.source = "\n".join(lines)      # what a call runs, for reading
        return compile(self.source, f"<ember plan of {len(self.steps)} steps>", "exec"), funcs, consts

    def calling(self, through):
        """The plan's function with each step's callable ``call`` replaced by
        ``through(call)`` (None: the callables themselves). The one executor a graph has:
        a recorder of the launches (CUDA graph capture) runs the plan through it."""
        funcs = self._funcs if through is None else [through(f) for f in self._funcs]
        scope = {"F": funcs, "A": self._consts, "K": self.consts}
        exec(self._code, scope)
        return scope["run"]

    def __call__(self, buffers):
        """The output buffers for input ``buffers``."""
        return self._run(buffers)


def _random_draw(backend):
    """A recorded draw replayed: the same call on the host generator, uploaded."""
    from . import random

    def draw(method, args, kwargs, dtype):
        values = random.draw(method, *args, **dict(kwargs))
        return backend.from_numpy(np.ascontiguousarray(values, dtype=np.dtype(dtype)))
    return draw


def _fuse(graph, backend):
    """Steps: ``(primitive name, args, outs)``, or ``(kernel, input refs, outs)`` for a run
    of elementwise nodes over one shape. A node joins an open group when one of its
    inputs comes from the group and its other inputs were ready before the group began;
    a group closes as soon as a node outside it reads one of its values, so a group's
    kernel can run where its last node stood. A sum, max or min of a value of an open
    group ends the group: the kernel computes the group's elements row by row and
    reduces them as it goes, where the reduction stood."""
    producer = {}        # value id -> index of its node
    group_of = {}        # node index -> group
    groups = []
    for k, n in enumerate(graph.nodes):
        for o in n.outs:
            if o is not None:
                producer[o] = k
        refs = n.refs()
        mine = None
        if n.name in ELEMENTWISE and len(n.outs) == 1:
            shape = graph.meta[n.outs[0]][0]
            for r in refs:
                g = group_of.get(producer.get(r, -1))
                if g is not None and g["open"] and g["shape"] == shape and all(
                        producer.get(q, -1) < g["start"] or group_of.get(producer.get(q)) is g
                        for q in refs):
                    mine = g
                    break
            if mine is None:
                mine = {"open": True, "shape": shape, "start": k, "nodes": [], "reduce": None}
                groups.append(mine)
            mine["nodes"].append(k)
            group_of[k] = mine
        elif n.name in ("sum", "max", "min") and n.args[1] and refs:
            g = group_of.get(producer.get(refs[0], -1))
            if g is not None and g["open"] and graph.meta[refs[0]][1].kind in "fi":
                g["reduce"], mine = k, g
                g["open"] = False
                group_of[k] = g
        for r in refs:
            g = group_of.get(producer.get(r, -1))
            if g is not None and g is not mine:
                g["open"] = False
    used_later = {}
    for k, n in enumerate(graph.nodes):
        for r in n.refs():
            used_later.setdefault(r, set()).add(k)
    outputs = set(graph.outputs)
    steps = []
    for k, n in enumerate(graph.nodes):
        g = group_of.get(k)
        if g is None or (len(g["nodes"]) == 1 and g["reduce"] is None):
            steps.append((n.name, n.args, n.outs))
            continue
        last = g["reduce"] if g["reduce"] is not None else g["nodes"][-1]
        if k != last:
            continue
        step = _fused_step(graph, backend, g, producer, used_later, outputs)
        if step is None:            # the backend declined (too many buffers to bind)
            steps += [(graph.nodes[m].name, graph.nodes[m].args, graph.nodes[m].outs)
                      for m in g["nodes"] + ([g["reduce"]] if g["reduce"] is not None else [])]
        else:
            steps.append(step)
    return steps


def _fused_step(graph, backend, g, producer, used_later, outputs):
    """The step of one group: its FusedSpec compiled by the backend, or None."""
    members = g["nodes"]
    inside = {graph.nodes[m].outs[0] for m in members}
    readers = set(members) | ({g["reduce"]} if g["reduce"] is not None else set())
    ext, spec_nodes = [], []
    for m in members:
        node = graph.nodes[m]
        ins = []
        for a in node.args:
            if type(a) is V and a.i in inside:
                ins.append(("n", members.index(producer[a.i])))
            elif type(a) is V:
                if a.i not in ext:
                    ext.append(a.i)
                ins.append(("x", ext.index(a.i)))
        attr = next((a for a in node.args if isinstance(a, dt.DType)), None)
        spec_nodes.append((node.name, tuple(ins), attr, graph.meta[node.outs[0]][1]))
    out_nodes = [i for i, m in enumerate(members)
                 if graph.nodes[m].outs[0] in outputs
                 or used_later.get(graph.nodes[m].outs[0], set()) - readers]
    reduce = None
    outs = [graph.nodes[members[i]].outs[0] for i in out_nodes]
    if g["reduce"] is not None:
        r = graph.nodes[g["reduce"]]
        x = r.refs()[0]
        reduce = (r.name, members.index(producer[x]), tuple(r.args[1]),
                  graph.meta[r.outs[0]][0])
        outs.append(r.outs[0])
    scalars = [graph.consts[i].reshape(()).item() if i in graph.consts
               and graph.consts[i].size == 1 else None for i in ext]
    spec = FusedSpec(g["shape"], [graph.meta[i] for i in ext], spec_nodes, out_nodes,
                     scalars, reduce)
    kernel = backend.fast_fused(spec)
    if kernel is None:
        return None
    return kernel, [V(i) for i, v in zip(ext, scalars) if v is None], outs


class FusedSpec:
    """What a backend's ``fast_fused`` compiles: over output ``shape``, external inputs
    (shape, NumPy dtype) broadcast to it; nodes (primitive, inputs, dtype attribute,
    output NumPy dtype) whose inputs are ("x", k) for external input k or ("n", j) for
    node j; and which nodes' values the kernel writes out, in order. ``scalars[k]`` is
    the value of input k when it is a one-element constant, to be written into the
    kernel as a literal (a value loaded from memory keeps pocl from vectorizing);
    the kernel's arguments are the other inputs, in order. ``reduce``, when set, is
    (sum / max / min, the node reduced, its sorted axes, the result's shape): the
    kernel also returns that reduction, after the other outputs."""

    __slots__ = ("shape", "inputs", "nodes", "outputs", "scalars", "reduce")

    def __init__(self, shape, inputs, nodes, outputs, scalars=None, reduce=None):
        self.shape, self.inputs, self.nodes, self.outputs = tuple(shape), inputs, nodes, outputs
        self.scalars = list(scalars) if scalars is not None else [None] * len(inputs)
        self.reduce = reduce

    def dtype_of(self, operand):
        """The NumPy dtype of a node's operand, ("x", k) or ("n", j)."""
        kind, k = operand
        return self.inputs[k][1] if kind == "x" else self.nodes[k][3]

    @property
    def buffers(self):
        """Indices of the inputs passed as buffers."""
        return [k for k, v in enumerate(self.scalars) if v is None]

