// Flash attention's dq (kernels/attention.cl's attention_dq): one invocation per query
// row, each probability recomputed from the saved log-sum-exp; lr holds the log-sum-exps
// (entries, L) and then rowsum(g * out) of each row.
@group(0) @binding(0) var<storage, read_write> dq: array<f32>;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> lr: array<f32>;
@group(0) @binding(3) var<storage, read> qkv: array<f32>;
@group(0) @binding(4) var<storage, read> mask: array<{{MT}}>;
@group(0) @binding(5) var<storage, read> keep: array<f32>;
@group(0) @binding(6) var<storage, read> p: array<i32>;

// include attention_common.wgsl

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let L = p[0];
    let S = p[1];
    let item = attention_item(wid, nw, lid, L);
    let b = item.x;
    let i = item.y;
    if (b >= p[7] || i >= L) {
        return;
    }
    let off = 8 + 5 * b;
    let ko = p[off + 1];
    let vo = p[off + 2];
    let mo = p[off + 3] + i * p[2];
    let r = b * L + i;
    let top = lr[r];
    let rowdot = lr[p[7] * L + r];
    var qv: array<f32, E>;
    var gv: array<f32, EV>;
    var acc: array<f32, E>;
    for (var c = 0; c < E; c++) {
        qv[c] = qkv[p[off] + i * E + c];
        acc[c] = 0.0;
    }
    for (var c = 0; c < EV; c++) {
        gv[c] = g[r * EV + c];
    }
    let end = select(S, min(S, i + 1), CAUSAL);
    for (var j = 0; j < end; j++) {
        let w = ember_exp(attention_score(&qv, ko + j * E, mo + j * p[3]) - top);
        if (w == 0.0) {
            continue;
        }
        var dp = 0.0;
        for (var c = 0; c < EV; c++) {
            dp = fma(gv[c], qkv[vo + j * EV + c], dp);
        }
        let ds = w * (dp * attention_keep(p[off + 4], i, j) - rowdot);
        for (var c = 0; c < E; c++) {
            acc[c] = fma(ds, qkv[ko + j * E + c], acc[c]);
        }
    }
    let scale = bitcast<f32>(p[6]);
    for (var c = 0; c < E; c++) {
        dq[r * E + c] = acc[c] * scale;
    }
}
