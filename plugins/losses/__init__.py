"""Losses (``ember.plugins.losses``), registered by name."""

from .losses import (LOSSES, BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, KLDivLoss,
                     L1Loss, Loss, LossExample, MSELoss, NLLLoss, SmoothL1Loss,
                     TokenCrossEntropyLoss, binary_cross_entropy, binary_cross_entropy_with_logits,
                     cross_entropy, huber_loss, kl_div, l1_loss, mse_loss, nll_loss,
                     smooth_l1_loss, token_cross_entropy)

__all__ = ["LOSSES", "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "HuberLoss", "KLDivLoss",
           "L1Loss", "Loss", "LossExample", "MSELoss", "NLLLoss", "SmoothL1Loss",
           "TokenCrossEntropyLoss", "binary_cross_entropy", "binary_cross_entropy_with_logits",
           "cross_entropy", "huber_loss", "kl_div", "l1_loss", "mse_loss", "nll_loss",
           "smooth_l1_loss", "token_cross_entropy"]
