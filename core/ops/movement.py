"""Movement ops: reshape, permute, broadcast, slice, pad, concatenate, flip, gather."""

import numpy as np

from ..autograd import Op, run
from ..errors import DTypeError, ShapeError, refuses_none
from ..shapes import broadcast_shapes, normalize_axes, normalize_axis, reshape_target, size_of
from ..tensor import Tensor
from ._util import as_tensor, const, same_backend, unbroadcast


class Reshape(Op):
    __slots__ = ("shape",)
    moves = True

    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        return self.backend.reshape(x, self.shape)

    def backward(self, g, x):
        return (reshape(g, x.shape),)


@refuses_none
def reshape(x, shape):
    """Same values in a new shape; one size may be -1."""
    if isinstance(shape, int):
        shape = (shape,)
    shape = tuple(shape)
    if shape == x.shape:
        return x
    shape = reshape_target("reshape", x.shape, x.size, shape)
    if shape == x.shape:
        return x
    return run(Reshape(shape), (x,), shape, x.dtype)


class Permute(Op):
    __slots__ = ("axes",)
    moves = True

    def __init__(self, axes):
        self.axes = axes

    def forward(self, x):
        return self.backend.permute(x, self.axes)

    def backward(self, g, x):
        inverse = [0] * len(self.axes)
        for i, a in enumerate(self.axes):
            inverse[a] = i
        return (permute(g, tuple(inverse)),)


@refuses_none
def permute(x, axes):
    """Reorder the axes: out.shape[i] == x.shape[axes[i]]."""
    ndim = len(x.shape)
    try:
        axes = tuple(a + ndim if a < 0 else a for a in axes)
        ok = len(axes) == ndim and sorted(axes) == list(range(ndim))
    except TypeError:
        ok = False
    if not ok:
        raise ShapeError(f"permute: axes {tuple(axes)} are not a permutation of the "
                         f"{ndim} axes of shape {x.shape}")
    if axes == tuple(range(ndim)):
        return x
    return run(Permute(axes), (x,), tuple(x.shape[a] for a in axes), x.dtype)


@refuses_none
def transpose(x, a=-2, b=-1):
    """Swap two axes (the last two by default)."""
    a = normalize_axis("transpose", a, x.ndim, x.shape)
    b = normalize_axis("transpose", b, x.ndim, x.shape)
    axes = list(range(x.ndim))
    axes[a], axes[b] = axes[b], axes[a]
    return permute(x, axes)


class Expand(Op):
    __slots__ = ("shape",)
    moves = True

    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        return self.backend.expand(x, self.shape)

    def backward(self, g, x):
        return (unbroadcast(g, x.shape),)


@refuses_none
def broadcast_to(x, shape):
    """``x`` repeated along size-1 (or new leading) axes to ``shape``."""
    shape = tuple(shape)
    if shape == x.shape:
        return x
    if len(shape) < x.ndim or broadcast_shapes("broadcast_to", x.shape, shape) != shape:
        raise ShapeError(f"broadcast_to: cannot broadcast {x.shape} to {shape}")
    return run(Expand(shape), (x,), shape, x.dtype)


@refuses_none
def squeeze(x, axis=None):
    """Drop size-1 axes (all of them, or the ones named)."""
    if axis is None:
        axes = tuple(i for i, d in enumerate(x.shape) if d == 1)
    else:
        axes = normalize_axes("squeeze", axis, x.ndim, x.shape)
        for a in axes:
            if x.shape[a] != 1:
                raise ShapeError(f"squeeze: axis {a} of shape {x.shape} has size "
                                 f"{x.shape[a]}, not 1")
    return reshape(x, tuple(d for i, d in enumerate(x.shape) if i not in axes))


@refuses_none
def unsqueeze(x, axis):
    """Insert a size-1 axis at ``axis`` (negative counts from the new end)."""
    axis = normalize_axis("unsqueeze", axis, x.ndim + 1, x.shape)
    return reshape(x, x.shape[:axis] + (1,) + x.shape[axis:])


def repeat_interleave(x, repeats, dim=None):
    """Each element ``repeats`` times along ``dim`` (None: of the flattened x), as
    torch.repeat_interleave. An int count is a broadcast and a reshape; counts per element
    (a sequence or a 1-D tensor, read on the host: the shape depends on them) gather.
    Differentiable either way."""
    op = "repeat_interleave"
    x = as_tensor(x, op)
    counts = np.asarray(repeats.numpy() if isinstance(repeats, Tensor) else repeats)
    if counts.size == 0:
        counts = counts.astype(np.int64)            # ([] is float64 to NumPy)
    if counts.dtype.kind not in "iu":
        raise DTypeError(f"{op}: repeats must be integers, got {counts.dtype} "
                         f"({np.ravel(counts)[:3].tolist()}...)")
    if counts.ndim > 1:
        raise ShapeError(f"{op}: repeats must be an int or 1-D, got shape {counts.shape}")
    if (counts < 0).any():
        raise ValueError(f"{op}: repeats must be >= 0, got {int(counts.min())}")
    if dim is None:
        x, dim = reshape(x, (-1,)), 0
    dim = normalize_axis(op, dim, x.ndim, x.shape)
    if counts.size == 1:
        r = int(counts.reshape(()))
        shape = x.shape[:dim + 1] + (r,) + x.shape[dim + 1:]
        return reshape(broadcast_to(unsqueeze(x, dim + 1), shape),
                       x.shape[:dim] + (x.shape[dim] * r,) + x.shape[dim + 1:])
    if counts.size != x.shape[dim]:
        raise ShapeError(f"{op}: {counts.size} repeats for axis {dim} of shape {x.shape}; give "
                         f"one per element ({x.shape[dim]}) or an int")
    from ..creation import tensor
    index = np.repeat(np.arange(x.shape[dim]), counts.astype(np.int64))
    return gather(x, dim, tensor(index, dtype=x.backend.default_int, backend=x.backend))


@refuses_none
def flatten(x, start=0, end=-1):
    """Merge axes start..end (inclusive) into one."""
    if x.ndim == 0:
        return reshape(x, (1,))
    start = normalize_axis("flatten", start, x.ndim, x.shape)
    end = normalize_axis("flatten", end, x.ndim, x.shape)
    if start > end:
        raise ShapeError(f"flatten: start axis {start} comes after end axis {end}")
    return reshape(x, x.shape[:start] + (size_of(x.shape[start:end + 1]),) + x.shape[end + 1:])


class Slice(Op):
    __slots__ = ("starts", "stops", "steps")
    moves = True

    def __init__(self, starts, stops, steps):
        self.starts, self.stops, self.steps = starts, stops, steps

    def forward(self, x):
        return self.backend.slice(x, self.starts, self.stops, self.steps)

    def backward(self, g, x):
        return (run(Unslice(x.shape, self.starts, self.stops, self.steps), (g,), x.shape, g.dtype),)


class Unslice(Op):
    """The adjoint of Slice: place ``g`` into zeros of the sliced tensor's shape."""

    __slots__ = ("shape", "starts", "stops", "steps")
    complex_grad = True

    def __init__(self, shape, starts, stops, steps):
        self.shape, self.starts, self.stops, self.steps = shape, starts, stops, steps

    def forward(self, g):
        b = self.backend
        widths = []
        cur = list(_slice_shape(self.starts, self.stops, self.steps))
        for axis, (start, stop, step) in enumerate(zip(self.starts, self.stops, self.steps)):
            if step != 1 and cur[axis] > 0:
                span = stop - start
                idx = np.arange(0, span, step, dtype=b.default_int.np)[:cur[axis]]
                cur[axis] = span
                g = b.scatter_add(tuple(cur), axis, b.from_numpy(idx), g)
                widths.append((start, self.shape[axis] - stop))
            else:
                widths.append((start, self.shape[axis] - start - cur[axis]))
        return b.pad(g, tuple(widths), 0)

    def backward(self, g, x):
        return (run(Slice(self.starts, self.stops, self.steps), (g,), x.shape, g.dtype),)


def _slice_shape(starts, stops, steps):
    return tuple(max(0, -(-(stop - start) // step)) for start, stop, step in zip(starts, stops, steps))


def slice_axes(x, starts, stops, steps):
    """x[start:stop:step] per axis, bounds already normalized and steps positive."""
    starts, stops, steps = tuple(starts), tuple(stops), tuple(steps)
    shape = _slice_shape(starts, stops, steps)
    if shape == x.shape:
        return x
    # an empty result has no elements to place; normalise its bounds for the backend
    stops = tuple(max(a, b) for a, b in zip(starts, stops))
    return run(Slice(starts, stops, steps), (x,), shape, x.dtype)


class Pad(Op):
    __slots__ = ("widths", "value")
    moves = True

    def __init__(self, widths, value):
        self.widths, self.value = widths, value

    def forward(self, x):
        return self.backend.pad(x, self.widths, self.value)

    def backward(self, g, x):
        starts = tuple(w[0] for w in self.widths)
        stops = tuple(w[0] + d for w, d in zip(self.widths, x.shape))
        return (slice_axes(g, starts, stops, (1,) * x.ndim),)


@refuses_none
def pad(x, widths, value=0):
    """Constant padding. ``widths`` is ((before, after), ...) for the leading axes,
    a single (before, after) for every axis, or an int for all sides."""
    if isinstance(widths, int):
        widths = ((widths, widths),) * x.ndim
    widths = tuple(tuple(w) if not isinstance(w, int) else (w, w) for w in widths)
    if len(widths) == 1 and x.ndim > 1 and len(widths[0]) == 2 and isinstance(widths[0][0], int):
        widths = widths * x.ndim
    if len(widths) > x.ndim or any(len(w) != 2 or w[0] < 0 or w[1] < 0 for w in widths):
        raise ShapeError(f"pad: widths {widths} do not fit shape {x.shape}: give one "
                         f"(before, after) pair of non-negative ints per axis")
    widths = widths + ((0, 0),) * (x.ndim - len(widths))
    shape = tuple(d + a + b for d, (a, b) in zip(x.shape, widths))
    return run(Pad(widths, value), (x,), shape, x.dtype)


class Concatenate(Op):
    __slots__ = ("axis",)
    moves = True

    def __init__(self, axis):
        self.axis = axis

    def forward(self, *xs):
        return self.backend.concatenate(xs, self.axis)

    def backward(self, g, *xs):
        grads, offset = [], 0
        for x in xs:
            starts = [0] * g.ndim
            stops = list(g.shape)
            starts[self.axis], stops[self.axis] = offset, offset + x.shape[self.axis]
            offset += x.shape[self.axis]
            grads.append(slice_axes(g, starts, stops, (1,) * g.ndim) if x.requires_grad else None)
        return tuple(grads)


def concatenate(tensors, axis=0):
    """Join tensors along an existing axis."""
    tensors = _tensor_list("concatenate", tensors)
    first = tensors[0]
    axis = normalize_axis("concatenate", axis, first.ndim, first.shape)
    for t in tensors[1:]:
        if t.ndim != first.ndim or any(a != b for i, (a, b) in enumerate(zip(t.shape, first.shape))
                                       if i != axis):
            listed = ", ".join(str(u.shape) for u in tensors)
            raise ShapeError(f"concatenate: shapes {listed} differ outside axis {axis}")
    tensors = _one_dtype(tensors)
    if len(tensors) == 1:
        return tensors[0]
    shape = list(first.shape)
    shape[axis] = sum(t.shape[axis] for t in tensors)
    return run(Concatenate(axis), tuple(tensors), tuple(shape), tensors[0].dtype)


def _tensor_list(op, tensors):
    if isinstance(tensors, Tensor) or not tensors:
        raise ShapeError(f"{op}: needs a non-empty list of tensors")
    first = next((t for t in tensors if isinstance(t, Tensor)), None)
    out = [as_tensor(t, op, like=first) for t in tensors]
    same_backend(op, out)
    return out


def _one_dtype(tensors):
    from .. import dtypes as dt
    from .elementwise import cast
    dtype = tensors[0].dtype
    for t in tensors[1:]:
        dtype = dt.promote(dtype, t.dtype)
    return [cast(t, dtype) for t in tensors]


def stack(tensors, axis=0):
    """Join same-shape tensors along a new axis."""
    tensors = _tensor_list("stack", tensors)
    for t in tensors[1:]:
        if t.shape != tensors[0].shape:
            listed = ", ".join(str(u.shape) for u in tensors)
            raise ShapeError(f"stack: all tensors need one shape, got {listed}")
    axis = normalize_axis("stack", axis, tensors[0].ndim + 1)
    return concatenate([unsqueeze(t, axis) for t in tensors], axis)


@refuses_none
def split(x, sections, axis=0, *, dim=None):
    """Split into ``sections`` equal parts (an int, numpy.split's) or parts of the given
    sizes (a list). Given PyTorch's ``dim`` instead of ``axis``, an int is torch.split's:
    the size of each part, the last one smaller where the axis runs out."""
    if dim is not None:
        x, axis = as_tensor(x, "split"), dim
        if isinstance(sections, int):
            if sections < 1:
                raise ValueError(f"split: a part's size must be >= 1, got {sections}")
            n = x.shape[normalize_axis("split", axis, x.ndim, x.shape)]
            sections = [min(sections, n - start) for start in range(0, n, sections)] or [0]
    axis = normalize_axis("split", axis, x.ndim, x.shape)
    n = x.shape[axis]
    if isinstance(sections, int):
        if sections <= 0 or n % sections:
            raise ShapeError(f"split: axis {axis} of shape {x.shape} (size {n}) does not "
                             f"divide into {sections} equal parts")
        sizes = [n // sections] * sections
    else:
        sizes = list(sections)
        if sum(sizes) != n or any(s < 0 for s in sizes):
            raise ShapeError(f"split: sizes {sizes} do not add up to {n}, the size of axis "
                             f"{axis} of shape {x.shape}")
    parts, offset = [], 0
    for s in sizes:
        starts, stops = [0] * x.ndim, list(x.shape)
        starts[axis], stops[axis] = offset, offset + s
        parts.append(slice_axes(x, starts, stops, (1,) * x.ndim))
        offset += s
    return parts


class Flip(Op):
    __slots__ = ("axes",)
    moves = True

    def __init__(self, axes):
        self.axes = axes

    def forward(self, x):
        return self.backend.flip(x, self.axes)

    def backward(self, g, x):
        return (flip(g, self.axes),)


@refuses_none
def flip(x, axis=None):
    """Reverse the order along ``axis`` (all axes when None)."""
    axes = normalize_axes("flip", axis, x.ndim, x.shape)
    if not axes:
        return x
    return run(Flip(axes), (x,), x.shape, x.dtype)


class Gather(Op):
    __slots__ = ("axis",)
    moves = True

    def __init__(self, axis):
        self.axis = axis

    def forward(self, x, index):
        return self.backend.gather(x, self.axis, index)

    def backward(self, g, x, index):
        return scatter_add(x.shape, self.axis, index, g), None


class ScatterAdd(Op):
    __slots__ = ("shape", "axis")
    complex_grad = True

    def __init__(self, shape, axis):
        self.shape, self.axis = shape, axis

    def forward(self, index, src):
        return self.backend.scatter_add(self.shape, self.axis, index, src)

    def backward(self, g, index, src):
        return None, gather(g, self.axis, index)


def gather(x, axis, index):
    """numpy.take(x, index, axis) for an index tensor already checked to be in range."""
    shape = x.shape[:axis] + index.shape + x.shape[axis + 1:]
    return run(Gather(axis), (x, index), shape, x.dtype)


def scatter_add(shape, axis, index, src):
    """Zeros of ``shape`` with ``src`` summed in at ``index`` along ``axis``."""
    return run(ScatterAdd(tuple(shape), axis), (index, src), tuple(shape), src.dtype)


# -- composed of the above, under PyTorch's names -------------------------------------
@refuses_none
def clone(x):
    """A new tensor with x's value, differentiable (PyTorch's clone). Buffers are never
    written in place (x[i] = v and x += y rebind x), so the two share one."""
    return run(Reshape(x.shape), (as_tensor(x, "clone"),), x.shape, x.dtype)


def _band(op, x, diagonal, lower):
    from ..creation import arange
    from .elementwise import where
    x = as_tensor(x, op)
    if x.ndim < 2:
        raise ShapeError(f"{op}: needs at least 2 axes (a matrix), got shape {x.shape}")
    rows = unsqueeze(arange(x.shape[-2], backend=x.backend), -1)
    offset = arange(x.shape[-1], backend=x.backend) - rows
    keep = offset <= diagonal if lower else offset >= diagonal
    return where(keep, x, const(0, x.dtype, x._backend))


def tril(x, diagonal=0):
    """The lower triangle of the last two axes: zeros above the ``diagonal``-th diagonal
    (0 the main one, > 0 above it), as torch.tril; NaN and inf above it become 0 too."""
    return _band("tril", x, diagonal, True)


def triu(x, diagonal=0):
    """The upper triangle of the last two axes: zeros below the ``diagonal``-th diagonal."""
    return _band("triu", x, diagonal, False)


@refuses_none
def roll(x, shifts, dims=None):
    """Elements shifted ``shifts`` places along ``dims`` (each, with a shift each), those
    past the end coming round to the start; the flattened x when ``dims`` is None."""
    x = as_tensor(x, "roll")
    if dims is None:
        return reshape(roll(reshape(x, (-1,)), shifts, 0), x.shape)
    shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    if len(shifts) != len(dims):
        raise ShapeError(f"roll: {len(shifts)} shifts for {len(dims)} dims; give one each")
    for s, a in zip(shifts, dims):
        a = normalize_axis("roll", a, x.ndim, x.shape)
        n = x.shape[a]
        if n and s % n:
            head, tail = split(x, [n - s % n, s % n], a)
            x = concatenate([tail, head], a)
    return x


@refuses_none
def movedim(x, source, destination):
    """x with axes ``source`` (an int or a sequence) moved to ``destination``, the others
    keeping their order (torch.movedim, numpy.moveaxis)."""
    x = as_tensor(x, "movedim")
    src, dst = ([a] if isinstance(a, int) else list(a) for a in (source, destination))
    if len(src) != len(dst):
        raise ShapeError(f"movedim: {len(src)} source axes for {len(dst)} destinations")
    normalize_axes("movedim", src, x.ndim, x.shape)      # refuses axes out of range or twice
    normalize_axes("movedim", dst, x.ndim, x.shape)
    src, dst = ([normalize_axis("movedim", a, x.ndim) for a in axes] for axes in (src, dst))
    order = [a for a in range(x.ndim) if a not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return permute(x, tuple(order))


def chunk(x, chunks, dim=0):
    """x split along ``dim`` into parts of ceil(n / chunks) (the last smaller), as
    torch.chunk: fewer than ``chunks`` parts where the sizes run out first."""
    x = as_tensor(x, "chunk")
    if not isinstance(chunks, int) or chunks < 1:
        raise ValueError(f"chunk: chunks must be an int >= 1, got {chunks!r}")
    dim = normalize_axis("chunk", dim, x.ndim, x.shape)
    size = -(-x.shape[dim] // chunks)
    return [x] * chunks if size == 0 else split(x, size, dim=dim)


def unbind(x, dim=0):
    """The slices of x along ``dim``, that axis gone (torch.unbind)."""
    x = as_tensor(x, "unbind")
    dim = normalize_axis("unbind", dim, x.ndim, x.shape)
    return tuple(squeeze(part, dim) for part in split(x, [1] * x.shape[dim], dim))


@refuses_none
def tile(x, reps):
    """x repeated ``reps[i]`` times along each axis (numpy.tile; torch.Tensor.repeat,
    which asks for at least as many reps as axes): a broadcast and a reshape."""
    x = as_tensor(x, "tile")
    reps = tuple(reps)
    if any(not isinstance(r, int) or r < 0 for r in reps):
        raise ValueError(f"tile: repetitions must be ints >= 0, got {reps}")
    reps = (1,) * (x.ndim - len(reps)) + reps
    shape = (1,) * (len(reps) - x.ndim) + x.shape
    x = reshape(x, tuple(d for n in shape for d in (1, n)))
    x = broadcast_to(x, tuple(d for r, n in zip(reps, shape) for d in (r, n)))
    return reshape(x, tuple(r * n for r, n in zip(reps, shape)))


def narrow(x, dim, start, length):
    """The ``length`` elements of x from ``start`` along ``dim`` (torch.narrow)."""
    x = as_tensor(x, "narrow")
    dim = normalize_axis("narrow", dim, x.ndim, x.shape)
    n = x.shape[dim]
    start = start + n if start < 0 else start
    if not 0 <= start <= n or length < 0 or start + length > n:
        raise ShapeError(f"narrow: {length} elements from {start} do not fit in axis {dim} of "
                         f"shape {x.shape}")
    starts, stops = [0] * x.ndim, list(x.shape)
    starts[dim], stops[dim] = start, start + length
    return slice_axes(x, starts, stops, (1,) * x.ndim)


def swapaxes(x, axis0, axis1):
    """x with two axes exchanged (torch.swapaxes, transpose(x, a, b))."""
    return transpose(as_tensor(x, "swapaxes"), axis0, axis1)


def diagonal(x, offset=0, dim1=0, dim2=1):
    """The diagonal of the planes of axes ``dim1`` and ``dim2`` (``offset`` above the
    main one, below it when negative), as the last axis (torch.diagonal); differentiable."""
    from ..creation import arange
    x = as_tensor(x, "diagonal")
    if x.ndim < 2:
        raise ShapeError(f"diagonal: needs at least 2 axes, got shape {x.shape}")
    a = normalize_axis("diagonal", dim1, x.ndim, x.shape)
    b = normalize_axis("diagonal", dim2, x.ndim, x.shape)
    if a == b:
        raise ShapeError(f"diagonal: dim1 and dim2 are both axis {a}")
    x = permute(x, tuple(i for i in range(x.ndim) if i not in (a, b)) + (a, b))
    rows, cols = x.shape[-2:]
    n = max(0, min(rows + min(offset, 0), cols - max(offset, 0)))
    i = arange(n, backend=x.backend)
    return x[..., i - min(offset, 0), i + max(offset, 0)]


_diagonal = diagonal      # (diag's argument takes PyTorch's name, "diagonal")


def diag(x, diagonal=0):
    """torch.diag: a vector's square matrix with it on the ``diagonal``-th diagonal (zeros
    elsewhere), or a matrix's diagonal as a vector."""
    from ..creation import arange
    from .elementwise import where
    x = as_tensor(x, "diag")
    if x.ndim == 2:
        return _diagonal(x, diagonal)
    if x.ndim != 1:
        raise ShapeError(f"diag: needs a vector or a matrix, got shape {x.shape}")
    k, n = diagonal, x.shape[0] + abs(diagonal)
    padded = pad(x, ((0, abs(k)),))
    values = broadcast_to(reshape(padded, (n, 1)) if k >= 0 else padded, (n, n))
    offsets = arange(n, backend=x.backend) - reshape(arange(n, backend=x.backend), (n, 1))
    return where(offsets == k, values, const(0, x.dtype, x._backend))


def _at_least(op, ndim, tensors):
    """Each tensor with axes of 1 added, as numpy's and torch's atleast_1d/2d/3d: a 0-d
    one at the front, a 1-d one on both sides for 3 (a row for 2)."""
    single = len(tensors) == 1 and not isinstance(tensors[0], (list, tuple))
    items = tensors[0] if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) \
        else tensors
    out = []
    for t in items:
        t = as_tensor(t, op)
        shape = {0: (1,) * ndim, 1: (1,) * (ndim - 1) + t.shape}.get(t.ndim, t.shape)
        if ndim == 3 and t.ndim in (1, 2):
            shape = (1,) + t.shape + (1,) if t.ndim == 1 else t.shape + (1,)
        out.append(reshape(t, shape) if shape != t.shape else t)
    return out[0] if single else tuple(out)


def atleast_1d(*tensors):
    return _at_least("atleast_1d", 1, tensors)


def atleast_2d(*tensors):
    return _at_least("atleast_2d", 2, tensors)


def atleast_3d(*tensors):
    return _at_least("atleast_3d", 3, tensors)


def rot90(x, k=1, dims=(0, 1)):
    """x turned by 90 degrees ``k`` times in the plane of ``dims``, from the first axis
    towards the second, as torch.rot90 (and numpy.rot90's axes)."""
    x = as_tensor(x, "rot90")
    if len(dims) != 2 or x.ndim < 2:
        raise ShapeError(f"rot90: needs two axes to turn in and x of at least 2, got dims "
                         f"{tuple(dims)} and shape {x.shape}")
    a, b = (normalize_axis("rot90", d, x.ndim, x.shape) for d in dims)
    if a == b:
        raise ShapeError(f"rot90: dims must be two different axes, got {tuple(dims)}")
    k %= 4
    if k == 1:
        return swapaxes(flip(x, b), a, b)
    if k == 2:
        return flip(x, (a, b))
    if k == 3:
        return flip(swapaxes(x, a, b), b)
    return x


@refuses_none
def fliplr(x):
    """x with its columns (axis 1) reversed; x needs at least 2 axes."""
    if x.ndim < 2:
        raise ShapeError(f"fliplr: x needs at least 2 axes, got shape {x.shape}")
    return flip(x, 1)


@refuses_none
def flipud(x):
    """x with its rows (axis 0) reversed; x needs at least 1 axis."""
    if x.ndim < 1:
        raise ShapeError("flipud: x needs at least 1 axis, got a 0-d tensor")
    return flip(x, 0)


def meshgrid(*tensors, indexing="ij"):
    """Coordinate grids of 1-D tensors (0-d ones count as length 1), as torch.meshgrid:
    ``indexing`` "ij" (PyTorch's default: the grids' axes in the tensors' order) or "xy"
    (NumPy's and MATLAB's: the first two swapped)."""
    items = tensors[0] if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) \
        else tensors
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    items = [as_tensor(t, "meshgrid") for t in items]
    if any(t.ndim > 1 for t in items):
        raise ShapeError(f"meshgrid: takes 0-d or 1-d tensors, got shapes "
                         f"{[t.shape for t in items]}")
    items = [reshape(t, (-1,)) for t in items]
    if indexing == "xy" and len(items) > 1:
        items[0], items[1] = items[1], items[0]
    shape = tuple(t.shape[0] for t in items)
    grids = [broadcast_to(reshape(t, tuple(-1 if b == a else 1 for b in range(len(items)))),
                          shape) for a, t in enumerate(items)]
    if indexing == "xy" and len(items) > 1:     # back in the tensors' order
        grids[0], grids[1] = grids[1], grids[0]
    return tuple(grids)
