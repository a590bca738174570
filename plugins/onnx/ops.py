"""The ONNX operators, each written in ember's public ops (so each differentiates, compiles
and runs on every backend). An op takes (context, attributes, *inputs). An input is an
ember Tensor or, for values known on the host (initializers of integer type, shapes,
Constant nodes), a NumPy array: shape arithmetic stays on the host and folds away."""

import math

import numpy as np

import ember
from ember import ShapeError
from ember.ops.reduce import standardize
from ember.plugins.nn import functional as F
from ember.shapes import windows_out

from .types import as_tensor, ember_dtype, to_float8

OPS = {}


def op(*names):
    """Register an implementation under one or more ONNX op types (domain ai.onnx)."""
    def register(fn):
        for name in names:
            OPS[name] = fn
        return fn
    return register


class Context:
    """What an op sees besides its inputs: the backend its tensors live on, the model's
    opset and the node's name (for errors)."""

    def __init__(self, backend, opset, node, outputs=1):
        self.backend, self.opset, self.node, self.outputs = backend, opset, node, outputs
        self.cache = {}          # id of a model constant -> its upload (None: not yet)
        self.scope = {}          # the values a subgraph of this node may read

    def tensor(self, x):
        """An input as an ember tensor on the model's backend; a model constant is
        uploaded once per backend."""
        if x is None or isinstance(x, ember.Tensor):
            return x
        key = id(x)
        if key in self.cache and self.cache[key] is not None:
            return self.cache[key]
        t = as_tensor(x, self.backend, self.node)
        if key in self.cache:
            self.cache[key] = t
        return t

    def host(self, x):
        """An input needed on the host (a shape, axes, pads): read back if it is a tensor."""
        return x.numpy() if isinstance(x, ember.Tensor) else np.asarray(x)

    def ints(self, x):
        return [int(v) for v in self.host(x).reshape(-1)]

    def scalar(self, x):
        return self.host(x).reshape(-1)[0].item()

    def on_host(self, fn, *inputs):
        """``fn`` (NumPy) on host copies of the inputs: for the ops ember has no device
        kernel for. The result has no gradient, so an input that needs one is refused."""
        tensors = [x for x in inputs if isinstance(x, ember.Tensor)]
        if ember.is_grad_enabled() and any(t.requires_grad for t in tensors):
            raise ember.AutogradError(f"ONNX node {self.node!r} runs on the host and has no "
                                      f"gradient; freeze its inputs or run it under no_grad()")
        out = fn(*[None if x is None else self.host(x) for x in inputs])
        if not tensors:
            return out
        wrap = lambda o: ember.tensor(np.asarray(o), backend=tensors[0].device)   # noqa: E731
        return tuple(map(wrap, out)) if isinstance(out, tuple) else wrap(out)

    def refuse(self, what):
        raise ShapeError(f"ONNX node {self.node!r}: {what}")


def _axis(axis, ndim):
    return axis + ndim if axis < 0 else axis


# -- elementwise ------------------------------------------------------------------------

def _tan(x):
    return ember.sin(x) / ember.cos(x)


def _sinh(x):
    return (ember.expm1(x) - ember.expm1(-x)) * 0.5


def _cosh(x):
    return (ember.exp(x) + ember.exp(-x)) * 0.5


_UNARY = {
    "Abs": ember.abs, "Neg": ember.neg, "Exp": ember.exp, "Log": ember.log, "Sqrt": ember.sqrt,
    "Sin": ember.sin, "Cos": ember.cos, "Tan": _tan, "Tanh": ember.tanh, "Sinh": _sinh,
    "Cosh": _cosh, "Sigmoid": ember.sigmoid, "Relu": ember.relu, "Sign": ember.sign,
    "Erf": F.erf, "Softplus": ember.softplus, "Not": ember.logical_not,
    "Softsign": F.softsign, "Reciprocal": lambda x: 1.0 / x,
    "IsNaN": lambda x: x != x, "Mish": F.mish,
}
for _name, _fn in _UNARY.items():
    OPS[_name] = (lambda fn: lambda c, a, x: fn(c.tensor(x)))(_fn)


@op("Identity")
def identity(c, a, x):
    return x


def _same_type(fn):
    """ONNX's binary ops keep their inputs' type; ember's promote ints through floats."""
    def run(c, a, x, y):
        x, y = c.tensor(x), c.tensor(y)
        out = fn(x, y)
        return out if out.dtype is x.dtype or out.dtype is ember.bool_ else ember.cast(out, x.dtype)
    return run


def _div(x, y):
    if x.dtype.is_float:
        return x / y
    q = x / y                                     # truncated toward zero, as C and ONNX
    return ember.where(q < 0, -ember.cast(-q, x.dtype), ember.cast(q, x.dtype))


_BINARY = {"Add": ember.add, "Sub": ember.sub, "Mul": ember.mul, "Div": _div, "Pow": ember.pow,
           "Equal": ember.eq, "Less": ember.lt, "Greater": ember.gt, "LessOrEqual": ember.le,
           "GreaterOrEqual": ember.ge, "And": ember.logical_and, "Or": ember.logical_or,
           "Xor": ember.logical_xor}
for _name, _fn in _BINARY.items():
    OPS[_name] = _same_type(_fn)


def _variadic(fn, mean=False):
    def run(c, a, *xs):
        ts = [c.tensor(x) for x in xs]
        out = ts[0]
        for t in ts[1:]:
            out = fn(out, t)
        return out / len(ts) if mean else out
    return run


OPS["Max"], OPS["Min"] = _variadic(ember.maximum), _variadic(ember.minimum)
OPS["Sum"], OPS["Mean"] = _variadic(ember.add), _variadic(ember.add, mean=True)


@op("Where")
def where(c, a, cond, x, y):
    return ember.where(c.tensor(cond), c.tensor(x), c.tensor(y))


@op("Clip")
def clip(c, a, x, lo=None, hi=None):
    x = c.tensor(x)
    if c.opset < 11:
        lo, hi = a.get("min"), a.get("max")
    else:
        lo = None if lo is None else c.scalar(lo)
        hi = None if hi is None else c.scalar(hi)
    return x if lo is None and hi is None else ember.clip(x, lo, hi)


@op("IsInf")
def is_inf(c, a, x):
    x = c.tensor(x)
    pos, neg = x == math.inf, x == -math.inf
    if not a.get("detect_positive", 1):
        return neg if a.get("detect_negative", 1) else neg & pos
    return ember.logical_or(pos, neg) if a.get("detect_negative", 1) else pos


def _cast(c, a, x, to):
    """x cast to ``to``: host arrays stay on the host, 8-bit floats by ONNX's rules
    (``saturate``), from floats; other types through float32."""
    if to.stores_only:
        x = c.tensor(x)
        if not x.dtype.is_float or x.dtype.stores_only:
            x = ember.cast(x, ember.float32)
        return to_float8(x, to, a.get("saturate", 1))
    return x.astype(to.np) if isinstance(x, np.ndarray) else ember.cast(x, to)


@op("Cast")
def cast(c, a, x):
    return _cast(c, a, x, ember_dtype(a["to"], f"Cast node {c.node!r}"))


@op("CastLike")
def cast_like(c, a, x, like):
    dtype = like.dtype if isinstance(like, ember.Tensor) else ember.dtypes.from_numpy_dtype(
        like.dtype, c.node)
    return _cast(c, a, x, dtype)


@op("BitCast")
def bit_cast(c, a, x):
    """The bits read as another type of the same size (ember.bitcast)."""
    x, dtype = c.tensor(x), ember_dtype(a["to"], f"BitCast node {c.node!r}")
    if dtype.itemsize != x.dtype.itemsize:
        c.refuse(f"BitCast from {x.dtype.name} to {dtype.name}: the types must have one size")
    return ember.bitcast(x, dtype)


# -- activations ------------------------------------------------------------------------

@op("LeakyRelu")
def leaky_relu(c, a, x):
    return F.leaky_relu(c.tensor(x), a.get("alpha", 0.01))


@op("PRelu")
def prelu(c, a, x, slope):
    x = c.tensor(x)
    return ember.where(x < 0, x * c.tensor(slope), x)


@op("Elu")
def elu(c, a, x):
    return F.elu(c.tensor(x), a.get("alpha", 1.0))


@op("Celu")
def celu(c, a, x):
    return F.celu(c.tensor(x), a.get("alpha", 1.0))


@op("Selu")
def selu(c, a, x):
    """gamma elu(x, alpha): ONNX's defaults are PyTorch's constants rounded to float32."""
    alpha, gamma = a.get("alpha", 1.67326319217681884765625), a.get("gamma", 1.05070102214813232421875)
    return F.elu(c.tensor(x), alpha) * gamma


@op("HardSigmoid")
def hard_sigmoid(c, a, x):
    alpha, beta = a.get("alpha", 0.2), a.get("beta", 0.5)
    if np.float32(alpha) == np.float32(1 / 6) and beta == 0.5:   # PyTorch's, a float32 attribute
        return F.hardsigmoid(c.tensor(x))
    return ember.clip(c.tensor(x) * alpha + beta, 0.0, 1.0)


@op("HardSwish")
def hard_swish(c, a, x):
    return F.hardswish(c.tensor(x))


@op("ThresholdedRelu")
def thresholded_relu(c, a, x):
    x = c.tensor(x)
    return ember.where(x > a.get("alpha", 1.0), x, 0.0)


@op("Shrink")
def shrink(c, a, x):
    x = c.tensor(x)
    bias, lambd = a.get("bias", 0.0), a.get("lambd", 0.5)
    out = ember.where(x < -lambd, x + bias, ember.where(x > lambd, x - bias, 0))
    return ember.cast(out, x.dtype)


@op("Gelu")
def gelu(c, a, x):
    return F.gelu(c.tensor(x), a.get("approximate", "none"))


@op("Swish")
def swish(c, a, x):
    x = c.tensor(x)
    return x * ember.sigmoid(x * a.get("alpha", 1.0))


def _coerced(c, a, x, fn):
    """Softmax and kin: along ``axis`` (opset 13 on), or over the flattened axes from
    ``axis`` on (before 13, default axis 1)."""
    x = c.tensor(x)
    if c.opset >= 13:
        return fn(x, _axis(a.get("axis", -1), x.ndim))
    axis = _axis(a.get("axis", 1), x.ndim)
    flat = x.reshape(math.prod(x.shape[:axis]), math.prod(x.shape[axis:]))
    return fn(flat, 1).reshape(x.shape)


def _hardmax(x, axis):
    return F.one_hot_mask(ember.argmax(x, axis=axis), x.shape[axis], axis=axis, dtype=x.dtype)


OPS["Softmax"] = lambda c, a, x: _coerced(c, a, x, ember.softmax)
OPS["LogSoftmax"] = lambda c, a, x: _coerced(c, a, x, ember.log_softmax)
OPS["Hardmax"] = lambda c, a, x: _coerced(c, a, x, _hardmax)


# -- shapes, held on the host -----------------------------------------------------------

@op("Constant")
def constant(c, a):
    for key in ("value", "value_float", "value_floats", "value_int", "value_ints"):
        if key in a:
            value = a[key]
            if key.endswith(("float", "floats")):
                return np.asarray(value, dtype=np.float32)
            if key.endswith(("int", "ints")):
                return np.asarray(value, dtype=np.int64)
            return value
    c.refuse(f"Constant with attributes {sorted(a)} is not supported (strings, sparse)")


@op("Shape")
def shape(c, a, x):
    dims = np.asarray(x.shape, dtype=np.int64)
    n = len(dims)
    start, end = a.get("start", 0), a.get("end", n)
    start, end = min(max(_axis(start, n), 0), n), min(max(_axis(end, n), 0), n)
    return dims[start:end]


@op("Size")
def size(c, a, x):
    return np.asarray(math.prod(x.shape), dtype=np.int64)


@op("ConstantOfShape")
def constant_of_shape(c, a, shape):
    value = a.get("value", np.zeros(1, np.float32))
    return np.full(tuple(c.ints(shape)), value.reshape(-1)[0], dtype=value.dtype)


@op("Range")
def range_(c, a, start, limit, delta):
    start, limit, delta = (c.host(v) for v in (start, limit, delta))
    n = max(int(math.ceil((limit.item() - start.item()) / delta.item())), 0)
    return (start + np.arange(n, dtype=start.dtype) * delta).astype(start.dtype)


@op("EyeLike")
def eye_like(c, a, x):
    dtype = ember_dtype(a["dtype"], c.node).np if "dtype" in a else (
        x.dtype.np if isinstance(x, ember.Tensor) else x.dtype)
    return np.eye(x.shape[0], x.shape[1], a.get("k", 0), dtype=dtype)


# -- movement ---------------------------------------------------------------------------

@op("Reshape")
def reshape(c, a, x, shape):
    dims = c.ints(shape)
    if not a.get("allowzero", 0):
        dims = [x.shape[i] if d == 0 else d for i, d in enumerate(dims)]
    return x.reshape(dims) if isinstance(x, np.ndarray) else ember.reshape(x, tuple(dims))


@op("Flatten")
def flatten(c, a, x):
    axis = _axis(a.get("axis", 1), x.ndim)
    shape = (math.prod(x.shape[:axis]), math.prod(x.shape[axis:]))
    return x.reshape(shape) if isinstance(x, np.ndarray) else ember.reshape(x, shape)


@op("Transpose")
def transpose(c, a, x):
    perm = a.get("perm", list(range(x.ndim))[::-1])
    return np.transpose(x, perm) if isinstance(x, np.ndarray) else ember.permute(x, perm)


def _axes(c, a, axes):
    """Axes from the input (opset 13 on for Squeeze and Unsqueeze) or the attribute."""
    return c.ints(axes) if axes is not None else a.get("axes")


@op("Squeeze")
def squeeze(c, a, x, axes=None):
    axes = _axes(c, a, axes)
    if axes is None:
        axes = [i for i, d in enumerate(x.shape) if d == 1]
    axes = tuple(sorted(_axis(i, x.ndim) for i in axes))
    if isinstance(x, np.ndarray):
        return np.squeeze(x, axes)
    shape = [d for i, d in enumerate(x.shape) if i not in axes]
    return ember.reshape(x, tuple(shape))


@op("Unsqueeze")
def unsqueeze(c, a, x, axes=None):
    axes = _axes(c, a, axes)
    ndim = x.ndim + len(axes)
    axes = sorted(_axis(i, ndim) for i in axes)
    shape = list(x.shape)
    for i in axes:
        shape.insert(i, 1)
    return x.reshape(shape) if isinstance(x, np.ndarray) else ember.reshape(x, tuple(shape))


@op("Concat")
def concat(c, a, *xs):
    axis = a["axis"]
    if all(isinstance(x, np.ndarray) for x in xs):
        return np.concatenate(xs, axis=axis)
    return ember.concatenate([c.tensor(x) for x in xs], axis=axis)


@op("Split")
def split(c, a, x, sizes=None):
    x = c.tensor(x)
    axis = _axis(a.get("axis", 0), x.ndim)
    sizes = c.ints(sizes) if sizes is not None else a.get("split")
    if sizes is None:
        parts = a.get("num_outputs", c.outputs)
        step = -(-x.shape[axis] // parts)
        sizes = [min(step, x.shape[axis] - i * step) for i in range(parts)]
    return tuple(ember.split(x, list(sizes), axis=axis))


def _slices(shape, starts, ends, axes, steps):
    """Python slices for ONNX Slice's bounds: clamped as the spec says."""
    key = [slice(None)] * len(shape)
    for start, end, axis, step in zip(starts, ends, axes, steps):
        axis = _axis(axis, len(shape))
        n = shape[axis]
        start = start + n if start < 0 else start
        end = end + n if end < 0 else end
        if step > 0:
            start, end = min(max(start, 0), n), min(max(end, 0), n)
        else:
            start, end = min(max(start, 0), n - 1), min(max(end, -1), n - 1)
        key[axis] = slice(start, None if end < 0 else end, step)
    return tuple(key)


@op("Slice")
def slice_(c, a, x, starts=None, ends=None, axes=None, steps=None):
    if c.opset < 10:
        starts, ends, axes = a["starts"], a["ends"], a.get("axes")
    else:
        starts, ends = c.ints(starts), c.ints(ends)
        axes = None if axes is None else c.ints(axes)
        steps = None if steps is None else c.ints(steps)
    axes = list(range(len(starts))) if axes is None else axes
    steps = [1] * len(starts) if steps is None else steps
    key = _slices(x.shape, starts, ends, axes, steps)
    if isinstance(x, np.ndarray):
        return x[key]
    return _sliced(x, key)


def _sliced(x, key):
    """x[key] for slices, negative steps as a flip then a positive slice."""
    flips = [i for i, k in enumerate(key) if k.step is not None and k.step < 0]
    if not flips:
        return x[key]
    n = x.shape
    flipped = ember.flip(x, tuple(flips))
    key = list(key)
    for i in flips:
        k = key[i]
        stop = -1 if k.stop is None else k.stop
        key[i] = slice(n[i] - 1 - k.start, n[i] - 1 - stop, -k.step)
    return flipped[tuple(key)]


@op("Gather")
def gather(c, a, x, indices):
    axis = _axis(a.get("axis", 0), x.ndim)
    n = x.shape[axis]
    if isinstance(indices, np.ndarray):
        indices = np.where(indices < 0, indices + n, indices)
        if indices.size and (indices.min() < 0 or indices.max() >= n):
            c.refuse(f"Gather index out of range for axis {axis} of size {n}")
        if isinstance(x, np.ndarray):
            return np.take(x, indices, axis=axis)
        if indices.ndim == 0:
            return x[(slice(None),) * axis + (int(indices),)]
    indices = c.tensor(indices)
    indices = ember.where(indices < 0, indices + n, indices)
    return c.tensor(x)[(slice(None),) * axis + (indices,)]


@op("Expand")
def expand(c, a, x, shape):
    dims = c.ints(shape)
    x = c.tensor(x)
    ndim = max(x.ndim, len(dims))
    have = (1,) * (ndim - x.ndim) + x.shape
    want = (1,) * (ndim - len(dims)) + tuple(dims)
    out = tuple(h if w == 1 else w for h, w in zip(have, want))
    return ember.broadcast_to(x, out)


@op("Tile")
def tile(c, a, x, repeats):
    x = c.tensor(x)
    for axis, r in enumerate(c.ints(repeats)):
        if r != 1:
            shape = list(x.shape)
            x = ember.unsqueeze(x, axis)
            x = ember.broadcast_to(x, tuple(shape[:axis] + [r] + shape[axis:]))
            x = ember.reshape(x, tuple(shape[:axis] + [r * shape[axis]] + shape[axis + 1:]))
    return x


@op("Pad")
def pad(c, a, x, pads=None, value=None, axes=None):
    x = c.tensor(x)
    if c.opset < 11:
        pads, value = a["pads"], a.get("value", 0.0)
    else:
        pads = c.ints(pads)
        value = 0 if value is None else c.scalar(value)
    n = len(pads) // 2
    axes = list(range(x.ndim)) if axes is None else [_axis(i, x.ndim) for i in c.ints(axes)]
    widths = [[0, 0] for _ in range(x.ndim)]
    for i, axis in enumerate(axes[:n]):
        widths[axis] = [pads[i], pads[i + n]]
    crop = tuple(slice(max(-b, 0), d - max(-e, 0)) for (b, e), d in zip(widths, x.shape))
    x = x[crop]
    widths = [(max(b, 0), max(e, 0)) for b, e in widths]
    mode = a.get("mode", "constant")
    if mode == "constant":
        return ember.pad(x, tuple(widths), value)
    for axis, (before, after) in enumerate(widths):
        x = _pad_axis(c, x, axis, before, after, mode)
    return x


#: ONNX's Pad modes by F.pad's names
_PAD_MODES = {"edge": "replicate", "reflect": "reflect", "wrap": "circular"}


def _pad_axis(c, x, axis, before, after, mode):
    """Edge, reflect or wrap padding along one axis (F.pad_axis)."""
    if mode not in _PAD_MODES:
        c.refuse(f"Pad mode {mode!r} is not one of constant, edge, reflect, wrap")
    n = x.shape[axis]
    if mode == "reflect" and (before >= n or after >= n):
        c.refuse(f"reflect padding of {before, after} needs an axis longer than {n}")
    return F.pad_axis(x, axis, before, after, _PAD_MODES[mode])


@op("Trilu")
def trilu(c, a, x, k=None):
    k = 0 if k is None else c.scalar(k)
    x = c.tensor(x)
    rows, cols = x.shape[-2:]
    keep = np.triu(np.ones((rows, cols), bool), k) if a.get("upper", 1) else np.tril(
        np.ones((rows, cols), bool), k)
    return ember.where(c.tensor(keep), x, ember.zeros((), dtype=x.dtype, backend=x.device))


@op("DepthToSpace")
def depth_to_space(c, a, x):
    x, b = c.tensor(x), a["blocksize"]
    n, ch, h, w = x.shape
    if a.get("mode", "DCR") == "DCR":
        y = x.reshape(n, b, b, ch // b // b, h, w).permute(0, 3, 4, 1, 5, 2)
    else:
        y = x.reshape(n, ch // b // b, b, b, h, w).permute(0, 1, 4, 2, 5, 3)
    return y.reshape(n, ch // b // b, h * b, w * b)


@op("SpaceToDepth")
def space_to_depth(c, a, x):
    x, b = c.tensor(x), a["blocksize"]
    n, ch, h, w = x.shape
    order = (0, 3, 5, 1, 2, 4) if a.get("mode", "DCR") == "DCR" else (0, 1, 3, 5, 2, 4)
    y = x.reshape(n, ch, h // b, b, w // b, b).permute(*order)
    return y.reshape(n, ch * b * b, h // b, w // b)


@op("OneHot")
def one_hot(c, a, indices, depth, values):
    depth = int(c.scalar(depth))
    values = c.tensor(values)
    indices = c.tensor(indices)
    if indices.dtype.is_float:
        indices = ember.cast(indices, ember.int64)
    indices = ember.where(indices < 0, indices + depth, indices)
    hit = F.one_hot_mask(indices, depth, axis=a.get("axis", -1), dtype=ember.bool_)
    return ember.where(hit, values[1], values[0])


# -- reductions -------------------------------------------------------------------------

def _reduce(fn):
    def run(c, a, x, axes=None):
        x = c.tensor(x)
        axes = c.ints(axes) if axes is not None else a.get("axes")
        keep = bool(a.get("keepdims", 1))
        if not axes:
            if a.get("noop_with_empty_axes", 0):
                return x
            axes = list(range(x.ndim))
        return fn(x, tuple(_axis(i, x.ndim) for i in axes), keep)
    return run


def _empty_extreme(fn, fill):
    """Max and min over an empty axis give the identity (-inf, +inf; False, True for
    bool), as ONNX's."""
    def run(x, axes, keep):
        if any(x.shape[i] == 0 for i in axes):
            shape = tuple(1 if i in axes else d for i, d in enumerate(x.shape) if keep or i not in axes)
            value = (fill > 0) if x.dtype is ember.bool_ else fill
            return ember.full(shape, value, dtype=x.dtype, backend=x.device)
        return fn(x, axes, keep)
    return run


_REDUCE = {
    "ReduceSum": ember.sum, "ReduceMean": ember.mean,
    "ReduceMax": _empty_extreme(ember.max, -math.inf), "ReduceMin": _empty_extreme(ember.min, math.inf),
    "ReduceL1": lambda x, ax, k: ember.sum(ember.abs(x), ax, k),
    "ReduceL2": lambda x, ax, k: ember.sqrt(ember.sum(x * x, ax, k)),
    "ReduceSumSquare": lambda x, ax, k: ember.sum(x * x, ax, k),
    "ReduceLogSum": lambda x, ax, k: ember.log(ember.sum(x, ax, k)),
    "ReduceLogSumExp": ember.logsumexp,
}
for _name, _fn in _REDUCE.items():
    OPS[_name] = _reduce(_fn)


def _arg(fn):
    def run(c, a, x):
        x = c.tensor(x)
        axis, keep = _axis(a.get("axis", 0), x.ndim), bool(a.get("keepdims", 1))
        if a.get("select_last_index", 0):
            return x.shape[axis] - 1 - fn(ember.flip(x, axis), axis, keep)
        return fn(x, axis, keep)
    return run


OPS["ArgMax"], OPS["ArgMin"] = _arg(ember.argmax), _arg(ember.argmin)


# -- linear algebra and layers ----------------------------------------------------------

@op("MatMul")
def matmul(c, a, x, y):
    return ember.matmul(c.tensor(x), c.tensor(y))


@op("Gemm")
def gemm(c, a, x, y, bias=None):
    x, y = c.tensor(x), c.tensor(y)
    if a.get("transA", 0):
        x = x.transpose(0, 1)
    if a.get("transB", 0):
        y = y.transpose(0, 1)
    out = ember.matmul(x, y)
    alpha, beta = a.get("alpha", 1.0), a.get("beta", 1.0)
    if alpha != 1.0:
        out = out * alpha
    if bias is not None:
        bias = c.tensor(bias)
        out = out + (bias * beta if beta != 1.0 else bias)
    return out


def _spatial_pads(c, a, x, kernel, strides, dilations):
    """(before, after) per spatial axis from ``pads`` or ``auto_pad``."""
    n = len(kernel)
    auto = a.get("auto_pad", "NOTSET")
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        pads = []
        for size, k, s, d in zip(x.shape[2:], kernel, strides, dilations):
            total = max((-(-size // s) - 1) * s + (k - 1) * d + 1 - size, 0)
            small = total // 2
            pads.append((small, total - small) if auto == "SAME_UPPER" else (total - small, small))
        return pads
    if auto == "VALID":
        return [(0, 0)] * n
    pads = a.get("pads", [0] * 2 * n)
    return list(zip(pads[:n], pads[n:]))


def _as_2d(x):
    """1-D convolutions and pools run as 2-D ones of height 1 (2-D and 3-D ones as they are)."""
    return ember.unsqueeze(x, 2) if x.ndim == 3 else x


def _window(c, a, x, kernel):
    n = len(kernel)
    if n not in (1, 2, 3):
        c.refuse(f"{n}-D windows are not supported (ember has 1-D, 2-D and 3-D convolution "
                 f"and pooling)")
    strides = a.get("strides", [1] * n)
    dilations = a.get("dilations", [1] * n)
    pads = _spatial_pads(c, a, x, kernel, strides, dilations)
    if n == 1:
        kernel, strides, dilations, pads = [1, *kernel], [1, *strides], [1, *dilations], [(0, 0), *pads]
    return kernel, strides, dilations, pads


@op("Conv")
def conv(c, a, x, w, bias=None):
    return conv_relu(c, a, x, w, bias, relu=False)


def conv_relu(c, a, x, w, bias=None, residual=None, relu=True):
    """A Conv node, or (fuse.py) a Conv node and the Relu after it, with the Add between
    them (``residual``, its other input) where there was one: relu(conv + residual) by
    F.conv2d_relu where the residual has the output's shape, else as separate ops."""
    x, w, residual = c.tensor(x), c.tensor(w), c.tensor(residual)
    spatial = x.ndim - 2
    kernel, strides, dilations, pads = _window(c, a, x, a.get("kernel_shape", w.shape[2:]))
    x2, w2 = _as_2d(x), _as_2d(w)
    # symmetric pads go to conv2d (a 3x3 convolution pads inside its own algorithm)
    symmetric = all(before == after for before, after in pads)
    if not symmetric:
        x2 = ember.pad(x2, ((0, 0), (0, 0), *pads))
    args = (x2, w2, None if bias is None else c.tensor(bias), tuple(strides),
            tuple(before for before, _ in pads) if symmetric else 0, tuple(dilations),
            a.get("group", 1))
    if spatial == 3:
        out = F.conv3d(*args)
        out = out if residual is None else out + residual
        return ember.relu(out) if relu else out
    if relu and spatial == 2:
        padded = tuple(size + b + e for size, (b, e) in zip(x.shape[2:], pads))
        shape = (x.shape[0], w.shape[0]) + windows_out(padded, kernel, strides, dilations)
        if residual is None or (residual.shape == shape and residual.dtype is x.dtype):
            return F.conv2d_relu(*args, residual=residual)      # (else a broadcast Add)
    out = F.conv2d(*args)
    out = out if spatial == 2 else ember.squeeze(out, 2)
    out = out if residual is None else out + residual
    return ember.relu(out) if relu else out


@op("Col2Im")
def col2im(c, a, x, image_shape, block_shape):
    """F.fold onto the image grown by its pads (which may differ at either end), then
    cropped to it."""
    image, block = c.ints(image_shape), c.ints(block_shape)
    if len(image) != 2:
        c.refuse(f"Col2Im of {len(image)}-D images is not supported (ember folds 2-D ones)")
    pads = a.get("pads", [0] * 4)
    grown = [size + b + e for size, b, e in zip(image, pads[:2], pads[2:])]
    out = F.fold(c.tensor(x), grown, block, a.get("dilations", 1), 0, a.get("strides", 1))
    return out[:, :, pads[0]:pads[0] + image[0], pads[1]:pads[1] + image[1]]


@op("RoiAlign")
def roi_align(c, a, x, rois, batch_indices):
    """ember.plugins.vision's roi_align (torchvision's): "half_pixel" coordinates (opset
    16's default) are its aligned=True, "output_half_pixel" (opset 10's) aligned=False.
    mode="max" (the largest weighted corner of the samples) is refused."""
    from ember.plugins.vision.ops import roi_align as align
    if a.get("mode", "avg") != "avg":
        c.refuse(f"RoiAlign with mode={a['mode']!r} is not supported (ember pools the "
                 f"samples' mean: mode='avg')")
    default = "half_pixel" if c.opset >= 16 else "output_half_pixel"
    x, rois = c.tensor(x), c.tensor(rois)
    index = c.tensor(batch_indices).to(rois.dtype).reshape(-1, 1)
    return align(x, ember.concatenate([index, rois], axis=1),
                 (a.get("output_height", 1), a.get("output_width", 1)),
                 a.get("spatial_scale", 1.0), a.get("sampling_ratio", 0),
                 a.get("coordinate_transformation_mode", default) == "half_pixel")


@op("DeformConv")
def deform_conv(c, a, x, w, offset, bias=None, mask=None):
    """ember.plugins.vision's deform_conv2d (torchvision's): pads larger at the end than
    at the start are zeros added to the input's bottom and right first (a sample there
    reads zeros either way)."""
    from ember.plugins.vision.ops import deform_conv2d
    x, w = c.tensor(x), c.tensor(w)
    if x.ndim != 4:
        c.refuse(f"{x.ndim - 2}-D DeformConv is not supported (ember has 2-D)")
    top, left, bottom, right = a.get("pads", [0, 0, 0, 0])
    if bottom < top or right < left:
        c.refuse(f"DeformConv with pads {a['pads']} (smaller at the end) is not supported")
    if bottom > top or right > left:
        x = ember.pad(x, ((0, 0), (0, 0), (0, bottom - top), (0, right - left)))
    if a.get("group", 1) != x.shape[1] // w.shape[1]:
        c.refuse(f"DeformConv: group={a.get('group', 1)} does not match the weight's "
                 f"{w.shape[1]} input channels per group of {x.shape[1]}")
    return deform_conv2d(x, c.tensor(offset), w, None if bias is None else c.tensor(bias),
                         tuple(a.get("strides", [1, 1])), (top, left),
                         tuple(a.get("dilations", [1, 1])),
                         None if mask is None else c.tensor(mask))


@op("SwiGLU")
def swiglu(c, a, x, gate):
    """x sigmoid(alpha x) times the gate (ONNX's SwiGLU of two inputs of one shape)."""
    x, gate = c.tensor(x), c.tensor(gate)
    if x.shape != gate.shape:
        c.refuse(f"SwiGLU's inputs must have one shape, got {x.shape} and {gate.shape}")
    alpha = a.get("alpha", 1.0)
    return x * ember.sigmoid(x * alpha if alpha != 1.0 else x) * gate


@op("ConvTranspose")
def conv_transpose(c, a, x, w, bias=None):
    """F.conv_transpose2d's (or 3d's) whole output (no pads), then each axis cropped by
    its pads, begin and end (negative ones, from output_shape or auto_pad, add zeros),
    with output_padding's zeros at the end, then the bias (on those zeros too, as
    PyTorch). A 1-D one runs as 2-D over a height of 1."""
    x, w = c.tensor(x), c.tensor(w)
    spatial = x.ndim - 2
    if spatial not in (1, 2, 3):
        c.refuse(f"{spatial}-D ConvTranspose is not supported (ember has 1-D, 2-D and 3-D)")
    x, w = _as_2d(x), _as_2d(w)
    lift = (lambda v, fill=1: [fill, *v]) if spatial == 1 else (lambda v, fill=1: list(v))
    kernel = lift(a.get("kernel_shape", w.shape[2 + (spatial == 1):]))
    strides, dilations = lift(a.get("strides", [1] * spatial)), lift(a.get("dilations", [1] * spatial))
    extra = lift(a.get("output_padding", [0] * spatial), 0)
    size = x.shape[2:]
    auto = a.get("auto_pad", "NOTSET")
    if "output_shape" in a or auto in ("SAME_UPPER", "SAME_LOWER"):
        target = lift(a["output_shape"][-spatial:]) if "output_shape" in a else \
            [d * s for d, s in zip(size, strides)]
        pads = []
        for d, s, k, dl, e, t in zip(size, strides, kernel, dilations, extra, target):
            total = s * (d - 1) + e + (k - 1) * dl + 1 - t
            half = total // 2
            pads.append((half, total - half) if auto == "SAME_UPPER" else (total - half, half))
    else:
        given = a.get("pads", [0] * 2 * spatial)
        pads = [(0, 0)] * (spatial == 1) + list(zip(given[:spatial], given[spatial:]))
    transposed = F.conv_transpose3d if spatial == 3 else F.conv_transpose2d
    out = transposed(x, w, None, tuple(strides), groups=a.get("group", 1),
                     dilation=tuple(dilations))
    # in the whole output's coordinates the result is [b, length + output_padding - e):
    # what of it lies outside the whole output is zeros
    lengths = out.shape[2:]
    out = out[(slice(None), slice(None)) + tuple(
        slice(max(b, 0), min(length + more - e, length))
        for (b, e), more, length in zip(pads, extra, lengths))]
    widths = tuple((max(-b, 0), max(more - e, 0)) for (b, e), more in zip(pads, extra))
    if any(b or e for b, e in widths):
        out = ember.pad(out, ((0, 0), (0, 0)) + widths)
    if bias is not None:        # the added rows and columns too
        out = out + c.tensor(bias).reshape((-1,) + (1,) * (out.ndim - 2))
    return ember.squeeze(out, 2) if spatial == 1 else out


def _ceil_extra(x, kernel, strides, dilations, pads):
    """Padding added at the end so that ceil_mode's last, partial window exists."""
    extra = []
    for size, k, s, d, (b, e) in zip(x.shape[2:], kernel, strides, dilations, pads):
        span = size + b + e - ((k - 1) * d + 1)
        out = -(-span // s) + 1
        if (out - 1) * s >= size + b:            # a window may not start in the end padding
            out -= 1
        extra.append(max((out - 1) * s + (k - 1) * d + 1 - (size + b + e), 0))
    return extra


def _pooled(c, a, x):
    """The input as 2-D, and its window: pads grown for ceil_mode's partial windows."""
    x = c.tensor(x)
    spatial = x.ndim - 2
    kernel, strides, dilations, pads = _window(c, a, x, a["kernel_shape"])
    x = _as_2d(x)
    if a.get("ceil_mode", 0):
        extra = _ceil_extra(x, kernel, strides, dilations, pads)
        pads = [(b, e + more) for (b, e), more in zip(pads, extra)]
    return x, spatial, kernel, strides, dilations, pads


@op("MaxPool")
def max_pool(c, a, x):
    """F.max_pool2d or max_pool3d over the explicitly padded input; the Indices output
    flattens each winner's place in the unpadded input over the whole tensor, rows first
    (``storage_order`` 1: columns first)."""
    x, spatial, kernel, strides, dilations, pads = _pooled(c, a, x)
    size = x.shape[2:]
    if any(p != (0, 0) for p in pads):
        x = ember.pad(x, ((0, 0), (0, 0), *pads), F.lowest(x.dtype))
    pool = F.max_pool3d if spatial == 3 else F.max_pool2d
    out = pool(x, tuple(kernel), tuple(strides), dilation=tuple(dilations),
               return_indices=c.outputs > 1)
    squeeze = (lambda t: t) if spatial != 1 else (lambda t: ember.squeeze(t, 2))
    if c.outputs == 1:
        return squeeze(out)
    out, where = out
    coords = []
    for length, (before, _) in zip(reversed(x.shape[2:]), reversed(pads)):
        coords.insert(0, where % length - before)
        where = where // length
    order = range(len(size)) if not a.get("storage_order", 0) else reversed(range(len(size)))
    flat = ember.zeros((), dtype=where.dtype, backend=x.device)
    for k in order:
        flat = flat * size[k] + coords[k]
    n, ch = x.shape[:2]
    planes = ember.arange(n * ch, dtype=where.dtype, backend=x.device).reshape(
        (n, ch) + (1,) * len(size))
    return squeeze(out), squeeze(flat + planes * math.prod(size))


def _window_mean(x, kernel, strides, dilations):
    """The mean of each window of a 2-D or 3-D input: F's average pooling, or with
    dilations a depthwise convolution by ones over the window's size."""
    if all(d == 1 for d in dilations):
        mean = F.avg_pool3d if len(kernel) == 3 else F.avg_pool2d
        return mean(x, tuple(kernel), tuple(strides))
    n, ch = x.shape[:2]
    ones = ember.ones((1, 1, *kernel), dtype=x.dtype, backend=x.device)
    conv = F.conv3d if len(kernel) == 3 else F.conv2d
    out = conv(x.reshape(n * ch, 1, *x.shape[2:]), ones, None, tuple(strides), 0, tuple(dilations))
    return out.reshape(n, ch, *out.shape[2:]) / math.prod(kernel)


@op("MaxUnpool")
def max_unpool(c, a, x, indices, output_shape=None):
    """Zeros of the unpooled shape (each spatial axis (in - 1) * stride + kernel - pads)
    with x's values at the flat ``indices`` MaxPool gave, where an index repeats the last
    value (as an assignment); then, given ``output_shape``, zeros after each axis up to it
    (ONNX's reference). The indices are read on the host to keep one of each; the values
    move on the backend."""
    x = c.tensor(x)
    spatial = x.ndim - 2
    kernel = a["kernel_shape"]
    strides, pads = a.get("strides", [1] * spatial), a.get("pads", [0] * 2 * spatial)
    shape = x.shape[:2] + tuple(
        (n - 1) * s + k - b - e for n, s, k, b, e in zip(x.shape[2:], strides, kernel,
                                                        pads[:spatial], pads[spatial:]))
    where = np.asarray(c.ints(indices)).reshape(-1)[::-1]
    kept, last = np.unique(where, return_index=True)
    picked = ember.tensor(where.size - 1 - last, backend=x.device)
    out = ember.zeros(math.prod(shape), dtype=x.dtype, backend=x.device)
    out = out.index_add(0, ember.tensor(kept, backend=x.device), x.reshape(-1)[picked])
    out = out.reshape(shape)
    if output_shape is None:
        return out
    return ember.pad(out, tuple((0, n - m) for n, m in zip(c.ints(output_shape), shape)))


@op("AveragePool")
def average_pool(c, a, x):
    x, spatial, kernel, strides, dilations, pads = _pooled(c, a, x)
    padded = ember.pad(x, ((0, 0), (0, 0), *pads))
    mean = lambda t: _window_mean(t, kernel, strides, dilations)  # noqa: E731
    out = mean(padded)
    if any(p != (0, 0) for p in pads):
        # windows over padding: divide by the count of real (or, with count_include_pad,
        # of explicitly padded) positions, never by the ceil_mode overhang
        ones = ember.ones((1, 1, *x.shape[2:]), dtype=x.dtype, backend=x.device)
        if a.get("count_include_pad", 0):
            given = _spatial_pads(c, a, x, kernel, strides, dilations)
            if spatial == 1:
                given = [(0, 0), *given]
            ones = ember.pad(ones, ((0, 0), (0, 0), *given), 1.0)
            pads = [(b - gb, e - ge) for (b, e), (gb, ge) in zip(pads, given)]
        out = out / mean(ember.pad(ones, ((0, 0), (0, 0), *pads)))
    return out if spatial != 1 else ember.squeeze(out, 2)


@op("LpPool")
def lp_pool(c, a, x):
    x, spatial, kernel, strides, dilations, pads = _pooled(c, a, x)
    p = a.get("p", 2)
    padded = ember.pad(ember.abs(x) ** p, ((0, 0), (0, 0), *pads))
    out = (_window_mean(padded, kernel, strides, dilations) * math.prod(kernel)) ** (1.0 / p)
    return out if spatial != 1 else ember.squeeze(out, 2)


@op("GlobalAveragePool")
def global_average_pool(c, a, x):
    x = c.tensor(x)
    return ember.mean(x, tuple(range(2, x.ndim)), keepdims=True)


@op("GlobalMaxPool")
def global_max_pool(c, a, x):
    x = c.tensor(x)
    return ember.max(x, tuple(range(2, x.ndim)), keepdims=True)


def _channels(t, ndim):
    return t.reshape((1, t.shape[0]) + (1,) * (ndim - 2))


@op("BatchNormalization")
def batch_norm(c, a, x, scale, bias, mean, var):
    """Inference: the running statistics. Training mode (opset 14 on: outputs Y and the
    updated running mean and variance): the batch's mean and population variance over
    every axis but the channels, each running one moved to momentum * running + (1 -
    momentum) * the batch's, as ONNX's reference computes them."""
    x = c.tensor(x)
    training = a.get("training_mode", 0) or c.outputs > 1
    if training and (c.opset < 14 or c.outputs > 3):
        c.refuse("BatchNormalization with the saved mean and variance outputs of opset < 14 "
                 "is not supported (export in eval mode, or with opset 14 or later)")
    scale, bias, mean, var = (_channels(c.tensor(t), x.ndim) for t in (scale, bias, mean, var))
    if not training:
        return (x - mean) / ember.sqrt(var + a.get("epsilon", 1e-5)) * scale + bias
    axes = (0,) + tuple(range(2, x.ndim))
    batch_mean = x.mean(axis=axes, keepdims=True)
    batch_var = ((x - batch_mean) ** 2).mean(axis=axes, keepdims=True)
    y = (x - batch_mean) / ember.sqrt(batch_var + a.get("epsilon", 1e-5)) * scale + bias
    m = a.get("momentum", 0.9)
    running = [(old * m + new * (1 - m)).reshape(-1)
               for old, new in ((mean, batch_mean), (var, batch_var))]
    return (y, *running)[:max(c.outputs, 1)] if c.outputs > 1 else y


@op("InstanceNormalization")
def instance_norm(c, a, x, scale, bias):
    return F.instance_norm(c.tensor(x), weight=c.tensor(scale), bias=c.tensor(bias),
                           eps=a.get("epsilon", 1e-5))


@op("LayerNormalization")
def layer_norm(c, a, x, scale, bias=None):
    x = c.tensor(x)
    axes = tuple(range(_axis(a.get("axis", -1), x.ndim), x.ndim))
    if c.outputs <= 1:          # no Mean or InvStdDev wanted: one op
        out = standardize(x, axes, a.get("epsilon", 1e-5)) * c.tensor(scale)
        return out + c.tensor(bias) if bias is not None else out
    mean = x.mean(axis=axes, keepdims=True)
    centred = x - mean
    inv = 1.0 / ember.sqrt((centred * centred).mean(axis=axes, keepdims=True) + a.get("epsilon", 1e-5))
    out = centred * inv * c.tensor(scale)
    if bias is not None:
        out = out + c.tensor(bias)
    return (out, mean, inv)[:max(c.outputs, 1)] if c.outputs > 1 else out


@op("RMSNormalization")
def rms_norm(c, a, x, scale):
    x = c.tensor(x)
    axes = tuple(range(_axis(a.get("axis", -1), x.ndim), x.ndim))
    ms = (x * x).mean(axis=axes, keepdims=True)
    return x / ember.sqrt(ms + a.get("epsilon", 1e-5)) * c.tensor(scale)


@op("GroupNormalization")
def group_norm(c, a, x, scale, bias):
    x = c.tensor(x)
    groups = a["num_groups"]
    n, ch = x.shape[:2]
    grouped = x.reshape(n, groups, -1)
    out = standardize(grouped, 2, a.get("epsilon", 1e-5)).reshape(x.shape)
    scale, bias = c.tensor(scale), c.tensor(bias)
    if scale.shape[0] == groups and groups != ch:       # opset 18: one scale per group
        scale = ember.broadcast_to(scale.reshape(groups, 1), (groups, ch // groups)).reshape(ch)
        bias = ember.broadcast_to(bias.reshape(groups, 1), (groups, ch // groups)).reshape(ch)
    return out * _channels(scale, x.ndim) + _channels(bias, x.ndim)


@op("LpNormalization")
def lp_norm(c, a, x):
    x = c.tensor(x)
    axis, p = _axis(a.get("axis", -1), x.ndim), a.get("p", 2)
    norm = ember.sum(ember.abs(x), axis, True) if p == 1 else ember.sqrt(ember.sum(x * x, axis, True))
    return ember.where(norm == 0, 0.0, x / norm)


@op("MeanVarianceNormalization")
def mean_variance_norm(c, a, x):
    x = c.tensor(x)
    axes = tuple(a.get("axes", [0, 2, 3]))
    mean = x.mean(axis=axes, keepdims=True)
    centred = x - mean
    return centred / (ember.sqrt((centred * centred).mean(axis=axes, keepdims=True)) + 1e-9)


@op("Dropout")
def dropout(c, a, x, ratio=None, training=None):
    if training is not None and c.scalar(training) and (ratio is None or c.scalar(ratio) > 0):
        c.refuse("Dropout with training_mode=True draws its own random mask, which ember "
                 "cannot reproduce: export in eval mode")
    if c.outputs > 1:
        return x, np.ones(x.shape, dtype=bool)
    return x


# -- losses -----------------------------------------------------------------------------

def _nll(c, a, logp, target, weight):
    """Negative log-likelihood of class ``target`` along axis 1 of ``logp``, with ONNX's
    reductions and ignore_index."""
    target = c.tensor(target)
    classes = logp.shape[1]
    ignore = a.get("ignore_index")
    valid = None
    if ignore is not None:
        valid = target != ignore
        target = ember.where(valid, target, ember.zeros((), dtype=target.dtype, backend=target.device))
    hit = F.one_hot_mask(target, classes, axis=1, dtype=ember.bool_)
    picked = -ember.sum(ember.where(hit, logp, 0.0), 1)
    w = None
    if weight is not None:
        w = ember.sum(ember.where(hit, _channels(c.tensor(weight), logp.ndim), 0.0), 1)
    if valid is not None:
        w = ember.cast(valid, logp.dtype) if w is None else ember.where(valid, w, 0.0)
    loss = picked if w is None else picked * w
    reduction = a.get("reduction", "mean")
    if reduction == "none":
        return loss
    if reduction == "sum":
        return ember.sum(loss)
    return ember.sum(loss) / ember.sum(w) if w is not None else ember.mean(loss)


@op("NegativeLogLikelihoodLoss")
def nll_loss(c, a, x, target, weight=None):
    return _nll(c, a, c.tensor(x), target, weight)


@op("SoftmaxCrossEntropyLoss")
def softmax_cross_entropy(c, a, x, target, weight=None):
    logp = ember.log_softmax(c.tensor(x), 1)
    loss = _nll(c, a, logp, target, weight)
    return (loss, logp) if c.outputs > 1 else loss



# -- ops without a device kernel in ember: NumPy on host copies (Context.on_host) -------

OPS["Floor"], OPS["Ceil"] = (lambda c, a, x: ember.floor(c.tensor(x)),
                             lambda c, a, x: ember.ceil(c.tensor(x)))
OPS["Round"] = lambda c, a, x: ember.round(c.tensor(x))
OPS["Det"] = lambda c, a, x: ember.linalg.det(c.tensor(x))      # differentiable, compiles
for _name in ("Asin", "Acos", "Atan", "Asinh", "Acosh", "Atanh"):
    OPS[_name] = (lambda fn: lambda c, a, x: fn(c.tensor(x)))(getattr(ember, _name.lower()))
OPS["NonZero"] = lambda c, a, x: c.on_host(lambda h: np.array(np.nonzero(h), dtype=np.int64), x)
OPS["BitwiseNot"] = lambda c, a, x: ember.bitwise_not(c.tensor(x))
for _name in ("And", "Or", "Xor"):
    OPS[f"Bitwise{_name}"] = (lambda fn: lambda c, a, x, y: fn(c.tensor(x), c.tensor(y)))(
        getattr(ember, f"bitwise_{_name.lower()}"))


@op("BitShift")
def bit_shift(c, a, x, y):
    """x << y or x >> y (``direction``), on unsigned integers as ONNX defines it."""
    fn = ember.bitwise_left_shift if a["direction"] == "LEFT" else ember.bitwise_right_shift
    return fn(c.tensor(x), c.tensor(y))


@op("Mod")
def mod(c, a, x, y):
    """Remainder with the divisor's sign (as Python), or the dividend's with fmod=1 (as C)."""
    return (ember.fmod if a.get("fmod", 0) else ember.remainder)(c.tensor(x), c.tensor(y))


def _cumulative(fn, identity):
    """ember.cumsum or cumprod: integers in their own dtype (wrapping, as ONNX's), floats
    accumulated as ember does; ``reverse`` runs from the end, ``exclusive`` shifts in the
    identity."""
    def run(c, a, x, axis):
        x = c.tensor(x)
        ax = _axis(int(c.scalar(axis)), x.ndim)
        if a.get("reverse", 0):
            x = ember.flip(x, ax)
        y = fn(x, ax, dtype=None if x.dtype.is_inexact else x.dtype)
        if a.get("exclusive", 0):
            widths = [(1, 0) if d == ax else (0, 0) for d in range(x.ndim)]
            y = ember.pad(y[(slice(None),) * ax + (slice(0, x.shape[ax] - 1),)], widths,
                          value=identity)
        return ember.flip(y, ax) if a.get("reverse", 0) else y
    return run


OPS["CumSum"], OPS["CumProd"] = _cumulative(ember.cumsum, 0), _cumulative(ember.cumprod, 1)


@op("ReduceProd")
def reduce_prod(c, a, x, axes=None):
    axes = c.ints(axes) if axes is not None else a.get("axes")
    keep = bool(a.get("keepdims", 1))
    if not axes and a.get("noop_with_empty_axes", 0):
        return x
    axes = None if not axes else tuple(axes)
    return c.on_host(lambda h: np.prod(h, axis=axes, keepdims=keep).astype(h.dtype), x)


@op("TopK")
def top_k(c, a, x, k):
    """ember.topk: ties in index order, as ONNX asks (its ``sorted=0`` allows any order)."""
    x = c.tensor(x)
    return tuple(ember.topk(x, int(c.scalar(k)), _axis(a.get("axis", -1), x.ndim),
                            largest=bool(a.get("largest", 1))))


def _wrapped(index, size):
    return np.where(index < 0, index + size, index)


@op("GatherElements")
def gather_elements(c, a, x, index):
    return ember.take_along_axis(c.tensor(x), c.tensor(index), a.get("axis", 0))


_SCATTER = {"none": None, "add": np.add, "mul": np.multiply, "max": np.maximum, "min": np.minimum}


@op("ScatterElements")
def scatter_elements(c, a, x, index, updates):
    """With reduction "add", ember.scatter_add on the backend (negative indices count
    from the end); the other reductions, whose repeated indices need an order, on the
    host."""
    if a.get("reduction", "none") == "add":
        x, index = c.tensor(x), c.tensor(index)
        axis = _axis(a.get("axis", 0), x.ndim)
        index = ember.where(index < 0, index + x.shape[axis], index)
        return ember.scatter_add(x, axis, index, c.tensor(updates))

    def host(h, i, u):
        axis = _axis(a.get("axis", 0), h.ndim)
        out, i = h.copy(), _wrapped(i, h.shape[axis])
        where = list(np.indices(i.shape))
        where[axis] = i
        reduce = _SCATTER[a.get("reduction", "none")]
        if reduce is None:
            out[tuple(where)] = u
        else:
            reduce.at(out, tuple(where), u)
        return out
    return c.on_host(host, x, index, updates)


@op("ScatterND")
def scatter_nd(c, a, x, index, updates):
    def host(h, i, u):
        out = h.copy()
        reduce = _SCATTER[a.get("reduction", "none")]
        for pos in np.ndindex(i.shape[:-1]):
            key = tuple(i[pos])
            out[key] = u[pos] if reduce is None else reduce(out[key], u[pos])
        return out
    return c.on_host(host, x, index, updates)


@op("GatherND")
def gather_nd(c, a, x, index):
    def host(h, i):
        b = a.get("batch_dims", 0)
        batch = h.shape[:b]
        flat_h = h.reshape((-1,) + h.shape[b:])
        flat_i = i.reshape((-1,) + i.shape[b:])
        parts = [np.stack([g[tuple(p)] for p in idx.reshape(-1, idx.shape[-1])]).reshape(
            idx.shape[:-1] + g.shape[idx.shape[-1]:]) for g, idx in zip(flat_h, flat_i)]
        return np.stack(parts).reshape(batch + parts[0].shape)
    return c.on_host(host, x, index)


@op("Einsum")
def einsum(c, a, *xs):
    return ember.einsum(a["equation"], *[c.tensor(x) for x in xs])


@op("Compress")
def compress(c, a, x, condition):
    return c.on_host(lambda h, k: np.compress(k, h, axis=a.get("axis")), x, condition)


# -- attention --------------------------------------------------------------------------

def _heads(x, heads):
    """(batch, length, heads * size) -> (batch, heads, length, size)."""
    b, n, hidden = x.shape
    return x.reshape(b, n, heads, hidden // heads).permute(0, 2, 1, 3)


def _attention_bias(c, a, q, mask, past, nonpad, length, source):
    """The additive bias of ONNX Attention: its mask (bool or float, padded to the key
    length), the causal frontier shifted by the cached length, the sliding window and
    the per-batch key padding. None when nothing is masked."""
    bias = None
    if mask is not None:
        mask = c.tensor(mask)
        if mask.dtype is ember.bool_:
            mask = ember.where(mask, 0.0, -math.inf)
        mask = ember.cast(mask, q.dtype)
        if mask.shape[-1] < source:
            widths = ((0, 0),) * (mask.ndim - 1) + ((0, source - mask.shape[-1]),)
            mask = ember.pad(mask, widths, -math.inf)
        bias = mask
    offset = np.asarray(past)
    if nonpad is not None and not past:
        offset = c.host(nonpad).reshape(-1, 1, 1, 1) - length
    diff = (np.arange(length).reshape(-1, 1) + offset) - np.arange(source)   # query - key
    allowed = np.ones(diff.shape, bool)
    if a.get("is_causal", 0):
        allowed &= diff >= 0
    left, right = a.get("left_window_size", -1), a.get("right_window_size", -1)
    if left >= 0:
        allowed &= diff <= left
    if right >= 0:
        allowed &= -diff <= right
    if nonpad is not None:
        allowed = allowed & (np.arange(source) < c.host(nonpad).reshape(-1, 1, 1, 1))
    if not allowed.all():
        frontier = c.tensor(np.where(allowed, 0.0, -math.inf).astype(q.dtype.np))
        bias = frontier if bias is None else bias + frontier
    return bias


@op("Attention")
def attention(c, a, q, k, v, mask=None, past_key=None, past_value=None, nonpad=None):
    """ONNX Attention (opset 23 on): grouped heads, a key/value cache, masks, softcap and
    the optional scores output. Without softcap or the scores output it is ember's
    scaled_dot_product_attention (the fused kernel where the backend has one)."""
    q, k, v = c.tensor(q), c.tensor(k), c.tensor(v)
    three = q.ndim == 3
    if three:
        q, k, v = _heads(q, a["q_num_heads"]), _heads(k, a["kv_num_heads"]), _heads(v, a["kv_num_heads"])
    past = 0
    if past_key is not None:
        past = past_key.shape[2]
        k = ember.concatenate([c.tensor(past_key), k], axis=2)
        v = ember.concatenate([c.tensor(past_value), v], axis=2)
    present = (k, v)
    length, source = q.shape[2], k.shape[2]
    bias = _attention_bias(c, a, q, mask, past, nonpad, length, source)
    scale = a.get("scale") or 1.0 / math.sqrt(q.shape[-1])
    softcap, mode = a.get("softcap", 0.0), a.get("qk_matmul_output_mode", 0)
    if not softcap and c.outputs < 4:
        out = ember.scaled_dot_product_attention(q, k, v, attn_mask=bias, scale=scale,
                                                 enable_gqa=True)
        scores = None
    else:
        if k.shape[1] != q.shape[1]:
            k, v = (ember.repeat_interleave(t, q.shape[1] // k.shape[1], dim=1) for t in (k, v))
        scores = ember.matmul(q, k.transpose(-2, -1)) * scale
        if softcap:
            scores = ember.tanh(scores / softcap) * softcap
        biased = scores if bias is None else scores + bias
        if mode == 2:
            scores = biased
        p = ember.softmax(biased, -1)
        if bias is not None:
            dead = ember.max(bias, axis=-1, keepdims=True) == -math.inf
            p = ember.where(dead, 0.0, p)
        if mode == 3:
            scores = p
        out = ember.matmul(p, v)
    if three:
        out = out.permute(0, 2, 1, 3)
        out = out.reshape(out.shape[0], out.shape[1], -1)
    return (out, *present, scores)[:c.outputs] if c.outputs > 1 else out


# -- resize: per-axis interpolation matrices, built on the host, applied on the device ---

def _source_coordinates(mode, n_out, n_in, scale, roi):
    """Where each output position samples the input, and which fall outside (only for
    tf_crop_and_resize), per ONNX Resize's coordinate_transformation_mode."""
    y = np.arange(n_out, dtype=np.float64)
    width = scale * n_in
    outside = None
    if mode == "align_corners":
        x = np.zeros(n_out) if width == 1 else y * (n_in - 1) / (width - 1)
    elif mode == "asymmetric":
        x = y / scale
    elif mode == "tf_crop_and_resize":
        start, end = roi
        x = np.full(n_out, (end - start) * (n_in - 1) / 2) if width == 1 else \
            y * (end - start) * (n_in - 1) / (width - 1)
        x = x + start * (n_in - 1)
        outside = (x < 0) | (x > n_in - 1)
    elif mode == "pytorch_half_pixel":
        x = np.full(n_out, -0.5) if width == 1 else (y + 0.5) / scale - 0.5
    elif mode == "half_pixel_symmetric":
        x = n_in / 2 * (1 - n_out / width) + (y + 0.5) / scale - 0.5
    else:                                           # half_pixel
        x = (y + 0.5) / scale - 0.5
    return x, outside


def _taps(a, ratio, scale):
    """Interpolation weights of the taps around a sample, given its distance past the tap
    before it (in (0, 1])."""
    mode = a.get("mode", "nearest")
    if mode == "nearest":
        if ratio == 1:
            return np.array([0.0, 1.0])
        rule = a.get("nearest_mode", "round_prefer_floor")
        up = {"round_prefer_floor": ratio > 0.5, "round_prefer_ceil": ratio >= 0.5,
              "floor": False, "ceil": True}[rule]
        return np.array([0.0, 1.0]) if up else np.array([1.0, 0.0])
    small = min(scale, 1.0) if a.get("antialias", 0) else 1.0
    if mode == "linear":
        start = int(np.floor(-1 / small) + 1)
        offsets = np.arange(start, 2 - start) - ratio
        w = np.clip(1 - np.abs(offsets * small), 0, 1)
    else:                                           # cubic
        A = a.get("cubic_coeff_a", -0.75)
        start = int(np.floor(-2 / small) + 1)
        d = np.abs((np.arange(start, 2 - start) - ratio) * small)
        w = np.where(d <= 1, ((A + 2) * d - (A + 3)) * d * d + 1,
                     np.where(d < 2, ((A * d - 5 * A) * d + 8 * A) * d - 4 * A, 0.0))
    return w / w.sum()


def _resize_matrix(a, n_in, n_out, scale, roi):
    """(n_out, n_in) weights of one axis, taps clamped at the edges as ONNX's reference,
    and the output positions that take the extrapolation value."""
    x, outside = _source_coordinates(a.get("coordinate_transformation_mode", "half_pixel"),
                                     n_out, n_in, scale, roi)
    matrix = np.zeros((n_out, n_in))
    for i, xi in enumerate(x):
        base = int(np.ceil(xi)) - 1               # the tap before xi; xi - base in (0, 1]
        w = _taps(a, xi - base, scale)
        idx = base - len(w) // 2 + 1 + np.arange(len(w))
        if a.get("exclude_outside", 0):
            w = np.where((idx < 0) | (idx >= n_in), 0.0, w)
            w = w / (w.sum() or 1.0)
        np.add.at(matrix[i], np.clip(idx, 0, n_in - 1), w)
    return matrix, outside


@op("Resize", "Upsample")
def resize(c, a, x, roi=None, scales=None, sizes=None):
    if "scales" in a:                               # Upsample 7: a scales attribute
        scales = np.asarray(a["scales"])
    elif sizes is None and roi is not None and scales is None and c.opset < 11:
        roi, scales = None, roi                     # Upsample 9 / Resize 10: (X, scales)
    x = c.tensor(x)
    axes = [_axis(i, x.ndim) for i in a.get("axes", range(x.ndim))]
    if sizes is not None and c.host(sizes).size:
        want = c.ints(sizes)
        factors = [w / x.shape[i] for w, i in zip(want, axes)]
        policy = a.get("keep_aspect_ratio_policy", "stretch")
        if policy != "stretch":
            one = min(factors) if policy == "not_larger" else max(factors)
            factors = [one] * len(axes)
            want = [int(one * x.shape[i] + 0.5) for i in axes]
    else:
        factors = [float(f) for f in c.host(scales).reshape(-1)]
        want = [int(f * x.shape[i]) for f, i in zip(factors, axes)]
    box = None if roi is None or not c.host(roi).size else c.host(roi).astype(np.float64).reshape(-1)
    out = x
    for k, (axis, n_out, factor) in enumerate(zip(axes, want, factors)):
        span = (0.0, 1.0) if box is None else (box[k], box[k + len(axes)])
        if math.isclose(factor, 1.0) and n_out == x.shape[axis] and span == (0.0, 1.0):
            continue
        matrix, outside = _resize_matrix(a, x.shape[axis], n_out, factor, span)
        moved = ember.transpose(out, axis, -1) if axis != out.ndim - 1 else out
        moved = ember.matmul(moved, c.tensor(matrix.T.astype(x.dtype.np)))
        if outside is not None and outside.any():
            moved = ember.where(c.tensor(outside), a.get("extrapolation_value", 0.0), moved)
        out = ember.transpose(moved, axis, -1) if axis != out.ndim - 1 else moved
    return out


# -- signal windows, crops, local response normalization --------------------------------

def _window_fn(terms):
    """A generalized cosine window sum_k terms[k] cos(2 pi k n / N), periodic or not."""
    def run(c, a, size):
        n = int(c.scalar(size))
        span = n if a.get("periodic", 1) else n - 1
        phase = 2 * np.pi * np.arange(n) / span
        values = sum(t * np.cos(k * phase) for k, t in enumerate(terms))
        return values.astype(ember_dtype(a.get("output_datatype", 1), c.node).np)
    return run


OPS["HannWindow"] = _window_fn([0.5, -0.5])
OPS["HammingWindow"] = _window_fn([25 / 46, -21 / 46])
OPS["BlackmanWindow"] = _window_fn([0.42, -0.5, 0.08])


@op("CenterCropPad")
def center_crop_pad(c, a, x, shape):
    x = c.tensor(x)
    axes = [_axis(i, x.ndim) for i in a.get("axes", range(x.ndim))]
    key, widths = [slice(None)] * x.ndim, [(0, 0)] * x.ndim
    for axis, want in zip(axes, c.ints(shape)):
        have = x.shape[axis]
        if want < have:
            start = (have - want) // 2
            key[axis] = slice(start, start + want)
        elif want > have:
            before = (want - have) // 2
            widths[axis] = (before, want - have - before)
    return ember.pad(x[tuple(key)], tuple(widths))


@op("ReverseSequence")
def reverse_sequence(c, a, x, lengths):
    def host(h, n):
        b, t = a.get("batch_axis", 1), a.get("time_axis", 0)
        out = h.copy()
        for i, k in enumerate(n):
            src = [slice(None)] * h.ndim
            src[b], src[t] = i, slice(0, k)
            dst = list(src)
            dst[t] = slice(k - 1, None, -1) if k else slice(0, 0)
            out[tuple(src)] = h[tuple(dst)]
        return out
    return c.on_host(host, x, lengths)


@op("LRN")
def lrn(c, a, x):
    """x / (bias + alpha / size * (sum of squares over neighbouring channels)) ** beta, the
    window starting (size - 1) // 2 channels before (PyTorch's: size // 2)."""
    size = a["size"]
    return F.local_response_norm(c.tensor(x), size, a.get("alpha", 1e-4), a.get("beta", 0.75),
                                 a.get("bias", 1.0), window_start=(size - 1) // 2)


OPS["Scatter"] = OPS["ScatterElements"]           # the name before opset 11


@op("Unique")
def unique(c, a, x):
    def host(h):
        axis = a.get("axis")
        values, first, inverse, counts = np.unique(h, return_index=True, return_inverse=True,
                                                   return_counts=True, axis=axis)
        if not a.get("sorted", 1):                 # in order of first occurrence
            order = np.argsort(first, kind="stable")
            rank = np.empty_like(order)
            rank[order] = np.arange(len(order))
            values = np.take(values, order, axis=0 if axis is None else axis)
            first, counts, inverse = first[order], counts[order], rank[inverse]
        as64 = lambda v: np.asarray(v, dtype=np.int64).reshape(-1)   # noqa: E731
        return values, as64(first), as64(inverse), as64(counts)
    return c.on_host(host, x)[:c.outputs]


# -- recurrent layers: RNN, GRU, LSTM unrolled over time in ember ops ---------------------

_ACTIVATIONS = {"sigmoid": ember.sigmoid, "tanh": ember.tanh, "relu": ember.relu}
_GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}
_DEFAULT_ACTIVATIONS = {"RNN": ["Tanh"], "GRU": ["Sigmoid", "Tanh"], "LSTM": ["Sigmoid", "Tanh", "Tanh"]}


def _activations(c, a, kind, directions):
    names = a.get("activations") or _DEFAULT_ACTIVATIONS[kind] * directions
    if "activation_alpha" in a or "activation_beta" in a or any(
            n.lower() not in _ACTIVATIONS for n in names):
        c.refuse(f"{kind} activations {names} with parameters are not supported "
                 f"(Sigmoid, Tanh and Relu are)")
    per = len(_DEFAULT_ACTIVATIONS[kind])
    return [[_ACTIVATIONS[n.lower()] for n in names[d * per:(d + 1) * per]] for d in range(directions)]


def _cell(kind, acts, x_proj, h, cell, r, rb, peep, a):
    """One time step of one direction: the new hidden state (and cell state)."""
    f = acts[0]
    if kind == "RNN":
        return f(x_proj + ember.matmul(h, r.transpose(0, 1)) + rb), None
    hidden = h.shape[-1]
    if kind == "GRU":
        g = acts[1]
        xz, xr, xh = (x_proj[:, i * hidden:(i + 1) * hidden] for i in range(3))
        rz, rr, rh = (r[i * hidden:(i + 1) * hidden] for i in range(3))
        bz, br, bh = (rb[i * hidden:(i + 1) * hidden] for i in range(3))
        z = f(xz + ember.matmul(h, rz.transpose(0, 1)) + bz)
        reset = f(xr + ember.matmul(h, rr.transpose(0, 1)) + br)
        if a.get("linear_before_reset", 0):
            candidate = g(xh + reset * (ember.matmul(h, rh.transpose(0, 1)) + bh))
        else:
            candidate = g(xh + ember.matmul(reset * h, rh.transpose(0, 1)) + bh)
        return (1.0 - z) * candidate + z * h, None
    g, out_act = acts[1], acts[2]
    gates = x_proj + ember.matmul(h, r.transpose(0, 1)) + rb
    i, o, fg, cc = (gates[:, k * hidden:(k + 1) * hidden] for k in range(4))
    if peep is not None:
        i = i + peep[:hidden] * cell
        fg = fg + peep[2 * hidden:] * cell
    i, fg = f(i), f(fg)
    if a.get("input_forget", 0):
        fg = 1.0 - i
    cell = fg * cell + i * g(cc)
    if peep is not None:
        o = o + peep[hidden:2 * hidden] * cell
    return f(o) * out_act(cell), cell


def _recurrent(kind):
    def run(c, a, x, w, r, b=None, lengths=None, h0=None, c0=None, peep=None):
        x, w, r = c.tensor(x), c.tensor(w), c.tensor(r)
        if a.get("layout", 0):
            x = x.permute(1, 0, 2)
        steps, batch = x.shape[:2]
        if lengths is not None and any(n != steps for n in c.ints(lengths)):
            c.refuse(f"{kind} with sequence_lens shorter than the sequence is not supported")
        if "clip" in a:
            c.refuse(f"{kind} with clip is not supported")
        hidden = a["hidden_size"]
        gates = _GATES[kind] * hidden
        directions = w.shape[0]
        acts = _activations(c, a, kind, directions)
        b = c.tensor(b) if b is not None else ember.zeros((directions, 2 * gates), dtype=x.dtype,
                                                          backend=x.device)
        outs, last_h, last_c = [], [], []
        for d in range(directions):
            reverse = a.get("direction", "forward") == "reverse" or d == 1
            h = c.tensor(h0)[d] if h0 is not None else ember.zeros((batch, hidden), dtype=x.dtype,
                                                                     backend=x.device)
            cell = (c.tensor(c0)[d] if c0 is not None else ember.zeros_like(h)) if kind == "LSTM" else None
            p = c.tensor(peep)[d] if peep is not None else None
            wb, rb = b[d, :gates], b[d, gates:]
            projected = ember.matmul(x, w[d].transpose(0, 1)) + wb      # every step at once
            seq = []
            for t in (range(steps - 1, -1, -1) if reverse else range(steps)):
                h, cell = _cell(kind, acts[d], projected[t], h, cell, r[d], rb, p, a)
                seq.append(h)
            if reverse:
                seq.reverse()
            outs.append(ember.stack(seq))
            last_h.append(h)
            last_c.append(cell)
        y = ember.stack(outs, axis=1)                              # (steps, dirs, batch, hidden)
        y_h = ember.stack(last_h)
        results = [y, y_h] + ([ember.stack(last_c)] if kind == "LSTM" else [])
        if a.get("layout", 0):
            results = [y.permute(2, 0, 1, 3)] + [t.permute(1, 0, 2) for t in results[1:]]
        return tuple(results[:c.outputs]) if c.outputs > 1 else results[0]
    return run


for _kind in _GATES:
    OPS[_kind] = _recurrent(_kind)


@op("RotaryEmbedding")
def rotary_embedding(c, a, x, cos, sin, positions=None):
    """Rotate the first rotary_embedding_dim features of each head by the cached angles
    (halves, or interleaved pairs), as LLaMA's rotary embeddings."""
    x, cos, sin = c.tensor(x), c.tensor(cos), c.tensor(sin)
    shape = x.shape
    if x.ndim == 4:                                    # (batch, heads, length, size)
        x = x.permute(0, 2, 1, 3)
    else:                                              # (batch, length, heads * size)
        x = x.reshape(shape[0], shape[1], a["num_heads"], -1)
    dim = a.get("rotary_embedding_dim", 0) or x.shape[-1]
    if positions is not None:
        positions = c.tensor(positions)
        cos, sin = cos[positions], sin[positions]
    cos, sin = ember.unsqueeze(cos, 2), ember.unsqueeze(sin, 2)
    turned, kept = x[..., :dim], x[..., dim:]
    if a.get("interleaved", 0):
        pairs = turned.reshape(*turned.shape[:-1], dim // 2, 2)
        x1, x2 = pairs[..., 0], pairs[..., 1]
    else:
        x1, x2 = turned[..., :dim // 2], turned[..., dim // 2:]
    real, imag = cos * x1 - sin * x2, sin * x1 + cos * x2
    if a.get("interleaved", 0):
        turned = ember.stack([real, imag], axis=-1).reshape(turned.shape)
    else:
        turned = ember.concatenate([real, imag], axis=-1)
    out = ember.concatenate([turned, kept], axis=-1)
    return out.permute(0, 2, 1, 3) if len(shape) == 4 else out.reshape(shape)


@op("AffineGrid")
def affine_grid(c, a, theta, size):
    """F.affine_grid (PyTorch's, which the operator follows)."""
    return F.affine_grid(c.tensor(theta), c.ints(size), bool(a.get("align_corners", 0)))


@op("GridSample")
def grid_sample(c, a, x, grid):
    """F.grid_sample: images and volumes, modes bilinear, bicubic (opset 20: linear,
    cubic) and nearest."""
    mode = a.get("mode", "bilinear")
    mode = {"linear": "bilinear", "cubic": "bicubic"}.get(mode, mode)
    return F.grid_sample(c.tensor(x), c.tensor(grid), mode, a.get("padding_mode", "zeros"),
                         bool(a.get("align_corners", 0)))


@op("NonMaxSuppression")
def non_max_suppression(c, a, boxes, scores, limit=None, iou=None, threshold=None):
    """Per batch and class, boxes by falling score, each kept unless it overlaps a kept
    one by more than the IoU threshold; rows of (batch, class, box)."""
    limit = 0 if limit is None else int(c.scalar(limit))
    iou = 0.0 if iou is None else float(c.scalar(iou))
    threshold = None if threshold is None else float(c.scalar(threshold))

    def corners(b):
        if a.get("center_point_box", 0):
            xc, yc, w, h = b[..., 0], b[..., 1], b[..., 2], b[..., 3]
            return np.stack([yc - h / 2, xc - w / 2, yc + h / 2, xc + w / 2], -1)
        return np.stack([np.minimum(b[..., 0], b[..., 2]), np.minimum(b[..., 1], b[..., 3]),
                         np.maximum(b[..., 0], b[..., 2]), np.maximum(b[..., 1], b[..., 3])], -1)

    def overlap(p, q):
        inter = np.prod(np.clip(np.minimum(p[2:], q[2:]) - np.maximum(p[:2], q[:2]), 0, None))
        union = np.prod(p[2:] - p[:2]) + np.prod(q[2:] - q[:2]) - inter
        return inter / union if union > 0 else 0.0

    def host(b, s):
        b, picked = corners(b.astype(np.float64)), []
        for n in range(s.shape[0]):
            for k in range(s.shape[1]):
                kept = []
                for i in np.argsort(-s[n, k], kind="stable"):
                    if len(kept) == limit or (threshold is not None and s[n, k, i] <= threshold):
                        break
                    if all(overlap(b[n, i], b[n, j]) <= iou for j in kept):
                        kept.append(i)
                picked += [(n, k, i) for i in kept]
        return np.array(picked, dtype=np.int64).reshape(-1, 3)
    return c.on_host(host, boxes, scores)


def _signal(x):
    """ONNX's real (..., 1) or complex (..., 2) signal as an ember tensor of one axis less."""
    if x.shape[-1] == 1:
        return ember.squeeze(x, -1)
    return ember.view_as_complex(x.to(dtype=ember.float32) if x.dtype in (ember.float16,
                                                                          ember.bfloat16) else x)


def _parts(out, dtype):
    """An ember result as ONNX's (..., 2) parts (a real one as (..., 1)), in ``dtype``."""
    out = ember.view_as_real(out) if out.dtype.is_complex else ember.unsqueeze(out, -1)
    return out if out.dtype is dtype else ember.cast(out, dtype)


@op("DFT")
def dft(c, a, x, length=None, axis=None):
    """Discrete Fourier transform of real (..., 1) or complex (..., 2) signals along an
    axis (ember.fft: differentiable); complex results as (..., 2)."""
    x = c.tensor(x)
    axis = (int(c.scalar(axis)) if axis is not None else -2) if c.opset >= 20 else a.get("axis", 1)
    axis = _axis(axis, x.ndim)
    if axis == x.ndim - 1:
        c.refuse("DFT's axis cannot be the last one, which holds the real and imaginary parts")
    inverse, onesided = a.get("inverse", 0), a.get("onesided", 0)
    n = None if length is None else int(c.scalar(length))
    signal = _signal(x)
    if inverse:
        out = (ember.fft.irfft if onesided else ember.fft.ifft)(signal, n, dim=axis)
    else:
        out = ember.fft.fft(signal, n, dim=axis)
        if onesided:
            out = ember.narrow(out, axis, 0, out.shape[axis] // 2 + 1)
    return _parts(out, x.dtype)


@op("STFT")
def stft(c, a, x, frame_step, window=None, frame_length=None):
    """Spectra of windowed frames of real (batch, length, 1) or complex (..., 2) signals,
    frame_step apart and not padded: (batch, frames, bins, 2)."""
    x, step = c.tensor(x), int(c.scalar(frame_step))
    window = c.tensor(window)
    if frame_length is not None:
        size = int(c.scalar(frame_length))
    else:
        size = x.shape[-2] if window is None else window.shape[0]
    signal = _signal(x)
    if not 0 < size <= signal.shape[-1] or step < 1:
        c.refuse(f"STFT: frames of {size} every {step} do not fit a signal of "
                 f"{signal.shape[-1]} samples")
    frames = signal.unfold(-1, size, step)
    if window is not None:
        frames = frames * window
    transform = ember.fft.rfft if a.get("onesided", 1) and not signal.dtype.is_complex \
        else ember.fft.fft
    return _parts(transform(frames, dim=-1), x.dtype)


@op("MelWeightMatrix")
def mel_weight_matrix(c, a, bins, dft_length, rate, low, high):
    """The triangular mel filters over a one-sided spectrum, (dft_length // 2 + 1, bins),
    as ONNX's definition computes them (from constants, on the host)."""
    bins, n, rate = int(c.scalar(bins)), int(c.scalar(dft_length)), c.scalar(rate)
    to_mel = lambda hz: 2595.0 * np.log10(1.0 + hz / 700.0)       # noqa: E731
    mel_low, mel_high = to_mel(c.scalar(low)), to_mel(c.scalar(high))
    edges = np.arange(bins + 2) * (mel_high - mel_low) / (bins + 2) + mel_low
    edges = ((n + 1) * (700.0 * np.expm1(edges / 2595.0 * np.log(10.0))) // rate).astype(int)
    out = np.zeros((n // 2 + 1, bins))
    for i in range(bins):
        left, centre, right = edges[i:i + 3]
        if centre == left:
            out[centre, i] = 1.0
        else:
            out[left:centre + 1, i] = (np.arange(left, centre + 1) - left) / (centre - left)
        if right > centre:
            out[centre:right, i] = (right - np.arange(centre, right)) / (right - centre)
    dtype = ember_dtype(a.get("output_datatype", 1), f"MelWeightMatrix node {c.node!r}")
    return ember.tensor(out, dtype=dtype, backend=c.backend)
