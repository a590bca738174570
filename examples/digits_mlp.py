"""Train an MLP on the bundled 8x8 digits: the main demo (`make demo`).

Trains on the default backend (EMBER_BACKEND picks another) with a progress bar,
prints the test accuracy, saves a checkpoint and a learning-curve PNG, then
reloads the checkpoint into a fresh model and checks it predicts the same.
"""

import argparse
import os
import sys

import numpy as np

import ember
from ember.plugins import nn, optim
from ember.plugins.data import DataLoader, load_digits, scale, train_val_split
from ember.plugins.serializers import restore_checkpoint
from ember.plugins.train import (Accuracy, CSVLogger, ModelCheckpoint, SchedulerStep, Trainer,
                                 plot_history)


def build_model():
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Dropout(0.1), nn.Linear(128, 10))


def main(argv=None, out=sys.stdout, build=build_model, images=False, name="digits_mlp",
         title="MLP on 8x8 digits", description=__doc__):
    """Train ``build()`` on the digits (as (N, 1, 8, 8) images when ``images``)."""
    parser = argparse.ArgumentParser(description=description.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--out", default=f"runs/{name}", help="folder for checkpoints and plots")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--compile", action="store_true",
                        help="replay each training step as one compiled graph (ember.compile)")
    args = parser.parse_args(argv)

    ember.manual_seed(args.seed)
    data = load_digits().map(lambda x: scale(x, 16.0))      # grey levels 0..16 -> [0, 1]
    if images:
        data = data.map(lambda x: x.reshape(-1, 1, 8, 8))
    train_val, test = train_val_split(data, 0.2, seed=args.seed)
    train, val = train_val_split(train_val, 0.1, seed=args.seed + 1)
    print(f"digits on backend {ember.get_backend().device}: {len(train)} train, {len(val)} "
          f"validation, {len(test)} test", file=out)

    model = build()
    optimizer = optim.Adam(model.parameters(), lr=2e-3)
    scheduler = optim.CosineAnnealingLR(optimizer, T_max=args.epochs)
    trainer = Trainer(progress=not args.quiet, compile=args.compile)
    history = trainer.fit(
        model, "cross_entropy", optimizer,
        DataLoader(train, batch_size=args.batch_size, shuffle=True, seed=args.seed),
        DataLoader(val, batch_size=256), epochs=args.epochs, metrics=[Accuracy()],
        callbacks=[SchedulerStep(scheduler),
                   ModelCheckpoint(os.path.join(args.out, "checkpoints"), monitor="val_accuracy",
                                   mode="max", keep_last=2),
                   CSVLogger(os.path.join(args.out, "history.csv"))])
    test_loader = DataLoader(test, batch_size=256)
    result = trainer.evaluate(model, test_loader, "cross_entropy", [Accuracy()])
    print(f"test accuracy {result['accuracy']:.4f} (loss {result['loss']:.4f}) after "
          f"{history.epochs} epoch{'s' * (history.epochs != 1)}, {sum(history['time']):.1f} s of training", file=out)

    png = os.path.join(args.out, "learning_curves.png")
    try:
        plot_history(history, png, title=title)
        print(f"learning curves: {png}", file=out)
    except ImportError as exc:
        print(f"no learning-curve plot: {exc}", file=out)

    final = os.path.join(args.out, "final.ember")
    checkpoint = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                  "epoch": history.epochs, "test_accuracy": result["accuracy"]}
    ember.save(checkpoint, final)
    fresh = build()
    restore_checkpoint(ember.load(final), model=fresh)
    same = np.array_equal(trainer.predict(model, test_loader), trainer.predict(fresh, test_loader))
    print(f"checkpoint: {final}; reloaded into a fresh model it predicts "
          f"{'the same' if same else 'DIFFERENTLY'} on all {len(test)} test digits", file=out)
    return result["accuracy"], same


if __name__ == "__main__":
    accuracy, same = main()
    sys.exit(0 if same else 1)
