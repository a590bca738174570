"""Kernel tuning (ember.tuning): the search, its cache on disk, and every matmul tiling
a strided backend may choose, each checked against NumPy."""

import json

import numpy as np
import pytest

import ember
from ember import tuning


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A fresh cache folder, tuning on, nothing remembered in this process."""
    monkeypatch.setenv("EMBER_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("EMBER_TUNING", "1")
    monkeypatch.setattr(tuning, "_entries", None)
    return tmp_path / "tuning.json"


def _timed_trial(costs, calls):
    """A trial whose candidate c 'runs' by sleeping costs[c] and answers [1, 2]."""
    import time

    def trial(c):
        calls.append(c)
        time.sleep(costs[c[0]])
        return np.array([1.0, 2.0])
    return trial


def test_the_fastest_candidate_is_chosen_and_kept_on_disk(cache):
    calls = []
    choice = tuning.tuned("dev|k|f32", [("a",), ("b",), ("c",)],
                          _timed_trial({"a": 0.004, "b": 0.0, "c": 0.008}, calls))
    assert choice == ("b",)
    assert json.loads(cache.read_text()) == {"dev|k|f32": ["b"]}
    assert tuning.entries() == {"dev|k|f32": ["b"]}
    calls.clear()                      # remembered: no trial runs again, in a new process too
    tuning._entries = None
    assert tuning.tuned("dev|k|f32", [("a",), ("b",), ("c",)], _timed_trial({}, calls)) == ("b",)
    assert calls == []


def test_a_wrong_or_failing_candidate_is_dropped(cache):
    def trial(c):
        if c == ("fails",):
            raise RuntimeError("does not build")
        return np.array([0.0]) if c == ("wrong",) else np.array([1.0])
    # the wrong one would be fastest (no work), yet it is never chosen
    assert tuning.tuned("dev|k2", [("right",), ("wrong",), ("fails",)], trial) == ("right",)


def test_the_first_candidate_must_work(cache):
    def trial(c):
        raise RuntimeError("broken default")
    with pytest.raises(RuntimeError, match="broken default"):
        tuning.tuned("dev|k3", [("a",), ("b",)], trial)


def test_tuning_off_takes_the_default_without_trying(cache, monkeypatch):
    monkeypatch.setenv("EMBER_TUNING", "0")
    calls = []
    assert tuning.tuned("dev|k4", [("a",), ("b",)], _timed_trial({"a": 0, "b": 0}, calls)) == ("a",)
    assert calls == [] and not cache.exists()


def test_a_corrupt_cache_warns_and_is_rewritten(cache):
    cache.write_text("{not json")
    with pytest.warns(tuning.TuningWarning, match="ignoring the tuning cache .*tuned again"):
        choice = tuning.tuned("dev|k5", [("a",), ("b",)], lambda c: np.zeros(1))
    assert json.loads(cache.read_text()) == {"dev|k5": [choice[0]]}


def test_an_unwritable_cache_warns_and_keeps_the_choice(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("EMBER_CACHE_DIR", str(blocker / "sub"))    # a folder inside a file
    monkeypatch.setenv("EMBER_TUNING", "1")
    monkeypatch.setattr(tuning, "_entries", None)
    with pytest.warns(tuning.TuningWarning, match="cannot write the tuning cache.*EMBER_CACHE_DIR"):
        choice = tuning.tuned("dev|k6", [("a",), ("b",)], lambda c: np.zeros(1))
    assert tuning.entries() == {"dev|k6": list(choice)}


def _strided_backends():
    names = []
    for name in ("opencl", "wgpu"):
        if ember.config.availability(name)[0]:
            names.append(name)
    return names


@pytest.mark.parametrize("name", _strided_backends())
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_matmul_tiling_gives_numpys_answer(name, dtype):
    """Exact on integer-valued operands (any order of summation gives the same float),
    over shapes that leave partial tiles on every edge, batched and broadcast."""
    b = ember.get_backend(name)
    if ember.dtypes.from_numpy_dtype(np.dtype(dtype)) not in b.dtypes:
        pytest.skip(f"{name} has no {np.dtype(dtype).name}")
    rng = np.random.default_rng(1)
    cases = [((37, 53), (53, 29)), ((3, 1, 19, 130), (2, 130, 21)), ((1, 5), (5, 1)),
             ((16, 16), (16, 16))]
    for edge in ((16, 16), (8, 8), (4, 4)):
        for choice in b._matmul_candidates(np.dtype(dtype), *edge):
            for sa, sb in cases:
                x, y = (rng.integers(-8, 9, s).astype(dtype) for s in (sa, sb))
                m, k, n = sa[-2], sa[-1], sb[-1]
                batch = np.broadcast_shapes(sa[:-2], sb[:-2])
                got = b.to_numpy(b._matmul(b.from_numpy(x), b.from_numpy(y), m, k, n, batch,
                                           int(np.prod(batch, dtype=np.int64)), choice))
                assert np.array_equal(got, x.astype(np.float64) @ y), (choice, sa, sb)


@pytest.mark.parametrize("name", _strided_backends())
def test_a_large_matmul_is_tuned_once_per_device(name, cache):
    b = ember.get_backend(name)
    b._choices.clear()
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((130, 140)).astype(np.float32), rng.standard_normal((140, 150)).astype(np.float32)
    with ember.backend(name):
        got = (ember.tensor(x) @ ember.tensor(y)).numpy()
    want = x.astype(np.float64) @ y
    scale = np.abs(x).astype(np.float64) @ np.abs(y)     # the bound of a sum's rounding
    assert np.all(np.abs(got - want) <= 140 * 2.0 ** -24 * scale)
    (key, choice), = json.loads(cache.read_text()).items()
    assert key.startswith(f"{b.tuning_name()}|matmul|float32|lll|")
    assert tuple(choice) in b._matmul_candidates(np.dtype(np.float32), 16, 16)
    b._choices.clear()
