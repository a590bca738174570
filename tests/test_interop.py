"""DLPack: zero-copy with NumPy and PyTorch on the numpy backend."""

import numpy as np
import pytest

import ember


def test_numpy_shares_memory_both_ways():
    t = ember.arange(6.0).reshape(2, 3)
    a = np.from_dlpack(t)
    assert a.ctypes.data == t._data.ctypes.data
    src = np.arange(4, dtype=np.float64)
    e = ember.from_dlpack(src, backend="numpy")
    assert e._data.ctypes.data == src.ctypes.data and e.dtype is ember.float64


def test_pytorch_shares_memory_both_ways():
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch==2.13.0)")
    t = ember.arange(6.0).reshape(2, 3)
    assert torch.from_dlpack(t).data_ptr() == t._data.ctypes.data
    src = torch.arange(4.0)
    e = ember.from_dlpack(src, backend="numpy")
    assert e._data.ctypes.data == src.data_ptr() and e.tolist() == [0.0, 1.0, 2.0, 3.0]


@pytest.mark.parametrize("backend_name", ["numpy", "opencl", "wgpu"])
def test_bfloat16_and_float8_cross_dlpack_both_ways_with_pytorch(backend_name):
    """NumPy's DLPack has no bfloat16 or float8, so ember.tensor(a PyTorch tensor of one)
    was PyTorch's TypeError and torch.from_dlpack of an ember one a BufferError; the
    buffer now passes labelled unsigned and keeps its bits (strided producers too)."""
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch==2.13.0)")
    if not ember.config.availability(backend_name)[0]:
        pytest.skip(f"{backend_name} is not available here")
    values = torch.tensor([[1.5, -2.0, 448.0], [2.0 ** -9, 0.0625, -0.0]])
    for name, bits in (("bfloat16", torch.int16), ("float8_e4m3fn", torch.int8),
                       ("float8_e5m2", torch.int8), ("float8_e4m3fnuz", torch.int8),
                       ("float8_e5m2fnuz", torch.int8)):
        theirs = values.to(getattr(torch, name))
        for source in (theirs, theirs.t()):
            for ours in (ember.tensor(source, backend=backend_name),
                         ember.from_dlpack(source, backend=backend_name)):
                assert ours.dtype is getattr(ember, name) and ours.shape == tuple(source.shape)
                np.testing.assert_array_equal(ours.to(ember.float32).numpy(), source.float().numpy())
                back = torch.from_dlpack(ours)
                assert back.dtype == source.dtype and torch.equal(back.view(bits), source.view(bits))


def test_unsupported_producer_is_a_clear_error():
    with pytest.raises(ember.DTypeError, match="from_dlpack: backend numpy cannot import this list"):
        ember.from_dlpack([1, 2, 3], backend="numpy")


SKLEARN = """
import numpy as np, ember
from sklearn import config_context
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
rng = np.random.default_rng(0)
X = rng.standard_normal((60, 5))
y = (X[:, 0] + 0.3 * rng.standard_normal(60) > 0).astype(np.int64) + (X[:, 1] > 1)
b = ember.get_backend(BACKEND)
dtype = ember.float64 if ember.float64 in b.dtypes else ember.float32
x, t = ember.tensor(X, dtype=dtype, backend=b), ember.tensor(y, dtype=b.default_int, backend=b)
with config_context(array_api_dispatch=True):
    pca = PCA(n_components=2, svd_solver="full").fit(x)
    projected = pca.transform(x)
    predicted = LinearDiscriminantAnalysis().fit(x, t).predict(x)
assert isinstance(projected, ember.Tensor) and projected.device == b.device
ref = PCA(n_components=2, svd_solver="full").fit(X)
tol = 1e-9 if dtype is ember.float64 else 1e-4
np.testing.assert_allclose(pca.explained_variance_ratio_.numpy(), ref.explained_variance_ratio_, atol=tol)
np.testing.assert_allclose(projected.numpy(), ref.transform(X), atol=tol * 10)
np.testing.assert_array_equal(predicted.numpy(), LinearDiscriminantAnalysis().fit(X, y).predict(X))
print("ok", np.allclose(x.numpy(), X, atol=1e-6))   # fit left the caller's tensor as it was
"""


@pytest.mark.parametrize("name", ["numpy", "opencl", "wgpu"])
def test_scikit_learn_pca_and_lda_take_ember_tensors(run_python, name):
    pytest.importorskip("sklearn", reason="scikit-learn is not installed (optional)")
    if not ember.config.availability(name)[0]:
        pytest.skip(f"backend {name} unavailable")
    done = run_python(SKLEARN.replace("BACKEND", repr(name)), env={"SCIPY_ARRAY_API": "1"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok True"


def test_numpy_array_protocol_views_read_only_and_copies_on_request():
    t = ember.arange(6.0).reshape(2, 3)
    view = np.asarray(t)
    assert np.shares_memory(view, t._data) and not view.flags.writeable   # a value: no writes
    copied = np.array(t, copy=True)
    assert not np.shares_memory(copied, t._data) and copied.flags.writeable
    assert np.asarray(t, dtype=np.float64).dtype == np.float64
    with pytest.raises(ValueError, match="needs a copy"):
        np.asarray(t, dtype=np.float64, copy=False)


def test_numpy_array_protocol_on_a_device_backend_copies():
    if not ember.config.availability("opencl")[0]:
        pytest.skip("opencl unavailable")
    u = ember.ones(2, backend="opencl")
    np.testing.assert_array_equal(np.asarray(u), [1.0, 1.0])
    with pytest.raises(ValueError, match="backend opencl keeps the tensor in device memory"):
        np.asarray(u, copy=False)
