// Batched C = A @ B with a 4x4 block of C per invocation, in registers, read through
// vec4 loads. The host hands A transposed (At: K x Mp) and B as K x Np, each padded
// with zeros to a multiple of 4 columns, so loads need no masks; rows of C past M are
// not stored. p = (M, Mp / 4, Np / 4, K), then per batch the vec4 offsets of At and B.
alias T = {{T}};

@group(0) @binding(0) var<storage, read_write> c: array<vec4<T>>;
@group(0) @binding(1) var<storage, read> at: array<vec4<T>>;
@group(0) @binding(2) var<storage, read> b: array<vec4<T>>;
@group(0) @binding(3) var<storage, read> p: array<i32>;

@compute @workgroup_size(8, 8, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let m = p[0];
    let m4 = p[1];
    let n4 = p[2];
    let k = p[3];
    let col = i32(gid.x);
    let row4 = i32(gid.y);
    if (col >= n4 || row4 >= m4) {
        return;
    }
    let batch = i32(gid.z);
    var ia = p[4 + 2 * batch] + row4;
    var ib = p[5 + 2 * batch] + col;
    var c0 = vec4<T>();
    var c1 = vec4<T>();
    var c2 = vec4<T>();
    var c3 = vec4<T>();
    for (var kk = 0; kk < k; kk++) {
        let av = at[ia];
        let bv = b[ib];
        c0 += av.x * bv;
        c1 += av.y * bv;
        c2 += av.z * bv;
        c3 += av.w * bv;
        ia += m4;
        ib += n4;
    }
    let row = row4 * 4;
    let base = batch * m * n4 + row * n4 + col;
    c[base] = c0;
    if (row + 1 < m) {
        c[base + n4] = c1;
    }
    if (row + 2 < m) {
        c[base + 2 * n4] = c2;
    }
    if (row + 3 < m) {
        c[base + 3 * n4] = c3;
    }
}
