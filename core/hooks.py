"""Hook tables and the handle that takes a hook out again (torch.utils.hooks'
RemovableHandle): tensors' gradient hooks (autograd) and modules' forward and backward
hooks (ember.plugins.nn) keep their hooks in ordered tables of this kind."""

import itertools
import weakref
from collections import OrderedDict

_ids = itertools.count()


class RemovableHandle:
    """Returned by every ``register_*hook``: ``remove()`` (or leaving a ``with`` block)
    takes the hook out of its tables."""

    __slots__ = ("id", "_tables")

    def __init__(self, *tables):
        self.id = next(_ids)
        self._tables = tuple(weakref.ref(t) for t in tables)

    def remove(self):
        for ref in self._tables:
            table = ref()
            if table is not None:
                table.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()

    def __repr__(self):
        return f"<RemovableHandle {self.id}>"


class HookTable(OrderedDict):
    """Hooks by handle id, in the order they run (``prepend`` puts one first)."""

    def add(self, fn, prepend=False, also=()):
        """Register ``fn``; its handle also removes it from the tables in ``also``
        (where flags about it are kept)."""
        handle = RemovableHandle(self, *also)
        self[handle.id] = fn
        if prepend:
            self.move_to_end(handle.id, last=False)
        return handle
