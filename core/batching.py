"""vmap in one batched pass: func is recorded once, on the first slice, by
ember.compile's tracer, and the recorded primitive calls run again over the whole
batch, each rewritten by a batching rule to carry the mapped axis in front (as
JAX's and torch.func's batching rules do, here over the ~40 backend primitives
and the common fast paths rather than every op).

A call that cannot be batched this way raises Unbatchable and vmap runs func once
per slice instead: a host read (``.item()``, a branch on a value), a primitive with
no rule (a host routine as ``lapack``), or effects beyond the results (state rebound,
``.grad`` set).
"""

import numpy as np

from . import dispatch
from . import dtypes as dt
from . import random as _random
from .autograd import _topological
from .compile import CompileError, _Trace
from .graph import ELEMENTWISE, V
from .pytree import tensors_of
from .tensor import wrap


class Unbatchable(Exception):
    """The recorded call has no batched form; the reason says why."""


_UNARY = frozenset("neg exp log sin cos tanh sqrt abs sign real imag conj cast".split())
_BROADCASTING = frozenset("add sub mul div pow maximum minimum eq ne lt le gt ge where".split())
#: fast paths computing each element from the same position of their operands
_FAST = frozenset(n for n in ELEMENTWISE if n.startswith("fast_")) | {
    "fast_relu_grad", "fast_hardswish", "fast_hardsigmoid", "fast_rounding"}
#: (x, axes, ...) with a tuple of axes, and (x, axis, ...) with one: the axes move by one
_AXES = frozenset("sum max min flip".split())
_AXIS = frozenset("argmax fast_softmax fast_log_softmax fast_cumsum".split())


class _SliceTrace(_Trace):
    """ember.compile's trace, where any host read ends the recording: the first slice's
    values must not decide anything for the others."""

    def host_read(self, original, buf):
        raise CompileError("vmap: func reads a tensor's values on the host")


def record(func, args, kwargs):
    """(trace, result) of one eager call of func, the result kept as the call made it
    where it needs no gradient (``trace.kept``; else rebuilt without its graph, which
    would hold the call's values alive as if cached); ``trace.reached``: the ids of the
    tensors the result's graph reaches. trace is None where the call cannot be recorded."""
    reached = set()

    def keep(result):
        live = [t for t in tensors_of(result)[0] if t.requires_grad]
        reached.update(id(t) for t in _topological(live))
        return not live
    try:
        trace, result = _SliceTrace.run(func, args, kwargs, keep=keep)
    except CompileError:
        return None, None
    trace.reached = reached
    return trace, result


class _Val:
    """A value while the batched graph runs: its buffer, its per-slice shape, and
    whether the buffer carries the batch axis in front."""

    __slots__ = ("buf", "shape", "dtype", "batched")

    def __init__(self, buf, meta, batched):
        self.buf, self.batched = buf, batched
        self.shape, self.dtype = tuple(meta[0]), meta[1]


class _Batch:
    """The batching rules of one run: backend ``b`` (or a recorder's view of it) and the
    batch size ``n``. A method ``_<primitive>`` is that primitive's rule."""

    def __init__(self, b, n):
        self.b, self.n = b, n

    def lift(self, v, rank):
        """v's buffer at rank ``rank + 1``, broadcastable against batched values of
        per-slice rank ``rank``: the batch axis (or 1) in front, then 1s."""
        ones = (1,) * (rank - len(v.shape))
        shape = ((self.n,) if v.batched else (1,)) + ones + v.shape
        return v.buf if v.batched and not ones else self.b.reshape(v.buf, shape)

    def full(self, v, shape=None):
        """v's buffer as a batched buffer of per-slice ``shape`` (v's own by default)."""
        shape = v.shape if shape is None else tuple(shape)
        if v.batched and v.shape == shape:
            return v.buf
        return self.b.expand(self.lift(v, len(shape)), (self.n,) + shape)

    def offsets(self, index, length):
        """index (batched) plus b * length for slice b: positions in the batch and axis
        laid end to end."""
        steps = np.arange(self.n, dtype=index.dtype) * length
        flat = self.b.from_numpy(steps.reshape((self.n,) + (1,) * len(index.shape)))
        return self.b.add(index.buf, flat)

    def call(self, name, args, shapes):
        """Primitive ``name`` over the batch; ``shapes``: its outputs' per-slice shapes."""
        out_shape = shapes[0]
        b = self.b
        if name in _UNARY:
            return getattr(b, name)(args[0].buf, *args[1:])
        if name in _BROADCASTING:
            rank = len(out_shape)
            return getattr(b, name)(*[self.lift(a, rank) if isinstance(a, _Val) else a
                                      for a in args])
        if name in _FAST:
            return getattr(b, name)(*[self.full(a, out_shape) if isinstance(a, _Val) else a
                                      for a in args])
        if name in _AXES:
            return getattr(b, name)(args[0].buf, tuple(a + 1 for a in args[1]), *args[2:])
        if name in _AXIS:
            return getattr(b, name)(args[0].buf, args[1] % len(args[0].shape) + 1, *args[2:])
        if name in _FOLDED:
            return self.folded(name, args, shapes)
        return getattr(self, "_" + name)(*args)

    def folded(self, name, args, shapes):
        """A fast path over a leading axis of samples (convolutions, pools): the batch
        joins that axis, its weights shared by all."""
        data = _FOLDED[name]
        b, n = self.b, self.n
        given = []
        for k, a in enumerate(args):
            if k in data and isinstance(a, _Val):
                given.append(b.reshape(self.full(a), (n * a.shape[0],) + a.shape[1:]))
            elif isinstance(a, _Val) and a.batched:
                raise Unbatchable(f"{name} with batched weights")
            elif name == "fast_max_unpool2d" and k == 5:        # the output's shape
                given.append((n * a[0],) + tuple(a[1:]))
            else:
                given.append(a.buf if isinstance(a, _Val) else a)
        out = getattr(b, name)(*given)
        outs = out if isinstance(out, tuple) else (out,)
        split = tuple(b.reshape(o, (n,) + tuple(s)) for o, s in zip(outs, shapes))
        return split if isinstance(out, tuple) else split[0]

    # -- the rules of the primitives that move axes in other ways -------------------------
    def _reshape(self, x, shape):
        return self.b.reshape(x.buf, (self.n,) + tuple(shape))

    def _permute(self, x, axes):
        return self.b.permute(x.buf, (0,) + tuple(a + 1 for a in axes))

    def _expand(self, x, shape):
        return self.b.expand(self.lift(x, len(shape)), (self.n,) + tuple(shape))

    def _slice(self, x, starts, stops, steps):
        return self.b.slice(x.buf, (0,) + tuple(starts), (self.n,) + tuple(stops),
                            (1,) + tuple(steps))

    def _pad(self, x, widths, value):
        return self.b.pad(x.buf, ((0, 0),) + tuple(widths), value)

    def _concatenate(self, xs, axis):
        return self.b.concatenate([self.full(x) for x in xs], axis + 1)

    def _fast_argsort(self, x, descending):      # rows of a 2-d buffer: the batch's rows too
        rows, n = x.shape
        order = self.b.fast_argsort(self.b.reshape(x.buf, (self.n * rows, n)), descending)
        return self.b.reshape(order, (self.n, rows, n))

    def _fast_addmm(self, c, x, y, relu=False):
        """c + x @ y with one operand batched: the batch joins its rows or its columns, where
        the bias c is the same along that axis."""
        b, n = self.b, self.n
        (rows, k), cols = x.shape, y.shape[1]
        if x.batched and not (y.batched or c.batched) and (len(c.shape) < 2 or c.shape[0] == 1):
            out = b.fast_addmm(c.buf, b.reshape(x.buf, (n * rows, k)), y.buf, relu)
            return b.reshape(out, (n, rows, cols))
        if y.batched and not (x.batched or c.batched) and (not c.shape or c.shape[-1] == 1):
            joined = b.reshape(b.permute(y.buf, (1, 0, 2)), (k, n * cols))
            out = b.reshape(b.fast_addmm(c.buf, x.buf, joined, relu), (rows, n, cols))
            return b.permute(out, (1, 0, 2))
        # otherwise (an ensemble's weights): the product and the sum as their own rules
        both = x.batched or y.batched
        prod = self._matmul(x, y) if both else b.matmul(x.buf, y.buf)
        out = b.add(self.lift(_Val(prod, ((rows, cols), x.dtype), both), 2), self.lift(c, 2))
        return b.maximum(out, b.full((), 0, dt.from_numpy_dtype(x.dtype))) if relu else out

    def _fast_im2col(self, x, kernel, stride, dilation):
        """(c, kh, kw, N, oh, ow) windows of N images: the batch joins N."""
        b, n = self.b, self.n
        cols = b.fast_im2col(b.reshape(x.buf, (n * x.shape[0],) + x.shape[1:]), kernel, stride,
                             dilation)
        c, kh, kw, _, oh, ow = cols.shape
        split = b.reshape(cols, (c, kh, kw, n, x.shape[0], oh, ow))
        return b.permute(split, (3, 0, 1, 2, 4, 5, 6))

    def _fast_col2im(self, cols, shape, kernel, stride, dilation):
        b, n = self.b, self.n
        c, kh, kw, m, oh, ow = cols.shape
        joined = b.reshape(b.permute(self.full(cols), (1, 2, 3, 0, 4, 5, 6)),
                           (c, kh, kw, n * m, oh, ow))
        out = b.fast_col2im(joined, (n * shape[0],) + tuple(shape[1:]), kernel, stride, dilation)
        return b.reshape(out, (n,) + tuple(shape))

    def _fast_standardize(self, x, axes, eps):
        found = self.b.fast_standardize(x.buf, tuple(a + 1 for a in axes), eps)
        if found is None:    # the backend leaves these values to the composed form
            raise Unbatchable("fast_standardize declined the batch")
        return found

    def _fast_standardize_grad(self, g, y, rstd, axes):
        return self.b.fast_standardize_grad(self.full(g), self.full(y), self.full(rstd),
                                            tuple(a + 1 for a in axes))

    def _fast_attention(self, q, k, v, mask, keep, scale, causal):
        """The backend broadcasts the leading axes of q, k, v and the masks: the batch
        is one more of them."""
        if not (q.batched or k.batched or v.batched):
            raise Unbatchable("fast_attention with only its mask batched")
        rank = max(len(x.shape) for x in (q, k, v, mask, keep) if isinstance(x, _Val))
        given = [self.lift(x, rank) if isinstance(x, _Val) else x for x in (q, k, v, mask, keep)]
        return self.b.fast_attention(*given, scale, causal)

    def _fast_attention_grad(self, g, q, k, v, mask, keep, scale, causal, lse, out):
        rank = len(out.shape)
        given = [self.lift(x, rank) if isinstance(x, _Val) else x for x in (g, q, k, v, mask, keep)]
        return self.b.fast_attention_grad(*given, scale, causal, self.full(lse), self.full(out))

    def _matmul(self, x, y):
        b, n = self.b, self.n
        if x.shape[-1] == 1 and len(x.shape) >= 2 and len(y.shape) >= 2:
            rank = max(len(x.shape), len(y.shape))      # outer products: one broadcast product
            return b.mul(self.lift(x, rank), self.lift(y, rank))
        if not y.batched and len(y.shape) == 2:         # the batch joins the rows: one GEMM
            rows = n * int(np.prod(x.shape[:-1]))
            out = b.matmul(b.reshape(x.buf, (rows, x.shape[-1])), y.buf)
            return b.reshape(out, (n,) + x.shape[:-1] + (y.shape[1],))
        if not x.batched and len(x.shape) == 2 and len(y.shape) == 2:   # ...or the columns
            k, m = y.shape
            cols = b.reshape(b.permute(y.buf, (1, 0, 2)), (k, n * m))
            out = b.reshape(b.matmul(x.buf, cols), (x.shape[0], n, m))
            return b.permute(out, (1, 0, 2))
        rank = max(len(x.shape), len(y.shape))
        return b.matmul(self.lift(x, rank), self.lift(y, rank))

    def _gather(self, x, axis, index):
        b = self.b
        if not index.batched:
            return b.gather(x.buf, axis + 1, index.buf)
        # each slice's index into its own slice: lay the batch axis and the gathered one
        # end to end (batch just before ``axis``), and offset each slice's index
        full = self.full(x)
        rank = len(x.shape)
        front = b.permute(full, tuple(range(1, axis + 1)) + (0,) + tuple(range(axis + 1, rank + 1)))
        merged = b.reshape(front, x.shape[:axis] + (self.n * x.shape[axis],) + x.shape[axis + 1:])
        out = b.gather(merged, axis, self.offsets(index, x.shape[axis]))
        # (before..., n, index..., after...) -> (n, before..., index..., after...)
        count = len(index.shape) + 1 + rank - 1
        return b.permute(out, (axis,) + tuple(range(axis)) + tuple(range(axis + 1, count)))

    def _scatter_add(self, shape, axis, index, src):
        b = self.b
        shape = tuple(shape)
        if not index.batched:
            return b.scatter_add((self.n,) + shape, axis + 1, index.buf, self.full(src))
        # gather's adjoint, laid out as _gather lays it
        rank = len(src.shape)
        moved = b.permute(self.full(src), tuple(range(1, axis + 1)) + (0,)
                          + tuple(range(axis + 1, rank + 1)))
        merged = shape[:axis] + (self.n * shape[axis],) + shape[axis + 1:]
        out = b.scatter_add(merged, axis, self.offsets(index, shape[axis]), moved)
        split = b.reshape(out, shape[:axis] + (self.n, shape[axis]) + shape[axis + 1:])
        return b.permute(split, (axis,) + tuple(range(axis))
                         + tuple(range(axis + 1, len(shape) + 1)))


#: fast paths over samples in a leading axis: the positions of their per-sample operands
_FOLDED = {"fast_conv2d": (0, 6), "fast_conv3x3": (0, 4), "fast_depthwise_conv2d": (0,),
           "fast_max_pool2d": (0,), "fast_max_unpool2d": (0, 1)}

#: every primitive with a rule: the sets above, and each method ``_<primitive>`` of _Batch
_RULES = _UNARY | _BROADCASTING | _FAST | _AXES | _AXIS | frozenset(_FOLDED) | frozenset(
    n[1:] for n in vars(_Batch) if n.startswith("_") and not n.startswith("__"))


def _refs(a):
    if type(a) is V:
        yield a
    elif type(a) in (tuple, list):
        for x in a:
            yield from _refs(x)


def run(trace, args, size, randomness):
    """The recorded call over the whole batch: the result leaves as (buffer, batched),
    batched ones with the batch axis in front. ``args``: per argument tensor the trace
    took as an input, its (buffer, batched): the whole batch's, batch axis in front, or
    the one every slice shares. Checks every node before running any."""
    graph = trace.graph.pruned()
    if trace.rebound_any:
        raise Unbatchable("func changes existing tensors (in place) besides returning results")
    batched = {i for i, (_, m) in zip(graph.inputs, args) if m}
    random = []
    for n in graph.nodes:
        if n.name == "random":
            random.append(n)
            if randomness == "different":
                batched.update(n.outs)
            continue
        if any(r.i in batched for r in _refs(n.args)):
            if n.name not in _RULES or (n.name == "argmax" and n.args[1] is None):
                raise Unbatchable(f"no batching rule for {n.name}")
            batched.update(o for o in n.outs if o is not None)
    if any(i in batched for i in graph.outputs[len(trace.out_ids):]):
        raise Unbatchable("func keeps a tensor made from the mapped arguments (in a cache)")
    if random and randomness == "different" and dispatch.active() is not None:
        raise Unbatchable("per-slice random draws inside a recording")

    b = dispatch.primitives(trace.backend)
    batch = _Batch(b, size)
    env = {}
    n_args = trace.n_args
    for k, i in enumerate(graph.inputs):
        buf = args[k][0] if k < n_args else dispatch.read(trace.state_in[k - n_args]())
        env[i] = _Val(buf, graph.meta[i], i in batched)
    for i, c in graph.consts.items():
        env[i] = _Val(b.from_numpy(c), graph.meta[i], False)

    def resolve(a):
        t = type(a)
        if t is V:
            return env[a.i]
        if t is tuple or t is list:
            return t(resolve(x) for x in a)
        return a

    def plain(a):
        t = type(a)
        if t is _Val:
            return a.buf
        if t is tuple or t is list:
            return t(plain(x) for x in a)
        return a

    last = {r: k for k, n in enumerate(graph.nodes) for r in n.refs()}
    wanted = set(graph.outputs)
    for k, n in enumerate(graph.nodes):
        outs_batched = any(o in batched for o in n.outs if o is not None)
        if n.name == "random":
            method, given, kwargs, dtype = n.args
            values = [_random.draw(method, *given, **dict(kwargs))
                      for _ in range(size if outs_batched else 1)]
            values = np.stack(values) if outs_batched else values[0]
            result = b.from_numpy(np.ascontiguousarray(values, np.dtype(dtype)))
        elif outs_batched:
            result = batch.call(n.name, resolve(n.args),
                                [graph.meta[o][0] for o in n.outs if o is not None])
        else:
            result = getattr(b, n.name)(*plain(resolve(n.args)))
        results = result if len(n.outs) > 1 else (result,)
        for o, r in zip(n.outs, results):
            if o is not None:
                env[o] = _Val(r, graph.meta[o], outs_batched)
        for r in n.refs():              # a batch's worth of each value: free it after its last use
            if last[r] == k and r not in wanted:
                env.pop(r, None)
    return [(env[i].buf, env[i].batched) for i in graph.outputs[:len(trace.out_ids)]]


def assemble(trace, outs, size, out_dims_of):
    """The result leaves as tensors: batched ones with the batch axis at their out_dim,
    unbatched ones broadcast there (out_dim None: the first slice's)."""
    b = dispatch.primitives(trace.backend)
    tensors = []
    for (buf, batched), (shape, dtype), d in zip(outs, trace.out_meta, out_dims_of):
        if d is None:
            t = wrap(buf, trace.backend, ((size,) if batched else ()) + tuple(shape), dtype)
            tensors.append(t[0] if batched else t)
            continue
        if not batched:
            buf = b.expand(b.reshape(buf, (1,) + tuple(shape)), (size,) + tuple(shape))
        t = wrap(buf, trace.backend, (size,) + tuple(shape), dtype)
        tensors.append(t.movedim(0, d) if d != 0 else t)
    return tensors


__all__ = ["Unbatchable", "assemble", "record", "run"]
