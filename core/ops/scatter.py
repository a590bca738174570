"""Writing values at indices along an axis, as PyTorch's scatter family: scatter_add and
index_add (repeated indices add up, on the backend's ScatterAdd), scatter and index_copy
(the last write wins), scatter_reduce (sum, prod, mean, amax, amin, with or without x's
own value), index_fill and bincount.

Where several writes land on one element their order is fixed: the sources' row-major
order, so scatter's last write is the last in it (PyTorch leaves the order undefined).
scatter_reduce groups each element's sources on the host, from the index (which is read
there anyway, to check it), into a table of (elements written, largest group) padded with
the reduction's identity and reduced on the backend: its gradient is the reduction's own
(amax and amin share a tie's gradient, as PyTorch's). The table has as many entries as
the written elements times the largest group. While ember.compile traces, no index can be
read: scatter and scatter_reduce then compare every source's position with every element
(a table of sources times x's elements), which the compiled graph replays.
"""

import math

import numpy as np

from .. import dtypes as dt
from ..compile import is_compiling
from ..errors import DTypeError, IndexingError, ShapeError
from ..shapes import normalize_axis
from ..tensor import Tensor
from ._util import as_tensor, index_tensor, same_backend
from .indexing import written
from .elementwise import add, cast, where
from .movement import broadcast_to, concatenate, gather as take_flat, reshape
from .movement import scatter_add as scattered

REDUCTIONS = ("sum", "prod", "mean", "amax", "amin")


def _checked(op, x, dim, index, src=None):
    """x, index (and src) as tensors, dim normalized: index as many axes as x (at least
    one) and no larger than x along any axis but dim, nor than src along any."""
    x = as_tensor(x, op)
    index = as_tensor(index, op, like=x)
    tensors = (x, index) if src is None else (x, index, src)
    same_backend(op, tensors)
    if index.dtype.is_inexact or index.dtype.name == "bool":
        raise IndexingError(f"{op}: index must be integers, got {index.dtype.name}")
    if src is not None and src.dtype is not x.dtype:
        raise DTypeError(f"{op}: src is {src.dtype.name} but x is {x.dtype.name}; cast src "
                         f"with .to({x.dtype.name})")
    if any(t.ndim != x.ndim for t in tensors) or not x.ndim:
        raise ShapeError(f"{op}: x {x.shape}, index {index.shape}"
                         + (f" and src {src.shape}" if src is not None else "")
                         + " must have as many axes (at least 1)")
    dim = normalize_axis(op, dim, x.ndim, x.shape)
    if src is not None and any(i > s for i, s in zip(index.shape, src.shape)) or any(
            i > n for a, (i, n) in enumerate(zip(index.shape, x.shape)) if a != dim):
        raise ShapeError(f"{op}: index {index.shape} is larger than "
                         + (f"src {src.shape}, or than " if src is not None else "")
                         + f"x {x.shape} along an axis but {dim}")
    return x, index, dim


def _host_index(op, x, dim, index):
    """The index on the host, each in 0 .. x.shape[dim] - 1 (an IndexingError names one
    that is not)."""
    host, n = index.numpy().astype(np.int64), x.shape[dim]
    if host.size and (host.min() < 0 or host.max() >= n):
        bad = host[(host < 0) | (host >= n)].flat[0]
        raise IndexingError(f"{op}: index {bad} is out of bounds for axis {dim} with size {n}")
    return host


def _flat_targets(x, dim, host):
    """Each index entry's flat position in x: its index along dim, its own coordinates
    along the other axes."""
    strides = [math.prod(x.shape[a + 1:]) for a in range(x.ndim)]
    grid = np.indices(host.shape, sparse=True)
    return sum(host * strides[dim] if a == dim else grid[a] * strides[a]
               for a in range(x.ndim))


def _src(op, x, index, src):
    """src as a tensor of x's dtype cut to index's extent (a number: that value
    everywhere), flattened."""
    if isinstance(src, Tensor):
        cut = src[tuple(slice(0, i) for i in index.shape)]
        return reshape(cut, (-1,))
    from ..creation import check_fits, full
    check_fits(op, src, x.dtype)
    return full((index.size,), src, dtype=x.dtype, backend=x._backend)


def scatter_add(x, dim, index, src):
    """x plus src's values added where ``index`` points along ``dim``, as
    torch.scatter_add: out[i][index[i][j][k]][k] += src[i][j][k] for dim 1, each other
    coordinate the element's own; repeated indices add up. index has x's axes (no more
    along each than x has, but along dim) and src at least index's extent; indices run
    from 0 to x.shape[dim] - 1. Differentiable in x and src (src's gradient gathers
    back). The indices are checked on the host, except while ember.compile traces."""
    op = "scatter_add"
    src = as_tensor(src, op, like=as_tensor(x, op))
    x, index, dim = _checked(op, x, dim, index, src)
    if not index.size:
        return x
    if not is_compiling():
        _host_index(op, x, dim, index)
    added = scattered((x.size,), 0, _device_targets(x, dim, index), _src(op, x, index, src))
    return add(x, reshape(added, x.shape))


def _device_targets(x, dim, index):
    """_flat_targets computed on the backend (the index is not read), flattened."""
    strides = [math.prod(x.shape[a + 1:]) for a in range(x.ndim)]
    base = sum(np.arange(size).reshape([-1 if b == a else 1 for b in range(x.ndim)]) * strides[a]
               for a, size in enumerate(index.shape) if a != dim)
    flat = cast(index, x._backend.default_int) * strides[dim] + \
        index_tensor(np.broadcast_to(base, index.shape), x._backend)
    return reshape(flat, (-1,))


def _traced(x, dim, index, values, reduce, include_self):
    """scatter (``reduce`` None) and scatter_reduce while ember.compile traces, when the
    index cannot be read: a (sources, elements) table of which source writes where,
    reduced over the sources. x's own value joins as one more source with include_self,
    so that amax and amin share a tie with it as the eager path does."""
    from ..creation import arange
    from .elementwise import eq, maximum
    from .movement import unsqueeze
    from .reduce import amax, amin, sum
    from .scan import prod
    n = x.size
    targets = _device_targets(x, dim, index)
    hits = eq(unsqueeze(targets, 1), unsqueeze(arange(n, dtype=targets.dtype,
                                                      backend=x._backend), 0))
    flat = reshape(x, (-1,))
    count = sum(hits, 0)
    written = count > 0
    if reduce is None:          # the last source of each element
        order = unsqueeze(arange(values.size, dtype=targets.dtype, backend=x._backend), 1)
        last = amax(where(hits, order, -1), 0)
        picked = take_flat(values, 0, maximum(last, 0))
        return reshape(where(written, picked, flat), x.shape)
    identity = _identity(reduce, x.dtype)
    table = where(hits, unsqueeze(values, 1), identity)
    if include_self:
        table = concatenate([unsqueeze(where(written, flat, identity), 0), table])
        count = count + 1
    reduced = {"sum": sum, "mean": sum, "prod": prod, "amax": amax, "amin": amin}[reduce](
        table, axis=0)
    reduced = _mean(reduced, count, x) if reduce == "mean" else cast(reduced, x.dtype)
    return reshape(where(written, reduced, flat), x.shape)


def _identity(reduce, dtype):
    """What leaves a reduction's result as it is: 0, 1, or below (amax) or above (amin)
    every value of ``dtype``."""
    if reduce in ("sum", "mean", "prod"):
        return 1 if reduce == "prod" else 0
    low = reduce == "amax"
    if dtype.is_inexact:
        return -math.inf if low else math.inf
    info = np.iinfo(dtype.np)
    return info.min if low else info.max


def _mean(total, count, x):
    """A sum over ``count`` values (a tensor) as x's dtype: an integer mean rounds down,
    as PyTorch's."""
    from .division import floor_divide
    total = cast(total, x.dtype) if total.dtype is not x.dtype else total
    n = cast(count, x.dtype)
    return total / n if x.dtype.is_inexact else floor_divide(total, n)


def scatter(x, dim, index, src=None, value=None, reduce=None):
    """x with src's values (or ``value``, a number) written where ``index`` points along
    ``dim``, as torch.scatter: out[i][index[i][j]] = src[i][j] for dim 1, each other
    coordinate the element's own. Of repeated positions the last write (in src's
    row-major order) wins. ``reduce`` "add" or "multiply" combines instead, as PyTorch's.
    Differentiable in x and src."""
    op = "scatter"
    if value is None and isinstance(src, (int, float, bool)):
        src, value = None, src                      # torch's scatter(dim, index, value)
    if (src is None) == (value is None):
        raise TypeError(f"{op}: give src (a tensor) or value (a number), one of them")
    if reduce is not None:
        kinds = {"add": "sum", "multiply": "prod"}
        if reduce not in kinds:
            raise ValueError(f"{op}: reduce must be 'add' or 'multiply', got {reduce!r}")
        if value is not None:
            src = value
        return scatter_reduce(x, dim, index, src, kinds[reduce])
    if src is not None:
        src = as_tensor(src, op, like=as_tensor(x, op))
    x, index, dim = _checked(op, x, dim, index, src)
    values = _src(op, x, index, value if src is None else src)
    if not index.size:
        return x
    if is_compiling():
        return _traced(x, dim, index, values, None, False)
    return written(x, _flat_targets(x, dim, _host_index(op, x, dim, index)).reshape(-1),
                   values)


def scatter_reduce(x, dim, index, src, reduce, include_self=True):
    """x with src's values reduced into where ``index`` points along ``dim``, as
    torch.scatter_reduce: "sum", "prod", "mean", "amax" or "amin" of every value written
    to an element, and of x's own there with ``include_self`` (else x's is replaced);
    elements nothing is written to keep x's. An integer mean rounds down, as PyTorch's.
    Differentiable in x and src (amax and amin share a tie's gradient, as PyTorch's)."""
    from .reduce import amax, amin, sum
    from .scan import prod
    op = "scatter_reduce"
    if reduce not in REDUCTIONS:
        raise ValueError(f"{op}: reduce must be one of {', '.join(REDUCTIONS)}, got {reduce!r}")
    if isinstance(src, (int, float, bool)):         # a value written everywhere
        x, index, dim = _checked(op, x, dim, index)
    else:
        src = as_tensor(src, op, like=as_tensor(x, op))
        x, index, dim = _checked(op, x, dim, index, src)
    values = _src(op, x, index, src)
    if not index.size:
        return x
    if is_compiling():
        return _traced(x, dim, index, values, reduce, include_self)
    positions = _flat_targets(x, dim, _host_index(op, x, dim, index)).reshape(-1)
    order = np.argsort(positions, kind="stable")
    targets, starts, counts = np.unique(positions[order], return_index=True, return_counts=True)
    table = np.full((targets.size, int(counts.max())), positions.size, dtype=np.int64)
    column = np.arange(positions.size) - np.repeat(starts, counts)
    table[np.repeat(np.arange(targets.size), counts), column] = order   # the rest: identity
    from ..creation import full
    values = concatenate([values, full((1,), _identity(reduce, x.dtype), dtype=x.dtype,
                                       backend=x._backend)])
    grouped = take_flat(values, 0, index_tensor(table, x._backend))
    if include_self:
        own = take_flat(reshape(x, (-1,)), 0, index_tensor(targets, x._backend))
        grouped = concatenate([reshape(own, (-1, 1)), grouped], axis=1)
        counts = counts + 1
    reduced = {"sum": sum, "mean": sum, "prod": prod, "amax": amax, "amin": amin}[reduce](
        grouped, axis=1)
    reduced = _mean(reduced, index_tensor(counts, x._backend), x) if reduce == "mean" \
        else cast(reduced, x.dtype)
    return written(x, targets, reduced)


def index_add(x, dim, index, source, alpha=1):
    """x plus ``alpha`` times source's slices added at the 1-D ``index`` along ``dim``, as
    torch.index_add: out[..., index[i], ...] += alpha * source[..., i, ...]; repeated
    indices add up. Differentiable in x and source."""
    full_index, source, _ = _along(x, dim, index, source, "index_add")
    return scatter_add(x, dim, full_index, source * alpha if alpha != 1 else source)


def index_copy(x, dim, index, source):
    """x with source's slices written at the 1-D ``index`` along ``dim``, as
    torch.index_copy: out[..., index[i], ...] = source[..., i, ...]; of repeated indices
    the last wins. Differentiable in x and source."""
    full_index, source, _ = _along(x, dim, index, source, "index_copy")
    return scatter(x, dim, full_index, source)


def index_fill(x, dim, index, value):
    """x with ``value`` (a number or a 0-d tensor) in its slices at the 1-D ``index``
    along ``dim``, as torch.index_fill. Differentiable in x (and a tensor value)."""
    from .indexing import masked_fill
    x = as_tensor(x, "index_fill")
    dim = normalize_axis("index_fill", dim, x.ndim, x.shape)
    index = as_tensor(index, "index_fill", like=x)
    if index.ndim > 1 or index.dtype.is_inexact or index.dtype.name == "bool":
        raise IndexingError(f"index_fill: index must be 0-D or 1-D integers, got "
                            f"{index.dtype.name} of shape {index.shape}")
    n = x.shape[dim]
    index = reshape(index, (-1,))
    if not is_compiling() and index.size:
        host = index.numpy()
        if host.min() < -n or host.max() >= n:
            bad = host[(host < -n) | (host >= n)][0]
            raise IndexingError(f"index_fill: index {bad} is out of bounds for axis {dim} "
                                f"with size {n}")
    from ..creation import arange
    from .elementwise import eq
    from .movement import unsqueeze
    from .reduce import any as any_
    index = cast(index, x._backend.default_int)
    index = where(index < 0, index + n, index)
    chosen = any_(eq(unsqueeze(index, 1), arange(n, dtype=index.dtype, backend=x._backend)), 0)
    return masked_fill(x, reshape(chosen, [-1 if a == dim else 1 for a in range(x.ndim)]),
                       value)


def _along(x, dim, index, source, op):
    """index_add's and index_copy's 1-D index broadcast to source's shape, as scatter
    takes it; source as a tensor; dim normalized."""
    x = as_tensor(x, op)
    index, source = as_tensor(index, op, like=x), as_tensor(source, op, like=x)
    dim = normalize_axis(op, dim, x.ndim, x.shape)
    if index.ndim != 1 or source.ndim != x.ndim or source.shape[dim] != index.shape[0] or \
            source.shape[:dim] + source.shape[dim + 1:] != x.shape[:dim] + x.shape[dim + 1:]:
        raise ShapeError(f"{op}: source {source.shape} must be x {x.shape} but for axis {dim}, "
                         f"there as long as the 1-D index {index.shape}")
    full = broadcast_to(reshape(index, [-1 if a == dim else 1 for a in range(x.ndim)]),
                        source.shape)
    return full, source, dim


def bincount(x, weights=None, minlength=0):
    """How often each value 0, 1, ... occurs in the 1-D non-negative integers x (summing
    ``weights`` instead of ones), as torch.bincount: max(x) + 1 or ``minlength`` bins,
    whichever is more; counts in the default integer, weights' sums in their dtype
    (float16 and bfloat16 in float32's, rounded once). Its length depends on the data."""
    from ..creation import ones, zeros
    x = as_tensor(x, "bincount")
    if x.ndim != 1 or x.dtype.is_inexact or x.dtype.name == "bool":
        raise DTypeError(f"bincount: x must be 1-D integers, got {x.dtype.name} of shape "
                         f"{x.shape}")
    host = x.numpy()
    if host.size and host.min() < 0:
        raise IndexingError(f"bincount: x holds {host.min()}; it counts values from 0")
    length = max(int(minlength), int(host.max()) + 1 if host.size else 0)
    if weights is None:
        src, dtype = ones((x.size,), dtype=x._backend.default_int, backend=x._backend), None
    else:
        src = as_tensor(weights, "bincount", like=x)
        if src.shape != x.shape:
            raise ShapeError(f"bincount: weights {src.shape} must have x's shape {x.shape}")
        dtype = src.dtype
        if dtype in dt.HALF:
            src = cast(src, dt.float32)
    if not length:
        return zeros((0,), dtype=dtype or src.dtype, backend=x._backend)
    counts = scatter_add(zeros((length,), dtype=src.dtype, backend=x._backend), 0, x, src)
    return cast(counts, dtype) if dtype is not None and dtype is not counts.dtype else counts
