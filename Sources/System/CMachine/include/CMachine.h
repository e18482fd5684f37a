#ifndef RAT_CMACHINE_H
#define RAT_CMACHINE_H

// What the machine is, read at run time so that one build runs on any CPU of its
// architecture (no -target-cpu): the instruction set of the hot kernels and the number of
// workers our own parallel loops split into.

/// 1 when the CPU and the OS run AVX2 and FMA instructions (x86_64 only; 0 elsewhere).
int rat_cpu_has_avx2_fma(void);

/// The number of workers: RAT_WORKERS when the environment sets it, else the CPUs this
/// process may run on (its affinity mask, capped by a cgroup v2 CPU quota). An RAT_WORKERS
/// that is not a whole number from 1 to 256 prints an error naming it and exits with
/// status 2 (the count sizes planned scratch, so it cannot be guessed).
int rat_worker_count(void);

/// The widest vector the FMA-limit loop runs on this CPU, in floats: 16 (AVX-512F), 8
/// (AVX2 + FMA) or 4 (the baseline: SSE2 on x86_64, NEON on arm64, where a*b+c may be two
/// instructions, so the portable figure is a floor, not the FMA limit).
int rat_fma_limit_width(void);

/// `iterations` rounds of 16 independent vector FMAs of `width` floats (the values of
/// rat_fma_limit_width; anything else runs the baseline loop): 2·16·width·iterations FLOPs
/// on registers only. Returns a sum of the accumulators so that the loop is not removed.
double rat_fma_limit_loop(int width, long iterations);

#endif
