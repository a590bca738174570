"""ember: tensors and autograd on pluggable backends.

The core knows no hardware: backends and everything built on tensors plug in
through the "ember" entry points (see ember.hookspecs).
"""

from .tensor import Tensor, set_printoptions  # first: tensor, autograd and ops import one another in this order
from . import amp, dtypes
from .amp import autocast, get_float32_matmul_precision, set_float32_matmul_precision
from .autograd import Op, enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .func import grad, vmap
from .backend import Backend
from .config import backend, get_backend, get_num_threads, set_backend, set_num_threads
from .compile import CompileError, CompileWarning, before_replay, compile, is_compiling  # noqa: A004
from .dispatch import layer_scope, name_state, state_name
from .graph import Graph
from .creation import (arange, asarray, bernoulli, empty, empty_like, eye, from_dlpack, logspace,
                       from_numpy, full, full_like, is_tensor, linspace, multinomial, normal,
                       numel, ones, ones_like, rand, rand_like, randint, randn, randn_like,
                       randperm, tensor, tril_indices, triu_indices, uniform, zeros,
                       zeros_like)
from .dtypes import (bfloat16, bool_, complex64, complex128, float16, float32,
                     float8_e4m3fn, float8_e4m3fnuz, float8_e5m2, float8_e5m2fnuz,
                     float64, int8, int16, int32, int64, promote, uint8, uint16, uint32, uint64)
from .errors import (AutogradError, BackendError, DataError, DistributedError, DTypeError,
                     EmberError, IndexingError, LinAlgError, MutationError, PluginError,
                     RangeError, SerializationError, ShapeError, StateDictError)
from .ops import *  # noqa: F401,F403  (the operations are the API)
from .ops._util import fast_path
from .ops import __all__ as _ops_all
from .io import load, save
from . import fft, func, linalg, special, utils
from .stft import istft, stft
from .pytorch_names import *  # noqa: F401,F403  (PyTorch's other names)
from .pytorch_names import __all__ as _pytorch_names
from .windows import (bartlett_window, blackman_window, hamming_window, hann_window,
                      kaiser_window)
from .random import get_rng_state, initial_seed, manual_seed, seed, set_rng_state
from .registry import registry

__version__ = "0.1.0"
dtype = dtypes.dtype
cat = concat = concatenate  # noqa: F405
clamp = clip  # noqa: F405
# PyTorch's other names for what ember has
as_tensor, inference_mode, take_along_dim = asarray, no_grad, take_along_axis  # noqa: F405
swapdims = swapaxes  # noqa: F405
divide = true_divide = div  # noqa: F405
moveaxis, row_stack, trapz = movedim, vstack, trapezoid  # noqa: F405

__all__ = [
    "Backend", "CompileError", "CompileWarning", "Graph", "Op", "Tensor", "AutogradError", "BackendError", "DataError", "DistributedError",
    "DTypeError", "EmberError",
    "IndexingError", "LinAlgError", "MutationError", "PluginError", "RangeError", "SerializationError", "ShapeError", "StateDictError",
    "amp", "arange", "as_tensor", "divide", "logspace", "moveaxis", "row_stack", "trapz",
    "true_divide", "asarray", "autocast", "get_float32_matmul_precision",
    "set_float32_matmul_precision", "bernoulli", "empty", "empty_like",
    "from_numpy", "inference_mode", "is_tensor", "multinomial", "numel", "randperm",
    "tril_indices", "triu_indices",
    "swapdims", "take_along_dim", "backend", "before_replay", "bool_", "cat", "clamp", "concat", "compile",
    "is_compiling", "layer_scope", "distributions", "fft", "func", "utils", "istft", "linalg", "special", "stft", "name_state", "state_name", "default_float", "dtype", "dtypes",
    "enable_grad", "set_grad_enabled", "bartlett_window", "blackman_window",
    "hamming_window", "hann_window", "kaiser_window", "eye", "fast_path", "from_dlpack", "float16", "bfloat16", "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz", "float32", "float64", "full", "full_like", "get_backend",
    "get_rng_state", "grad", "vmap", "load", "set_printoptions", "save", "int8", "int16", "int32", "int64", "uint8", "uint16",
    "uint32", "uint64", "complex64", "complex128", "is_grad_enabled", "linspace", "manual_seed",
    "seed", "initial_seed",
    "no_grad", "normal", "ones", "ones_like", "promote", "rand", "rand_like", "randint", "randn",
    "randn_like", "registry", "set_backend", "set_num_threads", "get_num_threads", "set_rng_state", "tensor", "uniform", "zeros",
    "zeros_like",
] + _ops_all + _pytorch_names


def __getattr__(name):
    """ember.distributions and ember.array_api load on first use (time that most programs
    never need), as an attribute too: ``import ember`` then ``ember.array_api`` works;
    a name the core lacks may be a plugin's registered function (ember.conv2d)."""
    if name in ("distributions", "array_api"):
        import importlib
        return importlib.import_module(f".{name}", __name__)
    if name == "default_float":         # set_default_dtype changes it
        return dtypes.default_float
    if not name.startswith("_"):        # a plugin's top-level function (torch.conv2d)
        entry = registry.table("functions").get(name)
        if entry is not None:
            return entry[0]
    raise AttributeError(f"module 'ember' has no attribute {name!r}")
