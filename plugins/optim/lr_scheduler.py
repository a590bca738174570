"""torch.optim.lr_scheduler's path to ember's schedulers (schedulers.py), so that
``from ember.plugins.optim.lr_scheduler import StepLR`` ports as it reads."""

from .schedulers import (ChainedScheduler, ConstantLR, CosineAnnealingLR, CosineAnnealingWarmRestarts,  # noqa: F401
                         CosineWithWarmupLR, CyclicLR, ExponentialLR, LambdaLR, LinearLR,
                         LinearWarmup,
                         LRScheduler, MultiplicativeLR, MultiStepLR, OneCycleLR, PolynomialLR,
                         ReduceLROnPlateau, SequentialLR, StepLR)
