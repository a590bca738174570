"""ember -> ONNX. ``ember.compile`` traces the function into a Graph of backend primitives
(ember.graph); each primitive is written as the standard ONNX ops it means, the state
the function reads (parameters, buffers) as initializers and its arguments as inputs.
A layer with an ONNX op of its own (Conv2d, Linear, LayerNorm, BatchNorm2d, pooling,
Hardswish, Hardsigmoid) is written as that op: the trace marks which layer recorded each
primitive (ember.layer_scope), so other runtimes can use their own kernels for it. A
layer class of any package gives its own form with a method ``onnx_op(builder, x, out,
param)``.

A dynamic batch axis is found by tracing twice, at the example's batch size and at one
more: every shape number that differs between the two traces is linear in the batch
size and is written as arithmetic on the input's shape, so the exported model takes
any batch."""

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import ember
from ember import EmberError, ShapeError
from ember.plugins.nn import functional as F

INT_MAX = np.iinfo(np.int64).max
_TRACES = 5          # calls for ember.compile to agree on a trace


class ExportError(EmberError, NotImplementedError):
    """A traced primitive (or its use) that has no ONNX form here."""


def _elem_type(npd):
    return helper.np_dtype_to_tensor_dtype(np.dtype(npd))


def _trace(fn, args):
    """(graph, state tensors) of fn's replayed Graph for these arguments."""
    compiled = ember.compile(fn, optimize=False, capture=False)
    with ember.no_grad():
        for _ in range(_TRACES):
            compiled(*args)
            graph = compiled.graph(*args)
            if graph is not None:
                return graph, compiled.state(*args)
    raise ExportError("export: ember.compile did not settle on one trace of the function")


class _Builder:
    """Collects ONNX nodes and initializers; names values as the Graph labels them.

    A layer's ``onnx_op`` writes through two calls: ``node(op_type, inputs, outputs=None,
    **attributes)`` adds a node and returns its output's name (names, with several
    outputs), ``const(value, dtype=np.int64)`` adds an initializer and returns its name;
    ``opset`` is the opset being written."""

    def __init__(self, graph, batch, opset):
        self.graph, self.batch, self.opset = graph, batch, opset
        self.nodes, self.inits, self.count = [], [], 0
        self._batch_name = None

    def name(self, i):
        return self.graph.names.get(i, f"v{i}")

    def fresh(self, hint):
        self.count += 1
        return f"{hint}_{self.count}"

    def const(self, value, dtype=np.int64, hint="c"):
        name = self.fresh(hint)
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def node(self, op, inputs, outputs=None, **attrs):
        outputs = outputs or [self.fresh(op.lower())]
        self.nodes.append(helper.make_node(op, list(inputs), list(outputs), **attrs))
        return outputs[0] if len(outputs) == 1 else outputs

    # -- shapes that may follow the batch size -----------------------------------------
    def ints(self, here, there):
        """A 1-D int64 tensor of ``here`` (this trace's numbers), where each number that
        differs in the other trace (``there``) is computed from the input's batch size."""
        here = [int(v) for v in here]
        there = here if there is None else [int(v) for v in there]
        if here == there:
            return self.const(here)
        parts = []
        for a, b in zip(here, there):
            if a == b:
                parts.append(self.const([a]))
                continue
            scale = b - a                           # the number is scale * batch + offset
            offset = a - scale * self.batch
            term = self.node("Mul", [self.batch_size(), self.const([scale])])
            parts.append(self.node("Add", [term, self.const([offset])]) if offset else term)
        return self.node("Concat", parts, axis=0)

    def batch_size(self):
        if self._batch_name is None:
            shape = self.node("Shape", [self.name(self.graph.inputs[0])])
            self._batch_name = self.node("Slice", [shape, self.const([0]), self.const([1])])
        return self._batch_name


def _arg(b, a):
    """A node argument as an ONNX value name (a V ref) or as it is (a constant)."""
    from ember.graph import V
    return b.name(a.i) if type(a) is V else a


_SAME = {"neg": "Neg", "exp": "Exp", "log": "Log", "sin": "Sin", "cos": "Cos", "tanh": "Tanh",
         "sqrt": "Sqrt", "abs": "Abs", "sign": "Sign", "add": "Add", "sub": "Sub", "mul": "Mul",
         "div": "Div", "pow": "Pow", "maximum": "Max", "minimum": "Min", "eq": "Equal",
         "lt": "Less", "le": "LessOrEqual", "gt": "Greater", "ge": "GreaterOrEqual",
         "where": "Where", "matmul": "MatMul", "fast_relu": "Relu", "fast_sigmoid": "Sigmoid"}
_REDUCE = {"sum": "ReduceSum", "max": "ReduceMax", "min": "ReduceMin"}


def _emit(b, node, other):
    """Write one primitive call as ONNX nodes whose outputs carry its value names."""
    args = [_arg(b, a) for a in node.args]
    theirs = None if other is None else [_arg(b, a) for a in other.args]
    outs = [b.name(o) if o is not None else "" for o in node.outs]
    name = node.name
    if name in _SAME:
        return b.node(_SAME[name], args, outs)
    if name == "ne":
        return b.node("Not", [b.node("Equal", args)], outs)
    if name == "cast":
        return b.node("Cast", [args[0]], outs, to=_elem_type(args[1].np))
    if name == "full":
        shape, value, dtype = args
        if theirs is None or list(shape) == list(theirs[0]):
            value = np.full(shape, value, dtype=dtype.np)
            b.inits.append(numpy_helper.from_array(value, outs[0]))
            return outs[0]
        fill = numpy_helper.from_array(np.full(1, value, dtype=dtype.np))
        return b.node("ConstantOfShape", [b.ints(shape, theirs[0])], outs, value=fill)
    if name in _REDUCE:
        x, axes, keep = args
        axes = list(range(len(b.graph.meta[node.args[0].i][0]))) if axes is None else list(axes)
        return b.node(_REDUCE[name], [x, b.const(axes)], outs, keepdims=int(bool(keep)))
    if name == "argmax":
        x, axis, keep = args
        return b.node("ArgMax", [x], outs, axis=int(axis), keepdims=int(bool(keep)))
    if name == "reshape":
        return b.node("Reshape", [args[0], b.ints(args[1], theirs and theirs[1])], outs)
    if name == "permute":
        return b.node("Transpose", [args[0]], outs, perm=list(args[1]))
    if name == "expand":
        return b.node("Expand", [args[0], b.ints(args[1], theirs and theirs[1])], outs)
    if name == "flip":
        axes = list(args[1])
        return b.node("Slice", [args[0], b.const([-1] * len(axes)), b.const([-INT_MAX] * len(axes)),
                                b.const(axes), b.const([-1] * len(axes))], outs)
    if name == "slice":
        x, starts, stops, steps = args
        axes = list(range(len(starts)))
        return b.node("Slice", [x, b.ints(starts, theirs and theirs[1]),
                                b.ints(stops, theirs and theirs[2]), b.const(axes),
                                b.const(list(steps))], outs)
    if name == "pad":
        x, widths, value = args
        pads = [w[0] for w in widths] + [w[1] for w in widths]
        fill = b.const(value, dtype=b.graph.meta[node.args[0].i][1], hint="pad_value")
        return b.node("Pad", [x, b.const(pads), fill], outs, mode="constant")
    if name == "concatenate":
        return b.node("Concat", list(args[0]), outs, axis=int(args[1]))
    if name == "gather":
        return b.node("Gather", [args[0], args[2]], outs, axis=int(args[1]))
    if name == "fast_gelu_tanh":          # x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        x, dtype = args[0], b.graph.meta[node.args[0].i][1]
        cube = b.node("Mul", [x, b.node("Mul", [x, x])])
        inner = b.node("Mul", [b.node("Add", [x, b.node("Mul", [cube, b.const(0.044715, dtype)])]),
                               b.const(np.sqrt(2 / np.pi), dtype)])
        half = b.node("Mul", [x, b.const(0.5, dtype)])
        return b.node("Mul", [half, b.node("Add", [b.node("Tanh", [inner]), b.const(1.0, dtype)])],
                      outs)
    if name == "fast_erf":
        return b.node("Erf", [args[0]], outs)
    if name == "fast_gelu":               # x/2 (1 + erf(x / sqrt 2)), any opset
        x, dtype = args[0], b.graph.meta[node.args[0].i][1]
        half = b.node("Mul", [x, b.const(0.5, dtype)])
        erf = b.node("Erf", [b.node("Mul", [x, b.const(np.sqrt(0.5), dtype)])])
        return b.node("Mul", [half, b.node("Add", [erf, b.const(1.0, dtype)])], outs)
    if name == "fast_log1p":
        dtype = b.graph.meta[node.args[0].i][1]
        return b.node("Log", [b.node("Add", [args[0], b.const(1.0, dtype)])], outs)
    if name == "fast_expm1":
        dtype = b.graph.meta[node.args[0].i][1]
        return b.node("Sub", [b.node("Exp", [args[0]]), b.const(1.0, dtype)], outs)
    if name in ("fast_softmax", "fast_log_softmax"):
        op = "Softmax" if name == "fast_softmax" else "LogSoftmax"
        return b.node(op, [args[0]], outs, axis=int(args[1]))
    if name == "fast_standardize":         # LayerNormalization with a scale of ones
        x, axes, eps = args
        shape, dtype = b.graph.meta[node.args[0].i]
        if tuple(axes) != tuple(range(len(shape) - len(axes), len(shape))):
            raise ExportError(f"export: standardizing over axes {tuple(axes)} of a rank-"
                              f"{len(shape)} tensor has no ONNX form here (LayerNormalization "
                              f"takes the trailing axes); move them last")
        ones = b.const(np.ones(shape[len(shape) - len(axes):]), dtype)
        b.node("LayerNormalization", [x, ones], [outs[0], "", outs[1]], axis=-len(axes),
               epsilon=float(eps))
        return outs[0]
    if name == "fast_addmm":
        c, a, m, *relu = args
        if relu and relu[0]:
            return b.node("Relu", [b.node("Add", [b.node("MatMul", [a, m]), c])], outs)
        return b.node("Add", [b.node("MatMul", [a, m]), c], outs)
    if name == "fast_hardswish":
        return b.node("HardSwish", args, outs)
    if name == "fast_hardsigmoid":
        return b.node("HardSigmoid", args, outs, alpha=1 / 6, beta=0.5)
    if name == "fast_im2col":
        return _im2col(b, node, args, outs)
    if name == "fast_depthwise_conv2d":
        x, w, bias, stride, (ph, pw), dilation = args
        channels, _, kh, kw = b.graph.meta[node.args[1].i][0]
        return b.node("Conv", [x, w] + [bias] * (bias is not None), outs[:1],
                      kernel_shape=[kh, kw], strides=list(stride), pads=[ph, pw, ph, pw],
                      dilations=list(dilation), group=channels)
    if name in ("fast_conv3x3", "fast_conv2d"):
        if name == "fast_conv3x3":
            x, w, bias, padding, residual, relu = args
            stride = dilation = (1, 1)
        else:
            x, w, bias, stride, padding, dilation, residual, relu = args
        kh, kw = b.graph.meta[node.args[1].i][0][2:]
        (ph, pw), last = padding, residual is None and not relu
        out = b.node("Conv", [x, w] + [bias] * (bias is not None), outs[:1] if last else None,
                     kernel_shape=[kh, kw], strides=list(stride), pads=[ph, pw, ph, pw],
                     dilations=list(dilation))
        if residual is not None:
            out = b.node("Add", [out, residual], None if relu else outs[:1])
        return b.node("Relu", [out], outs[:1]) if relu else out
    if name == "fast_max_pool2d":
        x, kernel, stride, dilation = args
        b.node("MaxPool", [x], outs[:1], kernel_shape=list(kernel), strides=list(stride),
               dilations=list(dilation))
        return outs[0]
    if name == "fast_attention":
        return _attention(b, node, args, outs)
    if name == "lapack":        # ember.linalg's host step: ONNX has a determinant only
        if args[0] == "det":
            return b.node("Det", [args[2]], outs)
        raise ExportError(f"export: linalg's {args[0]!r} has no standard ONNX operator (ONNX "
                          f"has Det alone); compute it outside the exported function")
    raise ExportError(f"export: the primitive {name!r} has no ONNX form here (it appears in "
                      f"training code: export the model's forward in eval mode)")


def _im2col(b, node, args, outs):
    """The (C, kh, kw, N, OH, OW) windows of an NCHW input: one strided Slice per kernel
    offset, stacked and transposed."""
    x, (kh, kw), (sh, sw), (dh, dw) = args
    c, _, _, n, oh, ow = b.graph.meta[node.outs[0]][0]
    windows = []
    for i in range(kh):
        for j in range(kw):
            part = b.node("Slice", [x, b.const([i * dh, j * dw]),
                                    b.const([i * dh + sh * (oh - 1) + 1, j * dw + sw * (ow - 1) + 1]),
                                    b.const([2, 3]), b.const([sh, sw])])
            windows.append(b.node("Unsqueeze", [part, b.const([0])]))
    stacked = b.node("Concat", windows, axis=0)                    # (kh*kw, N, C, OH, OW)
    moved = b.node("Transpose", [stacked], perm=[2, 0, 1, 3, 4])   # (C, kh*kw, N, OH, OW)
    return b.node("Reshape", [moved, b.const([0, kh, kw, -1, oh, ow])], outs[:1])


def _attention(b, node, args, outs):
    """softmax(q k^T * scale + mask) v, the ops of attention's standard decomposition; a
    bool mask selects, a float one adds, and a row that may attend nowhere gives zeros."""
    q, k, v, mask, keep, scale, _causal = args
    if keep is not None:
        raise ExportError("export: attention with dropout: export the model in eval mode")
    dtype = b.graph.meta[node.args[0].i][1]
    rank = len(b.graph.meta[node.args[1].i][0])
    perm = list(range(rank - 2)) + [rank - 1, rank - 2]
    scores = b.node("Mul", [b.node("MatMul", [q, b.node("Transpose", [k], perm=perm)]),
                            b.const(scale, dtype)])
    dead = None
    if mask is not None:
        mask_type = b.graph.meta[node.args[3].i][1]
        lowest = b.const(-np.inf, dtype)
        if np.dtype(mask_type) == np.bool_:
            scores = b.node("Where", [mask, scores, lowest])
            seen = b.node("ReduceMax", [b.node("Cast", [mask], to=TensorProto.INT32),
                                        b.const([-1])], keepdims=1)
            dead = b.node("Not", [b.node("Cast", [seen], to=TensorProto.BOOL)])
        else:
            scores = b.node("Add", [scores, mask])
            dead = b.node("Equal", [b.node("ReduceMax", [mask, b.const([-1])], keepdims=1), lowest])
    probs = b.node("Softmax", [scores], axis=-1)
    if dead is not None:
        probs = b.node("Where", [dead, b.const(0.0, dtype), probs])
    return b.node("MatMul", [probs, v], [outs[1]])


# -- layers written as their ONNX op ------------------------------------------------------

def _pair(v):
    return [v, v] if isinstance(v, int) else list(v)


def _conv(b, layer, x, out, param):
    kh, kw = layer.kernel_size
    (ph, pw), (eh, ew) = F._conv_padding(layer.padding, (kh, kw), tuple(_pair(layer.stride)),
                                         tuple(_pair(layer.dilation)))
    inputs = [x, param(layer.weight)] + ([param(layer.bias)] if layer.bias is not None else [])
    return b.node("Conv", inputs, [out], kernel_shape=[kh, kw], strides=_pair(layer.stride),
                  dilations=_pair(layer.dilation), pads=[ph, pw, ph + eh, pw + ew],
                  group=layer.groups)


def _linear(b, layer, x, out, param, rank):
    if rank == 2:
        inputs = [x, param(layer.weight)] + ([param(layer.bias)] if layer.bias is not None else [])
        return b.node("Gemm", inputs, [out], transB=1)
    product = b.node("MatMul", [x, b.node("Transpose", [param(layer.weight)], perm=[1, 0])],
                     None if layer.bias is not None else [out])
    return b.node("Add", [product, param(layer.bias)], [out]) if layer.bias is not None else product


def _layer_norm(b, layer, x, out, param):
    inputs = [x, param(layer.weight)] + ([param(layer.bias)] if layer.bias is not None else [])
    return b.node("LayerNormalization", inputs, [out], axis=-len(layer.normalized_shape),
                  epsilon=float(layer.eps))


def _batch_norm(b, layer, x, out, param):
    return b.node("BatchNormalization", [x, param(layer.weight), param(layer.bias),
                                         param(layer.running_mean), param(layer.running_var)],
                  [out], epsilon=float(layer.eps))


def _pool(op):
    def write(b, layer, x, out, param):
        kernel = _pair(layer.kernel_size)
        stride = kernel if layer.stride is None else _pair(layer.stride)
        pads = _pair(layer.padding)
        extra = {"dilations": _pair(layer.dilation)} if op == "MaxPool" else {"count_include_pad": 1}
        return b.node(op, [x], [out], kernel_shape=kernel, strides=stride, pads=pads + pads, **extra)
    return write


def _layer_writers():
    from ember.plugins.nn import activations, layers
    return {layers.Conv2d: _conv, layers.Linear: _linear, layers.LayerNorm: _layer_norm,
            layers.BatchNorm2d: _batch_norm, layers.MaxPool2d: _pool("MaxPool"),
            layers.AvgPool2d: _pool("AveragePool"),
            activations.Hardswish: lambda b, layer, x, out, param: b.node("HardSwish", [x], [out]),
            activations.Hardsigmoid: lambda b, layer, x, out, param: b.node(
                "HardSigmoid", [x], [out], alpha=1 / 6, beta=0.5)}


def _writer(layer, writers):
    """What writes ``layer`` as ONNX ops: the function above for ember's own layers, or
    its class's ``onnx_op(builder, x, out, param)`` (how a layer of any package adds its
    form: x and out are the names of its input and output, param(t) names one of its
    parameters or buffers); None for a layer written as the primitives it runs."""
    found = writers.get(type(layer))
    if found is None and callable(getattr(type(layer), "onnx_op", None)):
        return lambda b, layer, x, out, param: layer.onnx_op(b, x, out, param)
    return found


def _groups(graph, writers):
    """Runs of consecutive nodes recorded inside one call of a layer that has an ONNX
    op (its outermost such layer), as (layer or None, [node indices])."""
    runs = []
    for k, node in enumerate(graph.nodes):
        layer = next((s for s in node.scope if _writer(s, writers) is not None), None)
        if runs and layer is not None and runs[-1][0] is layer:
            runs[-1][1].append(k)
        else:
            runs.append((layer, [k]))
    return runs


def _as_layer(b, graph, layer, indices, uses, param_ids, writer):
    """Write the run as the layer's op when it reads one value besides the layer's own
    tensors and gives one value to the rest of the graph; False where it does not."""
    made = {o for k in indices for o in graph.nodes[k].outs if o is not None}
    reads = {r for k in indices for r in graph.nodes[k].refs()} - made
    own = {id(t): param_ids[id(t)] for t in (*layer.parameters(), *layer.buffers())
           if id(t) in param_ids}
    data = [r for r in reads if r not in own.values() and r not in graph.consts]
    last = max(indices)
    given = [o for o in made if any(u > last for u in uses.get(o, ()))]
    if len(data) != 1 or len(given) != 1:
        return False

    def param(t):
        return b.name(own[id(t)])
    extra = {"rank": len(graph.meta[data[0]][0])} if writer is _linear else {}
    writer(b, layer, b.name(data[0]), b.name(given[0]), param, **extra)
    return True


def export(module_or_fn, example_args, path=None, opset=18, dynamic_batch=True):
    """Write ``module_or_fn`` (called on ``example_args``) as a standard ONNX model; return
    the ModelProto, and write it to ``path`` (atomically) when given. Parameters and
    buffers become initializers under their state-dict names. With ``dynamic_batch``,
    axis 0 of every input and output is a free ``batch`` dimension."""
    from ember.io import atomic_write
    args = tuple(example_args) if isinstance(example_args, (tuple, list)) else (example_args,)
    if not args or not all(isinstance(a, ember.Tensor) for a in args):
        raise TypeError("export: example_args must be a tensor or a tuple of tensors")
    graph, state = _trace(module_or_fn, args)
    other, batch = None, args[0].shape[0] if args[0].ndim else None
    if dynamic_batch and batch is not None:
        more = tuple(ember.concatenate([a, a[:1]]) if a.ndim and a.shape[0] == batch else a
                     for a in args)
        other, _ = _trace(module_or_fn, more)
        if [n.name for n in other.nodes] != [n.name for n in graph.nodes]:
            raise ShapeError("export: the traced function makes different calls at batch "
                             f"{batch} and {batch + 1}; export it with dynamic_batch=False")
    if graph.out_names:
        raise ExportError("export: the function changes state (running statistics, "
                          "optimizer state); export the model in eval mode")
    b = _Builder(graph, batch, opset)
    n_args = len(args)
    for i, t in zip(graph.inputs[n_args:], state):
        b.inits.append(numpy_helper.from_array(t.numpy(), b.name(i)))
    for i, value in graph.consts.items():
        b.inits.append(numpy_helper.from_array(np.asarray(value), b.name(i)))
    param_ids = {id(t): i for i, t in zip(graph.inputs[n_args:], state)}
    uses = {}
    for k, node in enumerate(graph.nodes):
        for r in node.refs():
            uses.setdefault(r, []).append(k)
    for o in graph.outputs:
        uses.setdefault(o, []).append(len(graph.nodes))
    writers = _layer_writers()
    for layer, indices in _groups(graph, writers):
        if layer is not None and _as_layer(b, graph, layer, indices, uses, param_ids,
                                           _writer(layer, writers)):
            continue
        for k in indices:
            _emit(b, graph.nodes[k], None if other is None else other.nodes[k])

    def info(i, name):
        shape, dtype = graph.meta[i]
        dims = ["batch" if dynamic_batch and d == 0 and batch is not None and size == batch else size
                for d, size in enumerate(shape)]
        return helper.make_tensor_value_info(name, _elem_type(dtype), dims)
    inputs = [info(i, b.name(i)) for i in graph.inputs[:n_args]]
    outputs = [info(i, b.name(i)) for i in graph.outputs]
    onnx_graph = helper.make_graph(b.nodes, "ember", inputs, outputs, b.inits)
    model = helper.make_model(onnx_graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="ember")
    onnx.checker.check_model(model, full_check=True)
    if path is not None:
        atomic_write(path, model.SerializeToString())
    return model
