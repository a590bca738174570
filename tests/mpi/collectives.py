"""Run under `mpiexec -n 2`: ember.distributed's collectives and failure modes.

    python collectives.py values BACKEND   print each collective's result as JSON (rank 0)
    python collectives.py raises           rank 1 raises before a collective
    python collectives.py dies             rank 1 exits at once, status 3
    python collectives.py hangs            rank 1 sleeps past EMBER_DIST_TIMEOUT
    python collectives.py shapes           the ranks pass different shapes
"""

import json
import os
import sys
import time

import numpy as np

import ember
import ember.distributed as dist


def values(backend):
    r = dist.rank()
    t = ember.tensor(np.arange(4, dtype=np.float32) * (r + 1), backend=backend)
    i = ember.tensor([r + 1, 2 * r], backend=backend)
    found = {
        "sum": dist.all_reduce(t).tolist(), "mean": dist.all_reduce(t, "mean").tolist(),
        "max": dist.all_reduce(i, "max").tolist(), "min": dist.all_reduce(i, "min").tolist(),
        "int_dtype": dist.all_reduce(i).dtype.name, "device": dist.all_reduce(t).device,
        "broadcast": dist.broadcast(ember.tensor([[r + 10.0]], backend=backend), root=1).tolist(),
        "gather": [x.tolist() for x in dist.all_gather(ember.tensor([r, r], backend=backend))],
        "world": [dist.world_size(), dist.local_rank()],
    }
    dist.barrier()
    if r == 0:
        print(json.dumps(found))


def main(mode):
    dist.init()
    if mode == "values":
        values(sys.argv[2])
        return
    if mode == "raises" and dist.rank() == 1:
        raise ValueError("boom on purpose")
    if mode == "dies" and dist.rank() == 1:
        os._exit(3)
    if mode == "hangs" and dist.rank() == 1:
        time.sleep(60)
    shape = (3,) if mode != "shapes" or dist.rank() == 0 else (4,)
    dist.all_reduce(ember.ones(shape))


if __name__ == "__main__":
    main(sys.argv[1])
