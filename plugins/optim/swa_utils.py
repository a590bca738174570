"""Averages of a model's weights along training, PyTorch's torch.optim.swa_utils:
stochastic weight averaging (Izmailov et al. 2018) and exponential moving averages
(the EMA copy of diffusion models and of many vision recipes).

``AveragedModel(model)`` holds a deep copy of the model whose parameters
``update_parameters(model)`` moves toward the model's: their running mean by default,
or an EMA with ``multi_avg_fn=get_ema_multi_avg_fn(decay)``. Its state dict is the
copy's under ``module.`` plus ``n_averaged``, PyTorch's keys. ``SWALR`` anneals the
learning rate to a constant SWA rate, and ``update_bn`` recomputes batch-norm
statistics for the averaged weights.
"""

import copy
import math

import ember
from ember.plugins.nn import Module
from ember.plugins.nn.layers import _BatchNorm

from .schedulers import LRScheduler

__all__ = ["AveragedModel", "SWALR", "get_ema_avg_fn", "get_ema_multi_avg_fn",
           "get_swa_avg_fn", "get_swa_multi_avg_fn", "update_bn"]


def get_ema_multi_avg_fn(decay=0.999):
    """An exponential moving average, ema = decay ema + (1 - decay) current, applied to
    lists of tensors in place (AveragedModel's multi_avg_fn)."""
    def ema_update(averaged, current, num_averaged):
        for a, c in zip(averaged, current):
            a.copy_(ember.lerp(a, c, 1.0 - decay))
    return ema_update


def get_swa_multi_avg_fn():
    """The running mean, avg + (current - avg) / (n + 1), on lists of tensors in place."""
    single = get_swa_avg_fn()

    def swa_update(averaged, current, num_averaged):
        for a, c in zip(averaged, current):
            a.copy_(single(a, c, num_averaged))
    return swa_update


def get_ema_avg_fn(decay=0.999):
    """The EMA of one tensor, returned (AveragedModel's avg_fn)."""
    def ema_update(ema_param, current_param, num_averaged):
        return decay * ema_param + (1 - decay) * current_param
    return ema_update


def get_swa_avg_fn():
    """The running mean of one tensor, returned."""
    def swa_update(averaged_param, current_param, num_averaged):
        return averaged_param + (current_param - averaged_param) / (num_averaged + 1).to(
            averaged_param.dtype)
    return swa_update


class AveragedModel(Module):
    """A deep copy of ``model`` holding an average of its weights. ``avg_fn(averaged,
    current, num_averaged)`` returns one averaged tensor; ``multi_avg_fn`` updates
    lists of them in place; neither given: the running mean (SWA). With
    ``use_buffers`` the buffers are averaged too, else copied from the model. ``device``
    moves the copy to another backend."""

    def __init__(self, model, device=None, avg_fn=None, multi_avg_fn=None, use_buffers=False):
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:
            raise ValueError("AveragedModel: give avg_fn or multi_avg_fn, not both")
        self.module = copy.deepcopy(model)
        if device is not None:
            self.module = self.module.to(device)
        backend = self._backend_of()
        self.register_buffer("n_averaged", ember.zeros((), backend=backend, dtype=(
            ember.int64 if ember.int64 in backend.dtypes else backend.default_int)))
        self.avg_fn, self.multi_avg_fn, self.use_buffers = avg_fn, multi_avg_fn, use_buffers

    def _backend_of(self):
        first = next(iter(self.module.parameters()), None)
        return first.backend if first is not None else ember.get_backend()

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def _tensors(self, model):
        tensors = list(model.parameters())
        return tensors + list(model.buffers()) if self.use_buffers else tensors

    def update_parameters(self, model):
        """Move the averaged weights toward ``model``'s (the first call copies them)."""
        mine, theirs = self._tensors(self.module), self._tensors(model)
        if len(mine) != len(theirs):
            raise ValueError(f"AveragedModel.update_parameters: the model has {len(theirs)} "
                             f"tensors to average, the copy {len(mine)}; pass the model it "
                             f"was made from")
        backend = self._backend_of()
        theirs = [t.detach().to(backend.device) for t in theirs]
        with ember.no_grad():
            if int(self.n_averaged.item()) == 0:
                for a, c in zip(mine, theirs):
                    a.copy_(c)
            elif self.avg_fn is not None:
                for a, c in zip(mine, theirs):
                    a.copy_(self.avg_fn(a.detach(), c, self.n_averaged))
            else:
                floats = [(a, c) for a, c in zip(mine, theirs) if a.dtype.is_float]
                (self.multi_avg_fn or get_swa_multi_avg_fn())(
                    [a for a, _ in floats], [c for _, c in floats], self.n_averaged)
            if not self.use_buffers:
                for a, c in zip(self.module.buffers(), model.buffers()):
                    a.copy_(c.detach().to(backend.device))
            self.n_averaged += 1


class SWALR(LRScheduler):
    """Anneals each group's learning rate from its value to ``swa_lr`` over
    ``anneal_epochs`` steps (cosine or linear), then holds it: PyTorch's SWALR."""

    def __init__(self, optimizer, swa_lr, anneal_epochs=10, anneal_strategy="cos"):
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"SWALR: anneal_strategy must be 'cos' or 'linear', got "
                             f"{anneal_strategy!r}")
        if not isinstance(anneal_epochs, int) or anneal_epochs < 0:
            raise ValueError(f"SWALR: anneal_epochs must be an int >= 0, got {anneal_epochs!r}")
        swa = swa_lr if isinstance(swa_lr, (list, tuple)) else [swa_lr] * len(optimizer.param_groups)
        for g, lr in zip(optimizer.param_groups, swa):
            g["swa_lr"] = lr
        self.anneal_epochs, self.anneal_strategy = anneal_epochs, anneal_strategy
        self.start_lrs = [g["lr"] for g in optimizer.param_groups]  # from where it is now
        super().__init__(optimizer)

    def _apply(self):
        t = self.last_epoch if self.anneal_epochs else max(1, self.last_epoch)
        x = max(0.0, min(1.0, t / max(1, self.anneal_epochs)))
        alpha = x if self.anneal_strategy == "linear" else (1 - math.cos(math.pi * x)) / 2
        for g, start in zip(self.optimizer.param_groups, self.start_lrs):
            g["lr"] = g["swa_lr"] * alpha + start * (1 - alpha)


def update_bn(loader, model, device=None):
    """Recompute the batch-norm running statistics of ``model`` (an averaged one) as the
    plain average over one pass of ``loader`` (batches, or tuples whose first entry is
    the input), in training mode; the mode and momenta are restored after."""
    norms = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    if not norms:
        return
    momenta = {}
    for m in norms:
        if m.running_mean is not None:
            with ember.no_grad():
                m.running_mean.copy_(ember.zeros_like(m.running_mean))
                m.running_var.copy_(ember.ones_like(m.running_var))
                m.num_batches_tracked.copy_(ember.zeros_like(m.num_batches_tracked))
        momenta[m] = m.momentum
        m.momentum = None
    was_training = model.training
    model.train()
    with ember.no_grad():
        for batch in loader:
            x = batch[0] if isinstance(batch, (tuple, list)) else batch
            model(x if device is None else x.to(device))
    for m, momentum in momenta.items():
        m.momentum = momentum
    model.train(was_training)
