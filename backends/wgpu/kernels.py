"""WGSL sources (kernels/*.wgsl) instantiated from {{FIELD}} templates, compiled into
compute pipelines once per (file, fields) and cached on the device.

WGSL has no preprocessor, so fields are plain text substitutions (and a line
``// include FILE`` pastes a shared file, and what it includes); every shader's bindings
are storage buffers, the first read-write and the rest read-only."""

import re
from pathlib import Path

import numpy as np

from ember import dtypes as dt

_SOURCES = Path(__file__).with_name("kernels")
_FIELD = re.compile(r"\{\{(\w+)\}\}")
_INCLUDE = re.compile(r"^// include (\S+)$", re.M)   # a shared file, pasted in

#: the WGSL storage type of each NumPy dtype (bool is stored as u32: 0 or 1; the 8- and
#: 16-bit integers as i32 or u32 values within their range, wrapped at each op; float16
#: and bfloat16 as the f32 of their values, rounded at each op; complex64 as
#: vec2<f32>, kernels/complex.wgsl's functions)
WGSL_TYPES = {np.dtype(np.bool_): "u32", np.dtype(np.int8): "i32", np.dtype(np.int16): "i32",
              np.dtype(np.int32): "i32", np.dtype(np.uint8): "u32", np.dtype(np.uint16): "u32",
              np.dtype(np.uint32): "u32", np.dtype(np.float32): "f32",
              np.dtype(np.complex64): "vec2<f32>"}
WGSL_TYPES[np.dtype(np.float16)] = "f32"
if dt.bfloat16.np is not None:
    WGSL_TYPES[dt.bfloat16.np] = "f32"
#: the 8-bit floats are held as their bits in a u32, and only cast
WGSL_TYPES.update({d.np: "u32" for d in dt.FLOAT8 if d.np is not None})


def _pasted(filename):
    """A kernel file with the files it includes pasted in, and theirs."""
    return _INCLUDE.sub(lambda m: _pasted(m.group(1)), (_SOURCES / filename).read_text())


def wgsl_type(dtype):
    return WGSL_TYPES[np.dtype(dtype)]


def matmul_block(rb, c):
    """matmul.wgsl's generated fields for a block of 4 * rb rows and c vec4 columns."""
    rows, cols = range(4 * rb), range(c)
    accumulators = "\n".join(f"    var acc{r}_{j} = vec4<T>();" for r in rows for j in cols)
    step = "\n".join([f"        let a{q} = at[ia + {q}];" for q in range(rb)]
                     + [f"        let b{j} = b[ib + {j}];" for j in cols]
                     + [f"        acc{r}_{j} += a{r // 4}.{'xyzw'[r % 4]} * b{j};"
                        for r in rows for j in cols])
    stores = "\n".join(f"    if (row + {r} < m) {{\n        c[base + {r} * n4] = acc{r}_0;\n"
                        + "".join(f"        if (col + {j} < n4) {{\n"
                                  f"            c[base + {r} * n4 + {j}] = acc{r}_{j};\n"
                                  f"        }}\n" for j in cols[1:]) + "    }" for r in rows)
    return {"RB": rb, "C": c, "ACCUMULATORS": accumulators, "STEP": step, "STORES": stores}


class ShaderCache:
    """Compute pipelines with explicit layouts: binding 0 read-write, the others read-only."""

    def __init__(self, wgpu, device):
        self.wgpu, self.device = wgpu, device
        self.sources = {}
        self.pipelines = {}
        self.layouts = {}

    def layout(self, count, writable=1):
        """The bind group layout of a shader with ``count`` storage bindings, the first
        ``writable`` of them read-write."""
        layout = self.layouts.get((count, writable))
        if layout is None:
            kinds = self.wgpu.BufferBindingType
            entries = [{"binding": i, "visibility": self.wgpu.ShaderStage.COMPUTE,
                        "buffer": {"type": kinds.storage if i < writable else kinds.read_only_storage}}
                       for i in range(count)]
            layout = self.layouts[count, writable] = self.device.create_bind_group_layout(
                entries=entries)
        return layout

    def source(self, filename, fields):
        if filename not in self.sources:
            self.sources[filename] = _pasted(filename)
        return _FIELD.sub(lambda m: str(fields[m.group(1)]), self.sources[filename])

    def get(self, filename, bindings, writable=1, **fields):
        """(pipeline, bind group layout) of ``filename`` with ``fields`` filled in."""
        key = (filename, writable, tuple(sorted(fields.items())))
        found = self.pipelines.get(key)
        if found is None:
            code = self.source(filename, fields)
            layout = self.layout(bindings, writable)
            module = self.device.create_shader_module(code=code)
            pipeline = self.device.create_compute_pipeline(
                layout=self.device.create_pipeline_layout(bind_group_layouts=[layout]),
                compute={"module": module, "entry_point": "main"})
            found = self.pipelines[key] = (pipeline, layout)
        return found
