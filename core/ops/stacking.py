"""PyTorch's and NumPy's ways of joining and cutting tensors along an axis that other
ops already give (concatenate, slicing, padding): hstack, vstack, dstack, column_stack,
tensor_split and its hsplit/vsplit/dsplit, block_diag, cartesian_prod and diag_embed.
Composed of differentiable ops, so they run and differentiate on every backend."""

import numbers

from ..errors import ShapeError
from ..shapes import normalize_axis
from ._util import as_tensor
from .movement import (atleast_1d, atleast_2d, atleast_3d, concatenate, meshgrid, movedim, pad,
                       reshape, stack, unsqueeze)


def _tensors(op, tensors):
    items = tensors[0] if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) \
        else tensors
    if not items:
        raise ValueError(f"{op}: needs at least one tensor")
    return [as_tensor(t, op) for t in items]


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


def hsplit(x, sections):
    """tensor_split along axis 1 (axis 0 of a 1-D tensor); an int must divide it."""
    x = as_tensor(x, "hsplit")
    return _split_along("hsplit", x, sections, 1 if x.ndim > 1 else 0, 1)


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
