"""The NCCL transport (``EMBER_TRANSPORT=nccl``): collectives on CuPy tensors go
GPU to GPU through NCCL (``cupy.cuda.nccl``) with no host copy; MPI starts the job,
hands every rank NCCL's unique id, checks that the ranks agree on shapes, and
carries whatever is not on a GPU (NumPy tensors, DDP's host buckets).

Each process computes on one GPU: ``init()`` makes GPU ``local_rank`` (modulo the
GPUs present) CuPy's current device; create tensors there with
``ember.set_backend(f"cupy:{dist.local_rank()}")``.
"""

import time

from ember.errors import DistributedError

from .mpi import MPICommunicator


class DevicePending:
    """A collective queued on the GPU; ``wait()`` returns its result."""

    def __init__(self, comm, result, what, dtype):
        self.comm, self.result, self.what, self.dtype = comm, result, what, dtype
        self.event = comm.cupy.cuda.get_current_stream().record()

    def wait(self):
        self.comm.wait_device(self.event, self.what)
        return self.result if self.result.dtype == self.dtype else self.result.astype(self.dtype)


class NCCLCommunicator(MPICommunicator):
    #: backends whose buffers this transport moves as they are
    device_backends = frozenset({"cupy"})

    @classmethod
    def availability(cls):
        ok, why = MPICommunicator.availability()
        if not ok:
            return ok, why
        try:
            import cupy
            from cupy.cuda import nccl
            if not nccl.available:
                return False, "CuPy was built without NCCL (pip install nvidia-nccl-cu12 or -cu13)"
            cupy.cuda.runtime.getDeviceCount()
        except Exception as exc:
            return False, (f"NCCL through CuPy is unavailable ({type(exc).__name__}: {exc}); "
                           f"it needs an NVIDIA GPU and CuPy (pip install cupy-cuda12x)")
        return True, ""

    def __init__(self, timeout=300.0):
        super().__init__(timeout)
        import cupy
        from cupy.cuda import nccl
        self.cupy, self.nccl = cupy, nccl
        cupy.cuda.Device(self.local_rank % cupy.cuda.runtime.getDeviceCount()).use()
        uid = self.comm.bcast(nccl.get_unique_id() if self.rank == 0 else None, root=0)
        self.nccl_comm = nccl.NcclCommunicator(self.size, uid, self.rank)
        self.ops = dict(self.ops, **{"nccl sum": nccl.NCCL_SUM, "nccl max": nccl.NCCL_MAX,
                                     "nccl min": nccl.NCCL_MIN})
        self.types = {"uint8": nccl.NCCL_UINT8, "int32": nccl.NCCL_INT32, "int64": nccl.NCCL_INT64,
                      "float16": nccl.NCCL_FLOAT16, "float32": nccl.NCCL_FLOAT32,
                      "float64": nccl.NCCL_FLOAT64}

    def wait_device(self, event, what):
        """Poll the GPU until ``event``; past the deadline, abort NCCL and raise."""
        start = time.monotonic()
        while not event.done:
            if time.monotonic() - start > self.timeout:
                self.nccl_comm.abort()
                raise DistributedError(
                    f"{what}: rank {self.rank} of {self.size} waited {self.timeout:.0f} s for the "
                    f"other GPUs; one of the ranks has stopped or hangs (EMBER_DIST_TIMEOUT sets "
                    f"the limit)")
            time.sleep(1e-4)

    def _on_gpu(self, array):
        return isinstance(array, self.cupy.ndarray)

    def _args(self, array):
        """(contiguous send buffer, NCCL type, stream); bool travels as uint8."""
        send = self.cupy.ascontiguousarray(array)
        if send.dtype.name == "bool":
            send = send.astype(self.cupy.uint8)
        stream = self.cupy.cuda.get_current_stream().ptr
        return send, self.types[send.dtype.name], stream

    def iallreduce(self, array, op="sum", check=True):
        if not self._on_gpu(array):
            return super().iallreduce(array, op, check)
        if check:
            self._agree(array, "all_reduce")
        send, kind, stream = self._args(array)
        out = self.cupy.empty_like(send)
        if send.size:
            self.nccl_comm.allReduce(send.data.ptr, out.data.ptr, send.size, kind,
                                     self.ops["nccl " + op], stream)
        return DevicePending(self, out, "all_reduce", array.dtype)

    def bcast(self, array, root=0):
        if not self._on_gpu(array):
            return super().bcast(array, root)
        self._agree(array, "broadcast")
        send, kind, stream = self._args(array)
        buf = send.copy()
        if buf.size:
            self.nccl_comm.bcast(buf.data.ptr, buf.size, kind, root, stream)
        return DevicePending(self, buf, "broadcast", array.dtype).wait()

    def allgather(self, array):
        if not self._on_gpu(array):
            return super().allgather(array)
        self._agree(array, "all_gather")
        send, kind, stream = self._args(array)
        out = self.cupy.empty((self.size,) + send.shape, send.dtype)
        if send.size:
            self.nccl_comm.allGather(send.data.ptr, out.data.ptr, send.size, kind, stream)
        return list(DevicePending(self, out, "all_gather", array.dtype).wait())
