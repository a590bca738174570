"""Which backend new tensors go to: EMBER_BACKEND, set_backend, or a with-block.

A spec is a registered name with an optional device index: "numpy",
"opencl", "opencl:1". Backend objects are made once per (name, index).
"""

import contextlib
import os
import threading

from .errors import BackendError
from .registry import registry

_instances = {}
_availability = {}
_default = None
#: the host threads set by set_num_threads (None: each backend's own choice)
_threads = None
#: one backend object per (name, index), also when threads ask for it first at once
_making = threading.RLock()


class _Local(threading.local):
    stack = ()


_local = _Local()


def _parse(spec):
    name, _, index = spec.strip().partition(":")
    if index and not index.isdigit():
        raise BackendError(f"backend {spec!r}: the device index after ':' must be a "
                           f"number, as in 'opencl:1'")
    return name, int(index or 0)


def availability(name):
    """(ok, reason) for a registered backend name, checked once."""
    if name not in _availability:
        cls = registry.get("backends", name)
        missing = cls.missing_primitives()
        if missing:
            result = (False, "its backend class lacks primitives: " + ", ".join(missing))
        else:
            try:
                result = cls.availability()
            except Exception as exc:  # a probe that crashes means "not here"
                result = (False, f"availability check failed: {type(exc).__name__}: {exc}")
        _availability[name] = result
    return _availability[name]


def _listing():
    available, unavailable = [], []
    for name in registry.names("backends"):
        ok, reason = availability(name)
        if ok:
            cls = registry.get("backends", name)
            devs = _devices(cls)
            available.append(f"{name} ({devs[0]})" if devs else name)
        else:
            unavailable.append(f"{name} ({reason})")
    for what, reason in registry.failures:
        unavailable.append(f"plugin {what} failed to load: {reason}")
    text = "available: " + (", ".join(available) or "none")
    if unavailable:
        text += "; unavailable: " + ", ".join(unavailable)
    return text


def _devices(cls):
    try:
        return list(cls.devices())
    except Exception as exc:
        return [f"devices unknown: {exc}"]


def get_backend(spec=None):
    """The Backend object for a spec; None means the current one."""
    if spec is None:
        if _local.stack:
            return _local.stack[-1]
        return _default or _init_default()
    if not isinstance(spec, str):
        from .backend import Backend
        if isinstance(spec, Backend):
            return spec
        raise BackendError(f"a backend is named by a string such as 'numpy' or "
                           f"'opencl:1', got {spec!r}")
    name, index = _parse(spec)
    inst = _instances.get((name, index))
    if inst is not None:
        return inst
    with _making:
        return _instances.get((name, index)) or _make(name, index)


def _make(name, index):
    if name not in registry.table("backends"):
        raise BackendError(f"no backend {name!r}; {_listing()}")
    ok, reason = availability(name)
    if not ok:
        raise BackendError(f"backend {name!r} is not available here: {reason}; {_listing()}")
    cls = registry.get("backends", name)
    devs = _devices(cls)
    if index >= len(devs):
        raise BackendError(f"backend {name!r} has {len(devs)} device(s) "
                           f"(0..{len(devs) - 1}: {', '.join(devs)}), not {index}")
    inst = _instances[name, index] = cls(index)
    if _threads is not None:
        inst.set_num_threads(_threads)
    return inst


def set_num_threads(n):
    """Use at most ``n`` host threads for ember's work (torch.set_num_threads): the
    numpy backend's pieces and BLAS's threads; backends made later follow it."""
    global _threads
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: n must be a positive int, got {n!r}")
    _threads = n
    get_backend()                       # the default one at least, made now if not yet
    for inst in list(_instances.values()):
        inst.set_num_threads(n)


def get_num_threads():
    """The host threads ember's work may use: set_num_threads's, else the cores this
    process may run on (as torch.get_num_threads)."""
    from .host import usable_cores
    return _threads if _threads is not None else usable_cores()


def _init_default():
    global _default
    spec = os.environ.get("EMBER_BACKEND", "").strip() or "numpy"
    try:
        _default = get_backend(spec)
    except BackendError as exc:
        raise BackendError(f"EMBER_BACKEND={spec!r}: {exc}") from None
    return _default


def set_backend(spec):
    """Make ``spec`` the default backend for new tensors in every thread."""
    global _default
    _default = get_backend(spec)
    return _default


@contextlib.contextmanager
def backend(spec):
    """Within the block, new tensors in this thread go to ``spec``."""
    inst = get_backend(spec)
    _local.stack = _local.stack + (inst,)
    try:
        yield inst
    finally:
        _local.stack = _local.stack[:-1]
