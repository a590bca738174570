"""Train a small CNN on the bundled 8x8 digits, seen as 1x8x8 images.

Same pipeline as digits_mlp.py (progress bar, checkpoint, learning curves, reload
check); EMBER_BACKEND picks the backend.
"""

import sys

from ember.plugins import nn
from digits_mlp import main


def build_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),      # 16 x 4 x 4
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),     # 32 x 2 x 2
        nn.Flatten(), nn.Dropout(0.1), nn.Linear(32 * 2 * 2, 10))


if __name__ == "__main__":
    accuracy, same = main(build=build_cnn, images=True, name="digits_cnn",
                          title="CNN on 8x8 digits", description=__doc__)
    sys.exit(0 if same else 1)
