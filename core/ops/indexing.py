"""Indexing: slices, steps, None, ..., integer arrays and boolean masks.

Basic indexing lowers to one Slice (plus Flip for negative steps and Reshape
for ints and None). Integer arrays and masks follow NumPy's rules: the
indexed axes are flattened into one, the indices become one flat index checked
on the host, and a single Gather (whose adjoint is ScatterAdd) does the rest.
"""

import math

import numpy as np

from ..errors import IndexingError, refuses_none
from ..tensor import Tensor
from ._util import as_tensor, index_tensor, same_backend
from .movement import flip, gather as take_flat, permute, reshape, slice_axes


def _is_basic(k):
    return k is None or k is Ellipsis or isinstance(k, slice) or (
        isinstance(k, (int, np.integer)) and not isinstance(k, (bool, np.bool_)))


def _expand(key, ndim):
    """The key with Ellipsis replaced and one entry per input axis (None aside)."""
    if not isinstance(key, tuple):
        key = (key,)
    used = sum(_axes_used(k) for k in key)
    if used > ndim:
        raise IndexingError(f"too many indices: the key uses {used} axes but the tensor has {ndim}")
    out, seen_ellipsis = [], False
    for k in key:
        if k is Ellipsis:
            if seen_ellipsis:
                raise IndexingError("an index can only have a single ellipsis ('...')")
            seen_ellipsis = True
            out.extend([slice(None)] * (ndim - used))
        else:
            out.append(k)
    if not seen_ellipsis:
        out.extend([slice(None)] * (ndim - used))
    return out


def _axes_used(k):
    if k is None or k is Ellipsis:
        return 0
    if isinstance(k, Tensor):
        return k.ndim if k.dtype.name == "bool" else 1
    if isinstance(k, (np.ndarray, list, tuple)):
        arr = _host(k)
        return arr.ndim if arr.dtype == np.bool_ else 1
    return 1


def _host(k):
    if isinstance(k, Tensor):
        return k.numpy()
    return np.asarray(k)


def _int_index(i, n, axis):
    i = int(i)
    if not -n <= i < n:
        raise IndexingError(f"index {i} is out of bounds for axis {axis} with size {n}")
    return i % n


def _apply_slices(x, entries):
    """Apply the slice entries (ints count as length-1 slices); returns (tensor, dropped axes)."""
    starts, stops, steps, flips, dropped = [], [], [], [], []
    for axis, (k, n) in enumerate(zip(entries, x.shape)):
        if isinstance(k, slice):
            start, stop, step = k.indices(n)
            if step < 0:
                m = len(range(start, stop, step))
                if m:
                    start, stop, step = start + (m - 1) * step, start + 1, -step
                    flips.append(axis)
                else:
                    start, stop, step = 0, 0, 1
            starts.append(start), stops.append(stop), steps.append(step)
        elif isinstance(k, (int, np.integer)):
            i = _int_index(k, n, axis)
            starts.append(i), stops.append(i + 1), steps.append(1)
            dropped.append(axis)
        else:  # an advanced index: keep the whole axis for now
            starts.append(0), stops.append(n), steps.append(1)
    x = slice_axes(x, starts, stops, steps)
    if flips:
        x = flip(x, tuple(flips))
    return x, dropped


def _check_key(key):
    """Refuse what no index can be (a float, a string, a slice of them, a zero step) by
    name, before any of it reaches NumPy's or a backend's indexing."""
    for k in key if isinstance(key, tuple) else (key,):
        if isinstance(k, slice):
            # anything with __index__ bounds a slice: x[:n], n a one-element integer tensor
            if not all(p is None or hasattr(p, "__index__") for p in (k.start, k.stop, k.step)):
                raise IndexingError(f"slice bounds and steps must be ints or None, got {k}")
            if k.step == 0:
                raise IndexingError(f"slice step cannot be zero, got {k}")
        elif not (k is None or k is Ellipsis or isinstance(
                k, (int, np.integer, bool, np.bool_, Tensor, np.ndarray, list, tuple))):
            raise IndexingError(f"only integers, slices (:), ellipsis (...), None and integer "
                                f"or bool tensors, arrays or lists are valid indices; got "
                                f"{type(k).__name__} {k!r}")


def getitem(x, key):
    """x[key] with NumPy semantics; differentiable throughout."""
    if not isinstance(x, Tensor):               # (None: refused by name; a key may be None)
        x = as_tensor(x, "getitem")
    _check_key(key)
    if isinstance(key, (bool, np.bool_)) or (isinstance(key, (Tensor, np.ndarray))
                                             and key.ndim == 0 and _host(key).dtype == np.bool_):
        from .movement import unsqueeze     # NumPy: a new axis, of length 1 (True) or 0 (False)
        return getitem(unsqueeze(x, 0), np.array([bool(_host(key))]))
    if isinstance(key, (Tensor, np.ndarray, list)) or (
            isinstance(key, tuple) and not all(_is_basic(k) for k in key)):
        return _advanced(x, key)
    if not isinstance(key, tuple):
        if isinstance(key, (bool, np.bool_)) or not _is_basic(key):
            return _advanced(x, key)
        key = (key,)
    entries = _expand(key, x.ndim)
    plain = [k for k in entries if k is not None]
    x, dropped = _apply_slices(x, plain)
    shape, axis = [], 0
    for k in entries:
        if k is None:
            shape.append(1)
            continue
        if axis not in dropped:
            shape.append(x.shape[axis])
        axis += 1
    return reshape(x, tuple(shape))


def _traced_gather(x, key):
    """x[..., index, ...] for one integer index tensor among full slices while ember.compile
    traces: gathered with the tensor itself, so each replay takes that call's indices (a
    host read would freeze them into the graph). Nothing is read back, so a replay does not
    check their range, as a GPU kernel does not: check indices before a compiled call."""
    from ..compile import is_compiling
    from .elementwise import cast
    if not is_compiling():
        return None
    entries = _expand(key, x.ndim)
    tensors = [a for a, k in enumerate(entries) if isinstance(k, Tensor)]
    whole = lambda k: isinstance(k, slice) and k == slice(None)     # noqa: E731
    if len(tensors) != 1 or not all(whole(k) for a, k in enumerate(entries) if a != tensors[0]):
        return None
    index = entries[tensors[0]]
    if index.dtype.is_float or index.dtype.name == "bool":
        return None
    return take_flat(x, tensors[0], cast(index, x._backend.default_int))


def _advanced(x, key):
    if not isinstance(key, tuple):
        key = (key,)
    same_backend("indexing", (x,) + tuple(k for k in key if isinstance(k, Tensor)))
    traced = _traced_gather(x, key)
    if traced is not None:
        return traced
    # index tensors come to the host once (bounds are checked there)
    key = tuple(_host(k) if isinstance(k, (Tensor, np.ndarray, list, tuple)) else k for k in key)
    # None -> a new size-1 axis, indexed by a full slice
    if any(k is None for k in key):
        entries = _expand(key, x.ndim)
        shape, axis = [], 0
        for k in entries:
            if k is None:
                shape.append(1)
            else:
                shape.append(x.shape[axis])
                axis += 1
        x = reshape(x, tuple(shape))
        key = tuple(slice(None) if k is None else k for k in entries)
    entries = _expand(key, x.ndim)
    # masks -> integer arrays over the axes they cover; ints -> 0-d arrays
    per_axis = []
    for k in entries:
        if isinstance(k, (Tensor, np.ndarray, list, tuple, bool, np.bool_)):
            arr = _host(k)
            if arr.dtype == np.bool_:
                if arr.ndim == 0:
                    raise IndexingError("a single True/False as an index is not supported; "
                                        "use x[None] or reshape")
                per_axis.extend(("mask", a) for a in np.nonzero(arr))
                continue
            if arr.size and arr.dtype.kind not in "iu":
                raise IndexingError(f"index arrays must hold integers or bools, got {arr.dtype}")
            per_axis.append(("array", arr.astype(np.int64)))
        elif isinstance(k, (int, np.integer)):
            per_axis.append(("array", np.asarray(k, dtype=np.int64)))
        else:
            per_axis.append(("slice", k))
    # check mask shapes against the axes they cover
    axis = 0
    for k in entries:
        arr = _host(k) if isinstance(k, (Tensor, np.ndarray, list, tuple)) else None
        if arr is not None and arr.dtype == np.bool_:
            covered = x.shape[axis:axis + arr.ndim]
            if tuple(arr.shape) != tuple(covered):
                raise IndexingError(f"boolean mask of shape {arr.shape} does not match the "
                                    f"indexed axes {covered} of shape {x.shape}")
            axis += arr.ndim
        else:
            axis += 1
    x, _ = _apply_slices(x, [k if kind == "slice" else None for kind, k in per_axis])
    adv = [a for a, (kind, _) in enumerate(per_axis) if kind != "slice"]
    arrays = []
    for a in adv:
        arr, n = per_axis[a][1], x.shape[a]
        if arr.size and (arr.min() < -n or arr.max() >= n):
            bad = arr[(arr < -n) | (arr >= n)].flat[0]
            raise IndexingError(f"index {bad} is out of bounds for axis {a} with size {n}")
        arrays.append(np.where(arr < 0, arr + n, arr))
    try:
        arrays = np.broadcast_arrays(*arrays)
    except ValueError:
        shapes = " ".join(str(a.shape) for a in arrays)
        raise IndexingError(f"index arrays of shapes {shapes} do not broadcast") from None
    flat = np.zeros(arrays[0].shape, dtype=np.int64)
    for a, arr in zip(adv, arrays):
        flat = flat * x.shape[a] + arr
    rest = [a for a in range(x.ndim) if a not in adv]
    moved = permute(x, adv + rest)
    merged = reshape(moved, (math.prod(x.shape[a] for a in adv),) + tuple(x.shape[a] for a in rest))
    out = take_flat(merged, 0, index_tensor(flat, x._backend))
    adjacent = adv == list(range(adv[0], adv[-1] + 1))
    if adjacent and adv[0] > 0:
        nb = flat.ndim
        order = list(range(nb, nb + adv[0])) + list(range(nb)) + list(range(nb + adv[0], out.ndim))
        out = permute(out, order)
    return out


def rows_along(x, axis):
    """x (at least 1-d) as 2-d rows along ``axis``, and the function that puts (rows, m)
    results back in x's layout (the axis then of length m; with keepdims=False, an axis
    of 1 goes)."""
    rest = tuple(a for a in range(x.ndim) if a != axis)
    moved = tuple(x.shape[a] for a in rest)
    order = rest + (axis,)
    rows = reshape(permute(x, order), (math.prod(moved), x.shape[axis]))
    back = tuple(int(i) for i in np.argsort(order))

    def undo(t, keepdims=True):
        t = permute(reshape(t, moved + (t.shape[-1],)), back)
        return t if keepdims else reshape(t, x.shape[:axis] + x.shape[axis + 1:])
    return rows, undo


def take_rows(rows, order):
    """rows[r, order[r, j]] for each r, j, the order in range: a gather from the flattened
    rows, so that the gradient scatters back."""
    r, n = rows.shape
    starts = index_tensor(np.arange(r).reshape(r, 1) * n, rows._backend)
    return take_flat(reshape(rows, (-1,)), 0, order + starts)


def take_along_axis(x, indices, axis=-1):
    """x's values at ``indices`` along ``axis``, as numpy.take_along_axis and
    torch.take_along_dim: ``indices`` has as many axes as x, the other axes broadcast,
    negative indices count from the end. Differentiable in x (the gradient scatters
    back). The indices are checked on the host, except while ember.compile traces
    (as x[index] is)."""
    return _take_along("take_along_axis", x, indices, axis, negative=True)


def _take_along(op, x, indices, axis, negative):
    """take_along_axis for ``op``; without ``negative`` (torch.gather's rule) a negative
    index is refused in the same host check as one past the axis."""
    from ..compile import is_compiling
    from ..shapes import broadcast_shapes, normalize_axis
    from .elementwise import cast, where
    from .movement import broadcast_to
    x = as_tensor(x, op)
    indices = as_tensor(indices, op, like=x)
    same_backend(op, (x, indices))
    if indices.dtype.is_inexact or indices.dtype.name == "bool":
        raise IndexingError(f"{op}: indices must be integers, got {indices.dtype.name}")
    if indices.ndim != x.ndim or not x.ndim:
        raise IndexingError(f"{op}: indices have {indices.ndim} axes and x has "
                            f"{x.ndim}; give them as many (at least 1), e.g. with unsqueeze")
    axis = normalize_axis(op, axis, x.ndim, x.shape)
    n = x.shape[axis]
    one = lambda shape: shape[:axis] + (1,) + shape[axis + 1:]      # noqa: E731
    shape = broadcast_shapes(op, one(x.shape), one(indices.shape))
    if not is_compiling() and indices.size:
        host = indices.numpy()
        if not negative and host.min() < 0:
            raise IndexingError(f"{op}: index {host.min()} is negative; {op} takes indices "
                                f"from 0 to {n - 1}")
        if host.min() < -n or host.max() >= n:
            bad = host[(host < -n) | (host >= n)].flat[0]
            raise IndexingError(f"{op}: index {bad} is out of bounds for axis "
                                f"{axis} with size {n}")
    index = cast(indices, x._backend.default_int)
    index = where(index < 0, index + n, index)
    rows, _ = rows_along(broadcast_to(x, shape[:axis] + (n,) + shape[axis + 1:]), axis)
    order, undo = rows_along(broadcast_to(index, shape[:axis] + (indices.shape[axis],)
                                          + shape[axis + 1:]), axis)
    return undo(take_rows(rows, order))


def gather(x, dim, index):
    """x's values at ``index`` along ``dim``, as torch.gather: ``index`` has as many axes
    as x and no more than x's extent along the others (x is read at the same positions
    there: out[i][j] = x[i][index[i][j]] for dim 1); the result has index's shape. A
    negative index or one past the axis is an IndexingError, as PyTorch's."""
    from ..shapes import normalize_axis
    x = as_tensor(x, "gather")
    index = as_tensor(index, "gather", like=x)
    if index.ndim != x.ndim:
        raise IndexingError(f"gather: index has {index.ndim} axes and x has {x.ndim}; give "
                            f"them as many, e.g. with unsqueeze")
    dim = normalize_axis("gather", dim, x.ndim, x.shape)
    for a, (n, m) in enumerate(zip(x.shape, index.shape)):
        if a != dim and m > n:
            raise IndexingError(f"gather: index of shape {index.shape} is larger than x of "
                                f"shape {x.shape} along axis {a}; it may only be as large")
    stops = [n if a == dim else m for a, (n, m) in enumerate(zip(x.shape, index.shape))]
    if tuple(stops) != x.shape:
        x = slice_axes(x, [0] * x.ndim, stops, (1,) * x.ndim)
    return _take_along("gather", x, index, dim, negative=False)


def nonzero(x, as_tuple=False):
    """The indices of x's nonzero elements in row-major order, as torch.nonzero: an (n,
    ndim) tensor, or with ``as_tuple`` one index tensor per axis (numpy.nonzero's). Read on
    the host: how many there are depends on the values."""
    from ..creation import tensor
    x = as_tensor(x, "nonzero")
    found = np.nonzero(x.numpy().reshape(x.shape or (1,)))   # a 0-d x as 1-d, as PyTorch
    idt = x._backend.default_int
    if as_tuple:
        return tuple(tensor(i, dtype=idt, backend=x._backend) for i in found)
    count = len(found[0])
    return tensor(np.stack(found, axis=-1)[:, :x.ndim].reshape(count, x.ndim), dtype=idt,
                  backend=x._backend)


def masked_fill(x, mask, value):
    """x with ``value`` where ``mask`` (bool, broadcastable to x) is true, as
    torch.Tensor.masked_fill: the result has x's shape and dtype (a value past an integer
    dtype's range is a RangeError, not a wraparound); differentiable in x (and in a tensor
    value)."""
    from ..errors import DTypeError, ShapeError
    from ..shapes import broadcast_shapes
    from .elementwise import cast, where
    x = as_tensor(x, "masked_fill")
    mask = as_tensor(mask, "masked_fill", like=x)
    if mask.dtype.name != "bool":
        raise DTypeError(f"masked_fill: the mask must be a bool tensor, got {mask.dtype.name}; "
                         f"compare first, as in x.masked_fill(x < 0, 0)")
    if broadcast_shapes("masked_fill", mask.shape, x.shape) != x.shape:
        raise ShapeError(f"masked_fill: a mask of shape {mask.shape} does not broadcast to "
                         f"x's shape {x.shape}")
    if isinstance(value, Tensor):
        if value.ndim:
            raise ShapeError(f"masked_fill: value must be a number or a 0-d tensor, got shape "
                             f"{value.shape}")
        value = cast(value, x.dtype)
    else:
        from ..creation import check_fits
        check_fits("masked_fill", value, x.dtype)
        value = as_tensor(value, "masked_fill", like=x)
        if value.dtype is not x.dtype:
            value = cast(value, x.dtype)
    return where(mask, value, x)


def setitem(x, key, value):
    """A copy of ``x`` with ``x[key]`` replaced by ``value`` (NumPy semantics: the value
    broadcasts and is cast to x's dtype; of repeated positions the last write wins).
    Differentiable in x and value: a gather and a where."""
    from .elementwise import cast
    from .movement import broadcast_to
    target = getitem(x, key).shape                     # the key's checks and errors
    keys = key if isinstance(key, tuple) else (key,)
    host_key = tuple(_host(k) if isinstance(k, (Tensor, list)) else k for k in keys)
    positions = np.arange(x.size).reshape(x.shape)[host_key].reshape(-1)
    if positions.size == 0:
        return x
    v = as_tensor(value, "setitem", like=x)
    if v._backend is not x._backend:
        same_backend("setitem", (x, v))
    v = reshape(broadcast_to(cast(v, x.dtype) if v.dtype is not x.dtype else v, target), (-1,))
    return written(x, positions, v)


def written(x, positions, values):
    """x with its flat ``positions`` (host integers) replaced by ``values`` (a flat tensor,
    one per position); of repeated positions the last write wins. Differentiable in x
    and values: a gather and a where."""
    from .elementwise import cast, where
    source = np.full(x.size, -1, dtype=np.int64)
    source[positions] = np.arange(positions.size)      # NumPy: the last write wins
    hit = source >= 0
    picked = take_flat(values, 0, index_tensor(np.where(hit, source, 0), x.backend))
    mask = cast(index_tensor(hit.reshape(x.shape), x.backend), "bool")
    return where(mask, reshape(picked, x.shape), x)


def index_select(x, dim, index):
    """x's slices at the 1-D ``index`` along ``dim`` (torch.index_select): x[..., index,
    ...]; differentiable in x."""
    from ..shapes import normalize_axis
    x = as_tensor(x, "index_select")
    index = as_tensor(index, "index_select", like=x)
    if index.ndim > 1:
        raise IndexingError(f"index_select: index must be 0-D or 1-D, got shape {index.shape}")
    dim = normalize_axis("index_select", dim, x.ndim, x.shape)
    return getitem(x, (slice(None),) * dim + (index.reshape(-1),))


def masked_select(x, mask):
    """x's elements where ``mask`` (bool) is true, x and mask broadcast together, as a 1-D
    tensor in row-major order (torch.masked_select); its length is the data's."""
    from ..shapes import broadcast_shapes
    from .movement import broadcast_to
    x = as_tensor(x, "masked_select")
    mask = as_tensor(mask, "masked_select", like=x)
    shape = broadcast_shapes("masked_select", x.shape, mask.shape)
    return getitem(broadcast_to(x, shape), broadcast_to(mask, shape))



def _flat_indices(op, indices, backend, size):
    """Integer ``indices`` (a tensor or host integers) checked to lie in [-size, size)
    (eagerly: a compiled replay reads nothing back), negative ones counted from the end."""
    from ..compile import is_compiling
    from .elementwise import where
    idx = indices if isinstance(indices, Tensor) else index_tensor(indices, backend)
    if idx.dtype.is_float or idx.dtype.is_bool:
        raise IndexingError(f"{op}: indices must be integers, got {idx.dtype.name}")
    if idx.size and not is_compiling():
        lo, hi = int(idx.min().item()), int(idx.max().item())
        if lo < -size or hi >= size:
            raise IndexingError(f"{op}: index {lo if lo < -size else hi} is out of range for "
                                f"{size} elements")
    return where(idx < 0, idx + size, idx)


@refuses_none
def take(x, index):
    """x's elements at ``index`` into its flattened values (torch.take): the result has
    the index's shape; negative indices count from the end."""
    x = as_tensor(x, "take")
    idx = _flat_indices("take", index, x._backend, x.size)
    flat = reshape(x, (-1,))
    return reshape(take_flat(flat, 0, reshape(idx, (-1,))), idx.shape)


@refuses_none
def unravel_index(indices, shape):
    """The coordinates of flat ``indices`` into an array of ``shape``, one tensor per axis
    (torch.unravel_index); out of range is an IndexingError."""
    from ..config import get_backend
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    backend = indices._backend if isinstance(indices, Tensor) else get_backend(None)
    idx = _flat_indices("unravel_index", indices, backend, math.prod(shape))
    out = []
    for extent in reversed(shape):
        out.append(idx % extent)
        idx = idx // extent
    return tuple(reversed(out))
