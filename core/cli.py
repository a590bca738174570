"""The ``ember`` command: ``ember info`` shows backends and plugins."""

import argparse
import sys

from . import __version__, config, hookspecs, host, tuning
from .errors import EmberError
from .registry import registry


def info(out=sys.stdout):
    """Backends (available or why not, devices, dtypes) and every plugin by kind."""
    p = lambda *a: print(*a, file=out)  # noqa: E731
    listed = _backends()        # first: a backend may tune the host's libraries (BLAS)
    p(f"ember {__version__}")
    p(f"host: {host.describe()}")
    p(f"NumPy's BLAS: {host.blas()}")
    kept = len(tuning.entries())
    p(f"kernel tuning: {'on' if tuning.enabled() else 'off (EMBER_TUNING=0)'}, "
      f"{kept} choice{'s' if kept != 1 else ''} kept in {tuning.cache_path()}")
    p("backends:")
    for line in listed:
        p(line)
    for kind in hookspecs.KINDS[1:]:
        entries = registry.table(kind)
        if not entries:
            p(f"{kind}: none registered")
            continue
        p(f"{kind}:")
        for name in sorted(entries):
            p(f"  {name}  [{entries[name][1]}]")
    if registry.failures:
        p("plugins that failed to load:")
        for what, reason in registry.failures:
            p(f"  {what}: {reason}")
    p(f"default backend: {_default_name()}")


def _backends():
    """The lines that list each backend: available or why not, devices, dtypes."""
    lines = []
    table = registry.table("backends")
    for name in sorted(table):
        cls, package = table[name]
        ok, reason = config.availability(name)
        if not ok:
            lines.append(f"  {name:8s} unavailable: {reason}  [{package}]")
            continue
        try:
            inst = config.get_backend(name)
            extra, dtypes = inst.info(), inst.dtypes
        except Exception as exc:  # info is best effort; never hide the rest
            extra, dtypes = [f"info failed: {type(exc).__name__}: {exc}"], cls.dtypes
        lines.append(f"  {name:8s} available  [{package}]")
        lines.append(f"           dtypes: {', '.join(d.name for d in _ordered(dtypes))}")
        lines += [f"           device {name}:{i}: {dev}" for i, dev in enumerate(cls.devices())]
        lines += [f"           {line}" for line in extra]
    return lines


def _ordered(dtypes):
    from .dtypes import ALL
    return [d for d in ALL if d in dtypes]


def _default_name():
    try:
        return config.get_backend().device
    except Exception as exc:
        return f"none ({exc})"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="ember", description="ember command-line tools")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="list backends, devices, dtypes and registered plugins")
    commands = registry.commands()
    for name, command in sorted(commands.items()):
        command.add_arguments(sub.add_parser(name, help=command.help, description=command.help))
    args = parser.parse_args(argv)
    if args.command == "info":
        info()
        return 0
    try:
        return commands[args.command].run(args) or 0
    except EmberError as exc:   # a user's mistake: the message, not a traceback
        print(f"ember {args.command}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2


def run():
    """The console script: as main(), and quiet when its output pipe closes (ember info | head)."""
    try:
        return main()
    except BrokenPipeError:
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(run())
