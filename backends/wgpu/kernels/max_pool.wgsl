// Max pooling of packed NCHW planes with the offset of each window's winner: the first
// largest, or the window's first NaN. One invocation per output element. Template
// fields: T, NAN (for floats: v is NaN and best is not; else false) and the window as
// constants, so that it unrolls: KH, KW (size), SH, SW (stride), DH, DW (dilation).
// p = (total, h, w, oh, ow).
@group(0) @binding(0) var<storage, read_write> o: array<{{T}}>;
@group(0) @binding(1) var<storage, read_write> index: array<i32>;
@group(0) @binding(2) var<storage, read> x: array<{{T}}>;
@group(0) @binding(3) var<storage, read> p: array<i32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let e = i32((wid.y * nw.x + wid.x) * 256u + lid);
    if (e >= p[0]) {
        return;
    }
    let w = p[2];
    let j = e % p[4];
    let i = (e / p[4]) % p[3];
    let plane = e / (p[4] * p[3]);
    let base = (plane * p[1] + i * {{SH}}) * w + j * {{SW}};
    var best = x[base];
    var k = 0;
    for (var a = 0; a < {{KH}}; a++) {
        for (var b = 0; b < {{KW}}; b++) {
            let v = x[base + a * {{DH}} * w + b * {{DW}}];
            if (v > best || {{NAN}}) {
                best = v;
                k = a * {{KW}} + b;
            }
        }
    }
    o[e] = best;
    index[e] = k;
}
