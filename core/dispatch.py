"""The one place where the core reaches a backend and a tensor's buffer.

Eager code gets the backend itself from ``primitives`` and a tensor's buffer
from ``read``. While ``ember.compile`` records a call in this thread, a
recorder is installed here (``recording``): ``primitives`` then hands out the
recorder's view of the backend, which runs each primitive and records it, and
buffer reads, rebinds (``rebind``), new tensors (``created``) and random
draws (``drew``) are reported to it. Nothing is patched on a class, a backend
or a module, and the recorder belongs to one thread: other threads compute
eagerly meanwhile, on the same backend, unrecorded.
"""

import contextlib
import threading
import weakref

_local = threading.local()
#: how many threads record now: while 0, every hook below is one global read
active_count = 0
_count_lock = threading.Lock()


def active():
    """This thread's recorder, or None."""
    return getattr(_local, "recorder", None) if active_count else None


class recording:
    """Install ``recorder`` for this thread for the extent of a ``with`` block."""

    def __init__(self, recorder):
        self.recorder = recorder

    def __enter__(self):
        global active_count
        self.previous = getattr(_local, "recorder", None)
        _local.recorder = self.recorder
        with _count_lock:
            active_count += 1
        return self.recorder

    def __exit__(self, *exc):
        global active_count
        _local.recorder = self.previous
        with _count_lock:
            active_count -= 1


class _Scope:
    """The recorder's layer stack with ``layer`` on top, for a ``with`` block."""

    __slots__ = ("recorder", "layer", "outer")

    def __init__(self, recorder, layer):
        self.recorder, self.layer = recorder, layer

    def __enter__(self):
        self.outer = self.recorder.scope
        self.recorder.scope = self.outer + (self.layer,)

    def __exit__(self, *exc):
        self.recorder.scope = self.outer


_NO_SCOPE = contextlib.nullcontext()


def layer_scope(layer):
    """Mark the primitives recorded inside the ``with`` block as ``layer``'s (Module
    calls do this), so that an exporter can write the layer as one op; outside a
    recording, a shared no-op."""
    recorder = active()
    return _NO_SCOPE if recorder is None else _Scope(recorder, layer)


def primitives(backend):
    """What to call ``backend``'s primitives on: the backend, or the recorder's view."""
    recorder = active()
    return backend if recorder is None else recorder.view(backend)


def read(t):
    """``t``'s buffer, for a primitive: the recorder learns which tensor holds it."""
    buf = t._data
    if active_count:
        recorder = active()
        if recorder is not None:
            recorder.read(t, buf)
    return buf


def rebind(t, buf):
    """Give existing tensor ``t`` a new buffer (in-place operators, copy_, item
    assignment): a recorded call replays it as a state output."""
    t._data = buf
    if active_count:
        recorder = active()
        if recorder is not None:
            recorder.rebound(t)
    owner = getattr(t, "_owner", None)        # .data's view writes through (Tensor.data)
    if owner is not None:
        rebind(owner, buf)


def created(t):
    """Report a new tensor: one made during a recorded call that outlives it (a
    gradient, lazily made optimizer state) is a state output too."""
    recorder = active()
    if recorder is not None:
        recorder.created(t)


def cleared_grad(t):
    """Report ``t.grad = None`` (an optimizer's zero_grad): a recorded call that then
    makes the gradient anew replaces it on replay, where one that found it None adds to
    whatever gradient the caller left there."""
    recorder = active()
    if recorder is not None:
        recorder.cleared_grad(t)


def drew(values, method, args, kwargs):
    """Report a host random draw about to be uploaded: a replay draws anew."""
    recorder = active()
    if recorder is not None:
        recorder.random_draw(values, method, args, kwargs)


#: id(tensor) -> (weakref, the name compiled graphs print for it as state); by id, as
#: tensors compare elementwise; an entry goes when its tensor dies
_state_names = {}


def name_state(t, name):
    """Name tensor ``t`` as compiled graphs print it when they read or rebind it as state:
    modules name their parameters and buffers by path ("0.weight"), optimizers their
    state ("exp_avg[0.weight]") and learning rates ("lr")."""
    key = id(t)
    old = _state_names.get(key)
    if old is not None and old[0]() is t:
        _state_names[key] = (old[0], name)
    else:
        _state_names[key] = (weakref.ref(t, lambda _, k=key: _state_names.pop(k, None)), name)


def state_name(t, default=None):
    """The name ``name_state`` gave ``t``, or ``default``."""
    entry = _state_names.get(id(t))
    return entry[1] if entry is not None and entry[0]() is t else default
