// Flash attention: a block of BM threads takes BM query rows (forward, dq) or key rows
// (dk, dv) of one batch entry, one row a thread, and streams the other side's rows
// through shared memory in tiles of BN, with an online softmax; the L x S matrix is never
// stored. The backward recomputes each probability from the forward's log-sum-exp (a row
// that may attend nowhere has lse = +inf, so its p is 0).
// Defines (prepended by the host): T (float or double: what it computes in), STORE and
// HALF (what q, k, v, a float mask, dropout and the outputs and gradients are stored as:
// T, HALF 0; or unsigned short holding bfloat16, HALF 1, or float16, HALF 2, each read
// into T and rounded back to nearest even by the functions below), E and EV
// (query/key and value features), BM, BN, CAUSAL (keys past the query skipped), MASK (0
// none, 1 bool: 0 refuses, 2 float: added) and MT its element type, KEEP (a dropout
// mask, already scaled). The log-sum-exps and rowsum(g * out) are kept in T.
// Grid: (batch entries, row blocks); block: BM threads.
// off[5 * b + {0..4}]: element offsets of batch entry b's q, k, v, mask and keep;
// a mask or keep entry (i, j) is at its offset + i * row stride + j * column stride.
// The semantics are backends/opencl/kernels/attention.cl's, row for row.
//
// This file reads as CUDA C++ (NVRTC, through CuPy) and as OpenCL C: CI has no GPU, so
// tests/test_cupy_kernels.py runs these kernels on pocl through the CuPy backend's own
// host code, and compiles them with NVRTC where it is installed.

#ifdef __OPENCL_VERSION__
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#define KERNEL __kernel
#define GLOBAL __global
#define SHARED __local
#define SYNC() barrier(CLK_LOCAL_MEM_FENCE)
#define THREAD ((int)get_local_id(0))
#define ENTRY ((long)get_group_id(0))
#define ROWS ((int)get_group_id(1))
#define DEVICE inline
#define INF ((T)INFINITY)
#define SPTR __local
#define BITS(f) as_uint(f)
#define FLOAT(u) as_float(u)
#else
#define KERNEL extern "C" __global__
#define GLOBAL
#define SHARED __shared__
#define SYNC() __syncthreads()
#define THREAD ((int)threadIdx.x)
#define ENTRY ((long)blockIdx.x)
#define ROWS ((int)blockIdx.y)
#define DEVICE __device__ inline
#define INF ((T)__int_as_float(0x7f800000))
#define SPTR
#define BITS(f) __float_as_uint(f)
#define FLOAT(u) __uint_as_float(u)
#endif

#if HALF == 0
#define LD(x) (x)
#define SV(x) (x)
#elif HALF == 1
// bfloat16: the top half of a float32, rounded to nearest even (NaN stays NaN)
DEVICE float LD(const unsigned short h) { return FLOAT((unsigned int)h << 16); }
DEVICE unsigned short SV(const float f) {
    const unsigned int u = BITS(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (unsigned short)((u >> 16) | 0x40u);
    return (unsigned short)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}
#else
// float16 (IEEE binary16), exactly; rounded to nearest even, past 65504 to inf
DEVICE float LD(const unsigned short h) {
    const unsigned int sign = (unsigned int)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu,
        m = h & 0x3ffu;
    if (e == 0) return FLOAT(sign | BITS((float)m * FLOAT(0x33800000u)));   // m 2^-24
    if (e == 31) return FLOAT(sign | 0x7f800000u | (m << 13));
    return FLOAT(sign | ((e + 112) << 23) | (m << 13));
}
DEVICE unsigned short SV(const float f) {
    const unsigned int x = BITS(f), sign = (x >> 16) & 0x8000u, a = x & 0x7fffffffu;
    if (a > 0x7f800000u) return (unsigned short)(sign | 0x7e00u);               // NaN
    if (a >= 0x477ff000u) return (unsigned short)(sign | 0x7c00u);              // inf
    if (a < 0x38800000u)        // a subnormal half (or 0): 0.5 + |f| rounds at 2^-24
        return (unsigned short)(sign | (BITS(FLOAT(a) + 0.5f) - 0x3f000000u));
    return (unsigned short)(sign | ((a + 0xc8000fffu + ((a >> 13) & 1u)) >> 13));
}
#endif

#define ARGS GLOBAL const STORE* q, GLOBAL const STORE* k, GLOBAL const STORE* v, \
    GLOBAL const MT* mask, GLOBAL const STORE* keep, GLOBAL const long* off, \
    const int L, const int S, const T scale, const long msl, const long mss, \
    const long ksl, const long kss

// a row of a tile in shared memory (SPTR: a pointer into it), dotted with n registers
DEVICE T dot(const T* a, SPTR const T* row, const int n) {
    T d = 0;
    for (int c = 0; c < n; ++c) d = fma(a[c], row[c], d);
    return d;
}

// the score of (i, j) from its dot product, or -INF where the mask refuses it
DEVICE T masked(const T d, const T scale, GLOBAL const MT* mask, const long at) {
#if MASK == 1
    if (!mask[at]) return -INF;
#endif
    T s = d * scale;
#if MASK == 2
    s += LD(mask[at]);
#endif
    return s;
}

// rows [first, first + n) of a packed matrix of `width` features into a tile
DEVICE void load(SPTR T* tile, GLOBAL const STORE* from, const long first, const int n,
                 const int width) {
    for (int x = THREAD; x < n * width; x += BM) tile[x] = LD(from[first * width + x]);
}

// keys and values [j0, j0 + n) into their tiles, between barriers (every thread of the
// block comes here, the rows past the end too)
DEVICE void load_keys(SPTR T* ks, SPTR T* vs, GLOBAL const STORE* k, GLOBAL const STORE* v,
                      const int j0, const int n) {
    SYNC();
    load(ks, k, j0, n, E);
    load(vs, v, j0, n, EV);
    SYNC();
}

// poison[0]: 0 * the sum of v, NaN if any value is not finite (then the keys a row may
// not attend are visited too: weight 0, and 0 * inf is NaN, as PyTorch's attention gives)
KERNEL void attention(GLOBAL STORE* out, GLOBAL T* lse, GLOBAL const T* poison, ARGS) {
    SHARED T ks[BN * E];
    SHARED T vs[BN * EV];
    const bool poisoned = isnan(poison[0]);
    const int i = ROWS * BM + THREAD;
    const long b = ENTRY;
    const bool live = i < L;
    GLOBAL const long* o = off + 5 * b;
    T qv[E], acc[EV];
    for (int c = 0; c < E; ++c) qv[c] = live ? LD(q[o[0] + (long)i * E + c]) : 0;
    for (int c = 0; c < EV; ++c) acc[c] = 0;
    T m = -INF, l = 0;
    const int end = CAUSAL ? min(S, i + 1) : S;     // this row's keys
    // the block's (the same for each thread: every one meets each SYNC)
    const int last = CAUSAL && !poisoned ? min(S, (ROWS + 1) * BM) : S;
    for (int j0 = 0; j0 < last; j0 += BN) {
        const int n = min(BN, S - j0);
        load_keys(ks, vs, k + o[1], v + o[2], j0, n);
        if (!live) continue;
        for (int jj = 0; jj < n; ++jj) {
            const int j = j0 + jj;
            const T s = j < end ? masked(dot(qv, ks + jj * E, E), scale, mask,
                                         o[3] + i * msl + j * mss) : -INF;
            if (s == -INF) {
                if (poisoned)
                    for (int c = 0; c < EV; ++c) acc[c] = fma((T)0, vs[jj * EV + c], acc[c]);
                continue;
            }
            if (s > m) {        // a new maximum: rescale what is summed so far
                const T r = exp(m - s);
                l *= r;
                for (int c = 0; c < EV; ++c) acc[c] *= r;
                m = s;
            }
            T p = exp(s - m);   // NaN (a NaN score, or inf - inf) carries into l and acc
            l += p;
#if KEEP
            p *= LD(keep[o[4] + i * ksl + j * kss]);
#endif
            for (int c = 0; c < EV; ++c) acc[c] = fma(p, vs[jj * EV + c], acc[c]);
        }
    }
    if (!live) return;
    const long r = b * L + i;
    const T inv = l == 0 ? 0 : 1 / l;           // nowhere to attend: zeros
    for (int c = 0; c < EV; ++c) out[r * EV + c] = SV(acc[c] * inv);
    lse[r] = l == 0 ? INF : m + log(l);
}

// dq, and D = rowsum(g * out) for attention_dkv
KERNEL void attention_dq(GLOBAL STORE* dq, GLOBAL T* dsum, GLOBAL const STORE* g,
                         GLOBAL const STORE* out, GLOBAL const T* lse, ARGS) {
    SHARED T ks[BN * E];
    SHARED T vs[BN * EV];
    const int i = ROWS * BM + THREAD;
    const long b = ENTRY;
    const bool live = i < L;
    GLOBAL const long* o = off + 5 * b;
    const long r = b * L + i;
    T qv[E], gv[EV], acc[E];
    T rowdot = 0;
    for (int c = 0; c < EV; ++c) {
        gv[c] = live ? LD(g[r * EV + c]) : 0;
        rowdot = fma(gv[c], live ? LD(out[r * EV + c]) : 0, rowdot);
    }
    const T top = live ? lse[r] : INF;
    if (live) dsum[r] = rowdot;
    for (int c = 0; c < E; ++c) {
        qv[c] = live ? LD(q[o[0] + (long)i * E + c]) : 0;
        acc[c] = 0;
    }
    const int end = CAUSAL ? min(S, i + 1) : S;
    const int last = CAUSAL ? min(S, (ROWS + 1) * BM) : S;
    for (int j0 = 0; j0 < last; j0 += BN) {
        const int n = min(BN, S - j0);
        load_keys(ks, vs, k + o[1], v + o[2], j0, n);
        if (!live) continue;
        for (int jj = 0; jj < n && j0 + jj < end; ++jj) {
            const int j = j0 + jj;
            const T p = exp(masked(dot(qv, ks + jj * E, E), scale, mask,
                                   o[3] + i * msl + j * mss) - top);
            if (p == 0) continue;
            T dp = dot(gv, vs + jj * EV, EV);
#if KEEP
            dp *= LD(keep[o[4] + i * ksl + j * kss]);
#endif
            const T ds = p * (dp - rowdot);
            for (int c = 0; c < E; ++c) acc[c] = fma(ds, ks[jj * E + c], acc[c]);
        }
    }
    if (live) for (int c = 0; c < E; ++c) dq[r * E + c] = SV(acc[c] * scale);
}

// dk and dv: a thread per key row, over the queries that may see it, streamed in tiles
// with their log-sum-exps and D
KERNEL void attention_dkv(GLOBAL STORE* dk, GLOBAL STORE* dv, GLOBAL const STORE* g,
                          GLOBAL const T* dsum, GLOBAL const T* lse, ARGS) {
    SHARED T qs[BN * E];
    SHARED T gs[BN * EV];
    SHARED T tops[BN];
    SHARED T dots[BN];
    const int j = ROWS * BM + THREAD;
    const long b = ENTRY;
    const bool live = j < S;
    GLOBAL const long* o = off + 5 * b;
    T kv[E], vv[EV], ak[E], av[EV];
    for (int c = 0; c < E; ++c) {
        kv[c] = live ? LD(k[o[1] + (long)j * E + c]) : 0;
        ak[c] = 0;
    }
    for (int c = 0; c < EV; ++c) {
        vv[c] = live ? LD(v[o[2] + (long)j * EV + c]) : 0;
        av[c] = 0;
    }
    for (int i0 = CAUSAL ? ROWS * BM : 0; i0 < L; i0 += BN) {
        const int n = min(BN, L - i0);
        SYNC();
        load(qs, q + o[0], i0, n, E);
        load(gs, g, b * L + i0, n, EV);
        for (int x = THREAD; x < n; x += BM) {
            tops[x] = lse[b * L + i0 + x];
            dots[x] = dsum[b * L + i0 + x];
        }
        SYNC();
        if (!live) continue;
        for (int ii = CAUSAL && j > i0 ? j - i0 : 0; ii < n; ++ii) {
            const int i = i0 + ii;
            const T p = exp(masked(dot(kv, qs + ii * E, E), scale, mask,
                                   o[3] + i * msl + j * mss) - tops[ii]);
            if (p == 0) continue;
            T dp = dot(vv, gs + ii * EV, EV), pk = p;
#if KEEP
            const T kept = LD(keep[o[4] + i * ksl + j * kss]);
            dp *= kept;
            pk *= kept;
#endif
            for (int c = 0; c < EV; ++c) av[c] = fma(pk, gs[ii * EV + c], av[c]);
            const T ds = p * (dp - dots[ii]);
            for (int c = 0; c < E; ++c) ak[c] = fma(ds, qs[ii * E + c], ak[c]);
        }
    }
    if (!live) return;
    const long r = b * S + j;
    for (int c = 0; c < E; ++c) dk[r * E + c] = SV(ak[c] * scale);
    for (int c = 0; c < EV; ++c) dv[r * EV + c] = SV(av[c]);
}
