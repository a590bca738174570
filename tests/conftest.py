"""ember's own tests; ember.testing (the conformance suite) loads from pyproject's addopts."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ember import dtypes as dt
from ember.testing.cases import OPS

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
#: the third-party backend runs a tenth of the suite in a subprocess; scikit-learn builds
#: many small OpenCL kernels)
LONGEST = ("test_sigkill_during_save_leaves_the_last_good_file",
           "test_third_party_backend_passes_the_suite",
           "test_scikit_learn_pca_and_lda_take_ember_tensors")


# -- on the CPU's OpenCL and wgpu, a representative part unless --full -----------------
#: the backends that compile every kernel for the CPU (pocl and llvmpipe, 0.1 to 0.3 s a
#: kernel on a 2-core CPU: most of a run's time), and how many tests of a run of that many
#: they keep
SAMPLED, EVERY = ("opencl", "wgpu"), 3
#: the suite's modules whose checks are one op of the table in one dtype, or at one of its
#: gradcheck shapes
PAIRED = ("ember.testing.suite.test_ops", "ember.testing.suite.test_compile")
#: where the compiled-mode op check keeps only a rotating third of the ops in float32
#: too: pocl builds each fused group as a program of its own (0.4 s on 2 cores; the
#: check took 144 of OpenCL's 547 s). Every op's primitives still run there eagerly,
#: from the same renderer, and fusing them is the same code for every op
THINNED = {("ember.testing.suite.test_compile", "opencl")}
_OP_INDEX = {case.name: k for k, case in enumerate(OPS)}


def pytest_addoption(parser):
    parser.addoption("--full", action="store_true",
                     default=os.environ.get("EMBER_FULL_SUITE") == "1",
                     help="run everything on OpenCL and wgpu (as EMBER_FULL_SUITE=1 does); by "
                          "default they run a third of ember's own tests and of the plugins' "
                          "conformance modules, and each op of the suite in float32 and in "
                          "each other dtype on a rotating third of the ops")


def _kept_pair(params, thinned=False):
    """Whether a check of one op (its ``case``) in one ``dtype``, or at one of its
    gradcheck shapes (``shape_index``), runs on a SAMPLED backend: every op in float32
    (or its first dtype; ``thinned``, a rotating third of them) and at its first shape,
    and each other dtype and shape on a rotating third of the ops (and each check's
    first op in each dtype). So every op, every dtype and every shape still runs on
    every backend, and every pair on numpy; the pairs left out build the same generated
    code in another type, and were three fifths of the suite's time on opencl."""
    case = params.get("case")
    at = _OP_INDEX.get(getattr(case, "name", None))
    if at is None:
        return True
    if "dtype" in params:
        dtype = params["dtype"]
        if dtype is case.main_dtype:
            return not (thinned and at % EVERY)
        return (at + dt.ALL.index(dtype)) % EVERY == 0
    if "shape_index" in params:
        return params["shape_index"] == 0 or (at + params["shape_index"]) % EVERY == 0
    return True


def pytest_collection_modifyitems(config, items):
    """Start the longest tests first. pytest-xdist hands tests to its workers in this
    order, so a two-minute test begun last would keep one worker busy while the other
    sits idle; begun first, the short ones fill in around it. Without --full, on OpenCL
    and wgpu: every third test of each of ember's own modules and of each plugin's
    conformance module (features built on the public API, whose ops those backends pass
    in the suite), and the suite's op checks by ``_kept_pair``."""
    if not config.getoption("full"):
        seen, covered, kept, dropped = {}, set(), [], []
        for item in items:
            params = getattr(getattr(item, "callspec", None), "params", {})
            name = params.get("backend", params.get("device", ""))
            module = getattr(getattr(item, "module", None), "__name__", "")
            if str(name).partition(":")[0] in SAMPLED:
                if module.startswith(("tests.", "ember.plugins.")):
                    key = (module, name)
                    seen[key] = seen.get(key, -1) + 1
                    if seen[key] % EVERY:
                        dropped.append(item)
                        continue
                elif module in PAIRED:
                    first = (item.originalname, name, params.get("dtype"))
                    thinned = (module, str(name).partition(":")[0]) in THINNED
                    if not _kept_pair(params, thinned) and first in covered:
                        dropped.append(item)
                        continue
                    covered.add(first)
            kept.append(item)
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = kept

    def rank(item):
        return next((k for k, name in enumerate(LONGEST) if item.name.startswith(name)),
                    len(LONGEST))
    items.sort(key=rank)
