"""Losses (``ember.plugins.losses``), registered by name."""

from .losses import (BCELoss, BCEWithLogitsLoss, CosineEmbeddingLoss, CrossEntropyLoss,
                     GaussianNLLLoss, HingeEmbeddingLoss, HuberLoss, KLDivLoss, L1Loss, LOSSES,
                     Loss, LossExample, MSELoss, MarginRankingLoss, MultiLabelSoftMarginLoss,
                     MultiMarginLoss, NLLLoss, PoissonNLLLoss, SmoothL1Loss, SoftMarginLoss,
                     TokenCrossEntropyLoss, TripletMarginLoss, binary_cross_entropy,
                     binary_cross_entropy_with_logits, cosine_embedding_loss, cross_entropy,
                     gaussian_nll_loss, hinge_embedding_loss, huber_loss, kl_div, l1_loss,
                     margin_ranking_loss, mse_loss, multi_margin_loss, multilabel_soft_margin_loss,
                     nll_loss, poisson_nll_loss, smooth_l1_loss, soft_margin_loss,
                     multilabel_margin_loss, token_cross_entropy, triplet_margin_loss,
                     triplet_margin_with_distance_loss)
from .ctc import ctc_loss

__all__ = ["BCELoss", "BCEWithLogitsLoss", "CosineEmbeddingLoss", "CrossEntropyLoss",
           "GaussianNLLLoss", "HingeEmbeddingLoss", "HuberLoss", "KLDivLoss", "L1Loss", "LOSSES",
           "Loss", "LossExample", "MSELoss", "MarginRankingLoss", "MultiLabelSoftMarginLoss",
           "MultiMarginLoss", "NLLLoss", "PoissonNLLLoss", "SmoothL1Loss", "SoftMarginLoss",
           "TokenCrossEntropyLoss", "TripletMarginLoss", "binary_cross_entropy",
           "binary_cross_entropy_with_logits", "cosine_embedding_loss", "cross_entropy",
           "gaussian_nll_loss", "hinge_embedding_loss", "huber_loss", "kl_div", "l1_loss",
           "margin_ranking_loss", "mse_loss", "multi_margin_loss", "multilabel_soft_margin_loss",
           "nll_loss", "poisson_nll_loss", "smooth_l1_loss", "soft_margin_loss",
           "token_cross_entropy", "triplet_margin_loss", "multilabel_margin_loss",
           "triplet_margin_with_distance_loss", "ctc_loss"]
