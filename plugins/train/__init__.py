"""Training (``ember.plugins.train``): Trainer, metrics, callbacks, learning curves."""

from .callbacks import CALLBACKS, Callback, CSVLogger, EarlyStopping, ModelCheckpoint, SchedulerStep
from .metrics import (METRICS, F1, Accuracy, ConfusionMatrix, MeanAbsoluteError, MeanSquaredError,
                      Metric, Precision, Recall, predicted_labels)
from .plot import plot_history
from .trainer import History, Trainer

__all__ = ["CALLBACKS", "METRICS", "F1", "Accuracy", "CSVLogger", "Callback", "ConfusionMatrix",
           "EarlyStopping", "History", "MeanAbsoluteError", "MeanSquaredError", "Metric",
           "ModelCheckpoint", "Precision", "Recall", "SchedulerStep", "Trainer", "plot_history",
           "predicted_labels"]
