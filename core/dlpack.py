"""DLPack's bfloat16, which NumPy's (and CuPy's) DLPack cannot carry: the 16-bit buffer
passes through them labelled uint16, and ember relabels the capsule's dtype on the way
in (a PyTorch or JAX bfloat16 tensor) and on the way out. The buffer itself is shared
as any other; only the DLTensor's dtype code changes (kDLBfloat 4 <-> kDLUInt 1).

The capsule's layout is DLPack's ABI: in a DLTensor the dtype (code, bits, lanes) sits
after the data pointer, the device and ndim, 20 bytes in; a versioned capsule's
DLManagedTensorVersioned holds its DLTensor after the version, manager context, deleter
and flags, 32 bytes in."""

import ctypes

KDL_UINT, KDL_BFLOAT = 1, 4
#: capsule name -> byte offset of its DLTensor's dtype code from the capsule's pointer
_DTYPE_AT = {b"dltensor": 20, b"dltensor_versioned": 32 + 20}

_name = ctypes.pythonapi.PyCapsule_GetName
_name.restype, _name.argtypes = ctypes.c_char_p, [ctypes.py_object]
_pointer = ctypes.pythonapi.PyCapsule_GetPointer
_pointer.restype, _pointer.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]


def relabel(capsule, old, new):
    """Change an unconsumed capsule's 16-bit dtype code from ``old`` to ``new``; whether
    it had ``old`` (a consumed or foreign capsule is left as it is)."""
    name = _name(capsule)
    if name not in _DTYPE_AT:
        return False
    field = (ctypes.c_uint8 * 2).from_address(_pointer(capsule, name) + _DTYPE_AT[name])
    if (field[0], field[1]) != (old, 16):
        return False
    field[0] = new
    return True


class AsUInt16:
    """A DLPack producer's bfloat16 tensor offered as uint16 (``bfloat16`` says whether
    it was one), for a consumer that knows no bfloat16."""

    def __init__(self, producer):
        self.producer, self.bfloat16 = producer, False

    def __dlpack_device__(self):
        return self.producer.__dlpack_device__()

    def __dlpack__(self, **kwargs):
        capsule = self.producer.__dlpack__(**kwargs)
        self.bfloat16 = relabel(capsule, KDL_BFLOAT, KDL_UINT)
        return capsule


def as_bfloat16(capsule):
    """A uint16 buffer's capsule relabelled bfloat16, for export."""
    relabel(capsule, KDL_UINT, KDL_BFLOAT)
    return capsule
