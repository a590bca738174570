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


def _pairs(weights_y, weights_x):
    """Per bin (p, q) the pixels (flat y * W + x) and weights of Ay[p] x Ax[q]."""
    out = []
    width = weights_x.shape[1]
    for ay in weights_y:
        ys = np.flatnonzero(ay)
        for ax in weights_x:
            xs = np.flatnonzero(ax)
            out.append(((ys[:, None] * width + xs[None, :]).ravel(),
                        (ay[ys][:, None] * ax[xs][None, :]).ravel()))
    return out


def _gathered(x, images, bins, reduce):
    """The (K, C, PH, PW) result of each box's bins: ``bins[k]`` lists per bin (pixels
    of its image, weights or None), reduced by weighted sum or by maximum."""
    n, c, h, w = x.shape
    k_boxes, (ph, pw) = len(bins), bins.shape_out
    if k_boxes == 0 or c == 0:
        return ember.zeros(k_boxes, c, ph, pw, dtype=x.dtype, backend=x.backend)
    longest = max(1, max(len(p) for box in bins for p, _ in box))
    pos = np.zeros((k_boxes, ph * pw, longest), np.int64)
    weight = np.zeros((k_boxes, ph * pw, longest))
    for k, box in enumerate(bins):
        for j, (pixels, wts) in enumerate(box):
            pos[k, j, :len(pixels)] = pixels + images[k] * h * w
            weight[k, j, :len(pixels)] = 1.0 if wts is None else wts
    rows = _feature_rows(x)
    step = max(1, _CHUNK_ELEMENTS // max(1, ph * pw * longest * c))
    parts = []
    for start in range(0, k_boxes, step):
        index = ember.tensor(pos[start:start + step].ravel(), dtype=x.backend.default_int,
                             backend=x.backend)
        got = ember.index_select(rows, 0, index).reshape(-1, ph * pw, longest, c)
        wts = ember.tensor(weight[start:start + step, :, :, None], dtype=x.dtype,
                           backend=x.backend)
        parts.append(reduce(got, wts))
    out = ember.concatenate(parts) if len(parts) > 1 else parts[0]
    return ember.permute(out.reshape(k_boxes, ph, pw, c), (0, 3, 1, 2))


class _Bins(list):
    """Each box's bins (a list per box), with the output's (PH, PW)."""

    def __init__(self, items, shape_out):
        super().__init__(items)
        self.shape_out = shape_out


def roi_align(input, boxes, output_size, spatial_scale=1.0, sampling_ratio=-1,  # noqa: A002
              aligned=False):
    """RoIAlign (He et al. 2017), torchvision's: each box (scaled by ``spatial_scale``;
    shifted by half a pixel with ``aligned``, else at least 1 x 1) is cut into
    ``output_size`` bins, each the mean of ``sampling_ratio`` x ``sampling_ratio``
    bilinear samples (ceil(bin size) per axis where sampling_ratio <= 0). ``input`` is
    (N, C, H, W); ``boxes`` (K, 5) rows of (image, x1, y1, x2, y2) or a list of (L, 4)
    per image. Returns (K, C, PH, PW)."""
    op = "roi_align"
    if input.ndim != 4:
        raise ShapeError(f"{op}: input must be (N, C, H, W), got {input.shape}")
    n, _, h, w = input.shape
    rois, images = _rois(op, boxes, n)
    ph, pw = _size(op, output_size)
    offset = 0.5 if aligned else 0.0
    bins = []
    for x1, y1, x2, y2 in rois[:, 1:] * spatial_scale - offset:
        width, height = x2 - x1, y2 - y1
        if not aligned:
            width, height = max(width, 1.0), max(height, 1.0)
        gy = sampling_ratio if sampling_ratio > 0 else math.ceil(height / ph) \
            if math.isfinite(height) else 0
        gx = sampling_ratio if sampling_ratio > 0 else math.ceil(width / pw) \
            if math.isfinite(width) else 0
        count = max(gy * gx, 1)
        ay = _interpolation(y1, height / ph, gy, ph, h)
        ax = _interpolation(x1, width / pw, gx, pw, w) / count
        bins.append(_pairs(ay, ax))

    def weighted_mean(got, wts):
        return (got * wts).sum(axis=2)
    return _gathered(input, images, _Bins(bins, (ph, pw)), weighted_mean)


def roi_pool(input, boxes, output_size, spatial_scale=1.0):  # noqa: A002
    """RoIPool (Girshick 2015), torchvision's: each box, its corners scaled and rounded
    to pixels (at least 1 x 1), is cut into ``output_size`` windows of whole pixels,
    each giving its maximum (0 where a window falls outside the image). The gradient
    goes to the first largest pixel of each window, as torchvision's."""
    op = "roi_pool"
    if input.ndim != 4:
        raise ShapeError(f"{op}: input must be (N, C, H, W), got {input.shape}")
    n, _, h, w = input.shape
    rois, images = _rois(op, boxes, n)
    ph, pw = _size(op, output_size)
    corners = np.sign(rois[:, 1:] * spatial_scale) * np.floor(np.abs(rois[:, 1:] * spatial_scale)
                                                               + 0.5)   # C's round()
    bins = []
    for x1, y1, x2, y2 in corners.astype(np.int64):
        bin_h, bin_w = max(y2 - y1 + 1, 1) / ph, max(x2 - x1 + 1, 1) / pw
        box = []
        for p in range(ph):
            rows = np.arange(min(max(math.floor(p * bin_h) + y1, 0), h),
                             min(max(math.ceil((p + 1) * bin_h) + y1, 0), h))
            for q in range(pw):
                cols = np.arange(min(max(math.floor(q * bin_w) + x1, 0), w),
                                 min(max(math.ceil((q + 1) * bin_w) + x1, 0), w))
                box.append(((rows[:, None] * w + cols[None, :]).ravel(), None))
        bins.append(box)

    def first_maximum(got, wts):
        filled = wts > 0
        values = ember.where(filled, got, -math.inf)
        first = ember.argmax(values, axis=2, keepdims=True)
        best = ember.take_along_axis(values, first, 2)[:, :, 0]
        return ember.where(filled.any(axis=2), best, 0.0)
    return _gathered(input, images, _Bins(bins, (ph, pw)), first_maximum)
