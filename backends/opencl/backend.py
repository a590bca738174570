"""OpenCL through PyOpenCL: every primitive as a kernel from kernels/*.cl, buffers from a
memory pool, one in-order queue, no host round trip between ops."""

import functools
import re

import numpy as np

from ember import dtypes as dt

from .kernels import HALF, KernelCache, ctype, storage
from ..strided import (COMPLEX_CALLS, FLOAT8, REDUCE_BLOCK, KernelLanguage, StridedArray,
                       StridedBackend, batch_offsets, by_parts, computed_wide, float8_bits,
                       floating, int_limits, saturating_casts, work_group)

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_ROUND = {np.dtype(np.float16): "ember_round_half", dt.bfloat16.np: "ember_round_bf16"}


def _import_cl():
    import pyopencl
    return pyopencl


#: a kernel every device must build before ember uses it
_PROBE = "__kernel void ember_probe(__global float *x) { x[0] = exp(x[0]); }"

#: what fixes the one known build failure: a pocl whose LLVM does not know the CPU
_UNKNOWN_CPU_FIX = ("pyopencl's bundled pocl 3.0 (LLVM 14) does not know this CPU; install a "
                    "newer pocl beside it (Debian: apt-get install pocl-opencl-icd, as make test "
                    "does); ember then uses the device that builds")


@functools.cache
def _probed_devices():
    """([(platform, device)] that build a kernel, GPUs first: index 0 is the first GPU,
    else the first CPU; [reason] for each device whose compiler fails)."""
    cl = _import_cl()
    found, failures = [], []
    for platform in cl.get_platforms():
        for device in platform.get_devices():
            try:
                cl.Program(cl.Context([device]), _PROBE).build()
            except cl.Error as exc:
                log = str(exc).strip().splitlines()
                first = next((line for line in log if "error" in line), log[-1] if log else "")
                fix = f"; {_UNKNOWN_CPU_FIX}" if "unknown target CPU" in first else ""
                failures.append(f"{device.name.strip()} ({platform.name.strip()}) cannot build "
                                f"kernels: {first.strip()}{fix}")
                continue
            found.append((0 if device.type & cl.device_type.GPU else 1, len(found), platform, device))
    return [(p, d) for _, _, p, d in sorted(found, key=lambda t: t[:2])], failures


def _all_devices():
    """Every usable OpenCL device, GPUs first."""
    return _probed_devices()[0]


def _c_real(v, t):
    """A C literal of float v in type t, exact (in hexadecimal), NaN and infinities too."""
    v = float(v)
    if v != v:
        return "NAN"
    if v in (float("inf"), float("-inf")):
        return "INFINITY" if v > 0 else "(-INFINITY)"
    return f"(({t}){v.hex()})"


def _c_literal(v, dtype):
    """A C literal of v in dtype, exact: floats in hexadecimal, complex as (re, im)."""
    if dtype.kind == "c":
        part = "float" if dtype == np.complex64 else "double"
        return f"(({ctype(dtype)})({_c_real(v.real, part)}, {_c_real(v.imag, part)}))"
    if dtype in FLOAT8:
        return f"((uchar){float8_bits(v, dtype)})"
    if floating(dtype):
        return _c_real(v, ctype(dtype))
    v = int(v)
    if v == -2 ** 63:
        return "(-9223372036854775807L - 1)"    # 9223372036854775808L alone is out of range
    return f"(({ctype(dtype)}){v}{'UL' if v >= 2 ** 63 else 'L' if v >= 2 ** 31 else ''})"


#: the elements of a float32 work-item on a CPU (OpenCLBackend._lanes): an AVX-512 vector,
#: or two of AVX2
LANES = 16

#: OP(x, y, z) of each elementwise case (StridedBackend._expr decides which applies)
_SPELLING = {
    "cast": "(TO)(x)", "cast_bool": "(uchar)((x) != 0)", "where": "((x) ? (y) : (z))",
    # OpenCL's saturated conversions, rounding toward zero; NaN gives 0 (by the standard,
    # but NVIDIA's driver gives the minimum for float64 sources and 64-bit targets)
    **saturating_casts(
        lambda d, top, bottom: f"(isnan(x) ? (TO)0 : convert_{ctype(d.np)}_sat(x))"),
    "cast float64 bfloat16": "ember_bf16_of_double(x)",
    # to and from the 8-bit floats, through float (StridedBackend._float8_cast)
    "float8 of real": "(float)(x)", "float8 of complex": "(float)((x).x)",
    "float8 of float64": "ember_float_odd(x)", "bool of float": "(uchar)((x) != 0)",
    "cast float64 float16": "ember_half_of_double(x)",
    **{op: f"(uchar)((x) {c} (y))" for op, c in (("eq", "=="), ("ne", "!="), ("lt", "<"),
                                                  ("le", "<="), ("gt", ">"), ("ge", ">="))},
    # ember_exp, ember_log, ember_log1p, ember_expm1, ember_pow, ember_sin and ember_cos:
    # kernels/helpers.cl
    "neg": "(-(x))", "exp": "ember_exp(x)", "log": "ember_log(x)", "sin": "ember_sin(x)",
    "cos": "ember_cos(x)",
    # pocl's tanh stops at 1 - 2**-24 (float): past where tanh rounds to 1, it is 1
    "tanh": "(fabs(x) > (sizeof(TO) == 8 ? (TO)19.5 : (TO)9.1) ? copysign((TO)1, x) : tanh(x))",
    "sqrt": "sqrt(x)",
    "fast_sigmoid": "(((x) >= 0 ? (TO)1 : ember_exp(x)) / ((TO)1 + ember_exp(-fabs(x))))",
    "fast_log1p": "ember_log1p(x)", "fast_expm1": "ember_expm1(x)",
    # ember_erf, ember_gelu, ember_gelu_grad: kernels/helpers.cl (float64 inside)
    "fast_erf": "ember_erf(x)", "fast_gelu": "ember_gelu(x)", "fast_gelu_grad": "ember_gelu_grad(x, y)",
    "fast_gelu_tanh": "ember_gelu_tanh(x)", "fast_gelu_tanh_grad": "ember_gelu_tanh_grad(x, y)",
    "fast_relu float": "(((x) > 0 || (x) != (x)) ? (x) : (TO)0)", "fast_relu int": "max(x, (TO)0)",
    "abs float": "fabs(x)", "abs int": "((x) < 0 ? -(x) : (x))",
    "sign float": "((x) != (x) ? (x) : (TO)(((x) > 0) - ((x) < 0)))",
    "sign int": "(TO)(((x) > 0) - ((x) < 0))",
    "add": "((x) + (y))", "sub": "((x) - (y))", "mul": "((x) * (y))", "div": "((x) / (y))",
    # C's % and / are undefined where y is 0 and for INT_MIN / -1: 0, and -x (it wraps)
    "fast_fmod": "fmod(x, y)", "fast_copysign": "copysign(x, y)",
    "fast_remainder": "ember_remainder(x, y)", "fast_floor_divide": "ember_floor_divide(x, y)",
    "fast_bitwise_and": "((x) & (y))", "fast_bitwise_or": "((x) | (y))",
    "fast_bitwise_xor": "((x) ^ (y))", "fast_bitwise_not": "((TO)~(x))",
    # C's shifts are undefined by a negative count or the width or more: NumPy's answers
    "fast_left_shift": "(((y) < (TO)0 || (y) >= (TO)(sizeof(TO) * 8)) ? (TO)0 "
                       ": (TO)((x) << (y)))",
    "fast_right_shift": "(((y) < (TO)0 || (y) >= (TO)(sizeof(TO) * 8)) ? ((x) < (TO)0 ? "
                        "(TO)-1 : (TO)0) : (TO)((x) >> (y)))",
    "fast_trunc_div": "((y) == 0 ? (TO)0 : ((TO)-1 < (TO)0 && (y) == (TO)-1) ? (TO)(-(x)) "
                      ": (TO)((x) / (y)))",
    "add bool": "((x) | (y))", "mul bool": "((x) & (y))", "maximum bool": "((x) | (y))",
    "minimum bool": "((x) & (y))",
    "pow float": "ember_pow(x, y)", "pow int": "(TO)ember_ipow(x, y)",
    "maximum float": "(((x) > (y) || (x) != (x)) ? (x) : (y))", "maximum int": "max(x, y)",
    "minimum float": "(((x) < (y) || (x) != (x)) ? (x) : (y))", "minimum int": "min(x, y)",
    # complex numbers are float2 or double2 (re, im); kernels/complex.cl has the functions
    "cast real complex": "(TO)((x), 0)", "cast complex complex": "(TO)((x).x, (x).y)",
    "cast complex real": "(TO)((x).x)", "cast complex bool": "(uchar)((x).x != 0 || (x).y != 0)",
    "complex": "(TO)((x), (y))",
    "real complex": "(x).x", "imag complex": "(x).y", "conj complex": "(TO)((x).x, -(x).y)",
    "abs complex": "hypot((x).x, (x).y)",
    "eq complex": "(uchar)((x).x == (y).x && (x).y == (y).y)",
    "ne complex": "(uchar)((x).x != (y).x || (x).y != (y).y)",
    **COMPLEX_CALLS,
    "fast_sigmoid complex": "ember_cdiv((TO)(1, 0), (TO)(1, 0) + ember_cexp(-(x)))",
}


#: the spellings that hold for a float vector as for a float (a comparison's true is -1
#: there, so only as a ?: condition; casts and sizeof(TO) are a scalar's)
_LANE_SPELLINGS = frozenset(_SPELLING[k] for k in (
    "neg", "exp", "log", "sqrt", "fast_sigmoid", "fast_log1p", "fast_relu float", "abs float",
    "add", "sub", "mul", "div", "maximum float", "minimum float"))


def _c_fold(kind, dtype):
    """(FOLD(a, b), identity) of a sum, max or min; max and min keep NaN, as NumPy (tested
    as a != a: pocl's isnan made a max over rows 3.6 times slower)."""
    t = ctype(dtype)
    if kind == "sum":
        return "((a) + (b))", f"(({t})0)"
    if floating(dtype):
        cmp = ">" if kind == "max" else "<"
        return f"((((a) {cmp} (b)) || (a) != (a)) ? (a) : (b))", \
            "(-INFINITY)" if kind == "max" else "INFINITY"
    lowest, highest = int_limits(dtype)
    return f"{kind}((a), (b))", _c_literal(lowest if kind == "max" else highest, dtype)


#: (read, write) of an element of a buffer of each dtype stored narrower than it computes
_ACCESS = {np.dtype(np.float16): ("vload_half({at}, {buf})", "vstore_half_rte({value}, {at}, {buf});"),
           **{d: ("ember_from_bf16({buf}[{at}])", "{buf}[{at}] = ember_to_bf16({value});")
              for d in HALF if d != np.float16}}
_PLAIN = ("{buf}[{at}]", "{buf}[{at}] = {value};")


_OP_NAME = re.compile(r"\bop(\d+)\b")


def _renamed(code, tag):
    """A fused kernel's or its functions' code with its functions ``op0``... renamed
    ``op<tag>_0``... (tag 0: as it is), for a program of several such kernels."""
    return _OP_NAME.sub(rf"op{tag}_\1", code) if tag else code


def _read(buf, at, dtype):
    """Element ``at`` of buffer ``buf`` of ``dtype`` as its compute type."""
    return _ACCESS.get(dtype, _PLAIN)[0].format(buf=buf, at=at)


class _OpenCLC(KernelLanguage):
    """How StridedBackend._fused_code spells a kernel in OpenCL C. An eager kernel (one
    of ``eager`` inputs) reads its output's offset from argument h0 and its extents and
    strides from the long array ``meta``. float16 and bfloat16 compute in float: loads
    widen, each op's result rounds, stores narrow."""

    literal = staticmethod(_c_literal)
    index_type = "long"
    out_offset = "h0"

    @staticmethod
    def var(name, value):
        return f"long {name} = {value};"

    def __init__(self, idx, eager=0, group=None, divide_in_double=False, columns=False,
                 lanes=1):
        self.idx = idx       # int or long: the type of the index arithmetic
        self.eager, self.group, self.columns = eager, group, columns
        self.divide_in_double = divide_in_double and eager and idx == "int"
        # a work-item's elements, from g on (OpenCLBackend._lanes): its values are
        # vectors of that many, read with vload and written whole (the outputs are
        # fresh buffers, aligned to a vector)
        self.lanes = lanes

    def type(self, dtype):
        return ctype(dtype) + (str(self.lanes) if self.lanes > 1 else "")

    def meta(self, i, extent=False):
        return f"(({self.idx})meta[{i}])" if extent else f"meta[{i}]"

    @staticmethod
    def func(name, out, params, expr):
        args = ", ".join(f"const {t} {p}" for t, p in params)
        # always inlined: a call left in the kernel keeps pocl from vectorizing it
        return f"inline __attribute__((always_inline)) {out} {name}({args}) {{ return {expr}; }}"

    @staticmethod
    def let(t, name, value):
        return f"const {t} {name} = {value};"

    def index(self):
        return f"{self.idx} r = ({self.idx})g;"

    def split(self, d, extent, outer=False):
        if outer:       # what is left of the index is the outermost one
            return f"const {self.idx} k{d} = r;"
        if self.divide_in_double:
            # exact: below 2^31, a quotient that is not an integer is more than 2^-31 of
            # itself away from the next one, far past float64's rounding (2^-53)
            return (f"const int q{d} = (int)((double)r / (double){extent}); "
                    f"const int k{d} = r - q{d} * {extent}; r = q{d};")
        return f"const {self.idx} k{d} = r % {extent}; r /= {extent};"

    def load(self, m, at, dtype=None):
        if self.lanes > 1 and at == "g":
            return f"vload{self.lanes}(0, i{m} + f{m} + g)"
        return _read(f"i{m}", f"f{m} + {at}", dtype)    # one element: a scalar input

    @staticmethod
    def round(dtype, expr):
        return f"{_ROUND[dtype]}({expr})" if dtype in _ROUND else expr

    def store(self, buf, at, value, dtype, accumulate=False):
        if self.lanes > 1:      # as a whole vector: vstore16 was 1.2 times slower
            return f"*(__global {self.type(dtype)}*)({buf} + {at}) = {value};"
        if accumulate:
            value = f"{_read(buf, at, dtype)} + {value}"
        return _ACCESS.get(dtype, _PLAIN)[1].format(buf=buf, at=at, value=value)


class OpenCLBackend(StridedBackend):
    """Any OpenCL device; on a machine with no driver, pocl-binary-distribution's CPU device."""

    name = "opencl"
    #: float16 and bfloat16 are stored in 16 bits and computed in float (_OpenCLC), and
    #: their kernel-file primitives run in float32; the 8- and 16-bit integers' run in
    #: int32, and elsewhere in their own C types (C wraps each result to them)
    wide = {**{d: dt.float32 for d in HALF},
            **{d.np: dt.int32 for d in (dt.int8, dt.int16, dt.uint8, dt.uint16)}}
    builds_in_batches = True
    reduces_columns = True
    dtypes = frozenset({dt.bool_, *dt.INTS, dt.float16, dt.float32, dt.float64, *dt.COMPLEX} |
                       {d for d in (dt.bfloat16, *dt.FLOAT8) if d.np is not None})

    @classmethod
    def availability(cls):
        try:
            _import_cl()
        except Exception as exc:
            return False, (f"PyOpenCL is not installed ({type(exc).__name__}: {exc}); "
                           f"pip install 'ember[opencl]'")
        try:
            usable, failures = _probed_devices()
            if not usable:
                return False, ("; ".join(failures) if failures else
                               "no OpenCL device found (pip install pocl-binary-distribution)")
        except Exception as exc:
            return False, f"no OpenCL platform found ({type(exc).__name__}: {exc})"
        return True, ""

    @classmethod
    def devices(cls):
        return [f"{d.name.strip()} ({p.name.strip()}, {d.max_compute_units} compute units)"
                for p, d in _all_devices()]

    def __init__(self, index=0):
        super().__init__(index)
        cl = self.cl = _import_cl()
        from pyopencl.tools import ImmediateAllocator, MemoryPool
        self.platform, self.device_obj = _all_devices()[index]
        self.context = cl.Context([self.device_obj])
        self.queue = cl.CommandQueue(self.context)
        self.pool = MemoryPool(ImmediateAllocator(self.queue))
        self.kernels = KernelCache(cl, self.context)
        fp64 = "cl_khr_fp64" in self.device_obj.extensions
        self.dtypes = frozenset(d for d in type(self).dtypes
                                if fp64 or d not in (dt.float64, dt.complex128))
        self._meta = {}
        self._is_cpu = bool(self.device_obj.type & cl.device_type.CPU)
        # on a CPU, pocl runs a work-group's items as the lanes of one vector loop, and
        # each barrier of the tree as one more loop: a row's sum over 16 items was 8 times
        # as fast as over 256 (4096 rows of 1024 float32)
        if self._is_cpu:
            self.reduce_group = 16
        # a fused float32 kernel of LANES elements a work-item stores whole vectors into
        # fresh buffers, which start on the device's base address alignment (bits)
        self._vector_stores = self._is_cpu and self.device_obj.mem_base_addr_align >= LANES * 32
        # an eager kernel's strided operands find their element by dividing the index by
        # extents known at run time: x86 has no vector integer division, so pocl divided
        # one lane at a time (x - x.max(axis=1, keepdims=True) on 4096 x 1024: 7.5 ms, in
        # float64 2.2 ms; a flat x - y 0.6 ms)
        self._divide_in_double = self._is_cpu and fp64

    def info(self):
        d = self.device_obj
        return [f"platform: {self.platform.name.strip()} ({self.platform.version.strip()})",
                f"device: {d.name.strip()}, {d.max_compute_units} compute units, "
                f"{d.global_mem_size / 2**30:.1f} GiB, max work-group {d.max_work_group_size}",
                f"float64: {'yes' if dt.float64 in self.dtypes else 'no (cl_khr_fp64 missing)'}, "
                f"float16 and bfloat16: stored in 16 bits, computed in float32; complex: "
                f"float2 and double2 (kernels/complex.cl); float8: their bits, moved and cast"]

    def synchronize(self):
        self.queue.finish()

    # -- memory ----------------------------------------------------------------
    def _alloc(self, shape, dtype):
        dtype = np.dtype(dtype)
        n = 1
        for d in shape:
            n *= d
        return StridedArray(self.pool.allocate(max(n, 1) * dtype.itemsize), shape, dtype)

    def _meta_buffer(self, values):
        key = tuple(values)
        buf = self._meta.get(key)
        if buf is None:
            if len(self._meta) > 4096:
                self._meta.clear()
            arr = np.asarray(key if key else (0,), dtype=np.int64)
            buf = self._meta[key] = self.cl.Buffer(
                self.context, self.cl.mem_flags.READ_ONLY | self.cl.mem_flags.COPY_HOST_PTR, hostbuf=arr)
        return buf

    def from_numpy(self, array):
        arr = np.ascontiguousarray(array)
        out = self._alloc(array.shape, arr.dtype)
        if arr.size:
            self.cl.enqueue_copy(self.queue, out.buf, arr)
        return out

    def to_numpy(self, buf):
        x = buf if buf.contiguous else self._copy(buf)
        host = np.empty(x.shape, dtype=x.dtype)
        if host.size:
            self.cl.enqueue_copy(self.queue, host, x.buf, src_offset=x.offset * x.dtype.itemsize,
                                 is_blocking=True)
        return host

    def full(self, shape, value, dtype):
        out = self._alloc(shape, dtype.np)
        if out.size:
            pattern = np.array([dt.host_scalar(value, dtype)], dtype=dtype.np)
            self.cl.enqueue_fill_buffer(self.queue, out.buf, pattern, 0, out.size * dtype.itemsize)
        return out

    # -- kernels rendered by StridedBackend._fused_code ------------------------------------
    SPELLING = _SPELLING

    def _language(self, n, eager=0, group=None, columns=False):
        lanes = LANES if self._vector_stores and not eager and n % LANES == 0 else 1
        return _OpenCLC("int" if n < 2 ** 31 else "long", eager, group, self._divide_in_double,
                        columns, lanes)

    @staticmethod
    def _lanes(spec, exprs, layout, out, accumulate):
        """Whether a fused group runs LANES elements per work-item: float32 throughout,
        each operand read whole (or one scalar), and only the spellings that hold for a
        vector. pocl's vectorizer makes a vector loop of a work-group's items, one
        element each, whose one dependency chain per step (exp's 14 steps after sqrt's)
        kept the CPU's units waiting: the benchmarks' chain of 8 ops on 4M float32 took
        1.8 ms; 16 lanes each, 1.0 ms."""
        f32 = np.dtype(np.float32)
        return (spec.reduce is None and out is None and not accumulate
                and all(strides is None or strides == () for strides in layout)
                and all(np.dtype(d) == f32 for _, d in spec.inputs)
                and all(np.dtype(node[3]) == f32 for node in spec.nodes)
                and all(e in _LANE_SPELLINGS for e in exprs))

    def _compile(self, spec, exprs, layout, lang, out=None, accumulate=False):
        return self._compile_all([(spec, exprs, layout, lang, out, accumulate)])[0]

    def _compile_all(self, items):
        """Kernels (``_compile``'s arguments each) in one program, each distinct set of
        functions written once (``op0``... of the first, ``op1_0``... of the second):
        pocl's build costs ~0.35 s for one kernel and ~0.007 s more for each other, and
        makes each kernel's machine code only at its first launch."""
        rendered = [self._render(f"fused{i}", *item) for i, item in enumerate(items)]
        sets, funcs, kernels = {}, [], []
        for r in rendered:
            if tuple(r[0]) not in sets:
                sets[tuple(r[0])] = len(sets)
                funcs += [_renamed(f, len(sets) - 1) for f in r[0]]
            kernels.append(_renamed(r[1], sets[tuple(r[0])]))
        kernels = self.kernels.build("helpers.cl", "\n".join(funcs) + "".join(kernels),
                                     [f"fused{i}" for i in range(len(items))])
        for kernel, r in zip(kernels, rendered):
            kernel.set_scalar_arg_dtypes(r[2])          # see kernels._typed
        return [self._launcher(kernel, *r[3:]) for kernel, r in zip(kernels, rendered)]

    def _render(self, name, spec, exprs, layout, lang, out=None, accumulate=False):
        """(functions, kernel, its scalar arguments' dtypes, lang, work-group, rows,
        accumulate) of a fused group (or an eager one, ``lang.eager``) in OpenCL C, after
        kernels/helpers.cl: one work-item per element; for a reduction, one work-group per
        row folding in local memory, or (``lang.columns``) one work-item per column."""
        if lang.lanes > 1 and not self._lanes(spec, exprs, layout, out, accumulate):
            lang = _OpenCLC(lang.idx, lang.eager, lang.group, False, lang.columns)
        outs_decl = [f"__global {storage(spec.nodes[j][3])}* restrict o{m}"
                     for m, j in enumerate(spec.outputs)]
        ins_decl = [f"__global const {storage(spec.inputs[k][1])}* restrict i{m}, const long f{m}"
                    for m, k in enumerate(spec.buffers)]
        params = ["const long h0", "__global const long* meta"] if lang.eager else []
        if spec.reduce is None:      # no bounds test: it keeps pocl from vectorizing (5x)
            first = "get_global_id(0)" + (f" * {lang.lanes}" if lang.lanes > 1 else "")
            head, tail, wg, rows = [f"const long g = {first};"], [], None, None
        else:   # a work-group per row (or, eager, a work-item per column: lang.columns)
            kind, reduced = spec.reduce[:2]
            dtype = np.dtype(spec.nodes[reduced][3])
            t = ctype(dtype)
            fold, init = _c_fold(kind, dtype)
            rows, length, index = self._fused_rows(spec, lang)
            outs_decl.append(f"__global {storage(dtype)}* red")
            if lang.columns:
                wg, rows, first, step = None, None, "0", 1
                head = ["const long row = get_global_id(0);"]
                if self._is_cpu:    # a barrier in the loop makes pocl run the group's
                    # items (adjacent columns) as vector lanes at each step: 16.4 -> 2.8
                    # ms for a sum over the 4096 rows of 1024 columns
                    index = index + ["barrier(CLK_LOCAL_MEM_FENCE);"]
            else:
                wg = lang.group or work_group(length, self.reduce_group)
                first, step = "lid", wg
                head = [f"__local {t} part[{wg}];", "const long row = get_group_id(0);",
                        "const int lid = get_local_id(0);"]
            # each work-item folds blocks of REDUCE_BLOCK elements into b, then b into acc
            # (a float sum's with Kahan's compensation, comp: see REDUCE_BLOCK)
            head = [f"#define FOLD(a, b) {fold}"] + head + [
                f"{t} acc = {init}, comp = 0;",
                f"for (long jb = {first}; jb < {length}; jb += {step * REDUCE_BLOCK}) {{",
                f"{t} b = {init};",
                f"const long end = min(jb + {step * REDUCE_BLOCK}, (long)({length}));",
                f"for (long j = jb; j < end; j += {step}) {{"] + index
            tail = [f"b = FOLD(b, v{reduced});", "}"] + (
                [f"const {t} y_ = b - comp, s_ = acc + y_;",
                 "comp = s_ - s_ == 0 ? (s_ - acc) - y_ : 0;", "acc = s_;"]
                if kind == "sum" and dtype.kind == "f" else ["acc = FOLD(acc, b);"]) + ["}"]
            if lang.columns:
                tail.append(lang.store("red", "row", "acc - comp", dtype))
            else:
                tail += ["part[lid] = acc - comp;", "barrier(CLK_LOCAL_MEM_FENCE);",
                         f"for (int s = {wg} / 2; s > 0; s >>= 1) {{",
                         "    if (lid < s) part[lid] = FOLD(part[lid], part[lid + s]);",
                         "    barrier(CLK_LOCAL_MEM_FENCE);", "}",
                         "if (lid == 0) " + lang.store("red", "row", "part[0]", dtype)]
        funcs, body = self._fused_code(spec, exprs, layout, lang, out, accumulate)
        scalars = [None] * len(outs_decl) + [None, np.int64] * len(ins_decl) + (
            [np.int64, None] if lang.eager else [])      # the pointers, the offsets
        return funcs, (f"\n__kernel void {name}(" + ", ".join(outs_decl + ins_decl + params)
                       + ") {\n    " + "\n    ".join(head + body + tail) + "\n}\n"), \
            scalars, lang, wg, rows, accumulate

    def _launcher(self, kernel, lang, wg, rows, accumulate):
        """launch(outs, inputs, n, meta, offset) of a built kernel: whole work-groups of
        ``group`` and the rest, so no work-item is out of bounds; a reduction's a
        work-group per row."""
        group = min(1024 if self._is_cpu else 256, kernel.get_work_group_info(
            self.cl.kernel_work_group_info.WORK_GROUP_SIZE, self.device_obj))
        if lang.columns:
            group = min(group, lang.group)
        group = max(1, group // lang.lanes)

        def launch(outs, inputs, n, meta=(), offset=0):
            n //= lang.lanes
            args = [o.buf for o in outs]
            for x in inputs:
                args += [x.buf, np.int64(x.offset)]
            if lang.eager:
                args += [np.int64(offset), self._meta_buffer(meta)]
            if wg is None:  # whole work-groups, then the rest: two work-group sizes in all
                main = n - n % group       # (pocl builds each kernel once per size it meets)
                if main:
                    kernel(self.queue, (main,), (group,), *args)
                if n > main and main and not accumulate and not any(
                        x.buf is o.buf for x in inputs for o in outs):
                    # the last whole work-group again, ending at n: in-order, and it
                    # writes what is there already
                    kernel(self.queue, (group,), (group,), *args, global_offset=(n - group,))
                elif n > main:   # work-groups of one
                    kernel(self.queue, (n - main,), (1,), *args, global_offset=(main,))
            else:           # a work-group per row: n rows in an eager kernel
                kernel(self.queue, ((n if lang.eager else rows) * wg,), (wg,), *args)
        return launch

    # -- reductions (sum, max and min are StridedBackend._reduce) ----------------------
    @computed_wide(indices=(0,))
    def argmax(self, x, axis, keepdims):
        kept_shape, rows, length, arr = self._rows(x, (axis,))
        out = self._alloc(kept_shape, np.int64)
        if rows:
            greater = "((a) > (b) || ((a) != (a) && (b) == (b)))" if x.dtype in _FLOATS else "((a) > (b))"
            wg = work_group(length, self.reduce_group)
            kernel = self.kernels.get("argmax.cl", "argmax_rows", T=ctype(x.dtype), WG=wg,
                                      **{"GREATER(a, b)": greater})
            kernel(self.queue, (rows * wg,), (wg,), out.buf, arr.buf, np.int64(length))
        return self._keep(out, x.shape, (axis,), keepdims)

    # -- max pooling ------------------------------------------------------------------
    def _pool_kernel(self, name, arrays, dtype, window, sizes):
        (kh, kw), (sh, sw), (dh, dw) = window
        kernel = self.kernels.get("pool.cl", name, T=ctype(dtype), FLOAT=int(dtype in _FLOATS),
                                  KH=kh, KW=kw, SH=sh, SW=sw, DH=dh, DW=dw)
        total = arrays[0].size
        kernel(self.queue, _padded(total), (64,), *[a.buf for a in arrays],
               *[np.int64(v) for v in sizes], np.int64(total))

    # -- gather and scatter_add -------------------------------------------------------
    def _indexed(self, name, out, data, idx, shape, axis, total):
        """Run gather or scatter_add over ``total`` positions of (pre, len(idx), post)."""
        if total:
            post = 1
            for d in shape[axis + 1:]:
                post *= d
            kernel = self.kernels.get("index.cl", name, T=ctype(data.dtype),
                                      ATOMIC=_atomic(data.dtype))
            kernel(self.queue, _padded(total), (64,), out.buf, data.buf, idx.buf, np.int64(shape[axis]),
                   np.int64(idx.size), np.int64(post), np.int64(total))
        return out

    @computed_wide()
    def gather(self, x, axis, index):
        x, idx = self._packed(x), self._packed(index)
        out = self._alloc(x.shape[:axis] + idx.shape + x.shape[axis + 1:], x.dtype)
        return self._indexed("gather", out, x, idx, x.shape, axis, out.size)

    @by_parts
    @computed_wide()
    def scatter_add(self, shape, axis, index, src):
        out = self.full(shape, 0, dt.from_numpy_dtype(src.dtype))
        src, idx = self._packed(src), self._packed(index)
        return self._indexed("scatter_add", out, src, idx, shape, axis, src.size)

    # -- attention (kernels/attention.cl) ----------------------------------------------
    def _attention_kernel(self, name, q, v, mask, keep, causal):
        e, ev = q.shape[-1], v.shape[-1]
        width = next(w for w in (16, 8, 4, 2, 1)
                     if e % w == 0 and ev % w == 0 and (w <= 8 or q.dtype.itemsize == 4))
        t = ctype(q.dtype)
        bool_mask = mask is not None and mask.dtype == np.bool_
        return self.kernels.get(
            "attention.cl", name, T=t, TV=t if width == 1 else f"{t}{width}", W=width, E=e,
            EV=ev, CAUSAL=int(causal), MASK=0 if mask is None else (1 if bool_mask else 2),
            MT="uchar" if bool_mask else t, KEEP=int(keep is not None))

    def _rows_launch(self, kernel, rows, count, *args):
        """``kernel`` over (rows, batch entries) in work-groups of 64 rows, the last one
        partly past the rows (the kernel returns there): pocl left to choose runs it 1.4x
        slower, and builds it anew for each size it meets."""
        kernel(self.queue, (_padded(rows)[0], count), (64, 1), *args)

    def _attention_args(self, arrays, offsets, strides, length, source, scale):
        q, k, v, mask, keep = arrays
        (msl, mss), (ksl, kss) = strides
        return [q.buf, k.buf, v.buf, None if mask is None else mask.buf,
                None if keep is None else keep.buf, self._meta_buffer(offsets),
                np.int32(length), np.int32(source), q.dtype.type(scale),
                np.int64(msl), np.int64(mss), np.int64(ksl), np.int64(kss)]

    # erf and GELU (exact and tanh form), one kernel each (kernels/helpers.cl; erf and
    # the exact GELU compute in float64, which WGSL lacks)
    def fast_gelu_tanh(self, x):
        return self._unary("fast_gelu_tanh", x)

    def fast_gelu_tanh_grad(self, g, x):
        return self._binary("fast_gelu_tanh_grad", g, x)

    def fast_erf(self, x):
        return self._unary("fast_erf", x)

    def fast_gelu(self, x):
        return self._unary("fast_gelu", x)

    def fast_gelu_grad(self, g, x):
        return self._binary("fast_gelu_grad", g, x)

    @computed_wide(state=True)
    def fast_attention(self, q, k, v, mask, keep, scale, causal):
        """Flash attention (kernels/attention.cl): a work-item per query row streams the
        keys with an online softmax; the state kept for backward is each row's
        log-sum-exp."""
        arrays, batch, offsets, strides = self._attention_layout(q, k, v, mask, keep)
        length, source = q.shape[-2], k.shape[-2]
        out = self._alloc(batch + (length, v.shape[-1]), q.dtype)
        lse = self._alloc(batch + (length,), q.dtype)
        count = int(np.prod(batch, dtype=np.int64))
        if length and count:
            # 0 * sum(v): NaN when a value is not finite, so that keys weighing 0 count
            poison = self._reduce("sum", self.mul(v, self.full((), 0, dt.from_numpy_dtype(
                v.dtype))), tuple(range(v.ndim)), False)
            self._rows_launch(self._attention_kernel("attention", q, v, mask, keep, causal),
                              length, count, out.buf, lse.buf, poison.buf,
                              *self._attention_args(arrays, offsets, strides, length, source, scale))
        return lse, out

    @computed_wide()
    def fast_attention_grad(self, g, q, k, v, mask, keep, scale, causal, lse, out):
        """dq over the query rows (and rowsum(g * out) on the way), then dk and dv over
        the key rows, each probability recomputed from the saved log-sum-exp."""
        arrays, batch, offsets, strides = self._attention_layout(q, k, v, mask, keep)
        length, source = q.shape[-2], k.shape[-2]
        count = int(np.prod(batch, dtype=np.int64))
        shapes = [batch + x.shape[-2:] for x in (q, k, v)]
        if not (length and source and count):    # no query sees a key: zero gradients
            return tuple(self.full(shape, 0, dt.from_numpy_dtype(q.dtype)) for shape in shapes)
        g, out, lse = (self._packed(x) for x in (self.expand(g, out.shape), out, lse))
        dq, dk, dv = (self._alloc(shape, q.dtype) for shape in shapes)
        rowdot = self._alloc(batch + (length,), q.dtype)
        args = self._attention_args(arrays, offsets, strides, length, source, scale)
        self._rows_launch(self._attention_kernel("attention_dq", q, v, mask, keep, causal),
                          length, count, dq.buf, rowdot.buf, g.buf, out.buf, lse.buf, *args)
        self._rows_launch(self._attention_kernel("attention_dkv", q, v, mask, keep, causal),
                          source, count, dk.buf, dv.buf, g.buf, rowdot.buf, lse.buf, *args)
        return dq, dk, dv

    matmul = by_parts(computed_wide()(StridedBackend.matmul))
    fast_max_pool2d = computed_wide(indices=(1,))(StridedBackend.fast_max_pool2d)
    fast_max_unpool2d = computed_wide()(StridedBackend.fast_max_unpool2d)

    # -- matmul (StridedBackend.matmul tunes the tiling) -----------------------------------
    def tuning_name(self):
        d = self.device_obj
        return f"opencl:{d.name.strip()}:{d.driver_version.strip()}"

    def _matmul_candidates(self, dtype, m_tile, n_tile):
        """(RM, RN, work-group width; 0 lets the driver choose): the default first, a
        block of C of up to 16 x 16 (8 x 8 in float64) in registers, 16 blocks of
        columns per work-group on a CPU (pocl: they share the A panel in cache)."""
        top = 16 if dtype.itemsize == 4 else 8
        rm, rn, wg = min(top, m_tile), min(top, n_tile), 16 if self._is_cpu else 0
        tiles = [(rm, rn)] + [(a, b) for a in (16, 8, 4) for b in (16, 8, 4)
                              if a <= rm and b <= rn and (a, b) != (rm, rn)]
        return [(a, b, wg) for a, b in tiles] + [(rm, rn, g) for g in (0, 4, 64) if g != wg]

    def _matmul(self, a, b, m, k, n, batch, count, choice):
        if count * m <= _FEW_ROWS and b.ndim == 2 and k >= _VW:
            w = self.permute(b, (1, 0))
            if w.contiguous and w.offset == 0:            # a weight seen transposed
                return self._matmul_rows_nt(a, w, count * m, k, n, batch + (m, n))
        if a.ndim == 2:                                   # A transposed, contiguous, offset 0
            at = self._transpose2d(a)
        else:
            at = self._copy(self.permute(a, tuple(range(a.ndim - 2)) + (a.ndim - 1, a.ndim - 2)))
        if b.ndim == 2 and not (b.contiguous and b.offset == 0):
            b = self._transpose2d(self.permute(b, (1, 0)))   # e.g. a weight seen transposed
        b = self._packed(b)
        out = self._alloc(batch + (m, n), a.dtype)
        offsets = self._meta_buffer(
            batch_offsets(batch, (a.shape[:-2], m * k, 0), (b.shape[:-2], k * n, 0)))
        rm, rn, wg = choice
        T = ctype(a.dtype)
        kernel = self.kernels.get("matmul.cl", "matmul", T=T, TV=f"{T}{rn}", TM=f"{T}{rm}",
                                  RM=rm, RN=rn, **({} if a.dtype in _FLOATS else {"INTEGER": 1}))
        grid = [-(-n // rn), -(-m // rm), count]
        if wg:
            grid[0] = -(-grid[0] // wg) * wg
        kernel(self.queue, tuple(grid), (wg, 1, 1) if wg else None, out.buf, at.buf, b.buf,
               offsets, np.int32(m), np.int32(n), np.int32(k))
        return out

    def _matmul_rows_nt(self, a, w, rows, k, n, shape):
        """A few rows of A against W (N x K) as stored: matmul.cl's matmul_rows_nt."""
        a = self._packed(a)
        out = self._alloc(shape, a.dtype)
        T = ctype(a.dtype)
        kernel = self.kernels.get("matmul.cl", "matmul_rows_nt", T=T, TV=f"{T}{_VW}", VW=_VW,
                                  TM=f"{T}4", RM=4, RN=_VW, ROWS=_FEW_ROWS,  # (RM, RN: matmul)
                                  **({} if a.dtype in _FLOATS else {"INTEGER": 1}))
        kernel(self.queue, _padded(n), (64,), out.buf, a.buf, w.buf, np.int32(rows),
               np.int32(n), np.int32(k))
        return out

    def _transpose2d(self, x):
        rows, cols = x.shape
        out = self._alloc((cols, rows), x.dtype)
        if out.size:
            T = ctype(x.dtype)
            kernel = self.kernels.get("transpose.cl", "transpose", T=T)
            grid = (-(-cols // 16) * 16, -(-rows // 16) * 16)
            kernel(self.queue, grid, (16, 16), out.buf, x.buf, np.int64(x.offset),
                   np.int64(x.strides[0]), np.int64(x.strides[1]), np.int32(rows), np.int32(cols))
        return out


#: matmuls of at most this many rows against a transposed weight take matmul_rows_nt,
#: which reads K in vectors of _VW
_FEW_ROWS, _VW = 8, 8


def _padded(n):
    """The global size of a kernel that tests its bounds, run in work-groups of 64: one
    work-group size, so pocl builds it once (a size of its own choosing differs with n)."""
    return (-(-n // 64) * 64,)


def _atomic(dtype):
    """index.cl's ATOMIC code of scatter_add in ``dtype``."""
    return {np.dtype(np.float32): 1, np.dtype(np.float64): 2, np.dtype(np.int32): 3,
            np.dtype(np.uint32): 3, np.dtype(np.int64): 4, np.dtype(np.uint64): 4,
            np.dtype(np.bool_): 5}.get(np.dtype(dtype), 0)
