"""The MPI transport, through mpi4py: nonblocking collectives polled against a deadline,
so a rank that stopped or hangs turns into an error instead of a wait for ever; an
uncaught exception on any rank aborts the whole job with that rank's name."""

import sys
import time

import numpy as np

from ember.errors import DistributedError

_WIDEN = {np.dtype(np.float16): np.float32, np.dtype(np.bool_): np.uint8}


class Pending:
    """A started collective; ``wait()`` returns its result."""

    def __init__(self, comm, request, result, what, dtype):
        self.comm, self.request, self.result, self.what, self.dtype = comm, request, result, what, dtype

    def wait(self):
        self.comm.wait(self.request, self.what)
        return self.result if self.result.dtype == self.dtype else self.result.astype(self.dtype)


class MPICommunicator:
    """MPI.COMM_WORLD of the job this process was started in (mpiexec / ember launch)."""

    @classmethod
    def availability(cls):
        try:
            from mpi4py import MPI  # noqa: F401
        except Exception as exc:
            return False, (f"mpi4py is not installed ({type(exc).__name__}: {exc}); "
                           f"pip install 'ember[distributed]'")
        return True, ""

    def __init__(self, timeout=300.0):
        from mpi4py import MPI
        self.MPI, self.comm, self.timeout = MPI, MPI.COMM_WORLD, timeout
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        self.local_rank = self.comm.Split_type(MPI.COMM_TYPE_SHARED).Get_rank()
        self.ops = {"sum": MPI.SUM, "max": MPI.MAX, "min": MPI.MIN}
        if self.size > 1:
            self._abort_on_uncaught()

    def _abort_on_uncaught(self):
        previous = sys.excepthook

        def hook(kind, exc, tb):   # the one line first: aborting may cut the traceback short
            sys.stderr.write(f"ember.distributed: rank {self.rank} of {self.size} stopped: "
                             f"{kind.__name__}: {exc}; aborting the other ranks\n")
            sys.stderr.flush()
            previous(kind, exc, tb)
            sys.stderr.flush()
            self.comm.Abort(1)

        sys.excepthook = hook

    def wait(self, request, what):
        """Poll ``request`` until done; past the deadline, a DistributedError."""
        start = time.monotonic()
        while not request.Test():          # spin for a second (as MPI_Wait would), then nap
            waited = time.monotonic() - start
            if waited > self.timeout:
                raise DistributedError(
                    f"{what}: rank {self.rank} of {self.size} waited {self.timeout:.0f} s for the "
                    f"other ranks; one of them has stopped or hangs (EMBER_DIST_TIMEOUT sets "
                    f"the limit)")
            if waited > 1.0:
                time.sleep(1e-3)

    def _agree(self, array, what):
        """Every rank holds the same shape and dtype (else a clear error, not a crash)."""
        mine = np.zeros(10, np.int64)
        mine[0], mine[1] = array.ndim, array.dtype.num
        mine[2:2 + min(array.ndim, 8)] = array.shape[:8]
        every = np.empty((self.size, 10), np.int64)
        self.wait(self.comm.Iallgather(mine, every), what)
        if (every != mine).any():
            shapes = [tuple(int(d) for d in row[2:2 + row[0]]) for row in every]
            raise DistributedError(f"{what}: the ranks hold different shapes or dtypes "
                                   f"({', '.join(f'rank {i}: {s}' for i, s in enumerate(shapes))}); "
                                   f"every rank must pass the same shape and dtype")

    @staticmethod
    def _wire(array):
        wide = _WIDEN.get(array.dtype)
        return np.ascontiguousarray(array if wide is None else array.astype(wide))

    def iallreduce(self, array, op="sum", check=True):
        """Start an all-reduce of ``array``; the returned Pending's wait() gives the result."""
        if check:
            self._agree(array, "all_reduce")
        send = self._wire(array)
        out = np.empty_like(send)
        return Pending(self, self.comm.Iallreduce(send, out, op=self.ops[op]), out, "all_reduce",
                       array.dtype)

    def allreduce(self, array, op="sum"):
        return self.iallreduce(array, op).wait()

    def bcast(self, array, root=0):
        self._agree(array, "broadcast")
        buf = self._wire(array).copy()
        return Pending(self, self.comm.Ibcast(buf, root=root), buf, "broadcast", array.dtype).wait()

    def allgather(self, array):
        self._agree(array, "all_gather")
        send = self._wire(array)
        out = np.empty((self.size,) + send.shape, send.dtype)
        return list(Pending(self, self.comm.Iallgather(send, out), out, "all_gather",
                            array.dtype).wait())

    def barrier(self):
        self.wait(self.comm.Ibarrier(), "barrier")
