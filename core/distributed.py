"""Collectives across processes: ``ember.distributed``.

The transport is a plugin (kind "communicators"; ember ships "mpi", through
mpi4py). A communicator moves NumPy arrays; this module moves tensors of any
backend through it (a host copy where the backend's memory is not the host's)
and keeps the process's one world:

    import ember.distributed as dist
    dist.init()                      # under `mpiexec -n 2 python train.py`
    g = dist.all_reduce(g, op="mean")

Every collective gives up after ``timeout`` seconds (EMBER_DIST_TIMEOUT, 300 by
default) with a DistributedError, so a rank that died or hangs never leaves the
others waiting for ever.
"""

import os

import numpy as np

from . import dispatch
from .errors import DistributedError

OPS = ("sum", "mean", "max", "min")

_world = None


def init(transport=None, timeout=None):
    """Join the world of processes this one was started in; idempotent.

    ``transport`` names a registered communicator (EMBER_TRANSPORT, default "mpi").
    """
    global _world
    if _world is not None:
        return _world
    from .registry import registry
    name = transport or os.environ.get("EMBER_TRANSPORT", "mpi")
    cls = registry.get("communicators", name)
    ok, why = cls.availability()
    if not ok:
        raise DistributedError(f"init: transport {name!r} is unavailable: {why}")
    timeout = float(timeout or os.environ.get("EMBER_DIST_TIMEOUT", 300))
    _world = cls(timeout=timeout)
    return _world


def is_initialized():
    return _world is not None


def world():
    """The communicator of this process's world (after init)."""
    if _world is None:
        raise DistributedError("no distributed world: call ember.distributed.init() first "
                               "(and start the script with `ember launch -n N` or mpiexec)")
    return _world


def rank():
    """This process's rank, 0 when no world was joined."""
    return _world.rank if _world is not None else 0


def world_size():
    return _world.size if _world is not None else 1


def local_rank():
    """The rank among the processes on this machine (which GPU to use)."""
    return _world.local_rank if _world is not None else 0


def host_array(t):
    """The tensor's values as a C-contiguous host array (shared, not copied, on numpy)."""
    if t._backend.host_memory and not dispatch.active():
        return np.ascontiguousarray(t._data)
    return dispatch.primitives(t._backend).to_numpy(dispatch.read(t))   # refused while compiling


def on_device(backend):
    """True when the transport moves this backend's buffers itself (NCCL and cupy), so
    callers should keep data there rather than pack it on the host."""
    return backend.name in getattr(world(), "device_backends", ())


def _payload(t):
    """What the transport moves: the backend's own buffer where it takes that backend's
    buffers (NCCL and cupy), else the values on the host."""
    if on_device(t._backend):
        return dispatch.read(t)
    return host_array(t)


def _back(array, like):
    """A result array as a tensor like ``like`` (sharing the array's memory on numpy)."""
    if not isinstance(array, np.ndarray):         # the backend's own buffer (NCCL)
        from .tensor import wrap
        return wrap(array, like._backend, like.shape, like.dtype)
    from .creation import from_dlpack
    out = from_dlpack(np.ascontiguousarray(array), backend=like._backend)
    return out if out.dtype is like.dtype else out.to(dtype=like.dtype)


def all_reduce(t, op="sum"):
    """The elementwise ``op`` (sum, mean, max, min) of ``t`` over every rank, as a new tensor."""
    if op not in OPS:
        raise ValueError(f"all_reduce: op must be one of {', '.join(OPS)}, got {op!r}")
    out = world().allreduce(_payload(t), "sum" if op == "mean" else op)
    if op == "mean":
        out = out / world().size if out.dtype.kind == "f" else out // world().size
    return _back(out, t)


class Pending:
    """A started all-reduce; ``wait()`` gives the result as a tensor like the input."""

    def __init__(self, pending, like):
        self.pending, self.like = pending, like

    def wait(self):
        return _back(self.pending.wait(), self.like)


def all_reduce_async(t, op="sum"):
    """Start the elementwise ``op`` (sum, max, min) of ``t`` over every rank without
    waiting (backward goes on meanwhile); the shapes are not compared across ranks."""
    if op not in ("sum", "max", "min"):
        raise ValueError(f"all_reduce_async: op must be sum, max or min, got {op!r}")
    return Pending(world().iallreduce(_payload(t), op, check=False), t)


def broadcast(t, root=0):
    """Rank ``root``'s ``t`` on every rank (shape and dtype must agree everywhere)."""
    return _back(world().bcast(_payload(t), root), t)


def all_gather(t):
    """A list with every rank's ``t``, in rank order (shapes must agree)."""
    return [_back(a, t) for a in world().allgather(_payload(t))]


def barrier():
    """Wait until every rank gets here."""
    world().barrier()
