// Flash attention's dk and dv (kernels/attention.cl's attention_dkv): one invocation per
// key row, over the queries that may see it; o holds dk (entries, S, E) and then dv
// (entries, S, EV).
// include attention_grad.wgsl

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let S = p[1];
    let row = attention_row(wid, nw, lid, S);
    if (!row.live) {
        return;
    }
    let L = p[0];
    let b = row.b;
    let j = row.r;
    let off = row.off;
    let qo = p[off];
    var kv: array<f32, E>;
    var vv: array<f32, EV>;
    var ak: array<f32, E>;
    var av: array<f32, EV>;
    for (var c = 0; c < E; c++) {
        kv[c] = qkv[p[off + 1] + j * E + c];
        ak[c] = 0.0;
    }
    for (var c = 0; c < EV; c++) {
        vv[c] = qkv[p[off + 2] + j * EV + c];
        av[c] = 0.0;
    }
    for (var i = select(0, j, CAUSAL); i < L; i++) {
        let r = b * L + i;
        let w = ember_exp(attention_score(&kv, qo + i * E, p[off + 3] + i * p[2] + j * p[3]) - lr[r]);
        if (w == 0.0) {
            continue;
        }
        let kept = attention_keep(p[off + 4], i, j);
        var dp = 0.0;
        for (var c = 0; c < EV; c++) {
            dp = fma(vv[c], g[r * EV + c], dp);
        }
        for (var c = 0; c < EV; c++) {
            av[c] = fma(w * kept, g[r * EV + c], av[c]);
        }
        let ds = w * (dp * kept - lr[p[7] * L + r]);
        for (var c = 0; c < E; c++) {
            ak[c] = fma(ds, qkv[qo + i * E + c], ak[c]);
        }
    }
    let rr = b * S + j;
    let scale = bitcast<f32>(p[6]);
    for (var c = 0; c < E; c++) {
        o[rr * E + c] = ak[c] * scale;
    }
    for (var c = 0; c < EV; c++) {
        o[p[7] * S * E + rr * EV + c] = av[c];
    }
}
