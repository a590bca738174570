"""Every tensor operation, one module per family. The functions that take axes take
NumPy's names for them (``axis``, ``keepdims``) and PyTorch's (``dim``, ``keepdim``) as
keywords; ops call one another directly, without that translation."""

from ._util import rounds_once, torch_axes
from .arithmetic import (addcdiv, addcmul, cosh, deg2rad, diff, exp2, fmax, fmin, frac, heaviside,
                         hypot, ldexp, lerp, log10, log2, logaddexp, logaddexp2, logit, rad2deg,
                         reciprocal, rsqrt, sgn, sinc, sinh, square, tan, xlogy)
from .attention import scaled_dot_product_attention
from .activation import log_sigmoid, log_softmax, relu, sigmoid, softmax, softplus
from .bitwise import (bitcast, bitwise_and, bitwise_left_shift, bitwise_not, bitwise_or,
                      bitwise_right_shift, bitwise_xor)
from .division import floor_divide, fmod, gcd, lcm, remainder
from .einsum import einsum
from .elementwise import (abs, add, cast, clip, cos, div, eq, exp, ge, gt, le, log, logical_and,
                          logical_not, logical_or, logical_xor, lt, maximum, minimum, mul, ne,
                          neg, pow, sign, sin, sqrt, sub, tanh, to_backend, where, log1p, expm1,
                          real, imag, conj)
from .gamma import digamma, lgamma, mvlgamma, polygamma
from .incomplete_gamma import igamma, igammac
from .bessel import i0
from .complex_parts import angle, complex, polar, view_as_complex, view_as_real
from .inverse import acos, acosh, asin, asinh, atan, atan2, atanh
from .indexing import (gather, getitem, index_select, masked_fill, masked_select, nonzero, setitem,
                       take, take_along_axis, unravel_index)
from .lapack import (cholesky_inverse, cholesky_solve, det, inverse, logdet, matrix_exp,
                     pinverse, slogdet)
from . import eig, householder, ldl, lu_decomposition  # noqa: F401  (torch.linalg's; host routines)
from .linalg import (addmm, addmv, addr, baddbmm, bmm, cdist, cross, dot, inner, kron, matmul, mm,
                     mv, outer, tensordot, trace, vdot)
from .movement import (atleast_1d, atleast_2d, atleast_3d, broadcast_to, chunk, clone,
                       concatenate, diag, diagonal, flatten, flip, fliplr, flipud, meshgrid,
                       movedim, narrow, pad, permute, repeat_interleave, reshape, roll, rot90,
                       split, squeeze, stack, swapaxes, tile, transpose, tril, triu, unbind,
                       unsqueeze)
from .nonfinite import (allclose, equal, isclose, isfinite, isinf, isnan, isneginf, isposinf,
                        isreal, nan_to_num)
from .reduce import (all, amax, amin, any, argmax, argmin, count_nonzero, dist, logsumexp, max,
                     mean, min, nanmean, nansum, norm, renorm, std, sum, var)
from .rounding import ceil, floor, round, trunc
from .scan import (cummax, cummin, cumprod, cumsum, cumulative_trapezoid, logcumsumexp, prod,
                   trapezoid)
from .scatter import (bincount, index_add, index_copy, index_fill, scatter, scatter_add,
                      scatter_reduce)
from .signs import copysign, signbit
from .sort import (argsort, bucketize, isin, kthvalue, median, mode, msort, nanmedian, nanquantile,
                   quantile, searchsorted, sort, topk, unique, unique_consecutive)
from .special import erf, erfc, erfinv
from .stacking import (block_diag, broadcast_shapes, broadcast_tensors, cartesian_prod,
                       column_stack, diag_embed, diagonal_scatter, dsplit, dstack, hsplit, hstack,
                       ravel, select, select_scatter, slice_scatter, t, tensor_split, vsplit,
                       vstack)
from .statistics import (aminmax, corrcoef, cov, histc, histogram, histogramdd, std_mean,
                         var_mean)
from .representation import frexp, nextafter

(all, amax, amin, any, argmax, argmin, argsort, concatenate, count_nonzero, cummax, cummin,
 cumprod, cumsum, diff, flip, kthvalue, log_softmax, logcumsumexp, logsumexp, mean, nanmean,
 nansum, prod, softmax, sort, squeeze, stack, std, sum, take_along_axis, topk, unsqueeze,
 var) = map(torch_axes, (
    all, amax, amin, any, argmax, argmin, argsort, concatenate, count_nonzero, cummax, cummin,
    cumprod, cumsum, diff, flip, kthvalue, log_softmax, logcumsumexp, logsumexp, mean, nanmean,
    nansum, prod, softmax, sort, squeeze, stack, std, sum, take_along_axis, topk, unsqueeze,
    var))

__all__ = ["abs", "acos", "acosh", "add", "addcdiv", "addcmul", "addmm", "addmv", "addr", "all",
           "allclose", "amax", "amin", "aminmax", "angle", "any", "argmax", "argmin", "argsort", "asin",
           "asinh", "atan", "atan2", "atanh", "atleast_1d", "atleast_2d", "atleast_3d", "baddbmm",
           "bincount", "bitcast", "bitwise_and", "bitwise_left_shift", "bitwise_not", "bitwise_or",
           "bitwise_right_shift", "bitwise_xor", "block_diag", "bmm", "broadcast_shapes",
           "broadcast_tensors", "broadcast_to", "bucketize", "cartesian_prod", "cast", "cdist",
           "ceil", "cholesky_inverse", "cholesky_solve", "chunk", "clip", "clone", "column_stack",
           "complex", "concatenate", "conj", "copysign", "corrcoef", "cos", "cosh", "count_nonzero", "cov",
           "cross", "cummax", "cummin", "cumprod", "cumsum", "cumulative_trapezoid", "deg2rad",
           "det", "diag", "diag_embed", "diagonal", "diagonal_scatter", "diff", "digamma", "dist",
           "div", "dot", "dsplit", "dstack", "einsum", "eq", "equal", "erf", "erfc", "erfinv",
           "exp", "exp2", "expm1", "flatten", "flip", "fliplr", "flipud", "floor", "floor_divide",
           "fmax", "fmin", "fmod", "frac", "frexp", "gather", "gcd", "ge", "getitem", "gt",
           "heaviside", "histc", "histogram", "histogramdd", "hsplit", "hstack", "hypot", "i0", "igamma",
           "igammac", "imag",
           "index_add", "index_copy", "index_fill", "index_select", "inner", "inverse", "isclose",
           "isfinite", "isin", "isinf", "isnan", "isneginf", "isposinf", "isreal", "kron",
           "kthvalue", "lcm", "ldexp", "le", "lerp", "lgamma", "log", "log10", "log1p", "log2",
           "log_sigmoid", "log_softmax", "logaddexp", "logaddexp2", "logcumsumexp", "logdet",
           "logical_and", "logical_not", "logical_or", "logical_xor", "logit", "logsumexp", "lt",
           "masked_fill", "masked_select", "matmul", "matrix_exp", "max", "maximum", "mean",
           "median", "meshgrid", "min", "minimum", "mm", "mode", "movedim", "msort", "mul", "mv",
           "mvlgamma", "nan_to_num", "nanmean", "nanmedian", "nanquantile", "nansum", "narrow",
           "ne", "neg", "nextafter", "nonzero", "norm", "outer", "pad", "permute", "pinverse",
           "polar", "polygamma", "pow", "prod", "quantile", "rad2deg", "ravel", "real", "reciprocal",
           "relu", "remainder", "renorm", "repeat_interleave", "reshape", "roll", "rot90", "round",
           "rsqrt", "scaled_dot_product_attention", "scatter", "scatter_add", "scatter_reduce",
           "searchsorted", "select", "select_scatter", "setitem", "sgn", "sigmoid", "sign",
           "signbit", "sin", "sinc", "sinh", "slice_scatter", "slogdet", "softmax", "softplus",
           "sort", "split", "sqrt", "square", "squeeze", "stack", "std", "std_mean", "sub", "sum",
           "swapaxes", "t", "take", "take_along_axis", "tan", "tanh", "tensor_split", "tensordot",
           "tile", "to_backend", "topk", "trace", "transpose", "trapezoid", "tril", "triu",
           "trunc", "unbind", "unique", "unique_consecutive", "unravel_index", "unsqueeze", "var",
           "var_mean", "vdot", "view_as_complex", "view_as_real", "vsplit", "vstack", "where", "xlogy"]
