"""Trainer.fit: the training loop with a tqdm progress bar, metrics, validation,
callbacks and a history; evaluate and predict for trained models."""

import copy
import numbers
import sys
import time

import numpy as np
from tqdm.auto import tqdm

import ember
import ember.distributed as dist
from ember.errors import DataError
from ember.plugins.optim import GradScaler, clip_grad_norm_
from ember.registry import registry

from .metrics import Metric


def resolve(kind, spec):
    """A registered name (or an instance/callable, returned as is) -> the object to use."""
    if isinstance(spec, str):
        return registry.get(kind, spec)()
    return spec


class History(dict):
    """{"loss": [per epoch], "val_loss": [...], "accuracy": [...], ...}."""

    def append(self, logs):
        for k, v in logs.items():
            self.setdefault(k, []).append(v)

    @property
    def epochs(self):
        return len(self.get("loss", []))


def _scalars(logs):
    return {k: v for k, v in logs.items() if isinstance(v, (int, float))}


def _across_ranks(total, count, metrics):
    """In data-parallel training, the loss totals and metrics of every rank pooled."""
    if dist.world_size() == 1:
        return total, count
    for m in metrics:
        m.reduce_across_ranks()
    total, count = dist.world().allreduce(np.array([total, count], np.float64), "sum")
    return float(total), float(count)


class Trainer:
    """Runs fit/evaluate/predict; ``progress`` shows a tqdm bar per epoch on ``file``.

    Under ember.distributed (a DistributedDataParallel model, DistributedSampler
    loaders), the figures of an epoch pool every rank's and only rank 0 shows a bar."""

    def __init__(self, progress=True, file=None, compile=False, max_steps=None,  # noqa: A002
                 clip_grad_norm=None, precision="fp32"):
        """``max_steps`` ends training after that many steps, within an epoch (which then
        ends as any other: validation, callbacks); ``clip_grad_norm`` rescales the
        gradients to that total norm at most before each update (as PyTorch Lightning's
        max_steps and gradient_clip_val). ``precision`` "bf16" or "fp16" runs forward
        passes and losses under ember.autocast (parameters stay as they are), "fp16"
        also with a GradScaler."""
        for name, value in (("max_steps", max_steps), ("clip_grad_norm", clip_grad_norm)):
            if value is not None and (isinstance(value, bool) or not value > 0):
                raise ValueError(f"Trainer: {name} must be a number > 0 or None, got {value!r}")
        if precision not in ember.amp.PRECISIONS:
            raise ValueError(f"Trainer: precision must be one of "
                             f"{', '.join(ember.amp.PRECISIONS)}, got {precision!r}")
        self.progress, self.file, self.compile = progress, file or sys.stderr, compile
        self.max_steps, self.clip_grad_norm = max_steps, clip_grad_norm
        self.precision = precision
        self.scaler = GradScaler() if precision == "fp16" else None
        self.model = self.optimizer = None
        self.stop_training, self.step = False, 0

    def _train_step(self, model, loss_fn, optimizer):
        """forward, loss, backward, update: a function of (inputs, target) returning the
        detached output and the loss; with ``compile``, through ember.compile. A replay
        follows the learning rate (optimizers hold it in a tensor while compiling); any
        other change of the optimizer's settings traces the step again."""
        if self.compile and dist.world_size() > 1:
            raise ValueError("Trainer(compile=True): not with data-parallel training (the "
                             "all-reduce of gradients runs outside any one graph); drop one")

        scaler = self.scaler or GradScaler(enabled=False)    # disabled: passes everything through

        def step(inputs, target):
            with self.autocast():
                output = model(*inputs)
                value = loss_fn(output, target)
            optimizer.zero_grad()
            scaler.scale(value).backward()
            if self.clip_grad_norm is not None:
                scaler.unscale_(optimizer)
                clip_grad_norm_(model.parameters(), self.clip_grad_norm)
            scaler.step(optimizer)
            scaler.update()
            return output.detach(), value
        if not self.compile:
            return step
        compiled, seen = ember.compile(step), [None]

        def replayed(inputs, target):
            settings = [(k, v) for g in optimizer.param_groups for k, v in g.items()
                        if k not in ("params", "lr")]
            if settings != seen[0]:
                compiled.reset()
                seen[0] = settings
            return compiled(inputs, target)
        return replayed

    def autocast(self):
        """The autocast of this trainer's precision (off for fp32)."""
        return ember.amp.precision(self.precision)

    def fit(self, model, loss, optimizer, train_loader, val_loader=None, epochs=1, callbacks=(),
            metrics=()):
        if not isinstance(epochs, numbers.Integral) or epochs < 0:
            raise ValueError(f"fit: epochs must be an int >= 0, got {epochs!r}")
        loss_fn = resolve("losses", loss)
        metric_objs = [resolve("metrics", m) for m in metrics]
        for m in metric_objs:
            if not isinstance(m, Metric):
                raise TypeError(f"fit: metrics must be Metric objects or registered names, got {m!r}")
        self.model, self.optimizer = model, optimizer
        self.stop_training, self.step = False, 0
        train_step = self._train_step(model, loss_fn, optimizer)
        history = History()
        for cb in callbacks:
            cb.on_train_begin(self)
        for epoch in range(epochs):
            model.train()
            for m in metric_objs:
                m.reset()
            total = count = 0.0
            start = time.perf_counter()
            total_batches = len(train_loader) if hasattr(train_loader, "__len__") else None
            if self.max_steps is not None and total_batches is not None:
                total_batches = min(total_batches, self.max_steps - self.step)
            bar = tqdm(total=total_batches,
                       desc=f"epoch {epoch + 1}/{epochs}", unit="batch",
                       disable=not self.progress or dist.rank() != 0,
                       file=self.file, leave=True, dynamic_ncols=True)
            for batch in train_loader:
                *inputs, target = batch
                output, value = train_step(tuple(inputs), target)
                n = target.shape[0] if target.ndim else 1
                total += value.item() * n
                count += n
                for m in metric_objs:
                    m.update(output, target)
                self.step += 1
                logs = {"loss": total / count}
                if self.progress:
                    shown = {"loss": f"{total / count:.4f}"}
                    for m in metric_objs:
                        v = m.compute()
                        if isinstance(v, float):
                            shown[m.name] = f"{v:.4f}"
                    shown["samples/s"] = f"{count / max(time.perf_counter() - start, 1e-9):.0f}"
                    bar.set_postfix(shown, refresh=False)
                bar.update(1)
                for cb in callbacks:
                    cb.on_batch_end(self, self.step, logs)
                if self.max_steps is not None and self.step >= self.max_steps:
                    self.stop_training = True
                    break
            total, count = _across_ranks(total, count, metric_objs)
            if not count and not self.stop_training:
                raise DataError(_no_batches("fit: the training loader", train_loader))
            logs = {"loss": total / max(count, 1)}
            logs.update({m.name: m.compute() for m in metric_objs})
            logs["lr"] = optimizer.param_groups[0]["lr"]
            logs["time"] = time.perf_counter() - start
            if val_loader is not None:
                val = self.evaluate(model, val_loader, loss_fn, metric_objs)
                logs.update({f"val_{k}": v for k, v in val.items()})
            if self.progress:   # the epoch's last bar line shows the validation figures too
                bar.set_postfix({k: f"{v:.4f}" for k, v in _scalars(logs).items()
                                 if k not in ("lr", "time")}, refresh=True)
            bar.close()
            history.append(logs)
            for cb in callbacks:
                cb.on_epoch_end(self, epoch, logs)
            if self.stop_training:
                break
        for cb in callbacks:
            cb.on_train_end(self)
        return history

    def evaluate(self, model, loader, loss=None, metrics=()):
        """{"loss": mean loss (when a loss is given), metric name: value} in eval mode."""
        loss_fn = resolve("losses", loss) if loss is not None else None
        fresh = [copy.deepcopy(resolve("metrics", m)) for m in metrics]
        for m in fresh:
            m.reset()
        was_training = model.training
        model.eval()
        total = count = 0.0
        with ember.no_grad(), self.autocast():
            for *inputs, target in loader:
                output = model(*inputs)
                n = target.shape[0] if target.ndim else 1
                if loss_fn is not None:
                    total += loss_fn(output, target).item() * n
                count += n
                for m in fresh:
                    m.update(output, target)
        model.train(was_training)
        total, count = _across_ranks(total, count, fresh)
        if not count:
            raise DataError(_no_batches("evaluate: the loader", loader))
        out = {"loss": total / count} if loss_fn is not None else {}
        out.update({m.name: m.compute() for m in fresh})
        return out

    def predict(self, model, loader):
        """The model's outputs for every batch (the first columns of each), as one array."""
        was_training = model.training
        model.eval()
        outs = []
        with ember.no_grad(), self.autocast():
            for batch in loader:
                inputs = batch[:-1] if len(batch) > 1 else batch
                outs.append(model(*inputs).numpy())
        model.train(was_training)
        return np.concatenate(outs) if outs else np.zeros((0,))


def _no_batches(what, loader):
    """The message for a loader that yielded nothing: a mean of no batches is no number."""
    size = len(loader.dataset) if hasattr(loader, "dataset") and hasattr(loader.dataset, "__len__") else None
    held = f" (its dataset holds {size} samples)" if size is not None else ""
    return (f"{what} gave no batches{held}; give it samples, or a batch_size it can fill "
            f"when drop_last=True")
