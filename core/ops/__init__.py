"""Every tensor operation, one module per family. The functions that take axes take
NumPy's names for them (``axis``, ``keepdims``) and PyTorch's (``dim``, ``keepdim``) as
keywords; ops call one another directly, without that translation."""

from ._util import torch_axes
from .arithmetic import hypot, lerp, logaddexp, reciprocal, rsqrt, square
from .attention import scaled_dot_product_attention
from .activation import log_sigmoid, log_softmax, relu, sigmoid, softmax, softplus
from .bitwise import (bitcast, bitwise_and, bitwise_left_shift, bitwise_not, bitwise_or,
                      bitwise_right_shift, bitwise_xor)
from .division import floor_divide, fmod, remainder
from .einsum import einsum
from .elementwise import (abs, add, cast, clip, cos, div, eq, exp, ge, gt, le, log, logical_and,
                          logical_not, logical_or, logical_xor, lt, maximum, minimum, mul, ne,
                          neg, pow, sign, sin, sqrt, sub, tanh, to_backend, where, log1p, expm1,
                          real, imag, conj)
from .inverse import acos, acosh, asin, asinh, atan, atan2, atanh
from .indexing import (gather, getitem, index_add, index_select, masked_fill, masked_select,
                       nonzero, scatter_add, setitem, take_along_axis)
from .linalg import addmm, baddbmm, bmm, cdist, dot, matmul, mm, outer, trace
from .movement import (broadcast_to, chunk, clone, concatenate, diag, diagonal, flatten, flip,
                       movedim, narrow, pad, permute, repeat_interleave, reshape, roll, split,
                       squeeze, stack, swapaxes, tile, transpose, tril, triu, unbind, unsqueeze)
from .nonfinite import (allclose, isclose, isfinite, isinf, isnan, isneginf, isposinf,
                        nan_to_num)
from .reduce import (all, amax, amin, any, argmax, argmin, logsumexp, max, mean, min, norm, std,
                     sum, var)
from .rounding import ceil, floor, round, trunc
from .scan import cumprod, cumsum, prod
from .signs import copysign, signbit
from .sort import (argsort, bucketize, kthvalue, median, quantile, searchsorted, sort, topk,
                   unique)
from .special import erf

(all, amax, amin, any, argmax, argmin, argsort, concatenate, cumprod, cumsum, flip, kthvalue,
 log_softmax, logsumexp, mean, prod, softmax, sort, squeeze, stack, std, sum, take_along_axis, topk,
 unsqueeze, var) = map(torch_axes, (
    all, amax, amin, any, argmax, argmin, argsort, concatenate, cumprod, cumsum, flip, kthvalue,
    log_softmax, logsumexp, mean, prod, softmax, sort, squeeze, stack, std, sum, take_along_axis,
    topk, unsqueeze, var))

__all__ = ["abs", "acos", "acosh", "add", "addmm", "all", "allclose", "amax", "amin", "any",
           "argmax", "argmin", "argsort", "asin", "asinh", "atan", "atan2", "atanh", "baddbmm",
           "bitcast", "bitwise_and", "bitwise_left_shift", "bitwise_not", "bitwise_or",
           "bitwise_right_shift", "bitwise_xor", "bmm", "broadcast_to", "bucketize", "cast",
           "cdist", "ceil", "chunk", "clip", "clone", "concatenate", "conj", "copysign", "cos",
           "cumprod", "cumsum", "diag", "diagonal", "div", "dot", "einsum", "eq", "erf", "exp",
           "expm1", "flatten", "flip", "floor", "floor_divide", "fmod", "gather", "ge", "getitem",
           "gt", "hypot", "imag", "index_add", "index_select", "isclose", "isfinite", "isinf",
           "isnan", "isneginf", "isposinf", "kthvalue", "le", "lerp", "log", "log1p", "log_sigmoid",
           "log_softmax", "logaddexp", "logical_and", "logical_not", "logical_or", "logical_xor",
           "logsumexp", "lt", "masked_fill", "masked_select", "matmul", "max", "maximum", "mean",
           "median", "min", "minimum", "mm", "movedim", "mul", "nan_to_num", "narrow", "ne", "neg",
           "nonzero", "norm", "outer", "pad", "permute", "pow", "prod", "quantile", "real",
           "reciprocal", "relu", "remainder", "repeat_interleave", "reshape", "roll", "round",
           "rsqrt", "scaled_dot_product_attention", "scatter_add", "searchsorted", "setitem",
           "sigmoid", "sign", "signbit", "sin", "softmax", "softplus", "sort", "split", "sqrt",
           "square", "squeeze", "stack", "std", "sub", "sum", "swapaxes", "take_along_axis", "tanh",
           "tile", "to_backend", "topk", "trace", "transpose", "tril", "triu", "trunc", "unbind",
           "unique", "unsqueeze", "var", "where"]
