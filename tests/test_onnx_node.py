"""ONNX's own backend node tests (the ~1900 small models inside the ``onnx`` package, each
with inputs and expected outputs) run on ember's numpy backend through
``ember.plugins.onnx.backend``, compared as ONNX's BackendTest compares them.

Those ember does not pass are listed with their reasons in onnx_node_failures.txt beside
this file. A listed case must fail and an unlisted one must pass, so the list only
shrinks: after a change, ``python tests/test_onnx_node.py`` rewrites it from a fresh run.
"""

import re
import sys
import warnings
from pathlib import Path

import pytest

onnx = pytest.importorskip("onnx")
from onnx import numpy_helper  # noqa: E402
from onnx.backend.test.loader import load_model_tests  # noqa: E402
from onnx.backend.test.runner import Runner  # noqa: E402

from ember.plugins.onnx.backend import for_backend  # noqa: E402

FAILURES = Path(__file__).with_name("onnx_node_failures.txt")
HEADER = """\
# ONNX backend node tests (onnx {version}) that ember does not pass on numpy, one per line:
# the test's name, then why. Written by `python tests/test_onnx_node.py` from a fresh run.
"""

with warnings.catch_warnings():         # the onnx test generators warn on their own data
    warnings.simplefilter("ignore")
    CASES = load_model_tests(kind="node")


def expected_failures():
    listed = {}
    for line in FAILURES.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, reason = line.partition(" ")
            listed[name] = reason.strip()
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


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_onnx_node(case, request):
    reason = LISTED.get(case.name)
    if reason:
        request.applymarker(pytest.mark.xfail(strict=True, reason=reason, raises=Exception))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        check(case)


def _reason(err):
    """A short, stable reason for the list: the unsupported op, the missing dtype, or the
    first line of the error."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    op = re.search(r"op '(\w+)' of domain '([\w.]+)'", text)
    if op:
        return f"op {op.group(1)} ({op.group(2)}) not supported"
    dtype = re.search(r"(?:element type|NumPy dtype) (\w+)", text)
    if dtype:
        return f"dtype {dtype.group(1).lower()} not held by ember (issue 25)"
    if isinstance(err, AssertionError):
        return "wrong result: " + " ".join(str(err).split())[:120]
    return f"{type(err).__name__}: {text[:140]}"


def write_failures():
    lines, passed = [], 0
    for case in CASES:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                check(case)
            passed += 1
        except Exception as err:        # noqa: BLE001  (every failure is listed with its reason)
            lines.append(f"{case.name} {_reason(err)}")
    FAILURES.write_text(HEADER.format(version=onnx.__version__) + "\n".join(lines) + "\n")
    print(f"{passed} of {len(CASES)} passed; {len(lines)} listed in {FAILURES}")


if __name__ == "__main__":
    write_failures()
    sys.exit(0)
