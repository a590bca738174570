// One strided, broadcasting elementwise shader for every unary, binary and ternary
// primitive, instantiated per (operation, types, rank). Template fields:
//   TO, TA, TB, TC   storage types of the output and inputs (bool is stored as u32)
//   NARGS            how many of a, b, c the operation reads
//   NDIM             rank of the output; 0 selects the contiguous variant
//   HELPERS, OP      helper functions and the expression of x, y, z
//   STORE            "v" to write, "o[po] + v" to accumulate into the output
// p: n, the element offsets of o, a, b, c, then (NDIM > 0) the shape and the
// element strides of o, a, b and c.
alias TO = {{TO}};
alias TA = {{TA}};
alias TB = {{TB}};
alias TC = {{TC}};
const NARGS: i32 = {{NARGS}};
const NDIM: i32 = {{NDIM}};

@group(0) @binding(0) var<storage, read_write> o: array<TO>;
@group(0) @binding(1) var<storage, read> a: array<TA>;
@group(0) @binding(2) var<storage, read> b: array<TB>;
@group(0) @binding(3) var<storage, read> c: array<TC>;
@group(0) @binding(4) var<storage, read> p: array<i32>;

{{HELPERS}}

fn op(x: TA, y: TB, z: TC) -> TO {
    return {{OP}};
}

fn element(i: i32) {
    var po = p[1];
    var pa = p[2];
    var pb = p[3];
    var pc = p[4];
    if (NDIM == 0) {
        po += i;
        pa += i;
        pb += i;
        pc += i;
    } else {
        var rem = i;
        for (var d = NDIM - 1; d >= 0; d--) {
            let extent = p[5 + d];
            let k = rem % extent;
            rem = rem / extent;
            po += k * p[5 + NDIM + d];
            pa += k * p[5 + 2 * NDIM + d];
            pb += k * p[5 + 3 * NDIM + d];
            pc += k * p[5 + 4 * NDIM + d];
        }
    }
    var y: TB;
    var z: TC;
    if (NARGS > 1) {
        y = b[pb];
    }
    if (NARGS > 2) {
        z = c[pc];
    }
    let v = op(a[pa], y, z);
    o[po] = {{STORE}};
}

// include grid_stride.wgsl
