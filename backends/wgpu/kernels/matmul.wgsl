// Batched C = A @ B with a block of 4 * RB rows and C columns of vec4 of C per invocation,
// in registers: each step of k loads RB vec4 of A and C vec4 of B and does 16 * RB * C
// multiply-adds. Loads are what cost most on CPU drivers (llvmpipe gathers each lane's
// value), so the larger the block the faster, until registers run out; the block and the
// workgroup shape are tuned per device. The host hands A transposed (At: K x Mp) and B as
// K x Np, each padded with zeros to a multiple of 4 (Mp, Np), so that rows are vec4s.
// A block on the bottom or right edge reads past them (into the next row of k, or out of
// bounds, which WGSL makes safe) only for rows and columns of C that it does not store.
// p = (M, Mp / 4, Np / 4, K, the first batch of this dispatch: WebGPU allows 65535
// workgroups along z), then per batch the vec4 offsets of At and B. WX x WY
// invocations (blocks of columns x blocks of rows) make a workgroup. The accumulators
// (acc<row>_<column>), a step's loads and multiply-adds, and the stores are generated
// (kernels.matmul_block: WGSL has no preprocessor to unroll them).
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
    let col = i32(gid.x) * {{C}};
    let row4 = i32(gid.y) * {{RB}};
    if (col >= n4 || row4 >= m4) {
        return;
    }
    let batch = i32(gid.z) + p[4];
    var ia = p[5 + 2 * batch] + row4;
    var ib = p[6 + 2 * batch] + col;
{{ACCUMULATORS}}
    for (var kk = 0; kk < k; kk += 1) {
{{STEP}}
        ia += m4;
        ib += n4;
    }
    let row = row4 * 4;
    let base = batch * m * n4 + row * n4 + col;
{{STORES}}
}
