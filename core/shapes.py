"""Shape rules, in one place, each raising ShapeError with every shape named."""

import numbers
import operator

import numpy as np

from .errors import ShapeError


def broadcast_shapes(op, *shapes):
    """The NumPy broadcast of ``shapes``, or a ShapeError naming them all."""
    ndim = max(len(s) for s in shapes)
    out = []
    for i in range(-ndim, 0):
        size = 1
        for s in shapes:
            if len(s) >= -i:
                d = s[i]
                if d != 1:
                    if size != 1 and d != size:
                        listed = " and ".join(str(tuple(x)) for x in shapes)
                        raise ShapeError(f"{op}: shapes {listed} do not broadcast: "
                                         f"axis {i} has sizes {size} and {d}")
                    size = d
        out.append(size)
    return tuple(out)


def _is_axis(axis):
    """An int (a NumPy one too), not a bool."""
    return isinstance(axis, numbers.Integral) and not isinstance(axis, (bool, np.bool_))


def normalize_axis(op, axis, ndim, shape=None):
    """A non-negative axis, or a ShapeError saying the valid range."""
    if not _is_axis(axis):
        raise ShapeError(f"{op}: axis must be an int, got {axis!r}")
    axis = int(axis)
    if -ndim <= axis < ndim:
        return axis % ndim if ndim else 0
    where = f" (shape {tuple(shape)})" if shape is not None else ""
    raise ShapeError(f"{op}: axis {axis} is out of range for a tensor of "
                     f"{ndim} dimensions{where}; use -{ndim} <= axis < {ndim}")


def normalize_axes(op, axis, ndim, shape=None):
    """A sorted tuple of distinct non-negative axes; None means all of them."""
    if axis is None:
        return tuple(range(ndim))
    if _is_axis(axis):
        axis = (axis,)
    elif not isinstance(axis, (tuple, list)):
        raise ShapeError(f"{op}: axis must be an int, a tuple of ints or None, got {axis!r}")
    axes = tuple(sorted(normalize_axis(op, a, ndim, shape) for a in axis))
    if len(set(axes)) != len(axes):
        raise ShapeError(f"{op}: axis {tuple(axis)} names an axis twice")
    return axes


def reshape_target(op, shape, size, new):
    """Resolve one -1 in ``new`` and check the element count matches."""
    try:
        new = tuple(operator.index(d) for d in new)
    except TypeError:
        raise ShapeError(f"{op}: a shape is a tuple of ints, got {new!r}") from None
    unknown = [i for i, d in enumerate(new) if d == -1]
    if len(unknown) > 1 or any(d < -1 for d in new):
        raise ShapeError(f"{op}: cannot reshape {tuple(shape)} to {new}: "
                         f"at most one -1 and no other negative sizes")
    known = 1
    for d in new:
        if d != -1:
            known *= d
    if unknown:
        if known == 0 or size % known:
            raise ShapeError(f"{op}: cannot reshape {tuple(shape)} ({size} elements) to {new}")
        new = new[:unknown[0]] + (size // known,) + new[unknown[0] + 1:]
    elif known != size:
        raise ShapeError(f"{op}: cannot reshape {tuple(shape)} ({size} elements) to "
                         f"{new} ({known} elements)")
    return new


def size_of(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def windows_out(hw, kernel, stride, dilation):
    """(OH, OW): how many windows of ``kernel`` (dilated, strided) fit in an (H, W) plane
    that is already padded."""
    return tuple((size - d * (k - 1) - 1) // st + 1
                 for size, k, st, d in zip(hw, kernel, stride, dilation))
