"""Train a small CNN on MNIST or Fashion-MNIST from IDX files in --data DIR.

    python examples/mnist_cnn.py --data /usr/share/datasets/fashion-mnist
"""

from ember.plugins import nn
from mnist_mlp import run


def cnn():
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.2), nn.Linear(32 * 7 * 7, 10))


if __name__ == "__main__":
    run(cnn, __doc__.splitlines()[0], epochs=4, lr=2e-3)
