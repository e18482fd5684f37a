#include "COneDNN.h"

#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// libgomp's, which oneDNN links: declared here so that no OpenMP flag is needed.
extern void omp_set_num_threads(int threads);

void rat_onednn_set_threads(int threads) { omp_set_num_threads(threads); }

enum { X = 0, W = 1, Y = 2 };  // the operands, in rat's order

struct rat_onednn_convolution {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    dnnl_primitive_t primitive;
    int output;                         // which operand the direction writes
    int arguments[3];                   // DNNL_ARG_* of each operand for this direction
    dnnl_memory_t user[3];              // rat's tensor, NCHW / OIHW (its pointer set per run)
    dnnl_memory_t chosen[3];            // oneDNN's layout when it differs, else NULL
    dnnl_primitive_t reorder[3];        // user → chosen for inputs, chosen → user for the output
    dnnl_memory_t scratchpad;
    long offsets[4];                    // of chosen[0..2] and the scratchpad in the workspace
    long held_bytes;
    char implementation[64];
    int bf16;                           // its inputs are bf16 in the chosen copies (the output f32)
    // Channel-stacked x and y (rat_onednn_create_stacked): x's channels, or y's, are held by
    // several NCHW tensors; each part is reordered into (or out of) its channel range of the
    // chosen copy. part_count[i] is 0 for an operand held by one tensor (the fields above).
    long part_count[3];
    dnnl_memory_t part_user[3][RAT_ONEDNN_MAX_PARTS];     // each part, NCHW
    dnnl_memory_t part_view[3][RAT_ONEDNN_MAX_PARTS];     // its channel range of chosen[i]
    dnnl_primitive_t part_reorder[3][RAT_ONEDNN_MAX_PARTS];
};

#define CHECK(call, what)                                                                     \
    do {                                                                                      \
        dnnl_status_t status_ = (call);                                                       \
        if (status_ != dnnl_success) {                                                        \
            snprintf(error, (size_t)error_capacity, "oneDNN: %s failed (status %d)", what, (int)status_); \
            rat_onednn_destroy(c);                                                            \
            return NULL;                                                                      \
        }                                                                                     \
    } while (0)

struct rat_onednn_convolution *rat_onednn_create(const struct rat_onednn_shape *s, int direction, int blocked,
                                                 int winograd, char *error, long error_capacity) {
    return rat_onednn_create_stacked(s, direction, blocked, winograd, 0, 0, NULL, 0, NULL, error, error_capacity);
}

int rat_onednn_bf16_native(void) {
    const dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    return (isa & dnnl_cpu_isa_avx512_core_bf16) == dnnl_cpu_isa_avx512_core_bf16;
}

struct rat_onednn_convolution *rat_onednn_create_stacked(const struct rat_onednn_shape *s, int direction, int blocked,
                                                         int winograd, int bf16, long x_parts, const long *x_channels,
                                                         long y_parts, const long *y_channels,
                                                         char *error, long error_capacity) {
    const dnnl_alg_kind_t algorithm = winograd ? dnnl_convolution_winograd : dnnl_convolution_direct;
    if (x_parts > RAT_ONEDNN_MAX_PARTS || y_parts > RAT_ONEDNN_MAX_PARTS || direction == RAT_ONEDNN_BACKWARD_WEIGHTS && (x_parts > 1 || y_parts > 1)) {
        snprintf(error, (size_t)error_capacity, "stacked operands: at most %d parts, forward or backward data", RAT_ONEDNN_MAX_PARTS);
        return NULL;
    }
    struct rat_onednn_convolution *c = calloc(1, sizeof *c);
    if (!c) { snprintf(error, (size_t)error_capacity, "out of memory"); return NULL; }
    const long oh = (s->h + 2 * s->padding - s->k) / s->stride + 1, ow = (s->w + 2 * s->padding - s->k) / s->stride + 1;
    const dnnl_dims_t xd = {s->n, s->c, s->h, s->w}, wd = {s->o, s->c, s->k, s->k}, yd = {s->n, s->o, oh, ow};
    const dnnl_dims_t strides = {s->stride, s->stride}, pad = {s->padding, s->padding};
    // Right padding: what makes (h + pl + pr − k) / stride + 1 == oh exactly.
    const dnnl_dims_t pad_r = {(oh - 1) * s->stride + s->k - s->h - s->padding,
                               (ow - 1) * s->stride + s->k - s->w - s->padding};
    // bf16: the direction's two inputs are bf16 in oneDNN's copies (the reorders from rat's
    // f32 tensors convert on the way), its output f32 (oneDNN accumulates in f32).
    const int output = direction == RAT_ONEDNN_FORWARD ? Y : direction == RAT_ONEDNN_BACKWARD_DATA ? X : W;
    dnnl_data_type_t types[3];
    for (int i = 0; i < 3; i++) types[i] = bf16 && i != output ? dnnl_bf16 : dnnl_f32;
    // The forward hint of a backward direction: bf16 src and weights, and dst as diff_dst.
    const dnnl_data_type_t hint_y = direction == RAT_ONEDNN_FORWARD ? types[Y] : (bf16 ? dnnl_bf16 : dnnl_f32);
    dnnl_memory_desc_t user_md[3], any_md[3], hint_y_md;
    CHECK(dnnl_memory_desc_init_by_tag(&user_md[X], 4, xd, dnnl_f32, dnnl_nchw), "x descriptor");
    CHECK(dnnl_memory_desc_init_by_tag(&user_md[W], 4, wd, dnnl_f32, dnnl_oihw), "w descriptor");
    CHECK(dnnl_memory_desc_init_by_tag(&user_md[Y], 4, yd, dnnl_f32, dnnl_nchw), "y descriptor");
    const dnnl_format_tag_t activations = blocked ? dnnl_format_tag_any : dnnl_nchw;
    CHECK(dnnl_memory_desc_init_by_tag(&any_md[X], 4, xd, types[X], activations), "x");
    CHECK(dnnl_memory_desc_init_by_tag(&any_md[W], 4, wd, types[W], dnnl_format_tag_any), "w");
    CHECK(dnnl_memory_desc_init_by_tag(&any_md[Y], 4, yd, types[Y], activations), "y");
    CHECK(dnnl_memory_desc_init_by_tag(&hint_y_md, 4, yd, hint_y, activations), "hint y");
    dnnl_memory_desc_t hint_x_md = any_md[X], hint_w_md = any_md[W];
    hint_x_md.data_type = bf16 ? dnnl_bf16 : dnnl_f32;
    hint_w_md.data_type = bf16 ? dnnl_bf16 : dnnl_f32;
    CHECK(dnnl_engine_create(&c->engine, dnnl_cpu, 0), "engine");
    CHECK(dnnl_stream_create(&c->stream, c->engine, dnnl_stream_default_flags), "stream");

    dnnl_primitive_attr_t attr = NULL;
    CHECK(dnnl_primitive_attr_create(&attr), "attributes");
    dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);  // allocated here, once
    // Every direction needs the forward's descriptor (the backward ones as a hint).
    dnnl_convolution_desc_t forward_desc, desc;
    CHECK(dnnl_convolution_forward_desc_init(&forward_desc, dnnl_forward_training, algorithm, &hint_x_md,
                                             &hint_w_md, NULL, &hint_y_md, strides, pad, pad_r), "forward descriptor");
    dnnl_primitive_desc_t forward_pd = NULL, pd = NULL;
    CHECK(dnnl_primitive_desc_create(&forward_pd, &forward_desc, direction == RAT_ONEDNN_FORWARD ? attr : NULL,
                                     c->engine, NULL), "forward primitive descriptor");
    dnnl_query_t queries[3];
    if (direction == RAT_ONEDNN_FORWARD) {
        pd = forward_pd; forward_pd = NULL;
        c->output = Y;
        queries[X] = dnnl_query_src_md; queries[W] = dnnl_query_weights_md; queries[Y] = dnnl_query_dst_md;
        c->arguments[X] = DNNL_ARG_SRC; c->arguments[W] = DNNL_ARG_WEIGHTS; c->arguments[Y] = DNNL_ARG_DST;
    } else if (direction == RAT_ONEDNN_BACKWARD_DATA) {
        CHECK(dnnl_convolution_backward_data_desc_init(&desc, algorithm, &any_md[X], &any_md[W], &any_md[Y],
                                                       strides, pad, pad_r), "backward-data descriptor");
        CHECK(dnnl_primitive_desc_create(&pd, &desc, attr, c->engine, forward_pd), "backward-data primitive descriptor");
        c->output = X;
        queries[X] = dnnl_query_diff_src_md; queries[W] = dnnl_query_weights_md; queries[Y] = dnnl_query_diff_dst_md;
        c->arguments[X] = DNNL_ARG_DIFF_SRC; c->arguments[W] = DNNL_ARG_WEIGHTS; c->arguments[Y] = DNNL_ARG_DIFF_DST;
    } else {
        CHECK(dnnl_convolution_backward_weights_desc_init(&desc, algorithm, &any_md[X], &any_md[W], NULL,
                                                          &any_md[Y], strides, pad, pad_r), "backward-weights descriptor");
        CHECK(dnnl_primitive_desc_create(&pd, &desc, attr, c->engine, forward_pd), "backward-weights primitive descriptor");
        c->output = W;
        queries[X] = dnnl_query_src_md; queries[W] = dnnl_query_diff_weights_md; queries[Y] = dnnl_query_diff_dst_md;
        c->arguments[X] = DNNL_ARG_SRC; c->arguments[W] = DNNL_ARG_DIFF_WEIGHTS; c->arguments[Y] = DNNL_ARG_DIFF_DST;
    }
    if (forward_pd) dnnl_primitive_desc_destroy(forward_pd);
    dnnl_primitive_attr_destroy(attr);

    const char *name = NULL;
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &name) == dnnl_success && name)
        snprintf(c->implementation, sizeof c->implementation, "%s", name);
    if (bf16) {
        // oneDNN's reference kernels run bf16 too, far slower than its f32 JIT: not a speed-up.
        if (strncmp(c->implementation, "ref", 3) == 0) {
            snprintf(error, (size_t)error_capacity, "oneDNN has only its reference kernel for bf16 here (%s)", c->implementation);
            dnnl_primitive_desc_destroy(pd);
            rat_onednn_destroy(c);
            return NULL;
        }
        const int input = output == X ? Y : X;
        const dnnl_memory_desc_t *chosen_input = dnnl_primitive_desc_query_md(pd, queries[input], 0);
        c->bf16 = chosen_input && chosen_input->data_type == dnnl_bf16;
    }
    c->part_count[X] = x_parts > 1 ? x_parts : 0;
    c->part_count[Y] = y_parts > 1 ? y_parts : 0;
    const long *channels[3] = {x_channels, NULL, y_channels};
    for (int i = 0; i < 3; i++) {
        const dnnl_memory_desc_t *chosen = dnnl_primitive_desc_query_md(pd, queries[i], 0);
        CHECK(dnnl_memory_create(&c->user[i], &user_md[i], c->engine, DNNL_MEMORY_NONE), "user memory");
        if (c->part_count[i] == 0 && dnnl_memory_desc_equal(chosen, &user_md[i])) continue;
        CHECK(dnnl_memory_create(&c->chosen[i], chosen, c->engine, DNNL_MEMORY_NONE), "blocked memory");
        c->offsets[i] = c->held_bytes;
        c->held_bytes += ((long)dnnl_memory_desc_get_size(chosen) + 63) / 64 * 64;
        const int out = i == c->output;
        if (c->part_count[i] > 0) {
            // Part p: channels [first, first + its count) of the chosen copy (a submemory: in
            // a blocked layout its first channel must start a block, else oneDNN refuses).
            dnnl_dims_t dims, offsets = {0, 0, 0, 0};
            memcpy(dims, i == X ? xd : yd, sizeof dims);
            long first = 0;
            for (long p = 0; p < c->part_count[i]; p++) {
                dims[1] = channels[i][p];
                offsets[1] = first;
                first += channels[i][p];
                dnnl_memory_desc_t part_md, view_md;
                CHECK(dnnl_memory_desc_init_by_tag(&part_md, 4, dims, dnnl_f32, dnnl_nchw), "part descriptor");
                CHECK(dnnl_memory_desc_init_submemory(&view_md, chosen, dims, offsets), "channel range of a part");
                CHECK(dnnl_memory_create(&c->part_user[i][p], &part_md, c->engine, DNNL_MEMORY_NONE), "part memory");
                CHECK(dnnl_memory_create(&c->part_view[i][p], &view_md, c->engine, DNNL_MEMORY_NONE), "part view");
                dnnl_primitive_desc_t part_pd = NULL;
                CHECK(dnnl_reorder_primitive_desc_create(&part_pd, out ? &view_md : &part_md, c->engine,
                                                         out ? &part_md : &view_md, c->engine, NULL), "part reorder descriptor");
                dnnl_status_t part_status = dnnl_primitive_create(&c->part_reorder[i][p], part_pd);
                dnnl_primitive_desc_destroy(part_pd);
                CHECK(part_status, "part reorder");
            }
            if (first != (i == X ? xd[1] : yd[1])) {
                snprintf(error, (size_t)error_capacity, "parts of %s hold %ld channels, not %ld", i == X ? "x" : "y",
                         first, (long)(i == X ? xd[1] : yd[1]));
                rat_onednn_destroy(c);
                return NULL;
            }
            continue;
        }
        dnnl_primitive_desc_t reorder_pd = NULL;
        CHECK(dnnl_reorder_primitive_desc_create(&reorder_pd, out ? chosen : &user_md[i], c->engine,
                                                 out ? &user_md[i] : chosen, c->engine, NULL), "reorder descriptor");
        dnnl_status_t status = dnnl_primitive_create(&c->reorder[i], reorder_pd);
        dnnl_primitive_desc_destroy(reorder_pd);
        CHECK(status, "reorder");
    }
    const dnnl_memory_desc_t *scratch_md = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    if (scratch_md && dnnl_memory_desc_get_size(scratch_md) > 0) {
        CHECK(dnnl_memory_create(&c->scratchpad, scratch_md, c->engine, DNNL_MEMORY_NONE), "scratchpad");
        c->offsets[3] = c->held_bytes;
        c->held_bytes += ((long)dnnl_memory_desc_get_size(scratch_md) + 63) / 64 * 64;
    }
    dnnl_status_t status = dnnl_primitive_create(&c->primitive, pd);
    dnnl_primitive_desc_destroy(pd);
    CHECK(status, "convolution primitive");
    return c;
}

static void reorder(struct rat_onednn_convolution *c, int i, dnnl_memory_t from, dnnl_memory_t to) {
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
    dnnl_primitive_execute(c->reorder[i], c->stream, 2, args);
}

static void reorder_part(struct rat_onednn_convolution *c, int i, long p, dnnl_memory_t from, dnnl_memory_t to) {
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
    dnnl_primitive_execute(c->part_reorder[i][p], c->stream, 2, args);
}

void rat_onednn_run(struct rat_onednn_convolution *c, float *x, float *w, float *y, void *workspace) {
    rat_onednn_run_stacked(c, &x, w, &y, workspace);
}

void rat_onednn_run_stacked(struct rat_onednn_convolution *c, float *const *x, float *w, float *const *y, void *workspace) {
    float *const *parts[3] = {x, &w, y};
    char *base = workspace;
    for (int i = 0; i < 3; i++) {
        if (!c->chosen[i]) continue;
        dnnl_memory_set_data_handle(c->chosen[i], base + c->offsets[i]);
        for (long p = 0; p < c->part_count[i]; p++) dnnl_memory_set_data_handle(c->part_view[i][p], base + c->offsets[i]);
    }
    if (c->scratchpad) dnnl_memory_set_data_handle(c->scratchpad, base + c->offsets[3]);
    dnnl_exec_arg_t args[4];
    int count = 0;
    for (int i = 0; i < 3; i++) {
        if (c->part_count[i] > 0) {
            for (long p = 0; p < c->part_count[i]; p++) {
                dnnl_memory_set_data_handle(c->part_user[i][p], parts[i][p]);
                if (i != c->output) reorder_part(c, i, p, c->part_user[i][p], c->part_view[i][p]);
            }
        } else {
            dnnl_memory_set_data_handle(c->user[i], parts[i][0]);
            if (c->chosen[i] && i != c->output) reorder(c, i, c->user[i], c->chosen[i]);
        }
        args[count++] = (dnnl_exec_arg_t){c->arguments[i], c->chosen[i] ? c->chosen[i] : c->user[i]};
    }
    if (c->scratchpad) args[count++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, c->scratchpad};
    dnnl_primitive_execute(c->primitive, c->stream, count, args);
    const int o = c->output;
    for (long p = 0; p < c->part_count[o]; p++) reorder_part(c, o, p, c->part_view[o][p], c->part_user[o][p]);
    if (c->part_count[o] == 0 && c->chosen[o]) reorder(c, o, c->chosen[o], c->user[o]);
    dnnl_stream_wait(c->stream);
}

const char *rat_onednn_implementation(const struct rat_onednn_convolution *c) { return c->implementation; }

int rat_onednn_is_bf16(const struct rat_onednn_convolution *c) { return c->bf16; }

long rat_onednn_workspace_bytes(const struct rat_onednn_convolution *c) { return c->held_bytes; }

void rat_onednn_destroy(struct rat_onednn_convolution *c) {
    if (!c) return;
    for (int i = 0; i < 3; i++) {
        for (long p = 0; p < RAT_ONEDNN_MAX_PARTS; p++) {
            if (c->part_reorder[i][p]) dnnl_primitive_destroy(c->part_reorder[i][p]);
            if (c->part_view[i][p]) dnnl_memory_destroy(c->part_view[i][p]);
            if (c->part_user[i][p]) dnnl_memory_destroy(c->part_user[i][p]);
        }
        if (c->reorder[i]) dnnl_primitive_destroy(c->reorder[i]);
        if (c->chosen[i]) dnnl_memory_destroy(c->chosen[i]);
        if (c->user[i]) dnnl_memory_destroy(c->user[i]);
    }
    if (c->scratchpad) dnnl_memory_destroy(c->scratchpad);
    if (c->primitive) dnnl_primitive_destroy(c->primitive);
    if (c->stream) dnnl_stream_destroy(c->stream);
    if (c->engine) dnnl_engine_destroy(c->engine);
    free(c);
}
