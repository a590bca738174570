"""The .npz format (NumPy's zip of .npy files), read with allow_pickle=False.

Each member's .npy header is parsed and checked against the member's size
before any array is allocated, and compressed members may not expand more than
MAX_RATIO times, so a hostile file cannot make ember allocate what it does not hold.
"""

import io
import math
import struct
import zipfile

import numpy as np

from ember.errors import SerializationError

from .common import fail, flat_tensors, to_tensor

MAX_RATIO = 1024
MAX_MEMBERS = 100_000


class NpzFormat:
    """A flat dict of arrays, as numpy.savez writes it."""

    extensions = (".npz",)
    nested = False
    #: dtypes NumPy's .npy header cannot name (ml_dtypes' arrays read back as raw bytes)
    unstorable = ("bfloat16", "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz",
                  "float8_e5m2fnuz")

    @staticmethod
    def dumps(obj):
        tensors, lone = flat_tensors(obj, ".npz", NpzFormat.unstorable, ".safetensors or .ember")
        buf = io.BytesIO()
        arrays = {name: t.numpy() for name, t in tensors.items()}
        if lone:
            arrays = {"__ember_tensor__": arrays["tensor"]}
        np.savez(buf, **arrays)
        return buf.getvalue()

    @staticmethod
    def loads(data, source, backend=None):
        try:
            arrays = _read(data, source)
        except SerializationError:
            raise
        except Exception as exc:  # zipfile, zlib and numpy header errors alike
            raise fail(source, f"not a readable .npz file ({type(exc).__name__}: {exc})") from None
        tensors = {name: to_tensor(source, f"array {name!r}", a, backend) for name, a in arrays.items()}
        if set(tensors) == {"__ember_tensor__"}:
            return tensors["__ember_tensor__"]
        return tensors


def _declared_members(data):
    """The member count the zip's end record states (None for zip64's placeholder):
    zipfile stops reading the directory where a damaged entry runs past it, and would
    hand back fewer arrays without a word (a flipped bit in an entry's field lengths)."""
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 65557))
    if end < 0 or end + 22 > len(data):
        return None
    total = struct.unpack_from("<H", data, end + 10)[0]
    return None if total == 0xFFFF else total


def _read(data, source):
    arrays = {}
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        members = zf.infolist()
        if len(members) > MAX_MEMBERS:
            raise fail(source, f"{len(members)} members; the limit is {MAX_MEMBERS}")
        declared = _declared_members(data)
        if declared is not None and declared != len(members):
            raise fail(source, f"its directory holds {len(members)} readable members of the "
                               f"{declared} its end record lists; the file is damaged")
        names = [info.filename for info in members]
        if len(set(names)) != len(names):
            raise fail(source, "two members have one name; the file is damaged")
        for info in members:
            if not info.filename.endswith(".npy"):
                raise fail(source, f"member {info.filename!r} is not a .npy array")
            if info.compress_type != zipfile.ZIP_STORED and \
                    info.file_size > MAX_RATIO * max(info.compress_size, 1):
                raise fail(source, f"member {info.filename!r} claims to expand "
                                   f"{info.file_size / max(info.compress_size, 1):.0f} times")
            with zf.open(info) as f:
                version = np.lib.format.read_magic(f)
                reader = {(1, 0): np.lib.format.read_array_header_1_0,
                          (2, 0): np.lib.format.read_array_header_2_0}.get(version)
                if reader is None:
                    raise fail(source, f"member {info.filename!r}: .npy version {version}")
                shape, fortran, dtype = reader(f, max_header_size=10_000)
                if dtype.hasobject or dtype.fields is not None:
                    raise fail(source, f"member {info.filename!r}: dtype {dtype} holds Python "
                                       f"objects or fields; ember loads plain numbers only")
                need = math.prod(shape) * dtype.itemsize
                if need > info.file_size:
                    raise fail(source, f"member {info.filename!r}: shape {shape} of {dtype} "
                                       f"needs {need} bytes; the member holds {info.file_size}")
                raw = f.read(need + 1)
                if len(raw) < need:
                    raise fail(source, f"member {info.filename!r}: shape {shape} of {dtype} "
                                       f"needs {need} bytes, only {len(raw)} are stored")
                if len(raw) > need:
                    raise fail(source, f"member {info.filename!r}: bytes follow the array")
                arr = np.frombuffer(raw, dtype=dtype)
                arrays[info.filename[:-4]] = arr.reshape(shape, order="F" if fortran else "C")
    return arrays
