// Flash attention forward (kernels/attention.cl's): one invocation per query row of one
// batch entry streams the keys it may see with an online softmax; o holds the output
// (entries, L, EV) and then each row's log-sum-exp (+inf where the row attends nowhere).
// poison[0] counts v's values that are not finite; where there are any, the keys a row
// may not attend weigh 0 too (0 * inf is NaN, as PyTorch's attention gives).
@group(0) @binding(0) var<storage, read_write> o: array<f32>;
@group(0) @binding(1) var<storage, read> poison: array<f32>;
@group(0) @binding(2) var<storage, read> qkv: array<f32>;
@group(0) @binding(3) var<storage, read> mask: array<{{MT}}>;
@group(0) @binding(4) var<storage, read> keep: array<f32>;
@group(0) @binding(5) var<storage, read> p: array<i32>;

// include attention_common.wgsl

// acc += 0 * v[j], by v's bits: a compiler may take 0 * x as 0
fn weigh_zero(acc: ptr<function, array<f32, EV>>, base: i32) {
    for (var c = 0; c < EV; c++) {
        if ((bitcast<u32>(qkv[base + c]) & 0x7fffffffu) >= 0x7f800000u) {
            (*acc)[c] = bitcast<f32>(0x7fc00000u);
        }
    }
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let L = p[0];
    let row = attention_row(wid, nw, lid, L);
    if (!row.live) {
        return;
    }
    let S = p[1];
    let b = row.b;
    let i = row.r;
    let off = row.off;
    let qo = p[off];
    let ko = p[off + 1];
    let vo = p[off + 2];
    let mo = p[off + 3] + i * p[2];
    let poisoned = poison[0] > 0.0;
    var qv: array<f32, E>;
    var acc: array<f32, EV>;
    for (var c = 0; c < E; c++) {
        qv[c] = qkv[qo + i * E + c];
    }
    for (var c = 0; c < EV; c++) {
        acc[c] = 0.0;
    }
    var m = bitcast<f32>(0xff800000u);
    var l = 0.0;
    let end = select(S, min(S, i + 1), CAUSAL);
    for (var j = 0; j < end; j++) {
        let s = attention_score(&qv, ko + j * E, mo + j * p[3]);
        if (s == bitcast<f32>(0xff800000u)) {
            if (poisoned) {
                weigh_zero(&acc, vo + j * EV);
            }
            continue;
        }
        if (s > m) {           // a new maximum: rescale what is summed so far
            let r = ember_exp(m - s);
            l *= r;
            for (var c = 0; c < EV; c++) {
                acc[c] *= r;
            }
            m = s;
        }
        var w = ember_exp(s - m);  // NaN (a NaN score, or inf - inf) carries into l and acc
        l += w;
        w *= attention_keep(p[off + 4], i, j);
        for (var c = 0; c < EV; c++) {
            acc[c] = fma(w, qkv[vo + j * EV + c], acc[c]);
        }
    }
    if (CAUSAL && poisoned) {
        for (var j = end; j < S; j++) {
            weigh_zero(&acc, vo + j * EV);
        }
    }
    let r = b * L + i;
    let inv = select(1.0 / l, 0.0, l == 0.0);     // nowhere to attend: zeros
    for (var c = 0; c < EV; c++) {
        o[r * EV + c] = acc[c] * inv;
    }
    o[p[7] * L * EV + r] = select(m + ember_log(l), bitcast<f32>(0x7f800000u), l == 0.0);
}
