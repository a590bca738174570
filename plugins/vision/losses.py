"""torchvision's detection losses: the focal loss of RetinaNet and the IoU losses of
box regression (generalized, distance, complete), elementwise over pairs of boxes."""

import ember
from ember.plugins.losses import binary_cross_entropy_with_logits

from .boxes import _aspect_term

REDUCTIONS = ("none", "mean", "sum")


def _reduced(op, loss, reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"{op}: reduction must be 'none', 'mean' or 'sum', got {reduction!r}")
    if reduction == "mean":
        return loss.mean() if loss.size else loss.sum() * 0.0   # torchvision's 0 for none
    return loss.sum() if reduction == "sum" else loss


def sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2.0, reduction="none"):
    """Focal loss (Lin et al. 2017): BCE-with-logits times (1 - p_t)^gamma, p_t the
    probability of the true label, weighted by alpha for positives and 1 - alpha for
    negatives (alpha < 0: no weighting)."""
    p = ember.sigmoid(inputs)
    ce = binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    return _reduced("sigmoid_focal_loss", loss, reduction)


def _pairwise(boxes1, boxes2):
    """Each pair's intersection and union, and the columns of both (…, 4) box sets."""
    a, b = boxes1, boxes2
    if not a.dtype.is_float:
        a = a.to(dtype=ember.default_float)
    if not b.dtype.is_float:
        b = b.to(dtype=ember.default_float)
    x1, y1, x2, y2 = (a[..., k] for k in range(4))
    x1g, y1g, x2g, y2g = (b[..., k] for k in range(4))
    w = ember.clip(ember.minimum(x2, x2g) - ember.maximum(x1, x1g), min=0)
    h = ember.clip(ember.minimum(y2, y2g) - ember.maximum(y1, y1g), min=0)
    inter = w * h
    union = (x2 - x1) * (y2 - y1) + (x2g - x1g) * (y2g - y1g) - inter
    return inter, union, (x1, y1, x2, y2), (x1g, y1g, x2g, y2g)


def generalized_box_iou_loss(boxes1, boxes2, reduction="none", eps=1e-7):
    """1 - GIoU of each pair of boxes (…, 4), with eps in the divisions, torchvision's."""
    inter, union, (x1, y1, x2, y2), (x1g, y1g, x2g, y2g) = _pairwise(boxes1, boxes2)
    iou = inter / (union + eps)
    area = (ember.maximum(x2, x2g) - ember.minimum(x1, x1g)) * \
        (ember.maximum(y2, y2g) - ember.minimum(y1, y1g))
    return _reduced("generalized_box_iou_loss", 1 - (iou - (area - union) / (area + eps)),
                    reduction)


def _diou_loss(boxes1, boxes2, eps):
    inter, union, (x1, y1, x2, y2), (x1g, y1g, x2g, y2g) = _pairwise(boxes1, boxes2)
    iou = inter / (union + eps)
    diagonal = (ember.maximum(x2, x2g) - ember.minimum(x1, x1g)) ** 2 + \
        (ember.maximum(y2, y2g) - ember.minimum(y1, y1g)) ** 2 + eps
    distance = ((x1 + x2) / 2 - (x1g + x2g) / 2) ** 2 + ((y1 + y2) / 2 - (y1g + y2g) / 2) ** 2
    return 1 - iou + distance / diagonal, iou, ((x1, y1, x2, y2), (x1g, y1g, x2g, y2g))


def distance_box_iou_loss(boxes1, boxes2, reduction="none", eps=1e-7):
    """1 - DIoU of each pair: 1 - IoU + the centers' squared distance over the enclosing
    box's squared diagonal."""
    loss, _, _ = _diou_loss(boxes1, boxes2, eps)
    return _reduced("distance_box_iou_loss", loss, reduction)


def complete_box_iou_loss(boxes1, boxes2, reduction="none", eps=1e-7):
    """1 - CIoU of each pair: the DIoU loss plus alpha v (v the aspect angles' squared
    difference times 4 / pi^2, alpha = v / (1 - IoU + v + eps) held constant). Its DIoU
    part uses eps = 1e-7 whatever ``eps`` is, as torchvision's."""
    loss, iou, ((x1, y1, x2, y2), (x1g, y1g, x2g, y2g)) = _diou_loss(boxes1, boxes2, 1e-7)
    v = _aspect_term(x2g - x1g, y2g - y1g, x2 - x1, y2 - y1)
    with ember.no_grad():
        alpha = v / (1 - iou + v + eps)
    return _reduced("complete_box_iou_loss", loss + alpha.detach() * v, reduction)

