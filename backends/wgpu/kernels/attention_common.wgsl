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

// This invocation's batch entry b, its row r of `rows` (queries, or keys for dk and dv)
// and where the entry's offsets start in p: 64 rows of one entry per workgroup, the
// workgroups of a (x, y) grid counted row-major; `live` is false past the last row.
struct Row {
    b: i32,
    r: i32,
    off: i32,
    live: bool,
}

fn attention_row(wid: vec3<u32>, nw: vec3<u32>, lid: u32, rows: i32) -> Row {
    let blocks = (rows + 63) / 64;
    let linear = i32(wid.y * nw.x + wid.x);
    let b = linear / blocks;
    let r = (linear % blocks) * 64 + i32(lid);
    return Row(b, r, 8 + 5 * b, b < p[7] && r < rows);
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
