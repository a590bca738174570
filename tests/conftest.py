"""ember's own tests; ember.testing (the conformance suite) loads from pyproject's addopts."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# The suite runs each backend's default kernel choices (no search, nothing written to the
# user's cache); tests/test_tuning.py tries every candidate and the search itself.
os.environ.setdefault("EMBER_TUNING", "0")


@pytest.fixture
def run_python():
    """Run Python code in a fresh interpreter (for import-time and environment behaviour)."""
    def run(code, env=None, extra_path=None):
        full_env = {k: v for k, v in os.environ.items()
                    if not k.startswith("EMBER_") or k == "EMBER_TUNING"}
        full_env.update(env or {})
        if extra_path:
            full_env["PYTHONPATH"] = os.pathsep.join([str(extra_path), full_env.get("PYTHONPATH", "")])
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              env=full_env, timeout=120)
    return run


# -- a worker that dies ------------------------------------------------------------------
_crashed = {}   # test id -> what the controller saw when its worker died


@pytest.hookimpl(optionalhook=True)
def pytest_handlecrashitem(crashitem, report, sched):
    """pytest-xdist: a test whose worker process died (llvmpipe's GL driver has segfaulted
    once in a few hundred CI runs) runs once more on a fresh worker; a second crash fails
    it. Every rerun is listed at the end, so a flaky driver stays visible."""
    if crashitem in _crashed:
        return None
    _crashed[crashitem] = str(report.longrepr)
    sched.mark_test_pending(crashitem)
    report.outcome = "rerun"
    return True


def pytest_report_teststatus(report):
    if report.outcome == "rerun":
        return "rerun", "R", "RERUN"
    return None


def pytest_terminal_summary(terminalreporter):
    if _crashed:
        terminalreporter.write_sep("=", "rerun after their worker crashed")
        for test, why in _crashed.items():
            terminalreporter.write_line(f"{test}: {why}")


# -- the longest tests first -------------------------------------------------------------
#: tests that run for 10 s or more (25 savers killed mid-write, each a fresh interpreter;
#: the third-party backend runs a fifth of the suite in a subprocess; scikit-learn builds
#: many small OpenCL kernels)
LONGEST = ("test_sigkill_during_save_leaves_the_last_good_file",
           "test_third_party_backend_passes_the_suite",
           "test_scikit_learn_pca_and_lda_take_ember_tensors")


# -- ember's own tests on the CPU's OpenCL and wgpu: a third of them unless --full -------
#: the backends that compile every kernel for the CPU (pocl and llvmpipe: most of a run's
#: time), and how many of ember's own tests on them one keeps of each run of that many
SAMPLED, EVERY = ("opencl", "wgpu"), 3


def pytest_addoption(parser):
    parser.addoption("--full", action="store_true",
                     default=os.environ.get("EMBER_FULL_SUITE") == "1",
                     help="run ember's own tests on OpenCL and wgpu in full (as "
                          "EMBER_FULL_SUITE=1 does); by default every third of each module, "
                          "while NumPy and CuPy run them all and every backend the whole "
                          "conformance suite")


def pytest_collection_modifyitems(config, items):
    """Start the longest tests first. pytest-xdist hands tests to its workers in this
    order, so a two-minute test begun last would keep one worker busy while the other
    sits idle; begun first, the short ones fill in around it. Without --full, ember's own
    tests (not the conformance suite) on OpenCL and wgpu keep every third of each module:
    features built on the public API, which those backends pass in full in the suite."""
    if not config.getoption("full"):
        seen, kept, dropped = {}, [], []
        for item in items:
            params = getattr(getattr(item, "callspec", None), "params", {})
            name = params.get("backend", params.get("device", ""))
            module = getattr(getattr(item, "module", None), "__name__", "")
            if module.startswith("tests.") and str(name).partition(":")[0] in SAMPLED:
                key = (module, name)
                seen[key] = seen.get(key, -1) + 1
                if seen[key] % EVERY:
                    dropped.append(item)
                    continue
            kept.append(item)
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = kept

    def rank(item):
        return next((k for k, name in enumerate(LONGEST) if item.name.startswith(name)),
                    len(LONGEST))
    items.sort(key=rank)
