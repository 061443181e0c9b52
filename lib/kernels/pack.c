/*
 * pack.c — weights repacked once, at model load, into the row-interleaved
 * layout of kernels.h ("packed weights"), and the scalar set's product on
 * that layout.
 *
 * Not for: the SIMD products on packed weights (packed_avx512.c) or the
 * decision to pack (model.c, through llp_matmul_pack in matmul.c).
 *
 * Packing is plain byte shuffling: no value changes, so a product on packed
 * weights equals the product on the original rows bit for bit in every
 * kernel set (tests/kernels_vs_ref.c).
 */
#include "kernels/kernels.h"
#include "util.h"

#include <string.h>

bool llp_pack_supported(uint32_t type)
{
    switch (type) {
    case LLP_Q4_0: case LLP_Q4_1: case LLP_Q5_0: case LLP_Q5_1: case LLP_Q8_0:
        return true;
    default:
        return false;
    }
}

size_t llp_packed_bytes(uint32_t type, int64_t n_in, int64_t n_out)
{
    int64_t groups = (n_out + LLP_PACK_ROWS - 1) / LLP_PACK_ROWS;
    return (size_t)groups * LLP_PACK_ROWS * llp_row_size(type, n_in);
}

/* Where the parts of a packed legacy block live (offsets in bytes from the
 * start of the 16-row block). */
typedef struct {
    size_t d, m, qh, qs, bytes;
    bool nibbles;       /* qs holds nibbles (else Q8_0's codes) */
} legacy_layout;

static legacy_layout layout_of(uint32_t type)
{
    legacy_layout L = { 0 };
    L.d = 0;
    L.nibbles = type != LLP_Q8_0;
    size_t at = 2 * LLP_PACK_ROWS;
    if (type == LLP_Q4_1 || type == LLP_Q5_1) { L.m = at; at += 2 * LLP_PACK_ROWS; }
    if (type == LLP_Q5_0 || type == LLP_Q5_1) { L.qh = at; at += 8 * 8; }
    L.qs = at;
    at += type == LLP_Q8_0 ? 32 * LLP_PACK_ROWS : 16 * LLP_PACK_ROWS;
    L.bytes = at;
    return L;
}

/* The parts of one original legacy block. */
static void block_parts(uint32_t type, const uint8_t *blk, uint16_t *d, uint16_t *m,
                        uint32_t *qh, const uint8_t **qs)
{
    *m = 0;
    *qh = 0;
    switch (type) {
    case LLP_Q4_0: {
        const block_q4_0 *b = (const block_q4_0 *)blk;
        *d = b->d; *qs = b->qs;
        break;
    }
    case LLP_Q4_1: {
        const block_q4_1 *b = (const block_q4_1 *)blk;
        *d = b->d; *m = b->m; *qs = b->qs;
        break;
    }
    case LLP_Q5_0: {
        const block_q5_0 *b = (const block_q5_0 *)blk;
        *d = b->d; memcpy(qh, b->qh, 4); *qs = b->qs;
        break;
    }
    case LLP_Q5_1: {
        const block_q5_1 *b = (const block_q5_1 *)blk;
        *d = b->d; *m = b->m; memcpy(qh, b->qh, 4); *qs = b->qs;
        break;
    }
    default: {
        const block_q8_0 *b = (const block_q8_0 *)blk;
        *d = b->d; *qs = (const uint8_t *)b->qs;
        break;
    }
    }
}

void llp_pack_rows(uint32_t type, const void *W, int64_t n_in, int64_t n_out, void *dst)
{
    const size_t row_bytes = llp_row_size(type, n_in), blk_bytes = row_bytes / (size_t)(n_in / 32);
    const int64_t nb = n_in / 32;
    const legacy_layout L = layout_of(type);
    uint8_t *out = dst;
    for (int64_t r0 = 0; r0 < n_out; r0 += LLP_PACK_ROWS) {
        const uint8_t *row[LLP_PACK_ROWS];
        for (int r = 0; r < LLP_PACK_ROWS; r++) {
            int64_t rr = r0 + r < n_out ? r0 + r : n_out - 1;
            row[r] = (const uint8_t *)W + (size_t)rr * row_bytes;
        }
        for (int64_t b = 0; b < nb; b++, out += L.bytes) {
            uint64_t qh_masks[8] = { 0 };
            for (int r = 0; r < LLP_PACK_ROWS; r++) {
                uint16_t d, m;
                uint32_t qh;
                const uint8_t *qs;
                block_parts(type, row[r] + (size_t)b * blk_bytes, &d, &m, &qh, &qs);
                memcpy(out + L.d + 2 * r, &d, 2);
                if (L.m) memcpy(out + L.m + 2 * r, &m, 2);
                if (L.nibbles) {
                    /* qs[g][r]: bytes 4g..4g+3 (codes 4g.., low nibbles;
                     * 16+4g.., high nibbles). */
                    for (int g = 0; g < 4; g++)
                        memcpy(out + L.qs + 64 * g + 4 * r, qs + 4 * g, 4);
                } else {
                    for (int g = 0; g < 8; g++)
                        for (int j = 0; j < 4; j++)
                            out[L.qs + 64 * g + 4 * r + j] = (uint8_t)(qs[4 * g + j] ^ 0x80);
                }
                /* Fifth bits: mask g covers codes 4g..4g+3 of every row. */
                for (int g = 0; g < 8; g++)
                    for (int j = 0; j < 4; j++)
                        if (qh >> (4 * g + j) & 1) qh_masks[g] |= 1ull << (4 * r + j);
            }
            if (L.qh) memcpy(out + L.qh, qh_masks, sizeof qh_masks);
        }
    }
}

/* ---- the scalar set's product on packed weights ------------------------- */

/* Row r's block b of a packed group, back in the scalar set's terms. */
static void packed_codes(uint32_t type, const uint8_t *blk, int r, uint8_t u[32],
                         float *dw, float *m, int *k)
{
    const legacy_layout L = layout_of(type);
    uint16_t h;
    memcpy(&h, blk + L.d + 2 * r, 2);
    *dw = llp_fp16_to_f32(h);
    *m = 0;
    if (L.m) {
        memcpy(&h, blk + L.m + 2 * r, 2);
        *m = llp_fp16_to_f32(h);
    }
    if (L.nibbles) {
        for (int g = 0; g < 4; g++)
            for (int j = 0; j < 4; j++) {
                uint8_t byte = blk[L.qs + 64 * g + 4 * r + j];
                u[4 * g + j] = byte & 15;
                u[16 + 4 * g + j] = byte >> 4;
            }
    } else {
        for (int g = 0; g < 8; g++)
            for (int j = 0; j < 4; j++) u[4 * g + j] = blk[L.qs + 64 * g + 4 * r + j];
    }
    if (L.qh) {
        for (int g = 0; g < 8; g++) {
            uint64_t mask;
            memcpy(&mask, blk + L.qh + 8 * g, 8);
            for (int j = 0; j < 4; j++)
                if (mask >> (4 * r + j) & 1) u[4 * g + j] |= 16;
        }
    }
    switch (type) {
    case LLP_Q4_0: *k = 8; break;
    case LLP_Q5_0: *k = 16; break;
    case LLP_Q8_0: *k = 128; break;
    default:       *k = 0; break;
    }
}

void llp_gemm_packed_scalar(uint32_t type, int64_t n, const void *P, int n_rows,
                            const void *A, size_t a_stride, int n_tok, float *Y,
                            int64_t y_stride)
{
    const int64_t nb = n / 32;
    const size_t blk = layout_of(type).bytes;
    for (int r0 = 0; r0 < n_rows; r0 += LLP_PACK_ROWS) {
        const uint8_t *group = (const uint8_t *)P + (size_t)(r0 / LLP_PACK_ROWS) * (size_t)nb * blk;
        for (int r = 0; r < LLP_PACK_ROWS && r0 + r < n_rows; r++) {
            for (int t = 0; t < n_tok; t++) {
                const llp_act_q8_32 *a = (const llp_act_q8_32 *)((const char *)A +
                                                                  (size_t)t * a_stride);
                float acc = 0;
                for (int64_t b = 0; b < nb; b++) {
                    uint8_t u[32];
                    float dw, m;
                    int k;
                    packed_codes(type, group + (size_t)b * blk, r, u, &dw, &m, &k);
                    int32_t isum = 0;
                    for (int j = 0; j < 32; j++) isum += u[j] * a[b].qs[j];
                    isum -= k * a[b].sum;
                    acc += dw * a[b].d * (float)isum + m * a[b].s;
                }
                Y[(int64_t)t * y_stride + r0 + r] = acc;
            }
        }
    }
}
