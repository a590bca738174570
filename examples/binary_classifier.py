"""A binary classifier from a CSV file: BCE with logits, precision and recall.

    python examples/binary_classifier.py [--data points.csv] [--label label]
Without --data it writes a CSV of two interleaved half-moons first, then reads it
back through ember's CSV loader like any other file.
"""

import argparse
import os
import sys
import tempfile

import numpy as np

import ember
from ember.plugins import nn, optim
from ember.plugins.data import DataLoader, load_csv, normalize, train_val_split
from ember.plugins.train import Accuracy, Precision, Recall, Trainer


def write_moons(path, n=600, seed=0):
    rng = np.random.default_rng(seed)
    t = rng.uniform(0, np.pi, n)
    label = rng.integers(0, 2, n)
    x = np.where(label == 0, np.cos(t), 1 - np.cos(t)) + rng.normal(0, 0.15, n)
    y = np.where(label == 0, np.sin(t), 0.5 - np.sin(t)) + rng.normal(0, 0.15, n)
    with open(path, "w") as f:
        f.write("x,y,label\n")
        f.writelines(f"{a:.5f},{b:.5f},{c}\n" for a, b, c in zip(x, y, label))


def main(argv=None, out=sys.stdout):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="a CSV file with a header")
    parser.add_argument("--label", default="label", help="the label column (0 or 1)")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    path = args.data
    if path is None:
        path = os.path.join(tempfile.mkdtemp(prefix="ember-moons-"), "moons.csv")
        write_moons(path)
    ember.manual_seed(0)
    data = load_csv(path, label_column=args.label)
    data = data.map(normalize).map(lambda y: y.astype(np.float32).reshape(-1, 1), column=1)
    train, test = train_val_split(data, 0.25, seed=0)
    model = nn.Sequential(nn.Linear(data.arrays[0].shape[1], 16), nn.Tanh(), nn.Linear(16, 16),
                          nn.Tanh(), nn.Linear(16, 1))
    metrics = [Accuracy(threshold=0.0), Precision("binary", threshold=0.0),   # logits: 0 splits
               Recall("binary", threshold=0.0)]
    trainer = Trainer(progress=not args.quiet)
    trainer.fit(model, "bce_with_logits", optim.Adam(model.parameters(), lr=0.01),
                DataLoader(train, batch_size=32, shuffle=True, seed=0), epochs=args.epochs,
                metrics=metrics)
    result = trainer.evaluate(model, DataLoader(test, batch_size=256), "bce_with_logits", metrics)
    print(f"{path}: test accuracy {result['accuracy']:.3f}, precision {result['precision']:.3f}, "
          f"recall {result['recall']:.3f}", file=out)
    return result


if __name__ == "__main__":
    main()
