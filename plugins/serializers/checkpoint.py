"""Whole-training checkpoints and a manager that keeps the last N and the best.

A checkpoint is a plain nested dict (so every nested format can hold it):
model, optimizer and scheduler state, epoch and step, the RNG state, config,
metrics and the ember version. Objects are duck-typed by their state_dict and
load_state_dict methods, so any Module, Optimizer or scheduler fits.
"""

import json
import math
import os

import ember
from ember.errors import SerializationError
from ember.io import atomic_write


def make_checkpoint(model=None, optimizer=None, scheduler=None, epoch=0, step=0, config=None,
                    metrics=None):
    return {
        "ember_version": ember.__version__,
        "epoch": epoch, "step": step,
        "model": model.state_dict() if model is not None else None,
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "rng": ember.get_rng_state(),
        "config": config or {}, "metrics": metrics or {},
    }


def restore_checkpoint(checkpoint, model=None, optimizer=None, scheduler=None):
    """Load the states back (and the RNG), returning the checkpoint for epoch/step/metrics."""
    for name, target in (("model", model), ("optimizer", optimizer), ("scheduler", scheduler)):
        if target is not None:
            if checkpoint.get(name) is None:
                raise SerializationError(f"the checkpoint holds no {name} state to restore")
            target.load_state_dict(checkpoint[name])
    if checkpoint.get("rng") is not None:
        ember.set_rng_state(checkpoint["rng"])
    return checkpoint


class CheckpointManager:
    """Saves ckpt-<step>.ember files in ``directory``; keeps the newest ``keep_last`` and
    the best by ``metric`` (mode "min" or "max"); an index file lists them."""

    INDEX = "checkpoints.json"

    def __init__(self, directory, keep_last=3, metric=None, mode="min"):
        if keep_last < 1:
            raise ValueError(f"CheckpointManager: keep_last must be >= 1, got {keep_last}")
        if mode not in ("min", "max"):
            raise ValueError(f"CheckpointManager: mode must be 'min' or 'max', got {mode!r}")
        self.directory, self.keep_last, self.metric, self.mode = directory, keep_last, metric, mode
        os.makedirs(directory, exist_ok=True)
        self.entries = self._read_index()

    def _read_index(self):
        path = os.path.join(self.directory, self.INDEX)
        if not os.path.exists(path):
            return []
        try:
            with open(path) as f:
                entries = json.load(f)
            return [e for e in entries if os.path.exists(os.path.join(self.directory, e["file"]))]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise SerializationError(f"{path}: unreadable checkpoint index ({exc})") from None

    def best(self):
        """The entry of the best score; a NaN score (a run that diverged) is never best:
        min and max would keep it wherever it comes first, as NaN compares false."""
        scored = [e for e in self.entries
                  if e.get("score") is not None and not math.isnan(e["score"])]
        if not scored:
            return None
        pick = min if self.mode == "min" else max
        return pick(scored, key=lambda e: e["score"])

    def latest(self):
        """Path of the newest checkpoint, or None."""
        if not self.entries:
            return None
        return os.path.join(self.directory, max(self.entries, key=lambda e: e["step"])["file"])

    def save(self, model=None, optimizer=None, scheduler=None, epoch=0, step=0, config=None,
             metrics=None):
        metrics = metrics or {}
        if self.metric is not None and self.metric not in metrics:
            raise ValueError(f"CheckpointManager: metrics lack {self.metric!r}, the metric that "
                             f"picks the best checkpoint; got {sorted(metrics)}")
        name = f"ckpt-{step:08d}.ember"
        ember.save(make_checkpoint(model, optimizer, scheduler, epoch, step, config, metrics),
                   os.path.join(self.directory, name))
        score = float(metrics[self.metric]) if self.metric is not None else None
        self.entries = [e for e in self.entries if e["file"] != name]
        self.entries.append({"file": name, "step": step, "epoch": epoch, "score": score})
        keep = {e["file"] for e in sorted(self.entries, key=lambda e: e["step"])[-self.keep_last:]}
        best = self.best()
        if best is not None:
            keep.add(best["file"])
        for e in self.entries:
            if e["file"] not in keep:
                try:
                    os.unlink(os.path.join(self.directory, e["file"]))
                except FileNotFoundError:
                    pass
        self.entries = [e for e in self.entries if e["file"] in keep]
        atomic_write(os.path.join(self.directory, self.INDEX),
                     json.dumps(self.entries, indent=1).encode())
        return os.path.join(self.directory, name)

    def resume(self, model=None, optimizer=None, scheduler=None, backend=None):
        """Restore from the newest checkpoint; returns it (epoch, step, metrics), or None."""
        path = self.latest()
        if path is None:
            return None
        return restore_checkpoint(ember.load(path, backend=backend), model, optimizer, scheduler)
