// The bindings of flash attention's backward shaders (attention_dq.wgsl,
// attention_dkv.wgsl): o, what they write; g, the output's gradient; lr, the
// log-sum-exps (entries, L) and then rowsum(g * out) of each row; then
// attention_common.wgsl's.
@group(0) @binding(0) var<storage, read_write> o: array<f32>;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> lr: array<f32>;
@group(0) @binding(3) var<storage, read> qkv: array<f32>;
@group(0) @binding(4) var<storage, read> mask: array<{{MT}}>;
@group(0) @binding(5) var<storage, read> keep: array<f32>;
@group(0) @binding(6) var<storage, read> p: array<i32>;

// include attention_common.wgsl
