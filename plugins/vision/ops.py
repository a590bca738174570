"""torchvision.ops under its names: ``from ember.plugins.vision import ops`` then
``ops.nms(boxes, scores, 0.5)``."""

from .boxes import (batched_nms, box_area, box_convert, box_iou, clip_boxes_to_image,
                    complete_box_iou, distance_box_iou, generalized_box_iou, masks_to_boxes, nms,
                    remove_small_boxes)
from .deform import DeformConv2d, deform_conv2d
from .layers import (MLP, Conv2dNormActivation, FrozenBatchNorm2d, Permute, SqueezeExcitation,
                     StochasticDepth, stochastic_depth)
from .losses import (complete_box_iou_loss, distance_box_iou_loss, generalized_box_iou_loss,
                     sigmoid_focal_loss)
from .pyramid import (FeaturePyramidNetwork, LastLevelMaxPool, LastLevelP6P7,
                      MultiScaleRoIAlign)
from .roi import roi_align, roi_pool

__all__ = ["MLP", "Conv2dNormActivation", "DeformConv2d", "FeaturePyramidNetwork",
           "LastLevelMaxPool", "LastLevelP6P7", "MultiScaleRoIAlign", "deform_conv2d", "FrozenBatchNorm2d", "Permute", "SqueezeExcitation",
           "StochasticDepth", "batched_nms", "box_area", "box_convert", "box_iou",
           "clip_boxes_to_image", "complete_box_iou", "complete_box_iou_loss",
           "distance_box_iou", "distance_box_iou_loss", "generalized_box_iou",
           "generalized_box_iou_loss", "masks_to_boxes", "nms", "remove_small_boxes",
           "roi_align", "roi_pool", "sigmoid_focal_loss", "stochastic_depth"]
