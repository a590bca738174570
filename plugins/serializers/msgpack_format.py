"""The .ember format: msgpack, with tensors as extension types.

Layout: a map {"format": "ember", "version": 2, "ember": <writer version>,
"crc32": <zlib.crc32 of the object's bytes>, "object": <the object, packed, as bytes>}
(version 1, still read, held the object itself and no checksum: a flipped bit in a
tensor loaded as a wrong value). Objects are nil, bools, ints, floats, strings, bytes,
lists, maps (string or int keys) and three extension types: 1 a tensor
[dtype name, shape, raw little-endian bytes], 2 an integer beyond 64 bits (as
decimal text, for RNG states), 3 a tuple (as a packed list).
"""

import zlib

import msgpack
import numpy as np

import ember
from ember.errors import SerializationError

from .common import array_from_bytes, fail, tensor_bytes, to_tensor

VERSION = 2
EXT_TENSOR, EXT_BIGINT, EXT_TUPLE = 1, 2, 3
MAX_DEPTH = 64
_DTYPES = {d.name: d for d in ember.dtypes.ALL}


def _encode(obj, depth=0):
    if depth > MAX_DEPTH:
        raise SerializationError(f"nesting deeper than {MAX_DEPTH} levels")
    if obj is None or isinstance(obj, (bool, float, str, bytes)):
        return obj
    if isinstance(obj, int):
        return obj if -2 ** 63 <= obj < 2 ** 64 else msgpack.ExtType(EXT_BIGINT, str(obj).encode())
    if isinstance(obj, ember.Tensor):
        dtype, shape, raw = tensor_bytes(obj)
        return msgpack.ExtType(EXT_TENSOR, msgpack.packb([obj.dtype.name, list(shape), raw]))
    if isinstance(obj, (np.integer, np.floating, np.bool_)):
        return _encode(obj.item(), depth)
    if isinstance(obj, np.ndarray):
        return _encode(ember.tensor(obj, backend="numpy"), depth)
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if not isinstance(k, (str, int)) or isinstance(k, bool):
                raise SerializationError(f"dict keys must be strings or ints, got {k!r}")
            out[k] = _encode(v, depth + 1)
        return out
    if isinstance(obj, tuple):
        return msgpack.ExtType(EXT_TUPLE, msgpack.packb([_encode(v, depth + 1) for v in obj],
                                                        use_bin_type=True))
    if isinstance(obj, list):
        return [_encode(v, depth + 1) for v in obj]
    raise SerializationError(f"cannot save a {type(obj).__name__}; .ember holds tensors, "
                             f"numbers, strings, bytes, None, lists, tuples and dicts")


class EmberFormat:
    """msgpack with tensors inline; holds whole checkpoints."""

    extensions = (".ember",)
    nested = True

    @staticmethod
    def dumps(obj):
        packed = msgpack.packb(_encode(obj), use_bin_type=True)
        body = {"format": "ember", "version": VERSION, "ember": ember.__version__,
                "crc32": zlib.crc32(packed), "object": packed}
        return msgpack.packb(body, use_bin_type=True)

    @staticmethod
    def loads(data, source, backend=None):
        def ext_hook(code, payload):
            if code == EXT_TENSOR:
                name, shape, raw = _unpack(payload)
                if name not in _DTYPES:
                    raise fail(source, f"unknown dtype {name!r} in a tensor")
                if _DTYPES[name].np is None:
                    raise fail(source, f"a {name} tensor needs the package ml_dtypes "
                                       f"(pip install ml_dtypes)")
                if not isinstance(raw, bytes):
                    raise fail(source, "tensor data is not bytes")
                arr = array_from_bytes(source, "tensor", _DTYPES[name].np.newbyteorder("<"),
                                       shape, raw)
                return to_tensor(source, "tensor", arr.astype(_DTYPES[name].np), backend)
            if code == EXT_BIGINT:
                text = payload.decode("ascii")
                if len(text) > 4000:
                    raise fail(source, "an integer with more than 4000 digits")
                return int(text)
            if code == EXT_TUPLE:
                items = _unpack(payload)
                if not isinstance(items, list):
                    raise fail(source, "a tuple that is not a list")
                return tuple(items)
            raise fail(source, f"unknown extension type {code}")

        def _unpack(payload):
            return msgpack.unpackb(payload, raw=False, strict_map_key=False, ext_hook=ext_hook)

        def _read(payload):
            try:
                return _unpack(payload)
            except SerializationError:
                raise
            except Exception as exc:  # msgpack's errors, and anything a hostile file provokes
                raise fail(source, f"not a readable .ember file ({type(exc).__name__}: "
                                   f"{exc})") from None

        body = _read(data)
        if not isinstance(body, dict) or body.get("format") != "ember":
            raise fail(source, "not an .ember file (no ember header)")
        if body.get("version") not in (1, VERSION):
            raise fail(source, f".ember version {body.get('version')!r}; this ember reads "
                               f"versions 1 to {VERSION}")
        if "object" not in body:
            raise fail(source, "the .ember file holds no object")
        if body["version"] == 1:
            return body["object"]
        packed = body["object"]
        if not isinstance(packed, bytes) or body.get("crc32") != zlib.crc32(packed):
            raise fail(source, "its contents do not match their checksum; the file is "
                               "damaged (load an earlier copy)")
        return _read(packed)
