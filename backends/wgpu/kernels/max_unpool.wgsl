// Max pooling's adjoint: one invocation per input element, the sum of the gradients of
// the windows it won (gathered, so overlapping windows need no atomics). Template
// fields: T and the window constants KH, KW, SH, SW, DH, DW. p = (total, h, w, oh, ow).
@group(0) @binding(0) var<storage, read_write> o: array<{{T}}>;
@group(0) @binding(1) var<storage, read> g: array<{{T}}>;
@group(0) @binding(2) var<storage, read> index: array<i32>;
@group(0) @binding(3) var<storage, read> p: array<i32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let e = i32((wid.y * nw.x + wid.x) * 256u + lid);
    if (e >= p[0]) {
        return;
    }
    let h = p[1];
    let w = p[2];
    let c = e % w;
    let r = (e / w) % h;
    let plane = e / (w * h);
    var sum = {{T}}(0);
    for (var a = 0; a < {{KH}}; a++) {
        let rows = r - a * {{DH}};
        if (rows < 0 || rows % {{SH}} != 0 || rows / {{SH}} >= p[3]) {
            continue;
        }
        for (var b = 0; b < {{KW}}; b++) {
            let cols = c - b * {{DW}};
            if (cols < 0 || cols % {{SW}} != 0 || cols / {{SW}} >= p[4]) {
                continue;
            }
            let q = (plane * p[3] + rows / {{SH}}) * p[4] + cols / {{SW}};
            if (index[q] == a * {{KW}} + b) {
                sum += g[q];
            }
        }
    }
    o[e] = sum;
}
