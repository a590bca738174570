"""An ONNX model as an ember Module: float initializers become Parameters (so the model
fine-tunes and compiles like any other), nodes run through the op table in ops.py, and
whatever is known on the host at load (integer initializers, constants, the shape
arithmetic built on them) is folded once."""

import os

import numpy as np
import onnx
from google.protobuf.message import DecodeError
from onnx import numpy_helper

import ember
from ember import DTypeError, EmberError, SerializationError, ShapeError
from ember.plugins.nn.module import Module, Parameter

from .control import SCOPED
from .fuse import fuse
from .ops import OPS, Context
from . import quantized, stateful  # noqa: F401  (register their ops in OPS)
from .types import as_tensor, ember_dtype, type_name


class UnsupportedOp(EmberError, NotImplementedError):
    """A node whose op (in its domain and opset) ember.plugins.onnx cannot run."""


class Node:
    """One graph node, its attributes already read into Python values (a subgraph into
    a Program)."""
    __slots__ = ("op_type", "domain", "name", "inputs", "outputs", "attrs", "run")

    def __init__(self, proto, index, opset):
        self.op_type, self.domain = proto.op_type, proto.domain
        self.name = proto.name or f"{proto.op_type}_{index}"
        self.inputs, self.outputs = list(proto.input), list(proto.output)
        if self.domain not in ("", "ai.onnx") or self.op_type not in OPS:
            raise UnsupportedOp(
                f"ONNX node {self.name!r}: op {self.op_type!r} of domain "
                f"{self.domain or 'ai.onnx'!r} (opset {opset}) is not supported by "
                f"ember.plugins.onnx; ember.plugins.onnx.supported_ops() lists those that are")
        self.attrs = {a.name: _attribute(a, self, opset) for a in proto.attribute}
        self.run = OPS[self.op_type]

    def fused(self, name, op_type, inputs, attrs, run):
        """A node that stands for several (fuse.py): it makes this node's outputs from
        ``inputs`` by ``run``."""
        node = object.__new__(Node)
        node.op_type, node.domain, node.name, node.inputs = op_type, "", name, inputs
        node.outputs, node.attrs, node.run = list(self.outputs), attrs, run
        return node


def _attribute(attr, node, opset):
    if attr.type == onnx.AttributeProto.TENSOR:
        return numpy_helper.to_array(attr.t).astype(
            ember_dtype(attr.t.data_type, f"attribute {attr.name} of node {node.name!r}").np)
    if attr.type == onnx.AttributeProto.GRAPH:
        return Program(attr.g, opset)
    value = onnx.helper.get_attribute_value(attr)
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, list) and value and isinstance(value[0], bytes):
        return [v.decode() for v in value]
    return value


def _initializer(init):
    """An initializer's values, after checking that its dims agree with the data it holds
    (so a corrupt header cannot ask for more memory than the file has)."""
    dtype = ember_dtype(init.data_type, f"initializer {init.name!r}")
    count = 1
    for d in init.dims:
        count *= d
    held = len(init.raw_data) // dtype.np.itemsize if init.HasField("raw_data") else max(
        len(init.float_data), len(init.int32_data), len(init.int64_data), len(init.double_data))
    if init.data_location != onnx.TensorProto.EXTERNAL and count != held:
        raise SerializationError(f"ONNX initializer {init.name!r} declares shape "
                                 f"{tuple(init.dims)} ({count} values) but holds {held}; "
                                 f"the file is corrupt")
    try:
        return numpy_helper.to_array(init).astype(dtype.np)
    except (ValueError, OSError) as err:
        raise SerializationError(f"ONNX initializer {init.name!r} cannot be read: {err}") from None


def read_proto(source):
    """A checked ModelProto from a path, bytes or a ModelProto; anything unreadable is a
    SerializationError that says what was wrong with it."""
    what = f"ONNX model {source!r}" if isinstance(source, (str, os.PathLike)) else "ONNX model"
    try:
        if isinstance(source, onnx.ModelProto):
            proto = source
        elif isinstance(source, (bytes, bytearray)):
            proto = onnx.load_from_string(bytes(source))
        else:
            proto = onnx.load(os.fspath(source))
        onnx.checker.check_model(proto)
    except FileNotFoundError as err:          # the model, or a file of its external data
        raise SerializationError(f"{what}: no such file {err.filename or ''}".rstrip()) from None
    except (DecodeError, ValueError, onnx.checker.ValidationError, OSError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise SerializationError(f"{what} is not a valid ONNX model ({first}); check that the "
                                 f"file is complete and was written by an ONNX exporter") from None
    if not proto.graph.node and not proto.graph.output:
        raise SerializationError(f"{what} holds no graph (an empty or truncated file?)")
    return proto


def _opset(proto):
    return next((i.version for i in proto.opset_import if i.domain in ("", "ai.onnx")), 1)


class Program:
    """The nodes of one graph, the model's or a subgraph's, run in order over a table of
    values. A subgraph (If, Loop, Scan) sees the values of the graphs around it."""

    def __init__(self, graph, opset):
        self.opset = opset
        self.consts = {i.name: _initializer(i) for i in graph.initializer}
        self.inputs = [i.name for i in graph.input]
        self.outputs = [o.name for o in graph.output]
        self.nodes = [Node(n, i, opset) for i, n in enumerate(graph.node)]

    def fold(self, consts):
        """Run, once, the nodes whose inputs are all host constants (their outputs join
        ``consts``); keep the rest."""
        kept = []
        for node in self.nodes:
            if node.op_type not in SCOPED and all(not n or n in consts for n in node.inputs):
                self.run_node(node, consts, None, {})
            else:
                kept.append(node)
        self.nodes = kept

    def run(self, values, backend, cache):
        for node in self.nodes:
            self.run_node(node, values, backend, cache)
        return values

    def run_node(self, node, values, backend, cache):
        args = [values[name] if name else None for name in node.inputs]
        host = node.op_type not in SCOPED and all(
            a is None or isinstance(a, np.ndarray) for a in args)
        ctx = Context("numpy" if host else backend, self.opset, node.name, len(node.outputs))
        if not host:
            ctx.cache, ctx.scope = cache, values
        out = node.run(ctx, node.attrs, *args)
        outs = out if isinstance(out, tuple) else (out,)
        for name, value in zip(node.outputs, outs):
            if name:
                if isinstance(value, np.generic) or (host and isinstance(value, ember.Tensor)):
                    value = np.asarray(value.numpy() if isinstance(value, ember.Tensor) else value)
                values[name] = value

    def call(self, c, args):
        """Run as a subgraph of the node whose context is ``c``: inputs bound to ``args``,
        the enclosing values in scope; its outputs, in order."""
        values = {**c.scope, **self.consts, **dict(zip(self.inputs, args))}
        self.run(values, c.backend, c.cache)
        return [values[name] for name in self.outputs]


class OnnxModel(Module):
    """A callable ONNX graph: ``model(*inputs)`` returns a tensor, or a tuple when the
    graph has several outputs. Inputs may be ember tensors of any backend or arrays."""

    def __init__(self, proto, backend=None):
        super().__init__()
        graph = proto.graph
        object.__setattr__(self, "opset", _opset(proto))
        newest = onnx.defs.onnx_opset_version()
        if self.opset > newest:      # its ops may mean what no release here defines
            raise SerializationError(f"ONNX model uses opset {self.opset}, past the newest this "
                                     f"onnx package ({onnx.__version__}) knows, {newest}; "
                                     f"export it with opset <= {newest} or update onnx")
        program = Program(graph, self.opset)
        consts = {}
        for name, array in program.consts.items():
            if np.issubdtype(array.dtype, np.floating):
                p = Parameter(ember.tensor(array, backend=backend))
                self._parameters[name] = p
                ember.name_state(p, name)
            else:
                consts[name] = array
        program.consts = {}        # the model binds its parameters and constants per call
        object.__setattr__(self, "inputs", [i for i in graph.input if i.name not in consts
                                            and i.name not in self._parameters])
        object.__setattr__(self, "output_names", program.outputs)
        program.fold(consts)
        fuse(program)
        object.__setattr__(self, "_program", program)
        object.__setattr__(self, "_consts", consts)
        object.__setattr__(self, "_uploads", {})

    def forward(self, *args):
        backend = self._backend_of(args)
        values = dict(self._consts)
        values.update(self.named_parameters())
        for spec, value in zip(self.inputs, self._bound(args, backend)):
            values[spec.name] = value
        cache = self._uploads.get(backend)
        if cache is None:
            cache = self._uploads[backend] = {id(a): None for a in self._consts.values()}
        self._program.run(values, backend, cache)
        outs = tuple(_as_output(values[name], name, backend) for name in self.output_names)
        return outs[0] if len(outs) == 1 else outs

    def _backend_of(self, args):
        for a in args:
            if isinstance(a, ember.Tensor):
                return a.device
        for p in self._parameters.values():
            return p.device
        return ember.get_backend().name

    def _bound(self, args, backend):
        """The call's inputs, checked against the graph's declared types and shapes."""
        if len(args) != len(self.inputs):
            names = ", ".join(i.name for i in self.inputs)
            raise ShapeError(f"the ONNX model takes {len(self.inputs)} inputs ({names}), "
                             f"got {len(args)}")
        bound = []
        for spec, value in zip(self.inputs, args):
            if not spec.type.HasField("tensor_type"):        # a sequence or an optional
                bound.append([v if isinstance(v, ember.Tensor) else ember.tensor(
                    np.asarray(v), backend=backend) for v in value]
                    if isinstance(value, list) else value)
                continue
            tensor_type = spec.type.tensor_type
            dtype = ember_dtype(tensor_type.elem_type, f"ONNX model input {spec.name!r}")
            if value is None:
                raise DTypeError(f"ONNX model input {spec.name!r} is None; the model needs a "
                                 f"{dtype.name} tensor there")
            if not isinstance(value, ember.Tensor):          # arrays and lists; str refused
                value = ember.tensor(value, dtype=dtype, backend=backend)
            if value.dtype is not dtype:
                raise DTypeError(f"ONNX model input {spec.name!r} is {value.dtype.name}, but the "
                                 f"model declares {type_name(tensor_type.elem_type)} "
                                 f"({dtype.name}); cast it with .to({dtype.name!r})")
            if tensor_type.HasField("shape"):
                dims = tensor_type.shape.dim
                fixed = [d.dim_value if d.HasField("dim_value") else None for d in dims]
                if len(fixed) != value.ndim or any(f is not None and f != s
                                                   for f, s in zip(fixed, value.shape)):
                    want = tuple(f if f is not None else d.dim_param or "?"
                                 for f, d in zip(fixed, dims))
                    raise ShapeError(f"ONNX model input {spec.name!r} has shape {value.shape}, "
                                     f"but the model declares {want}")
            bound.append(value)
        return bound

    def extra_repr(self):
        return (f"opset={self.opset}, nodes={len(self._program.nodes)}, "
                f"inputs={[i.name for i in self.inputs]}")


def _as_output(value, name, backend):
    """A graph output as tensors: host arrays uploaded, sequences as lists."""
    if isinstance(value, list):
        return [_as_output(v, name, backend) for v in value]
    if value is None or isinstance(value, ember.Tensor):
        return value
    return as_tensor(value, backend, name)


def load(source, backend=None):
    """Read an ONNX model (a path, bytes or a ModelProto) into a callable OnnxModel whose
    initializers live on ``backend`` (the default backend when None)."""
    return OnnxModel(read_proto(source), backend)


def supported_ops():
    """The ONNX op types (domain ai.onnx) that load() can run."""
    return sorted(OPS)
