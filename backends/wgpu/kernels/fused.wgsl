// A run of elementwise primitives (fused by ember.compile, or one eager primitive),
// rendered by StridedBackend._fused_code (WgpuBackend._compile). Template fields:
//   DECLS     the outputs (read-write), the inputs, and p: n, then each input's offset
//             (an eager shader's p goes on: the output's offset, extents, strides)
//   HELPERS   the helper functions the primitives call (ember_exp..., ember_ipow)
//   FUNCS     one function per primitive of the run
//   BODY      the element's loads (at baked strides), calls and stores, for flat index g

{{DECLS}}

{{HELPERS}}

{{FUNCS}}

fn element(g: i32) {
    {{BODY}}
}

// include grid_stride.wgsl
