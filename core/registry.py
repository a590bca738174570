"""The plugin registry: pluggy, fed by the "ember" entry points.

Plugins load on first use, not at ``import ember``. A plugin whose import or
hook fails is recorded with its reason (``ember info`` shows it) and never
breaks the rest.
"""

import importlib.metadata
import threading
import traceback

import pluggy

from . import hookspecs
from .errors import PluginError

GROUP = "ember"


class Registry:
    """Named things contributed by plugins, by kind, with the package of each."""

    def __init__(self):
        self.pm = pluggy.PluginManager(GROUP)
        self.pm.add_hookspecs(hookspecs)
        self._loaded = False
        self._tables = {}
        self.failures = []   # (entry point or plugin, reason)
        self._package = {}   # plugin object -> distribution name
        # the first use may come from several threads at once: one loads, the others wait
        # (and a plugin's import may use the registry: reentrant)
        self._lock = threading.RLock()

    def load(self):
        """Import every entry-point plugin once; failures are recorded."""
        if self._loaded:
            return
        with self._lock:
            if not self._loaded:
                self._load()
                self._loaded = True

    def _load(self):
        for ep in importlib.metadata.entry_points(group=GROUP):
            dist = ep.dist.name if ep.dist is not None else "?"
            try:
                plugin = ep.load()
            except Exception as exc:  # a broken plugin must not break ember
                self.failures.append((f"{ep.name} ({dist})", _reason(exc)))
                continue
            if self.pm.is_registered(plugin):
                continue
            self.pm.register(plugin, name=f"{dist}:{ep.name}")
            self._package[plugin] = dist

    def register(self, plugin, package="(runtime)"):
        """Register a plugin object or module at run time (tests, notebooks)."""
        self.load()
        self.pm.register(plugin)
        self._package[plugin] = package
        self._tables.clear()
        return plugin

    def unregister(self, plugin):
        self.pm.unregister(plugin)
        self._package.pop(plugin, None)
        self._tables.clear()

    def table(self, kind):
        """{name: (object, package)} for one kind, built once and cached."""
        if kind in self._tables:
            return self._tables[kind]
        with self._lock:
            return self._tables[kind] if kind in self._tables else self._build(kind)

    def _build(self, kind):
        self.load()
        if kind not in hookspecs.KINDS:
            raise PluginError(f"unknown plugin kind {kind!r}; kinds are "
                              + ", ".join(hookspecs.KINDS))
        hook = getattr(self.pm.hook, f"ember_{kind}")
        table = {}
        for impl in reversed(hook.get_hookimpls()):  # registration order
            package = self._package.get(impl.plugin, impl.plugin_name)
            try:
                entries = impl.function() or {}
            except Exception as exc:
                self.failures.append((f"{impl.plugin_name} ember_{kind}", _reason(exc)))
                continue
            for name, obj in entries.items():
                if name in table and table[name][0] is not obj:
                    first, second = sorted((table[name][1], package))
                    raise PluginError(f"{kind[:-1]} name {name!r} is claimed by both "
                                      f"{first} and {second}; rename one")
                table[name] = (obj, package)
        self._tables[kind] = table
        return table

    def names(self, kind):
        return sorted(self.table(kind))

    def get(self, kind, name):
        """The object registered as ``name``, or a PluginError listing the names."""
        table = self.table(kind)
        if name not in table:
            known = ", ".join(sorted(table)) or "none"
            one = kind[:-2] if kind.endswith("sses") else kind[:-1]      # losses -> loss
            raise PluginError(f"no {one} named {name!r}; registered {kind}: {known}")
        return table[name][0]

    def commands(self):
        """{name: command} from every plugin's ember_commands hook."""
        self.load()
        out = {}
        for impl in reversed(self.pm.hook.ember_commands.get_hookimpls()):
            out.update(impl.function() or {})
        return out

    def conformance_modules(self):
        self.load()
        return [m for mods in self.pm.hook.ember_conformance_modules() for m in mods]


def _reason(exc):
    last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" (at {last[0].filename}:{last[0].lineno})" if last else ""
    return f"{type(exc).__name__}: {exc}{where}"


registry = Registry()
