"""Run under `mpiexec -n 2`: data-parallel training of a digits MLP must end with the
parameters one process reaches on the same global batches (checked on rank 0).

    python ddp_digits.py OUT.json [backend]
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


def step(model, opt, x, y):
    opt.zero_grad()
    cross_entropy(model(x), y).backward()
    opt.step()


def main(out, backend):
    dist.init()
    ember.set_backend(backend)
    data = load_digits().map(lambda x: scale(x, 16.0))
    if dist.rank() == 1:
        ember.manual_seed(123)               # rank 1 starts elsewhere: the broadcast must fix it
    model = DistributedDataParallel(build() if dist.rank() == 0 else
                                    nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10)),
                                    bucket_mb=0.001)          # two buckets
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sampler = DistributedSampler(data, shuffle=True, seed=7, drop_last=True)
    loader = DataLoader(data, batch_size=BATCH, sampler=sampler, drop_last=True, prefetch=0)
    for _ in range(EPOCHS):
        for x, y in loader:
            step(model, opt, x, y)
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
        for k in range(len(shards[0]) // BATCH):
            idx = np.concatenate([s[k * BATCH:(k + 1) * BATCH] for s in shards])
            step(ref, ref_opt, ember.tensor(x_all[idx], dtype=ember.float32),
                 ember.tensor(y_all[idx], dtype=ember.get_backend().default_int))
    want = [p.numpy() for p in ref.parameters()]
    diff = max(float(np.max(np.abs(a - b))) for a, b in zip(got, want))
    with open(out, "w") as f:
        json.dump({"max_abs_diff": diff, "ranks_agree": agree, "world": dist.world_size(),
                   "buckets": len(model.buckets)}, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "numpy")
