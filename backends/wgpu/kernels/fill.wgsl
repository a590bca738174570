// Fill n elements with one value, given as its 32-bit pattern: p = (n, bits).
alias TO = {{TO}};

@group(0) @binding(0) var<storage, read_write> o: array<TO>;
@group(0) @binding(1) var<storage, read> p: array<i32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = i32((wid.y * nw.x + wid.x) * 256u + lid);
    if (i < p[0]) {
        o[i] = bitcast<TO>(p[1]);
    }
}
