// Defines: T.
#ifdef NEED_FP64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif
// out = in^T for a 2-D view of any strides, through 16 x 16 tiles in local memory so
// that both the reads and the writes run along rows. out is (cols, rows), contiguous.
__kernel void transpose(__global T* out, __global const T* in, const long offset,
                        const long rs, const long cs, const int rows, const int cols) {
    __local T tile[16][17];
    const int tx = get_local_id(0), ty = get_local_id(1);
    const int j = get_group_id(0) * 16 + tx, i = get_group_id(1) * 16 + ty;
    if (i < rows && j < cols) tile[ty][tx] = in[offset + i * rs + j * cs];
    barrier(CLK_LOCAL_MEM_FENCE);
    const int oi = get_group_id(0) * 16 + ty, oj = get_group_id(1) * 16 + tx;
    if (oi < cols && oj < rows) out[(long)oi * rows + oj] = tile[tx][ty];
}
