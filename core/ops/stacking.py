"""PyTorch's and NumPy's ways of joining, cutting, broadcasting and embedding tensors
that other ops already give (concatenate, slicing, padding, where): ravel,
broadcast_shapes, broadcast_tensors, hstack, vstack, dstack,
column_stack, tensor_split and its hsplit/vsplit/dsplit, select, t, block_diag,
cartesian_prod, diag_embed, and select_scatter, slice_scatter and diagonal_scatter.
Composed of differentiable ops, so they run and differentiate on every backend."""

import numbers

from ..errors import ShapeError, refuses_none
from ..shapes import broadcast_shapes as _common_shape, normalize_axis
from ._util import as_tensor
from .movement import (atleast_1d, atleast_2d, atleast_3d, broadcast_to, concatenate, diagonal,
                       meshgrid, movedim, pad, reshape, squeeze, stack, transpose, unsqueeze)


def _tensors(op, tensors):
    items = tensors[0] if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) \
        else tensors
    if not items:
        raise ValueError(f"{op}: needs at least one tensor")
    return [as_tensor(t, op) for t in items]


def ravel(x):
    """x as one axis (torch.ravel)."""
    return reshape(as_tensor(x, "ravel"), (-1,))


def broadcast_shapes(*shapes):
    """The shape the given shapes broadcast to (torch.broadcast_shapes), or a ShapeError
    naming them."""
    return _common_shape("broadcast_shapes", *((s,) if isinstance(s, int) else tuple(s)
                                               for s in shapes))


def broadcast_tensors(*tensors):
    """The tensors broadcast to their common shape (torch.broadcast_tensors)."""
    items = _tensors("broadcast_tensors", tensors)
    shape = broadcast_shapes(*(t.shape for t in items))
    return tuple(broadcast_to(t, shape) for t in items)


def hstack(tensors):
    """Joined along axis 1 (axis 0 for 1-D tensors), 0-d ones taken as 1-D (torch.hstack)."""
    items = [atleast_1d(t) for t in _tensors("hstack", (tensors,))]
    return concatenate(items, 0 if all(t.ndim == 1 for t in items) else 1)


def vstack(tensors):
    """Joined along axis 0, 0-d and 1-D ones taken as rows (torch.vstack, row_stack)."""
    return concatenate([atleast_2d(t) for t in _tensors("vstack", (tensors,))], 0)


def dstack(tensors):
    """Joined along axis 2, each taken as at least 3-D (torch.dstack)."""
    return concatenate([atleast_3d(t) for t in _tensors("dstack", (tensors,))], 2)


def column_stack(tensors):
    """0-d and 1-D tensors as columns, the rest as they are, joined along axis 1
    (torch.column_stack)."""
    items = [reshape(t, (-1, 1)) if t.ndim < 2 else t
             for t in _tensors("column_stack", (tensors,))]
    return concatenate(items, 1)


@refuses_none
def tensor_split(x, indices_or_sections, dim=0):
    """Views of x cut along ``dim``: an int n gives n parts whose lengths differ by at most
    one (the longer ones first), a list of indices cuts before each (torch.tensor_split;
    out-of-range indices clamp, as slicing does)."""
    x = as_tensor(x, "tensor_split")
    axis = normalize_axis("tensor_split", dim, x.ndim, x.shape)
    length = x.shape[axis]
    if isinstance(indices_or_sections, numbers.Integral):
        n = int(indices_or_sections)
        if n < 1:
            raise ValueError(f"tensor_split: sections must be at least 1, got {n}")
        small, extra = divmod(length, n)
        bounds, start = [], 0
        for i in range(n - 1):
            start += small + (i < extra)
            bounds.append(start)
    else:
        bounds = [int(i) for i in indices_or_sections]
    edges = [0] + [max(0, min(length, b if b >= 0 else b + length)) for b in bounds] + [length]
    index = [slice(None)] * x.ndim
    parts = []
    for a, b in zip(edges, edges[1:]):
        index[axis] = slice(a, max(a, b))
        parts.append(x[tuple(index)])
    return tuple(parts)


def _split_along(op, x, sections, dim, least):
    x = as_tensor(x, op)
    if x.ndim < least:
        raise ShapeError(f"{op}: needs a tensor of at least {least} axes, got shape {x.shape}")
    if isinstance(sections, numbers.Integral) and x.shape[dim] % sections:
        raise ShapeError(f"{op}: axis {dim} of {x.shape} ({x.shape[dim]}) does not divide into "
                         f"{sections} equal parts; give a list of indices to cut at")
    return tensor_split(x, sections, dim)


@refuses_none
def hsplit(x, sections):
    """tensor_split along axis 1 (axis 0 of a 1-D tensor); an int must divide it."""
    x = as_tensor(x, "hsplit")
    return _split_along("hsplit", x, sections, 1 if x.ndim > 1 else 0, 1)


@refuses_none
def vsplit(x, sections):
    """tensor_split along axis 0 of a tensor of at least 2 axes."""
    return _split_along("vsplit", x, sections, 0, 2)


def dsplit(x, sections):
    """tensor_split along axis 2 of a tensor of at least 3 axes."""
    return _split_along("dsplit", x, sections, 2, 3)


def block_diag(*tensors):
    """The tensors (0-d as 1 x 1, 1-D as one row) down the diagonal of one matrix, zeros
    elsewhere (torch.block_diag)."""
    items = [reshape(t, (1, -1)) if t.ndim < 2 else t for t in _tensors("block_diag", tensors)]
    if any(t.ndim != 2 for t in items):
        raise ShapeError(f"block_diag: takes tensors of at most 2 axes, got shapes "
                         f"{[t.shape for t in items]}")
    width = sum(t.shape[1] for t in items)
    rows, left = [], 0
    for t in items:
        rows.append(pad(t, ((0, 0), (left, width - left - t.shape[1]))))
        left += t.shape[1]
    return concatenate(rows, 0)


def cartesian_prod(*tensors):
    """Every combination of the 1-D tensors' elements, one row each, the last varying
    fastest (torch.cartesian_prod); one tensor is returned as it is."""
    items = _tensors("cartesian_prod", tensors)
    if any(t.ndim != 1 for t in items):
        raise ShapeError(f"cartesian_prod: takes 1-D tensors, got shapes "
                         f"{[t.shape for t in items]}")
    if len(items) == 1:
        return items[0]
    return stack([reshape(g, (-1,)) for g in meshgrid(*items, indexing="ij")], 1)


def diag_embed(x, offset=0, dim1=-2, dim2=-1):
    """Matrices with x's last axis on their ``offset``-th diagonal, zeros elsewhere, the
    two new axes at ``dim1`` and ``dim2`` (torch.diag_embed)."""
    x = as_tensor(x, "diag_embed")
    if x.ndim < 1:
        raise ShapeError("diag_embed: x needs at least one axis")
    n = x.shape[-1]
    m = n + abs(offset)
    from ..creation import eye
    rows = unsqueeze(x, -1) * eye(n, m, dtype=x.dtype, backend=x._backend) if offset <= 0 else \
        unsqueeze(x, -1) * pad(eye(n, n, dtype=x.dtype, backend=x._backend), ((0, 0), (offset, 0)))
    lead = ((0, 0),) * (x.ndim - 1)
    out = pad(rows, lead + (((-offset, 0) if offset < 0 else (0, offset)), (0, 0)))
    ndim = out.ndim
    a, b = (normalize_axis("diag_embed", d, ndim, out.shape) for d in (dim1, dim2))
    if a == b:
        raise ShapeError(f"diag_embed: dim1 and dim2 must differ, got {dim1} and {dim2}")
    return movedim(out, (ndim - 2, ndim - 1), (a, b))


def select(x, dim, index):
    """x[..., index, ...] along ``dim``, that axis removed (torch.select); a negative index
    counts from the end."""
    x = as_tensor(x, "select")
    axis = normalize_axis("select", dim, x.ndim, x.shape)
    length = x.shape[axis]
    if not -length <= index < length:
        from ..errors import IndexingError
        raise IndexingError(f"select: index {index} is out of range for axis {dim} of size "
                            f"{length}")
    key = [slice(None)] * x.ndim
    key[axis] = slice(index % length, index % length + 1)
    return squeeze(x[tuple(key)], axis)


def t(x):
    """A matrix transposed; 0-d and 1-D tensors as they are (torch.t)."""
    x = as_tensor(x, "t")
    if x.ndim > 2:
        raise ShapeError(f"t: takes a tensor of at most 2 axes, got shape {x.shape}; use "
                         f"transpose(x, a, b) or x.mT")
    return transpose(x, 0, 1) if x.ndim == 2 else x


def _embedded(op, x, src, axis, start, stop, step):
    """x with src written over x[start:stop:step] along ``axis`` (src of that slice's
    shape): where over a mask, src spread to its positions by padding."""
    from ..creation import arange
    from .elementwise import logical_and, where
    length = x.shape[axis]
    positions = range(length)[slice(start, stop, step)]
    want = x.shape[:axis] + (len(positions),) + x.shape[axis + 1:]
    src = as_tensor(src, op, like=x)
    if src.shape != want:
        raise ShapeError(f"{op}: src must have the slice's shape {want}, got {src.shape}")
    if not len(positions):
        return x
    first, step_ = positions[0], positions.step
    spread = unsqueeze(src, axis + 1)                   # each position, then step - 1 gaps
    spread = pad(spread, ((0, 0),) * (axis + 1) + ((0, step_ - 1),) +
                 ((0, 0),) * (x.ndim - axis - 1))
    spread = reshape(spread, x.shape[:axis] + (len(positions) * step_,) + x.shape[axis + 1:])
    span = (len(positions) - 1) * step_ + 1
    key = [slice(None)] * x.ndim
    key[axis] = slice(0, span)
    spread = pad(spread[tuple(key)], ((0, 0),) * axis + ((first, length - first - span),) +
                 ((0, 0),) * (x.ndim - axis - 1))
    at = arange(length, backend=x._backend)
    hit = logical_and(logical_and(at >= first, at < first + span), (at - first) % step_ == 0)
    mask = reshape(hit, (length,) + (1,) * (x.ndim - axis - 1))
    return where(mask, spread.to(x.dtype), x)


def select_scatter(x, src, dim, index):
    """x with src written over select(x, dim, index) (torch.select_scatter)."""
    x = as_tensor(x, "select_scatter")
    axis = normalize_axis("select_scatter", dim, x.ndim, x.shape)
    i = index % x.shape[axis] if x.shape[axis] else index
    return _embedded("select_scatter", x, unsqueeze(as_tensor(src, "select_scatter", like=x),
                                                     axis), axis, i, i + 1, 1)


def slice_scatter(x, src, dim=0, start=None, end=None, step=1):
    """x with src written over x[start:end:step] along ``dim`` (torch.slice_scatter)."""
    x = as_tensor(x, "slice_scatter")
    axis = normalize_axis("slice_scatter", dim, x.ndim, x.shape)
    if step < 1:
        raise ValueError(f"slice_scatter: step must be at least 1, got {step}")
    return _embedded("slice_scatter", x, src, axis, start, end, step)


def diagonal_scatter(x, src, offset=0, dim1=0, dim2=1):
    """x with src written over diagonal(x, offset, dim1, dim2) (torch.diagonal_scatter)."""
    x = as_tensor(x, "diagonal_scatter")
    a, b = (normalize_axis("diagonal_scatter", d, x.ndim, x.shape) for d in (dim1, dim2))
    want = diagonal(x, offset, a, b).shape
    src = as_tensor(src, "diagonal_scatter", like=x)
    if src.shape != want:
        raise ShapeError(f"diagonal_scatter: src must have the diagonal's shape {want}, got "
                         f"{src.shape}")
    moved = movedim(x, (a, b), (-2, -1))
    rows, cols = moved.shape[-2:]
    from ..creation import eye
    mask = eye(rows, cols + max(0, -offset), dtype=x.dtype, backend=x._backend)
    mask = mask[:, -offset:] if offset < 0 else pad(mask, ((0, 0), (offset, 0)))[:, :cols]
    placed = diag_embed(src, offset)
    placed = pad(placed, ((0, 0),) * (placed.ndim - 2) +
                 ((0, max(0, rows - placed.shape[-2])), (0, max(0, cols - placed.shape[-1]))))
    placed = placed[..., :rows, :cols]
    from .elementwise import where
    out = where(broadcast_to(mask, moved.shape) != 0, placed.to(x.dtype), moved)
    return movedim(out, (-2, -1), (a, b))
