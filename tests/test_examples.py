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


def test_digits_cnn_learns_and_reloads(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))     # as when run as a script
    out = io.StringIO()
    cnn = _load("digits_cnn")
    accuracy, same = _load("digits_mlp").main(
        ["--epochs", "4", "--quiet", "--out", str(tmp_path)], out=out, build=cnn.build_cnn,
        images=True, name="digits_cnn", title="CNN")
    assert accuracy > 0.85 and same
    assert (tmp_path / "final.ember").exists() and "test accuracy" in out.getvalue()
