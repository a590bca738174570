"""The host random generator: a seed gives the same values on every backend.

Values are drawn on the host in the target dtype and then uploaded, so a
float32 tensor of randn is bit-identical on numpy, opencl and wgpu.
"""

import numpy as np

from . import dispatch

_SEED_BITS = 63
#: the seed the generator started from (initial_seed); a fresh process draws one
_seed = int(np.random.SeedSequence().entropy % (1 << _SEED_BITS))
_rng = np.random.default_rng(_seed)


def manual_seed(seed):
    """Reseed the generator behind rand, randn, randint, normal and uniform."""
    global _rng, _seed
    _seed = int(seed)
    _rng = np.random.default_rng(_seed)
    return _rng


def seed():
    """Reseed the generator from fresh entropy and return the seed (torch.seed)."""
    fresh = int(np.random.SeedSequence().entropy % (1 << _SEED_BITS))
    manual_seed(fresh)
    return fresh


def initial_seed():
    """The seed the generator last started from (torch.initial_seed)."""
    return _seed


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
