// One interpreter body, inlined into three twins (AVX-512, AVX2, baseline) that differ only
// in the instructions the compiler may use for the 16-float vectors below. Every operation
// is one IEEE operation per element (no contraction across instructions: each result is
// stored), so the twins give the same bits; exp and log call the C library per element.
#include "CElementwise.h"

#include <math.h>
#include <string.h>

// The helpers pass 64-byte vectors by value; they are always inlined, so the ABI note clang
// gives for them in the narrower twins never applies.
#pragma clang diagnostic ignored "-Wpsabi"

typedef float v16f __attribute__((vector_size(64)));
typedef int v16i __attribute__((vector_size(64)));

#define BODY static inline __attribute__((always_inline))

BODY v16f load16(const float *p) { v16f v; memcpy(&v, p, sizeof v); return v; }
BODY void store16(float *p, v16f v) { memcpy(p, &v, sizeof v); }
BODY v16f splat16(float x) { return (v16f){x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x}; }
BODY v16f select16(v16i mask, v16f a, v16f b) { return (v16f)(((v16i)a & mask) | ((v16i)b & ~mask)); }

// The scalar forms define the results (NaN included: a comparison with NaN is false); the
// vector forms select exactly the same way.
BODY float unary1(int op, float x) {
    switch (op) {
    case RAT_EW_NEG: return -x;
    case RAT_EW_EXP: return expf(x);
    case RAT_EW_LOG: return logf(x);
    case RAT_EW_SQRT: return sqrtf(x);
    case RAT_EW_RELU: return x > 0 ? x : 0;
    case RAT_EW_STEP: return x > 0 ? 1 : 0;
    case RAT_EW_SIGN: return x > 0 ? 1 : (x < 0 ? -1 : 0);
    default: return x;  // RAT_EW_COPY
    }
}

BODY float binary1(int op, float a, float b) {
    switch (op) {
    case RAT_EW_ADD: return a + b;
    case RAT_EW_SUB: return a - b;
    case RAT_EW_MUL: return a * b;
    case RAT_EW_DIV: return a / b;
    case RAT_EW_MAXIMUM: return a >= b ? a : b;
    case RAT_EW_MINIMUM: return a <= b ? a : b;
    default: return a == b ? 1 : 0;  // RAT_EW_EQUAL
    }
}

#define ZERO splat16(0)
#define ONE splat16(1)

BODY void unary_loop(int op, float *d, const float *x, long n) {
    long i = 0;
    switch (op) {
    case RAT_EW_NEG: for (; i + 16 <= n; i += 16) store16(d + i, -load16(x + i)); break;
    case RAT_EW_SQRT: for (; i < n; i++) d[i] = sqrtf(x[i]); break;
    case RAT_EW_RELU:
        for (; i + 16 <= n; i += 16) { v16f v = load16(x + i); store16(d + i, select16(v > ZERO, v, ZERO)); }
        break;
    case RAT_EW_STEP:
        for (; i + 16 <= n; i += 16) store16(d + i, select16(load16(x + i) > ZERO, ONE, ZERO));
        break;
    case RAT_EW_SIGN:
        for (; i + 16 <= n; i += 16) {
            v16f v = load16(x + i);
            store16(d + i, select16(v > ZERO, ONE, select16(v < ZERO, -ONE, ZERO)));
        }
        break;
    case RAT_EW_COPY: if (d != x) memmove(d, x, (size_t)n * sizeof(float)); return;
    default: break;  // exp, log: per element below
    }
    for (; i < n; i++) d[i] = unary1(op, x[i]);
}

/// a and b: a pointer, or NULL with the scalar in av / bv.
BODY v16f binary16(int op, v16f a, v16f b) {
    switch (op) {
    case RAT_EW_ADD: return a + b;
    case RAT_EW_SUB: return a - b;
    case RAT_EW_MUL: return a * b;
    case RAT_EW_DIV: return a / b;
    case RAT_EW_MAXIMUM: return select16(a >= b, a, b);
    case RAT_EW_MINIMUM: return select16(a <= b, a, b);
    default: return select16(a == b, ONE, ZERO);
    }
}

// One loop per operation and operand kind, so that the switch is outside the loop.
#define BINARY_LOOPS(OP)                                                                            \
    if (a && b) {                                                                                   \
        for (; i + 16 <= n; i += 16) store16(d + i, binary16(OP, load16(a + i), load16(b + i)));    \
        for (; i < n; i++) d[i] = binary1(OP, a[i], b[i]);                                          \
    } else if (a) {                                                                                 \
        const v16f s = splat16(bv);                                                                 \
        for (; i + 16 <= n; i += 16) store16(d + i, binary16(OP, load16(a + i), s));                \
        for (; i < n; i++) d[i] = binary1(OP, a[i], bv);                                            \
    } else {                                                                                        \
        const v16f s = splat16(av);                                                                 \
        for (; i + 16 <= n; i += 16) store16(d + i, binary16(OP, s, load16(b + i)));                \
        for (; i < n; i++) d[i] = binary1(OP, av, b[i]);                                            \
    }

BODY void binary_loop(int op, float *d, const float *a, float av, const float *b, float bv, long n) {
    long i = 0;
    switch (op) {
    case RAT_EW_ADD: BINARY_LOOPS(RAT_EW_ADD) break;
    case RAT_EW_SUB: BINARY_LOOPS(RAT_EW_SUB) break;
    case RAT_EW_MUL: BINARY_LOOPS(RAT_EW_MUL) break;
    case RAT_EW_DIV: BINARY_LOOPS(RAT_EW_DIV) break;
    case RAT_EW_MAXIMUM: BINARY_LOOPS(RAT_EW_MAXIMUM) break;
    case RAT_EW_MINIMUM: BINARY_LOOPS(RAT_EW_MINIMUM) break;
    default: BINARY_LOOPS(RAT_EW_EQUAL) break;
    }
}

BODY void fill(float *d, float v, long n) {
    long i = 0;
    const v16f s = splat16(v);
    for (; i + 16 <= n; i += 16) store16(d + i, s);
    for (; i < n; i++) d[i] = v;
}

/// The source offset of output elements start..<start+count when they all read one element
/// (they lie in one run of a broadcast innermost axis), else -1.
BODY long single_source(const struct rat_strided_layout *l, long start, long count) {
    const long inner = l->rank - 1;
    if (l->strides[inner] != 0) return -1;
    long rest = start / l->dims[inner];
    if (start - rest * l->dims[inner] + count > l->dims[inner]) return -1;
    long offset = 0;
    for (long d = inner - 1; d >= 0; d--) {
        offset += rest % l->dims[d] * l->strides[d];
        rest /= l->dims[d];
    }
    return offset;
}

BODY void gather(float *dst, const float *src, const struct rat_strided_layout *l, long start, long count) {
    long index[8] = {0}, rest = start, offset = 0;
    const long rank = l->rank, inner = rank - 1, inner_stride = l->strides[inner];
    for (long d = inner; d >= 0; d--) {
        index[d] = rest % l->dims[d];
        rest /= l->dims[d];
        offset += index[d] * l->strides[d];
    }
    while (count > 0) {
        long run = l->dims[inner] - index[inner];
        if (run > count) run = count;
        if (inner_stride == 0) fill(dst, src[offset], run);
        else if (inner_stride == 1) memcpy(dst, src + offset, (size_t)run * sizeof(float));
        else for (long i = 0; i < run; i++) dst[i] = src[offset + i * inner_stride];
        dst += run;
        count -= run;
        index[inner] += run;
        offset += run * inner_stride;
        for (long d = inner; d > 0 && index[d] == l->dims[d]; d--) {
            offset -= index[d] * l->strides[d];
            index[d] = 0;
            index[d - 1] += 1;
            offset += l->strides[d - 1];
        }
    }
}

/// `sink`: when not NULL, output 0 of this chunk goes there (chunk-relative) instead.
BODY void run_chunk(const struct rat_elementwise_program *p, float *const *outputs, const float *const *inputs,
                    long start, long n, float *registers, float *scalar_value, unsigned char *is_scalar, float *sink) {
    float *const first = sink ? sink : outputs[0] + start;
    for (long r = 0; r < p->register_count; r++) is_scalar[r] = 0;
    for (long i = 0; i < p->instruction_count; i++) {
        const struct rat_elementwise_instruction *ins = &p->instructions[i];
        const int reg = ins->destination;
        float *dst = reg >= 0 ? registers + reg * p->register_stride : reg == -1 ? first : outputs[-1 - reg] + start;
        // Resolve the sources before the destination's scalar flag changes: an instruction may
        // write the register it reads. A NULL pointer means the source is the scalar beside it.
        const float *a = NULL, *b = NULL;
        float av = ins->a.value, bv = ins->b.value;
#define RESOLVE(src, ptr, val)                                                                    \
        switch (src.kind) {                                                                       \
        case RAT_EW_INPUT: ptr = inputs[src.index] + start; break;                                \
        case RAT_EW_OUTPUT: ptr = src.index == 0 ? first : outputs[src.index] + start; break;     \
        case RAT_EW_REGISTER:                                                                     \
            if (is_scalar[src.index]) val = scalar_value[src.index];                              \
            else ptr = registers + src.index * p->register_stride;                                \
            break;                                                                                \
        default: break;                                                                           \
        }
        if (ins->opcode == RAT_EW_GATHER) {
            const struct rat_strided_layout *l = &p->layouts[ins->layout];
            const float *source = inputs[ins->a.index];
            const long offset = reg >= 0 ? single_source(l, start, n) : -1;
            if (offset >= 0) {
                scalar_value[reg] = source[offset];
                is_scalar[reg] = 1;
            } else {
                gather(dst, source, l, start, n);
                if (reg >= 0) is_scalar[reg] = 0;
            }
            continue;
        }
        RESOLVE(ins->a, a, av)
        if (ins->opcode >= RAT_EW_ADD) {
            RESOLVE(ins->b, b, bv)
            if (a || b) binary_loop(ins->opcode, dst, a, av, b, bv, n);
            else if (reg >= 0) { scalar_value[reg] = binary1(ins->opcode, av, bv); is_scalar[reg] = 1; continue; }
            else fill(dst, binary1(ins->opcode, av, bv), n);
        } else {
            if (a) unary_loop(ins->opcode, dst, a, n);
            else if (reg >= 0) { scalar_value[reg] = unary1(ins->opcode, av); is_scalar[reg] = 1; continue; }
            else fill(dst, unary1(ins->opcode, av), n);
        }
#undef RESOLVE
        if (reg >= 0) is_scalar[reg] = 0;
    }
}

/// Sum of n floats: 16 lanes, then the lanes in a fixed order.
BODY float sum_run(const float *x, long n) {
    v16f lanes = splat16(0);
    long i = 0;
    for (; i + 16 <= n; i += 16) lanes += load16(x + i);
    float total = 0;
    for (int l = 0; l < 16; l++) total += lanes[l];
    for (; i < n; i++) total += x[i];
    return total;
}

/// Runs the chunks of start..<end. With a sink, output 0 is summed per plane instead of
/// stored: partial[(chunk start / plane) % kept] += the chunk's sum (chunks never cross a
/// plane: the program's segment divides it).
BODY void run(const struct rat_elementwise_program *p, float *const *outputs, const float *const *inputs,
              long start, long end, float *registers, float *sink, long plane, long kept, float *partial) {
    const long count = p->register_count > 0 ? p->register_count : 1;
    float scalar_value[count];
    unsigned char is_scalar[count];
    while (start < end) {
        long n = end - start < p->chunk ? end - start : p->chunk;
        if (p->segment > 0 && n > p->segment - start % p->segment) n = p->segment - start % p->segment;
        run_chunk(p, outputs, inputs, start, n, registers, scalar_value, is_scalar, sink);
        if (sink) partial[start / plane % kept] += sum_run(sink, n);
        start += n;
    }
}

#if defined(__x86_64__)
#define AVX512 __attribute__((target("avx512f")))
#define AVX2 __attribute__((target("avx2,fma")))
#else
#define AVX512  // never called off x86_64 (Kernels chooses by the CPU): the baseline body
#define AVX2
#endif

#define TWINS(NAME, TARGET)                                                                            \
    TARGET void rat_elementwise_run_##NAME(const struct rat_elementwise_program *program, float *const *outputs, \
                                           const float *const *inputs, long start, long end, float *registers) { \
        run(program, outputs, inputs, start, end, registers, NULL, 1, 1, NULL);                         \
    }                                                                                                  \
    TARGET void rat_elementwise_sum_##NAME(const struct rat_elementwise_program *program, const float *const *inputs, \
                                           long start, long end, float *registers, float *sink,          \
                                           long plane, long kept, float *partial) {                      \
        run(program, NULL, inputs, start, end, registers, sink, plane, kept, partial);                  \
    }

TWINS(avx512, AVX512)
TWINS(avx2, AVX2)
TWINS(portable, )

void rat_gather(float *dst, const float *src, const struct rat_strided_layout *layout, long start, long count) {
    gather(dst, src, layout, start, count);
}
