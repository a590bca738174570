"""ember.distributed, DistributedDataParallel and DistributedSampler; the multi-process
tests start `ember launch -n 2` (mpiexec from the mpich wheel) on this machine."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import ember
import ember.distributed as dist
from ember.plugins.data import DataLoader, TensorDataset
from ember.plugins.distributed import DistributedSampler
from ember.plugins.distributed.launch import find_mpiexec

SCRIPTS = Path(__file__).with_name("mpi")
needs_mpi = pytest.mark.skipif(find_mpiexec() is None or not ember.config.availability("numpy")[0]
                               or not __import__("importlib").util.find_spec("mpi4py"),
                               reason="mpi4py and mpiexec missing: pip install 'ember[distributed]'")


def launch(*args, timeout=120, env=None):
    """``ember launch -n 2`` of a script: (the finished process, seconds it took). A run
    that failed with no output at all is run once more, so that the test judges what the
    ranks did: seen once in six fresh-clone `make test` runs on 2026-12-02 (exit status 1,
    empty stdout and stderr, other tests launching MPI jobs beside it), never alone in
    eight runs of that test, loaded or not."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("EMBER_")}
    full_env.update(env or {})
    for _ in range(2):
        start = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "ember.cli", "launch", "-n", "2",
                               *map(str, args)],
                              capture_output=True, text=True, timeout=timeout, env=full_env)
        if done.returncode == 0 or done.stdout or done.stderr:
            break
    return done, time.monotonic() - start


# -- the sampler, in one process ------------------------------------------------------
def test_sampler_shares_are_disjoint_equal_and_cover_the_data():
    data = list(range(10))
    shares = [DistributedSampler(data, num_replicas=3, rank=r, seed=1) for r in range(3)]
    idx = [s.indices() for s in shares]
    assert [len(i) for i in idx] == [4, 4, 4] and [len(s) for s in shares] == [4, 4, 4]
    assert set(np.concatenate(idx)) == set(range(10))          # two padded by wrapping around
    firsts = [s.indices()[:2].tolist() for s in shares]
    for s in shares:
        s.set_epoch(1)
    assert [s.indices()[:2].tolist() for s in shares] != firsts   # reshuffled each epoch


def test_sampler_drop_last_and_order():
    s = DistributedSampler(list(range(10)), num_replicas=4, rank=1, shuffle=False, drop_last=True)
    assert s.indices().tolist() == [1, 5] and len(s) == 2
    with pytest.raises(ValueError, match="rank 4 is outside 0..3"):
        DistributedSampler(list(range(10)), num_replicas=4, rank=4)


def test_dataloader_takes_a_sampler_not_both():
    data = TensorDataset(np.arange(12.0).reshape(6, 2), np.arange(6))
    sampler = DistributedSampler(data, num_replicas=2, rank=1, seed=0)
    loader = DataLoader(data, batch_size=2, sampler=sampler, prefetch=0)
    seen = np.concatenate([y.numpy() for _, y in loader])
    assert sorted(seen.tolist()) == sorted(sampler.indices().tolist()) and len(loader) == 2
    with pytest.raises(ValueError, match="give shuffle or a sampler, not both"):
        DataLoader(data, sampler=sampler, shuffle=True)


def test_collectives_without_a_world_name_the_fix():
    if dist.is_initialized():
        pytest.skip("a world was joined in this process")
    assert dist.rank() == 0 and dist.world_size() == 1
    with pytest.raises(ember.DistributedError, match="call ember.distributed.init"):
        dist.all_reduce(ember.ones(2))


def test_unknown_transport_lists_the_registered_ones():
    with pytest.raises(ember.PluginError, match="mpi"):
        dist.init(transport="carrier-pigeon")


def test_the_nccl_transport_is_registered_and_says_why_it_cannot_run_here():
    ok, why = ember.registry.get("communicators", "nccl").availability()
    if ok:
        pytest.skip("NCCL is usable here: tests/mpi/nccl_check.py exercises it")
    assert "NCCL" in why or "mpi4py" in why
    if not dist.is_initialized():
        with pytest.raises(ember.DistributedError, match="transport 'nccl' is unavailable: "):
            dist.init(transport="nccl")


# -- two processes ---------------------------------------------------------------------------
@needs_mpi
@pytest.mark.parametrize("name", ["numpy", "opencl", "wgpu"])
def test_collectives_across_two_ranks(name):
    if not ember.config.availability(name)[0]:
        pytest.skip(f"backend {name} unavailable")
    done, _ = launch(SCRIPTS / "collectives.py", "values", name)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["sum"] == [0.0, 3.0, 6.0, 9.0] and found["mean"] == [0.0, 1.5, 3.0, 4.5]
    assert found["max"] == [2, 2] and found["min"] == [1, 0]
    assert found["int_dtype"] == ember.get_backend(name).default_int.name
    assert found["device"] == name and found["broadcast"] == [[11.0]]
    assert found["gather"] == [[0, 0], [1, 1]] and found["world"] == [2, 0]


@needs_mpi
@pytest.mark.parametrize("name", ["numpy", "opencl"])
def test_sync_batch_norm_on_two_ranks_is_batch_norm_of_the_global_batch(name):
    """Each rank's half through SyncBatchNorm against BatchNorm2d over the whole batch:
    outputs, input gradients, parameter gradients summed over the ranks and the running
    statistics agree (float64 on numpy, float32 on opencl)."""
    if not ember.config.availability(name)[0]:
        pytest.skip(f"backend {name} unavailable")
    done, _ = launch(SCRIPTS / "sync_batch_norm.py", name)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    bound = 1e-12 if found.pop("dtype") == "float64" else 1e-5
    assert all(v < bound for v in found.values()), found


def test_sync_batch_norm_outside_a_world_is_batch_norm():
    """One process: SyncBatchNorm trains and evaluates as BatchNorm2d; convert_sync_batchnorm
    swaps every BatchNorm for it, keeping the parameters (an optimizer holds them) and
    buffers; a process group is refused by name."""
    from ember.plugins import nn
    ember.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(),
                          nn.Sequential(nn.BatchNorm2d(4)))
    x = ember.randn(2, 3, 6, 6)
    want = model(x).numpy()
    weight = model[1].weight
    for m in (model[1], model[3][0]):
        m.running_mean.copy_(ember.zeros(4))
        m.running_var.copy_(ember.ones(4))
    synced = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    assert type(synced[1]) is nn.SyncBatchNorm and type(synced[3][0]) is nn.SyncBatchNorm
    assert synced[1].weight is weight
    np.testing.assert_allclose(synced(x).numpy(), want, rtol=1e-6)
    synced.eval()
    np.testing.assert_allclose(synced[1](ember.ones((1, 4, 2, 2))).numpy(),
                               model[1](ember.ones((1, 4, 2, 2))).numpy())
    with pytest.raises(ValueError, match="process_group must be None"):
        nn.SyncBatchNorm(4, process_group="group")


@needs_mpi
@pytest.mark.parametrize("mode", ["each_batch", "accumulate"])
def test_ddp_on_two_ranks_matches_one_process_on_the_global_batches(tmp_path, mode):
    out = tmp_path / "ddp.json"
    done, _ = launch(SCRIPTS / "ddp_digits.py", out, mode)
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    assert result["world"] == 2 and result["buckets"] == 2 and result["ranks_agree"]
    assert result["reductions"] == result["steps"] * 2      # no_sync backward passes send nothing
    assert result["max_abs_diff"] < 1e-5


@needs_mpi
@pytest.mark.parametrize("mode,message", [
    ("raises", "rank 1 of 2 stopped: ValueError: boom on purpose; aborting the other ranks"),
    ("shapes", "the ranks hold different shapes or dtypes (rank 0: (3,), rank 1: (4,))"),
    ("hangs", "all_reduce: rank 0 of 2 waited 3 s for the other ranks"),
    ("dies", ""),
])
def test_a_failing_rank_stops_the_job_with_its_name(mode, message):
    done, took = launch(SCRIPTS / "collectives.py", mode, env={"EMBER_DIST_TIMEOUT": "3"}, timeout=90)
    assert done.returncode != 0, done.stderr
    assert message in done.stderr, done.stderr
    assert took < 60, f"took {took:.0f} s"     # the job ends, well before rank 1's 60 s sleep


@needs_mpi
def test_ember_train_distributed_writes_one_checkpoint_that_loads_in_one_process(tmp_path):
    config = Path(__file__).resolve().parent.parent / "examples" / "train_digits.toml"
    text = config.read_text().replace('output = "runs/train_digits"', f'output = "{tmp_path.as_posix()}"')
    (tmp_path / "cfg.toml").write_text(text)
    done, _ = launch("ember", "train", tmp_path / "cfg.toml", "--distributed", "--epochs", "2",
                     "--quiet")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("ember train:") == 1 and "2 processes" in done.stdout
    reported = float(done.stdout.split("accuracy ")[1].split(",")[0])
    assert (tmp_path / "final.ember").exists() and (tmp_path / "history.csv").exists()
    alone = subprocess.run([sys.executable, "-m", "ember.cli", "evaluate", str(tmp_path / "final.ember")],
                           capture_output=True, text=True, timeout=120)
    assert alone.returncode == 0, alone.stderr
    single = float(alone.stdout.split("accuracy: ")[1].split()[0])
    assert abs(single - reported) < 0.01     # the sharded test set pads one sample


@needs_mpi
def test_the_script_in_the_docs_runs_on_two_ranks(tmp_path):
    doc = (Path(__file__).resolve().parent.parent / "docs" / "distributed.md").read_text()
    script = doc.split("```python\n")[1].split("```")[0].replace("range(10)", "range(2)")
    (tmp_path / "train.py").write_text(script)
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("EMBER_")}
    done = subprocess.run([sys.executable, "-m", "ember.cli", "launch", "-n", "2", "train.py"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120, env=full_env)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "model.ember").exists()


@needs_mpi
def test_launch_names_a_missing_script_once(tmp_path):
    done = subprocess.run([sys.executable, "-m", "ember.cli", "launch", "-n", "2", "missing.py"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stderr == "ember launch: no such script 'missing.py'\n"


def test_post_accumulate_grad_hooks_and_end_of_backward_callbacks():
    from ember import autograd
    w = ember.tensor([1.0, 2.0], requires_grad=True)
    seen, ended = [], []
    w.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.tolist()))
    ((w * w).sum() + w.sum()).backward()
    assert seen == [[3.0, 5.0]]                       # once, with the whole gradient

    def end():
        ended.append(len(seen))
    assert autograd.queue_callback(end) is True
    assert autograd.queue_callback(end) is False      # once per pass
    (w * 2).sum().backward()
    assert seen[-1] == [5.0, 7.0] and ended == [2]    # after the pass's hooks
    assert not autograd._end_of_backward
    with pytest.raises(ember.AutogradError, match="only leaf tensors"):
        (w * 2).register_post_accumulate_grad_hook(print)


class _Loopback:
    """A world of one whose transport takes numpy buffers as they are, the way NCCL
    takes cupy's: DDP then packs its buckets on the device, in tensor ops."""

    rank, size, local_rank = 0, 1, 0
    device_backends = frozenset({"numpy"})

    class _Done:
        def __init__(self, array):
            self.array = array

        def wait(self):
            return self.array.copy()

    def iallreduce(self, array, op="sum", check=True):
        return self._Done(array)

    def allreduce(self, array, op="sum"):
        return array.copy()

    def bcast(self, array, root=0):
        return array.copy()


def test_ddp_packs_buckets_on_the_device_when_the_transport_takes_device_buffers(monkeypatch):
    from ember.plugins import nn
    from ember.plugins.distributed import DistributedDataParallel
    from ember.plugins.losses import cross_entropy
    monkeypatch.setattr(dist, "_world", _Loopback())
    ember.manual_seed(0)
    plain = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3))
    ember.manual_seed(0)
    wrapped = DistributedDataParallel(nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3)),
                                      bucket_mb=60 / 2 ** 20)      # a few parameters per bucket
    assert len(wrapped.buckets) > 1 and all(b.flat is None for b in wrapped.buckets)
    x, y = ember.randn(4, 6), ember.tensor([0, 2, 1, 2])
    cross_entropy(plain(x), y).backward()
    cross_entropy(wrapped(x), y).backward()
    for a, b in zip(plain.parameters(), wrapped.parameters()):
        np.testing.assert_allclose(b.grad.numpy(), a.grad.numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="sum, max or min"):
        dist.all_reduce_async(x, "mean")
