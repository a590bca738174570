"""DLPack's bfloat16 and 8-bit floats, which NumPy's (and CuPy's) DLPack cannot carry:
their buffers pass through them labelled as unsigned integers of the same width, and
ember relabels the capsule's dtype on the way in (a PyTorch or JAX tensor of those
dtypes) and on the way out. The buffer itself is shared as any other; only the
DLTensor's dtype code changes.

The capsule's layout is DLPack's ABI: in a DLTensor the dtype (code, bits, lanes) sits
after the data pointer, the device and ndim, 20 bytes in; a versioned capsule's
DLManagedTensorVersioned holds its DLTensor after the version, manager context, deleter
and flags, 32 bytes in."""

import ctypes

KDL_UINT = 1
#: ember's dtypes that NumPy's DLPack lacks -> their DLPack (code, bits): kDLBfloat, and
#: DLPack 1.1's kDLFloat8_e4m3fn, _e4m3fnuz, _e5m2 and _e5m2fnuz
CODES = {"bfloat16": (4, 16), "float8_e4m3fn": (10, 8), "float8_e4m3fnuz": (11, 8),
         "float8_e5m2": (12, 8), "float8_e5m2fnuz": (13, 8)}
#: capsule name -> byte offset of its DLTensor's dtype code from the capsule's pointer
_DTYPE_AT = {b"dltensor": 20, b"dltensor_versioned": 32 + 20}

_name = ctypes.pythonapi.PyCapsule_GetName
_name.restype, _name.argtypes = ctypes.c_char_p, [ctypes.py_object]
_pointer = ctypes.pythonapi.PyCapsule_GetPointer
_pointer.restype, _pointer.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]


def _dtype_field(capsule):
    """The (code, bits) bytes of an unconsumed capsule's DLTensor, or None."""
    name = _name(capsule)
    if name not in _DTYPE_AT:
        return None
    return (ctypes.c_uint8 * 2).from_address(_pointer(capsule, name) + _DTYPE_AT[name])


class AsUnsigned:
    """A DLPack producer whose tensor of one of CODES' dtypes is offered as the unsigned
    integers of its width, for a consumer that does not know the dtype; ``dtype`` is its
    ember name afterwards (None for any other dtype, passed as it is)."""

    def __init__(self, producer):
        self.producer, self.dtype = producer, None

    def __dlpack_device__(self):
        return self.producer.__dlpack_device__()

    def __dlpack__(self, **kwargs):
        capsule = self.producer.__dlpack__(**kwargs)
        field = _dtype_field(capsule)
        for name, code in CODES.items():
            if field is not None and (field[0], field[1]) == code:
                field[0], self.dtype = KDL_UINT, name
        return capsule


def labelled(capsule, dtype_name):
    """An unsigned buffer's capsule relabelled as ``dtype_name`` (one of CODES), for export."""
    field = _dtype_field(capsule)
    if field is not None and (field[0], field[1]) == (KDL_UINT, CODES[dtype_name][1]):
        field[0] = CODES[dtype_name][0]
    return capsule
