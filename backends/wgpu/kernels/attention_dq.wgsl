// Flash attention's dq (kernels/attention.cl's attention_dq): one invocation per query
// row, each probability recomputed from the saved log-sum-exp; o is dq.
// include attention_grad.wgsl

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let L = p[0];
    let row = attention_row(wid, nw, lid, L);
    if (!row.live) {
        return;
    }
    let i = row.r;
    let off = row.off;
    let ko = p[off + 1];
    let vo = p[off + 2];
    let mo = p[off + 3] + i * p[2];
    let r = row.b * L + i;
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
    let S = p[1];
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
        o[r * E + c] = acc[c] * scale;
    }
}
