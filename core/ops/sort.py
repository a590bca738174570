"""Sorting along an axis (sort, argsort, topk, kthvalue), as PyTorch's with stable=True:
ties keep their order, -0 equals +0, NaN comes after every number (first when
descending), an empty axis gives empty results.

The order comes from a backend's fast_argsort where it has one (NumPy: its stable
sort), else from a bitonic sorting network composed of flips, comparisons and wheres on
whole rows: ceil(log2 n) (ceil(log2 n) + 1) / 2 rounds of compare-and-swap,
which a compiled step fuses. Each element carries its index, which breaks ties, so the
network's order is the stable one. The values are gathered from x by that order, so
their gradient goes back to the positions they came from."""

from collections import namedtuple

import numpy as np

from .. import dtypes as dt
from ..errors import RangeError
from ..shapes import normalize_axis
from ._util import as_tensor, index_tensor, primitive
from .elementwise import (cast, check_ordered, logical_and, logical_not, logical_or,
                          logical_xor, where)
from .indexing import rows_along, take_rows
from .movement import flip, pad, reshape

#: what sort, topk and kthvalue return, as torch.return_types do: a tuple that also
#: names its parts
Ranked = namedtuple("Ranked", ("values", "indices"))


def sort(x, axis=-1, descending=False, stable=True):
    """(values, indices) of x sorted along ``axis``, as torch.sort(stable=True); the
    sort is always stable (``stable`` is accepted for PyTorch's signature)."""
    x, rows, undo = _rows("sort", x, axis)
    order = _order(rows, descending)
    return Ranked(undo(take_rows(rows, order)), undo(order))


def argsort(x, axis=-1, descending=False, stable=True):
    """The indices that sort x along ``axis`` (stable), as torch.argsort(stable=True)."""
    x, rows, undo = _rows("argsort", x, axis)
    return undo(_order(rows, descending))


def topk(x, k, axis=-1, largest=True, sorted=True):  # noqa: A002  (PyTorch's name)
    """(values, indices) of the ``k`` largest (``largest=False``: smallest) along
    ``axis``, in order, ties in index order, NaN counted largest, as torch.topk."""
    x, rows, undo = _rows("topk", x, axis)
    n = rows.shape[-1]
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or not 0 <= k <= n:
        raise RangeError(f"topk: k must be an int from 0 to the axis' length {n}, got {k!r}")
    order = _order(rows, largest)[:, :int(k)]
    return Ranked(undo(take_rows(rows, order)), undo(order))


def kthvalue(x, k, axis=-1, keepdims=False):
    """(values, indices) of the ``k``-th smallest (from 1) along ``axis``, NaN counted
    largest, as torch.kthvalue."""
    x, rows, undo = _rows("kthvalue", x, axis)
    n = rows.shape[-1]
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or not 1 <= k <= n:
        raise RangeError(f"kthvalue: k must be an int from 1 to the axis' length {n}, got {k!r}")
    order = _order(rows, False)[:, int(k) - 1:int(k)]
    return Ranked(undo(take_rows(rows, order), keepdims), undo(order, keepdims))


def _rows(name, x, axis):
    """x, x as 2-d rows along ``axis``, and the function that puts (rows, m) results back
    in x's layout (a 0-d x is one row of one)."""
    x = as_tensor(x, name)
    check_ordered(name, x)
    axis = normalize_axis(name, axis, max(x.ndim, 1), x.shape or (1,))
    rows, undo = rows_along(reshape(x, x.shape or (1,)), axis)
    if x.ndim:
        return x, rows, undo
    return x, rows, lambda t, keepdims=True: reshape(undo(t, keepdims), ())


def _order(rows, descending):
    """The stable order of each row of 2-d ``rows``, in the backend's index dtype."""
    keys = rows.detach()
    b = keys._backend
    if keys.dtype is dt.bool_:
        keys = cast(keys, b.default_int)
    if keys.shape[-1] <= 1 or keys.shape[0] == 0:
        return index_tensor(np.zeros(keys.shape, dtype=np.int64), b)
    if b.fast_argsort is not None:
        return primitive("fast_argsort", (keys,), keys.shape, b.default_int, bool(descending))
    return _bitonic(keys, bool(descending))


def _bitonic(keys, descending):
    """A bitonic network on (key, tie) pairs, the rows padded to a power of two m. The
    tie-breaker is the index, plus m for what must come after the other equal keys:
    ascending, NaN, which becomes +inf (after +inf itself); descending, every number
    but NaN (NaN, made +inf, comes first). Padding comes last either way."""
    r, n = keys.shape
    m = 1 << (n - 1).bit_length()
    b = keys._backend
    index = np.broadcast_to(np.arange(m), (r, m))
    if keys.dtype.is_inexact:
        keys = pad(keys, ((0, 0), (0, m - n)), -np.inf if descending else np.nan)
        nan = keys != keys
        keys = where(nan, np.inf, keys)
        late = logical_not(nan) if descending else nan
        ties = where(late, index_tensor(index + m, b), index_tensor(index, b))
    else:
        info = np.iinfo(keys.dtype.np)
        keys = pad(keys, ((0, 0), (0, m - n)), int(info.min if descending else info.max))
        ties = index_tensor(index, b)
    from ..creation import tensor
    upper = tensor(np.array([False, True]).reshape(1, 1, 2, 1), backend=b)
    k = 1
    while k < m:
        keys, ties = _exchange(keys, ties, k, descending, upper, mirror=True)
        j = k // 2
        while j:
            keys, ties = _exchange(keys, ties, j, descending, upper, mirror=False)
            j //= 2
        k *= 2
    ties = ties[:, :n]
    return where(ties >= m, ties - m, ties)


def _exchange(keys, ties, j, descending, upper, mirror):
    """One round: in each block of 2j, position t pairs with t + j (``mirror``: with
    2j - 1 - t, merging two sorted halves); the pair's first takes the one that comes
    first, its second the other."""
    r, m = keys.shape
    shape = (r, m // (2 * j), 2, j)
    keys, ties = reshape(keys, shape), reshape(ties, shape)
    axes = (2, 3) if mirror else (2,)
    other_keys, other_ties = flip(keys, axes), flip(ties, axes)
    first = (keys > other_keys) if descending else (keys < other_keys)
    first = logical_or(first, logical_and(keys == other_keys, ties < other_ties))
    keep = logical_xor(first, upper)
    return (reshape(where(keep, keys, other_keys), (r, m)),
            reshape(where(keep, ties, other_ties), (r, m)))
