// scatter_add, gather's adjoint: src (pre, n, post) summed into out (pre, axis, post)
// at the indexed positions, atomically. Template fields: ATOMIC (the atomic storage
// type) and ADD (the statement adding v at position q). p = (total, axis_len, n, post).
@group(0) @binding(0) var<storage, read_write> o: array<{{ATOMIC}}>;
@group(0) @binding(1) var<storage, read> src: array<{{T}}>;
@group(0) @binding(2) var<storage, read> idx: array<i32>;
@group(0) @binding(3) var<storage, read> p: array<i32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = i32((wid.y * nw.x + wid.x) * 256u + lid);
    if (i >= p[0]) {
        return;
    }
    let post = p[3];
    let n = p[2];
    let j = (i / post) % n;
    let q = ((i / (post * n)) * p[1] + idx[j]) * post + i % post;
    let v = src[i];
    {{ADD}}
}
