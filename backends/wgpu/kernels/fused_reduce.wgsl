// A run of elementwise primitives ending in a sum, max or min (fused by ember.compile,
// or an eager reduction: the identity), rendered by StridedBackend._fused_code
// (WgpuBackend._compile): one workgroup per row of the reduction,
// each invocation computing a strided share of the row's elements (writing those
// the graph needs elsewhere) and folding them a block at a time, then a tree in
// workgroup memory.
// Template fields: DECLS (outputs, then red, the inputs and p: rows, then each
// input's offset), HELPERS, FUNCS, T, WG, BLOCK (elements an invocation folds before
// adding them to its total), FOLD, INIT, ROWS, LENGTH, INDEX (the element's flat
// index g from row and j), BODY (its loads, calls and stores), X (the value reduced),
// ADD (b into acc: a float sum keeps what the addition rounds away in comp), TOTAL
// (acc, with comp), RESULT (part[0] as the output's dtype holds it).

{{DECLS}}

{{HELPERS}}

{{FUNCS}}

var<workgroup> part: array<{{T}}, {{WG}}>;

fn fold(a: {{T}}, b: {{T}}) -> {{T}} {
    return {{FOLD}};
}

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let row_id = wid.y * nw.x + wid.x;
    let live = row_id < u32({{ROWS}});       // every invocation must reach the barriers
    let row = i32(min(row_id, u32({{ROWS}}) - 1u));
    var acc: {{T}} = {{INIT}};
    var comp: {{T}} = {{T}}(0);
    if (live) {
        for (var jb = i32(lid); jb < {{LENGTH}}; jb += {{WG}} * {{BLOCK}}) {
            var b: {{T}} = {{INIT}};
            let end = min(jb + {{WG}} * {{BLOCK}}, {{LENGTH}});
            for (var j = jb; j < end; j += {{WG}}) {
                {{INDEX}}
                {{BODY}}
                b = fold(b, {{X}});
            }
            {{ADD}}
        }
    }
    part[lid] = {{TOTAL}};
    workgroupBarrier();
    for (var s = {{WG}}u / 2u; s > 0u; s >>= 1u) {
        if (lid < s) {
            part[lid] = fold(part[lid], part[lid + s]);
        }
        workgroupBarrier();
    }
    if (lid == 0u && live) {
        red[row] = {{RESULT}};
    }
}
