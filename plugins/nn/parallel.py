"""torch.nn.DataParallel, so that ported training scripts that wrap their model in it
run: ember runs a model on one device per process, so the wrapper calls the model
(as PyTorch's does where it finds no second GPU). Its state dict keeps PyTorch's
``module.`` prefix, so checkpoints move between the two either way. For several devices
or machines, ember.plugins.distributed's DistributedDataParallel runs one process
per device."""

from .module import Module


class DataParallel(Module):
    """``DataParallel(module, device_ids=None, output_device=None, dim=0)``: forward is
    ``module``'s; ``.module`` is the model. More than one device id is refused, with the
    way to use several."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DataParallel wraps a Module, got {type(module).__name__}")
        device_ids = list(device_ids) if device_ids is not None else []
        if len(device_ids) > 1:
            raise ValueError(f"DataParallel: ember runs a model on one device per process, "
                             f"got device_ids={device_ids}; run one process per device with "
                             f"ember.plugins.distributed.DistributedDataParallel (`ember launch -n N script.py`)")
        self.module = module
        self.device_ids, self.output_device, self.dim = device_ids, output_device, dim

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)
