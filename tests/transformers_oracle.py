"""What the tests that hold ember's models to Hugging Face transformers share: the error
relative to the largest reference value, and the check of every parameter's gradient."""

import numpy as np


def rel(got, want):
    """max |got - want| over max |want|, in float64."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    return np.abs(got - want).max() / np.abs(want).max()


def assert_gradients_close(got, want, bound=1e-4):
    """Each parameter's gradient (``got`` and ``want``: name -> array) within ``bound`` of
    PyTorch's, relative to its largest entry; one that is zero but for rounding (a key's
    bias, whose score shift every softmax row cancels) near zero here too."""
    biggest = max(np.abs(g).max() for g in want.values())
    for name, grad in got.items():
        if np.abs(want[name]).max() < 1e-9 * biggest:
            assert np.abs(grad).max() < 1e-9 * biggest, name
        else:
            assert rel(grad, want[name]) < bound, name
