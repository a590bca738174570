"""Every tensor operation, one module per family."""

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
from .indexing import getitem, index_add, scatter_add, setitem, take_along_axis
from .linalg import matmul
from .movement import (broadcast_to, concatenate, flatten, flip, pad, permute, repeat_interleave,
                       reshape, split, squeeze, stack, transpose, unsqueeze)
from .reduce import all, any, argmax, argmin, logsumexp, max, mean, min, std, sum, var
from .rounding import ceil, floor, round, trunc
from .scan import cumprod, cumsum, prod
from .signs import copysign, signbit
from .sort import argsort, kthvalue, searchsorted, sort, topk

__all__ = [
    "abs", "acos", "acosh", "add", "all", "any", "asin", "asinh", "atan", "atan2", "atanh", "argmax", "argmin", "argsort", "bitcast", "bitwise_and", "bitwise_left_shift", "bitwise_not", "bitwise_or", "bitwise_right_shift", "bitwise_xor", "ceil", "floor", "round", "trunc", "kthvalue", "searchsorted", "sort", "topk", "broadcast_to", "cast", "clip", "copysign", "signbit",
    "concatenate", "cos", "cumprod", "cumsum", "div", "einsum", "floor_divide", "fmod", "remainder", "eq", "exp", "flatten", "flip", "ge", "getitem", "gt", "le", "setitem",
    "expm1", "log", "log1p", "log_sigmoid", "log_softmax", "softplus", "logical_and", "logical_not", "logical_or", "logical_xor",
    "logsumexp", "lt", "matmul", "max", "maximum", "mean", "min", "minimum", "mul", "ne",
    "neg", "pad", "permute", "pow", "prod", "relu", "repeat_interleave", "reshape",
    "scatter_add", "index_add", "scaled_dot_product_attention",
    "sigmoid", "sign", "sin", "softmax",
    "split", "sqrt", "squeeze", "stack", "std", "sub", "sum", "take_along_axis", "tanh", "to_backend",
    "transpose", "unsqueeze", "var", "where", "real", "imag", "conj",
]
