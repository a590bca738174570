// The entry point of shaders that define fn element(i: i32) and p (p[0] = n), pasted in
// by their "// include grid_stride.wgsl" line. A grid-stride loop: each invocation
// takes every (grid size)-th element, so neighbouring invocations touch neighbouring
// elements (GPU coalescing, CPU SIMD lanes).
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let step = i32(nw.x * nw.y * 64u);
    for (var i = i32((wid.y * nw.x + wid.x) * 64u + lid); i < p[0]; i += step) {
        element(i);
    }
}
