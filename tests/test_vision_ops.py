"""ember.plugins.vision against references written here from torchvision's
definitions (its kernels and Python, read; the torchvision wheel here does not load
with the installed torch): float64 NumPy loops for RoIAlign, RoIPool and NMS, and the
box functions and losses in PyTorch (for their gradients) on every backend."""

import math

import numpy as np
import pytest

import ember
from ember.plugins import nn
from ember.plugins.vision import ops

torch = pytest.importorskip("torch", reason="PyTorch is an oracle here (pip install torch)")


def _random_boxes(rng, n, size=20.0):
    xy = rng.uniform(0, size, (n, 2))
    wh = rng.uniform(1, size / 2, (n, 2))
    return np.concatenate([xy, xy + wh], axis=1)


# -- references -----------------------------------------------------------------------
def _bilinear(plane, y, x):
    """torchvision's bilinear_interpolate, one sample (0 outside [-1, size])."""
    h, w = plane.shape
    if not (-1.0 <= y <= h and -1.0 <= x <= w):
        return 0.0
    y, x = max(y, 0.0), max(x, 0.0)
    y0, x0 = int(y), int(x)
    if y0 >= h - 1:
        y0 = y1 = h - 1
        y = float(y0)
    else:
        y1 = y0 + 1
    if x0 >= w - 1:
        x0 = x1 = w - 1
        x = float(x0)
    else:
        x1 = x0 + 1
    ly, lx = y - y0, x - x0
    return ((1 - ly) * (1 - lx) * plane[y0, x0] + (1 - ly) * lx * plane[y0, x1]
            + ly * (1 - lx) * plane[y1, x0] + ly * lx * plane[y1, x1])


def _roi_align_reference(x, rois, ph, pw, scale, ratio, aligned):
    out = np.zeros((len(rois), x.shape[1], ph, pw))
    for k, (b, *corners) in enumerate(rois):
        off = 0.5 if aligned else 0.0
        x1, y1, x2, y2 = (c * scale - off for c in corners)
        rw, rh = x2 - x1, y2 - y1
        if not aligned:
            rw, rh = max(rw, 1.0), max(rh, 1.0)
        bh, bw = rh / ph, rw / pw
        gh = ratio if ratio > 0 else math.ceil(rh / ph)
        gw = ratio if ratio > 0 else math.ceil(rw / pw)
        count = max(gh * gw, 1)
        for c in range(x.shape[1]):
            for p in range(ph):
                for q in range(pw):
                    total = 0.0
                    for iy in range(gh):
                        y = y1 + p * bh + (iy + 0.5) * bh / gh
                        for ix in range(gw):
                            xx = x1 + q * bw + (ix + 0.5) * bw / gw
                            total += _bilinear(x[int(b), c], y, xx)
                    out[k, c, p, q] = total / count
    return out


def _roi_pool_reference(x, rois, ph, pw, scale):
    out = np.zeros((len(rois), x.shape[1], ph, pw))
    h, w = x.shape[2:]
    rnd = lambda v: int(math.copysign(math.floor(abs(v) + 0.5), v))  # noqa: E731  (C's round)
    for k, (b, *corners) in enumerate(rois):
        x1, y1, x2, y2 = (rnd(c * scale) for c in corners)
        bh, bw = max(y2 - y1 + 1, 1) / ph, max(x2 - x1 + 1, 1) / pw
        for p in range(ph):
            hs = min(max(math.floor(p * bh) + y1, 0), h)
            he = min(max(math.ceil((p + 1) * bh) + y1, 0), h)
            for q in range(pw):
                ws = min(max(math.floor(q * bw) + x1, 0), w)
                we = min(max(math.ceil((q + 1) * bw) + x1, 0), w)
                if he > hs and we > ws:
                    out[k, :, p, q] = x[int(b), :, hs:he, ws:we].max(axis=(1, 2))
    return out


def _nms_reference(boxes, scores, threshold):
    order = sorted(range(len(boxes)), key=lambda i: -scores[i])
    keep, dropped = [], set()
    for i in order:
        if i in dropped:
            continue
        keep.append(i)
        for j in order:
            if j in dropped or j == i or j in keep:
                continue
            a, b = boxes[i], boxes[j]
            inter = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * \
                max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
            union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
            if inter / union > threshold:
                dropped.add(j)
    return keep


# -- RoIAlign and RoIPool -------------------------------------------------------------
ALIGN_CASES = [((3, 3), 1.0, 2, False), ((2, 4), 0.5, -1, False), ((3, 2), 0.5, 0, True),
               ((1, 1), 0.25, 3, True)]


@pytest.mark.parametrize("size, scale, ratio, aligned", ALIGN_CASES)
def test_roi_align_is_torchvisions(backend, size, scale, ratio, aligned):
    """Fixed and adaptive sampling grids, both alignments, boxes reaching past the image
    and a degenerate one: within 1e-5 of the float64 loop (float32)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 9, 11))
    boxes = _random_boxes(rng, 5, 24.0) - 2.0
    boxes[4] = [6.0, 6.0, 6.0, 6.0]                 # a point: 1 x 1 unaligned, empty aligned
    rois = np.concatenate([rng.integers(0, 2, (5, 1)), boxes], axis=1)
    want = _roi_align_reference(x, rois, *size, scale, ratio, aligned)
    got = ops.roi_align(ember.tensor(x.astype(np.float32), backend=backend),
                        ember.tensor(rois.astype(np.float32), backend=backend), size, scale,
                        ratio, aligned)
    np.testing.assert_allclose(got.numpy(), want, rtol=0, atol=1e-5 * np.abs(want).max())


def test_roi_align_takes_a_list_of_boxes_and_differentiates_in_the_features():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 2, 6, 7))
    per_image = [_random_boxes(rng, 2, 8.0), _random_boxes(rng, 3, 8.0)]
    rois = np.concatenate([np.concatenate([np.full((len(b), 1), k), b], axis=1)
                           for k, b in enumerate(per_image)])
    got = ops.roi_align(ember.tensor(x), [ember.tensor(b) for b in per_image], 3, 1.0, 2)
    np.testing.assert_allclose(got.numpy(), _roi_align_reference(x, rois, 3, 3, 1.0, 2, False),
                               rtol=1e-12, atol=1e-14)
    boxes = ember.tensor(rois)
    assert ember.autograd.gradcheck(lambda t: ops.roi_align(t, boxes, 2, 1.0, -1, True),
                           (ember.tensor(x, requires_grad=True),))


def test_roi_pool_is_torchvisions_and_its_gradient_goes_to_each_window_maximum(backend):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 8, 10))
    rois = np.concatenate([rng.integers(0, 2, (6, 1)), _random_boxes(rng, 6, 24.0) - 3.0], axis=1)
    rois[5, 1:] = [30.0, 30.0, 40.0, 40.0]          # wholly outside: zeros
    want = _roi_pool_reference(x, rois, 3, 2, 0.5)
    t = ember.tensor(x.astype(np.float32), backend=backend, requires_grad=True)
    got = ops.roi_pool(t, ember.tensor(rois.astype(np.float32), backend=backend), (3, 2), 0.5)
    np.testing.assert_allclose(got.numpy(), want, rtol=0, atol=1e-6 * np.abs(want).max())
    got.sum().backward()
    # each window's maximum gets 1 per window it leads; the gradient sums to the windows
    # that are not empty
    assert t.grad.numpy().sum() == pytest.approx(np.count_nonzero(
        [(want[k, :, p, q] != 0).any() for k in range(6) for p in range(3) for q in range(2)]) * 3)
    if backend.name == "numpy":                     # (central differences in float64)
        assert ember.autograd.gradcheck(lambda v: ops.roi_pool(v, ember.tensor(rois), 2, 0.5),
                                        (ember.tensor(x, requires_grad=True),))


# -- NMS ------------------------------------------------------------------------------
def test_nms_keeps_what_torchvision_keeps(backend):
    rng = np.random.default_rng(3)
    boxes = _random_boxes(rng, 60, 30.0).astype(np.float32).astype(np.float64)
    scores = rng.uniform(size=60).astype(np.float32).astype(np.float64)
    scores[[7, 8]] = scores[9]                      # ties keep the earlier index first
    for threshold in (0.0, 0.3, 0.5, 0.9):
        got = ops.nms(ember.tensor(boxes.astype(np.float32), backend=backend),
                      ember.tensor(scores.astype(np.float32), backend=backend), threshold)
        assert got.numpy().tolist() == _nms_reference(boxes, scores, threshold)
    known = ops.nms(ember.tensor([[0.0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]]),
                    ember.tensor([0.9, 0.8, 0.7]), 0.5)      # IoU(0, 1) = 81 / 119
    assert known.numpy().tolist() == [0, 2]
    empty = ops.nms(ember.zeros(0, 4), ember.zeros(0), 0.5)
    assert empty.shape == (0,)
    # a NaN score sorts first (PyTorch's descending sort), an infinite one next
    odd = ops.nms(ember.tensor([[0.0, 0, 10, 10], [0.5, 0, 10, 10], [0, 0.5, 10, 10],
                                [30, 30, 40, 40]]),
                  ember.tensor([0.9, np.nan, np.inf, 0.1]), 0.5)
    assert odd.numpy().tolist() == [1, 3]


def test_batched_nms_suppresses_only_within_a_category():
    rng = np.random.default_rng(4)
    boxes, scores = _random_boxes(rng, 40, 15.0), rng.uniform(size=40)
    groups = rng.integers(0, 3, 40)
    want = []
    for g in range(3):
        members = np.flatnonzero(groups == g)
        want += [members[i] for i in _nms_reference(boxes[members], scores[members], 0.4)]
    want = sorted(want, key=lambda i: -scores[i])
    got = ops.batched_nms(ember.tensor(boxes), ember.tensor(scores), ember.tensor(groups), 0.4)
    assert got.numpy().tolist() == want


# -- boxes and losses (against torchvision's Python, in PyTorch, for the gradients) ---
def _t_inter_union(a, b):
    area = lambda x: (x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1])  # noqa: E731
    lt = torch.max(a[:, None, :2], b[:, :2])
    rb = torch.min(a[:, None, 2:], b[:, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[:, :, 0] * wh[:, :, 1]
    return inter, area(a)[:, None] + area(b) - inter


def _t_giou(a, b):
    inter, union = _t_inter_union(a, b)
    wh = (torch.max(a[:, None, 2:], b[:, 2:]) - torch.min(a[:, None, :2], b[:, :2])).clamp(min=0)
    area = wh[:, :, 0] * wh[:, :, 1]
    return inter / union - (area - union) / area


def _t_diou(a, b, eps=1e-7):
    inter, union = _t_inter_union(a, b)
    iou = inter / union
    wh = (torch.max(a[:, None, 2:], b[:, 2:]) - torch.min(a[:, None, :2], b[:, :2])).clamp(min=0)
    diag = wh[:, :, 0] ** 2 + wh[:, :, 1] ** 2 + eps
    ca, cb = (a[:, :2] + a[:, 2:]) / 2, (b[:, :2] + b[:, 2:]) / 2
    dist = ((ca[:, None] - cb[None]) ** 2).sum(-1)
    return iou - dist / diag, iou


def _t_ciou(a, b, eps=1e-7):
    diou, iou = _t_diou(a, b, eps)
    wa, ha = a[:, None, 2] - a[:, None, 0], a[:, None, 3] - a[:, None, 1]
    wb, hb = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    v = 4 / math.pi ** 2 * (torch.atan(wa / ha) - torch.atan(wb / hb)) ** 2
    with torch.no_grad():
        alpha = v / (1 - iou + v + eps)
    return diou - alpha * v


def _t_pair_losses(a, b, kind, eps=1e-7):
    x1, y1, x2, y2 = a.unbind(-1)
    x1g, y1g, x2g, y2g = b.unbind(-1)
    w = (torch.min(x2, x2g) - torch.max(x1, x1g)).clamp(min=0)
    h = (torch.min(y2, y2g) - torch.max(y1, y1g)).clamp(min=0)
    inter = w * h
    union = (x2 - x1) * (y2 - y1) + (x2g - x1g) * (y2g - y1g) - inter
    iou = inter / (union + eps)
    xc1, yc1 = torch.min(x1, x1g), torch.min(y1, y1g)
    xc2, yc2 = torch.max(x2, x2g), torch.max(y2, y2g)
    if kind == "giou":
        area = (xc2 - xc1) * (yc2 - yc1)
        return 1 - (iou - (area - union) / (area + eps))
    diag = (xc2 - xc1) ** 2 + (yc2 - yc1) ** 2 + 1e-7
    dist = ((x1 + x2) / 2 - (x1g + x2g) / 2) ** 2 + ((y1 + y2) / 2 - (y1g + y2g) / 2) ** 2
    loss = 1 - iou + dist / diag
    if kind == "diou":
        return loss
    v = 4 / math.pi ** 2 * (torch.atan((x2g - x1g) / (y2g - y1g)) - torch.atan((x2 - x1) / (y2 - y1))) ** 2
    with torch.no_grad():
        alpha = v / (1 - iou + v + eps)
    return loss + alpha * v


def _t_focal(x, t, alpha=0.25, gamma=2.0):
    p = torch.sigmoid(x)
    ce = torch.nn.functional.binary_cross_entropy_with_logits(x, t, reduction="none")
    p_t = p * t + (1 - p) * (1 - t)
    loss = ce * (1 - p_t) ** gamma
    return (alpha * t + (1 - alpha) * (1 - t)) * loss if alpha >= 0 else loss


PAIRWISE = [("box_iou", lambda a, b: _t_inter_union(a, b)[0] / _t_inter_union(a, b)[1]),
            ("generalized_box_iou", _t_giou), ("distance_box_iou", lambda a, b: _t_diou(a, b)[0]),
            ("complete_box_iou", _t_ciou)]


@pytest.mark.parametrize("name, reference", PAIRWISE, ids=[p[0] for p in PAIRWISE])
def test_pairwise_box_measures_and_gradients_are_torchvisions(backend, name, reference):
    rng = np.random.default_rng(5)
    a, b = _random_boxes(rng, 5, 10.0), _random_boxes(rng, 4, 10.0)
    b[0] = a[0]                                      # one identical pair
    dtype = np.float64 if backend.name == "numpy" else np.float32
    ta, tb = (torch.tensor(v, requires_grad=True) for v in (a, b))
    ea, eb = (ember.tensor(v.astype(dtype), backend=backend, requires_grad=True) for v in (a, b))
    want, got = reference(ta, tb), getattr(ops, name)(ea, eb)
    weights = rng.standard_normal(tuple(want.shape))
    (want * torch.tensor(weights)).sum().backward()
    (got * ember.tensor(weights.astype(dtype), backend=backend)).sum().backward()
    tol = 1e-12 if dtype is np.float64 else 2e-5
    for g, w in ((got, want), (ea.grad, ta.grad), (eb.grad, tb.grad)):
        w = w.detach().numpy()
        np.testing.assert_allclose(g.numpy(), w, rtol=0, atol=tol * np.abs(w).max())


LOSSES = [("generalized_box_iou_loss", "giou"), ("distance_box_iou_loss", "diou"),
          ("complete_box_iou_loss", "ciou")]


@pytest.mark.parametrize("name, kind", LOSSES, ids=[p[0] for p in LOSSES])
def test_box_losses_and_the_focal_loss_are_torchvisions(name, kind):
    rng = np.random.default_rng(6)
    a, b = _random_boxes(rng, 6, 10.0), _random_boxes(rng, 6, 10.0)
    for reduction in ("none", "mean", "sum"):
        ta, tb = (torch.tensor(v, requires_grad=True) for v in (a, b))
        ea, eb = (ember.tensor(v, requires_grad=True) for v in (a, b))
        want = _t_pair_losses(ta, tb, kind)
        want = {"none": want, "mean": want.mean(), "sum": want.sum()}[reduction]
        got = getattr(ops, name)(ea, eb, reduction=reduction)
        want.sum().backward()
        got.sum().backward()
        for g, w in ((got, want), (ea.grad, ta.grad), (eb.grad, tb.grad)):
            np.testing.assert_allclose(g.numpy(), w.detach().numpy(), rtol=1e-12, atol=1e-14)
    x, t = rng.standard_normal((4, 5)) * 3, (rng.uniform(size=(4, 5)) > 0.7) * 1.0
    for alpha, gamma in ((0.25, 2.0), (-1.0, 1.5)):
        tx = torch.tensor(x, requires_grad=True)
        ex = ember.tensor(x, requires_grad=True)
        want = _t_focal(tx, torch.tensor(t), alpha, gamma).mean()
        got = ops.sigmoid_focal_loss(ex, ember.tensor(t), alpha, gamma, reduction="mean")
        want.backward()
        got.backward()
        np.testing.assert_allclose(got.item(), want.item(), rtol=1e-12)
        np.testing.assert_allclose(ex.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-15)
    assert ops.generalized_box_iou_loss(ember.zeros(0, 4), ember.zeros(0, 4), "mean").item() == 0.0
    with pytest.raises(ValueError, match="reduction must be 'none', 'mean' or 'sum'"):
        ops.sigmoid_focal_loss(ex, ember.tensor(t), reduction="avg")


def test_box_conversions_clipping_and_small_boxes():
    rng = np.random.default_rng(7)
    xyxy = _random_boxes(rng, 6)
    xywh = np.concatenate([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]], axis=1)
    cxcywh = np.concatenate([(xyxy[:, :2] + xyxy[:, 2:]) / 2, xyxy[:, 2:] - xyxy[:, :2]], axis=1)
    forms = {"xyxy": xyxy, "xywh": xywh, "cxcywh": cxcywh}
    for a, va in forms.items():
        for b, vb in forms.items():
            np.testing.assert_allclose(ops.box_convert(ember.tensor(va), a, b).numpy(), vb,
                                       rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ops.box_area(ember.tensor(xyxy)).numpy(),
                               xywh[:, 2] * xywh[:, 3], rtol=1e-12)
    clipped = ops.clip_boxes_to_image(ember.tensor(xyxy - 5.0), (12, 9)).numpy()
    np.testing.assert_array_equal(clipped, np.stack([np.clip(xyxy[:, 0] - 5, 0, 9),
                                                     np.clip(xyxy[:, 1] - 5, 0, 12),
                                                     np.clip(xyxy[:, 2] - 5, 0, 9),
                                                     np.clip(xyxy[:, 3] - 5, 0, 12)], axis=1))
    keep = ops.remove_small_boxes(ember.tensor(xyxy), 4.0).numpy()
    assert keep.tolist() == np.flatnonzero((xywh[:, 2] >= 4) & (xywh[:, 3] >= 4)).tolist()
    masks = np.zeros((2, 5, 6))
    masks[0, 1:3, 2:5] = 1
    masks[1, 4, 0] = 1
    np.testing.assert_array_equal(ops.masks_to_boxes(ember.tensor(masks)).numpy(),
                                  [[2, 1, 4, 2], [0, 4, 0, 4]])
    with pytest.raises(ValueError, match="formats are xyxy, xywh, cxcywh"):
        ops.box_convert(ember.tensor(xyxy), "xyxy", "xywhr")
    with pytest.raises(ember.ShapeError, match=r"boxes must be a \(N, 4\) tensor"):
        ops.box_iou(ember.zeros(3, 5), ember.zeros(2, 4))


# -- layers ---------------------------------------------------------------------------
def test_torchvision_layers_hold_its_keys_and_compute_its_outputs():
    """Conv2dNormActivation and MLP as the Sequentials torchvision builds (the same keys,
    PyTorch's outputs from the same state), FrozenBatchNorm2d as the formula (and a
    checkpoint's num_batches_tracked dropped), SqueezeExcitation's keys."""
    torch.manual_seed(0)
    theirs = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, 2, 1, bias=False),
                                 torch.nn.BatchNorm2d(4), torch.nn.ReLU()).eval()
    ours = ops.Conv2dNormActivation(3, 4, stride=2).eval()
    state = {k: ember.tensor(v.numpy()) for k, v in theirs.state_dict().items()}
    assert list(ours.state_dict()) == list(state)
    ours.load_state_dict(state)
    x = np.random.default_rng(8).standard_normal((2, 3, 7, 6)).astype(np.float32)
    np.testing.assert_allclose(ours(ember.tensor(x)).numpy(), theirs(torch.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)
    mlp = ops.MLP(5, [6, 3], norm_layer=nn.LayerNorm, dropout=0.1)
    assert [type(m).__name__ for m in mlp] == ["Linear", "LayerNorm", "ReLU", "Dropout", "Linear",
                                               "Dropout"]
    frozen = ops.FrozenBatchNorm2d(3)
    rng = np.random.default_rng(9)
    values = {k: rng.uniform(0.5, 2, 3) for k in ("weight", "bias", "running_mean", "running_var")}
    frozen.load_state_dict({**{k: ember.tensor(v) for k, v in values.items()},
                            "num_batches_tracked": ember.tensor(7)})
    x = rng.standard_normal((2, 3, 4, 4))
    want = (x - values["running_mean"][:, None, None]) / np.sqrt(
        values["running_var"][:, None, None] + 1e-5) * values["weight"][:, None, None] + \
        values["bias"][:, None, None]
    np.testing.assert_allclose(frozen(ember.tensor(x)).numpy(), want, rtol=0,
                               atol=1e-6 * np.abs(want).max())      # (float32 buffers)
    se = ops.SqueezeExcitation(8, 2)
    assert list(se.state_dict()) == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]


def test_stochastic_depth_drops_whole_rows_and_scales_the_rest():
    x = ember.ones(4000, 3)
    out = ops.stochastic_depth(x, 0.25, "row").numpy()
    rows = out[:, 0]
    assert set(np.unique(out)) <= {0.0, np.float32(1.0) / np.float32(0.75)}
    assert (out == rows[:, None]).all()
    dropped = np.mean(rows == 0)
    assert abs(dropped - 0.25) < 4 * math.sqrt(0.25 * 0.75 / 4000)
    whole = ops.stochastic_depth(x, 0.5, "batch").numpy()
    assert len(np.unique(whole)) == 1
    assert ops.stochastic_depth(x, 0.9, "row", training=False) is x
    assert (ops.stochastic_depth(x, 1.0, "row").numpy() == 0).all()
    with pytest.raises(ValueError, match="mode must be 'batch' or 'row'"):
        ops.stochastic_depth(x, 0.5, "col")


# -- deformable convolution -----------------------------------------------------------
def _deform_sample(plane, y, x):
    """torchvision's bilinear_interpolate of deform_conv2d (each neighbour outside: 0)."""
    h, w = plane.shape
    if y <= -1 or y >= h or x <= -1 or x >= w:
        return 0.0
    y0, x0 = math.floor(y), math.floor(x)
    ly, lx = y - y0, x - x0
    at = lambda r, c: plane[r, c] if 0 <= r < h and 0 <= c < w else 0.0  # noqa: E731
    return ((1 - ly) * (1 - lx) * at(y0, x0) + (1 - ly) * lx * at(y0, x0 + 1)
            + ly * (1 - lx) * at(y0 + 1, x0) + ly * lx * at(y0 + 1, x0 + 1))


def _deform_reference(x, offset, weight, bias, stride, pad, dil, mask):
    n, c, h, w = x.shape
    cout, cpg, kh, kw = weight.shape
    groups, oh, ow = c // cpg, offset.shape[2], offset.shape[3]
    og = offset.shape[1] // (2 * kh * kw)
    cols = np.zeros((n, c, kh * kw, oh, ow))
    for b in range(n):
        for ch in range(c):
            g = ch // (c // og)
            for i in range(kh):
                for j in range(kw):
                    k = i * kw + j
                    for r in range(oh):
                        for q in range(ow):
                            y = r * stride[0] - pad[0] + i * dil[0] + offset[b, g * 2 * kh * kw + 2 * k, r, q]
                            xx = q * stride[1] - pad[1] + j * dil[1] + offset[b, g * 2 * kh * kw + 2 * k + 1, r, q]
                            v = _deform_sample(x[b, ch], y, xx)
                            if mask is not None:
                                v *= mask[b, g * kh * kw + k, r, q]
                            cols[b, ch, k, r, q] = v
    out = np.zeros((n, cout, oh, ow))
    per = cout // groups
    for g in range(groups):
        wg = weight[g * per:(g + 1) * per].reshape(per, -1)
        colg = cols[:, g * cpg:(g + 1) * cpg].reshape(n, cpg * kh * kw, oh * ow)
        out[:, g * per:(g + 1) * per] = (wg @ colg).reshape(n, per, oh, ow)
    return out + (0 if bias is None else bias[None, :, None, None])


DEFORM_CASES = [dict(stride=(1, 1), pad=(1, 1), dil=(1, 1), groups=1, og=1, mask=False),
                dict(stride=(2, 1), pad=(0, 2), dil=(1, 2), groups=2, og=2, mask=True),
                dict(stride=(1, 2), pad=(1, 0), dil=(2, 1), groups=1, og=4, mask=True)]


@pytest.mark.parametrize("case", range(len(DEFORM_CASES)))
def test_deform_conv2d_is_torchvisions(backend, case):
    """Strides, paddings, dilations, groups, offset groups, DCNv2 masks, and offsets
    that carry taps off the image: within 1e-5 of the float64 loop (float32)."""
    c = DEFORM_CASES[case]
    rng = np.random.default_rng(10 + case)
    x = rng.standard_normal((2, 4, 6, 7))
    weight = rng.standard_normal((6, 4 // c["groups"], 3, 2))
    bias = rng.standard_normal(6)
    oh = (6 + 2 * c["pad"][0] - (c["dil"][0] * 2 + 1)) // c["stride"][0] + 1
    ow = (7 + 2 * c["pad"][1] - (c["dil"][1] * 1 + 1)) // c["stride"][1] + 1
    offset = rng.standard_normal((2, 2 * c["og"] * 6, oh, ow)) * 2.5
    mask = rng.uniform(size=(2, c["og"] * 6, oh, ow)) if c["mask"] else None
    want = _deform_reference(x, offset, weight, bias, c["stride"], c["pad"], c["dil"], mask)
    f32 = lambda a: None if a is None else ember.tensor(a.astype(np.float32), backend=backend)  # noqa: E731
    got = ops.deform_conv2d(f32(x), f32(offset), f32(weight), f32(bias), c["stride"], c["pad"],
                            c["dil"], f32(mask))
    np.testing.assert_allclose(got.numpy(), want, rtol=0, atol=1e-5 * np.abs(want).max())


def test_deform_conv2d_differentiates_in_every_input():
    """Central differences in float64 for the input, the offsets, the mask, the weight
    and the bias (offsets kept off the pixel grid, where the bilinear weights kink)."""
    rng = np.random.default_rng(20)
    x, weight = rng.standard_normal((1, 2, 4, 5)), rng.standard_normal((3, 2, 2, 2))
    offset = rng.uniform(0.1, 0.9, (1, 8, 3, 4)) * rng.choice([-1, 1], (1, 8, 3, 4))
    mask, bias = rng.uniform(size=(1, 4, 3, 4)), rng.standard_normal(3)
    leaves = [ember.tensor(a, requires_grad=True) for a in (x, offset, weight, bias, mask)]
    assert ember.autograd.gradcheck(
        lambda a, o, w, b, m: ops.deform_conv2d(a, o, w, b, 1, 0, 1, m), tuple(leaves))
    with pytest.raises(ember.ShapeError, match=r"offset must be \(N, 2 \* offset_groups"):
        ops.deform_conv2d(leaves[0], leaves[1][:, :5], leaves[2])


# -- the feature pyramid --------------------------------------------------------------
def _torch_fpn(state, maps, p6p7=None):
    """torchvision's FeaturePyramidNetwork forward, written in PyTorch, from a state dict."""
    tf = torch.nn.functional
    w = {k: torch.tensor(v) for k, v in state.items()}
    conv = lambda x, name, pad: tf.conv2d(x, w[name + ".weight"], w[name + ".bias"], padding=pad)  # noqa: E731
    last = conv(maps[-1], f"inner_blocks.{len(maps) - 1}.0", 0)
    results = [conv(last, f"layer_blocks.{len(maps) - 1}.0", 1)]
    for k in range(len(maps) - 2, -1, -1):
        lateral = conv(maps[k], f"inner_blocks.{k}.0", 0)
        last = lateral + tf.interpolate(last, size=lateral.shape[-2:], mode="nearest")
        results.insert(0, conv(last, f"layer_blocks.{k}.0", 1))
    if p6p7 == "pool":
        results.append(tf.max_pool2d(results[-1], 1, 2, 0))
    elif p6p7 is not None:
        p6 = tf.conv2d(maps[-1], w["extra_blocks.p6.weight"], w["extra_blocks.p6.bias"], stride=2, padding=1)
        results += [p6, tf.conv2d(tf.relu(p6), w["extra_blocks.p7.weight"], w["extra_blocks.p7.bias"],
                                  stride=2, padding=1)]
    return results


@pytest.mark.parametrize("extra", [None, "pool", "p6p7"])
def test_feature_pyramid_is_torchvisions(extra):
    """Three levels (odd sizes: the top-down upsampling is nearest to each lateral's
    size), torchvision's keys, its extra blocks: PyTorch's outputs from the same state."""
    rng = np.random.default_rng(21)
    maps = [rng.standard_normal(s).astype(np.float32) for s in
            ((2, 3, 13, 15), (2, 5, 7, 8), (2, 4, 4, 4))]
    blocks = {None: None, "pool": ops.LastLevelMaxPool(), "p6p7": ops.LastLevelP6P7(4, 6)}[extra]
    fpn = ops.FeaturePyramidNetwork([3, 5, 4], 6, extra_blocks=blocks)
    state = {k: v.numpy() for k, v in fpn.state_dict().items()}
    assert [k for k in state if k.startswith("inner")] == [
        f"inner_blocks.{i}.0.{p}" for i in range(3) for p in ("weight", "bias")]
    out = fpn(dict(zip("abc", (ember.tensor(m) for m in maps))))
    want = _torch_fpn(state, [torch.tensor(m) for m in maps], extra)
    assert list(out) == ["a", "b", "c"] + {None: [], "pool": ["pool"], "p6p7": ["p6", "p7"]}[extra]
    for got, w in zip(out.values(), want):
        np.testing.assert_allclose(got.numpy(), w.numpy(), rtol=0, atol=2e-5 * np.abs(w.numpy()).max())


def test_multi_scale_roi_align_pools_each_box_from_its_level():
    """Boxes of many sizes on a pyramid of scales 1/4, 1/8 and 1/16: each pooled by the
    float64 RoIAlign loop from the level floor(4 + log2(sqrt(area) / 224)) clamped to
    [2, 4], in the boxes' order."""
    rng = np.random.default_rng(22)
    maps = {"p2": rng.standard_normal((2, 3, 32, 40)), "p3": rng.standard_normal((2, 3, 16, 20)),
            "p4": rng.standard_normal((2, 3, 8, 10))}
    sizes = [8, 40, 100, 150, 300, 500, 20, 64]
    per_image = []
    for image in range(2):
        xy = rng.uniform(0, 60, (len(sizes), 2))
        per_image.append(np.concatenate([xy, xy + np.array(sizes)[:, None]], axis=1))
    pooler = ops.MultiScaleRoIAlign(["p2", "p3", "p4"], 3, 2)
    got = pooler({k: ember.tensor(v) for k, v in maps.items()},
                 [ember.tensor(b) for b in per_image], [(128, 160), (120, 150)]).numpy()
    rows = [(image, box) for image, boxes in enumerate(per_image) for box in boxes]
    assert got.shape == (len(rows), 3, 3, 3)
    for k, (image, box) in enumerate(rows):
        side = math.sqrt((box[2] - box[0]) * (box[3] - box[1]))
        level = int(min(max(math.floor(4 + math.log2(side / 224) + 1e-6), 2), 4))
        feature = maps[f"p{level}"]
        want = _roi_align_reference(feature, np.array([[image, *box]]), 3, 3, 2.0 ** -level, 2,
                                    False)[0]
        np.testing.assert_allclose(got[k], want, rtol=1e-12, atol=1e-14, err_msg=f"box {k}")
