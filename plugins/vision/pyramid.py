"""The feature pyramid of detection models, torchvision's: FeaturePyramidNetwork (Lin
et al. 2017: lateral 1 x 1 convolutions, a top-down pathway of nearest upsampling, 3 x 3
smoothing) with its extra blocks LastLevelMaxPool and LastLevelP6P7, and
MultiScaleRoIAlign, which pools each box from the level its size belongs to. Their
names, arguments and state-dict keys are torchvision's."""

import math
from collections import OrderedDict

import numpy as np

import ember
from ember.errors import ShapeError
from ember.plugins import nn
from ember.plugins.nn import functional as F
from ember.plugins.nn import init

from .layers import Conv2dNormActivation
from .roi import _aligned, _rois


def _init_convolutions(module):
    """torchvision's initialization of a pyramid's convolutions: Kaiming uniform with
    a = 1, biases 0."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            init.kaiming_uniform_(m.weight, a=1)
            if m.bias is not None:
                init.constant_(m.bias, 0.0)


class LastLevelMaxPool(nn.Module):
    """One more level, "pool": the last one subsampled by 2 (max_pool2d of 1, stride 2)."""

    def forward(self, results, inputs, names):
        return results + [F.max_pool2d(results[-1], 1, 2, 0)], names + ["pool"]


class LastLevelP6P7(nn.Module):
    """RetinaNet's levels P6 and P7: 3 x 3 stride-2 convolutions of P5 (of C5 where the
    widths differ), the second after a ReLU."""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.p6 = nn.Conv2d(in_channels, out_channels, 3, 2, 1)
        self.p7 = nn.Conv2d(out_channels, out_channels, 3, 2, 1)
        _init_convolutions(self)
        self.use_P5 = in_channels == out_channels

    def forward(self, results, inputs, names):
        p6 = self.p6(results[-1] if self.use_P5 else inputs[-1])
        return results + [p6, self.p7(F.relu(p6))], names + ["p6", "p7"]


class FeaturePyramidNetwork(nn.Module):
    """``forward(features)``: an ordered dict of maps, finest first, to one of as many
    maps of ``out_channels`` each (plus the extra block's): each level's 1 x 1 lateral
    plus the coarser result upsampled (nearest) to its size, smoothed by a 3 x 3."""

    def __init__(self, in_channels_list, out_channels, extra_blocks=None, norm_layer=None):
        super().__init__()
        self.inner_blocks = nn.ModuleList()
        self.layer_blocks = nn.ModuleList()
        for in_channels in in_channels_list:
            if in_channels == 0:
                raise ValueError("FeaturePyramidNetwork: in_channels=0 is not supported")
            self.inner_blocks.append(Conv2dNormActivation(
                in_channels, out_channels, kernel_size=1, padding=0, norm_layer=norm_layer,
                activation_layer=None))
            self.layer_blocks.append(Conv2dNormActivation(
                out_channels, out_channels, kernel_size=3, norm_layer=norm_layer,
                activation_layer=None))
        _init_convolutions(self)
        self.extra_blocks = extra_blocks

    def forward(self, x):
        names, maps = list(x.keys()), list(x.values())
        if len(maps) != len(self.inner_blocks):
            raise ShapeError(f"FeaturePyramidNetwork: {len(maps)} feature maps for "
                             f"{len(self.inner_blocks)} levels")
        last = self.inner_blocks[-1](maps[-1])
        results = [self.layer_blocks[-1](last)]
        for k in range(len(maps) - 2, -1, -1):
            lateral = self.inner_blocks[k](maps[k])
            last = lateral + F.interpolate(last, size=lateral.shape[-2:], mode="nearest")
            results.insert(0, self.layer_blocks[k](last))
        if self.extra_blocks is not None:
            results, names = self.extra_blocks(results, maps, names)
        return OrderedDict(zip(names, results))


class MultiScaleRoIAlign(nn.Module):
    """``forward(x, boxes, image_shapes)``: RoIAlign of each box (a list of (L, 4) per
    image) on the map of ``featmap_names`` its size belongs to: level floor(4 +
    log2(sqrt(area) / 224) + 1e-6) (canonical_level, canonical_scale), clamped to the
    maps'; each map's scale is its size over the largest image's, rounded to a power
    of 2. The boxes' order is kept."""

    def __init__(self, featmap_names, output_size, sampling_ratio, *, canonical_scale=224,
                 canonical_level=4):
        super().__init__()
        self.featmap_names = list(featmap_names)
        self.output_size = (output_size, output_size) if isinstance(output_size, int) \
            else tuple(output_size)
        self.sampling_ratio = sampling_ratio
        self.canonical_scale, self.canonical_level = canonical_scale, canonical_level

    def forward(self, x, boxes, image_shapes):
        maps = [x[name] for name in self.featmap_names]
        height = max(s[0] for s in image_shapes)
        width = max(s[1] for s in image_shapes)
        scales = []
        for feature in maps:
            found = {2.0 ** round(math.log2(size / original))
                     for size, original in zip(feature.shape[-2:], (height, width))}
            if len(found) != 1:
                raise ShapeError(f"MultiScaleRoIAlign: a map of {feature.shape[-2:]} is not "
                                 f"one power-of-2 scale of the images' {(height, width)}")
            scales.append(found.pop())
        rois, images = _rois("MultiScaleRoIAlign", boxes, maps[0].shape[0])

        def pooled(feature, rows, scale):
            return _aligned(feature, rois[rows], images[rows], self.output_size, scale,
                            self.sampling_ratio, False)
        if len(maps) == 1:
            return pooled(maps[0], slice(None), scales[0])
        first, last = -math.log2(scales[0]), -math.log2(scales[-1])
        size = np.sqrt((rois[:, 3] - rois[:, 1]) * (rois[:, 4] - rois[:, 2]))
        levels = np.clip(np.floor(self.canonical_level + np.log2(size / self.canonical_scale)
                                  + 1e-6), first, last).astype(np.int64) - int(first)
        parts, order = [], []
        for level, (feature, scale) in enumerate(zip(maps, scales)):
            members = np.flatnonzero(levels == level)
            if len(members):
                parts.append(pooled(feature, members, scale))
                order.append(members)
        out = ember.concatenate(parts) if len(parts) > 1 else parts[0]
        back = np.argsort(np.concatenate(order), kind="stable")
        return ember.index_select(out, 0, ember.tensor(back, dtype=out.backend.default_int,
                                                       backend=out.backend))
