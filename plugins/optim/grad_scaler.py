"""Dynamic loss scaling for float16 training (PyTorch's torch.amp.GradScaler): the loss
is multiplied by a scale so that small gradients do not flush to zero in float16; the
gradients are divided back before the update; a step whose gradients hold inf or NaN
is skipped and the scale backs off, and after ``growth_interval`` clean steps it grows.

Everything is decided on the device: the scale, the count of clean steps and the
inf/NaN flag are tensors, and the optimizer skips through ``step(found_inf)``, so a
training step reads nothing back to the host and compiles as one graph."""

import math

import ember
from ember.tensor import Tensor


class GradScaler:
    """``scaler.scale(loss).backward()``, then ``scaler.step(optimizer)`` and
    ``scaler.update()``; ``scaler.unscale_(optimizer)`` first where the gradients are
    read (``clip_grad_norm_``). State-dict keys as PyTorch's."""

    def __init__(self, init_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5,
                 growth_interval=2000, enabled=True):
        if not 0.0 < init_scale < float("inf"):
            raise ValueError(f"GradScaler: init_scale must be a finite number > 0, got {init_scale}")
        if not growth_factor > 1.0:
            raise ValueError(f"GradScaler: growth_factor must be > 1, got {growth_factor}")
        if not 0.0 < backoff_factor < 1.0:
            raise ValueError(f"GradScaler: backoff_factor must be in (0, 1), got {backoff_factor}")
        if not (isinstance(growth_interval, int) and growth_interval > 0):
            raise ValueError(f"GradScaler: growth_interval must be an int > 0, got "
                             f"{growth_interval!r}")
        self.growth_factor, self.backoff_factor = float(growth_factor), float(backoff_factor)
        self.growth_interval, self.enabled = growth_interval, enabled
        self._init_scale, self._init_tracker = float(init_scale), 0
        self._scale = self._tracker = None     # 0-d float32 tensors, on the loss's backend
        self._unscaled = {}                    # id(optimizer) -> its found_inf, this step

    def is_enabled(self):
        return self.enabled

    def _state(self, backend):
        if self._scale is None:
            self._scale = ember.tensor(self._init_scale, dtype=ember.float32, backend=backend)
            self._tracker = ember.tensor(float(self._init_tracker), dtype=ember.float32,
                                         backend=backend)
            ember.name_state(self._scale, "grad_scaler.scale")
            ember.name_state(self._tracker, "grad_scaler.growth_tracker")
        return self._scale

    def scale(self, outputs):
        """``outputs`` (a tensor, or a list or tuple of them) times the scale."""
        if not self.enabled:
            return outputs
        if isinstance(outputs, Tensor):
            return outputs * self._state(outputs.backend).to(outputs.dtype)
        if isinstance(outputs, (list, tuple)):
            return type(outputs)(self.scale(o) for o in outputs)
        raise TypeError(f"GradScaler.scale: expects a tensor or a list or tuple of tensors, "
                        f"got {type(outputs).__name__}")

    def unscale_(self, optimizer):
        """Divide the optimizer's gradients by the scale, in place, and note whether any
        holds inf or NaN; once per step (before clipping the gradients, say)."""
        if not self.enabled:
            return
        if id(optimizer) in self._unscaled:
            raise RuntimeError("GradScaler.unscale_: already called for this optimizer since "
                               "the last update(); call it once per step")
        grads = [p for g in optimizer.param_groups for p in g["params"] if p.grad is not None]
        found = None
        if grads:
            inv = 1.0 / self._state(grads[0].backend)
            with ember.no_grad():
                for p in grads:
                    p.grad = (p.grad.to(ember.float32) * inv).to(p.grad.dtype)
                    bad = ember.logical_not(p.grad.abs() < math.inf).any()   # inf or NaN
                    found = bad if found is None else ember.logical_or(found, bad)
        self._unscaled[id(optimizer)] = found

    def step(self, optimizer):
        """Unscale (unless done) and step, keeping the step only where no gradient holds
        inf or NaN."""
        if not self.enabled:
            return optimizer.step()
        if id(optimizer) not in self._unscaled:
            self.unscale_(optimizer)
        found = self._unscaled[id(optimizer)]
        return optimizer.step() if found is None else optimizer.step(found_inf=found)

    def update(self, new_scale=None):
        """After every optimizer's step: back off on inf or NaN, grow after
        ``growth_interval`` clean steps (or take ``new_scale``)."""
        if not self.enabled or self._scale is None:
            return
        if new_scale is not None:
            self._scale.copy_(float(new_scale.item() if isinstance(new_scale, Tensor)
                                    else new_scale))
            self._tracker.copy_(0.0)
            self._unscaled.clear()
            return
        flags = [f for f in self._unscaled.values() if f is not None]
        self._unscaled.clear()
        if not flags:
            return
        found = flags[0]
        for f in flags[1:]:
            found = ember.logical_or(found, f)
        with ember.no_grad():
            clean = self._tracker + 1.0
            grow = clean >= float(self.growth_interval)
            self._scale.copy_(ember.where(found, self._scale * self.backoff_factor,
                                          ember.where(grow, self._scale * self.growth_factor,
                                                      self._scale)))
            self._tracker.copy_(ember.where(ember.logical_or(found, grow), 0.0, clean))

    def get_scale(self):
        """The current scale as a Python float (reads it from the device)."""
        return self._init_scale if self._scale is None else float(self._scale.item())

    def state_dict(self):
        if not self.enabled:
            return {}
        tracker = self._init_tracker if self._tracker is None else int(self._tracker.item())
        return {"scale": self.get_scale(), "growth_factor": self.growth_factor,
                "backoff_factor": self.backoff_factor, "growth_interval": self.growth_interval,
                "_growth_tracker": tracker}

    def load_state_dict(self, state):
        if not self.enabled:
            return
        missing = {"scale", "growth_factor", "backoff_factor", "growth_interval",
                   "_growth_tracker"} - set(state)
        if missing:
            raise ember.StateDictError(f"GradScaler.load_state_dict: missing "
                                       f"{', '.join(sorted(missing))}")
        self.growth_factor = float(state["growth_factor"])
        self.backoff_factor = float(state["backoff_factor"])
        self.growth_interval = int(state["growth_interval"])
        self._init_scale, self._init_tracker = float(state["scale"]), int(state["_growth_tracker"])
        if self._scale is not None:
            with ember.no_grad():
                self._scale.copy_(self._init_scale)
                self._tracker.copy_(float(self._init_tracker))
