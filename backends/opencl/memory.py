"""Device arrays: a pooled OpenCL buffer seen through a shape, element strides and an
element offset, so permute, expand, slice and flip are views that copy nothing."""

import numpy as np


def c_strides(shape):
    strides, step = [], 1
    for d in reversed(shape):
        strides.append(step)
        step *= d
    return tuple(reversed(strides))


class CLArray:
    __slots__ = ("buf", "shape", "strides", "offset", "dtype")

    def __init__(self, buf, shape, dtype, strides=None, offset=0):
        self.buf = buf
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self.strides = c_strides(self.shape) if strides is None else tuple(strides)
        self.offset = offset

    @property
    def size(self):
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def contiguous(self):
        return self.strides == c_strides(self.shape) or self.size <= 1

    def view(self, shape, strides, offset):
        return CLArray(self.buf, shape, self.dtype, strides, offset)

    def __repr__(self):
        return f"CLArray({self.dtype}{self.shape}, strides={self.strides}, offset={self.offset})"


def broadcast_strides(arr, shape):
    """arr's strides seen at ``shape`` (0 along broadcast axes)."""
    lead = len(shape) - arr.ndim
    out = [0] * lead
    for d, s, target in zip(arr.shape, arr.strides, shape[lead:]):
        out.append(0 if d == 1 and target != 1 else s)
    return tuple(out)
