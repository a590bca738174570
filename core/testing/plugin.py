"""The pytest hooks behind ``-p ember.testing``."""

import importlib
from pathlib import Path

import pytest

import ember
from ember import config as ember_config
from ember.registry import registry

SUITE = ("ember.testing.suite.test_ops", "ember.testing.suite.test_autograd",
         "ember.testing.suite.test_tensor", "ember.testing.suite.test_errors",
         "ember.testing.suite.test_backend_contract", "ember.testing.suite.test_array_api",
         "ember.testing.suite.test_compile", "ember.testing.suite.test_numerics",
         "ember.testing.suite.test_fuzz", "ember.testing.suite.test_amp",
         "ember.testing.suite.test_dtypes")

_modules_by_path = {}


def pytest_addoption(parser):
    group = parser.getgroup("ember", "ember conformance suite")
    group.addoption("--backend", action="append", default=[], metavar="NAME",
                    help="run the suite on this backend (repeatable; default: every "
                         "registered backend, unavailable ones skipped with the reason)")
    group.addoption("--no-conformance", action="store_true",
                    help="do not add ember's conformance suite to the collected tests")
    group.addoption("--suite-sample", type=int, default=1, metavar="K",
                    help="run every K-th test of each conformance module (a quick, "
                         "representative pass over every module; default: all)")


def pytest_configure(config):
    config.addinivalue_line("markers", "conformance: a check from ember.testing")
    selected_backends(config)  # an unknown --backend is a usage error before collection
    if config.getoption("no_conformance"):
        return
    for name in SUITE + tuple(registry.conformance_modules()):
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise pytest.UsageError(f"ember.testing: conformance module {name!r} not found")
        path = Path(spec.origin).resolve()
        _modules_by_path[path] = name
        if str(path) not in config.args:
            config.args.append(str(path))


def pytest_collection_modifyitems(config, items):
    """--suite-sample K: keep every K-th test of each suite module, in collection order, so
    that every module and every op family keeps some of its cases; the rest are reported
    deselected."""
    k = config.getoption("suite_sample")
    if k <= 1:
        return
    seen, kept, dropped = {}, [], []
    for item in items:
        module = getattr(item, "module", None)
        name = getattr(module, "__name__", "")
        if name in _modules_by_path.values():
            seen[name] = seen.get(name, -1) + 1
            if seen[name] % k:
                dropped.append(item)
                continue
        kept.append(item)
    config.hook.pytest_deselected(items=dropped)
    items[:] = kept


def pytest_pycollect_makemodule(module_path, parent):
    """Import suite modules by their package name, never a second time by path."""
    name = _modules_by_path.get(Path(module_path).resolve())
    if name is not None:
        return _SuiteModule.from_parent(parent, path=module_path)


class _SuiteModule(pytest.Module):
    def _getobj(self):
        return importlib.import_module(_modules_by_path[Path(self.path).resolve()])


def selected_backends(config):
    """[(name, skip reason or None)] for the run's --backend options or every backend."""
    known = registry.names("backends")
    names = config.getoption("backend") or known
    out = []
    for name in names:
        base = name.partition(":")[0]
        if base not in known:
            raise pytest.UsageError(f"--backend {name}: no such backend; registered: "
                                    + ", ".join(known))
        ok, reason = ember_config.availability(base)
        out.append((name, None if ok else f"backend {base} unavailable: {reason}"))
    return out


def pytest_generate_tests(metafunc):
    if "backend" in metafunc.fixturenames:
        params = [pytest.param(name, id=name, marks=() if reason is None else
                               pytest.mark.skip(reason=reason))
                  for name, reason in selected_backends(metafunc.config)]
        metafunc.parametrize("backend", params, indirect=True)


@pytest.fixture
def backend(request):
    """The Backend object under test; new tensors default to it during the test."""
    inst = ember.get_backend(request.param)
    with ember.backend(inst):
        yield inst


def pytest_report_header(config):
    lines = []
    for name, reason in selected_backends(config):
        lines.append(f"ember backend {name}: " + ("available" if reason is None else reason))
    return lines
