"""Device arrays for backends that manage raw buffers (OpenCL, wgpu): a buffer seen
through a shape, element strides and an element offset, so permute, expand, slice and
flip are views that copy nothing."""

import functools
import itertools
import math
import re

import numpy as np

from ember import dtypes as dt, tuning
from ember.backend import Backend
from ember.graph import FusedSpec
from ember.shapes import windows_out


#: the type names (TO, TA, TB, TC) in the backends' elementwise expressions
_TYPE_NAMES = re.compile(r"\bT([OABC])\b")


def saturating_casts(spell):
    """{"cast float <int dtype>": expression} for every integer dtype: ember.cast's float
    to integer conversion, which saturates at the dtype's limits and takes NaN to 0
    (C's cast and WGSL's leave those undefined: x86 gives INT_MIN). ``spell(dtype, top,
    bottom)`` writes one, x >= top (a float) being too large, x <= bottom too small."""
    out = {}
    for d in (dt.int8, dt.int16, dt.int32, dt.int64, dt.uint8, dt.uint16, dt.uint32, dt.uint64):
        info = np.iinfo(d.np)
        out[f"cast float {d.name}"] = spell(d, float(2 ** (d.bits - (not d.is_unsigned))),
                                            float(info.min - 1))
    return out


#: the complex cases each kernel language spells as a call of its own ember_c<name>
#: (kernels/complex.cl, kernels/complex.wgsl)
COMPLEX_CALLS = {
    **{f"{op} complex": f"ember_c{op}(x, y)" for op in ("mul", "div", "pow")},
    **{f"{op} complex": f"ember_c{op.replace('fast_', '')}(x)" for op in (
        "exp", "log", "sqrt", "sin", "cos", "tanh", "sign", "fast_expm1", "fast_log1p")}}


@functools.lru_cache(maxsize=1024)     # an eager op asks for it several times
def c_strides(shape):
    """The element strides of a C-ordered array of ``shape`` (a tuple)."""
    strides, step = [], 1
    for d in reversed(shape):
        strides.append(step)
        step *= d
    return tuple(reversed(strides))


class StridedArray:
    __slots__ = ("buf", "shape", "strides", "offset", "dtype")

    def __init__(self, buf, shape, dtype, strides=None, offset=0):
        self.buf = buf
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self.strides = c_strides(self.shape) if strides is None else tuple(strides)
        self.offset = offset

    @property
    def size(self):
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def contiguous(self):
        return self.strides == c_strides(self.shape) or self.size <= 1

    def view(self, shape, strides, offset):
        return StridedArray(self.buf, shape, self.dtype, strides, offset)

    def __repr__(self):
        return f"StridedArray({self.dtype}{self.shape}, strides={self.strides}, offset={self.offset})"


def int_limits(np_dtype):
    """(lowest, highest) of a bool or integer buffer dtype: the identities of max and min."""
    return (0, 1) if np_dtype == np.bool_ else (np.iinfo(np_dtype).min, np.iinfo(np_dtype).max)


def floating(np_dtype):
    """Whether a buffer's NumPy dtype is a float that kernels compute on (ml_dtypes'
    bfloat16 is of kind V; its 8-bit floats are held as their bits, not computed on)."""
    return np_dtype.kind == "f" and np_dtype.itemsize > 1 or np_dtype == dt.bfloat16.np


#: the NumPy dtypes of the 8-bit floats, which kernels hold as their bits
FLOAT8 = {d.np: d for d in dt.FLOAT8 if d.np is not None}


def float8_bits(value, np_dtype):
    """The bits that hold ``value`` in an 8-bit float buffer (a cast's rounding)."""
    return int(dt.host_array(np.float64(value), FLOAT8[np_dtype]).view(np.uint8))


class KernelLanguage:
    """What the spelling classes of ``_fused_code`` share: buffers that hold each dtype
    as the kernel computes it, so a load reads, a store writes, and nothing rounds
    between ops. A language whose buffers hold a dtype otherwise (OpenCL's 16-bit floats,
    stored narrow; WGSL's bfloat16, held in f32) overrides them."""

    #: a reduction's kernel folds down the columns of a packed matrix, a work-item each
    #: (StridedBackend.reduces_columns), not along its rows
    columns = False

    @staticmethod
    def round(dtype, expr):
        """``expr`` (of compute type) rounded to what ``dtype`` holds."""
        return expr

    @classmethod
    def store(cls, buf, at, value, dtype, accumulate=False):
        """The statement writing ``value`` (plus what is there, when ``accumulate``) to
        element ``at`` of buffer ``buf`` of ``dtype``."""
        if accumulate:
            value = cls.round(dtype, f"{buf}[{at}] + {value}")
        return f"{buf}[{at}] = {value};"


def computed_wide(state=False, indices=()):
    """A primitive from a kernel file (matmul, argmax, gather, scatter_add, pooling,
    attention) on a dtype the backend computes wider (``wide``: its 16-bit floats in
    float32, its 8- and 16-bit integers in int32): run in the wide dtype, its results of
    that dtype rounded (or wrapped) once at the end, as the NumPy backend does, so those
    kernels need no narrow variants. ``state``: the first result is attention's saved
    state, kept wide; ``indices``: the positions of results that are indices (argmax's,
    max pooling's), kept in the index dtype even where it is the wide one (int32 on
    wgpu, where an index past 255 wrapped as a uint8)."""
    keep = set(indices) | ({0} if state else set())

    def wrap(method):
        @functools.wraps(method)
        def run(self, *args):
            narrow = next((a.dtype for a in args if isinstance(a, StridedArray)
                           and a.dtype in self.wide), None)
            if narrow is None:
                return method(self, *args)
            wide = self.wide[narrow]
            out = method(self, *(self.cast(a, wide) if isinstance(a, StridedArray)
                                 and a.dtype == narrow else a for a in args))
            many = isinstance(out, tuple)
            back = [o if not isinstance(o, StridedArray) or o.dtype != wide.np or i in keep
                    else self.cast(o, dt.from_numpy_dtype(narrow))
                    for i, o in enumerate(out if many else (out,))]
            return tuple(back) if many else back[0]
        return run
    return wrap


def by_parts(method):
    """A primitive linear in each array argument (matmul, scatter_add) on complex arrays:
    run on their real and imaginary parts, each result times the power of i its parts
    carry, so that the real kernels serve complex ones (four real GEMMs per complex one)."""
    @functools.wraps(method)
    def run(self, *args):
        at = [i for i, a in enumerate(args) if isinstance(a, StridedArray) and a.dtype.kind == "c"]
        if not at:
            return method(self, *args)
        dtype = args[at[0]].dtype
        sums = [None, None]                  # the real and the imaginary part
        for choice in itertools.product((0, 1), repeat=len(at)):
            parts = list(args)
            for i, imaginary in zip(at, choice):
                parts[i] = self.imag(args[i]) if imaginary else self.real(args[i])
            term, k = method(self, *parts), sum(choice)     # times i ** k
            part, negative = k % 2, k % 4 >= 2
            if sums[part] is None:
                sums[part] = self.neg(term) if negative else term
            else:
                sums[part] = (self.sub if negative else self.add)(sums[part], term)
        return self._ew(self.SPELLING["complex"], dtype, sums)   # i**0 and i**1 both occur
    return run


#: a reduction's work-item folds blocks of this many of its elements, then adds each
#: block's sum to its total with Kahan's compensation (comp keeps what the addition
#: rounded away; none once the total is inf or NaN, where inf - inf would poison it):
#: a float32 sum of 4M values of 0.1 was 1.5e-4 off, now 3e-7 (NumPy's 1.5e-7), and
#: as fast as the plain loop
REDUCE_BLOCK = 32


def work_group(length, most=256):
    """The work-group size of a row reduction: a power of two, up to ``most``, not far
    past the row's length."""
    wg = 1
    while wg < length and wg < most:
        wg *= 2
    return wg


def broadcast_strides(arr, shape):
    """arr's strides seen at ``shape`` (0 along broadcast axes)."""
    lead = len(shape) - arr.ndim
    out = [0] * lead
    for d, s, target in zip(arr.shape, arr.strides, shape[lead:]):
        out.append(0 if d == 1 and target != 1 else s)
    return tuple(out)


def batch_offsets(batch, *parts):
    """Element offsets of each of the broadcast ``batch``'s matrices in each array of
    ``parts``, (its own batch shape, elements a matrix, its first element), flattened
    batch entry by batch entry."""
    count = int(np.prod(batch, dtype=np.int64))
    columns = [np.broadcast_to(np.arange(int(np.prod(own, dtype=np.int64))).reshape(own),
                               batch).reshape(count) * step + start
               for own, step, start in parts]
    return tuple(int(v) for v in np.stack(columns, axis=1).reshape(-1))


def attention_table(batch, arrays):
    """What an attention kernel (opencl's kernels/attention.cl, cupy's
    kernels/attention.cu) finds its rows by: the offsets table, five per entry of the
    broadcast ``batch`` (of q's, k's, v's, mask's and keep's matrices), and the (row,
    column) strides of mask and keep, 0 along an axis they broadcast over. ``arrays``:
    for each of the five packed arrays, (its shape, its first element), or None."""
    parts, strides = [], []
    for x in arrays:
        shape, start = ((), 0) if x is None else x
        shape = (1,) * (len(batch) + 2 - len(shape)) + tuple(shape)
        parts.append((shape[:-2], shape[-2] * shape[-1], start))
        strides.append((shape[-1] if shape[-2] > 1 else 0, 1 if shape[-1] > 1 else 0))
    return batch_offsets(batch, *parts), strides[3:]


#: the elementwise primitives of one and of two operands (``_unary``, ``_binary``)
UNARY = ("real", "imag", "conj", "neg", "exp", "log", "sin", "cos", "tanh", "sqrt", "abs",
         "sign", "fast_relu", "fast_sigmoid", "fast_log1p", "fast_expm1", "fast_erf",
         "fast_gelu", "fast_gelu_tanh", "fast_bitwise_not")
BINARY = ("add", "sub", "mul", "div", "pow", "maximum", "minimum", "eq", "ne", "lt", "le",
          "gt", "ge", "fast_gelu_grad", "fast_gelu_tanh_grad", "fast_fmod", "fast_trunc_div",
          "fast_copysign", "fast_remainder", "fast_floor_divide", "fast_bitwise_and",
          "fast_bitwise_or", "fast_bitwise_xor", "fast_left_shift", "fast_right_shift")


class StridedBackend(Backend):
    """Movement, concatenation, padding and im2col windows as views and strided copies,
    elementwise kernels and reductions from one renderer (``_fused_code``), shared by
    backends whose kernels take (buffer, shape, strides, offset). A subclass supplies
    ``_alloc(shape, np_dtype)`` and ``full``; for the elementwise primitives ``SPELLING``
    (each case's expression in the kernel language; ``_expr`` picks the case),
    ``_language(n, eager, group)`` (the spelling class ``_fused_code`` writes through) and
    ``_compile(spec, exprs, layout, lang, out, accumulate)`` (the kernel around the body,
    returned as its launcher); ``_pool_kernel(name, arrays, dtype, window, sizes)`` (the
    max_pool or max_unpool kernel over packed arrays, output first); for matmul,
    ``_matmul(a, b, m, k, n, batch, count, choice)`` with one of the tilings
    ``_matmul_candidates(dtype, m_tile, n_tile)`` lists (its default first; the tile
    bounds are 4, 8 or 16) and ``tuning_name()``, the device's name in the tuning cache."""

    #: the kernel-language spelling of each elementwise case that ``_expr`` decides: an
    #: expression of x, y, z with TO, TA, TB, TC for the output and input types
    SPELLING = {}
    #: {NumPy dtype: ember dtype} of the dtypes the kernel-file primitives compute wider
    #: (``computed_wide``): 16-bit floats in float32, small integers in int32
    wide = {}
    #: True where one build of many kernels costs about what one costs (pocl: ~0.1 s a
    #: program, each kernel's machine code made at its first launch): an eager op's first
    #: use then builds its every layout at once (``_build_eager``)
    builds_in_batches = False
    #: whether ``_language(n, eager, columns=True)`` spells a reduction folding each column
    #: of a packed matrix in one work-item (then a sum over leading axes reads whole rows
    #: of adjacent columns at once, where the rows path first transposes)
    reduces_columns = False
    #: the most work-items folding one row of a reduction (see work_group)
    reduce_group = 256
    #: below this many elements an eager elementwise kernel with a strided operand (or
    #: output) reads through strides at rank 4 whatever its layout: pocl makes each
    #: kernel's machine code at its first launch (0.1 to 0.2 s on 2 cores), and the
    #: other forms, faster over large tensors, made the op table's checks launch twice
    #: as many kernels. Flat and one-element operands keep their forms without index
    #: arithmetic (a rank-4 index costs three 64-bit divisions an element: the eager
    #: MLP step on opencl took 10 % longer, on wgpu 22 %)
    small_eager = 4096

    def __init__(self, index=0):
        super().__init__(index)
        self._eager = {}     # the compiled kernels of _ew, by what they are built for
        self._choices = {}   # tuned matmul tilings, by dtype and size class

    def _expr(self, name, dtypes, dtype=None):
        """The expression of elementwise primitive ``name`` over inputs of ``dtypes`` (from
        the subclass's SPELLING), and its output dtype. A complex input takes the
        ``"NAME complex"`` spelling where there is one (abs, real and imag give its parts'
        real dtype)."""
        a = np.dtype(dtypes[0])
        kind = "c" if a.kind == "c" else "f" if floating(a) else "b" if a == np.bool_ else "i"
        if name == "cast" and (a in FLOAT8 or dtype.stores_only):
            return self._float8_cast(a, dtype), dtype.np
        if a in FLOAT8 and name != "cast":
            raise TypeError(f"{self.name}: {name} of {a.name}, a dtype that is only stored")
        if name == "cast":     # a conversion with a spelling of its own, else the plain one
            plain = "cast_bool" if dtype is dt.bool_ else "cast"
            if kind == "f" and dtype.is_int:        # saturating, NaN to 0 (ember.cast)
                plain = f"cast float {dtype.name}"
            if kind == "c" or dtype.is_complex:
                plain = (f"cast {'complex' if kind == 'c' else 'real'} "
                         f"{'complex' if dtype.is_complex else 'bool' if dtype is dt.bool_ else 'real'}")
            return self.SPELLING.get(f"cast {a.name} {dtype.name}", self.SPELLING[plain]), dtype.np
        if kind == "c":
            out = dt.real_of(dt.from_numpy_dtype(a)).np if name in ("abs", "real", "imag") \
                else np.dtype(np.bool_) if name in ("eq", "ne") else a
            if f"{name} complex" in self.SPELLING:
                return self.SPELLING[f"{name} complex"], out
            if name in ("add", "sub", "neg"):
                return self.SPELLING[name], out
            raise TypeError(f"{self.name}: {name} has no complex spelling")
        if name == "where":
            return self.SPELLING["where"], np.dtype(dtypes[1])
        # a float input takes the language's "NAME float" spelling where it has one
        own = self.SPELLING.get(f"{name} float") if kind == "f" else None
        if name in ("eq", "ne", "lt", "le", "gt", "ge"):
            return own or self.SPELLING[name], np.dtype(np.bool_)
        if name in ("exp", "log", "sin", "cos", "tanh", "sqrt", "fast_sigmoid", "fast_log1p",
                    "fast_expm1", "fast_erf", "fast_gelu", "fast_gelu_grad", "fast_gelu_tanh",
                    "fast_gelu_tanh_grad", "fast_fmod", "fast_copysign") and kind != "f":
            raise TypeError(f"{self.name}: {name} needs a floating tensor")
        if name.startswith(("fast_bitwise", "fast_left", "fast_right")) and kind == "f":
            raise TypeError(f"{self.name}: {name} needs an integer or bool tensor")
        if kind == "b" and name in ("add", "mul", "maximum", "minimum"):
            return self.SPELLING[f"{name} bool"], a
        if name in ("fast_relu", "abs", "sign", "pow", "maximum", "minimum"):
            return self.SPELLING[f"{name} {'float' if kind == 'f' else 'int'}"], a
        return own or self.SPELLING[name], a

    def _float8_cast(self, a, dtype):
        """A cast from or to an 8-bit float (held as its bits): through float32, with the
        language's ember_from_<format> and ember_to_<format> (kernels/helpers.cl,
        backend.py's WGSL) and its spellings "float8 of real", "float8 of complex", "float8
        of float64" (x as float32 there) and "bool of float" (a float as bool)."""
        if a == dtype.np:
            return "x"
        if a in FLOAT8:
            value = f"ember_from_{FLOAT8[a].name[len('float8_'):]}(x)"
            if dtype.stores_only:
                return f"ember_to_{dtype.name[len('float8_'):]}({value})"
            expr = self.SPELLING["bool of float"] if dtype is dt.bool_ else \
                self._expr("cast", (np.dtype(np.float32),), dtype)[0]
            return re.sub(r"\bx\b", value, expr)
        source = "float8 of complex" if a.kind == "c" else "float8 of float64" \
            if a == np.float64 else "float8 of real"
        return f"ember_to_{dtype.name[len('float8_'):]}({self.SPELLING[source]})"

    def _unary(self, name, x):
        return self._ew(*self._expr(name, (x.dtype,)), [x])

    def _binary(self, name, a, b):
        return self._ew(*self._expr(name, (a.dtype, b.dtype)), [a, b])

    _compare = _binary

    def where(self, cond, a, b):
        return self._ew(*self._expr("where", (cond.dtype, a.dtype, b.dtype)), [cond, a, b])

    def cast(self, x, dtype):
        return self._ew(*self._expr("cast", (x.dtype,), dtype), [x])

    def fast_relu(self, x):
        return self._unary("fast_relu", x)

    def fast_sigmoid(self, x):
        return self._unary("fast_sigmoid", x)

    def fast_log1p(self, x):
        return self._unary("fast_log1p", x)

    def fast_expm1(self, x):
        return self._unary("fast_expm1", x)

    def fast_fmod(self, x, y): return self._binary("fast_fmod", x, y)
    def fast_trunc_div(self, x, y): return self._binary("fast_trunc_div", x, y)
    def fast_copysign(self, x, y): return self._binary("fast_copysign", x, y)
    def fast_remainder(self, x, y): return self._binary("fast_remainder", x, y)
    def fast_floor_divide(self, x, y): return self._binary("fast_floor_divide", x, y)
    def fast_bitwise_and(self, x, y): return self._binary("fast_bitwise_and", x, y)
    def fast_bitwise_or(self, x, y): return self._binary("fast_bitwise_or", x, y)
    def fast_bitwise_xor(self, x, y): return self._binary("fast_bitwise_xor", x, y)
    def fast_bitwise_not(self, x): return self._unary("fast_bitwise_not", x)
    def fast_left_shift(self, x, y): return self._binary("fast_left_shift", x, y)
    def fast_right_shift(self, x, y): return self._binary("fast_right_shift", x, y)

    def fast_fused(self, spec):
        """The expressions of the run's primitives, handed to the subclass's ``_fused``."""
        exprs = [self._expr(name, [spec.dtype_of(i) for i in ins], attr)[0]
                 for name, ins, attr, _ in spec.nodes]
        return self._fused(spec, exprs)

    def _fused(self, spec, exprs):
        """Run a fused group: its kernel compiled once per input layout (``_compile``),
        fresh outputs (and the reduction, when the group ends in one). None where the
        backend cannot build it."""
        n = 1
        for d in spec.shape:
            n *= d
        if spec.reduce is not None and n == 0:
            return None
        lang = self._language(n)
        built = {}

        def run(*inputs):
            layout = self._fused_layout(spec, inputs)
            launch = built.get(layout)
            if launch is None:
                launch = built[layout] = self._compile(spec, exprs, layout, lang)
            outs = [self._alloc(spec.shape, spec.nodes[j][3]) for j in spec.outputs]
            if spec.reduce is not None:
                outs.append(self._alloc(spec.reduce[3], spec.nodes[spec.reduce[1]][3]))
            if n:
                launch(outs, inputs, n)
            return outs
        return run

    # -- the eager elementwise engine: a fused group of one ------------------------------
    def _ew(self, expr, out_dtype, inputs, out=None, accumulate=False):
        """One elementwise primitive over broadcast ``inputs`` into ``out`` (fresh when
        None; ``accumulate`` adds into it): the kernel ``_fused_code`` renders for a group
        of one node, which reads its extents, the output's offset and every strided
        operand's strides at run time, so one build serves every shape of its rank."""
        out_dtype = np.dtype(out_dtype)
        shape = np.broadcast_shapes(*(x.shape for x in inputs)) if out is None else out.shape
        if out is None:
            out = self._alloc(shape, out_dtype)
        n = out.size
        if n == 0:
            return out
        # each operand flat (contiguous at the output's shape) or one element (a scalar)
        # into a contiguous output: no index arithmetic at all; else, under
        # ``small_eager`` elements, everything through its strides at rank 4, one kernel
        # for every other layout and rank; else, into a contiguous output of rank 2 or
        # more, the flat operands as they are and the others through their strides (a
        # broadcast row, a transposed view: 7.5 -> 1.5 ms for x - x.max(axis=1,
        # keepdims=True) on 4096 x 1024 with pocl); else every operand and the output
        # through their strides
        kinds = tuple("flat" if x.shape == shape and x.contiguous else "one" if x.size == 1
                      else "strided" for x in inputs)
        if n < self.small_eager and len(shape) <= 4 and (
                not out.contiguous or "strided" in kinds):
            pad = 4 - len(shape)
            form, meta = 4, (1,) * pad + tuple(shape) + (0,) * pad + tuple(out.strides) + sum(
                ((0,) * pad + broadcast_strides(x, shape) for x in inputs), ())
        elif not out.contiguous or "strided" in kinds and len(shape) == 1:
            form, meta = len(shape), tuple(shape) + tuple(out.strides) + sum(
                (broadcast_strides(x, shape) for x in inputs), ())
        elif "strided" in kinds:            # (a one-element operand: strides of 0)
            kinds = tuple("flat" if k == "flat" else "strided" for k in kinds)
            form, meta = (len(shape),) + kinds, tuple(shape) + sum(
                (broadcast_strides(x, shape) for x, k in zip(inputs, kinds) if k == "strided"), ())
        else:
            form, meta = kinds, ()
        key = (expr, out_dtype, tuple(x.dtype for x in inputs), form, accumulate, n >= 2 ** 31)
        launch = self._eager.get(key) or self._build_eager(key)
        launch([out], inputs, n, meta, out.offset)
        return out

    def _build_eager(self, key):
        """Compile the kernel of ``key`` (an ``_ew`` or ``_reduce`` key) and, on a backend
        that ``builds_in_batches``, its siblings (``_batch``) in the same build. A batch is
        in one order whichever of its kernels was asked for first, so its program's source
        is the same in every process: the driver's cache (pocl's) then serves it to the
        other test workers and to later runs. Returns key's launcher."""
        keys = self._batch(key) if self.builds_in_batches else [key]
        if key not in keys:
            keys.insert(0, key)
        items = [self._reduce_item(*k[1:]) if k[0] == "reduce" else self._eager_item(*k)
                 for k in keys]
        self._eager.update(zip(keys, self._compile_all(items)))
        return self._eager[key]

    def _batch(self, key):
        """The keys built with ``key``: for a reduction, every fold (of a real dtype) and
        work-group size in its dtype (a columns fold, rarer, builds alone). For an
        elementwise kernel, every primitive over the same input dtypes (``_family``) in
        the forms of its group: all flat, or everything strided at rank 4 (the small
        tensors' forms, ``_ew``); or each operand flat or one element, some one (a
        scalar operand); or else its own op alone, in every large tensor's form:
        everything strided at ranks 1 to 3, strided operands into a contiguous output at
        ranks 2 to 4."""
        if key[0] == "reduce":
            dtype = np.dtype(key[2])
            kinds = ("sum", "max", "min") if dtype.kind in "biuf" and dtype not in FLOAT8 \
                else (key[1],)
            return [key] if key[3] == "columns" else [
                ("reduce", kind, dtype, 2 ** k) for kind in kinds for k in range(9)]
        expr, out_dtype, dtypes, form, accumulate, wide = key
        plain = list(itertools.product(("flat", "one"), repeat=len(dtypes)))
        small, scalar = [plain[0], 4], plain[1:]
        for group in (small, scalar):
            if form in group:
                family = [] if accumulate else self._family(dtypes)
                ops = family if (expr, out_dtype) in family else [(expr, out_dtype)]
                return [(e, o, dtypes, f, accumulate, wide) for f in group for e, o in ops]
        forms = [1, 2, 3] + [(rank,) + kinds for rank in (2, 3, 4) for kinds in
                             itertools.product(("flat", "strided"), repeat=len(dtypes))
                             if "strided" in kinds]
        return [(expr, out_dtype, dtypes, f, accumulate, wide) for f in forms]

    def _family(self, dtypes):
        """(expression, output dtype) of every elementwise primitive over inputs of
        ``dtypes``, in one order: the unary ones and every cast, the binary ones, or where."""
        names = {1: UNARY, 2: BINARY, 3: ("where",)}[len(dtypes)]
        family = []
        for name, to in [(n, None) for n in names] + (
                [("cast", d) for d in dt.ALL if d in self.dtypes] if len(dtypes) == 1 else []):
            try:
                item = self._expr(name, dtypes, to)
            except (KeyError, TypeError):       # not for these dtypes
                continue
            if item not in family:
                family.append(item)
        return family

    def _compile_all(self, items):
        """The launchers of several kernels, each ``_compile``'s arguments; a subclass
        that ``builds_in_batches`` builds them at once."""
        return [self._compile(*item) for item in items]

    def _eager_item(self, expr, out_dtype, dtypes, form, accumulate, wide):
        """``_compile``'s arguments for ``_ew``'s kernel. ``form`` is each operand's kind
        when no operand needs strides (flat ones read at the flat index, one-element ones at
        their offset); or (rank, kind...) with "strided" kinds, into a contiguous output:
        extents at meta[0:rank], then each strided operand's strides; or the rank alone:
        the extents, then the strides of the output and each input."""
        lang = self._language(2 ** 31 if wide else 1, eager=len(dtypes))
        if isinstance(form, int):           # everything strided, the output too
            form = (form,) + ("strided",) * len(dtypes)
            out_strides = tuple(lang.meta(form[0] + d) for d in range(form[0]))
        else:
            out_strides = None
        ndim, kinds = (form[0], form[1:]) if isinstance(form[0], int) else (0, form)
        at = ndim + len(out_strides or ())      # where the next operand's strides are
        strides = []
        for kind in kinds:
            if kind == "strided":
                strides.append(tuple(lang.meta(at + d) for d in range(ndim)))
                at += ndim
            else:
                strides.append(() if kind == "one" else None)
        spec = FusedSpec([lang.meta(d, extent=True) for d in range(ndim)],
                         [(None, d) for d in dtypes],
                         [("ew", [("x", k) for k in range(len(dtypes))], None, out_dtype)], [0])
        return spec, [expr], strides, lang, (lang.out_offset, out_strides), accumulate

    def _reduce_item(self, kind, dtype, group):
        """``_compile``'s arguments for ``_reduce``'s kernel: a fold over the rows of a
        packed matrix, their count and length read at run time, ``group`` work-items a row
        (or, for "columns", over its columns, a work-item each)."""
        lang = (self._language(1, eager=1, group=self.reduce_group, columns=True)
                if group == "columns" else self._language(1, eager=1, group=group))
        spec = FusedSpec((lang.meta(0, extent=True), lang.meta(1, extent=True)),
                         [(None, dtype)], [("ew", [("x", 0)], None, dtype)], [],
                         reduce=(kind, 0, (1,), None))
        return spec, ["x"], (None,), lang

    def _reduce(self, kind, x, axes, keepdims):
        """sum, max or min over ``axes``: the fused reduction ``_fused_code`` renders for
        a group of one (the identity) over x's rows, whose count and length it reads at
        run time; built once per (fold, dtype, work-group size)."""
        if not axes:
            return x
        axes = tuple(sorted(axes))
        lead = next((i for i, a in enumerate(axes) if a != i), len(axes))
        trail = axes[lead:]
        if (self.reduces_columns and lead and x.contiguous and x.offset == 0
                and trail == tuple(range(x.ndim - len(trail), x.ndim))
                and math.prod(x.shape[lead:x.ndim - len(trail)]) >= 64):
            # leading axes (a bias's gradient, a batch mean), after any trailing ones
            # (NCHW over N, H and W): a work-item per column, reading along rows
            y = self._reduce(kind, x, trail, False) if trail else x
            length, cols = math.prod(y.shape[:lead]), math.prod(y.shape[lead:])
            if not length:
                out = self.full(y.shape[lead:], 0, dt.from_numpy_dtype(x.dtype))
            else:
                out = self._alloc(y.shape[lead:], x.dtype)
                key = ("reduce", kind, y.dtype, "columns")
                launch = self._eager.get(key) or self._build_eager(key)
                launch([out], [y], cols, (cols, length))
            return self._keep(out, x.shape, axes, keepdims)
        kept_shape, rows, length, arr = self._rows(x, axes)
        if rows and not length:                       # the sum of nothing
            return self._keep(self.full(kept_shape, 0, dt.from_numpy_dtype(x.dtype)),
                              x.shape, axes, keepdims)
        out = self._alloc(kept_shape, x.dtype)
        if rows:
            key = ("reduce", kind, arr.dtype, work_group(length, self.reduce_group))
            launch = self._eager.get(key) or self._build_eager(key)
            launch([out], [arr], rows, (rows, length))
        return self._keep(out, x.shape, axes, keepdims)

    def sum(self, x, axes, keepdims): return self._reduce("sum", x, axes, keepdims)
    def max(self, x, axes, keepdims): return self._reduce("max", x, axes, keepdims)
    def min(self, x, axes, keepdims): return self._reduce("min", x, axes, keepdims)

    def _copy(self, x, out=None):
        return self._ew("x", x.dtype, [x], out)

    def _accumulate(self, src, out):
        self._ew("x", out.dtype, [src], out, accumulate=True)

    @staticmethod
    def _fused_layout(spec, inputs):
        """Per buffer input: None when it is contiguous at the output's shape (read at the
        flat index), else its broadcast strides; the key of the kernel built for them."""
        return tuple(None if x.shape == spec.shape and x.contiguous
                     else broadcast_strides(x, spec.shape) for x in inputs)

    @staticmethod
    def _fused_rows(spec, lang):
        """(rows, length, lines) of a fused reduction: ``lines`` take the element at
        (``row``, ``j``), j running over the reduced axes, to its flat index ``g`` in the
        group's shape (then ``_fused_code``'s body computes it); ``lang`` as there, plus
        ``var(name, value)``, ``index_type`` and ``eager`` (the group is an eager kernel's,
        its shape the expressions of (rows, length))."""
        if lang.eager:          # rows of a packed matrix, their count and length read at run time
            rows, length = spec.shape       # (or its columns: then rows counts them)
            at = f"j * {rows} + row" if lang.columns else f"row * {length} + j"
            return rows, length, [lang.let(lang.index_type, "g", at)]
        axes = spec.reduce[2]
        kept = [d for d in range(len(spec.shape)) if d not in axes]
        rows = length = 1
        for d in kept:
            rows *= spec.shape[d]
        for d in axes:
            length *= spec.shape[d]
        strides = c_strides(spec.shape)
        lines = [lang.var("row_", "row"), lang.var("j_", "j")]
        for name, dims in (("row_", kept), ("j_", axes)):
            for d in reversed(dims):
                lines += [lang.let(lang.index_type, f"q{d}", f"{name} % {spec.shape[d]}"),
                          f"{name} = {name} / {spec.shape[d]};"]
        flat = " + ".join(f"q{d} * {strides[d]}" for d in range(len(spec.shape))) or "0"
        lines.append(lang.let(lang.index_type, "g", flat))
        return rows, length, lines

    @staticmethod
    def _fused_code(spec, exprs, layout, lang, out=None, accumulate=False):
        """(functions, body) of a fused kernel for flat index ``g``: one function per
        primitive (``op0``...), then the index split into ``k0``... where an operand needs
        strides, the loads (``a0``..., literals for scalar constants), the calls (``v0``...)
        and the stores into ``o0``.... A layout entry is None (read at ``g``) or the
        strides (numbers, or expressions read at run time); ``out`` is (offset, layout)
        of an eager kernel's one output (stored at ``g`` when None); ``accumulate`` adds
        to what the output holds. ``lang`` spells it: ``type(dtype)``,
        ``func(name, out type, [(type, param)], expr)``, ``let(type, name, value)``,
        ``index()`` (r = g) and ``split(d, extent, outer)`` (k0 is r), ``literal(value, dtype)``,
        ``load(buffer number, index, dtype)``, and ``round`` and ``store`` (KernelLanguage)."""
        funcs = []
        for k, ((_, ins, _, out_dtype), expr) in enumerate(zip(spec.nodes, exprs)):
            types = [lang.type(spec.dtype_of(i)) for i in ins]
            expr = _TYPE_NAMES.sub(lambda m: lang.type(out_dtype) if m.group(1) == "O"
                                   else types["ABC".index(m.group(1))], expr)
            funcs.append(lang.func(f"op{k}", lang.type(out_dtype), list(zip(types, "xyz")), expr))
        body = []
        offset, out_layout = out if out is not None else (None, None)
        if out_layout or any(layout):           # a strides tuple; () reads one element
            body += [lang.index()] + [lang.split(d, spec.shape[d], outer=d == 0)
                                      for d in reversed(range(len(spec.shape)))]

        def at(strides):
            return "g" if strides is None else " + ".join(
                [f"k{d} * {st}" for d, st in enumerate(strides) if st] or ["0"])
        slots = iter(enumerate(layout))
        for k, ((_, dtype), value) in enumerate(zip(spec.inputs, spec.scalars)):
            if value is None:
                m, strides = next(slots)
                value = lang.load(m, at(strides), np.dtype(dtype))
            else:
                value = lang.literal(value, np.dtype(dtype))
            body.append(lang.let(lang.type(dtype), f"a{k}", value))
        for k, (_, ins, _, out_dtype) in enumerate(spec.nodes):
            args = ", ".join(f"a{j}" if kind == "x" else f"v{j}" for kind, j in ins)
            body.append(lang.let(lang.type(out_dtype), f"v{k}",
                                 lang.round(np.dtype(out_dtype), f"op{k}({args})")))
        where = at(out_layout) if offset is None else f"{offset} + {at(out_layout)}"
        for m, j in enumerate(spec.outputs):
            body.append(lang.store(f"o{m}", where, f"v{j}", np.dtype(spec.nodes[j][3]), accumulate))
        return funcs, body

    def real(self, x): return self._unary("real", x)
    def imag(self, x): return self._unary("imag", x)
    def conj(self, x): return self._unary("conj", x)
    def neg(self, x): return self._unary("neg", x)
    def exp(self, x): return self._unary("exp", x)
    def log(self, x): return self._unary("log", x)
    def sin(self, x): return self._unary("sin", x)
    def cos(self, x): return self._unary("cos", x)
    def tanh(self, x): return self._unary("tanh", x)
    def sqrt(self, x): return self._unary("sqrt", x)
    def abs(self, x): return self._unary("abs", x)
    def sign(self, x): return self._unary("sign", x)

    def add(self, a, b): return self._binary("add", a, b)
    def sub(self, a, b): return self._binary("sub", a, b)
    def mul(self, a, b): return self._binary("mul", a, b)
    def div(self, a, b): return self._binary("div", a, b)
    def pow(self, a, b): return self._binary("pow", a, b)
    def maximum(self, a, b): return self._binary("maximum", a, b)
    def minimum(self, a, b): return self._binary("minimum", a, b)

    def eq(self, a, b): return self._compare("eq", a, b)
    def ne(self, a, b): return self._compare("ne", a, b)
    def lt(self, a, b): return self._compare("lt", a, b)
    def le(self, a, b): return self._compare("le", a, b)
    def gt(self, a, b): return self._compare("gt", a, b)
    def ge(self, a, b): return self._compare("ge", a, b)

    def _contiguous(self, x):
        return x if x.contiguous else self._copy(x)

    def _packed(self, x):
        """Contiguous and starting at element 0 of its buffer (what index and matmul kernels read)."""
        return x if x.contiguous and x.offset == 0 else self._copy(x)

    def reshape(self, x, shape):
        x = self._contiguous(x)
        return x.view(shape, c_strides(shape), x.offset)

    def permute(self, x, axes):
        return x.view(tuple(x.shape[a] for a in axes), tuple(x.strides[a] for a in axes), x.offset)

    def expand(self, x, shape):
        return x.view(shape, broadcast_strides(x, shape), x.offset)

    def flip(self, x, axes):
        strides, offset = list(x.strides), x.offset
        for a in axes:
            if x.shape[a] > 0:
                offset += (x.shape[a] - 1) * strides[a]
            strides[a] = -strides[a]
        return x.view(x.shape, strides, offset)

    def slice(self, x, starts, stops, steps):
        offset = x.offset + sum(s * st for s, st in zip(starts, x.strides))
        shape = tuple(max(0, -(-(b - a) // c)) for a, b, c in zip(starts, stops, steps))
        return x.view(shape, tuple(st * c for st, c in zip(x.strides, steps)), offset)

    def pad(self, x, widths, value):
        shape = tuple(d + a + b for d, (a, b) in zip(x.shape, widths))
        out = self.full(shape, value, dt.from_numpy_dtype(x.dtype))
        inner = out.view(x.shape, out.strides,
                         sum(a * st for (a, _), st in zip(widths, out.strides)))
        self._copy(x, inner)
        return out

    def concatenate(self, xs, axis):
        shape = list(xs[0].shape)
        shape[axis] = sum(x.shape[axis] for x in xs)
        out = self._alloc(tuple(shape), xs[0].dtype)
        start = 0
        for x in xs:
            self._copy(x, out.view(x.shape, out.strides, start * out.strides[axis]))
            start += x.shape[axis]
        return out

    # -- reductions see rows ----------------------------------------------------------
    def _rows(self, x, axes):
        """x with ``axes`` moved last, contiguous from element 0 of its buffer:
        (kept shape, rows, length, array)."""
        kept = [a for a in range(x.ndim) if a not in axes]
        arr = self._packed(self.permute(x, tuple(kept) + tuple(axes)))
        kept_shape = tuple(x.shape[a] for a in kept)
        rows = 1
        for d in kept_shape:
            rows *= d
        return kept_shape, rows, arr.size // max(rows, 1) if rows else 0, arr

    def _keep(self, out, shape, axes, keepdims):
        """A row reduction's result, with the reduced axes kept as 1s when asked."""
        if keepdims:
            return self.reshape(out, tuple(1 if a in axes else d for a, d in enumerate(shape)))
        return out

    # -- convolution windows ----------------------------------------------------------------
    def _window_view(self, x, i, j, stride, dilation, out_hw):
        """x[:, :, i*dh : ... : sh, j*dw : ... : sw] for kernel offset (i, j), as a view."""
        (sh, sw), (dh, dw), (oh, ow) = stride, dilation, out_hw
        n, c = x.shape[:2]
        return self.slice(x, (0, 0, i * dh, j * dw),
                          (n, c, i * dh + sh * (oh - 1) + 1, j * dw + sw * (ow - 1) + 1),
                          (1, 1, sh, sw))

    @staticmethod
    def _slot(cols, i, j):
        """The (N, C, OH, OW) view of window (i, j) inside im2col's (C, kh, kw, N, OH, OW)."""
        st = cols.strides
        return cols.view((cols.shape[3], cols.shape[0]) + cols.shape[4:],
                         (st[3], st[0], st[4], st[5]), cols.offset + i * st[1] + j * st[2])

    def fast_im2col(self, x, kernel, stride, dilation):
        kh, kw = kernel
        n, c = x.shape[:2]
        out_hw = windows_out(x.shape[2:], kernel, stride, dilation)
        cols = self._alloc((c, kh, kw, n, *out_hw), x.dtype)
        for i in range(kh):
            for j in range(kw):
                self._copy(self._window_view(x, i, j, stride, dilation, out_hw),
                           self._slot(cols, i, j))
        return cols

    def fast_col2im(self, cols, shape, kernel, stride, dilation):
        out = self.full(shape, 0, dt.from_numpy_dtype(cols.dtype))
        for i in range(kernel[0]):
            for j in range(kernel[1]):
                self._accumulate(self._slot(cols, i, j),
                                 self._window_view(out, i, j, stride, dilation, cols.shape[4:6]))
        return out

    def fast_max_pool2d(self, x, kernel, stride, dilation):
        x = self._packed(x)
        out_hw = windows_out(x.shape[2:], kernel, stride, dilation)
        out = self._alloc(x.shape[:2] + out_hw, x.dtype)
        index = self._alloc(x.shape[:2] + out_hw, np.dtype(np.int32))
        if out.size:
            self._pool_kernel("max_pool", [out, index, x], x.dtype, (kernel, stride, dilation),
                              x.shape[2:] + out_hw)
        return out, index

    def fast_max_unpool2d(self, g, index, kernel, stride, dilation, shape):
        g, index = self._packed(g), self._packed(index)
        out = self._alloc(shape, g.dtype)
        if out.size:
            self._pool_kernel("max_unpool", [out, g, index], g.dtype, (kernel, stride, dilation),
                              tuple(shape[2:]) + tuple(g.shape[2:]))
        return out

    # -- batched matmul -----------------------------------------------------------------------
    # -- matmul: the kernel's tiling is tuned per device (ember.tuning) ---------------------
    def matmul(self, a, b):
        m, k = a.shape[-2:]
        n = b.shape[-1]
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        count = int(np.prod(batch, dtype=np.int64))
        if count * m * n == 0 or k == 0:
            return self.full(batch + (m, n), 0, dt.from_numpy_dtype(a.dtype))
        return self._matmul(a, b, m, k, n, batch, count, self._matmul_choice(a.dtype, m, k, n))

    def _matmul_choice(self, dtype, m, k, n):
        """The subclass's ``_matmul_candidates`` tiling that ember.tuning finds fastest for
        matmuls of this dtype and size class (each of M, K, N below 128 or not), tried on
        integer-valued operands at most 512 a side; integer matmuls take the first."""
        size = "".join("l" if d >= 128 else "s" for d in (m, k, n))
        edge = tuple(4 if d < 8 else 8 if d < 16 else 16 for d in (m, n))   # tile bounds
        key = (np.dtype(dtype), size) + edge
        choice = self._choices.get(key)
        if choice is None:
            candidates = self._matmul_candidates(np.dtype(dtype), *edge)
            if np.dtype(dtype).kind != "f" or size == "sss":
                choice = candidates[0]
            else:
                dims = [min(d, 512) for d in (m, k, n)]
                rng = np.random.default_rng(0)
                pa, pb = (self.from_numpy(rng.integers(-3, 4, shape).astype(dtype))
                          for shape in (dims[:2], dims[1:]))
                choice = tuning.tuned(
                    f"{self.tuning_name()}|matmul|{np.dtype(dtype).name}|{size}|{key[2]}x{key[3]}",
                    candidates, lambda c: self.to_numpy(self._matmul(pa, pb, *dims, (), 1, c)))
            self._choices[key] = choice
        return choice

    def _attention_layout(self, q, k, v, mask, keep):
        """What an attention kernel reads: q, k, v, mask and keep packed (None stays
        None), the broadcast batch, and ``attention_table``'s offsets and strides."""
        batch = tuple(np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2]))
        arrays = [None if x is None else self._contiguous(x) for x in (q, k, v, mask, keep)]
        return (arrays, batch) + attention_table(
            batch, [None if x is None else (x.shape, x.offset) for x in arrays])
