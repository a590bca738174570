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


def test_char_gpt_trains_checkpoints_samples_and_saves_a_loadable_model(tmp_path):
    import math

    import ember
    from ember.plugins.models import GPT2
    text = tmp_path / "text.txt"
    text.write_text("def square(x):\n    return x * x\n" * 200)
    out = io.StringIO()
    history, per_step = _load("char_gpt").train(
        ["--text", str(text), "--steps", "6", "--eval-every", "3", "--context", "16",
         "--n-embd", "16", "--n-head", "2", "--n-layer", "1", "--batch-size", "4",
         "--eval-batches", "1", "--sample", "8", "--quiet", "--out", str(tmp_path / "run")],
        out=out)
    assert sorted(history) == [3, 6] and per_step > 0
    assert all(math.isfinite(v) for pair in history.values() for v in pair)
    assert history[6][1] < history[3][1] < 8.0        # bits/byte: below a uniform guess
    text_out = out.getvalue()
    assert "bits/byte" in text_out and "sample (8 bytes after 'def '" in text_out
    assert len(list((tmp_path / "run" / "checkpoints").glob("ckpt-*.ember"))) == 2
    model = GPT2.from_pretrained(tmp_path / "run" / "model")
    assert model(ember.tensor([[100, 101]])).shape == (1, 2, 256)
