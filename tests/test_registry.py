"""The registry, backend selection and plugin isolation."""

import textwrap

import pytest

import ember
from ember import config
from ember.hookspecs import hookimpl


def test_unknown_backend_from_environment_lists_the_available(run_python):
    r = run_python("import ember; ember.zeros(2)", env={"EMBER_BACKEND": "nope"})
    assert r.returncode != 0
    assert "BackendError: EMBER_BACKEND='nope': no backend 'nope'; available: numpy" in r.stderr


def test_environment_picks_the_backend(run_python):
    r = run_python("import ember; print(ember.zeros(2).device)", env={"EMBER_BACKEND": "numpy"})
    assert r.stdout.strip() == "numpy", r.stderr


def test_threads_that_use_ember_first_at_once_share_one_registry_and_backend(run_python):
    """The plugins load once, whichever thread comes first; the others wait for them (an
    empty backend table was once cached by the second thread), and all get one backend."""
    r = run_python(textwrap.dedent("""
        import threading
        from concurrent.futures import ThreadPoolExecutor
        import ember
        start = threading.Barrier(8)
        def first_use(_):
            start.wait()
            return ember.zeros(2)._backend
        with ThreadPoolExecutor(8) as pool:
            backends = list(pool.map(first_use, range(8)))
        print(len({id(b) for b in backends}), backends[0].name)
    """))
    assert r.stdout.split() == ["1", "numpy"], r.stderr


def test_a_broken_plugin_never_breaks_import(run_python, tmp_path):
    dist = tmp_path / "broken_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[ember]\nbroken = no_such_module_for_ember\n")
    r = run_python(textwrap.dedent("""
        import ember
        print(ember.zeros(2).tolist())
        from ember.cli import info
        info()
        try:
            ember.zeros(1).to("missing")
        except ember.BackendError as e:
            print("ERR", e)
    """), extra_path=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "[0.0, 0.0]" in r.stdout
    assert "broken (broken-plugin): ModuleNotFoundError" in r.stdout
    assert "plugin broken (broken-plugin) failed to load" in r.stdout


@pytest.fixture
def twin(monkeypatch):
    from tests.fake_plugins import twin_backend
    ember.registry.register(twin_backend, package="twin-backend")
    yield twin_backend
    ember.registry.unregister(twin_backend)
    config._availability.pop("twin", None)
    config._instances.pop(("twin", 0), None)


def test_unavailable_backend_error_says_why(twin):
    with pytest.raises(ember.BackendError) as info:
        ember.zeros(2, backend="twin")
    msg = str(info.value)
    assert msg.startswith("backend 'twin' is not available here: TWIN_AVAILABLE is not set; ")
    assert "available: numpy" in msg and "twin (TWIN_AVAILABLE is not set)" in msg.split("unavailable: ")[1]


def test_third_party_backend_is_selectable_every_way(twin, monkeypatch):
    monkeypatch.setenv("TWIN_AVAILABLE", "1")
    config._availability.pop("twin", None)
    assert ember.zeros(2, backend="twin").device == "twin"
    with ember.backend("twin"):
        assert ember.ones(3).device == "twin"
    assert ember.ones(3).device == "numpy"
    assert ember.ones(2).to("twin").device == "twin"
    previous = ember.get_backend()
    try:
        ember.set_backend("twin")
        assert ember.zeros(1).device == "twin"
    finally:
        ember.set_backend(previous)
    with pytest.raises(ember.BackendError, match=r"backend 'twin' has 1 device\(s\)"):
        ember.get_backend("twin:3")


def test_duplicate_names_are_an_error_naming_both_packages():
    class Other:
        @hookimpl
        def ember_backends(self):
            from ember.backends.numpy.backend import ArrayModuleBackend
            return {"numpy": type("Clash", (ArrayModuleBackend,), {"name": "numpy"})}

    plugin = ember.registry.register(Other(), package="clashing-package")
    try:
        with pytest.raises(ember.PluginError, match="claimed by both clashing-package and ember; rename one"):
            ember.registry.table("backends")
    finally:
        ember.registry.unregister(plugin)


def test_unknown_plugin_name_lists_the_registered():
    with pytest.raises(ember.PluginError, match="no backend named 'gpu'; registered backends: cupy, numpy"):
        ember.registry.get("backends", "gpu")
    with pytest.raises(ember.PluginError, match="unknown plugin kind 'widgets'"):
        ember.registry.table("widgets")


def test_incomplete_backend_is_unavailable_with_the_missing_primitives():
    class Half(ember.Backend):
        name = "half"

        def from_numpy(self, a):
            return a

    class Plugin:
        @hookimpl
        def ember_backends(self):
            return {"half": Half}

    plugin = ember.registry.register(Plugin(), package="half-package")
    try:
        ok, reason = config.availability("half")
        assert not ok and reason.startswith("its backend class lacks primitives: to_numpy, full")
    finally:
        ember.registry.unregister(plugin)
        config._availability.pop("half", None)


def test_cli_info_lists_numpy_available(run_python):
    import subprocess
    import sys
    r = subprocess.run([sys.executable, "-m", "ember.cli", "info"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "numpy    available  [ember]" in r.stdout
    assert ("dtypes: bool, int8, int16, int32, int64, uint8, uint16, uint32, uint64, float16, "
            "bfloat16, float32, float64, complex64, complex128") in r.stdout
    assert "default backend: numpy" in r.stdout
    from ember import host
    assert f"host: {host.cpu_model()}, " in r.stdout
    assert "kernel tuning: off (EMBER_TUNING=0), " in r.stdout     # the suite's setting


def test_host_features_are_the_cpus_own_flags():
    from ember import host
    try:
        text = open("/proc/cpuinfo").read()
    except OSError:
        pytest.skip("no /proc/cpuinfo here")
    flags = set()
    for line in text.splitlines():
        if line.split(":")[0].strip() in ("flags", "Features"):
            flags = set(line.split(":", 1)[1].split())
            break
    assert set(host.cpu_features()) == flags & set(host._FEATURES)


def test_plugins_change_tensors_only_through_the_public_api():
    """No plugin assigns a tensor's private slots (``t._data = ...``): values change through
    copy_ or .data, which ember.compile sees."""
    import ast
    from pathlib import Path
    import ember.plugins
    root = Path(ember.plugins.__path__[0])
    files = sorted(root.rglob("*.py"))
    assert len(files) > 20, root
    writes = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            targets = node.targets if isinstance(node, ast.Assign) else (
                [node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else [])
            for t in targets:
                for leaf in ast.walk(t):
                    if isinstance(leaf, ast.Attribute) and leaf.attr in ("_data", "_backend"):
                        writes.append(f"{path.relative_to(root)}:{node.lineno}")
    assert not writes, writes


def test_every_package_of_the_tree_is_in_the_wheel():
    """pyproject lists each package by hand: one left out installs without its files
    (ember.utils once did: no installed wheel could import ember)."""
    from pathlib import Path
    try:
        import tomllib
    except ImportError:     # Python 3.10
        tomllib = pytest.importorskip("tomli")
    root = Path(__file__).resolve().parent.parent
    setup = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(setup["packages"])
    for package, folder in setup["package-dir"].items():
        for init in (root / folder).rglob("__init__.py"):
            parts = init.parent.relative_to(root / folder).parts
            name = ".".join((package,) + parts)
            if "fake_plugins" not in parts:
                assert name in listed, f"{name} ({init.parent}): not in pyproject's packages"
