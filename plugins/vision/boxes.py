"""Boxes as torchvision.ops has them: (N, 4) tensors of (x1, y1, x2, y2) corners unless
a format says otherwise. The arithmetic is ember tensor operations, so it runs on every
backend and differentiates; non-maximum suppression, which is sequential and keeps a
data-dependent number of boxes, reads the boxes back and runs on the host, as
torchvision's CPU kernel does."""

import numpy as np

import ember
from ember.errors import ShapeError

FORMATS = ("xyxy", "xywh", "cxcywh")


def _boxes(op, boxes, width=4):
    if not isinstance(boxes, ember.Tensor) or boxes.ndim != 2 or boxes.shape[1] != width:
        shape = boxes.shape if isinstance(boxes, ember.Tensor) else type(boxes).__name__
        raise ShapeError(f"{op}: boxes must be a (N, {width}) tensor, got {shape}")
    return boxes if boxes.dtype.is_float else boxes.to(dtype=ember.default_float)


def _columns(boxes):
    return tuple(boxes[..., k] for k in range(boxes.shape[-1]))


def box_convert(boxes, in_fmt, out_fmt):
    """Boxes from ``in_fmt`` to ``out_fmt``: "xyxy" (corners), "xywh" (top-left corner,
    width, height) or "cxcywh" (center, width, height)."""
    if in_fmt not in FORMATS or out_fmt not in FORMATS:
        raise ValueError(f"box_convert: formats are {', '.join(FORMATS)}; got {in_fmt!r} to "
                         f"{out_fmt!r} (ember has no rotated boxes)")
    if in_fmt == out_fmt:
        return boxes.clone()
    a, b, c, d = _columns(boxes)
    if in_fmt == "xywh":
        a, b, c, d = a, b, a + c, b + d
    elif in_fmt == "cxcywh":
        a, b, c, d = a - 0.5 * c, b - 0.5 * d, a + 0.5 * c, b + 0.5 * d
    if out_fmt == "xywh":
        a, b, c, d = a, b, c - a, d - b
    elif out_fmt == "cxcywh":
        a, b, c, d = (a + c) / 2, (b + d) / 2, c - a, d - b
    return ember.stack([a, b, c, d], axis=-1)


def box_area(boxes):
    """(x2 - x1)(y2 - y1) of each box."""
    boxes = _boxes("box_area", boxes)
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def _inter_union(boxes1, boxes2):
    area1, area2 = box_area(boxes1), box_area(boxes2)
    lt = ember.maximum(boxes1[:, None, :2], boxes2[:, :2])
    rb = ember.minimum(boxes1[:, None, 2:], boxes2[:, 2:])
    wh = ember.clip(rb - lt, min=0)
    inter = wh[:, :, 0] * wh[:, :, 1]
    return inter, area1[:, None] + area2 - inter


def _enclosing(boxes1, boxes2):
    """The (N, M, 2) width and height of the smallest box around each pair."""
    lt = ember.minimum(boxes1[:, None, :2], boxes2[:, :2])
    rb = ember.maximum(boxes1[:, None, 2:], boxes2[:, 2:])
    return ember.clip(rb - lt, min=0)


def box_iou(boxes1, boxes2):
    """The (N, M) intersections over unions of every pair (the Jaccard index)."""
    inter, union = _inter_union(_boxes("box_iou", boxes1), _boxes("box_iou", boxes2))
    return inter / union


def generalized_box_iou(boxes1, boxes2):
    """IoU - (C - U) / C with C the smallest enclosing box's area (Rezatofighi et al.
    2019, DETR's matching cost)."""
    boxes1, boxes2 = _boxes("generalized_box_iou", boxes1), _boxes("generalized_box_iou", boxes2)
    inter, union = _inter_union(boxes1, boxes2)
    wh = _enclosing(boxes1, boxes2)
    area = wh[:, :, 0] * wh[:, :, 1]
    return inter / union - (area - union) / area


def _diou_iou(boxes1, boxes2, eps):
    inter, union = _inter_union(boxes1, boxes2)
    iou = inter / union
    wh = _enclosing(boxes1, boxes2)
    diagonal = wh[:, :, 0] ** 2 + wh[:, :, 1] ** 2 + eps
    centers1, centers2 = (boxes1[:, :2] + boxes1[:, 2:]) / 2, (boxes2[:, :2] + boxes2[:, 2:]) / 2
    distance = ((centers1[:, None, :] - centers2[None, :, :]) ** 2).sum(axis=-1)
    return iou - distance / diagonal, iou


def distance_box_iou(boxes1, boxes2, eps=1e-7):
    """IoU less the squared distance of the centers over the enclosing box's squared
    diagonal (Zheng et al. 2019)."""
    diou, _ = _diou_iou(_boxes("distance_box_iou", boxes1), _boxes("distance_box_iou", boxes2),
                        eps)
    return diou


def _aspect_term(w1, h1, w2, h2):
    return (4 / np.pi ** 2) * (ember.atan(w1 / h1) - ember.atan(w2 / h2)) ** 2


def complete_box_iou(boxes1, boxes2, eps=1e-7):
    """Distance IoU less alpha v, v the squared difference of the aspect angles (times
    4 / pi^2), alpha = v / (1 - IoU + v + eps) held constant in backward, as
    torchvision's."""
    boxes1, boxes2 = _boxes("complete_box_iou", boxes1), _boxes("complete_box_iou", boxes2)
    diou, iou = _diou_iou(boxes1, boxes2, eps)
    w1, h1 = boxes1[:, None, 2] - boxes1[:, None, 0], boxes1[:, None, 3] - boxes1[:, None, 1]
    w2, h2 = boxes2[:, 2] - boxes2[:, 0], boxes2[:, 3] - boxes2[:, 1]
    v = _aspect_term(w1, h1, w2, h2)
    with ember.no_grad():
        alpha = v / (1 - iou + v + eps)
    return diou - alpha.detach() * v


def clip_boxes_to_image(boxes, size):
    """Boxes (..., 4) with x clipped to [0, width] and y to [0, height]; ``size`` is
    (height, width)."""
    height, width = size
    x = ember.clip(boxes[..., 0::2], 0, width)
    y = ember.clip(boxes[..., 1::2], 0, height)
    return ember.stack([x, y], axis=-1).reshape(boxes.shape)


def remove_small_boxes(boxes, min_size):
    """The indices of the boxes whose sides are both at least ``min_size``."""
    boxes = _boxes("remove_small_boxes", boxes)
    keep = (boxes[:, 2] - boxes[:, 0] >= min_size) & (boxes[:, 3] - boxes[:, 1] >= min_size)
    return ember.nonzero(keep, as_tuple=True)[0]


def masks_to_boxes(masks):
    """The (N, 4) float boxes around each of N masks (H, W): the smallest and largest x
    and y of its nonzero pixels; a mask with none is refused, as torchvision's errs."""
    if masks.ndim != 3:
        raise ShapeError(f"masks_to_boxes: masks must be (N, H, W), got {masks.shape}")
    host = masks.numpy() != 0
    if host.size and not host.reshape(len(host), -1).any(axis=1).all():
        empty = int(np.flatnonzero(~host.reshape(len(host), -1).any(axis=1))[0])
        raise ShapeError(f"masks_to_boxes: mask {empty} has no nonzero pixel, so no box")
    out = np.zeros((masks.shape[0], 4), np.float32)
    for k, mask in enumerate(host):
        ys, xs = np.nonzero(mask)
        out[k] = xs.min(), ys.min(), xs.max(), ys.max()
    return ember.tensor(out, backend=masks.backend)


def nms(boxes, scores, iou_threshold):
    """Non-maximum suppression: the indices of the boxes kept, by decreasing
    score; a box is dropped when its IoU with a kept box of higher score is above
    ``iou_threshold``. Ties in score keep the earlier box first (a stable sort)."""
    boxes = _boxes("nms", boxes)
    if scores.ndim != 1 or scores.shape[0] != boxes.shape[0]:
        raise ShapeError(f"nms: scores must be 1-D, one per box ({boxes.shape[0]}), got "
                         f"{scores.shape}")
    return _indices(_nms_host(boxes.numpy().astype(np.float64), scores.numpy(), iou_threshold),
                    boxes)


def _indices(host, like):
    """Host indices as a tensor on ``like``'s backend, int64 where it holds it (WGSL's
    int32 elsewhere)."""
    return ember.tensor(host, dtype=like.backend.default_int, backend=like.backend)


def _by_score(scores):
    """Indices by decreasing score, ties in index order, NaN first (PyTorch's
    descending sort, which torchvision's NMS uses)."""
    s = scores.astype(np.float64)
    return np.lexsort((-s, ~np.isnan(s)))


def _nms_host(b, scores, threshold):
    order = _by_score(scores)
    x1, y1, x2, y2 = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    areas = (x2 - x1) * (y2 - y1)
    suppressed = np.zeros(len(b), bool)
    keep = []
    for pos, i in enumerate(order):
        if suppressed[i]:
            continue
        keep.append(i)
        rest = order[pos + 1:]
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]))
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]))
        inter = w * h
        with np.errstate(divide="ignore", invalid="ignore"):
            suppressed[rest[inter / (areas[i] + areas[rest] - inter) > threshold]] = True
    return np.array(keep, np.int64)


def batched_nms(boxes, scores, idxs, iou_threshold):
    """nms within each category of ``idxs`` (boxes of different categories never
    suppress each other); the kept indices by decreasing score."""
    boxes = _boxes("batched_nms", boxes)
    if idxs.shape != scores.shape or scores.shape != boxes.shape[:1]:
        raise ShapeError(f"batched_nms: scores {scores.shape} and idxs {idxs.shape} must "
                         f"each hold one value per box ({boxes.shape[0]})")
    b, s, groups = boxes.numpy().astype(np.float64), scores.numpy(), idxs.numpy()
    kept = np.zeros(len(b), bool)
    for group in np.unique(groups):
        members = np.flatnonzero(groups == group)
        kept[members[_nms_host(b[members], s[members], iou_threshold)]] = True
    chosen = np.flatnonzero(kept)
    chosen = chosen[_by_score(s[chosen])]
    return _indices(chosen, boxes)
