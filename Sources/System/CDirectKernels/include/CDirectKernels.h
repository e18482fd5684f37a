#ifndef RAT_CDIRECTKERNELS_H
#define RAT_CDIRECTKERNELS_H

// The direct convolution kernels' inner loops (Sources/Kernels/DirectConvolution.swift),
// in C so that one build carries three versions of each: `_avx512` compiled for AVX-512F
// (x86_64 only; 32 columns per register block where the row allows), `_avx2` for AVX2 +
// FMA (x86_64 only; call each only when the CPU has it) and `_portable` for the
// architecture's baseline (SSE2 on x86_64, NEON on arm64). Swift has no per-function
// target attribute, and a whole-module -target-cpu makes the binary crash (SIGILL) on
// CPUs without AVX2.

/// A stride-1 convolution of one zero-padded image:
///   out[o][r, x] = Σ_c,ky,kx filter[o, c, ky, kx] · input[c, r + ky, x + kx]
/// input [in_channels, padded_rows, padded_columns]; out[o] a plane [rows, columns] per
/// output channel; filter [⌈out_channels/4⌉·4, in_channels, k, k] (rows past out_channels
/// zero); columns a multiple of 16.
struct rat_direct_problem {
    long in_channels, out_channels, k, padded_rows, padded_columns, rows, columns;
};

void rat_direct_convolve_image_avx512(float *const *out, const float *input, const float *filter,
                                      const struct rat_direct_problem *p);
void rat_direct_convolve_image_avx2(float *const *out, const float *input, const float *filter,
                                    const struct rat_direct_problem *p);
void rat_direct_convolve_image_portable(float *const *out, const float *input, const float *filter,
                                        const struct rat_direct_problem *p);

/// The filter gradient's share of one image, added to partial [out_channels, in_channels·k·k]:
///   partial[o, (c·k + ky)·k + kx] += Σ_r,x dy[o, r, x] · input[c, r + ky, x + kx]
/// dy [out_channels, rows, columns] of this image; k ≤ 5; columns a multiple of 8.
void rat_direct_filter_grad_image_avx512(float *partial, const float *input, const float *dy,
                                         const struct rat_direct_problem *p);
void rat_direct_filter_grad_image_avx2(float *partial, const float *input, const float *dy,
                                       const struct rat_direct_problem *p);
void rat_direct_filter_grad_image_portable(float *partial, const float *input, const float *dy,
                                           const struct rat_direct_problem *p);

#endif
