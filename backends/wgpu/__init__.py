"""The wgpu backend: WebGPU compute shaders (WGSL) through wgpu-py, on any adapter
wgpu-native finds: Vulkan, Metal, D3D12, or OpenGL (Mesa's llvmpipe on a bare CPU)."""
