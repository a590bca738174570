"""The backend interface: a deliberately small table of primitives.

A backend works on its own opaque buffers. The core has checked every shape,
axis and dtype before a primitive is called, so a backend never validates user
input; it only computes. Each buffer knows its own shape and dtype (as a NumPy
array does); binary primitives broadcast their operands, which always share
one dtype. Primitives never modify an input: ember tensors are values, so a
backend is free to return views.

The table (every name must be a method of a backend class):

transfer, creation
    from_numpy(array) -> buf          a C-contiguous array of a supported dtype
    to_numpy(buf) -> ndarray          a fresh array the caller may modify
    full(shape, value, dtype) -> buf
elementwise unary, same dtype out
    neg exp log sin cos tanh sqrt abs sign
elementwise binary, broadcasting, operands of one dtype
    add sub mul div pow maximum minimum
    eq ne lt le gt ge                 -> bool buffers
    where(cond, a, b)                 cond is bool; all three broadcast
    cast(x, dtype)
reductions over a sorted tuple of distinct axes (possibly empty)
    sum(x, axes, keepdims) max(...) min(...)
    argmax(x, axis, keepdims)         first maximum, as default_int
movement
    reshape(x, shape) permute(x, axes) expand(x, shape) flip(x, axes)
    slice(x, starts, stops, steps)    positive steps, in-range bounds
    pad(x, widths, value)             widths: ((before, after),) per axis, >= 0
    concatenate(xs, axis)
    gather(x, axis, index)            numpy.take; index of any shape, in range
    scatter_add(shape, axis, index, src)  zeros(shape) + src at index (gather's adjoint)
linear algebra
    matmul(a, b)                      (..., m, k) @ (..., k, n), batch axes broadcast
complex parts, only where ``dtypes`` holds complex64 or complex128 (COMPLEX_PRIMITIVES)
    real(x) imag(x)                   -> the parts, in the real dtype of x's parts
    conj(x)
    abs(x) of a complex x             -> its modulus, in the real dtype of its parts

Optional fast paths are attributes that default to None; the core then uses
its composed fallback written on the primitives above.
"""

from . import dtypes as dt

PRIMITIVES = (
    "from_numpy to_numpy full "
    "neg exp log sin cos tanh sqrt abs sign "
    "add sub mul div pow maximum minimum eq ne lt le gt ge where cast "
    "sum max min argmax "
    "reshape permute expand flip slice pad concatenate gather scatter_add matmul"
).split()

COMPLEX_PRIMITIVES = ("real", "imag", "conj")

#: computations every backend inherits from Backend, through a host copy
HOST_ROUTINES = ("lapack", "fft")

FAST_PATHS = ("fast_addmm", "fast_relu", "fast_relu_grad", "fast_sigmoid", "fast_hardswish",
              "fast_hardsigmoid", "fast_gelu_tanh",
              "fast_gelu_tanh_grad", "fast_log1p", "fast_expm1", "fast_softmax", "fast_log_softmax",
              "fast_standardize", "fast_standardize_grad", "fast_erf", "fast_gelu",
              "fast_gelu_grad", "fast_im2col", "fast_col2im", "fast_conv3x3",
              "fast_conv2d", "fast_depthwise_conv2d",
              "fast_max_pool2d", "fast_max_unpool2d",
              "fast_cumsum", "fast_argsort", "fast_rounding", "fast_fmod", "fast_trunc_div", "fast_remainder", "fast_floor_divide",
              "fast_copysign",
              "fast_bitwise_and", "fast_bitwise_or", "fast_bitwise_xor", "fast_bitwise_not",
              "fast_left_shift", "fast_right_shift", "fast_sgd_step", "fast_adam_step", "fast_attention", "fast_attention_grad",
              "fast_fused", "fast_capture")


class Backend:
    """Base class of every backend; a subclass fills in the primitive table."""

    #: registry name, as EMBER_BACKEND and ``tensor.to`` spell it
    name = "?"
    #: the DTypes this backend stores; others are refused by the core
    dtypes = frozenset()
    #: the integer dtype of Python ints, integer sums, argmax and the index buffers
    #: given to gather and scatter_add: int64, or int32 where a backend has no int64
    default_int = dt.int64
    #: True when buffers are NumPy arrays in host memory (np.asarray(t) can be a view)
    host_memory = False
    #: True where the device flushes subnormal floats to zero (GPUs' fast modes, some
    #: drivers): the suite then skips its subnormal edge values and says why
    flushes_subnormals = False
    #: {op name: ULPs} where the device's builtins promise less than the op table's edge
    #: bound (WGSL: exp within 3 + 2|x| ULP); the suite then holds the op to this bound
    ulp_bounds = {}
    #: the most bytes one tensor may hold (a buffer binding's limit), or None: the core
    #: then splits work that would make a larger one where it can (conv2d's windows
    #: a share of the batch at a time)
    max_tensor_bytes = None

    #: (c, a, b, relu=False) -> a @ b + c for a (m, k), b (k, n) and c broadcastable to
    #: (m, n), each sum rounded as matmul then add round it: a GEMM with its bias added on
    #: the product (Linear, a convolution's im2col GEMM), no second output array; with
    #: ``relu``, then max(., 0) as fast_relu takes it (F.conv2d_relu)
    fast_addmm = None
    fast_relu = None         # (x) -> maximum(x, 0)
    fast_relu_grad = None    # (g, x) -> g where x > 0, else 0 (x of g's dtype and shape)
    fast_sigmoid = None      # (x) -> 1 / (1 + exp(-x))
    #: (x) -> max(x, -3) min(max(x + 3, 0), 6) / 6 and (x) -> min(max(x + 3, 0), 6) / 6,
    #: each step rounded to x's dtype, so that the values are the composed op's to the bit
    fast_hardswish = None
    fast_hardsigmoid = None
    fast_gelu_tanh = None    # (x) -> GELU's tanh form (ember.ops.activation.GeluTanh)
    fast_gelu_tanh_grad = None  # (g, x) -> g * its derivative (GeluTanhGrad)
    fast_log1p = None        # (x) -> log(1 + x), within a few ULP near 0
    fast_expm1 = None        # (x) -> exp(x) - 1, within a few ULP near 0
    fast_softmax = None      # (x, axis) -> softmax along one axis
    fast_log_softmax = None  # (x, axis) -> log_softmax along one axis
    #: (x, axes, eps) -> (y, rstd): y = (x - mean) * rstd over ``axes`` (a tuple), rstd =
    #: 1 / sqrt(var + eps) with keepdims (ember.ops.reduce.Standardize), exact for
    #: spreads whose squares overflow or underflow; x float32 or float64
    fast_standardize = None
    #: (g, y, rstd, axes) -> rstd (g - mean(g) - y mean(g y)) over ``axes``
    fast_standardize_grad = None
    #: (x, axis) -> the sums along ``axis`` up to each position, each within a few
    #: roundings of its exact value (ember.ops.scan.cumsum composes a log-depth scan)
    fast_cumsum = None
    #: (x, descending) -> the stable order of each row of 2-d x along its last axis, in
    #: default_int: ties in index order, -0 equal to +0, NaN after every number (before
    #: them when descending); x is any ordered dtype but bool (ember.ops.sort composes a
    #: bitonic network where a backend has none)
    fast_argsort = None
    #: (x, mode) -> x rounded to integral values, mode one of ember.ops.rounding.MODES
    #: (floor, ceil, trunc, round: halves to even), zeros keeping x's sign, inf and NaN
    #: passing through; x a float (ember.ops.rounding composes it of casts elsewhere)
    fast_rounding = None
    #: (x, y) -> C's fmod of float32 or float64 x and y, broadcast: x - trunc(x / y) y
    #: exactly, with x's sign (NaN where x is inf or NaN or y is 0 or NaN; x where y is
    #: inf); the core computes it on a host copy where a backend has none
    fast_fmod = None
    #: (x, y) -> C's integer x / y (rounded toward zero), broadcast, of one integer dtype:
    #: 0 where y is 0, the dtype's least value for that value / -1 (it wraps); the core
    #: computes it on a host copy where a backend has none
    fast_trunc_div = None
    #: (x, y) -> Python's x % y and x // y in one pass (ember.ops.division composes them
    #: of fast_fmod and fast_trunc_div where a backend has none), floats or integers of
    #: one dtype, broadcast, each as ember.remainder and ember.floor_divide define it
    fast_remainder = fast_floor_divide = None
    #: (x, y) -> |x| with y's sign bit, x and y float32 or float64, broadcast (-0 and NaN
    #: carry theirs); the core computes it on a host copy where a backend has none
    fast_copysign = None
    #: (x, y) -> x & y, x | y, x ^ y and (x) -> ~x of integer buffers (one dtype), broadcast
    fast_bitwise_and = fast_bitwise_or = fast_bitwise_xor = fast_bitwise_not = None
    #: (x, y) -> x << y and x >> y (arithmetic where signed), wrapping to x's dtype; where
    #: y < 0 or y >= its bits, 0 (and -1 for x >> y of a negative x), as NumPy's; the core
    #: computes these on a host copy where a backend has none
    fast_left_shift = fast_right_shift = None
    #: (x) -> erf(x), x float32 or float64, within 3 ULP of float32 (ember.ops.special)
    fast_erf = None
    #: (x) -> the exact GELU, x Phi(x), within 8 ULP of float32; -inf gives NaN
    fast_gelu = None
    #: (g, x) -> g (Phi(x) + x phi(x)), x's factor held to +-100 (ember.ops.special)
    fast_gelu_grad = None
    #: (x, kernel, stride, dilation) -> the windows of an (already padded) NCHW x,
    #: contiguous, as (C, kh, kw, N, OH, OW): a conv is one GEMM over it, a pool a
    #: reduction along the window axes
    fast_im2col = None
    #: (cols, shape, kernel, stride, dilation) -> im2col's adjoint: the windows summed
    #: back into zeros of the NCHW ``shape``
    fast_col2im = None
    #: (x, w, b, padding, residual=None, relu=False) -> the convolution (cross-
    #: correlation) of NCHW x with (O, C, 3, 3) w at stride 1, dilation 1, one group, with
    #: (ph, pw) zeros around x, plus the (O,) bias b (None: none), as NCHW (any strides):
    #: a backend's own algorithm (NumPy: Winograd's F(2x2, 3x3)), each value within a few
    #: roundings of the direct sum and its non-finite values the direct sum's; conv2d
    #: calls it for float32 and float64, 16 channels or more in and out. F.conv2d_relu
    #: passes an NCHW ``residual`` of the output's shape to add, then ``relu`` to take
    #: max(., 0) as fast_relu does: each rounded as the separate ops round it
    fast_conv3x3 = None
    #: (x, w, b, stride, padding, dilation, residual=None, relu=False) -> the convolution
    #: of NCHW x with (O, C, kh, kw) w, one group, (ph, pw) zeros around x, plus the bias
    #: b, plus the residual, then the relu (as fast_conv3x3's), as NCHW: the direct sum
    #: of each window, for float32 and float64, when conv2d's result needs no gradient
    #: (NumPy: a GEMM per few images over windows in a buffer it reuses, where im2col
    #: copies the whole batch's windows, which the weight gradient reads again)
    fast_conv2d = None
    #: (x, w, b, stride, padding, dilation) -> the depthwise convolution of NCHW x with
    #: (C, 1, kh, kw) w (one group per channel, C groups), (ph, pw) zeros around x, plus
    #: the (C,) bias b (None: none), as NCHW: the direct sum of each window, then the
    #: bias, for float32 and float64
    fast_depthwise_conv2d = None
    #: (x, kernel, stride, dilation) -> (out, index): the max of each window of an
    #: (already padded) NCHW x, and, as int32, the offset i * kw + j in its window of
    #: the first element equal to it (of the first NaN, where a NaN is the max)
    fast_max_pool2d = None
    #: (g, index, kernel, stride, dilation, shape) -> max pooling's adjoint: each
    #: element of g added at its window's ``index`` in zeros of the NCHW ``shape``
    fast_max_unpool2d = None
    #: (q, k, v, mask, keep, scale, causal) -> (state, out): attention's forward, q (..., L,
    #: E), k (..., S, E), v (..., S, Ev) with broadcast batch axes; mask None, bool (True
    #: attends) or float (added), broadcastable to (..., L, S), and when ``causal`` the
    #: lower-triangular mask (keys past a query may be skipped); keep None or the dropout
    #: mask already scaled by 1 / (1 - p). A row that may attend nowhere gives zeros.
    #: ``state`` is whatever the backend's backward needs (flash attention: each row's
    #: log-sum-exp).
    fast_attention = None
    #: (g, q, k, v, mask, keep, scale, causal, state, out) -> (dq, dk, dv), each over the
    #: broadcast batch axes (the core sums them down to each input's shape)
    fast_attention_grad = None
    #: whether fast_attention and its grad take float16 and bfloat16 inputs as they are,
    #: computing in float32 inside and giving results in the inputs' dtype (a GPU kernel
    #: that reads 16-bit values moves half the bytes); else the core casts the inputs of
    #: 16-bit attention to float32 and the output back
    fast_attention_16 = False
    #: (p, g, buf, lr, momentum, dampening, weight_decay, nesterov) -> (p, buf), the
    #: SGD rule as PyTorch documents it; buf is None on the first step (and is
    #: returned as None when momentum is 0). Fast paths return new buffers. lr (and
    #: Adam's step) is a number, or a 0-d buffer of p's dtype where a compiled or
    #: capturable step keeps it in a tensor.
    fast_sgd_step = None
    #: (p, g, m, v, vmax, lr, beta1, beta2, eps, weight_decay, decoupled, step)
    #: -> (p, m, v, vmax), Adam (decoupled: AdamW); vmax is None without amsgrad
    fast_adam_step = None
    #: (ember.graph.FusedSpec) -> a function of the spec's input buffers returning its
    #: output buffers: a run of elementwise primitives compiled into one kernel
    fast_fused = None
    #: (ember.graph.Graph, aliases, fresh) -> a function (backend, input buffers) -> output
    #: buffers that replays the whole graph as one recorded launch (CUDA graphs), or None
    #: where the graph cannot be captured; aliases: (input, output) positions of state
    #: that the launch may update in place; fresh: output positions that must be new
    #: buffers on every call (the function's results)
    fast_capture = None

    @classmethod
    def availability(cls):
        """(True, "") when usable here, else (False, a reason a user can act on)."""
        return True, ""

    @classmethod
    def devices(cls):
        """Human-readable names of the devices, index 0 first."""
        return ["default"]

    @classmethod
    def missing_primitives(cls):
        """Names of the table that this class does not define."""
        table = PRIMITIVES + list(COMPLEX_PRIMITIVES if cls.dtypes & set(dt.COMPLEX) else ())
        return [p for p in table if not callable(getattr(cls, p, None))]

    def __init__(self, index=0):
        self.index = index
        self.device = f"{self.name}:{index}" if index else self.name

    def __repr__(self):
        return f"<ember backend {self.device}>"

    def info(self):
        """Extra lines for ``ember info`` (platform, limits...)."""
        return []

    def synchronize(self):
        """Wait until queued work is done (for timing); nothing to wait for on the host."""

    def set_num_threads(self, n):
        """Use at most ``n`` host threads for this backend's own work (ember.set_num_threads,
        torch.set_num_threads). A backend whose work runs on a device has no host threads
        of its own to set, and keeps this default, which sets nothing."""

    # -- compiled replay -------------------------------------------------------------
    def plan_function(self, name):
        """What a compiled Plan calls for primitive or fast path ``name``: the method
        itself, or a leaner one where the backend wraps each call in a setting that
        plan_scope then holds for the whole replay instead."""
        return getattr(self, name)

    def plan_scope(self, run):
        """``run`` (a Plan's function of its input buffers) as a replay calls it: here
        the backend may set up once what it would for each call (NumPy: its error state)."""
        return run

    # -- host computations --------------------------------------------------------------
    def lapack(self, routine, params, *bufs):
        """ember.ops.lapack's ``routine`` (one of its ROUTINES, given ``params``) on host
        copies of ``bufs``, the result back on this backend: no backend has a LAPACK of
        its own. A compiled call records it as one step and replays the round trip."""
        import numpy as np
        from .ops.lapack import ROUTINES
        host = [self.to_numpy(b) for b in bufs]
        with np.errstate(all="ignore"):
            value = ROUTINES[routine](*host, *params)
        return self.from_numpy(np.asarray(value, dtype=host[0].dtype, order="C"))

    def fft(self, kind, axes, norm, last, buf):
        """ember.ops.fft's ``kind`` transform over ``axes`` with NumPy's pocketfft on a host
        copy, the result back on this backend; recorded and replayed as lapack is."""
        from .ops.fft import transform
        return self.from_numpy(transform(kind, axes, norm, last, self.to_numpy(buf)))

    # -- DLPack interchange (defaults copy through the host) ----------------------
    def dlpack_device(self, buf):
        """(DLPack device type, device id) that dlpack(buf) will export: the host, (1, 0)."""
        return (1, 0)

    def dlpack(self, buf):
        """An object with __dlpack__ for buf; array backends return the buffer itself (no copy)."""
        return self.to_numpy(buf)

    def from_dlpack(self, obj):
        """(buffer, shape, NumPy dtype) from any __dlpack__ object; here through a host copy."""
        import numpy as np
        arr = np.ascontiguousarray(np.from_dlpack(obj))
        if dt.from_numpy_dtype(arr.dtype, "the DLPack buffer") not in self.dtypes and \
                arr.dtype.kind in "iu":     # an integer type it lacks: its own, as tensor() does
            from .creation import check_fits
            check_fits("from_dlpack", arr, self.default_int)
            arr = arr.astype(self.default_int.np)
        return self.from_numpy(arr), arr.shape, arr.dtype
