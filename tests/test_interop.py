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


def test_unsupported_producer_is_a_clear_error():
    with pytest.raises(ember.DTypeError, match="from_dlpack: backend numpy cannot import this list"):
        ember.from_dlpack([1, 2, 3], backend="numpy")
