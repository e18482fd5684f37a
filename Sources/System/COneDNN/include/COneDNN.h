#ifndef RAT_CONEDNN_H
#define RAT_CONEDNN_H

// oneDNN's convolutions behind three calls (Sources/Kernels/OneDNNConvolution.swift): a
// primitive for one shape and direction is created once (at compile time), with its
// reorders, and run any number of times on rat's NCHW / OIHW tensors. Its blocked copies
// and scratchpad live in a workspace the caller allocates once (several primitives that
// never run at the same time share one). Nothing is allocated when it runs.

/// x[n, c, h, w] ⊛ w[o, c, k, k] → y[n, o, oh, ow], square kernel, stride and padding.
struct rat_onednn_shape {
    long n, c, h, w, o, k, stride, padding;
};

enum rat_onednn_direction {
    RAT_ONEDNN_FORWARD = 0,          // y ← x ⊛ w
    RAT_ONEDNN_BACKWARD_DATA = 1,    // dx ← ∂/∂x given dy, w
    RAT_ONEDNN_BACKWARD_WEIGHTS = 2, // dw ← ∂/∂w given x, dy
};

struct rat_onednn_convolution;

/// A primitive for one shape and direction, or NULL with a reason in `error`. `blocked`
/// lets oneDNN choose every layout (nChw16c on AVX-512), with reorders from and to rat's
/// NCHW around each run; 0 keeps activations NCHW (oneDNN still chooses the filter's).
/// `winograd` asks for oneDNN's Winograd algorithm (F(4×4, 3×3) on AVX-512; stride-1 3×3
/// only, else NULL) instead of the direct one.
struct rat_onednn_convolution *rat_onednn_create(const struct rat_onednn_shape *shape, int direction, int blocked,
                                                 int winograd, char *error, long error_capacity);

/// The most NCHW tensors a stacked operand may be held by.
#define RAT_ONEDNN_MAX_PARTS 8

/// A forward or backward-data primitive whose x (channels, C) or y (channels, O) is held by
/// several NCHW tensors, stacked along the channel axis in order: x_parts tensors of
/// x_channels[p] channels (summing to C; 0 or 1 part: one tensor), the same for y. Sums of
/// convolutions over several operands become one convolution this way (filters side by side),
/// and convolutions of one operand with several filters one convolution with a split output.
/// Each part is reordered into (out of) its channel range of oneDNN's copy: in a blocked
/// layout every part but the last must hold a multiple of the block (16), else NULL.
/// `bf16`: the direction's two inputs are converted to bf16 by the reorders into oneDNN's
/// copies (forward: x, w; backward data: dy, w; backward weights: x, dy) and its output is
/// f32, accumulated in f32; rat's tensors stay f32. NULL where oneDNN declines it or has
/// only its reference kernel for it (there is no bf16 Winograd).
struct rat_onednn_convolution *rat_onednn_create_stacked(const struct rat_onednn_shape *shape, int direction, int blocked,
                                                         int winograd, int bf16, long x_parts, const long *x_channels,
                                                         long y_parts, const long *y_channels,
                                                         char *error, long error_capacity);

/// Runs a stacked primitive: x and y are arrays of its parts' pointers (one each when not stacked).
void rat_onednn_run_stacked(struct rat_onednn_convolution *convolution, float *const *x, float *w, float *const *y,
                            void *workspace);

/// Runs it: forward reads x, w and writes y; backward data reads dy (in y), w and writes
/// dx (in x); backward weights reads x, dy (in y) and writes dw (in w). `workspace`: at
/// least rat_onednn_workspace_bytes, 64-byte aligned, its contents not kept between runs.
void rat_onednn_run(struct rat_onednn_convolution *convolution, float *x, float *w, float *y, void *workspace);

/// oneDNN's name for the implementation it chose (e.g. "jit:avx512_core").
const char *rat_onednn_implementation(const struct rat_onednn_convolution *convolution);

/// Whether the primitive's inputs are bf16 (created with `bf16` and accepted as such).
int rat_onednn_is_bf16(const struct rat_onednn_convolution *convolution);

/// Whether oneDNN runs bf16 natively on this CPU (AVX512_BF16 or AMX, as `DNNL_MAX_CPU_ISA`
/// allows); without it oneDNN emulates bf16 on AVX-512 or has no bf16 at all.
int rat_onednn_bf16_native(void);

/// Bytes of workspace a run needs: the blocked copies and the scratchpad.
long rat_onednn_workspace_bytes(const struct rat_onednn_convolution *convolution);

void rat_onednn_destroy(struct rat_onednn_convolution *convolution);

/// The OpenMP thread count of oneDNN's parallel regions (oneDNN 2.6 from Debian is built
/// with OpenMP): set to rat's worker count so it does not fight rat's own loops.
void rat_onednn_set_threads(int threads);

#endif
