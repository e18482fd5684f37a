// The FMA limit of one core: a loop of independent fused multiply-adds on registers only
// (no memory traffic), at the widest vector width the CPU runs. Each twin is the same body
// at one width; the caller picks the widest the CPU has (rat_fma_limit_width).
#include "CMachine.h"

#pragma clang diagnostic ignored "-Wpsabi"

// 16 independent accumulator chains: more than (FMA units × FMA latency) on every x86-64
// core of the last decade (2 × 4 on Skylake-X, Sapphire Rapids and Zen 4), so the loop is
// bound by FMA throughput, not latency. `a = a * m + c` is contracted into one FMA.
#define FMA_LOOP(NAME, ATTRIBUTE, LANES)                                                       \
    typedef float NAME##_vector __attribute__((vector_size(4 * (LANES))));                     \
    ATTRIBUTE double NAME(long iterations) {                                                   \
        NAME##_vector a[16], m, c;                                                             \
        for (int l = 0; l < (LANES); l++) { m[l] = 0.999999f; c[l] = 1e-6f; }                  \
        for (int i = 0; i < 16; i++) for (int l = 0; l < (LANES); l++) a[i][l] = (float)(i + l); \
        for (long it = 0; it < iterations; it++) {                                             \
            _Pragma("clang loop unroll(full)")                                                 \
            for (int i = 0; i < 16; i++) a[i] = a[i] * m + c;                                  \
        }                                                                                      \
        float sum = 0;                                                                         \
        for (int i = 0; i < 16; i++) for (int l = 0; l < (LANES); l++) sum += a[i][l];         \
        return sum;                                                                            \
    }

#if defined(__x86_64__)
FMA_LOOP(fma_loop_avx512, __attribute__((target("avx512f"), noinline)), 16)
FMA_LOOP(fma_loop_avx2, __attribute__((target("avx2,fma"), noinline)), 8)
#endif
FMA_LOOP(fma_loop_portable, __attribute__((noinline)), 4)

int rat_fma_limit_width(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return 16;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 8;
#endif
    return 4;
}

double rat_fma_limit_loop(int width, long iterations) {
#if defined(__x86_64__)
    if (width == 16) return fma_loop_avx512(iterations);
    if (width == 8) return fma_loop_avx2(iterations);
#endif
    return fma_loop_portable(iterations);
}
