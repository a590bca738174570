"""RoIAlign and RoIPool (torchvision.ops.roi_align / roi_pool): a fixed-size grid of
features for each region of interest, the step between a detector's proposals and its
box head.

Where each output bin reads from depends on the boxes, so the boxes are read to the
host and each bin becomes a short list of (pixel, weight) pairs (RoIAlign: its
bilinear samples, summed per pixel; RoIPool: the pixels of its window). The features
then go through ember ops only: the listed pixels are gathered from the (N H W, C)
feature rows, weighted and summed (or their maximum taken), so it runs on every
backend and differentiates in the features (not in the boxes, as torchvision's).
Lists are padded to the longest with zero weights, and rows are gathered a chunk of
boxes at a time to bound the memory."""

import math

import numpy as np

import ember
from ember.errors import ShapeError

#: the most gathered elements held at once (rows of C features times their count)
_CHUNK_ELEMENTS = 1 << 24


def _rois(op, boxes, batch):
    """(K, 5) host rows of (image index, x1, y1, x2, y2) from a (K, 5) tensor or a list
    of (L, 4) tensors, one per image."""
    if isinstance(boxes, (list, tuple)):
        rows = []
        for k, b in enumerate(boxes):
            if b.ndim != 2 or b.shape[1] != 4:
                raise ShapeError(f"{op}: each image's boxes must be (L, 4), got {b.shape} for "
                                 f"image {k}")
            host = b.numpy().astype(np.float64)
            rows.append(np.concatenate([np.full((len(host), 1), k, np.float64), host], axis=1))
        rois = np.concatenate(rows) if rows else np.zeros((0, 5))
    else:
        if boxes.ndim != 2 or boxes.shape[1] != 5:
            raise ShapeError(f"{op}: boxes must be a (K, 5) tensor of (image index, x1, y1, "
                             f"x2, y2) or a list of (L, 4) tensors, got {boxes.shape}")
        rois = boxes.numpy().astype(np.float64)
    images = rois[:, 0].astype(np.int64)
    if len(rois) and (images.min() < 0 or images.max() >= batch):
        raise ShapeError(f"{op}: a box names image {images.max() if images.max() >= batch else images.min()}"
                         f" of a batch of {batch}")
    return rois, images


def _size(op, output_size):
    size = (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f"{op}: output_size must be a positive int or (height, width), got "
                         f"{output_size!r}")
    return size


def _checked(op, input, boxes, output_size):  # noqa: A002
    """(H, W, host rois, their images, (PH, PW)) of a call, its arguments checked."""
    if input.ndim != 4:
        raise ShapeError(f"{op}: input must be (N, C, H, W), got {input.shape}")
    rois, images = _rois(op, boxes, input.shape[0])
    return input.shape[2], input.shape[3], rois, images, _size(op, output_size)


def _feature_rows(x):
    """(N, C, H, W) features as (N H W, C) rows."""
    n, c, h, w = x.shape
    return ember.permute(x, (0, 2, 3, 1)).reshape(n * h * w, c)


def _interpolation(starts, bin_size, grid, pooled, extent):
    """A (pooled, extent) matrix: row p holds the summed bilinear weights that the
    ``grid`` samples of bin p put on each pixel along one axis (torchvision's rules: a
    sample outside [-1, extent] is dropped, one below 0 read at 0, one past the last
    pixel at it)."""
    out = np.zeros((pooled, extent))
    if grid <= 0:
        return out
    p = np.arange(pooled)[:, None]
    at = starts + p * bin_size + (np.arange(grid)[None, :] + 0.5) * bin_size / grid
    valid = (at >= -1.0) & (at <= extent)          # NaN fails both
    at = np.where(valid, np.maximum(at, 0.0), 0.0)
    low = np.floor(at).astype(np.int64)
    last = low >= extent - 1
    low = np.where(last, extent - 1, low)
    high = np.where(last, extent - 1, low + 1)
    frac = np.where(last, 0.0, at - low)
    rows = np.broadcast_to(p, at.shape)
    np.add.at(out, (rows[valid], low[valid]), (1.0 - frac)[valid])
    np.add.at(out, (rows[valid], high[valid]), frac[valid])
    return out


def _sparse(dense):
    """(K, P, E) per-bin weights along one axis as (indices, weights), each (K, P, R):
    the R = most nonzero entries of any bin, padded with zero weights."""
    nonzero = dense != 0
    width = max(1, int(nonzero.sum(axis=-1).max(initial=0)))
    order = np.argsort(~nonzero, axis=-1, kind="stable")[..., :width]
    return order, np.take_along_axis(dense, order, axis=-1)


def _gathered(x, images, along_y, along_x, reduce):
    """The (K, C, PH, PW) result from each box's bins, separable into rows and columns:
    ``along_y`` (row indices, weights), each (K, PH, Ry), ``along_x`` the same for the
    columns; bin (p, q) reads the pixels of its rows times its columns, with the
    products of their weights, reduced by ``reduce(values, weights)`` over that list."""
    n, c, h, w = x.shape
    (ys, wy), (xs, wx) = along_y, along_x
    k_boxes, ph, ry = ys.shape
    pw, rx = xs.shape[1:]
    if k_boxes == 0 or c == 0:
        return ember.zeros(k_boxes, c, ph, pw, dtype=x.dtype, backend=x.backend)
    pos = (images[:, None, None, None, None] * (h * w) + ys[:, :, None, :, None] * w
           + xs[:, None, :, None, :]).reshape(k_boxes, ph * pw, ry * rx)
    weight = (wy[:, :, None, :, None] * wx[:, None, :, None, :]).reshape(k_boxes, ph * pw, ry * rx)
    rows = _feature_rows(x)
    step = max(1, _CHUNK_ELEMENTS // max(1, ph * pw * ry * rx * c))
    parts = []
    for start in range(0, k_boxes, step):
        index = ember.tensor(pos[start:start + step].ravel(), dtype=x.backend.default_int,
                             backend=x.backend)
        got = ember.index_select(rows, 0, index).reshape(-1, ph * pw, ry * rx, c)
        wts = ember.tensor(weight[start:start + step, :, :, None], dtype=x.dtype,
                           backend=x.backend)
        parts.append(reduce(got, wts))
    out = ember.concatenate(parts) if len(parts) > 1 else parts[0]
    return ember.permute(out.reshape(k_boxes, ph, pw, c), (0, 3, 1, 2))


def roi_align(input, boxes, output_size, spatial_scale=1.0, sampling_ratio=-1,  # noqa: A002
              aligned=False):
    """RoIAlign (He et al. 2017), torchvision's: each box (scaled by ``spatial_scale``;
    shifted by half a pixel with ``aligned``, else at least 1 x 1) is cut into
    ``output_size`` bins, each the mean of ``sampling_ratio`` x ``sampling_ratio``
    bilinear samples (ceil(bin size) per axis where sampling_ratio <= 0). ``input`` is
    (N, C, H, W); ``boxes`` (K, 5) rows of (image, x1, y1, x2, y2) or a list of (L, 4)
    per image. Returns (K, C, PH, PW)."""
    _, _, rois, images, size = _checked("roi_align", input, boxes, output_size)
    return _aligned(input, rois, images, size, spatial_scale, sampling_ratio, aligned)


def _aligned(input, rois, images, size, spatial_scale, sampling_ratio, aligned):  # noqa: A002
    """roi_align of host rois (K, 5) already checked (MultiScaleRoIAlign's per level)."""
    h, w = input.shape[2:]
    ph, pw = size
    offset = 0.5 if aligned else 0.0
    weights_y, weights_x = np.zeros((len(rois), ph, h)), np.zeros((len(rois), pw, w))
    for k, (x1, y1, x2, y2) in enumerate(rois[:, 1:] * spatial_scale - offset):
        width, height = x2 - x1, y2 - y1
        if not aligned:
            width, height = max(width, 1.0), max(height, 1.0)
        gy, gx = (sampling_ratio if sampling_ratio > 0 else
                  math.ceil(extent / pooled) if math.isfinite(extent) else 0
                  for extent, pooled in ((height, ph), (width, pw)))
        weights_y[k] = _interpolation(y1, height / ph, gy, ph, h)
        weights_x[k] = _interpolation(x1, width / pw, gx, pw, w) / max(gy * gx, 1)

    def weighted_mean(got, wts):
        return (got * wts).sum(axis=2)
    return _gathered(input, images, _sparse(weights_y), _sparse(weights_x), weighted_mean)


class _FirstMaximum(ember.autograd.Function):
    """The maximum over axis 2, its gradient all to the first largest entry (as
    torchvision's argmax): the argmax is found only in backward."""

    @staticmethod
    def forward(ctx, values):
        ctx.save_for_backward(values)
        return ember.amax(values, axis=2)

    @staticmethod
    def backward(ctx, g):
        values, = ctx.saved_tensors
        first = ember.argmax(values, axis=2, keepdims=True)
        slots = ember.arange(values.shape[2], backend=values.backend).reshape(1, 1, -1, 1)
        return g[:, :, None, :] * (slots == first).to(g.dtype)


def roi_pool(input, boxes, output_size, spatial_scale=1.0):  # noqa: A002
    """RoIPool (Girshick 2015), torchvision's: each box, its corners scaled and rounded
    to pixels (at least 1 x 1), is cut into ``output_size`` windows of whole pixels,
    each giving its maximum (0 where a window falls outside the image). The gradient
    goes to the first largest pixel of each window, as torchvision's."""
    h, w, rois, images, (ph, pw) = _checked("roi_pool", input, boxes, output_size)
    scaled = rois[:, 1:] * spatial_scale
    corners = (np.sign(scaled) * np.floor(np.abs(scaled) + 0.5)).astype(np.int64)  # C's round()

    def windows(start, end, pooled, extent):
        """Each bin's pixels along one axis, (K, P, R), padded with the bin's first (a
        repeat leaves the maximum and which pixel comes first as they were), and 1 where
        the bin is not empty (as weights: the first entry's is the bin's)."""
        size = np.maximum(end - start + 1, 1)[:, None] / pooled
        p = np.arange(pooled)[None, :]
        lo = np.clip(np.floor(p * size).astype(np.int64) + start[:, None], 0, extent)
        hi = np.clip(np.ceil((p + 1) * size).astype(np.int64) + start[:, None], 0, extent)
        span = max(1, int((hi - lo).max(initial=0)))
        at = lo[..., None] + np.arange(span)
        at = np.where(at < hi[..., None], at, lo[..., None])
        filled = np.broadcast_to((hi > lo)[..., None], at.shape).astype(np.float64)
        return np.minimum(at, extent - 1), filled

    def first_maximum(got, filled):
        return _FirstMaximum.apply(got) * filled[:, :, 0]
    return _gathered(input, images, windows(corners[:, 1], corners[:, 3], ph, h),
                     windows(corners[:, 0], corners[:, 2], pw, w), first_maximum)
