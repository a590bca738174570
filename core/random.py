"""The host random generator: a seed gives the same values on every backend.

Values are drawn on the host in the target dtype and then uploaded, so a
float32 tensor of randn is bit-identical on numpy, opencl and wgpu.
"""

import numpy as np

from . import dispatch

_rng = np.random.default_rng()


def manual_seed(seed):
    """Reseed the generator behind rand, randn, randint, normal and uniform."""
    global _rng
    _rng = np.random.default_rng(int(seed))
    return _rng


def generator():
    return _rng


def draw(method, *args, **kwargs):
    """``generator().<method>(*args, **kwargs)``, reported to a recording ember.compile
    (so that a replayed graph draws anew instead of repeating the traced values)."""
    values = getattr(_rng, method)(*args, **kwargs)
    if dispatch.active_count:
        dispatch.drew(values, method, args, kwargs)
    return values


def get_rng_state():
    """A plain dict (no objects) that set_rng_state restores; fit for msgpack."""
    return _rng.bit_generator.state


def set_rng_state(state):
    global _rng
    bg = np.random.PCG64()
    bg.state = state
    _rng = np.random.Generator(bg)
