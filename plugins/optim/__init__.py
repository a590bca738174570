"""Optimizers, learning-rate schedulers and gradient clipping (``ember.plugins.optim``)."""

from .algorithms import (OPTIMIZERS, SGD, Adadelta, Adagrad, Adam, Adamax, AdamW, NAdam, RAdam,
                         RMSprop)
from .clip import clip_grad_norm_, clip_grad_value_
from .grad_scaler import GradScaler
from .optimizer import Optimizer, OptimizerExample
from .schedulers import (SCHEDULERS, CosineAnnealingLR, CosineWithWarmupLR, ExponentialLR,
                         LinearWarmup, LRScheduler, OneCycleLR, ReduceLROnPlateau,
                         SchedulerExample, StepLR)

__all__ = ["OPTIMIZERS", "SCHEDULERS", "SGD", "Adadelta", "Adagrad", "Adam", "AdamW", "Adamax",
           "CosineAnnealingLR", "CosineWithWarmupLR", "ExponentialLR", "GradScaler",
           "LRScheduler", "LinearWarmup", "NAdam", "OneCycleLR", "Optimizer", "OptimizerExample",
           "RAdam", "RMSprop", "ReduceLROnPlateau", "SchedulerExample", "StepLR",
           "clip_grad_norm_", "clip_grad_value_"]
