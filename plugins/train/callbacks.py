"""Training callbacks: hooks the Trainer calls at the start and end of training,
after each batch and after each epoch (with that epoch's logs)."""

import csv
import io
import math
import os

import ember.distributed as dist
from ember.io import atomic_write


class Callback:
    """Override the hooks you need; each does nothing by default (as in Keras)."""

    def on_train_begin(self, trainer):
        pass

    def on_batch_end(self, trainer, step, logs):
        pass

    def on_epoch_end(self, trainer, epoch, logs):
        pass

    def on_train_end(self, trainer):
        pass


def _monitored(logs, monitor, who):
    if monitor not in logs:
        raise KeyError(f"{who}: no {monitor!r} in the epoch's logs; they have {', '.join(sorted(logs))}"
                       f" (val_* entries need a val_loader)")
    return logs[monitor]


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs;
    optionally restore the best weights."""

    def __init__(self, monitor="val_loss", patience=5, mode="min", min_delta=0.0, restore_best=True):
        if mode not in ("min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'min' or 'max', got {mode!r}")
        self.monitor, self.patience, self.mode = monitor, patience, mode
        self.min_delta, self.restore_best = min_delta, restore_best

    def on_train_begin(self, trainer):
        self.best, self.wait, self.best_state, self.stopped_epoch = math.inf, 0, None, None
        if self.mode == "max":
            self.best = -math.inf

    def on_epoch_end(self, trainer, epoch, logs):
        value = _monitored(logs, self.monitor, "EarlyStopping")
        better = value < self.best - self.min_delta if self.mode == "min" \
            else value > self.best + self.min_delta
        if better:
            self.best, self.wait = value, 0
            if self.restore_best:
                self.best_state = trainer.model.state_dict()
            return
        self.wait += 1
        if self.wait >= self.patience:
            trainer.stop_training, self.stopped_epoch = True, epoch

    def on_train_end(self, trainer):
        if self.restore_best and self.best_state is not None:
            trainer.model.load_state_dict(self.best_state)


class ModelCheckpoint(Callback):
    """Save a checkpoint each epoch through a CheckpointManager (newest ``keep_last``
    and the best by ``monitor``)."""

    def __init__(self, directory, monitor="val_loss", mode="min", keep_last=3, config=None):
        self.directory, self.monitor, self.mode = directory, monitor, mode
        self.keep_last, self.config = keep_last, config

    def on_train_begin(self, trainer):
        from ember.plugins.serializers import CheckpointManager
        self.manager = CheckpointManager(self.directory, self.keep_last, self.monitor, self.mode)

    def on_epoch_end(self, trainer, epoch, logs):
        _monitored(logs, self.monitor, "ModelCheckpoint")
        if dist.rank() != 0:        # data-parallel ranks hold the same model: one writer
            return
        self.manager.save(trainer.model, trainer.optimizer, getattr(trainer, "scheduler", None),
                          epoch=epoch, step=trainer.step, config=self.config, metrics=dict(logs))


class SchedulerStep(Callback):
    """Step a learning-rate scheduler after each epoch, or after each batch with
    ``interval="step"`` (a warmup and decay over steps, as Lightning's interval);
    ReduceLROnPlateau gets ``monitor`` at each epoch's end."""

    def __init__(self, scheduler, monitor="val_loss", interval="epoch"):
        if interval not in ("epoch", "step"):
            raise ValueError(f"SchedulerStep: interval must be 'epoch' or 'step', got {interval!r}")
        from ember.plugins.optim import ReduceLROnPlateau
        if interval == "step" and isinstance(scheduler, ReduceLROnPlateau):
            raise ValueError("SchedulerStep: ReduceLROnPlateau follows a validation metric, so "
                             "it steps once an epoch; use interval='epoch'")
        self.scheduler, self.monitor, self.interval = scheduler, monitor, interval

    def on_train_begin(self, trainer):
        trainer.scheduler = self.scheduler

    def on_batch_end(self, trainer, step, logs):
        if self.interval == "step":
            self.scheduler.step()

    def on_epoch_end(self, trainer, epoch, logs):
        from ember.plugins.optim import ReduceLROnPlateau
        if self.interval == "step":
            return
        if isinstance(self.scheduler, ReduceLROnPlateau):
            self.scheduler.step(_monitored(logs, self.monitor, "SchedulerStep"))
        else:
            self.scheduler.step()


class CSVLogger(Callback):
    """One row per epoch of the logs, rewritten atomically after each epoch."""

    def __init__(self, path):
        self.path = os.fspath(path)

    def on_train_begin(self, trainer):
        self.rows = []

    def on_epoch_end(self, trainer, epoch, logs):
        self.rows.append({"epoch": epoch, **logs})
        if dist.rank() != 0:
            return
        out = io.StringIO()
        fields = list(dict.fromkeys(k for row in self.rows for k in row))
        writer = csv.DictWriter(out, fieldnames=fields)
        writer.writeheader()
        writer.writerows(self.rows)
        atomic_write(self.path, out.getvalue().encode())


CALLBACKS = {"early_stopping": EarlyStopping, "model_checkpoint": ModelCheckpoint,
             "scheduler_step": SchedulerStep, "csv_logger": CSVLogger}
