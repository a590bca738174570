"""Conformance checks for every registered serializer, on every backend: each dtype
the backend holds, 0-d, empty and non-contiguous tensors, saving on one backend and
loading onto another, nested checkpoints where the format holds them, and clear
errors on truncated files."""

import numpy as np
import pytest

import ember
from ember.registry import registry
from ember.testing.checks import expect

SERIALIZERS = registry.names("serializers")


def _unstorable(name):
    """The dtype names a format says it cannot store (NumPy's .npz: bfloat16)."""
    return getattr(registry.get("serializers", name), "unstorable", ())


def _tensors(backend, skip=()):
    rng = np.random.default_rng(0)
    out = {}
    for d in ember.dtypes.ALL:
        if d in backend.dtypes and d.name not in skip:
            values = rng.standard_normal((3, 4)) * 10
            if d.is_complex:
                values = values + 1j * rng.standard_normal((3, 4))
            out[f"t_{d.name}"] = ember.tensor(values > 0 if d is ember.bool_ else
                                              np.abs(values).astype(d.np) if d.is_unsigned
                                              else values.astype(d.np))
    out["zero_d"] = ember.tensor(3.5)
    out["empty"] = ember.zeros(0, 3)
    out["strided"] = ember.arange(24.0).reshape(4, 6).T[::2]
    return out


def _path(tmp_path, name, stem="state"):
    cls = registry.get("serializers", name)
    return tmp_path / (stem + cls.extensions[0])


def _same(a, b, what):
    expect(a.dtype is b.dtype and a.shape == b.shape, f"{what}: {a.dtype}{a.shape} vs {b.dtype}{b.shape}")
    np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=what)


@pytest.mark.parametrize("name", SERIALIZERS)
def test_round_trip_every_dtype_and_layout(backend, name, tmp_path):
    tensors = _tensors(backend, _unstorable(name))
    path = _path(tmp_path, name)
    ember.save(tensors, path)
    for target in (backend, ember.get_backend("numpy")):
        loaded = ember.load(path, backend=target)
        expect(sorted(loaded) == sorted(tensors), f"{name}: keys {sorted(loaded)}")
        for key, t in tensors.items():
            expect(loaded[key].device == target.device, f"{name}: {key} on {loaded[key].device}")
            _same(loaded[key], t, f"{name}: {key} loaded onto {target.device}")


@pytest.mark.parametrize("name", SERIALIZERS)
def test_a_dtype_the_format_cannot_store_is_refused_by_name(backend, name, tmp_path):
    refused = [d for d in _unstorable(name) if ember.dtypes.dtype(d) in backend.dtypes]
    if not refused:
        pytest.skip(f"{name} stores every dtype {backend.name} holds")
    for d in refused:
        t = ember.zeros(2, dtype=d, backend=backend)
        with pytest.raises(ember.SerializationError, match=d):
            ember.save({"w": t}, _path(tmp_path, name))
        expect(not _path(tmp_path, name).exists(), f"{name}: a refused save left a file")


@pytest.mark.parametrize("name", SERIALIZERS)
def test_a_lone_tensor_and_cross_backend_load(backend, name, tmp_path):
    path = _path(tmp_path, name, "lone")
    t = ember.randn(2, 3, backend="numpy")
    ember.save(t, path)
    back = ember.load(path, backend=backend)
    expect(isinstance(back, ember.Tensor), f"{name}: a lone tensor loads as {type(back).__name__}")
    _same(back, t, f"{name}: saved on numpy, loaded onto {backend.device}")


@pytest.mark.parametrize("name", SERIALIZERS)
def test_nested_checkpoints_where_the_format_holds_them(backend, name, tmp_path):
    cls = registry.get("serializers", name)
    obj = {"model": {"w": ember.ones(2, 2)}, "epoch": 3, "lr": 0.5, "tags": ["a", None, True],
           "betas": (0.9, 0.999), "rng": ember.get_rng_state(), "state": {0: {"step": 4}}}
    path = _path(tmp_path, name, "ckpt")
    if not cls.nested:
        with pytest.raises(ember.SerializationError, match="save checkpoints and nested state in .ember"):
            ember.save(obj, path)
        expect(not path.exists(), f"{name}: a refused save must not create {path}")
        return
    ember.save(obj, path)
    back = ember.load(path)
    _same(back["model"]["w"], obj["model"]["w"], f"{name}: nested tensor")
    rest = {k: v for k, v in back.items() if k != "model"}
    expect(rest == {k: v for k, v in obj.items() if k != "model"}, f"{name}: {rest}")


@pytest.mark.parametrize("name", SERIALIZERS)
def test_truncated_files_raise_serialization_error(backend, name, tmp_path):
    path = _path(tmp_path, name)
    ember.save(_tensors(backend, _unstorable(name)), path)
    data = path.read_bytes()
    for cut in sorted({0, 1, 7, 8, len(data) // 3, len(data) // 2, len(data) - 1}):
        path.write_bytes(data[:cut])
        with pytest.raises(ember.SerializationError, match=str(path.name)):
            ember.load(path)
