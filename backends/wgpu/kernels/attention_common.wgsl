// What the flash-attention shaders (attention*.wgsl, kernels/attention.cl's algorithm)
// share: fields MT (the mask's element type), E and EV (query/key and value features),
// CAUSAL (keys past the query skipped), MASK (0 none, 1 bool: 0 refuses, 2 float: added)
// and KEEP (a dropout mask, already scaled), and HELPERS (ember_exp, ember_log). q, k
// and v are one buffer, qkv. p = (L, S, mask row and column strides, keep row and column
// strides, scale's bits, batch entries, then five offsets per entry: q, k, v, mask, keep).
alias MT = {{MT}};
const E: i32 = {{E}};
const EV: i32 = {{EV}};
const CAUSAL: bool = {{CAUSAL}};
const MASK: i32 = {{MASK}};
const KEEP: bool = {{KEEP}};

{{HELPERS}}

// (batch entry, row) of this invocation: 64 rows of one entry per workgroup, the
// workgroups of a (x, y) grid counted row-major
fn attention_item(wid: vec3<u32>, nw: vec3<u32>, lid: u32, rows: i32) -> vec2<i32> {
    let blocks = (rows + 63) / 64;
    let linear = i32(wid.y * nw.x + wid.x);
    return vec2<i32>(linear / blocks, (linear % blocks) * 64 + i32(lid));
}

// the score of a row `a` against the row of qkv at `base`, or -inf where the mask refuses
fn attention_score(a: ptr<function, array<f32, E>>, base: i32, at: i32) -> f32 {
    if (MASK == 1) {
        if (mask[at] == MT(0)) {
            return bitcast<f32>(0xff800000u);   // -inf
        }
    }
    var d = 0.0;
    for (var c = 0; c < E; c++) {
        d = fma((*a)[c], qkv[base + c], d);
    }
    var s = d * bitcast<f32>(p[6]);
    if (MASK == 2) {
        s += f32(mask[at]);
    }
    return s;
}

// the dropout mask's (i, j) for the entry whose keep starts at `base`
fn attention_keep(base: i32, i: i32, j: i32) -> f32 {
    if (KEEP) {
        return keep[base + i * p[4] + j * p[5]];
    }
    return 1.0;
}
