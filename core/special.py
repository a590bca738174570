"""``ember.special``: every name and argument of torch.special, so that a port of PyTorch
code keeps its calls. The functions live in ember.ops (gamma, incomplete_gamma, bessel,
bessel_jy, bessel_k, airy, polynomials, special, arithmetic); each runs on every backend
and differentiates, through its derivative's formula (the polynomials through their
recurrence)."""

from . import ops
from .ops.airy import ai as airy_ai
from .ops.arithmetic import entr, spherical_bessel_j0, xlog1py
from .ops.bessel import i0, i0e, i1, i1e
from .ops.bessel_jy import j0, j1, y0, y1
from .ops.bessel_k import k0, k0e, k1, k1e
from .ops.gamma import digamma, mvlgamma, polygamma, zeta
from .ops.polynomials import *  # noqa: F401,F403  (torch.special's twelve polynomials)
from .ops.polynomials import __all__ as _polynomials
from .ops.special import erf, erfc, erfcx, erfinv, log_ndtr, ndtr, ndtri

__all__ = ["airy_ai", "bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1", "digamma", "entr", "erf",
           "erfc", "erfcx", "erfinv", "exp2", "expit", "expm1", "gammainc", "gammaincc",
           "gammaln", "i0", "i0e", "i1", "i1e", "log1p", "log_ndtr", "log_softmax",
           "logit", "logsumexp", "modified_bessel_i0", "modified_bessel_i1",
           "modified_bessel_k0", "modified_bessel_k1", "multigammaln", "ndtr", "ndtri",
           "polygamma", "psi", "round", "scaled_modified_bessel_k0",
           "scaled_modified_bessel_k1", "sinc", "softmax", "spherical_bessel_j0",
           "xlog1py", "xlogy", "zeta"] + _polynomials

psi = digamma
gammaln = ops.lgamma
gammainc, gammaincc = ops.igamma, ops.igammac
multigammaln = mvlgamma
expit = ops.sigmoid
bessel_j0, bessel_j1, bessel_y0, bessel_y1 = j0, j1, y0, y1
modified_bessel_i0, modified_bessel_i1 = i0, i1
modified_bessel_k0, modified_bessel_k1 = k0, k1
scaled_modified_bessel_k0, scaled_modified_bessel_k1 = k0e, k1e
exp2, expm1, log1p, logit, round, sinc, xlogy = (ops.exp2, ops.expm1, ops.log1p, ops.logit,
                                                 ops.round, ops.sinc, ops.xlogy)


def _as(x, dtype):
    return x if dtype is None else ops.cast(x, dtype)


def softmax(input, dim, *, dtype=None):
    """softmax along ``dim``, computed in ``dtype`` when given (torch.special.softmax)."""
    return ops.softmax(_as(input, dtype), axis=dim)


def log_softmax(input, dim, *, dtype=None):
    """log_softmax along ``dim``, computed in ``dtype`` when given."""
    return ops.log_softmax(_as(input, dtype), axis=dim)


def logsumexp(input, dim, keepdim=False):
    """log sum exp over ``dim``, without overflow."""
    return ops.logsumexp(input, axis=dim, keepdims=keepdim)
