"""The .safetensors format (Hugging Face): an 8-byte little-endian header length,
a JSON header {name: {"dtype", "shape", "data_offsets"}, "__metadata__": {...}},
then one byte buffer. Written and validated here by the published layout, so
files interchange with the safetensors library and PyTorch's loader.
"""

import json
import struct

import numpy as np

import ember
from ember.errors import SerializationError

from .common import array_from_bytes, fail, flat_tensors, tensor_bytes, to_tensor

MAX_HEADER = 100_000_000
#: ember's dtype names and safetensors' (which has no complex128)
_TO_ST = {"bool": "BOOL", "int8": "I8", "int16": "I16", "int32": "I32", "int64": "I64",
          "uint8": "U8", "uint16": "U16", "uint32": "U32", "uint64": "U64", "float16": "F16",
          "bfloat16": "BF16", "float32": "F32", "float64": "F64", "complex64": "C64",
          "float8_e4m3fn": "F8_E4M3", "float8_e5m2": "F8_E5M2"}
#: the formats read as their bits, then viewed as the dtype or widened to float32
_BITS = {"BF16": np.dtype(np.uint16), "F8_E4M3": np.dtype(np.uint8), "F8_E5M2": np.dtype(np.uint8)}
#: what the bytes are read as
_FROM_ST = {st: _BITS.get(st) or np.dtype(name) for name, st in _TO_ST.items()}
_DTYPES = {st: ember.dtypes.dtype(name) for name, st in _TO_ST.items()}


def _from_bits(bits, st_dtype, source, name, backend):
    """BF16 or float8 bits as their dtype where the backend holds it, else as float32
    (exactly: BF16 is its high half)."""
    d = _DTYPES[st_dtype]
    if d in ember.get_backend(backend).dtypes:
        return bits.view(d.np)
    if st_dtype == "BF16":
        return (bits.astype(np.uint32) << 16).view(np.float32)
    if d.np is None:
        raise fail(source, f"tensor {name!r}: {st_dtype} needs ml_dtypes to be read "
                           f"(pip install ml_dtypes)")
    return bits.view(d.np).astype(np.float32)


class SafetensorsFormat:
    """A flat dict of tensors; integers a backend lacks load as its own, and bfloat16 and
    float8 as float32 (exactly) onto a backend without them."""

    extensions = (".safetensors",)
    nested = False
    unstorable = ("complex128", "float8_e4m3fnuz", "float8_e5m2fnuz")

    @staticmethod
    def dumps(obj):
        tensors, lone = flat_tensors(obj, ".safetensors", SafetensorsFormat.unstorable,
                                     ".ember or .npz")
        header, chunks, offset = {}, [], 0
        for name, t in tensors.items():
            if name == "__metadata__":
                raise SerializationError("a tensor may not be named __metadata__ in .safetensors")
            _, shape, raw = tensor_bytes(t)
            header[name] = {"dtype": _TO_ST[t.dtype.name], "shape": list(shape),
                            "data_offsets": [offset, offset + len(raw)]}
            chunks.append(raw)
            offset += len(raw)
        meta = {"format": "pt", "writer": "ember"}
        if lone:
            meta["ember_object"] = "tensor"
        header["__metadata__"] = meta
        text = json.dumps(header, separators=(",", ":")).encode()
        text += b" " * (-len(text) % 8)
        return struct.pack("<Q", len(text)) + text + b"".join(chunks)

    @staticmethod
    def loads(data, source, backend=None):
        if len(data) < 8:
            raise fail(source, f"{len(data)} bytes is too short for a .safetensors file")
        (n,) = struct.unpack("<Q", data[:8])
        if n > MAX_HEADER or 8 + n > len(data):
            raise fail(source, f"the header claims {n} bytes; the file has {len(data) - 8} "
                               f"after the length (limit {MAX_HEADER})")
        try:
            header = json.loads(data[8:8 + n].decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise fail(source, f"the header is not JSON ({type(exc).__name__})") from None
        if not isinstance(header, dict):
            raise fail(source, "the header is not a JSON object")
        meta = header.pop("__metadata__", {})
        if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
            raise fail(source, "__metadata__ must map strings to strings")
        buffer = memoryview(data)[8 + n:]
        spans, arrays = [], {}
        for name, entry in header.items():
            if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
                raise fail(source, f"tensor {name!r}: needs exactly dtype, shape and data_offsets")
            st_dtype, offsets = entry["dtype"], entry["data_offsets"]
            if not isinstance(st_dtype, str) or st_dtype not in _FROM_ST:
                raise fail(source, f"tensor {name!r}: dtype {st_dtype!r} is not one ember reads "
                                   f"({', '.join(_FROM_ST)})")
            if not (isinstance(offsets, list) and len(offsets) == 2
                    and all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
                    and 0 <= offsets[0] <= offsets[1] <= len(buffer)):
                raise fail(source, f"tensor {name!r}: data_offsets {offsets!r} fall outside the "
                                   f"{len(buffer)}-byte buffer")
            spans.append((offsets[0], offsets[1], name))
            raw = bytes(buffer[offsets[0]:offsets[1]])
            arr = array_from_bytes(source, f"tensor {name!r}",
                                   _FROM_ST[st_dtype].newbyteorder("<"), entry["shape"], raw)
            if st_dtype in _BITS:
                arr = _from_bits(arr, st_dtype, source, name, backend)
            arrays[name] = arr
        end = 0
        for begin, stop, name in sorted(spans):
            if begin != end:
                raise fail(source, f"tensor {name!r} starts at byte {begin} but the previous "
                                   f"one ends at {end} (overlap or hole)")
            end = stop
        if end != len(buffer):
            raise fail(source, f"the tensors cover {end} bytes of a {len(buffer)}-byte buffer")
        tensors = {name: to_tensor(source, f"tensor {name!r}", a, backend) for name, a in arrays.items()}
        if meta.get("ember_object") == "tensor" and set(tensors) == {"tensor"}:
            return tensors["tensor"]
        return tensors
