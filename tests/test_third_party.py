"""A third-party package runs the conformance suite on itself, from outside this repo."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _install_entry_points(tmp_path, name, entries):
    dist = tmp_path / f"{name}-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[ember]\n" + "".join(f"{k} = {v}\n" for k, v in entries.items()))


def _pytest(tmp_path, *args, env=None):
    full = {k: v for k, v in os.environ.items() if not k.startswith("EMBER_")}
    full["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(ROOT), full.get("PYTHONPATH", "")])
    full.update(env or {})
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "ember.testing", "-q",
                           "-p", "no:cacheprovider", *args],
                          cwd=tmp_path, capture_output=True, text=True, env=full, timeout=600)


def test_third_party_backend_passes_the_suite(tmp_path):
    """The twin (NumPy's primitives, registered from outside) runs every conformance module:
    a tenth of each here, since the numpy backend runs the same code through the whole
    suite in this run; EMBER_FULL_SUITE=1 runs all of it (about two minutes)."""
    _install_entry_points(tmp_path, "twin-backend", {"twin": "tests.fake_plugins.twin_backend"})
    full = os.environ.get("EMBER_FULL_SUITE") == "1"
    r = _pytest(tmp_path, "--backend", "twin", *(() if full else ("--suite-sample", "10")),
                env={"TWIN_AVAILABLE": "1"})
    tail = r.stdout.strip().splitlines()[-1]
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert " passed" in tail and "failed" not in tail
    ran = sum(int(n) for n in re.findall(r"(\d+) (?:passed|skipped)", tail))
    total = ran + sum(int(n) for n in re.findall(r"(\d+) deselected", tail))
    # every test, or every tenth of each module (a module's first is always kept)
    assert ran == total if full else total // 11 < ran < total // 9, tail


def test_unavailable_backend_is_skipped_with_its_reason(tmp_path):
    _install_entry_points(tmp_path, "twin-backend", {"twin": "tests.fake_plugins.twin_backend"})
    r = _pytest(tmp_path, "--backend", "twin", "-rs", "-k", "test_forward and exp")
    assert r.returncode == 0, r.stdout[-3000:]
    assert "backend twin unavailable: TWIN_AVAILABLE is not set" in r.stdout
    assert " passed" not in r.stdout.splitlines()[-1]


def test_plugin_conformance_modules_run_on_every_backend(tmp_path):
    _install_entry_points(tmp_path, "widget-plugin", {"widgets": "tests.fake_plugins.widget_plugin"})
    r = _pytest(tmp_path, "--backend", "numpy", "-k", "widget", "-v", "-v")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert "test_widget_doubles_on_every_backend[numpy] PASSED" in r.stdout


def test_unknown_backend_option_is_a_usage_error(tmp_path):
    r = _pytest(tmp_path, "--backend", "nope")
    assert r.returncode != 0
    assert "--backend nope: no such backend; registered: cupy, numpy" in r.stderr + r.stdout
