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

#endif
