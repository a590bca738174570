"""The examples do what the README promises."""

import importlib.util
import io
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_xor_demo_learns_xor():
    out = io.StringIO()
    loss, pred = _load("xor").train(steps=1500, out=out)
    assert loss < 0.01
    assert (pred > 0.5).tolist() == [False, True, True, False]
    text = out.getvalue()
    assert "training XOR on backend numpy" in text and "predictions:" in text
