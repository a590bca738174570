"""The Tensor's methods that mirror functions (x.sum(), x.masked_fill(...)): PyTorch's
names and arguments, each one line over ``ember.ops``, in a base class of Tensor.

They take NumPy's ``axis``/``keepdims`` and PyTorch's ``dim``/``keepdim`` alike (see
ember.ops); where the two libraries differ the method is PyTorch's (x.split(2) gives
parts of 2, x.repeat(2, 1) tiles, x.max(dim=1) gives (values, indices)).
"""

import math

import numpy as np

from . import dtypes as dt
from .errors import RangeError, refuses_none
from .shapes import normalize_axis, size_of


class Count(int):
    """``x.size``: the element count (the Array API's and NumPy's attribute), which, called,
    is PyTorch's ``x.size()``: the shape, or one axis's length."""

    def __new__(cls, shape):
        count = super().__new__(cls, size_of(shape))
        count.shape = shape
        return count

    def __call__(self, dim=None):
        if dim is None:
            return self.shape
        return self.shape[normalize_axis("size", dim, len(self.shape), self.shape)]


def _times(o, alpha):
    """PyTorch's ``alpha`` of add and sub: the other operand scaled."""
    return o if alpha == 1 else o * alpha


def _varargs(args):
    return tuple(args[0]) if len(args) == 1 and isinstance(args[0], (tuple, list)) else args


class Methods:
    __slots__ = ()

    # -- reductions and scans (axis or dim) ---------------------------------------------
    def sum(self, *a, **k): return _ops.sum(self, *a, **k)
    def mean(self, *a, **k): return _ops.mean(self, *a, **k)
    def var(self, *a, **k): return _ops.var(self, *a, **k)
    def std(self, *a, **k): return _ops.std(self, *a, **k)
    def max(self, *a, **k): return _ops.max(self, *a, **k)
    def min(self, *a, **k): return _ops.min(self, *a, **k)
    def amax(self, *a, **k): return _ops.amax(self, *a, **k)
    def amin(self, *a, **k): return _ops.amin(self, *a, **k)
    def argmax(self, *a, **k): return _ops.argmax(self, *a, **k)
    def argmin(self, *a, **k): return _ops.argmin(self, *a, **k)
    def logsumexp(self, *a, **k): return _ops.logsumexp(self, *a, **k)
    def prod(self, *a, **k): return _ops.prod(self, *a, **k)
    def cumsum(self, *a, **k): return _ops.cumsum(self, *a, **k)
    def cumprod(self, *a, **k): return _ops.cumprod(self, *a, **k)
    def cummax(self, *a, **k): return _ops.cummax(self, *a, **k)
    def cummin(self, *a, **k): return _ops.cummin(self, *a, **k)
    def logcumsumexp(self, *a, **k): return _ops.logcumsumexp(self, *a, **k)
    def count_nonzero(self, *a, **k): return _ops.count_nonzero(self, *a, **k)
    def nansum(self, *a, **k): return _ops.nansum(self, *a, **k)
    def nanmean(self, *a, **k): return _ops.nanmean(self, *a, **k)
    def diff(self, *a, **k): return _ops.diff(self, *a, **k)
    def sort(self, *a, **k): return _ops.sort(self, *a, **k)
    def argsort(self, *a, **k): return _ops.argsort(self, *a, **k)
    def topk(self, *a, **k): return _ops.topk(self, *a, **k)
    def kthvalue(self, *a, **k): return _ops.kthvalue(self, *a, **k)
    def median(self, *a, **k): return _ops.median(self, *a, **k)
    def nanmedian(self, *a, **k): return _ops.nanmedian(self, *a, **k)
    def quantile(self, *a, **k): return _ops.quantile(self, *a, **k)
    def nanquantile(self, *a, **k): return _ops.nanquantile(self, *a, **k)
    def mode(self, *a, **k): return _ops.mode(self, *a, **k)
    def msort(self): return _ops.msort(self)
    def unique(self, *a, **k): return _ops.unique(self, *a, **k)
    def unique_consecutive(self, *a, **k): return _ops.unique_consecutive(self, *a, **k)
    def histc(self, *a, **k): return _ops.histc(self, *a, **k)
    def any(self, *a, **k): return _ops.any(self, *a, **k)
    def all(self, *a, **k): return _ops.all(self, *a, **k)
    def softmax(self, *a, **k): return _ops.softmax(self, *a, **k)
    def log_softmax(self, *a, **k): return _ops.log_softmax(self, *a, **k)
    def norm(self, p=2, dim=None, keepdim=False): return _ops.norm(self, p, dim, keepdim)

    # -- elementwise --------------------------------------------------------------------
    def exp(self): return _ops.exp(self)
    def expm1(self): return _ops.expm1(self)
    def log(self): return _ops.log(self)
    def log1p(self): return _ops.log1p(self)
    def sign(self): return _ops.sign(self)
    def floor(self): return _ops.floor(self)
    def ceil(self): return _ops.ceil(self)
    def trunc(self): return _ops.trunc(self)
    def round(self, decimals=0): return _ops.round(self, decimals)
    def sqrt(self): return _ops.sqrt(self)
    def rsqrt(self): return _ops.rsqrt(self)
    def square(self): return _ops.square(self)
    def reciprocal(self): return _ops.reciprocal(self)
    def abs(self): return _ops.abs(self)
    def neg(self): return _ops.neg(self)
    def sin(self): return _ops.sin(self)
    def cos(self): return _ops.cos(self)
    def tanh(self): return _ops.tanh(self)
    def atan(self): return _ops.atan(self)
    def asin(self): return _ops.asin(self)
    def acos(self): return _ops.acos(self)
    def erf(self): return _ops.erf(self)
    def erfc(self): return _ops.erfc(self)
    def erfinv(self): return _ops.erfinv(self)
    def lgamma(self): return _ops.lgamma(self)
    def digamma(self): return _ops.digamma(self)
    def polygamma(self, n): return _ops.polygamma(n, self)
    def mvlgamma(self, p): return _ops.mvlgamma(self, p)
    def i0(self): return _ops.i0(self)
    def igamma(self, other): return _ops.igamma(self, other)
    def igammac(self, other): return _ops.igammac(self, other)
    def frexp(self): return _ops.frexp(self)
    def nextafter(self, other): return _ops.nextafter(self, other)
    def gcd(self, other): return _ops.gcd(self, other)
    def lcm(self, other): return _ops.lcm(self, other)
    def fix(self): return _ops.trunc(self)
    def absolute(self): return _ops.abs(self)
    def negative(self): return _ops.neg(self)
    def sigmoid(self): return _ops.sigmoid(self)
    def relu(self): return _ops.relu(self)
    def clip(self, min=None, max=None): return _ops.clip(self, min, max)  # noqa: A002
    clamp = clip
    def clamp_min(self, min): return _ops.clip(self, min, None)  # noqa: A002
    def clamp_max(self, max): return _ops.clip(self, None, max)  # noqa: A002
    def add(self, o, alpha=1): return _ops.add(self, _times(o, alpha))
    def sub(self, o, alpha=1): return _ops.sub(self, _times(o, alpha))
    def mul(self, o): return _ops.mul(self, o)
    def div(self, o, rounding_mode=None): return _ops.div(self, o, rounding_mode)
    def pow(self, o): return _ops.pow(self, o)
    def fmod(self, o): return _ops.fmod(self, o)
    def remainder(self, o): return _ops.remainder(self, o)
    def floor_divide(self, o): return _ops.floor_divide(self, o)
    def maximum(self, o): return _ops.maximum(self, o)
    def minimum(self, o): return _ops.minimum(self, o)
    def atan2(self, o): return _ops.atan2(self, o)
    def hypot(self, o): return _ops.hypot(self, o)
    def logaddexp(self, o): return _ops.logaddexp(self, o)
    def lerp(self, end, weight): return _ops.lerp(self, end, weight)
    def copysign(self, o): return _ops.copysign(self, o)
    def signbit(self): return _ops.signbit(self)
    def eq(self, o): return _ops.eq(self, o)
    def ne(self, o): return _ops.ne(self, o)
    def lt(self, o): return _ops.lt(self, o)
    def le(self, o): return _ops.le(self, o)
    def gt(self, o): return _ops.gt(self, o)
    def ge(self, o): return _ops.ge(self, o)
    def logical_not(self): return _ops.logical_not(self)
    def where(self, condition, other): return _ops.where(condition, self, other)
    def masked_fill(self, mask, value): return _ops.masked_fill(self, mask, value)
    def isnan(self): return _ops.isnan(self)
    def logit(self, eps=None): return _ops.logit(self, eps)
    def xlogy(self, other): return _ops.xlogy(self, other)
    def frac(self): return _ops.frac(self)
    def sgn(self): return _ops.sgn(self)
    def heaviside(self, values): return _ops.heaviside(self, values)
    def sinc(self): return _ops.sinc(self)
    def deg2rad(self): return _ops.deg2rad(self)
    def rad2deg(self): return _ops.rad2deg(self)
    def fliplr(self): return _ops.fliplr(self)
    def flipud(self): return _ops.flipud(self)
    def rot90(self, k=1, dims=(0, 1)): return _ops.rot90(self, k, dims)
    def kron(self, other): return _ops.kron(self, other)
    def cross(self, other, dim=None): return _ops.cross(self, other, dim)
    def bincount(self, weights=None, minlength=0): return _ops.bincount(self, weights, minlength)
    @refuses_none
    def expand_as(self, other): return _ops.broadcast_to(self, other.shape)
    @refuses_none
    def view_as(self, other): return _ops.reshape(self, other.shape)
    def isinf(self): return _ops.isinf(self)
    def isposinf(self): return _ops.isposinf(self)
    def isneginf(self): return _ops.isneginf(self)
    def isfinite(self): return _ops.isfinite(self)
    def nan_to_num(self, nan=0.0, posinf=None, neginf=None):
        return _ops.nan_to_num(self, nan, posinf, neginf)
    def isclose(self, o, rtol=1e-05, atol=1e-08, equal_nan=False):
        return _ops.isclose(self, o, rtol, atol, equal_nan)
    def allclose(self, o, rtol=1e-05, atol=1e-08, equal_nan=False):
        return _ops.allclose(self, o, rtol, atol, equal_nan)

    # -- products -----------------------------------------------------------------------
    def matmul(self, o): return _ops.matmul(self, o)
    def mm(self, o): return _ops.mm(self, o)
    def bmm(self, o): return _ops.bmm(self, o)
    def dot(self, o): return _ops.dot(self, o)
    def outer(self, o): return _ops.outer(self, o)
    def det(self): return _ops.det(self)
    def logdet(self): return _ops.logdet(self)
    def slogdet(self): return _ops.slogdet(self)
    def inverse(self): return _ops.inverse(self)
    def pinverse(self, rcond=1e-15): return _ops.pinverse(self, rcond)
    def matrix_exp(self): return _ops.matrix_exp(self)
    def cholesky_solve(self, L, upper=False): return _ops.cholesky_solve(self, L, upper)
    def cholesky_inverse(self, upper=False): return _ops.cholesky_inverse(self, upper)

    # -- movement -----------------------------------------------------------------------
    def reshape(self, *shape): return _ops.reshape(self, _varargs(shape))

    def view(self, *shape):
        """reshape, or given one dtype, the bits read as it (ember.bitcast), as PyTorch's."""
        from .dtypes import is_dtype_spec
        if len(shape) == 1 and is_dtype_spec(shape[0]):
            return _ops.bitcast(self, shape[0])
        return _ops.reshape(self, _varargs(shape))
    def permute(self, *axes): return _ops.permute(self, _varargs(axes))
    def transpose(self, a=-2, b=-1): return _ops.transpose(self, a, b)
    def t(self): return self if self.ndim < 2 else _ops.transpose(self, 0, 1)
    def movedim(self, source, destination): return _ops.movedim(self, source, destination)
    def expand(self, *shape): return _ops.broadcast_to(self, _varargs(shape))
    def squeeze(self, *a, **k): return _ops.squeeze(self, *a, **k)
    def unsqueeze(self, *a, **k): return _ops.unsqueeze(self, *a, **k)
    def flatten(self, start=0, end=-1): return _ops.flatten(self, start, end)
    def flip(self, *a, **k): return _ops.flip(self, *a, **k)
    def roll(self, shifts, dims=None): return _ops.roll(self, shifts, dims)
    def tril(self, diagonal=0): return _ops.tril(self, diagonal)
    def triu(self, diagonal=0): return _ops.triu(self, diagonal)
    def split(self, split_size, dim=0): return _ops.split(self, split_size, dim=dim)
    def chunk(self, chunks, dim=0): return _ops.chunk(self, chunks, dim)
    # PyTorch's "unsafe" forms skip its view-aliasing checks; ember's pieces are values
    unsafe_split, unsafe_chunk = split, chunk
    def unsafe_split_with_sizes(self, split_sizes, dim=0): return _ops.split(self, list(split_sizes), dim)
    def unbind(self, dim=0): return _ops.unbind(self, dim)

    def repeat(self, *sizes):
        """x tiled ``sizes[i]`` times along each axis (PyTorch's repeat; numpy.tile)."""
        sizes = _varargs(sizes)
        if len(sizes) < self.ndim:
            from .errors import ShapeError
            raise ShapeError(f"repeat: {len(sizes)} repetitions for {self.ndim} axes; give at "
                             f"least one per axis")
        return _ops.tile(self, sizes)
    def repeat_interleave(self, repeats, dim=None):
        return _ops.repeat_interleave(self, repeats, dim)
    def gather(self, dim, index): return _ops.gather(self, dim, index)
    def nonzero(self, as_tuple=False): return _ops.nonzero(self, as_tuple)
    def scatter_add(self, dim, index, src): return _ops.scatter_add(self, dim, index, src)

    def scatter(self, dim, index, src=None, value=None, reduce=None):
        return _ops.scatter(self, dim, index, src, value, reduce)

    def scatter_reduce(self, dim, index, src, reduce, include_self=True):
        return _ops.scatter_reduce(self, dim, index, src, reduce, include_self)
    def index_fill(self, dim, index, value): return _ops.index_fill(self, dim, index, value)
    def index_copy(self, dim, index, source): return _ops.index_copy(self, dim, index, source)

    def index_add(self, dim, index, source, alpha=1):
        return _ops.index_add(self, dim, index, source, alpha)
    def clone(self): return _ops.clone(self)

    def contiguous(self):
        """The tensor itself: ember's tensors are values, with no layout to make dense."""
        return self

    # -- facts and new tensors like this one --------------------------------------------
    def dim(self): return len(self.shape)
    def numel(self): return int(self.size)
    @refuses_none
    def type_as(self, other): return self.to(dtype=other.dtype)
    def new_zeros(self, *shape): return self.new_full(_varargs(shape), 0)
    def new_ones(self, *shape): return self.new_full(_varargs(shape), 1)
    def new_empty(self, *shape): return self.new_full(_varargs(shape), 0)

    def new_full(self, shape, fill_value):
        """A tensor of ``shape`` filled with ``fill_value``, of this one's dtype and backend."""
        from .creation import full
        return full(shape, fill_value, self.dtype, self._backend)

    def new_tensor(self, data):
        from .creation import tensor
        return tensor(data, self.dtype, self._backend)

    def cpu(self):
        """This tensor in host memory: on the numpy backend."""
        return self.to("numpy")

    def cuda(self, device=None):
        """This tensor on an NVIDIA GPU: the cupy backend (``device`` an index, or
        "cuda:1"); where CuPy cannot run, the BackendError says why."""
        return self.to(cuda_backend(device))

    def is_contiguous(self, memory_format=None):
        """True: ember's tensors are values, with no layout to be strided."""
        return True

    def stride(self, dim=None):
        """The strides of this shape laid out densely, row-major (what is_contiguous says)."""
        strides, step = [], 1
        for n in reversed(self.shape):
            strides.append(step)
            step *= max(n, 1)
        strides = tuple(reversed(strides))
        return strides if dim is None else strides[dim]

    def element_size(self): return self.dtype.itemsize
    itemsize = property(element_size)
    nbytes = property(lambda self: self.dtype.itemsize * int(self.size))
    def nelement(self): return int(self.size)
    def ndimension(self): return len(self.shape)
    @refuses_none
    def reshape_as(self, other): return _ops.reshape(self, other.shape)

    def is_signed(self):
        return not (self.dtype.is_unsigned or self.dtype.is_bool)

    def polygamma_(self, n): return self.copy_(_ops.polygamma(n, self))
    def trace(self): return _ops.trace(self)
    real = property(lambda self: _ops.real(self))
    imag = property(lambda self: _ops.imag(self))
    mH = property(lambda self: _ops.conj(self.mT) if self.dtype.is_complex else self.mT)
    H = property(lambda self: _ops.conj(self.T) if self.dtype.is_complex else self.T)
    retains_grad = property(lambda self: bool(self._retain))
    def byte(self): return self.to(dtype="uint8")
    def char(self): return self.to(dtype="int8")
    def short(self): return self.to(dtype="int16")
    def cfloat(self): return self.to(dtype="complex64")
    def cdouble(self): return self.to(dtype="complex128")
    def split_with_sizes(self, split_sizes, dim=0): return _ops.split(self, list(split_sizes), dim)
    def cumsum_(self, dim): return self.copy_(_ops.cumsum(self, dim))
    def cumprod_(self, dim): return self.copy_(_ops.cumprod(self, dim))

    def unfold(self, dimension, size, step):
        """Every window of ``size`` elements along ``dimension``, ``step`` apart, as a new
        last axis (torch.Tensor.unfold); the windows are gathered, so the gradient sums
        back over overlaps."""
        import numpy as np
        from .creation import tensor
        from .errors import ShapeError
        from .ops.movement import gather
        from .shapes import normalize_axis
        dim = normalize_axis("unfold", dimension, max(self.ndim, 1), self.shape)
        length = self.shape[dim] if self.ndim else 1
        if size > length or size < 0 or step <= 0:
            raise ShapeError(f"unfold: {size} elements every {step} do not fit in {length} "
                             f"along axis {dim}")
        count = (length - size) // step + 1
        # (count, size) positions, in range by construction: gathered with no host check
        index = np.arange(count)[:, None] * step + np.arange(size)[None, :]
        index = tensor(index, dtype=self._backend.default_int, backend=self._backend)
        x = self if self.ndim else self.reshape(1)
        return _ops.movedim(gather(x, dim, index), dim + 1, -1)

    # -- filling in place from ember's generator (initialization code's idioms) ----------
    def uniform_(self, from_=0.0, to=1.0):
        from .creation import uniform
        return self.copy_(uniform(from_, to, self.shape, self.dtype, self._backend))

    def normal_(self, mean=0.0, std=1.0):
        from .creation import normal
        return self.copy_(normal(mean, std, self.shape, self.dtype, self._backend))

    def exponential_(self, lambd=1.0):
        from .creation import rand
        u = rand(*self.shape, dtype=self.dtype, backend=self._backend)
        return self.copy_(-_ops.log1p(-u) / lambd)

    def bernoulli_(self, p=0.5):
        from .creation import rand
        if isinstance(p, (int, float)) and not 0 <= p <= 1:
            raise RangeError(f"bernoulli_: p must be a probability in [0, 1], got {p}")
        return self.copy_(rand(*self.shape, dtype=self.dtype, backend=self._backend) < p)

    def random_(self, from_=0, to=None):
        """Integers uniform in [from_, to) (to None: from 0 to from_ if given alone, else
        up to the dtype's largest integer a float holds exactly), as torch.Tensor.random_."""
        from .creation import randint
        if to is None:
            top = (2 ** (dt.finfo(self.dtype).nmant + 1) if self.dtype.is_float else
                   int(np.iinfo(self.dtype.np).max) + 1)
            from_, to = (0, from_) if from_ else (0, top)
        return self.copy_(randint(from_, to, self.shape, backend=self._backend))

    def log_normal_(self, mean=1.0, std=2.0):
        from .creation import normal
        return self.copy_(_ops.exp(normal(mean, std, self.shape, self.dtype, self._backend)))

    def cauchy_(self, median=0.0, sigma=1.0):
        from .creation import rand
        u = rand(*self.shape, dtype=self.dtype, backend=self._backend)
        return self.copy_(median + sigma * _ops.tan(math.pi * (u - 0.5)))

    def geometric_(self, p):
        """The number of Bernoulli(p) trials to the first success (1, 2, ...)."""
        from .creation import rand
        u = rand(*self.shape, dtype=dt.float32 if not self.dtype.is_float else self.dtype,
                 backend=self._backend)
        return self.copy_(_ops.ceil(_ops.log1p(-u) / math.log1p(-p)))

    def bernoulli(self, p=None):
        """0 or 1 drawn with this tensor's values as probabilities (or ``p``)."""
        from .creation import bernoulli, full
        return bernoulli(self if p is None else full(self.shape, p, self.dtype, self._backend))

    def multinomial(self, num_samples, replacement=False):
        from .creation import multinomial
        return multinomial(self, num_samples, replacement)

    def addbmm(self, batch1, batch2, *, beta=1, alpha=1):
        """beta * self + alpha * the sum over the batch of batch1 @ batch2."""
        return self * beta + _ops.matmul(batch1, batch2).sum(0) * alpha

    def sum_to_size(self, *size):
        """Summed over the axes that broadcasting ``size`` to this shape would expand."""
        from .ops._util import unbroadcast
        size = tuple(size[0]) if len(size) == 1 and not isinstance(size[0], int) else size
        return unbroadcast(self, size)

    @refuses_none
    def masked_scatter(self, mask, source):
        """This tensor with the positions where ``mask`` (broadcast) holds taken, in order,
        from ``source``'s first elements, as torch.Tensor.masked_scatter."""
        from .errors import ShapeError
        mask = _ops.broadcast_to(mask, self.shape)
        count = int(mask.sum().item())
        flat = source.reshape(-1)
        if flat.shape[0] < count:
            raise ShapeError(f"masked_scatter: the mask takes {count} elements, source has "
                             f"{flat.shape[0]}")
        order = _ops.cumsum(mask.reshape(-1).to(dtype=self._backend.default_int), 0) - 1
        picked = _ops.take(flat, _ops.clip(order, 0, max(count - 1, 0)))
        return _ops.where(mask, picked.reshape(self.shape).to(dtype=self.dtype), self)

    def index_put(self, indices, values, accumulate=False):
        """This tensor with ``values`` at the index tensors ``indices`` (a tuple, one per
        leading axis), added where ``accumulate``, as torch.Tensor.index_put."""
        from .ops._util import as_tensor
        key = tuple(as_tensor(i, "index_put", like=self) for i in indices)
        if not accumulate:                      # a new tensor: it differentiates
            return _ops.setitem(self, key, values)
        # repeated positions each add: index_add over the indexed axes flattened
        lead, rest = self.shape[:len(key)], self.shape[len(key):]
        key = _ops.broadcast_tensors(*key)
        flat = None
        for i, n in zip(key, lead):
            i = _ops.remainder(i, n)            # negative indices count from the end
            flat = i if flat is None else flat * n + i
        values = _ops.broadcast_to(as_tensor(values, "index_put", like=self),
                                   flat.shape + rest)
        table = self.reshape((-1,) + rest)
        return _ops.index_add(table, 0, flat.reshape(-1),
                              values.reshape((-1,) + rest)).reshape(self.shape)

    def index_put_(self, indices, values, accumulate=False):
        return self.copy_(self.index_put(indices, values, accumulate))

    def detach_(self):
        """This tensor cut from the graph that made it, in place."""
        self._ctx, self.requires_grad = None, False
        return self

    # ember's tensors hold no lazy conjugate or negative bits, so these resolve to themselves
    def resolve_conj(self): return self
    def resolve_neg(self): return self
    def is_conj(self): return False
    def is_neg(self): return False
    def narrow_copy(self, dim, start, length): return _ops.narrow(self, dim, start, length)

    @property
    def is_cuda(self):
        return self._backend.name == "cupy"

    @property
    def is_cpu(self):
        return self._backend.name == "numpy"

    def get_device(self):
        """-1 for host memory (NumPy), else the device's index, as PyTorch's."""
        _, _, index = str(self.device).partition(":")
        return -1 if self.is_cpu else int(index or 0)

    def fill_diagonal_(self, fill_value, wrap=False):
        """The main diagonal (every index equal; a tall matrix's repeating every n + 1
        rows with ``wrap``) set to fill_value, as torch.Tensor.fill_diagonal_."""
        from .creation import arange
        from .errors import ShapeError
        if self.ndim < 2 or (self.ndim > 2 and len(set(self.shape)) != 1):
            raise ShapeError(f"fill_diagonal_: needs a matrix or a tensor with all sides "
                             f"equal, got shape {self.shape}")
        rows = [arange(n, backend=self._backend) for n in self.shape]
        if self.ndim == 2:
            r, c = rows[0].reshape(-1, 1), rows[1].reshape(1, -1)
            n = self.shape[1]
            mask = (r % (n + 1) == c) if wrap else (r == c)
            if not wrap:
                mask = _ops.logical_and(mask, r < min(self.shape))
        else:
            mask = None
            for k in range(1, self.ndim):
                shape_a = [1] * self.ndim
                shape_a[0] = self.shape[0]
                shape_b = [1] * self.ndim
                shape_b[k] = self.shape[k]
                eq = rows[0].reshape(shape_a) == rows[k].reshape(shape_b)
                mask = eq if mask is None else _ops.logical_and(mask, eq)
        return self.copy_(_ops.where(mask, fill_value, self))

    # -- in place (rebinding this tensor, as x += y does) ------------------------------
    def add_(self, o, alpha=1): return self._inplace(_ops.add, _times(o, alpha), "+=")
    def sub_(self, o, alpha=1): return self._inplace(_ops.sub, _times(o, alpha), "-=")
    def mul_(self, o): return self._inplace(_ops.mul, o, "*=")
    def div_(self, o): return self._inplace(_ops.div, o, "/=")
    def zero_(self): return self.copy_(0)
    def fill_(self, value): return self.copy_(value)

    def clamp_(self, min=None, max=None): return self.copy_(_ops.clip(self, min, max))  # noqa: A002

    def scatter_(self, dim, index, src=None, value=None, reduce=None):
        return self.copy_(_ops.scatter(self, dim, index, src, value, reduce))

    def scatter_add_(self, dim, index, src):
        return self.copy_(_ops.scatter_add(self, dim, index, src))

    def scatter_reduce_(self, dim, index, src, reduce, include_self=True):
        return self.copy_(_ops.scatter_reduce(self, dim, index, src, reduce, include_self))

    def index_fill_(self, dim, index, value):
        return self.copy_(_ops.index_fill(self, dim, index, value))

    def index_add_(self, dim, index, source, alpha=1):
        return self.copy_(_ops.index_add(self, dim, index, source, alpha))

    def index_copy_(self, dim, index, source):
        return self.copy_(_ops.index_copy(self, dim, index, source))

    def masked_fill_(self, mask, value): return self.copy_(_ops.masked_fill(self, mask, value))



def _delegate(name, target):
    """A method calling ``target`` (an ember.ops name, or "module:name" for ember's
    other modules) with the tensor first."""
    module, _, attr = target.rpartition(":")

    def method(self, *args, **kwargs):
        if module:
            import importlib
            fn = getattr(importlib.import_module(f"ember.{module}"), attr)
        else:
            fn = getattr(_ops, attr)
        return fn(self, *args, **kwargs)
    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"PyTorch's Tensor.{name}: ember.{target.replace(':', '.')} of this tensor."
    return method


def _delegate_inplace(name, target):
    """``name`` ending in _: ``target``'s result written into this tensor (copy_)."""
    out_of_place = _delegate(name, target)

    def method(self, *args, **kwargs):
        return self.copy_(out_of_place(self, *args, **kwargs))
    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"In place: {out_of_place.__doc__}"
    return method


def _reshape_inplace(name, target):
    """``name`` ending in _ that changes the shape (squeeze_, t_): this tensor takes
    ``target``'s result, shape and all. Refused where copy_ is (in autograd), and while
    ember.compile records (a compiled call's state keeps its shape)."""
    out_of_place = _delegate(name, target)

    def method(self, *args, **kwargs):
        from . import dispatch
        from .compile import CompileError, is_compiling
        from .errors import MutationError
        if self._in_autograd(None):
            raise MutationError(f"{name} on a tensor that takes part in autograd; write "
                                f"x = x.{name[:-1]}(...) instead, or call it under ember.no_grad()")
        if is_compiling():
            raise CompileError(f"{name} changes a tensor's shape in place, which a compiled "
                               f"function cannot replay; write x = x.{name[:-1]}(...)")
        out = out_of_place(self, *args, **kwargs)
        self.shape = out.shape
        dispatch.rebind(self, dispatch.read(out))
        return self
    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"In place, shape and all: {out_of_place.__doc__}"
    return method


#: PyTorch's Tensor methods that change a tensor's shape in place
RESHAPED_INPLACE = {"squeeze_": "squeeze", "unsqueeze_": "unsqueeze", "t_": "t",
                    "transpose_": "transpose", "swapaxes_": "swapaxes", "swapdims_": "swapaxes"}

#: PyTorch's Tensor methods that are one of ember's functions with the tensor first
DELEGATED = {
    "absolute": "abs", "arccos": "acos", "arcsin": "asin", "arctan": "atan", "arctan2": "atan2",
    "arccosh": "acosh", "arcsinh": "asinh", "arctanh": "atanh", "acosh": "acosh",
    "asinh": "asinh", "atanh": "atanh", "cosh": "cosh", "sinh": "sinh", "tan": "tan",
    "log2": "log2", "log10": "log10", "exp2": "exp2", "ldexp": "ldexp", "fmax": "fmax",
    "fmin": "fmin", "logaddexp2": "logaddexp2", "index_select": "index_select",
    "narrow": "narrow", "take": "take", "take_along_dim": "take_along_axis", "select": "select",
    "diag": "diag", "diagonal": "diagonal", "diag_embed": "diag_embed", "tile": "tile",
    "swapaxes": "swapaxes", "swapdims": "swapaxes", "moveaxis": "movedim", "ravel": "ravel",
    "tensor_split": "tensor_split", "hsplit": "hsplit", "vsplit": "vsplit", "dsplit": "dsplit",
    "logical_and": "logical_and", "logical_or": "logical_or", "logical_xor": "logical_xor",
    "bitwise_and": "bitwise_and", "bitwise_or": "bitwise_or", "bitwise_xor": "bitwise_xor",
    "bitwise_not": "bitwise_not", "bitwise_left_shift": "bitwise_left_shift",
    "bitwise_right_shift": "bitwise_right_shift", "conj": "conj", "inner": "inner",
    "vdot": "vdot", "mv": "mv", "addmm": "addmm", "addmv": "addmv", "addr": "addr",
    "baddbmm": "baddbmm", "addcmul": "addcmul", "addcdiv": "addcdiv", "dist": "dist",
    "renorm": "renorm", "aminmax": "aminmax", "corrcoef": "corrcoef", "cov": "cov",
    "equal": "equal", "isreal": "isreal", "divide": "div", "true_divide": "div",
    "multiply": "mul", "greater": "gt", "greater_equal": "ge", "less": "lt", "less_equal": "le",
    "not_equal": "ne", "masked_select": "masked_select", "broadcast_to": "broadcast_to",
    "diagonal_scatter": "diagonal_scatter", "select_scatter": "select_scatter",
    "slice_scatter": "slice_scatter", "histogram": "histogram", "erfc": "erfc",
    "subtract": "pytorch_names:subtract", "float_power": "pytorch_names:float_power",
    "positive": "pytorch_names:positive", "argwhere": "pytorch_names:argwhere",
    "unflatten": "pytorch_names:unflatten", "diagflat": "pytorch_names:diagflat",
    "adjoint": "pytorch_names:adjoint", "is_floating_point": "pytorch_names:is_floating_point",
    "is_complex": "pytorch_names:is_complex", "is_nonzero": "pytorch_names:is_nonzero",
    "is_same_size": "pytorch_names:is_same_size", "matrix_power": "linalg:matrix_power",
    "cholesky": "linalg:cholesky", "lu": "pytorch_names:lu", "lu_solve": "pytorch_names:lu_solve",
    "geqrf": "pytorch_names:geqrf", "orgqr": "pytorch_names:orgqr", "ormqr": "pytorch_names:ormqr",
    "svd": "pytorch_names:svd", "qr": "pytorch_names:qr", "ger": "pytorch_names:ger",
    "triangular_solve": "pytorch_names:triangular_solve", "conj_physical": "conj",
    "xlogy": "xlogy", "logit": "logit", "angle": "angle",
    "stft": "stft:stft", "istft": "stft:istft",
    "index_reduce": "pytorch_names:index_reduce", "put": "pytorch_names:put",
}
#: and their in-place forms (the result copied into the tensor, as x += y rebinds it)
DELEGATED_INPLACE = {
    **{f"{n}_": n for n in (
        "abs", "acos", "asin", "atan", "atan2", "acosh", "asinh", "atanh", "cos", "cosh", "sin",
        "sinh", "tan", "tanh", "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt",
        "rsqrt", "square", "reciprocal", "sigmoid", "relu", "neg", "sign", "sgn", "floor",
        "ceil", "round", "trunc", "frac", "erf", "erfc", "erfinv", "lgamma", "digamma", "i0",
        "igamma", "igammac",
        "pow", "fmod", "remainder", "lerp", "addcmul", "addcdiv", "copysign", "hypot",
        "logit", "xlogy", "nan_to_num", "heaviside", "ldexp", "deg2rad", "rad2deg",
        "logical_and", "logical_or", "logical_xor", "logical_not", "bitwise_and",
        "bitwise_or", "bitwise_xor", "bitwise_not", "tril", "triu", "sinc", "gcd", "lcm",
        "nextafter", "floor_divide", "renorm")},
    "clamp_min_": "pytorch_names:clamp_min", "clamp_max_": "pytorch_names:clamp_max",
    "absolute_": "abs", "negative_": "neg", "fix_": "trunc", "arccos_": "acos",
    "arcsin_": "asin", "arctan_": "atan", "multiply_": "mul", "divide_": "div",
    "true_divide_": "div", "subtract_": "pytorch_names:subtract", "clip_": "clip",
    "eq_": "eq", "ne_": "ne", "lt_": "lt", "le_": "le", "gt_": "gt", "ge_": "ge",
    "mvlgamma_": "mvlgamma", "addmm_": "addmm", "addmv_": "addmv", "addr_": "addr",
    "baddbmm_": "baddbmm", "arccosh_": "acosh", "arcsinh_": "asinh", "arctanh_": "atanh",
    "arctan2_": "atan2", "greater_": "gt", "greater_equal_": "ge", "less_": "lt",
    "less_equal_": "le", "not_equal_": "ne", "float_power_": "pytorch_names:float_power",
    "bitwise_left_shift_": "bitwise_left_shift", "bitwise_right_shift_": "bitwise_right_shift",
    "masked_scatter_": "pytorch_names:masked_scatter", "conj_physical_": "conj",
    "index_reduce_": "pytorch_names:index_reduce", "put_": "pytorch_names:put",
}

#: ember.ops, which builds on Tensor (so on this module): ember.tensor hands it over with
#: use() once both are imported
_ops = None


def use(ops):
    global _ops
    _ops = ops


for _name, _target in DELEGATED.items():
    if not hasattr(Methods, _name):
        setattr(Methods, _name, _delegate(_name, _target))
for _name, _target in DELEGATED_INPLACE.items():
    if not hasattr(Methods, _name):
        setattr(Methods, _name, _delegate_inplace(_name, _target))
for _name, _target in RESHAPED_INPLACE.items():
    if not hasattr(Methods, _name):
        setattr(Methods, _name, _reshape_inplace(_name, _target))


def cuda_backend(device=None):
    """The backend spec of PyTorch's CUDA device ``device`` (None, an index, "cuda" or
    "cuda:N"): ember's cupy backend."""
    if device is None:
        return "cupy"
    if isinstance(device, int) and not isinstance(device, bool):
        return f"cupy:{device}"
    name, _, index = str(device).partition(":")
    if name not in ("cuda", "cupy"):
        raise ValueError(f"cuda: the device is an index or 'cuda:N', got {device!r}")
    return f"cupy:{index}" if index else "cupy"
