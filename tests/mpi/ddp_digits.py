"""Run under `mpiexec -n 2`: data-parallel training of a digits MLP must end with the
parameters one process reaches on the same global batches (checked on rank 0).

    python ddp_digits.py OUT.json [accumulate]

With ``accumulate`` each optimizer step takes two batches: the first backward under
``no_sync()``, the second synchronized (gradient accumulation).
"""

import json
import sys

import numpy as np

import ember
import ember.distributed as dist
from ember.plugins import nn, optim
from ember.plugins.data import DataLoader, load_digits, scale
from ember.plugins.distributed import DistributedDataParallel, DistributedSampler
from ember.plugins.losses import cross_entropy

EPOCHS, BATCH = 2, 16


def build():
    ember.manual_seed(0)
    return nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))


def step(model, opt, batches, ddp=None):
    """One optimizer step over ``batches`` (gradients accumulated; synchronized on the last)."""
    opt.zero_grad()
    for i, (x, y) in enumerate(batches):
        if ddp is not None and i < len(batches) - 1:
            with ddp.no_sync():
                cross_entropy(model(x), y).backward()
        else:
            cross_entropy(model(x), y).backward()
    opt.step()


def main(out, per_step):
    dist.init()
    data = load_digits().map(lambda x: scale(x, 16.0))
    if dist.rank() == 1:
        ember.manual_seed(123)               # rank 1 starts elsewhere: the broadcast must fix it
    model = DistributedDataParallel(build() if dist.rank() == 0 else
                                    nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10)),
                                    bucket_mb=0.001)          # two buckets
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    world, started = dist.world(), []
    plain = world.iallreduce
    world.iallreduce = lambda *a, **k: started.append(1) or plain(*a, **k)   # count reductions
    sampler = DistributedSampler(data, shuffle=True, seed=7, drop_last=True)
    loader = DataLoader(data, batch_size=BATCH, sampler=sampler, drop_last=True, prefetch=0)
    steps = 0
    for _ in range(EPOCHS):
        batches = list(loader)
        for k in range(0, len(batches) - per_step + 1, per_step):
            step(model, opt, batches[k:k + per_step], model)
            steps += 1
    got = [p.numpy() for p in model.parameters()]
    agree = all(np.array_equal(a.numpy(), b.numpy())
                for p in model.parameters() for a, b in [dist.all_gather(p)])
    if dist.rank() != 0:
        return
    ref = build()
    ref_opt = optim.SGD(ref.parameters(), lr=0.1, momentum=0.9)
    x_all, y_all = data.arrays
    for epoch in range(EPOCHS):
        shards = []
        for r in range(dist.world_size()):
            s = DistributedSampler(data, num_replicas=dist.world_size(), rank=r, seed=7, drop_last=True)
            s.set_epoch(epoch)
            shards.append(s.indices())
        batches_per_rank = len(shards[0]) // BATCH
        for k in range(0, batches_per_rank - per_step + 1, per_step):
            batches = []
            for j in range(k, k + per_step):
                idx = np.concatenate([s[j * BATCH:(j + 1) * BATCH] for s in shards])
                batches.append((ember.tensor(x_all[idx], dtype=ember.float32),
                                ember.tensor(y_all[idx], dtype=ember.get_backend().default_int)))
            step(ref, ref_opt, batches)
    want = [p.numpy() for p in ref.parameters()]
    diff = max(float(np.max(np.abs(a - b))) for a, b in zip(got, want))
    with open(out, "w") as f:
        json.dump({"max_abs_diff": diff, "ranks_agree": agree, "world": dist.world_size(),
                   "buckets": len(model.buckets), "steps": steps, "reductions": len(started)}, f)


if __name__ == "__main__":
    main(sys.argv[1], 2 if sys.argv[2:] == ["accumulate"] else 1)
