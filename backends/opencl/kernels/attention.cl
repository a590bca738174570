// Flash attention: one work-item per query row (forward, dq) or key row (dk, dv) of
// one batch entry, streaming the other side's rows with an online softmax; the L x S
// matrix is never stored. The backward recomputes each probability from the forward's
// log-sum-exp (a row that may attend nowhere has lse = +inf, so its p is 0).
// Defines: T, TV (T vector of W), W (1, 2, 4, 8 or 16, dividing E and EV), E and EV
// (query/key and value features), CAUSAL (keys past the query skipped), MASK (0 none,
// 1 bool: 0 refuses, 2 float: added), KEEP (a dropout mask, already scaled).
// off[5 * b + {0..4}]: element offsets of batch entry b's q, k, v, mask and keep;
// a mask or keep entry (i, j) is at its offset + i * row stride + j * column stride.

#ifdef NEED_FP64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif

#define CONCAT(a, b) CONCAT2(a, b)
#define CONCAT2(a, b) a##b
#define NE (E / W)
#define NV (EV / W)
#if W == 1
#define VLOAD(c, p) ((p)[c])
#define VSTORE(x, c, p) ((p)[c] = (x))
#else
#define VLOAD CONCAT(vload, W)
#define VSTORE CONCAT(vstore, W)
#endif

#define ARGS __global const T* q, __global const T* k, __global const T* v, \
    __global const MT* mask, __global const T* keep, __global const long* off, \
    const int L, const int S, const T scale, const long msl, const long mss, \
    const long ksl, const long kss

inline T hsum(TV x) {
#if W == 16
    const CONCAT(T, 8) x8 = x.lo + x.hi;
#elif W == 8
    const CONCAT(T, 8) x8 = x;
#endif
#if W >= 8
    const CONCAT(T, 4) x4 = x8.lo + x8.hi;
#elif W == 4
    const CONCAT(T, 4) x4 = x;
#endif
#if W >= 4
    const CONCAT(T, 2) x2 = x4.lo + x4.hi;
#elif W == 2
    const CONCAT(T, 2) x2 = x;
#endif
#if W >= 2
    return x2.x + x2.y;
#else
    return x;
#endif
}

// the score of (i, j), or -INFINITY where the mask refuses it
inline T score(const TV* a, __global const T* row, const T scale, __global const MT* mask,
               const long at) {
#if MASK == 1
    if (!mask[at]) return -INFINITY;
#endif
    TV d = a[0] * VLOAD(0, row);
    for (int c = 1; c < NE; ++c) d = fma(a[c], VLOAD(c, row), d);
    T s = hsum(d) * scale;
#if MASK == 2
    s += mask[at];
#endif
    return s;
}

inline T dot_v(const TV* a, __global const T* row) {
    TV d = a[0] * VLOAD(0, row);
    for (int c = 1; c < NV; ++c) d = fma(a[c], VLOAD(c, row), d);
    return hsum(d);
}

// acc += 0 * v[j]: NaN where v[j] is not finite
inline void weigh_zero(TV* acc, __global const T* vj) {
    for (int c = 0; c < NV; ++c) acc[c] = fma((TV)(0), VLOAD(c, vj), acc[c]);
}

// poison[0]: 0 * the sum of v, NaN if any value is not finite (then the keys a row may
// not attend are visited too)
__kernel void attention(__global T* out, __global T* lse, __global const T* poison, ARGS) {
    const bool poisoned = isnan(poison[0]);
    const int i = get_global_id(0);
    const long b = get_global_id(1);
    if (i >= L) return;
    __global const long* o = off + 5 * b;
    TV qv[NE], acc[NV];
    for (int c = 0; c < NE; ++c) qv[c] = VLOAD(c, q + o[0] + (long)i * E);
    for (int c = 0; c < NV; ++c) acc[c] = (TV)(0);
    T m = -INFINITY, l = 0;
    const int end = CAUSAL ? min(S, i + 1) : S;
    for (int j = 0; j < end; ++j) {
        const T s = score(qv, k + o[1] + (long)j * E, scale, mask, o[3] + i * msl + j * mss);
        if (s == -INFINITY) {  // weight 0, and 0 * inf is NaN, as PyTorch's attention gives
            if (poisoned) weigh_zero(acc, v + o[2] + (long)j * EV);
            continue;
        }
        if (s > m) {           // a new maximum: rescale what is summed so far
            const T r = exp(m - s);
            l *= r;
            for (int c = 0; c < NV; ++c) acc[c] *= r;
            m = s;
        }
        T p = exp(s - m);      // NaN (a NaN score, or inf - inf) carries into l and acc
        l += p;
#if KEEP
        p *= keep[o[4] + i * ksl + j * kss];
#endif
        __global const T* vj = v + o[2] + (long)j * EV;
        for (int c = 0; c < NV; ++c) acc[c] = fma((TV)(p), VLOAD(c, vj), acc[c]);
    }
#if CAUSAL
    if (poisoned) for (int j = end; j < S; ++j) weigh_zero(acc, v + o[2] + (long)j * EV);
#endif
    const long r = b * L + i;
    const T inv = l == 0 ? 0 : 1 / l;           // nowhere to attend: zeros
    for (int c = 0; c < NV; ++c) VSTORE(acc[c] * inv, c, out + r * EV);
    lse[r] = l == 0 ? INFINITY : m + log(l);
}

// dq, and D = rowsum(g * out) for attention_dkv
__kernel void attention_dq(__global T* dq, __global T* dsum, __global const T* g,
                           __global const T* out, __global const T* lse, ARGS) {
    const int i = get_global_id(0);
    const long b = get_global_id(1);
    if (i >= L) return;
    __global const long* o = off + 5 * b;
    const long r = b * L + i;
    TV qv[NE], gv[NV], acc[NE];
    TV d = (TV)(0);
    for (int c = 0; c < NV; ++c) {
        gv[c] = VLOAD(c, g + r * EV);
        d = fma(gv[c], VLOAD(c, out + r * EV), d);
    }
    const T rowdot = hsum(d), top = lse[r];
    dsum[r] = rowdot;
    for (int c = 0; c < NE; ++c) {
        qv[c] = VLOAD(c, q + o[0] + (long)i * E);
        acc[c] = (TV)(0);
    }
    const int end = CAUSAL ? min(S, i + 1) : S;
    for (int j = 0; j < end; ++j) {
        __global const T* kj = k + o[1] + (long)j * E;
        const long at = o[3] + i * msl + j * mss;
        const T p = exp(score(qv, kj, scale, mask, at) - top);
        if (p == 0) continue;
        T dp = dot_v(gv, v + o[2] + (long)j * EV);
#if KEEP
        dp *= keep[o[4] + i * ksl + j * kss];
#endif
        const T ds = p * (dp - rowdot);
        for (int c = 0; c < NE; ++c) acc[c] = fma((TV)(ds), VLOAD(c, kj), acc[c]);
    }
    for (int c = 0; c < NE; ++c) VSTORE(acc[c] * scale, c, dq + r * E);
}

// dk and dv: one work-item per key row, over the queries that may see it
__kernel void attention_dkv(__global T* dk, __global T* dv, __global const T* g,
                            __global const T* dsum, __global const T* lse, ARGS) {
    const int j = get_global_id(0);
    const long b = get_global_id(1);
    if (j >= S) return;
    __global const long* o = off + 5 * b;
    TV kv[NE], vv[NV], ak[NE], av[NV];
    for (int c = 0; c < NE; ++c) {
        kv[c] = VLOAD(c, k + o[1] + (long)j * E);
        ak[c] = (TV)(0);
    }
    for (int c = 0; c < NV; ++c) {
        vv[c] = VLOAD(c, v + o[2] + (long)j * EV);
        av[c] = (TV)(0);
    }
    for (int i = CAUSAL ? j : 0; i < L; ++i) {
        __global const T* qi = q + o[0] + (long)i * E;
        const long r = b * L + i;
        const T p = exp(score(kv, qi, scale, mask, o[3] + i * msl + j * mss) - lse[r]);
        if (p == 0) continue;
        __global const T* gi = g + r * EV;
        T dp = dot_v(vv, gi), pk = p;
#if KEEP
        const T kept = keep[o[4] + i * ksl + j * kss];
        dp *= kept;
        pk *= kept;
#endif
        for (int c = 0; c < NV; ++c) av[c] = fma((TV)(pk), VLOAD(c, gi), av[c]);
        const T ds = p * (dp - dsum[r]);
        for (int c = 0; c < NE; ++c) ak[c] = fma((TV)(ds), VLOAD(c, qi), ak[c]);
    }
    const long r = b * S + j;
    for (int c = 0; c < NE; ++c) VSTORE(ak[c] * scale, c, dk + r * E);
    for (int c = 0; c < NV; ++c) VSTORE(av[c], c, dv + r * EV);
}
