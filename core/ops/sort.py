"""Sorting and searching along an axis (sort, argsort, topk, kthvalue, searchsorted), as
PyTorch's with stable=True: ties keep their order, -0 equals +0, NaN comes after every
number (first when descending), an empty axis gives empty results.

The order comes from a backend's fast_argsort where it has one (NumPy: its stable
sort), else from a bitonic sorting network composed of flips, comparisons and wheres on
whole rows: ceil(log2 n) (ceil(log2 n) + 1) / 2 rounds of compare-and-swap,
which a compiled step fuses. Each element carries its index, which breaks ties, so the
network's order is the stable one. The values are gathered from x by that order, so
their gradient goes back to the positions they came from."""

import math
from collections import namedtuple

import numpy as np

from .. import dtypes as dt
from ..errors import DTypeError, RangeError, ShapeError
from ..shapes import normalize_axis
from ._util import as_tensor, const, index_tensor, primitive
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
    order = _order(rows, largest, int(k))
    return Ranked(undo(take_rows(rows, order)), undo(order))


def kthvalue(x, k, axis=-1, keepdims=False):
    """(values, indices) of the ``k``-th smallest (from 1) along ``axis``, NaN counted
    largest, as torch.kthvalue."""
    x, rows, undo = _rows("kthvalue", x, axis)
    n = rows.shape[-1]
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or not 1 <= k <= n:
        raise RangeError(f"kthvalue: k must be an int from 1 to the axis' length {n}, got {k!r}")
    order = _order(rows, False, int(k))[:, int(k) - 1:]
    return Ranked(undo(take_rows(rows, order), keepdims), undo(order, keepdims))


def searchsorted(sorted_sequence, values, side="left", sorter=None):
    """Where each value would go in ``sorted_sequence`` to keep it sorted (along its last
    axis; an N-d sequence is one row per leading index, as values' leading axes), as
    numpy.searchsorted and torch.searchsorted: ``side`` left gives the first such place,
    right the last; NaN sorts after every number. ``sorter`` (indices that sort the
    sequence) reads it through them. A binary search of ceil(log2 n) + 1 rounds of
    gathers and comparisons on the backend, in the backend's index dtype."""
    if side not in ("left", "right"):
        raise ValueError(f"searchsorted: side must be 'left' or 'right', got {side!r}")
    seq = as_tensor(sorted_sequence, "searchsorted")
    values = as_tensor(values, "searchsorted", like=seq)
    check_ordered("searchsorted", seq)
    if seq.ndim == 0:
        raise ShapeError("searchsorted: the sorted sequence must have at least one axis")
    if seq.ndim > 1 and seq.shape[:-1] != values.shape[:-1]:
        raise ShapeError(f"searchsorted: a sequence of shape {seq.shape} searches values whose "
                         f"leading axes are its own, {seq.shape[:-1]}; got values {values.shape}")
    if sorter is not None:
        sorter = as_tensor(sorter, "searchsorted", like=seq)
        seq = take_rows(seq.reshape(-1, seq.shape[-1]), sorter.reshape(-1, seq.shape[-1])
                        .to(seq._backend.default_int)).reshape(seq.shape)
    if values.dtype is not seq.dtype:
        common = dt.promote(seq.dtype, values.dtype)
        seq, values = cast(seq, common), cast(values, common)
    n, b = seq.shape[-1], seq._backend
    if n == 0 or values.size == 0:
        return index_tensor(np.zeros(values.shape, dtype=np.int64), b)
    rows = seq.reshape(-1, n)
    flat = values.reshape(rows.shape[0] if seq.ndim > 1 else 1, -1).detach()
    pos = index_tensor(np.zeros(flat.shape, dtype=np.int64), b)
    step = 1 << max(n.bit_length() - 1, 0)
    while step:
        candidate = pos + step
        probe = take_rows(rows.detach(), where(candidate <= n, candidate - 1, 0))
        if side == "left":      # probe < value, NaN last
            before = logical_or(probe < flat, logical_and(flat != flat, probe == probe))
        else:                   # probe <= value, NaN last
            before = logical_or(probe <= flat, flat != flat)
        pos = where(logical_and(candidate <= n, before), candidate, pos)
        step //= 2
    return pos.reshape(values.shape)


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


def _order(rows, descending, k=None):
    """The stable order of each row of 2-d ``rows``, in the backend's index dtype: its
    first ``k`` positions (all where None)."""
    keys = rows.detach()
    b = keys._backend
    if keys.dtype is dt.bool_:
        keys = cast(keys, b.default_int)
    n = keys.shape[-1]
    k = n if k is None else k
    if n <= 1 or keys.shape[0] == 0 or k == 0:
        return index_tensor(np.zeros(keys.shape[:-1] + (min(k, n),), dtype=np.int64), b)
    if b.fast_argsort is not None:
        order = primitive("fast_argsort", (keys,), keys.shape, b.default_int, bool(descending))
    else:
        order = _bitonic(keys, bool(descending), k)
    return order if order.shape[-1] == k else order[:, :k]


def _bitonic(keys, descending, k):
    """The first ``k`` of each row's order by a bitonic network on (key, tie) pairs, the
    rows padded to a power of two m. The tie-breaker is the index, plus m for what must
    come after the other equal keys: ascending, NaN, which becomes +inf (after +inf
    itself); descending, every number but NaN (NaN, made +inf, comes first). Padding
    comes last either way. For a k below m / 2, blocks of the power of two K >= k are
    sorted, then pairs of blocks pruned to their first K and merged, halving the rows
    each time (a top-k's network: log2(m / K) merges of log2(K) + 1 rounds)."""
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
    block = min(m, 1 << max(k - 1, 0).bit_length())
    size = 1
    while size < block:             # sort each block of ``block``
        keys, ties = _exchange(keys, ties, size, descending, upper, mirror=True)
        keys, ties = _merge(keys, ties, size // 2, descending, upper)
        size *= 2
    while keys.shape[1] > block:    # keep the first ``block`` of each pair of blocks, sorted
        keys, ties = _prune(keys, ties, block, descending)
        keys, ties = _merge(keys, ties, block // 2, descending, upper)
    ties = ties[:, :min(k, n)]
    return where(ties >= m, ties - m, ties)


def _merge(keys, ties, j, descending, upper):
    """Rounds j, j / 2, ..., 1 of a bitonic merge (sorting blocks of 2j that hold a
    bitonic sequence)."""
    while j:
        keys, ties = _exchange(keys, ties, j, descending, upper, mirror=False)
        j //= 2
    return keys, ties


def _first(keys, other_keys, ties, other_ties, descending):
    """Whether (key, tie) comes before (other key, other tie)."""
    first = (keys > other_keys) if descending else (keys < other_keys)
    return logical_or(first, logical_and(keys == other_keys, ties < other_ties))


def _exchange(keys, ties, j, descending, upper, mirror):
    """One round: in each block of 2j, position t pairs with t + j (``mirror``: with
    2j - 1 - t, merging two sorted halves); the pair's first takes the one that comes
    first, its second the other."""
    r, m = keys.shape
    shape = (r, m // (2 * j), 2, j)
    keys, ties = reshape(keys, shape), reshape(ties, shape)
    axes = (2, 3) if mirror else (2,)
    other_keys, other_ties = flip(keys, axes), flip(ties, axes)
    keep = logical_xor(_first(keys, other_keys, ties, other_ties, descending), upper)
    return (reshape(where(keep, keys, other_keys), (r, m)),
            reshape(where(keep, ties, other_ties), (r, m)))


def _prune(keys, ties, block, descending):
    """Of each pair of sorted blocks, the ``block`` that come first: position t of the
    first against position block - 1 - t of the second, the earlier kept (a bitonic
    sequence), halving the rows."""
    r, m = keys.shape
    shape = (r, m // (2 * block), 2, block)
    keys, ties = reshape(keys, shape), reshape(ties, shape)
    a_keys, a_ties = keys[:, :, 0], ties[:, :, 0]
    b_keys, b_ties = flip(keys[:, :, 1], (2,)), flip(ties[:, :, 1], (2,))
    keep = _first(a_keys, b_keys, a_ties, b_ties, descending)
    return (reshape(where(keep, a_keys, b_keys), (r, m // 2)),
            reshape(where(keep, a_ties, b_ties), (r, m // 2)))


# -- order statistics under PyTorch's names -----------------------------------------------
def bucketize(input, boundaries, right=False):  # noqa: A002  (PyTorch's names)
    """The index of the bucket of ``boundaries`` (1-D, ascending) each value falls in, as
    torch.bucketize: boundaries[i - 1] < v <= boundaries[i], or with ``right``
    boundaries[i - 1] <= v < boundaries[i] (searchsorted with the arguments swapped)."""
    boundaries = as_tensor(boundaries, "bucketize")
    if boundaries.ndim != 1:
        raise ShapeError(f"bucketize: boundaries must be 1-D, got shape {boundaries.shape}")
    return searchsorted(boundaries, input, "right" if right else "left")


def _nan_aware_pick(x, axis, position):
    """(values, indices) of the ``position``-th smallest along ``axis`` (kept), except
    that a row holding NaN gives its first NaN (stable sort puts NaN last in its order of
    appearance)."""
    from .indexing import take_along_axis
    from .reduce import sum as sum_
    values, order = sort(x, axis)
    n = x.shape[axis]
    nans = sum_(cast(values != values, order.dtype), axis, keepdims=True)
    at = where(nans > 0, n - nans, position)
    return take_along_axis(values, at, axis), take_along_axis(order, at, axis)


def median(x, dim=None, keepdim=False):
    """The lower of the two middle values for an even count (torch.median; NaN if the
    values hold NaN). Without ``dim`` over all elements, a 0-d tensor (NaN for none);
    with it
    (values, indices) along ``dim``, the gradient going to the index."""
    return _median("median", x, dim, keepdim, ignore_nan=False)


def nanmedian(x, dim=None, keepdim=False):
    """median of the values that are not NaN (torch.nanmedian): the lower middle one of
    each row's numbers; NaN (and index 0) for a row of NaN only."""
    return _median("nanmedian", x, dim, keepdim, ignore_nan=True)


def _median(name, x, dim, keepdim, ignore_nan):
    from .indexing import take_along_axis
    from .reduce import sum as sum_
    x = as_tensor(x, name)
    check_ordered(name, x)
    flat = dim is None
    if flat:
        x, dim = reshape(x, (-1,)), 0
    dim = normalize_axis(name, dim, x.ndim, x.shape)
    if x.shape[dim] == 0:
        if flat and x.dtype.is_float:   # as torch.median of no elements (and mean's)
            return const(math.nan, x.dtype, x._backend)
        raise ShapeError(f"{name}: axis {dim} of shape {x.shape} is empty; it has no median")
    if ignore_nan:
        values, order = sort(x, dim)                    # NaN last
        count = sum_(cast(values == values, order.dtype), dim, keepdims=True)
        at = where(count > 0, (count - 1) // 2, 0)
        values, indices = take_along_axis(values, at, dim), take_along_axis(order, at, dim)
    else:
        values, indices = _nan_aware_pick(x, dim, (x.shape[dim] - 1) // 2)
    if flat:
        return reshape(values, ())
    if not keepdim:
        from .movement import squeeze
        values, indices = squeeze(values, dim), squeeze(indices, dim)
    return Ranked(values, indices)


def quantile(x, q, dim=None, keepdim=False, interpolation="linear"):
    """The ``q``-th quantiles (q in [0, 1], a number or a 1-D tensor, whose axis then comes
    first) of x's elements (dim None) or along ``dim``, as torch.quantile: at position
    q (n - 1) of the sorted values, between neighbours by ``interpolation`` (linear,
    lower, higher, nearest with halves to even, midpoint); NaN if the values hold NaN."""
    return _quantile("quantile", x, q, dim, keepdim, interpolation, ignore_nan=False)


def nanquantile(x, q, dim=None, keepdim=False, interpolation="linear"):
    """quantile of the values that are not NaN (torch.nanquantile): each row at position
    q (k - 1) of its k numbers; NaN for a row of NaN only."""
    return _quantile("nanquantile", x, q, dim, keepdim, interpolation, ignore_nan=True)


def _quantile(name, x, q, dim, keepdim, interpolation, ignore_nan):
    """The positions q (k - 1) on the device, k each row's count of values (its numbers
    only where ``ignore_nan``), in x's dtype as PyTorch's."""
    from ..creation import tensor
    from .indexing import take_along_axis
    from .movement import broadcast_to, squeeze, unsqueeze
    from .reduce import sum as sum_
    from .rounding import ceil, floor, round as round_
    kinds = ("linear", "lower", "higher", "nearest", "midpoint")
    if interpolation not in kinds:
        raise ValueError(f"{name}: interpolation must be one of {', '.join(kinds)}, got "
                         f"{interpolation!r}")
    x = as_tensor(x, name)
    if not x.dtype.is_float:
        raise DTypeError(f"{name}: needs a real floating-point tensor, got {x.dtype.name} (as "
                         f"PyTorch); convert it first, e.g. x.to(ember.float32)")
    scalar_q = not hasattr(q, "shape")
    qs = np.atleast_1d(np.asarray(q.numpy() if hasattr(q, "numpy") else q, np.float64))
    if qs.ndim != 1 or ((qs < 0) | (qs > 1) | np.isnan(qs)).any():
        raise ValueError(f"{name}: q must be in [0, 1], a number or 1-D, got {q!r}")
    ndim = x.ndim
    if dim is None:
        x, dim, kept = reshape(x, (-1,)), 0, None
    else:
        dim = kept = normalize_axis(name, dim, x.ndim, x.shape)
    n = x.shape[dim]
    if n == 0:
        raise ShapeError(f"{name}: axis {dim} of shape {x.shape} is empty")
    values, _ = sort(x, dim)                                          # NaN last
    numbers = values == values
    count = sum_(cast(numbers, x.dtype), dim, keepdims=True) if ignore_nan else float(n)
    qt = tensor(qs.reshape((-1,) + (1,) * values.ndim), dtype=x.dtype, backend=x.backend)
    pos = qt * (count - 1.0)                                          # (q, ..., 1, ...)
    lo, hi = floor(pos), ceil(pos)
    frac = pos - lo
    if interpolation == "lower":
        hi, frac = lo, frac * 0
    elif interpolation == "higher":
        lo, frac = hi, frac * 0
    elif interpolation == "nearest":
        lo = hi = round_(pos)
        frac = frac * 0
    elif interpolation == "midpoint":
        frac = where(hi > lo, 0.5, 0.0)
    shape = (len(qs),) + values.shape[:dim] + (1,) + values.shape[dim + 1:]
    moved = broadcast_to(unsqueeze(values, 0), (len(qs),) + values.shape)

    def at(index):                   # a row of NaN only has count 0: its first (a NaN)
        index = cast(where(index < 0, 0.0, index), x.backend.default_int)
        return take_along_axis(moved, broadcast_to(index, shape), dim + 1)
    out = _between(at(lo), at(hi), frac)
    if not ignore_nan:
        out = where(unsqueeze(logical_not(numbers).any(dim, keepdims=True), 0), float("nan"), out)
    out = out if keepdim and kept is not None else squeeze(out, dim + 1)
    if keepdim and kept is None:
        out = reshape(out, (len(qs),) + (1,) * ndim)
    return squeeze(out, 0) if scalar_q else out


def _between(a, b, w):
    """The value at weight w in [0, 1] from a to b (a <= b, neighbours in a sorted row):
    a where w is 0 or a == b and b where w is 1, whatever they are (an infinity: a + (b - a)
    w made inf NaN there); PyTorch's lerp where b - a is finite; a (1 - w) + b w where b - a
    overflows (lerp's gave -inf halfway from -3e38 to 3e38); between an infinity and
    anything else, the infinity, NaN from -inf to inf (lerp gave NaN or the infinity by
    which side of 1/2 w fell)."""
    from .arithmetic import lerp
    from .nonfinite import isfinite
    gap_finite = isfinite(b - a)
    both_finite = logical_and(isfinite(a), isfinite(b))
    limit = where(a == -math.inf, where(b == math.inf, math.nan, a), b)
    inner = where(gap_finite, lerp(a, b, w), where(both_finite, a * (1.0 - w) + b * w, limit))
    return where(logical_or(w == 0, a == b), a, where(w == 1, b, inner))


def mode(x, dim=-1, keepdim=False):
    """(values, indices): the most frequent value along ``dim`` and its last position, as
    torch.mode; among equally frequent values the smallest. Counted by comparing every
    pair along the axis (n^2 comparisons per row)."""
    from .indexing import take_along_axis
    from .reduce import amax, amin
    from .reduce import sum as sum_
    from .movement import squeeze, unsqueeze
    from ..creation import arange
    x = as_tensor(x, "mode")
    check_ordered("mode", x)
    scalar = x.ndim == 0
    if scalar:
        x = reshape(x, (1,))
    dim = normalize_axis("mode", dim, x.ndim, x.shape)
    if x.shape[dim] == 0:
        raise ShapeError(f"mode: axis {dim} of shape {x.shape} is empty; it has no mode")
    a, b = unsqueeze(x, dim + 1), unsqueeze(x, dim)
    counts = sum_(cast(a == b, x.backend.default_int), dim + 1)      # per element
    top = amax(counts, dim, keepdims=True)
    big = np.inf if x.dtype.is_float else np.iinfo(x.dtype.np).max
    with_top = where(counts == top, x, big)
    value = amin(with_top, dim, keepdims=True)
    n = x.shape[dim]
    shape = [1] * x.ndim
    shape[dim] = n
    positions = reshape(arange(n, dtype=x.backend.default_int, backend=x.backend), shape)
    index = amax(where(x == value, positions, -1), dim, keepdims=True)
    value = take_along_axis(x, index, dim)
    if scalar:
        return Ranked(reshape(value, ()), reshape(index, ()))
    if not keepdim:
        value, index = squeeze(value, dim), squeeze(index, dim)
    return Ranked(value, index)


def unique(x, sorted=True, return_inverse=False, return_counts=False, dim=None):  # noqa: A002
    """The distinct values of x (flattened, or the distinct slices along ``dim``), sorted,
    and with ``return_inverse`` where each element came from (x's shape) and with
    ``return_counts`` how many times each occurs, as torch.unique; each NaN is distinct,
    as in PyTorch. Computed on the host: how many there are depends on the values."""
    from ..creation import tensor
    x = as_tensor(x, "unique")
    kw = {} if dim is None else {"axis": normalize_axis("unique", dim, x.ndim, x.shape)}
    out = np.unique(x.numpy(), return_inverse=return_inverse, return_counts=return_counts,
                    equal_nan=False, **kw)
    if not (return_inverse or return_counts):
        return tensor(out, dtype=x.dtype, backend=x.backend)
    values, *extra = out
    if return_inverse:      # x's shape without dim (NumPy's shape differs between versions)
        extra[0] = extra[0].reshape(x.shape if dim is None else -1)
    return (tensor(values, dtype=x.dtype, backend=x.backend),
            *(tensor(e, dtype=x.backend.default_int, backend=x.backend) for e in extra))


def unique_consecutive(x, return_inverse=False, return_counts=False, dim=None):
    """x without its runs of equal consecutive values (slices along ``dim``), as
    torch.unique_consecutive, with where each element went and each run's length.
    Computed on the host: how many runs there are depends on the values."""
    from ..creation import tensor
    x = as_tensor(x, "unique_consecutive")
    a = x.numpy()
    if dim is None:
        a, axis = a.reshape(-1), 0
    else:
        axis = normalize_axis("unique_consecutive", dim, x.ndim, x.shape)
    moved = np.moveaxis(a, axis, 0).reshape(a.shape[axis], -1)
    change = np.ones(len(moved), dtype=bool)
    change[1:] = (moved[1:] != moved[:-1]).any(axis=1)
    starts = np.flatnonzero(change)
    values = np.take(a, starts, axis=axis)
    out = [tensor(values, dtype=x.dtype, backend=x.backend)]
    if return_inverse:
        inverse = np.cumsum(change) - 1
        out.append(tensor(inverse.reshape(x.shape if dim is None else -1),
                          dtype=x.backend.default_int, backend=x.backend))
    if return_counts:
        counts = np.diff(np.append(starts, len(moved)))
        out.append(tensor(counts, dtype=x.backend.default_int, backend=x.backend))
    return out[0] if len(out) == 1 else tuple(out)


def msort(x):
    """x sorted along its first axis (torch.msort)."""
    return sort(x, 0).values


def isin(elements, test_elements, *, assume_unique=False, invert=False):
    """Whether each element equals one of test_elements', on the backend: those sorted and
    each element searched in them (NaN is in nothing, -0 equals 0), as torch.isin."""
    from .elementwise import eq
    from .movement import gather
    from ..creation import full
    x1 = as_tensor(elements, "isin", like=test_elements if hasattr(test_elements, "_backend")
                   else None)
    x2 = as_tensor(test_elements, "isin", like=x1)
    if x1.dtype is not x2.dtype:
        common = dt.promote(x1.dtype, x2.dtype)
        x1, x2 = cast(x1, common), cast(x2, common)
    if x2.size == 0:
        return full(x1.shape, bool(invert), dtype=dt.bool_, backend=x1._backend)
    table = sort(reshape(x2, (-1,))).values
    place = searchsorted(table, x1).clip(None, table.shape[0] - 1)
    found = eq(gather(table, 0, place), x1)
    return logical_not(found) if invert else found
