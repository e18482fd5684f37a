#ifndef RAT_CELEMENTWISE_H
#define RAT_CELEMENTWISE_H

// The fused elementwise kernel's interpreter (Sources/Kernels/Elementwise.swift builds the
// programs): a program of per-element instructions evaluated chunk by chunk, each instruction
// one vector loop over a chunk held in L1. In C so that one body is built three times, for
// AVX-512, AVX2 and the baseline, and chosen at run time: Swift builds Kernels for the
// baseline only (SSE2 on x86_64), which ran these loops at a quarter of the vector width.

/// An output walked in row-major order over `rank` merged axes, reading its source through
/// `strides` (0 on broadcast axes). At most 8 axes.
struct rat_strided_layout {
    long rank;
    long dims[8];
    long strides[8];
};

enum rat_elementwise_opcode {
    RAT_EW_GATHER = 0,  // inputs[a.index] read through layouts[layout]
    RAT_EW_NEG, RAT_EW_EXP, RAT_EW_LOG, RAT_EW_SQRT, RAT_EW_RELU, RAT_EW_STEP, RAT_EW_SIGN, RAT_EW_COPY,
    RAT_EW_ADD, RAT_EW_SUB, RAT_EW_MUL, RAT_EW_DIV, RAT_EW_MAXIMUM, RAT_EW_MINIMUM, RAT_EW_EQUAL,
};

enum rat_elementwise_source_kind {
    RAT_EW_INPUT = 0,     // a dense input of the output's shape
    RAT_EW_REGISTER = 1,  // an earlier instruction's result
    RAT_EW_SCALAR = 2,    // a constant
    RAT_EW_OUTPUT = 3,    // an output an earlier instruction of this chunk wrote
};

struct rat_elementwise_source {
    int kind;
    int index;    // input or register
    float value;  // the constant
};

struct rat_elementwise_instruction {
    int opcode;
    int destination;  // a register, or -1 - k for output k
    struct rat_elementwise_source a, b;
    int layout;       // RAT_EW_GATHER only
};

struct rat_elementwise_program {
    const struct rat_elementwise_instruction *instructions;
    long instruction_count;
    const struct rat_strided_layout *layouts;
    long register_count;
    long register_stride;  // floats between consecutive registers
    long chunk;            // elements per chunk, at most register_stride
    long segment;          // chunks never cross a multiple of it (0: free); see Elementwise.swift
};

/// outputs[k][start..<end] ← program(inputs) at elements start..<end for every output k.
/// `registers`: register_count · register_stride floats of this worker's scratch.
void rat_elementwise_run_avx512(const struct rat_elementwise_program *program, float *const *outputs,
                                const float *const *inputs, long start, long end, float *registers);
void rat_elementwise_run_avx2(const struct rat_elementwise_program *program, float *const *outputs,
                              const float *const *inputs, long start, long end, float *registers);
void rat_elementwise_run_portable(const struct rat_elementwise_program *program, float *const *outputs,
                                  const float *const *inputs, long start, long end, float *registers);

/// The same program, whose one output is summed instead of stored: for the elements
/// start..<end of an input walked as [outer, kept, plane] (reduced, kept, reduced axes),
/// partial[k] += Σ output over this range's elements of kept index k. `sink`: one chunk of
/// scratch (register_stride floats); `partial`: kept floats. The program's segment must
/// divide `plane`, so that no chunk crosses two planes.
void rat_elementwise_sum_avx512(const struct rat_elementwise_program *program, const float *const *inputs,
                                long start, long end, float *registers, float *sink, long plane, long kept, float *partial);
void rat_elementwise_sum_avx2(const struct rat_elementwise_program *program, const float *const *inputs,
                              long start, long end, float *registers, float *sink, long plane, long kept, float *partial);
void rat_elementwise_sum_portable(const struct rat_elementwise_program *program, const float *const *inputs,
                                  long start, long end, float *registers, float *sink, long plane, long kept, float *partial);

/// dst[0..<count] ← output elements start..<start+count of the layout, read from src.
void rat_gather(float *dst, const float *src, const struct rat_strided_layout *layout, long start, long count);

#endif
