#define _GNU_SOURCE
#include "CMachine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#if defined(__linux__)
#include <sched.h>
#endif

int rat_cpu_has_avx2_fma(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();  // also checks that the OS saves the YMM registers (XCR0)
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

/// ⌈quota / period⌉ from /sys/fs/cgroup/cpu.max ("max 100000" means no quota), or 0.
static int cgroup_cpu_limit(void) {
#if defined(__linux__)
    FILE *file = fopen("/sys/fs/cgroup/cpu.max", "r");
    if (!file) return 0;
    char quota[32] = {0};
    long period = 0;
    int fields = fscanf(file, "%31s %ld", quota, &period);
    fclose(file);
    if (fields != 2 || period <= 0) return 0;
    char *end = NULL;
    long microseconds = strtol(quota, &end, 10);  // "max" leaves end at quota: no quota
    if (end == quota || microseconds <= 0) return 0;
    return (int)((microseconds + period - 1) / period);
#else
    return 0;
#endif
}

static int machine_workers(void) {
    int count = 0;
#if defined(__linux__)
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) count = CPU_COUNT(&set);
#endif
    if (count <= 0) {
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        count = online > 0 ? (int)online : 1;
    }
    int limit = cgroup_cpu_limit();
    if (limit > 0 && limit < count) count = limit;
    return count;
}

int rat_worker_count(void) {
    const char *text = getenv("RAT_WORKERS");
    if (text == NULL) return machine_workers();
    char *end = NULL;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (end == text || *end != '\0' || errno != 0 || value < 1 || value > 256) {
        fprintf(stderr, "error: the environment variable RAT_WORKERS=\"%s\" is not a worker count: "
                        "expected a whole number from 1 to 256 (unset it to use the %d CPUs this process may run on)\n",
                text, machine_workers());
        exit(2);
    }
    return (int)value;
}
