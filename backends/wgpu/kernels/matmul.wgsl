// Batched C = A @ B with an 8x4 block of C per invocation, in registers, read through
// vec4 loads (two of A, one of B per step of k, k unrolled by two). The host hands A transposed
// (At: K x Mp, Mp a multiple of 8) and B as K x Np (Np a multiple of 4), padded with
// zeros, so loads need no masks; rows of C past M are not stored.
// p = (M, Mp / 4, Np / 4, K), then per batch the vec4 offsets of At and B. WX x WY
// invocations (columns of vec4 x blocks of 8 rows) make a workgroup (tuned per device).
alias T = {{T}};

@group(0) @binding(0) var<storage, read_write> c: array<vec4<T>>;
@group(0) @binding(1) var<storage, read> at: array<vec4<T>>;
@group(0) @binding(2) var<storage, read> b: array<vec4<T>>;
@group(0) @binding(3) var<storage, read> p: array<i32>;

@compute @workgroup_size({{WX}}, {{WY}}, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let m = p[0];
    let m4 = p[1];
    let n4 = p[2];
    let k = p[3];
    let col = i32(gid.x);
    let row8 = i32(gid.y);
    if (col >= n4 || row8 * 2 >= m4) {
        return;
    }
    let batch = i32(gid.z);
    var ia = p[4 + 2 * batch] + row8 * 2;
    var ib = p[5 + 2 * batch] + col;
    var c0 = vec4<T>();
    var c1 = vec4<T>();
    var c2 = vec4<T>();
    var c3 = vec4<T>();
    var c4 = vec4<T>();
    var c5 = vec4<T>();
    var c6 = vec4<T>();
    var c7 = vec4<T>();
    var kk = 0;
    for (; kk + 2 <= k; kk += 2) {
        let lo = at[ia];
        let hi = at[ia + 1];
        let bv = b[ib];
        let lo2 = at[ia + m4];
        let hi2 = at[ia + m4 + 1];
        let bv2 = b[ib + n4];
        c0 += lo.x * bv;
        c1 += lo.y * bv;
        c2 += lo.z * bv;
        c3 += lo.w * bv;
        c4 += hi.x * bv;
        c5 += hi.y * bv;
        c6 += hi.z * bv;
        c7 += hi.w * bv;
        c0 += lo2.x * bv2;
        c1 += lo2.y * bv2;
        c2 += lo2.z * bv2;
        c3 += lo2.w * bv2;
        c4 += hi2.x * bv2;
        c5 += hi2.y * bv2;
        c6 += hi2.z * bv2;
        c7 += hi2.w * bv2;
        ia += 2 * m4;
        ib += 2 * n4;
    }
    if (kk < k) {
        let lo = at[ia];
        let hi = at[ia + 1];
        let bv = b[ib];
        c0 += lo.x * bv;
        c1 += lo.y * bv;
        c2 += lo.z * bv;
        c3 += lo.w * bv;
        c4 += hi.x * bv;
        c5 += hi.y * bv;
        c6 += hi.z * bv;
        c7 += hi.w * bv;
    }
    let row = row8 * 8;
    let base = batch * m * n4 + row * n4 + col;
    c[base] = c0;
    if (row + 1 < m) {
        c[base + 1 * n4] = c1;
    }
    if (row + 2 < m) {
        c[base + 2 * n4] = c2;
    }
    if (row + 3 < m) {
        c[base + 3 * n4] = c3;
    }
    if (row + 4 < m) {
        c[base + 4 * n4] = c4;
    }
    if (row + 5 < m) {
        c[base + 5 * n4] = c5;
    }
    if (row + 6 < m) {
        c[base + 6 * n4] = c6;
    }
    if (row + 7 < m) {
        c[base + 7 * n4] = c7;
    }
}
