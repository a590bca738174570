"""PyTorch's paired and matrix statistics over ember's reductions: aminmax, var_mean,
std_mean, cov and corrcoef. Composed of differentiable ops, so they run and
differentiate on every backend."""

import collections

from ..errors import ShapeError
from ._util import as_tensor
from .elementwise import _float_input, clip, sqrt
from .movement import diagonal, reshape, transpose
from .reduce import amax, amin, mean, std, sum as sum_, var

MinMax = collections.namedtuple("MinMax", "min max")


def aminmax(x, *, dim=None, keepdim=False):
    """(min, max) over ``dim`` (all axes when None), as torch.aminmax."""
    return MinMax(amin(x, dim, keepdim), amax(x, dim, keepdim))


def var_mean(x, dim=None, *, correction=1, keepdim=False):
    """(var, mean) over ``dim``, as torch.var_mean (``correction`` 1: unbiased)."""
    return var(x, dim, correction, keepdim), mean(x, dim, keepdim)


def std_mean(x, dim=None, *, correction=1, keepdim=False):
    """(std, mean) over ``dim``, as torch.std_mean."""
    return std(x, dim, correction, keepdim), mean(x, dim, keepdim)


def cov(x, *, correction=1, fweights=None, aweights=None):
    """The covariance matrix of the variables in x's rows over the observations in its
    columns (a 1-D x: one variable, its variance), as torch.cov and numpy.cov: integer
    frequency weights and float observation weights per column, the divisor the weights'
    sum less ``correction`` times sum(w aweights) / sum(w) (or ``correction`` alone)."""
    x = _float_input("cov", as_tensor(x, "cov"))
    if x.ndim > 2:
        raise ShapeError(f"cov: takes a 1-D or 2-D tensor, got shape {x.shape}")
    rows = reshape(x, (1, -1)) if x.ndim < 2 else x
    n = rows.shape[1]
    w = None
    for name, weights in (("fweights", fweights), ("aweights", aweights)):
        if weights is not None:
            weights = as_tensor(weights, "cov", like=x)
            if weights.shape != (n,):
                raise ShapeError(f"cov: {name} must have one entry per observation, shape "
                                 f"({n},), got {weights.shape}")
            weights = weights.to(x.dtype)
            w = weights if w is None else w * weights
    total = sum_(w) if w is not None else n
    average = sum_(rows * w, 1, True) / total if w is not None else mean(rows, 1, True)
    if w is None:
        divisor = n - correction
    elif aweights is None:
        divisor = total - correction
    else:
        a = as_tensor(aweights, "cov", like=x).to(x.dtype)
        divisor = total - correction * sum_(w * a) / total
    centered = rows - average
    weighted = centered * w if w is not None else centered
    out = (weighted @ transpose(centered)) / divisor
    return reshape(out, ()) if x.ndim < 2 else out


def corrcoef(x):
    """Pearson's correlation coefficients of the variables in x's rows, as torch.corrcoef:
    cov / sqrt(var_i var_j), clipped to [-1, 1] (a constant variable gives NaN)."""
    c = cov(x)
    if c.ndim == 0:
        return c / c
    d = sqrt(diagonal(c, 0, -2, -1))
    return clip(c / reshape(d, (-1, 1)) / reshape(d, (1, -1)), -1.0, 1.0)
