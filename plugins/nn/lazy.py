"""PyTorch's lazy layers: LazyLinear, LazyConv1d/2d/3d, LazyConvTranspose1d/2d/3d,
LazyBatchNorm1d/2d/3d and LazyInstanceNorm1d/2d/3d. Each takes its layer's arguments
without the input size, reads that size from the first input (or from the weights of
a state dict loaded first), then becomes the ordinary layer (``cls_to_become``), its
parameters drawn by that layer's own initialization at that moment.

Until then it has no parameters: build the optimizer after a first forward (a dry run)
or a load_state_dict, as PyTorch advises."""

from ember.errors import ShapeError

from . import layers
from .module import Module


class _Lazy(Module):
    """Holds the layer's arguments until the input size is known."""

    cls_to_become = None
    #: the input's axis that holds the size (channels), and how many axes an input of
    #: one sample has (an unbatched input's channels are its axis 0); None: the last axis
    size_axis, sample_ndim = 1, None

    #: keyword defaults that differ from the ordinary layer's, as PyTorch's lazy ones
    defaults = {}

    def __init__(self, *args, **kwargs):
        super().__init__()
        object.__setattr__(self, "_lazy_args", (args, {**self.defaults, **kwargs}))

    def has_uninitialized_params(self):
        return True

    def _input_size(self, x):
        if self.size_axis is None:
            return x.shape[-1]
        if self.sample_ndim is not None and x.ndim == self.sample_ndim:
            return x.shape[0]                                    # unbatched
        if x.ndim <= self.size_axis:
            raise ShapeError(f"{type(self).__name__}: input of shape {tuple(x.shape)} has no "
                             f"axis {self.size_axis} to read its channels from")
        return x.shape[self.size_axis]

    def initialize_parameters(self, size):
        """Become ``cls_to_become`` with ``size`` as its input size (in place: references
        to this module stay valid)."""
        args, kwargs = self._lazy_args
        concrete = self.cls_to_become(size, *args, **kwargs)
        training = self.training
        object.__delattr__(self, "_lazy_args")
        self.__dict__.update(concrete.__dict__)
        object.__setattr__(self, "__class__", self.cls_to_become)
        self.train(training)

    def forward(self, x):
        self.initialize_parameters(self._input_size(x))
        return self.forward(x)

    def _size_from_state(self, state, prefix):
        """The input size the state dict's tensors under ``prefix`` were made for."""
        for name, axis, times in self.state_keys:
            value = state.get(prefix + name)
            if value is not None and len(value.shape) > axis:
                return value.shape[axis] * (self._lazy_args[1].get("groups", 1) if times else 1)
        return None

    def extra_repr(self):
        args, kwargs = self._lazy_args
        return ", ".join([repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()])


def materialize_from_state(module, state):
    """Turn the lazy layers in ``module`` into their ordinary ones, sized by the state
    dict's tensors, before load_state_dict copies them in."""
    for name, sub in list(module.named_modules()):
        if isinstance(sub, _Lazy):
            size = sub._size_from_state(state, f"{name}." if name else "")
            if size is not None:
                sub.initialize_parameters(size)


def _lazy(name, concrete, size_axis, sample_ndim, state_keys, doc, defaults=None):
    return type(name, (_Lazy,), {"cls_to_become": concrete, "size_axis": size_axis,
                                 "sample_ndim": sample_ndim, "state_keys": state_keys,
                                 "defaults": defaults or {}, "__doc__": doc,
                                 "__module__": __name__})


_LINEAR = (("weight", 1, False),)
_CONV = (("weight", 1, True),)                 # (out, in / groups, ...)
_TRANSPOSED = (("weight", 0, False),)          # (in, out / groups, ...)
_NORM = (("weight", 0, False), ("running_mean", 0, False))

LazyLinear = _lazy("LazyLinear", layers.Linear, None, None, _LINEAR,
                   "Linear with in_features read from the first input's last axis.")
LazyConv1d = _lazy("LazyConv1d", layers.Conv1d, 1, 2, _CONV,
                   "Conv1d with in_channels read from the first input.")
LazyConv2d = _lazy("LazyConv2d", layers.Conv2d, 1, 3, _CONV,
                   "Conv2d with in_channels read from the first input.")
LazyConv3d = _lazy("LazyConv3d", layers.Conv3d, 1, 4, _CONV,
                   "Conv3d with in_channels read from the first input.")
LazyConvTranspose1d = _lazy("LazyConvTranspose1d", layers.ConvTranspose1d, 1, 2, _TRANSPOSED,
                            "ConvTranspose1d with in_channels read from the first input.")
LazyConvTranspose2d = _lazy("LazyConvTranspose2d", layers.ConvTranspose2d, 1, 3, _TRANSPOSED,
                            "ConvTranspose2d with in_channels read from the first input.")
LazyConvTranspose3d = _lazy("LazyConvTranspose3d", layers.ConvTranspose3d, 1, 4, _TRANSPOSED,
                            "ConvTranspose3d with in_channels read from the first input.")
LazyBatchNorm1d = _lazy("LazyBatchNorm1d", layers.BatchNorm1d, 1, None, _NORM,
                        "BatchNorm1d with num_features read from the first input.")
LazyBatchNorm2d = _lazy("LazyBatchNorm2d", layers.BatchNorm2d, 1, None, _NORM,
                        "BatchNorm2d with num_features read from the first input.")
LazyBatchNorm3d = _lazy("LazyBatchNorm3d", layers.BatchNorm3d, 1, None, _NORM,
                        "BatchNorm3d with num_features read from the first input.")
#: PyTorch's lazy instance norms learn an affine map and track running statistics by
#: default, unlike its InstanceNorm layers
_TRACKED = {"affine": True, "track_running_stats": True}
LazyInstanceNorm1d = _lazy("LazyInstanceNorm1d", layers.InstanceNorm1d, 1, 2, _NORM,
                           "InstanceNorm1d with num_features read from the first input "
                           "(affine and track_running_stats True by default).", _TRACKED)
LazyInstanceNorm2d = _lazy("LazyInstanceNorm2d", layers.InstanceNorm2d, 1, 3, _NORM,
                           "InstanceNorm2d with num_features read from the first input "
                           "(affine and track_running_stats True by default).", _TRACKED)
LazyInstanceNorm3d = _lazy("LazyInstanceNorm3d", layers.InstanceNorm3d, 1, 4, _NORM,
                           "InstanceNorm3d with num_features read from the first input "
                           "(affine and track_running_stats True by default).", _TRACKED)

LAZY = [LazyLinear, LazyConv1d, LazyConv2d, LazyConv3d, LazyConvTranspose1d,
        LazyConvTranspose2d, LazyConvTranspose3d, LazyBatchNorm1d, LazyBatchNorm2d,
        LazyBatchNorm3d, LazyInstanceNorm1d, LazyInstanceNorm2d, LazyInstanceNorm3d]
