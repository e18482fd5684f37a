#include <cblas.h>

// Prefetch hints for the kernels (Swift has no prefetch intrinsic): the next work item's
// plane, requested while the current one is processed.
static inline void rat_prefetch(const void *p) { __builtin_prefetch(p, 0, 3); }
static inline void rat_prefetch_for_write(void *p) { __builtin_prefetch(p, 1, 3); }
