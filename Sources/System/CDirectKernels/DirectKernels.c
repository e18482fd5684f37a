// One body per kernel, inlined into AVX-512, AVX2 + FMA and portable twins. `a += w * x`
// is contracted into llvm.fmuladd, which the AVX twins lower to vfmadd and the portable
// one to a multiply and an add (never a call to fmaf).
#include "CDirectKernels.h"

#include <string.h>

// The helpers pass 32-byte vectors by value; they are always inlined, so the ABI note that
// clang gives for them in the portable twin (no AVX) never applies.
#pragma clang diagnostic ignored "-Wpsabi"

typedef float v8f __attribute__((vector_size(32)));
typedef float v16f __attribute__((vector_size(64)));

#define BODY static inline __attribute__((always_inline))

BODY v8f load8(const float *p) { v8f v; memcpy(&v, p, sizeof v); return v; }
BODY void store8(float *p, v8f v) { memcpy(p, &v, sizeof v); }
BODY v8f splat(float x) { return (v8f){x, x, x, x, x, x, x, x}; }
BODY v16f load16(const float *p) { v16f v; memcpy(&v, p, sizeof v); return v; }
BODY void store16(float *p, v16f v) { memcpy(p, &v, sizeof v); }
BODY v16f splat16(float x) { return (v16f){x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x}; }
BODY float sum8(v8f v) { return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7])); }

// 4 output channels × 2 vectors of columns of one output row per register block: 8
// accumulators. Written once, for 8-lane vectors (16 columns a block: every twin) and
// 16-lane ones (32 columns: the AVX-512 twin, rows a multiple of 32). Each output sums over
// (c, ky, kx) in the same order in both, so where both apply they give the same bits.
#define CONVOLVE_IMAGE(NAME, VEC, LANES, LOAD, STORE, SPLAT)                                          \
    BODY void NAME(float *const *out, const float *input, const float *filter,                        \
                   const struct rat_direct_problem *p) {                                              \
        const long taps = p->in_channels * p->k * p->k, k = p->k;                                     \
        for (long o0 = 0; o0 < p->out_channels; o0 += 4) {                                            \
            const float *f = filter + o0 * taps;                                                      \
            const long live = p->out_channels - o0; /* the last block may have fewer than 4 */        \
            for (long r = 0; r < p->rows; r++) {                                                      \
                for (long c0 = 0; c0 < p->columns; c0 += 2 * LANES) {                                 \
                    VEC a0 = {0}, b0 = {0}, a1 = {0}, b1 = {0}, a2 = {0}, b2 = {0}, a3 = {0}, b3 = {0}; \
                    long tap = 0;                                                                     \
                    for (long ch = 0; ch < p->in_channels; ch++) {                                    \
                        for (long ky = 0; ky < k; ky++) {                                             \
                            const float *row = input + (ch * p->padded_rows + r + ky) * p->padded_columns + c0; \
                            for (long kx = 0; kx < k; kx++, tap++) {                                  \
                                const VEC x0 = LOAD(row + kx), x1 = LOAD(row + kx + LANES);           \
                                const VEC w0 = SPLAT(f[tap]), w1 = SPLAT(f[taps + tap]);              \
                                const VEC w2 = SPLAT(f[2 * taps + tap]), w3 = SPLAT(f[3 * taps + tap]); \
                                a0 += w0 * x0; b0 += w0 * x1;                                         \
                                a1 += w1 * x0; b1 += w1 * x1;                                         \
                                a2 += w2 * x0; b2 += w2 * x1;                                         \
                                a3 += w3 * x0; b3 += w3 * x1;                                         \
                            }                                                                         \
                        }                                                                             \
                    }                                                                                 \
                    const long at = r * p->columns + c0;                                              \
                    STORE(out[o0] + at, a0); STORE(out[o0] + at + LANES, b0);                         \
                    if (live > 1) { STORE(out[o0 + 1] + at, a1); STORE(out[o0 + 1] + at + LANES, b1); } \
                    if (live > 2) { STORE(out[o0 + 2] + at, a2); STORE(out[o0 + 2] + at + LANES, b2); } \
                    if (live > 3) { STORE(out[o0 + 3] + at, a3); STORE(out[o0 + 3] + at + LANES, b3); } \
                }                                                                                     \
            }                                                                                         \
        }                                                                                             \
    }

CONVOLVE_IMAGE(convolve_image, v8f, 8, load8, store8, splat)
CONVOLVE_IMAGE(convolve_image_wide, v16f, 16, load16, store16, splat16)

// Two output channels and one (c, ky) at a time: 2·k sums of 8 lanes over every output row.
BODY void filter_grad_image(float *partial, const float *input, const float *dy,
                            const struct rat_direct_problem *p) {
    const long k = p->k, plane = p->rows * p->columns, taps = p->in_channels * k * k;
    for (long o0 = 0; o0 < p->out_channels; o0 += 2) {
        const int second = o0 + 1 < p->out_channels;  // an odd last channel pairs with itself, its sums unused
        const float *dy0 = dy + o0 * plane, *dy1 = dy + (o0 + second) * plane;
        for (long c = 0; c < p->in_channels; c++) {
            for (long ky = 0; ky < k; ky++) {
                v8f a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, a4 = {0};
                v8f b0 = {0}, b1 = {0}, b2 = {0}, b3 = {0}, b4 = {0};
                for (long r = 0; r < p->rows; r++) {
                    const float *x = input + (c * p->padded_rows + r + ky) * p->padded_columns;
                    const float *g0 = dy0 + r * p->columns, *g1 = dy1 + r * p->columns;
                    for (long c0 = 0; c0 < p->columns; c0 += 8) {
                        const v8f d0 = load8(g0 + c0), d1 = load8(g1 + c0);
                        v8f v = load8(x + c0);
                        a0 += d0 * v; b0 += d1 * v;
                        if (k > 1) { v = load8(x + c0 + 1); a1 += d0 * v; b1 += d1 * v; }
                        if (k > 2) { v = load8(x + c0 + 2); a2 += d0 * v; b2 += d1 * v; }
                        if (k > 3) { v = load8(x + c0 + 3); a3 += d0 * v; b3 += d1 * v; }
                        if (k > 4) { v = load8(x + c0 + 4); a4 += d0 * v; b4 += d1 * v; }
                    }
                }
                const v8f as[5] = {a0, a1, a2, a3, a4}, bs[5] = {b0, b1, b2, b3, b4};
                float *row0 = partial + o0 * taps + (c * k + ky) * k, *row1 = row0 + taps;
                for (long kx = 0; kx < k; kx++) {
                    row0[kx] += sum8(as[kx]);
                    if (second) row1[kx] += sum8(bs[kx]);
                }
            }
        }
    }
}

#if defined(__x86_64__)
#define AVX512 __attribute__((target("avx512f,fma")))
#define AVX2 __attribute__((target("avx2,fma")))
#else
#define AVX512  // never called off x86_64 (Kernels chooses by the CPU): the portable body
#define AVX2
#endif

AVX512 void rat_direct_convolve_image_avx512(float *const *out, const float *input, const float *filter,
                                             const struct rat_direct_problem *p) {
    if (p->columns % 32 == 0) convolve_image_wide(out, input, filter, p);
    else convolve_image(out, input, filter, p);
}

AVX512 void rat_direct_filter_grad_image_avx512(float *partial, const float *input, const float *dy,
                                                const struct rat_direct_problem *p) {
    filter_grad_image(partial, input, dy, p);
}

AVX2 void rat_direct_convolve_image_avx2(float *const *out, const float *input, const float *filter,
                                         const struct rat_direct_problem *p) {
    convolve_image(out, input, filter, p);
}

void rat_direct_convolve_image_portable(float *const *out, const float *input, const float *filter,
                                        const struct rat_direct_problem *p) {
    convolve_image(out, input, filter, p);
}

AVX2 void rat_direct_filter_grad_image_avx2(float *partial, const float *input, const float *dy,
                                            const struct rat_direct_problem *p) {
    filter_grad_image(partial, input, dy, p);
}

void rat_direct_filter_grad_image_portable(float *partial, const float *input, const float *dy,
                                           const struct rat_direct_problem *p) {
    filter_grad_image(partial, input, dy, p);
}
