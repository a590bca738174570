"""Trainer, metrics and callbacks; the digits demo reaches its accuracy."""

import csv
import importlib.util
import io
from pathlib import Path

import numpy as np
import pytest

import ember
from ember.plugins import nn, optim
from ember.plugins.data import DataLoader, TensorDataset
from ember.plugins.train import (F1, Accuracy, ConfusionMatrix, CSVLogger, EarlyStopping,
                                 MeanAbsoluteError, MeanSquaredError, ModelCheckpoint, Precision,
                                 Recall, Trainer)

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_classification_metrics_match_their_definitions():
    logits = np.eye(3)[[0, 1, 2, 2, 1, 0, 2]] + 0.1   # predicted 0 1 2 2 1 0 2
    target = np.array([0, 1, 1, 2, 1, 2, 2])
    cm = ConfusionMatrix()
    cm.update(logits, target)
    np.testing.assert_array_equal(cm.compute(), [[1, 0, 0], [0, 2, 1], [1, 0, 2]])
    tp, fp, fn = np.array([1, 2, 2]), np.array([1, 0, 1]), np.array([0, 1, 1])
    for metric, per_class in ((Precision(), tp / (tp + fp)), (Recall(), tp / (tp + fn)),
                              (F1(), 2 * tp / (2 * tp + fp + fn))):
        metric.update(ember.tensor(logits[:4]), ember.tensor(target[:4]))   # in two batches
        metric.update(logits[4:], target[4:])
        assert metric.compute() == pytest.approx(per_class.mean())
    micro = F1(average="micro")
    micro.update(logits, target)
    assert micro.compute() == pytest.approx(5 / 7)   # micro F1 == accuracy for single labels
    acc = Accuracy()
    acc.update(logits, target)
    assert acc.compute() == pytest.approx(5 / 7)
    binary = Accuracy()
    binary.update(np.array([0.2, 0.7, 0.9]), np.array([0, 1, 0]))
    assert binary.compute() == pytest.approx(2 / 3)
    positive = Precision("binary")
    positive.update(np.array([0.2, 0.7, 0.9, 0.8]), np.array([0, 1, 0, 1]))
    assert positive.compute() == pytest.approx(2 / 3)   # 2 of the 3 predicted positives


def test_confusion_matrix_refuses_classes_it_cannot_count():
    m = ConfusionMatrix(num_classes=3)
    with pytest.raises(ember.ShapeError, match="class 5 is out of range for num_classes=3"):
        m.update(np.eye(3)[[0, 0]], np.array([0, 5]))
    with pytest.raises(ember.ShapeError, match="target class -1 is negative"):
        ConfusionMatrix().update(np.eye(3)[[0, 0]], np.array([0, -1]))


def test_regression_metrics():
    mse, mae = MeanSquaredError(), MeanAbsoluteError()
    for m in (mse, mae):
        m.update(np.array([1.0, 2.0]), np.array([0.0, 4.0]))
    assert mse.compute() == pytest.approx(2.5) and mae.compute() == pytest.approx(1.5)


def _regression_data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 3)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5]]) + 0.3).astype(np.float32)
    return TensorDataset(x, y)


def test_fit_by_registered_names_with_callbacks(tmp_path):
    ember.manual_seed(0)
    data = _regression_data()
    model = nn.Linear(3, 1)
    opt = optim.SGD(model.parameters(), lr=0.1)
    history = Trainer(progress=False).fit(
        model, "mse", opt, DataLoader(data, batch_size=16, shuffle=True, seed=0),
        DataLoader(data, batch_size=64), epochs=40, metrics=["mae"],
        callbacks=[EarlyStopping(monitor="val_loss", patience=3, min_delta=1e-4),
                   CSVLogger(tmp_path / "log.csv"), ModelCheckpoint(tmp_path / "ckpt", keep_last=1)])
    assert history["val_loss"][-1] < 1e-3 < history["loss"][0]
    rows = list(csv.DictReader(io.StringIO((tmp_path / "log.csv").read_text())))
    assert len(rows) == history.epochs and {"loss", "mae", "val_loss", "val_mae", "lr"} <= set(rows[0])
    assert len(list((tmp_path / "ckpt").glob("ckpt-*.ember"))) in (1, 2)   # newest + best


def test_early_stopping_stops_and_restores_the_best():
    trainer = Trainer(progress=False)
    model = nn.Linear(1, 1)
    trainer.model = model
    stop = EarlyStopping(monitor="val_loss", patience=2)
    stop.on_train_begin(trainer)
    for epoch, val in enumerate([1.0, 0.5, 0.6, 0.7, 0.4]):   # no gain after epoch 1
        with ember.no_grad():
            model.weight += 1.0    # the weights change every epoch
        stop.on_epoch_end(trainer, epoch, {"val_loss": val})
        if trainer.stop_training:
            break
    assert trainer.stop_training and stop.stopped_epoch == 3
    stop.on_train_end(trainer)
    assert stop.best == 0.5
    with pytest.raises(KeyError, match="no 'val_acc' in the epoch's logs"):
        EarlyStopping(monitor="val_acc").on_epoch_end(trainer, 0, {"loss": 1.0})


def test_fit_and_evaluate_refuse_what_has_no_mean():
    """An epoch of no batches has no loss (it was reported as 0.0); negative epochs and an
    unknown loss are named."""
    x, y = np.ones((0, 4), np.float32), np.zeros(0, np.int64)
    empty = DataLoader(TensorDataset(x, y), batch_size=4)
    full = DataLoader(TensorDataset(np.ones((8, 4), np.float32), np.zeros(8, np.int64)), batch_size=4)
    model = nn.Linear(4, 3)
    trainer = Trainer(progress=False)
    with pytest.raises(ember.DataError, match="fit: the training loader gave no batches "
                                              r"\(its dataset holds 0 samples\)"):
        trainer.fit(model, "cross_entropy", optim.SGD(model.parameters(), lr=0.1), empty)
    with pytest.raises(ember.DataError, match="evaluate: the loader gave no batches"):
        trainer.fit(model, "cross_entropy", optim.SGD(model.parameters(), lr=0.1), full,
                    val_loader=empty)
    with pytest.raises(ValueError, match="epochs must be an int >= 0, got -1"):
        trainer.fit(model, "cross_entropy", optim.SGD(model.parameters(), lr=0.1), full, epochs=-1)
    with pytest.raises(ember.PluginError, match="no loss named 'nope'; registered losses"):
        trainer.fit(model, "nope", optim.SGD(model.parameters(), lr=0.1), full)


def test_digits_demo_reaches_95_percent(tmp_path):
    spec = importlib.util.spec_from_file_location("digits_mlp", EXAMPLES / "digits_mlp.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = io.StringIO()
    accuracy, same = module.main(["--out", str(tmp_path), "--quiet"], out=out)
    assert accuracy >= 0.95 and same, out.getvalue()
    assert (tmp_path / "learning_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "final.ember").exists() and (tmp_path / "history.csv").exists()


def test_data_train_plugins_are_registered():
    assert {"digits", "mnist", "csv", "idx", "arrays", "image_folder"} <= set(ember.registry.names("datasets"))
    assert ember.registry.names("metrics") == ["accuracy", "confusion_matrix", "f1", "mae", "mse",
                                               "precision", "recall"]
    assert ember.registry.names("callbacks") == ["csv_logger", "early_stopping", "model_checkpoint",
                                                 "scheduler_step"]


def test_cli_train_evaluate_predict(tmp_path, run_python):
    import subprocess
    import sys
    config = (EXAMPLES / "train_digits.toml").read_text().replace("epochs = 30", "epochs = 12")
    (tmp_path / "c.toml").write_text(config)
    ember_cli = [sys.executable, "-m", "ember.cli"]
    r = subprocess.run(ember_cli + ["train", "c.toml", "--quiet"], cwd=tmp_path, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "test: loss" in r.stdout and (tmp_path / "runs/train_digits/final.ember").exists()
    r = subprocess.run(ember_cli + ["evaluate", "runs/train_digits/final.ember"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=300)
    accuracy = float(r.stdout.split("accuracy: ")[1].split()[0])
    assert r.returncode == 0 and accuracy > 0.9, r.stdout + r.stderr
    from ember.plugins.data import load_digits
    x, y = load_digits().arrays
    np.save(tmp_path / "rows.npy", x[:20])
    r = subprocess.run(ember_cli + ["predict", "runs/train_digits/final.ember", "rows.npy"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=300)
    predicted = [int(v) for v in r.stdout.split()]
    assert len(predicted) == 20 and np.mean(np.array(predicted) == y[:20]) >= 0.9
    (tmp_path / "bad.toml").write_text(config.replace('type = "relu"', 'type = "relux"'))
    r = subprocess.run(ember_cli + ["train", "bad.toml"], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 2
    assert ("PluginError: no layer named 'relux'; registered layers: adaptive_avg_pool1d, "
            "adaptive_avg_pool2d") in r.stderr


@pytest.mark.parametrize("change,message", [
    (("epochs = 30", 'epochs = "ten"'), "config: train.epochs must be a whole number >= 0, got 'ten'"),
    (("batch_size = 64", "batch_size = 0"), "config: data.batch_size must be a whole number >= 1, got 0"),
    (("test_fraction = 0.2", "test_fraction = 1.5"),
     "config: data.test_fraction must be a number between 0 and 1 (exclusive), got 1.5"),
    (("val_fraction = 0.1", "val_fraction = 0"),
     "config: data.val_fraction must be a number between 0 and 1 (exclusive), got 0"),
    (("scale = 16.0", "scale = -1"), "config: data.scale must be a number > 0, got -1"),
    (("seed = 0", "seed = true"), "config: seed must be a whole number >= 0, got True"),
    (("epochs = 30", 'epochs = 30\nprecision = "int8"'),
     "config: train.precision must be 'fp32' or 'bf16' or 'fp16', got 'int8'"),
])
def test_cli_refuses_bad_configs_in_one_line(tmp_path, capsys, change, message):
    from ember.cli import main
    (tmp_path / "c.toml").write_text((EXAMPLES / "train_digits.toml").read_text().replace(*change))
    assert main(["train", str(tmp_path / "c.toml"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err == f"ember train: DataError: {message}\n", err


def test_cli_config_path_and_epochs_flag(tmp_path, capsys):
    from ember.cli import main
    assert main(["train", str(tmp_path)]) == 2
    assert "is a directory; give the TOML file itself" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", str(tmp_path / "c.toml"), "--epochs", "-1"])
    assert "--epochs: expected a whole number >= 0, got '-1'" in capsys.readouterr().err
    out = tmp_path / "run"
    config = (EXAMPLES / "train_digits.toml").read_text().replace("runs/train_digits", str(out))
    (tmp_path / "c.toml").write_text(config)
    assert main(["train", str(tmp_path / "c.toml"), "--epochs", "0", "--quiet"]) == 0
    assert (out / "final.ember").exists() and not (out / "history.csv").exists()  # no epoch ran
    assert ember.load(out / "final.ember")["epoch"] == 0


def test_binary_classifier_example():
    spec = importlib.util.spec_from_file_location("binary_classifier", EXAMPLES / "binary_classifier.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = module.main(["--quiet", "--epochs", "30"], out=io.StringIO())
    assert result["accuracy"] > 0.95 and result["precision"] > 0.9 and result["recall"] > 0.9


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_compiled_fit_gives_the_eager_history_with_dropout_and_a_scheduler(optimizer):
    from ember.plugins.train import SchedulerStep

    def fit(compile):
        ember.manual_seed(0)
        x = ember.randn(100, 5)
        y = (x.sum(axis=1) > 0).to(ember.int64)
        model = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 2))
        opt = (optim.SGD(model.parameters(), lr=0.2, momentum=0.9) if optimizer == "sgd"
               else optim.Adam(model.parameters(), lr=0.02))
        sched = optim.StepLR(opt, step_size=2, gamma=0.5)
        loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True, seed=0)
        history = Trainer(progress=False, compile=compile).fit(
            model, "cross_entropy", opt, loader, epochs=6, metrics=["accuracy"],
            callbacks=[SchedulerStep(sched)])
        return history, [p.numpy() for p in model.parameters()]
    (eager, p_eager), (compiled, p_compiled) = fit(False), fit(True)
    np.testing.assert_allclose(compiled["loss"], eager["loss"], rtol=1e-5)
    assert compiled["lr"] == eager["lr"] and eager["lr"][0] > eager["lr"][-1]
    for a, b in zip(p_compiled, p_eager):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("compile", [False, True])
def test_max_steps_gradient_clipping_and_a_per_step_scheduler(compile):
    """Trainer(max_steps, clip_grad_norm) with SchedulerStep(interval="step") is the
    hand-written loop: clip, update, schedule after every batch, stop mid-epoch."""
    from ember.plugins.train import SchedulerStep

    def setup():
        ember.manual_seed(0)
        model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 2))
        opt = optim.Adam(model.parameters(), lr=0.05)
        return model, opt, optim.CosineWithWarmupLR(opt, 2, 7, 0.1)
    x = np.random.default_rng(0).normal(size=(80, 5)).astype(np.float32) * 20
    y = (x.sum(axis=1) > 0).astype(np.int64)
    loader = DataLoader(TensorDataset(x, y), batch_size=8)          # 10 batches an epoch
    model, opt, sched = setup()
    trainer = Trainer(progress=False, compile=compile, max_steps=7, clip_grad_norm=0.5)
    history = trainer.fit(model, "cross_entropy", opt, loader, epochs=3,
                          callbacks=[SchedulerStep(sched, interval="step")])
    assert trainer.step == 7 and history.epochs == 1
    want_model, want_opt, want_sched = setup()
    for i, (xb, yb) in enumerate(loader):
        if i == 7:
            break
        loss = ember.plugins.losses.cross_entropy(want_model(xb), yb)
        want_opt.zero_grad()
        loss.backward()
        norm = optim.clip_grad_norm_(want_model.parameters(), 0.5)
        assert norm.item() > 0.5            # the clipping bites
        want_opt.step()
        want_sched.step()
    assert history["lr"] == [want_opt.param_groups[0]["lr"]] == [pytest.approx(0.005)]
    for got, want in zip(model.parameters(), want_model.parameters()):   # float32, fused or not
        error = np.linalg.norm(got.numpy() - want.numpy()) / np.linalg.norm(want.numpy())
        assert error < 1e-5, error
    with pytest.raises(ValueError, match="max_steps must be a number > 0 or None, got 0"):
        Trainer(max_steps=0)
    with pytest.raises(ValueError, match="ReduceLROnPlateau follows a validation metric"):
        SchedulerStep(optim.ReduceLROnPlateau(opt), interval="step")


def test_cli_trains_a_registered_gpt_on_text_windows(tmp_path, capsys):
    """examples/char_gpt.toml, made tiny: a registered model, the text_windows dataset
    with its own validation split, the token loss, max_steps, clipping and a per-step
    schedule, eager and compiled alike; ember evaluate reads the checkpoint back."""
    from ember.cli import main
    text = b"def f(x):\n    return x + 1\n\n" * 600
    (tmp_path / "t.txt").write_bytes(text)
    p = np.bincount(np.frombuffer(text, np.uint8)) / len(text)
    unigram = -(p[p > 0] * np.log(p[p > 0])).sum()      # the loss of byte frequencies alone
    config = (EXAMPLES / "char_gpt.toml").read_text()
    for old, new in (("{ context = 128 }", f'{{ context = 16, path = "{tmp_path / "t.txt"}" }}'),
                     ("n_positions = 128", "n_positions = 16"), ("n_embd = 128", "n_embd = 32"),
                     ("n_layer = 4", "n_layer = 1"), ("max_steps = 600", "max_steps = 40"),
                     ("warmup_steps = 60, total_steps = 600", "warmup_steps = 4, total_steps = 40"),
                     ("lr = 3e-3", "lr = 1e-2"), ("runs/char_gpt_toml", str(tmp_path / "run"))):
        assert old in config
        config = config.replace(old, new)
    (tmp_path / "c.toml").write_text(config)
    histories = []
    for flags in ([], ["--compile"]):
        assert main(["train", str(tmp_path / "c.toml"), "--quiet"] + flags) == 0
        with open(tmp_path / "run" / "history.csv") as f:
            histories.append(list(csv.DictReader(f)))
    out = capsys.readouterr().out
    assert "on backend numpy; 944 train, 128 validation, 104 test samples" in out
    (eager,), (compiled,) = histories
    assert float(eager["lr"]) == pytest.approx(1e-3)                 # the schedule's end
    assert float(eager["val_loss"]) < 0.75 * unigram                 # it learned the text
    np.testing.assert_allclose(float(compiled["loss"]), float(eager["loss"]), rtol=1e-4)
    assert main(["evaluate", str(tmp_path / "run" / "final.ember")]) == 0
    assert float(capsys.readouterr().out.split("loss: ")[1]) < 0.75 * unigram
