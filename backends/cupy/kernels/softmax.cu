// Row-wise softmax and log-softmax: one block per row, the maximum and the sum
// of exponentials reduced in shared memory, one pass to write the row.
// blockDim.x must be a power of two; rows hold at least one element.
template <typename T>
__global__ void softmax_rows(const T* __restrict__ x, T* __restrict__ y,
                             long long rows, long long cols, int log_mode) {
    extern __shared__ unsigned char smem_raw[];
    T* buf = reinterpret_cast<T*>(smem_raw);
    const long long row = blockIdx.x;
    if (row >= rows) return;
    const T* xr = x + row * cols;
    T* yr = y + row * cols;
    const int tid = threadIdx.x;

    T m = xr[0];
    for (long long j = tid; j < cols; j += blockDim.x) m = xr[j] > m ? xr[j] : m;
    buf[tid] = m;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (tid < s && buf[tid + s] > buf[tid]) buf[tid] = buf[tid + s];
        __syncthreads();
    }
    m = buf[0];
    __syncthreads();

    T sum = 0;
    for (long long j = tid; j < cols; j += blockDim.x) sum += exp(xr[j] - m);
    buf[tid] = sum;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (tid < s) buf[tid] += buf[tid + s];
        __syncthreads();
    }
    sum = buf[0];

    if (log_mode) {
        const T shift = m + log(sum);
        for (long long j = tid; j < cols; j += blockDim.x) yr[j] = xr[j] - shift;
    } else {
        const T inv = T(1) / sum;
        for (long long j = tid; j < cols; j += blockDim.x) yr[j] = exp(xr[j] - m) * inv;
    }
}
