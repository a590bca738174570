// The first index of the largest value of each row of a contiguous (rows, length)
// matrix (NaN counts as largest, as NumPy). Template fields: T, WG, GREATER (an
// expression of a and b). p = (rows, length).
alias T = {{T}};
const WG: u32 = {{WG}}u;

@group(0) @binding(0) var<storage, read_write> o: array<i32>;
@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(2) var<storage, read> p: array<i32>;

var<workgroup> best: array<T, {{WG}}>;
var<workgroup> where_: array<u32, {{WG}}>;

fn greater(a: T, b: T) -> bool {
    return {{GREATER}};
}

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let row = wid.y * nw.x + wid.x;
    let live = row < u32(p[0]);
    let length = u32(p[1]);
    let base = min(row, u32(p[0]) - 1u) * length;
    var b = x[base];
    var w = 0u;
    if (live) {
        for (var j = lid; j < length; j += WG) {
            let v = x[base + j];
            if (greater(v, b) || (j < w && !greater(b, v))) {
                b = v;
                w = j;
            }
        }
    }
    best[lid] = b;
    where_[lid] = w;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (lid < s) {
            let v = best[lid + s];
            let k = where_[lid + s];
            if (greater(v, best[lid]) || (!greater(best[lid], v) && k < where_[lid])) {
                best[lid] = v;
                where_[lid] = k;
            }
        }
        workgroupBarrier();
    }
    if (lid == 0u && live) {
        o[row] = i32(where_[0]);
    }
}
