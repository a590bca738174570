// gather (numpy.take along one axis) and its adjoint scatter_add, on contiguous data
// seen as (pre, axis, post) with a flat list of n indices; position i of the
// (pre, n, post) index space lies at q of the data. Template fields: OUT (the output's
// element type: T for gather, an atomic for scatter_add), T, and BODY (gather:
// o[i] = x[q]; scatter_add: an atomic add of x[i] at o[q]). p = (total, axis_len, n, post).
@group(0) @binding(0) var<storage, read_write> o: array<{{OUT}}>;
@group(0) @binding(1) var<storage, read> x: array<{{T}}>;
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
    let q = ((i / (post * n)) * p[1] + idx[(i / post) % n]) * post + i % post;
    {{BODY}}
}
