"""``ember train``, ``ember evaluate`` and ``ember predict``: models, data, losses,
optimizers, schedulers and metrics named in a TOML file by their registered names."""

import argparse
import os
import sys

import numpy as np

import ember
from ember.errors import DataError, PluginError
from ember.registry import registry

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib


def read_config(path):
    try:
        with open(path, "rb") as f:
            config = tomllib.load(f)
    except FileNotFoundError:
        raise DataError(f"{path}: no such config file") from None
    except IsADirectoryError:
        raise DataError(f"{path} is a directory; give the TOML file itself "
                        f"(see examples/train_digits.toml)") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read the config file: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not valid TOML: {exc}") from None
    for section in ("data", "model", "train"):
        if not isinstance(config.get(section, {}), dict):
            raise DataError(f"config: {section} must be a table ([{section}]), "
                            f"got {config[section]!r}")
    return config


def _whole(low):
    return (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= low,
            f"a whole number >= {low}")


_FRACTION = (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < 1,
             "a number between 0 and 1 (exclusive)")
_POSITIVE = (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0,
             "a number > 0")
_OPTIONAL_COUNT = (lambda v: v is None or _whole(1)[0](v), "a whole number >= 1")
_OPTIONAL_POSITIVE = (lambda v: v is None or _POSITIVE[0](v), "a number > 0")
_PRECISION = (lambda v: v in ember.amp.PRECISIONS, " or ".join(map(repr, ember.amp.PRECISIONS)))


def setting(config, path, default, rule):
    """``config``'s value at ``path`` ("data.batch_size"), or ``default``; a value that
    breaks ``rule`` (a check and what it expects) is refused, naming the key."""
    section, _, key = path.rpartition(".")
    value = (config.get(section, {}) if section else config).get(key, default)
    check, expected = rule
    if not check(value):
        raise DataError(f"config: {path} must be {expected}, got {value!r}")
    return value


def _named(kind, spec, *args, what):
    """Build a registered thing from {"type": name, **options} (or a bare name)."""
    if isinstance(spec, str):
        spec = {"type": spec}
    if not isinstance(spec, dict) or "type" not in spec:
        raise PluginError(f"config: {what} needs a 'type' naming a registered {kind[:-1]}; "
                          f"registered {kind}: {', '.join(registry.names(kind))}")
    options = {k: v for k, v in spec.items() if k != "type"}
    try:
        return registry.get(kind, spec["type"])(*args, **options)
    except TypeError as exc:
        raise PluginError(f"config: {what} {spec['type']!r}: {exc}") from None


def build_model(config):
    """A registered model ([model] type = "gpt2" and its options) or a Sequential of
    registered layers ([[model.layers]])."""
    model = config.get("model", {})
    if "type" in model:
        if "layers" in model:
            raise PluginError("config: [model] names a type and lists layers; give one of them")
        return _named("models", model, what="model")
    layers = model.get("layers")
    if not layers:
        raise PluginError("config: [model] names no type and [[model.layers]] lists no layers")
    built = [_named("layers", spec, what=f"layer {i}") for i, spec in enumerate(layers)]
    return registry.get("layers", "sequential")(*built)


def build_data(config):
    """(train, validation, test) datasets. [data.val] and [data.test] are options that
    load a split of their own over [data.options]; a split not given so is cut at random
    from the one above it (with the config's seed)."""
    from ember.plugins.data import train_val_split
    data = config.get("data", {})
    loader = registry.get("datasets", data.get("dataset", "digits"))
    options = data.get("options", {})
    dataset = loader(**options)
    seed = setting(config, "seed", 0, _whole(0))
    if "test" in data:
        test = loader(**{**options, **data["test"]})
        train_val = dataset
    else:
        train_val, test = train_val_split(
            dataset, setting(config, "data.test_fraction", 0.2, _FRACTION), seed=seed)
    if "val" in data:
        train, val = train_val, loader(**{**options, **data["val"]})
    else:
        train, val = train_val_split(
            train_val, setting(config, "data.val_fraction", 0.1, _FRACTION), seed=seed + 1)
    if "scale" in data:
        by = float(setting(config, "data.scale", 1.0, _POSITIVE))
        train, val, test = (_ScaledView(d, by) for d in (train, val, test))
    return train, val, test


class _ScaledView:
    """Features divided by a constant as batches are taken (keeps splits shared)."""

    def __init__(self, dataset, by):
        self.dataset, self.by = dataset, by

    def __len__(self):
        return len(self.dataset)

    def take(self, idx):
        x, *rest = self.dataset.take(idx)
        return (np.asarray(x, dtype=np.float32) / self.by, *rest)


def _loaders(config, train, val, test, distributed=False):
    """Train, validation and test loaders; distributed, each rank gets its share of each
    (batch_size is per process, as in PyTorch)."""
    from ember.plugins.data import DataLoader
    bs = setting(config, "data.batch_size", 64, _whole(1))
    seed = setting(config, "seed", 0, _whole(0))
    if not distributed:
        return (DataLoader(train, bs, shuffle=True, seed=seed), DataLoader(val, 1024),
                DataLoader(test, 1024))
    from ember.plugins.distributed import DistributedSampler
    return (DataLoader(train, bs, sampler=DistributedSampler(train, seed=seed)),
            DataLoader(val, 1024, sampler=DistributedSampler(val, shuffle=False)),
            DataLoader(test, 1024, sampler=DistributedSampler(test, shuffle=False)))


def _setup(args, config):
    backend = args.backend or config.get("backend")
    if backend:
        ember.set_backend(backend)
    ember.manual_seed(setting(config, "seed", 0, _whole(0)))


def _count(text):
    """argparse's type for a count: a whole number >= 0 (its error is one line)."""
    if not text.strip().isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return int(text)


class TrainCommand:
    help = "train the model a TOML config describes; save checkpoints and the history"

    def add_arguments(self, parser):
        parser.add_argument("config", help="a TOML file (see examples/train_digits.toml)")
        parser.add_argument("--backend", help="overrides EMBER_BACKEND and the config's backend")
        parser.add_argument("--epochs", type=_count, help="overrides train.epochs")
        parser.add_argument("--quiet", action="store_true", help="no progress bars")
        parser.add_argument("--distributed", action="store_true",
                            help="data-parallel over the processes of an MPI job "
                                 "(ember launch -n N -- ember train ... --distributed)")
        parser.add_argument("--compile", action="store_true",
                            help="replay each training step as one compiled graph "
                                 "(ember.compile; or train.compile = true in the config)")

    def run(self, args):
        import ember.distributed as dist
        from ember.plugins.serializers import make_checkpoint
        from ember.plugins.train import CSVLogger, ModelCheckpoint, SchedulerStep, Trainer
        config = read_config(args.config)
        _setup(args, config)
        train_cfg = config.get("train", {})
        epochs = setting(config, "train.epochs", 10, _whole(0))
        if args.epochs is not None:   # --epochs 0 is zero epochs
            epochs = args.epochs
        model = build_model(config)
        if args.distributed:
            from ember.plugins.distributed import DistributedDataParallel
            dist.init()
            model = DistributedDataParallel(model)
        train, val, test = build_data(config)
        train_loader, val_loader, test_loader = _loaders(config, train, val, test, args.distributed)
        optimizer = _named("optimizers", train_cfg.get("optimizer", "adam"), model.parameters(),
                           what="train.optimizer")
        loss = _named("losses", train_cfg.get("loss", "cross_entropy"), what="train.loss")
        metrics = [_named("metrics", m, what="train.metrics") for m in train_cfg.get("metrics", [])]
        out = train_cfg.get("output", "runs/train")
        callbacks = [CSVLogger(os.path.join(out, "history.csv")),
                     ModelCheckpoint(os.path.join(out, "checkpoints"), keep_last=2, config=config)]
        scheduler = None
        if "scheduler" in train_cfg:
            spec, interval = train_cfg["scheduler"], "epoch"   # "interval" is the callback's
            if isinstance(spec, dict):
                spec, interval = dict(spec), spec.get("interval", "epoch")
                spec.pop("interval", None)
            scheduler = _named("schedulers", spec, optimizer, what="train.scheduler")
            callbacks.insert(0, SchedulerStep(scheduler, interval=interval))
        say = print if dist.rank() == 0 else (lambda *a, **k: None)
        say(f"ember train: {model.num_parameters():,} parameters on backend "
            f"{ember.get_backend().device}; {len(train)} train, {len(val)} validation, "
            f"{len(test)} test samples" + (f"; {dist.world_size()} processes" if args.distributed else ""))
        trainer = Trainer(progress=not args.quiet,
                          compile=args.compile or bool(train_cfg.get("compile", False)),
                          max_steps=setting(config, "train.max_steps", None, _OPTIONAL_COUNT),
                          clip_grad_norm=setting(config, "train.clip_grad_norm", None,
                                                 _OPTIONAL_POSITIVE),
                          precision=setting(config, "train.precision", "fp32", _PRECISION))
        history = trainer.fit(model, loss, optimizer, train_loader, val_loader, epochs,
                              callbacks, metrics)
        result = trainer.evaluate(model, test_loader, loss, metrics)
        final = os.path.join(out, "final.ember")
        if dist.rank() == 0:
            ember.save(make_checkpoint(model, optimizer, scheduler, epoch=history.epochs,
                                       step=trainer.step, config=config, metrics=result), final)
        shown = ", ".join(f"{k} {v:.4f}" for k, v in result.items() if isinstance(v, float))
        say(f"test: {shown}; checkpoint {final}")
        return 0


def _restore(path, args):
    checkpoint = ember.load(path)
    if not isinstance(checkpoint, dict) or "config" not in checkpoint or "model" not in checkpoint:
        raise DataError(f"{path}: not a checkpoint from ember train (no config or model)")
    config = checkpoint["config"]
    _setup(args, config)
    model = build_model(config)
    model.load_state_dict(checkpoint["model"])
    model.eval()
    return config, model


class EvaluateCommand:
    help = "evaluate a checkpoint from ember train on its test split"

    def add_arguments(self, parser):
        parser.add_argument("checkpoint")
        parser.add_argument("--backend")

    def run(self, args):
        from ember.plugins.train import Trainer
        config, model = _restore(args.checkpoint, args)
        train_cfg = config.get("train", {})
        _, _, test = build_data(config)
        loss = _named("losses", train_cfg.get("loss", "cross_entropy"), what="train.loss")
        metrics = [_named("metrics", m, what="train.metrics") for m in train_cfg.get("metrics", [])]
        result = Trainer(progress=False).evaluate(model, _loaders(config, test, test, test)[2],
                                                  loss, metrics)
        for k, v in result.items():
            print(f"{k}: {v:.6f}" if isinstance(v, float) else f"{k}:\n{v}")
        return 0


class PredictCommand:
    help = "predict classes for the rows of a .csv (features only) or .npy file"

    def add_arguments(self, parser):
        parser.add_argument("checkpoint")
        parser.add_argument("input", help=".csv with a header, or .npy; one sample per row")
        parser.add_argument("--backend")

    def run(self, args):
        from ember.plugins.data import load_arrays, load_csv
        from ember.plugins.train import predicted_labels
        config, model = _restore(args.checkpoint, args)
        if args.input.endswith(".npy"):
            x = load_arrays(args.input).arrays[0]
        else:
            x = load_csv(args.input, label_column=None).arrays[0]
        x = np.asarray(x, dtype=np.float32) / float(config.get("data", {}).get("scale", 1.0))
        with ember.no_grad():
            out = model(ember.tensor(x, dtype=ember.float32))
        for label in predicted_labels(out):
            sys.stdout.write(f"{label}\n")
        return 0


COMMANDS = {"train": TrainCommand(), "evaluate": EvaluateCommand(), "predict": PredictCommand()}
