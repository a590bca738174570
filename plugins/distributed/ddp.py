"""DistributedDataParallel: one model per process, gradients averaged across ranks.

Parameters go into buckets of about ``bucket_mb`` megabytes, in reverse order of
registration (the order backward reaches them). As soon as backward has
accumulated every gradient of a bucket, the bucket is packed into one buffer and
its all-reduce starts (nonblocking), overlapping the rest of backward; when
backward ends, every reduction is waited for and the averaged gradients replace
``.grad``. ``no_sync()`` skips all of that for gradient accumulation. The buffer is
on the host (a reused NumPy array), or on the device where the transport moves
the backend's buffers itself (NCCL with cupy).
"""

import contextlib

import numpy as np

import ember
import ember.distributed as dist
from ember import autograd
from ember.plugins.nn import Module


class _Bucket:
    __slots__ = ("params", "ready", "pending", "flat")

    def __init__(self, params):
        self.params, self.ready, self.pending = params, set(), None
        self.flat = None            # on the host: a NumPy array, reused (what is sent)
        if not dist.on_device(params[0].backend):
            dtype = np.result_type(*[p.dtype.np for p in params])
            self.flat = np.empty(sum(p.size for p in params), dtype)


class DistributedDataParallel(Module):
    """Wrap ``module``; ranks start from rank 0's parameters and buffers."""

    def __init__(self, module, bucket_mb=25.0):
        super().__init__()
        self.module = module
        self._sync = True
        with ember.no_grad():
            for _, t in list(module.named_parameters()) + list(module.named_buffers()):
                t.copy_(dist.broadcast(t, root=0))
        self.buckets, size, current = [], 0, []
        for p in reversed([p for p in module.parameters() if p.requires_grad]):
            current.append(p)
            size += p.size * p.dtype.itemsize
            if size >= bucket_mb * 2 ** 20:
                self.buckets.append(_Bucket(current))
                current, size = [], 0
        if current:
            self.buckets.append(_Bucket(current))
        self._bucket_of = {}
        for b in self.buckets:
            for p in b.params:
                self._bucket_of[id(p)] = b
                p.register_post_accumulate_grad_hook(self._grad_ready)

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def state_dict(self, destination=None, prefix="", keep_vars=False):
        """The wrapped module's, unprefixed: a checkpoint loads with any number of processes."""
        return self.module.state_dict(destination, prefix, keep_vars)

    def load_state_dict(self, state, strict=True, assign=False):
        return self.module.load_state_dict(state, strict, assign)

    @contextlib.contextmanager
    def no_sync(self):
        """Inside, backward keeps gradients local (they accumulate); the next backward
        outside reduces the accumulated sum."""
        self._sync = False
        try:
            yield
        finally:
            self._sync = True

    def _grad_ready(self, p):
        if not self._sync:
            return
        if autograd.queue_callback(self._finish):     # the first gradient of this pass
            for b in self.buckets:
                b.ready.clear()
                b.pending = None
        bucket = self._bucket_of[id(p)]
        bucket.ready.add(id(p))
        if len(bucket.ready) == len(bucket.params):
            self._start(bucket)

    def _start(self, bucket):
        """Pack the bucket's gradients, divided by the world size, and start their sum."""
        scale, start = 1.0 / dist.world_size(), 0
        if bucket.flat is None:     # on the device, in tensor ops
            parts = [ember.zeros(p.size, dtype=p.dtype, backend=p.backend) if p.grad is None
                     else (p.grad * scale).reshape(-1) for p in bucket.params]
            flat = ember.concatenate(parts) if len(parts) > 1 else parts[0]
            bucket.pending = dist.all_reduce_async(flat)
            return
        for p in bucket.params:
            part = bucket.flat[start:start + p.size]
            start += p.size
            if p.grad is None:
                part[:] = 0
            else:
                np.multiply(dist.host_array(p.grad).reshape(-1), scale, out=part)
        bucket.pending = dist.world().iallreduce(bucket.flat, "sum", check=False)

    def _finish(self):
        """End of backward: reduce what is left (parameters that got no gradient count
        as zeros), wait, and hand each parameter its averaged gradient."""
        for bucket in self.buckets:
            if bucket.pending is None:
                self._start(bucket)
        for bucket in self.buckets:
            flat = bucket.pending.wait()      # a new array: the gradients below share it
            start = 0
            for p in bucket.params:
                part = flat[start:start + p.size].reshape(p.shape)
                start += p.size
                g = part if bucket.flat is None else \
                    ember.from_dlpack(part, backend=p.backend)   # shared on numpy: flat is ours
                p.grad = g if g.dtype is p.dtype else g.to(dtype=p.dtype)
            bucket.ready.clear()
            bucket.pending = None
