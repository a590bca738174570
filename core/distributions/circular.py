"""Distributions of angles, torch.distributions' VonMises: its density, circular
variance and sampler, each kept precise at any concentration, in float32 too.

PyTorch's log-density takes log I0 from a seven-term polynomial fit (1e-7 off, in
float64 too) and subtracts k from k cos(x - loc) + ...; its sampler works in float64,
because Best and Fisher's proposal, written plainly, loses 1 - rho and r - 1 to rounding
(float32 hung below concentration 1e-4). Here log I0(k) is log(i0e(k)) + k with the k
cancelled in the formula, and the sampler's quantities are rearranged so that none
cancels: rho = 2k / (tau + sqrt(2 tau)), 1 - rho from tau - 2k = 1 + 1 / (q + 2k), r - 1 =
(1 - rho)^2 / 2 rho, 1 - f = (r - 1)(1 - z) / (r + z) and the angle 2 asin(sqrt((1 - f) /
2)), so float32 draws at concentration 1e-30 and 1e6 alike."""

import math

from .. import ops
from ..autograd import no_grad
from ..creation import rand
from ..ops.bessel import i0e, i0e_minus_i1e
from .continuous import settled
from .distribution import POSITIVE, REAL, Distribution

#: Best and Fisher's proposals per draw: each is accepted with probability above 0.65,
#: so all 40 fail with probability below 1e-18; that draw then keeps loc
VON_MISES_ROUNDS = 40
LOG_2PI = math.log(2 * math.pi)


class VonMises(Distribution):
    """The von Mises distribution on the circle: exp(k cos(x - loc)) / (2 pi I0(k)), loc an
    angle in radians (any real; values are angles modulo 2 pi) and k = concentration >
    0. Draws lie in [-pi, pi)."""

    arg_constraints = {"loc": REAL, "concentration": POSITIVE}
    support = REAL
    _params = ("loc", "concentration")

    def __init__(self, loc, concentration, validate_args=None):
        self._scalar_parameters(validate_args, loc=loc, concentration=concentration)

    mean = property(lambda self: self.loc * 1.0)
    mode = property(lambda self: self.loc * 1.0)

    @property
    def variance(self):
        """The circular variance 1 - I1(k) / I0(k), from i0e - i1e (the ratio tends to 1:
        1 - ratio cancelled to nothing past k = 1e4 in float32)."""
        k = self.concentration
        return i0e_minus_i1e(k) / i0e(k)

    def log_prob(self, value):
        """-2k sin^2((x - loc) / 2) - log(2 pi i0e(k)): k cos(x - loc) - log I0(k) with its
        two k's cancelled exactly."""
        half = ops.sin((self._value(value) - self.loc) * 0.5)
        k = self.concentration
        return -2.0 * k * half * half - LOG_2PI - ops.log(i0e(k))

    def sample(self, sample_shape=()):
        """Best and Fisher's rejection sampler (1979), rearranged so that nothing
        cancels (see the module), on the device: VON_MISES_ROUNDS proposals, the first
        accepted kept (eagerly, the rounds stop once every draw has one)."""
        shape = self._extended_shape(sample_shape)
        k = ops.broadcast_to(self.concentration, shape)
        loc = ops.broadcast_to(self.loc, shape)
        with no_grad():
            q = ops.hypot(1.0, 2.0 * k)                          # sqrt(1 + 4k^2)
            tau = 1.0 + q
            root = ops.sqrt(2.0 * tau)
            den = tau + root
            rho = 2.0 * k / den
            rest = (1.0 + 1.0 / (q + 2.0 * k) + root) / den      # 1 - rho
            s = rest * rest / (2.0 * rho)                        # r - 1
            ks = rest * rest * den * 0.25                        # k (r - 1), finite at k = 0
            out, done = loc * 0.0, k < 0.0
            for _ in range(VON_MISES_ROUNDS):
                if settled(done):
                    break
                u1, u2, u3 = (rand(*shape, dtype=k.dtype, backend=k.backend) for _ in range(3))
                half = ops.sin(u1 * (math.pi / 2))
                one_minus_z = 2.0 * half * half                  # 1 - cos(pi u1)
                z = 1.0 - one_minus_z
                w = one_minus_z / (1.0 + (1.0 + z) / s)          # 1 - f = s (1 - z) / (r + z)
                c = ks + k * w                                   # k (r - f)
                u2 = ops.clip(u2, 1e-30, None)
                accept = ((c * (2.0 - c) - u2) > 0.0) | (ops.log(c / u2) + 1.0 - c >= 0.0)
                angle = 2.0 * ops.asin(ops.sqrt(ops.clip(w * 0.5, 0.0, 1.0)))
                angle = ops.where(u3 < 0.5, -angle, angle)
                out = ops.where(accept & ~done, angle, out)
                done = done | accept
            return ops.remainder(out + loc + math.pi, 2 * math.pi) - math.pi


__all__ = ["VonMises"]
