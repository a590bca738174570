"""Train an MLP on MNIST or Fashion-MNIST from IDX files in --data DIR.

    python examples/mnist_mlp.py --data /usr/share/datasets/fashion-mnist
Nothing downloads: without the files, the error says where to put them.
"""

import argparse
import sys

import ember
from ember.plugins import nn, optim
from ember.plugins.data import DataLoader, load_mnist, train_val_split
from ember.plugins.train import Accuracy, SchedulerStep, Trainer


def mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Dropout(0.2),
                         nn.Linear(256, 10))


def run(build, description, argv=None, epochs=8, lr=1e-3, out=sys.stdout):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data", required=True, help="folder with the four IDX files (or .gz)")
    parser.add_argument("--epochs", type=int, default=epochs)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--limit", type=int, default=None, help="use only this many training images")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    ember.manual_seed(0)
    train_all, test = load_mnist(args.data, "train"), load_mnist(args.data, "test")
    if args.limit:
        train_all, _ = train_val_split(train_all, 1 - args.limit / len(train_all), seed=0)
    train, val = train_val_split(train_all, 1 / 12, seed=1)
    model = build()
    opt = optim.Adam(model.parameters(), lr=lr)
    sched = optim.CosineAnnealingLR(opt, T_max=args.epochs)
    trainer = Trainer(progress=not args.quiet)
    history = trainer.fit(model, "cross_entropy", opt,
                          DataLoader(train, batch_size=args.batch_size, shuffle=True, seed=0),
                          DataLoader(val, batch_size=1000), epochs=args.epochs,
                          metrics=[Accuracy()], callbacks=[SchedulerStep(sched)])
    result = trainer.evaluate(model, DataLoader(test, batch_size=1000), "cross_entropy", [Accuracy()])
    print(f"{description.split(' on ')[0]} on backend {ember.get_backend().device}: test accuracy "
          f"{result['accuracy']:.4f} after {history.epochs} "
          f"epoch{'s' * (history.epochs != 1)}, "
          f"{sum(history['time']):.0f} s of training", file=out)
    return result["accuracy"]


if __name__ == "__main__":
    run(mlp, __doc__.splitlines()[0])
