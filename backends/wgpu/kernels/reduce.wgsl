// Row reductions of a contiguous (rows, length) matrix: one workgroup per row, each
// invocation folding a strided share of the row, then a tree in workgroup memory.
// Template fields: T (element), WG (workgroup size, a power of two), INIT (the fold's
// identity), FOLD (an expression of a and b). p = (rows, length).
alias T = {{T}};
const WG: u32 = {{WG}}u;

@group(0) @binding(0) var<storage, read_write> o: array<T>;
@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(2) var<storage, read> p: array<i32>;

var<workgroup> part: array<T, {{WG}}>;

fn fold(a: T, b: T) -> T {
    return {{FOLD}};
}

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let row = wid.y * nw.x + wid.x;
    let live = row < u32(p[0]);       // every invocation must reach the barriers
    let length = u32(p[1]);
    let base = min(row, u32(p[0]) - 1u) * length;
    var acc: T = {{INIT}};
    if (live) {
        for (var j = lid; j < length; j += WG) {
            acc = fold(acc, x[base + j]);
        }
    }
    part[lid] = acc;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (lid < s) {
            part[lid] = fold(part[lid], part[lid + s]);
        }
        workgroupBarrier();
    }
    if (lid == 0u && live) {
        o[row] = part[0];
    }
}
