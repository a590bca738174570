"""Optimizers, learning-rate schedulers and gradient clipping (``ember.plugins.optim``)."""

from . import lr_scheduler
from .algorithms import (ASGD, SGD, Adadelta, Adagrad, Adam, Adamax, AdamW, NAdam, RAdam,
                         RMSprop, Rprop)
from .algorithms import OPTIMIZERS as _ELEMENTWISE
from .matrix_rules import Adafactor, Muon
from .lbfgs import LBFGS
from .clip import clip_grad_norm_, clip_grad_value_
from .grad_scaler import GradScaler
from .optimizer import Optimizer, OptimizerExample
from .optimizer_hooks import register_optimizer_step_post_hook, register_optimizer_step_pre_hook
from .schedulers import (SCHEDULERS, ChainedScheduler, ConstantLR, CosineAnnealingLR,
                         CosineAnnealingWarmRestarts, CosineWithWarmupLR, CyclicLR, ExponentialLR,
                         LambdaLR, LinearLR, LinearWarmup, LRScheduler, MultiplicativeLR,
                         MultiStepLR, OneCycleLR, PolynomialLR, ReduceLROnPlateau,
                         SchedulerExample, SequentialLR, StepLR)

#: every optimizer registered by name (LBFGS, which needs a closure, is not)
OPTIMIZERS = {**_ELEMENTWISE, "adafactor": Adafactor, "muon": Muon}

__all__ = ["ASGD", "Adafactor", "ChainedScheduler", "Muon", "LBFGS", "OPTIMIZERS", "Rprop", "SCHEDULERS", "SGD", "Adadelta", "Adagrad", "Adam", "AdamW", "Adamax",
           "ConstantLR", "CosineAnnealingLR", "CosineAnnealingWarmRestarts", "CosineWithWarmupLR",
           "CyclicLR",
           "ExponentialLR", "GradScaler", "LRScheduler", "LambdaLR", "LinearLR", "LinearWarmup",
           "MultiStepLR", "MultiplicativeLR", "NAdam", "OneCycleLR", "Optimizer",
           "OptimizerExample", "PolynomialLR", "RAdam", "RMSprop", "ReduceLROnPlateau",
           "SchedulerExample", "SequentialLR", "StepLR",
           "clip_grad_norm_", "clip_grad_value_", "lr_scheduler",
           "register_optimizer_step_post_hook", "register_optimizer_step_pre_hook", "swa_utils"]


def __getattr__(name):
    """swa_utils loads on first use: it builds on ember.plugins.nn, which imports this."""
    if name == "swa_utils":
        import importlib
        return importlib.import_module(".swa_utils", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
