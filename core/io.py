"""ember.save and ember.load: the file format comes from a serializer plugin,
chosen by name or by the file's extension; writes are atomic.

A serializer is a class registered through ``ember_serializers`` with
``extensions`` (like (".ember",)), ``dumps(obj) -> bytes`` and
``loads(data, source, backend) -> obj``; ``loads`` must raise only
SerializationError, never run code, and never allocate more than the data
it was given justifies.
"""

import os
import tempfile

from .errors import SerializationError
from .registry import registry


def _serializer(path, format):
    table = registry.table("serializers")
    if format is not None:
        if format not in table:
            known = ", ".join(sorted(table)) or "none"
            raise SerializationError(f"{path}: no serializer named {format!r}; registered: {known}")
        return table[format][0]
    name = os.fspath(path)
    for fmt in sorted(table):
        cls = table[fmt][0]
        if any(name.endswith(ext) for ext in cls.extensions):
            return cls
    known = ", ".join(f"{ext} ({fmt})" for fmt in sorted(table) for ext in table[fmt][0].extensions)
    raise SerializationError(f"{name}: cannot tell the format from the extension; use one of "
                             f"{known or 'none registered'}, or pass format=")


def atomic_write(path, data):
    """Write bytes so that a crash at any point leaves either the old file or the new one:
    a temporary file in the same folder, flushed and fsynced, then renamed over ``path``."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise SerializationError(f"{path}: cannot write there ({exc.strerror}: {folder}); "
                                 f"create the folder or pick another path") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError):      # a full disk, a folder in the way: the old file stays
            raise SerializationError(f"{path}: cannot write it ({exc.strerror}); the file "
                                     f"there before, if any, is unchanged") from exc
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def save(obj, path, format=None):  # noqa: A002  (the documented keyword)
    """Save a tensor, a dict of tensors (a state_dict) or a checkpoint (nested dicts and
    lists of tensors, numbers, strings) atomically. The format follows ``format`` or the
    extension: .ember (msgpack, the default for checkpoints), .safetensors, .npz."""
    serializer = _serializer(path, format)
    try:
        data = serializer.dumps(obj)
    except SerializationError as exc:
        raise SerializationError(f"{os.fspath(path)}: {exc}") from None
    atomic_write(path, data)


def load(path, backend=None, format=None):  # noqa: A002
    """Load what ``save`` wrote (or a file another library wrote in that format); tensors
    land on ``backend`` (default: the current backend). Never runs code from the file."""
    serializer = _serializer(path, format)
    name = os.fspath(path)
    try:
        with open(name, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise SerializationError(f"{name}: cannot read: {exc.strerror or exc}") from None
    return serializer.loads(data, name, backend)
