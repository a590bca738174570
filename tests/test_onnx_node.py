"""ONNX's own backend node tests (the ~1900 small models inside the ``onnx`` package, each
with inputs and expected outputs) run on ember's numpy, opencl and wgpu backends through
``ember.plugins.onnx.backend``, compared as ONNX's BackendTest compares them.

Those ember does not pass are listed with their reasons, a section per backend, in
onnx_node_failures.txt beside this file. A listed case must fail and an unlisted one
must pass, so the list only shrinks: after a change, ``python tests/test_onnx_node.py``
rewrites it from a fresh run on every available backend. ``make test`` runs a fixed
half of the cases on opencl (``_in_ci_share``); EMBER_FULL_SUITE=1 runs every one.
"""

import os
import re
import sys
import warnings
import zlib
from pathlib import Path

import pytest

onnx = pytest.importorskip("onnx")
from onnx import numpy_helper  # noqa: E402
from onnx.backend.test.loader import load_model_tests  # noqa: E402
from onnx.backend.test.runner import Runner  # noqa: E402

import ember  # noqa: E402
from ember.plugins.onnx.backend import for_backend  # noqa: E402

FAILURES = Path(__file__).with_name("onnx_node_failures.txt")
BACKENDS = ("numpy", "opencl", "wgpu")
HEADER = """\
# ONNX backend node tests (onnx {version}) that ember does not pass, a [section] per
# backend, one per line: the test's name, then why. Written by
# `python tests/test_onnx_node.py` from a fresh run.
"""

with warnings.catch_warnings():         # the onnx test generators warn on their own data
    warnings.simplefilter("ignore")
    CASES = load_model_tests(kind="node")


def expected_failures():
    """{(backend, test name): reason} from the list's sections."""
    listed, section = {}, None
    for line in FAILURES.read_text().splitlines():
        if line.startswith("["):
            section = line.strip("[] ")
        elif line.strip() and not line.startswith("#"):
            name, _, reason = line.partition(" ")
            listed[section, name] = reason.strip()
    return listed


LISTED = expected_failures() if FAILURES.exists() else {}


def _array(item):
    return numpy_helper.to_array(item) if isinstance(item, onnx.TensorProto) else item


def check(case, backend="numpy"):
    """Run one node test as onnx.backend.test.BackendTest does."""
    rep = for_backend(backend).prepare(case.model, "CPU")
    for inputs, outputs in case.data_sets:
        got = rep.run([_array(x) for x in inputs])
        Runner.assert_similar_outputs([_array(y) for y in outputs], got, rtol=case.rtol,
                                      atol=case.atol)


def _available(name):
    return ember.config.availability(name)[0]


def _selected(device, request):
    chosen = request.config.getoption("backend")
    if (chosen and device not in chosen) or not _available(device):
        pytest.skip(f"backend {device} not selected or not available")




def _in_ci_share(device, name):
    """Whether ``make test`` runs this case on ``device``: every case on numpy and wgpu;
    on opencl the half whose name hashes even, a fixed half (pocl's first build of each
    op and dtype an ONNX case meets took 170 s of CPU for all of them; the op table
    already runs every op and dtype there). EMBER_FULL_SUITE=1 runs all of them."""
    return device != "opencl" or os.environ.get("EMBER_FULL_SUITE") == "1" or \
        zlib.crc32(name.encode()) % 2 == 0


PASSING = [pytest.param(device, case, id=f"{device}-{case.name}")
           for device in BACKENDS for case in CASES
           if (device, case.name) not in LISTED and _in_ci_share(device, case.name)]


@pytest.mark.parametrize("device, case", PASSING)
def test_onnx_node(device, case, request):
    _selected(device, request)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        check(case, device)


@pytest.mark.parametrize("device", BACKENDS)
def test_listed_onnx_nodes_still_fail(device, request):
    """Each listed case fails (in one test: a pytest item per expected failure would cost
    more than the cases themselves); one that passes is to be taken off the list."""
    _selected(device, request)
    passing = []
    for case in CASES:
        if (device, case.name) in LISTED:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    check(case, device)
            except Exception:               # noqa: BLE001  (listed: expected to fail)
                continue
            passing.append(case.name)
    assert not passing, (f"listed as failing on {device} but passing: {', '.join(passing)}; "
                         f"rewrite the list with `python tests/test_onnx_node.py`")


def _reason(err):
    """A short, stable reason for the list: the unsupported op, the missing dtype, or the
    first line of the error."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    op = re.search(r"op '(\w+)' of domain '([\w.]+)'", text)
    if op:
        return f"op {op.group(1)} ({op.group(2)}) not supported"
    held = re.search(r"backend (\w+) does not support (\w+)", text)
    if held:
        return f"dtype {held.group(2)} not held by backend {held.group(1)}"
    dtype = re.search(r"(?:element type|NumPy dtype) (\w+)", text)
    if dtype:
        return f"dtype {dtype.group(1).lower()} not held by ember (issue 25)"
    if isinstance(err, AssertionError):
        return "wrong result: " + " ".join(str(err).split())[:120]
    return f"{type(err).__name__}: {text[:140]}"


def write_failures():
    lines = []
    for device in filter(_available, BACKENDS):
        failed = []
        for case in CASES:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    check(case, device)
            except Exception as err:    # noqa: BLE001  (every failure is listed with its reason)
                failed.append(f"{case.name} {_reason(err)}")
        lines += ["", f"[{device}]"] + failed
        print(f"{device}: {len(CASES) - len(failed)} of {len(CASES)} passed")
    FAILURES.write_text(HEADER.format(version=onnx.__version__) + "\n".join(lines) + "\n")


if __name__ == "__main__":
    write_failures()
    sys.exit(0)
