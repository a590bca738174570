"""Data-parallel figures: a digits epoch with 1 and 2 processes, and ember's gradient
all-reduce against mpi4py's raw Allreduce of the same buffer, in one run.

    python benchmarks/distributed.py          (starts the 2-process part with mpiexec)
"""

import json
import os
import subprocess
import sys
import time

import numpy as np

import ember
import ember.distributed as dist
from ember.plugins import nn, optim
from ember.plugins.data import DataLoader, load_digits, scale
from ember.plugins.distributed import DistributedDataParallel, DistributedSampler
from ember.plugins.distributed.launch import find_mpiexec, launch_env
from ember.plugins.losses import cross_entropy

MB4 = 1 << 20          # float32 elements in 4 MB


def epoch_time(distributed, epochs=5):
    ember.manual_seed(0)
    data = load_digits().map(lambda x: scale(x, 16.0))
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    if distributed:
        model = DistributedDataParallel(model)
        loader = DataLoader(data, 64, sampler=DistributedSampler(data, seed=0), prefetch=0)
    else:
        loader = DataLoader(data, 64, shuffle=True, seed=0, prefetch=0)
    opt = optim.Adam(model.parameters(), lr=2e-3)
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        for x, y in loader:
            opt.zero_grad()
            cross_entropy(model(x), y).backward()
            opt.step()
        if distributed:
            dist.barrier()
        times.append(time.perf_counter() - start)
    return float(np.median(times[1:]))


def interleaved(fns, repeat=60):
    """Median seconds of each function, timed in turn (raw, ember, ...) so that the
    machine's drift hits all of them alike."""
    for fn in fns:
        fn()
    times = [[] for _ in fns]
    for _ in range(repeat):
        for fn, out in zip(fns, times):
            dist.barrier()
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    return [float(np.median(t)) for t in times]


def allreduce_times():
    comm = dist.world().comm
    raw = np.random.default_rng(dist.rank()).standard_normal(MB4).astype(np.float32)
    result = np.empty_like(raw)
    tensor = ember.tensor(raw)
    layer = nn.Linear(1024, 1023)          # 1024*1023 + 1023 = 1M float32: 4 MB of gradients
    ddp = DistributedDataParallel(layer)
    for p in layer.parameters():
        p.grad = ember.tensor(np.ones(p.shape, np.float32))

    def sync():
        for bucket in ddp.buckets:
            ddp._start(bucket)
        ddp._finish()
    return interleaved([lambda: comm.Allreduce(raw, result), lambda: dist.all_reduce(tensor), sync])


def worker(out):
    dist.init()
    figures = {"epoch_2": epoch_time(True)}
    figures["raw"], figures["tensor"], figures["ddp"] = allreduce_times()
    if dist.rank() == 0:
        with open(out, "w") as f:
            json.dump(figures, f)


def main():
    one = epoch_time(False)
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), ".distributed.json")
    subprocess.run([find_mpiexec(), "-n", "2", sys.executable, __file__, "--worker", out],
                   check=True, env=launch_env(2))
    with open(out) as f:
        fig = json.load(f)
    os.remove(out)
    print("| figure | time | vs raw Allreduce |\n|---|---|---|")
    print(f"| digits MLP epoch (batch 64 per process), 1 process | {one * 1e3:.1f} ms | |")
    print(f"| digits MLP epoch, 2 processes (DDP) | {fig['epoch_2'] * 1e3:.1f} ms | |")
    print(f"| mpi4py Allreduce, 4 MB float32, 2 processes | {fig['raw'] * 1e3:.2f} ms | 1.00x |")
    print(f"| ember.distributed.all_reduce of a 4 MB tensor | {fig['tensor'] * 1e3:.2f} ms | "
          f"{fig['raw'] / fig['tensor']:.2f}x |")
    print(f"| DDP gradient sync, 4 MB of gradients in one bucket | {fig['ddp'] * 1e3:.2f} ms | "
          f"{fig['raw'] / fig['ddp']:.2f}x |")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--worker":
        worker(sys.argv[2])
    else:
        main()
