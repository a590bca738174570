"""Kernel sources (kernels/*.cl) built once per (source, defines) on a context and cached.

Defines become #define lines ahead of the source, so macros with arguments, such as
OP(x, y, z), pass through unchanged."""

import functools
import re
from pathlib import Path

import numpy as np

from ember import dtypes as dt

_SOURCES = Path(__file__).with_name("kernels")

#: the C type of each dtype's values; the 16-bit floats compute in float
CTYPES = {np.dtype(np.bool_): "uchar", np.dtype(np.int8): "char", np.dtype(np.int16): "short",
          np.dtype(np.int32): "int", np.dtype(np.int64): "long", np.dtype(np.uint8): "uchar",
          np.dtype(np.uint16): "ushort", np.dtype(np.uint32): "uint", np.dtype(np.uint64): "ulong",
          np.dtype(np.float32): "float", np.dtype(np.float64): "double",
          np.dtype(np.float16): "float", np.dtype(np.complex64): "float2",
          np.dtype(np.complex128): "double2"}
#: the C type of each dtype's buffers where it differs: float16 as half (read and written
#: with vload_half and vstore_half_rte, which need no cl_khr_fp16), bfloat16 as its bits
STORAGE = {np.dtype(np.float16): "half"}
if dt.bfloat16.np is not None:
    CTYPES[dt.bfloat16.np], STORAGE[dt.bfloat16.np] = "float", "ushort"
#: the 8-bit floats are held as their bits, and only cast (kernels/helpers.cl)
CTYPES.update({d.np: "uchar" for d in dt.FLOAT8 if d.np is not None})
#: the 16-bit floats: stored in 16 bits, computed in float, rounded at each op's result
HALF = tuple(STORAGE)


def ctype(dtype):
    return CTYPES[np.dtype(dtype)]


def storage(dtype):
    """The C type of a buffer of ``dtype``."""
    dtype = np.dtype(dtype)
    return STORAGE.get(dtype) or CTYPES[dtype]


#: no compiler warnings: on CPUs without AVX-512, pocl's clang warns about the ABI of
#: its own 16-wide vector builtins at every build ("7 warnings generated.", and
#: pyopencl's CompilerWarning), none of them about ember's kernels; and the kernels'
#: argument types, for _typed
BUILD_OPTIONS = ["-w", "-cl-kernel-arg-info"]

#: the dtype of each scalar argument type of a kernel
_SCALARS = {t: np.dtype(d) for t, d in (
    ("char", np.int8), ("uchar", np.uint8), ("short", np.int16), ("ushort", np.uint16),
    ("int", np.int32), ("uint", np.uint32), ("long", np.int64), ("ulong", np.uint64),
    ("float", np.float32), ("double", np.float64))}


def _typed(cl, kernel):
    """``kernel`` with its scalar arguments' dtypes declared, so that pyopencl packs them
    itself: its set_arg took 8 us for one NumPy scalar, 16 of the 20 us of an eager
    launch with two offsets (then 4 us)."""
    info, private = cl.kernel_arg_info, cl.kernel_arg_address_qualifier.PRIVATE
    kernel.set_scalar_arg_dtypes([
        _SCALARS.get(kernel.get_arg_info(i, info.TYPE_NAME))
        if kernel.get_arg_info(i, info.ADDRESS_QUALIFIER) == private else None
        for i in range(kernel.num_args)])
    return kernel


_NAME = re.compile(r"\b(?:ember|EMBER)_\w+")


@functools.lru_cache(maxsize=None)
def sections(text):
    """(always, ((names, uses, section), ...)) of a helpers source, read once per source:
    its lines above the first "//@" line, and each section with the names its "//@" lines
    list and the ember names its text uses."""
    always, parts, listed = [], [], None
    for line in text.splitlines(keepends=True):
        if line.startswith("//@"):
            if listed is None or parts[-1][1]:      # a new section, unless still in its names
                listed = []
                parts.append((listed, []))
            listed += line[3:].split()
        elif listed is None:
            always.append(line)
        else:
            parts[-1][1].append(line)
    return "".join(always), tuple((frozenset(names), frozenset(_NAME.findall("".join(lines))),
                                   "".join(lines)) for names, lines in parts)


def helpers_for(text, code):
    """The part of helpers source ``text`` that ``code`` needs: pocl parses every line of
    a program at each build, and all of kernels/helpers.cl took 0.07 of 0.25 s to build
    a one-line kernel (AMD EPYC, 2026-12-04)."""
    always, parts = sections(text)
    used, keep = set(_NAME.findall(code)), [False] * len(parts)
    grew = True
    while grew:     # a section's own uses bring in the sections above it that it needs
        grew = False
        for i, (names, uses, _) in enumerate(parts):
            if not keep[i] and names & used:
                keep[i] = grew = True
                used |= uses
    return always + "".join(part for k, (_, _, part) in zip(keep, parts) if k)


class KernelCache:
    """Programs built with -D defines, one per distinct (file, defines) on one context."""

    def __init__(self, cl, context):
        self.cl, self.context = cl, context
        self.sources = {}
        self.kernels = {}
        # float32 / and sqrt correctly rounded where the device offers it (NVIDIA's
        # default division is 2.5 ULP off: trunc(x / x) was 0 for x = 0.09998)
        exact = cl.device_fp_config.CORRECTLY_ROUNDED_DIVIDE_SQRT
        self.options = BUILD_OPTIONS + (["-cl-fp32-correctly-rounded-divide-sqrt"] if all(
            d.single_fp_config & exact for d in context.devices) else [])

    def _source(self, filename):
        if filename not in self.sources:
            self.sources[filename] = (_SOURCES / filename).read_text()
        return self.sources[filename]

    def build(self, filename, code, names):
        """Kernels ``names`` of generated ``code`` appended to ``filename`` (its helpers);
        the caller declares their scalar arguments' dtypes (it wrote them)."""
        key = (filename, code)
        kernels = self.kernels.get(key)
        if kernels is None:
            header = "#define NEED_FP64 1\n" if "double" in code else ""
            code = "".join(   # complex.cl once per real type used
                f"#define R {r}\n#define C {r}2\n{self._source('complex.cl')}#undef R\n#undef C\n"
                for r in ("float", "double") if f"{r}2" in code) + code
            source = helpers_for(self._source(filename), code)
            program = self.cl.Program(self.context, header + source + code).build(self.options)
            kernels = self.kernels[key] = [self.cl.Kernel(program, name) for name in names]
        return kernels

    def get(self, filename, name, **defines):
        key = (filename, name, tuple(sorted(defines.items())))
        kernel = self.kernels.get(key)
        if kernel is None:
            header = "".join(f"#define {k} {v}\n" for k, v in sorted(defines.items()))
            if any("double" in str(v) for v in defines.values()):
                header += "#define NEED_FP64 1\n"
            program = self.cl.Program(self.context, header + self._source(filename)).build(
                self.options)
            kernel = self.kernels[key] = _typed(self.cl, self.cl.Kernel(program, name))
        return kernel
