/*
 * pack.c — weights repacked once, at model load, into the row-interleaved
 * layout of kernels.h ("packed weights"), and the scalar set's product on
 * that layout.
 *
 * Not for: the SIMD products on packed weights (packed_avx512.c for the
 * legacy types, kpacked_avx512.c for the K-quants) or the decision to pack
 * (model.c, through llp_matmul_pack in matmul.c).
 *
 * Packing is plain byte shuffling (Q6_K's codes are re-split into 6-bit
 * bytes, still without changing a value): a product on packed weights
 * equals the product on the original rows bit for bit in every kernel set
 * (tests/kernels_vs_ref.c).
 */
#include "kernels/kernels.h"
#include "util.h"

#include <string.h>

bool llp_pack_supported(uint32_t type)
{
    switch (type) {
    case LLP_Q4_0: case LLP_Q4_1: case LLP_Q5_0: case LLP_Q5_1: case LLP_Q8_0:
    case LLP_Q2_K: case LLP_Q3_K: case LLP_Q4_K: case LLP_Q5_K: case LLP_Q6_K:
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

static void pack_legacy_rows(uint32_t type, const void *W, int64_t n_in, int64_t n_out,
                             void *dst)
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
                    for (int g = 0; g < 8; g++) {
                        uint32_t four;
                        memcpy(&four, qs + 4 * g, 4);
                        four ^= 0x80808080u;
                        memcpy(out + L.qs + 64 * g + 4 * r, &four, 4);
                    }
                }
                /* Fifth bits: mask g covers codes 4g..4g+3 of every row. */
                if (L.qh)
                    for (int g = 0; g < 8; g++)
                        qh_masks[g] |= (uint64_t)(qh >> (4 * g) & 15) << (4 * r);
            }
            if (L.qh) memcpy(out + L.qh, qh_masks, sizeof qh_masks);
        }
    }
}

/* ---- K-quant super-blocks (layouts in kernels.h) ------------------------ */

/* Offsets in a packed 16-row super-block. */
#define K_DMIN   (2 * LLP_PACK_ROWS)   /* Q4_K, Q5_K */
#define K4_SC    (4 * LLP_PACK_ROWS)   /* Q4_K, Q5_K: 3 x 64 bytes */
#define K5_QH    (K4_SC + 3 * 64)      /* Q5_K: 8 x 64 bytes */
#define K6_SC    (2 * LLP_PACK_ROWS)   /* Q6_K: 4 x 64 bytes */
#define K6_CODES (K6_SC + 4 * 64)      /* Q6_K: 16 x 3 x 64 bytes */
#define K2_SC    (4 * LLP_PACK_ROWS)   /* Q2_K: 4 x 64 bytes */
#define K2_QS    (K2_SC + 4 * 64)      /* Q2_K: 16 x 64 bytes */
#define K3_SC    (2 * LLP_PACK_ROWS)   /* Q3_K: 3 x 64 bytes */
#define K3_HMASK (K3_SC + 3 * 64)      /* Q3_K: 8 x 64 bytes */
#define K3_QS    (K3_HMASK + 8 * 64)   /* Q3_K: 16 x 64 bytes */

static bool is_k_type(uint32_t type)
{
    return type == LLP_Q2_K || type == LLP_Q3_K || type == LLP_Q4_K || type == LLP_Q5_K ||
           type == LLP_Q6_K;
}

static size_t k4_qs_off(uint32_t type)
{
    return type == LLP_Q5_K ? K5_QH + 8 * 64 : K5_QH;
}

/* The 256 6-bit codes of a Q6_K super-block, in value order. */
static void q6_k_codes(const block_q6_k *b, uint8_t u[256])
{
    for (int i = 0; i < 256; i++) {
        int h = i / 128, k = (i % 128) / 32, l = i % 32;
        int low = (b->ql[h * 64 + l + (k % 2) * 32] >> (4 * (k / 2))) & 15;
        int high = (b->qh[h * 32 + l] >> (2 * k)) & 3;
        u[i] = (uint8_t)(low | high << 4);
    }
}

/* Row r's super-block blk into its place in the packed super-block out. */
static void pack_k_block(uint32_t type, const uint8_t *blk, int r, uint8_t *out)
{
    if (type == LLP_Q2_K) {
        const block_q2_k *b = (const block_q2_k *)blk;
        memcpy(out + 2 * r, &b->d, 2);
        memcpy(out + K_DMIN + 2 * r, &b->dmin, 2);
        for (int k = 0; k < 4; k++) memcpy(out + K2_SC + 64 * k + 4 * r, b->scales + 4 * k, 4);
        for (int v = 0; v < 16; v++) memcpy(out + K2_QS + 64 * v + 4 * r, b->qs + 4 * v, 4);
        return;
    }
    if (type == LLP_Q3_K) {
        const block_q3_k *b = (const block_q3_k *)blk;
        memcpy(out + 2 * r, &b->d, 2);
        for (int k = 0; k < 3; k++) memcpy(out + K3_SC + 64 * k + 4 * r, b->scales + 4 * k, 4);
        for (int g = 0; g < 8; g++) memcpy(out + K3_HMASK + 64 * g + 4 * r, b->hmask + 4 * g, 4);
        for (int v = 0; v < 16; v++) memcpy(out + K3_QS + 64 * v + 4 * r, b->qs + 4 * v, 4);
        return;
    }
    if (type == LLP_Q6_K) {
        const block_q6_k *b = (const block_q6_k *)blk;
        uint8_t u[256];
        q6_k_codes(b, u);
        memcpy(out + 2 * r, &b->d, 2);
        for (int k = 0; k < 4; k++) memcpy(out + K6_SC + 64 * k + 4 * r, b->scales + 4 * k, 4);
        /* Sub-block j: three dwords of codes 16j + 4i .., each byte's top
         * two bits holding bits 2i, 2i+1 of the matching code of the fourth
         * dword (16j + 12 ..). */
        for (int j = 0; j < 16; j++)
            for (int i = 0; i < 3; i++)
                for (int l = 0; l < 4; l++)
                    out[K6_CODES + 192 * j + 64 * i + 4 * r + l] = (uint8_t)(
                        u[16 * j + 4 * i + l] | ((u[16 * j + 12 + l] >> (2 * i)) & 3) << 6);
        return;
    }
    /* Q4_K and Q5_K share the head (d, dmin, scales[12]) and qs. */
    const block_q4_k *b4 = (const block_q4_k *)blk;
    const uint8_t *qs = type == LLP_Q5_K ? ((const block_q5_k *)blk)->qs : b4->qs;
    memcpy(out + 2 * r, &b4->d, 2);
    memcpy(out + K_DMIN + 2 * r, &b4->dmin, 2);
    for (int k = 0; k < 3; k++) memcpy(out + K4_SC + 64 * k + 4 * r, b4->scales + 4 * k, 4);
    if (type == LLP_Q5_K)
        for (int g = 0; g < 8; g++)
            memcpy(out + K5_QH + 64 * g + 4 * r, ((const block_q5_k *)blk)->qh + 4 * g, 4);
    for (int p = 0; p < 4; p++)
        for (int g = 0; g < 8; g++)
            memcpy(out + k4_qs_off(type) + 64 * (8 * p + g) + 4 * r, qs + 32 * p + 4 * g, 4);
}

static void pack_k_rows(uint32_t type, const void *W, int64_t n_in, int64_t n_out, void *dst)
{
    const size_t row_bytes = llp_row_size(type, n_in);
    const int64_t nb = n_in / 256;
    const size_t blk_bytes = row_bytes / (size_t)nb;
    uint8_t *out = dst;
    for (int64_t r0 = 0; r0 < n_out; r0 += LLP_PACK_ROWS, out += LLP_PACK_ROWS * row_bytes)
        for (int r = 0; r < LLP_PACK_ROWS; r++) {
            int64_t rr = r0 + r < n_out ? r0 + r : n_out - 1;
            const uint8_t *row = (const uint8_t *)W + (size_t)rr * row_bytes;
            for (int64_t b = 0; b < nb; b++)
                pack_k_block(type, row + (size_t)b * blk_bytes, r,
                             out + (size_t)b * LLP_PACK_ROWS * blk_bytes);
        }
}

void llp_pack_rows(uint32_t type, const void *W, int64_t n_in, int64_t n_out, void *dst)
{
    if (is_k_type(type))
        pack_k_rows(type, W, n_in, n_out, dst);
    else
        pack_legacy_rows(type, W, n_in, n_out, dst);
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

static void gemm_packed_legacy(uint32_t type, int64_t n, const void *P, int n_rows,
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

/* Row r's super-block of a packed K-quant super-block as the scalar set's
 * codes: for sub-block j (16 values), w_i = d * sc[j] * u_i - dm * mn[j]. */
typedef struct {
    uint8_t u[256];
    int sc[16], mn[16];
    float d, dm;
} k_codes;

static void packed_k_codes(uint32_t type, const uint8_t *blk, int r, k_codes *c)
{
    uint16_t h;
    memcpy(&h, blk + 2 * r, 2);
    c->d = llp_fp16_to_f32(h);
    if (type == LLP_Q2_K || type == LLP_Q3_K) {
        if (type == LLP_Q2_K) {
            memcpy(&h, blk + K_DMIN + 2 * r, 2);
            c->dm = llp_fp16_to_f32(h);
            for (int j = 0; j < 16; j++) {
                uint8_t byte = blk[K2_SC + 64 * (j / 4) + 4 * r + j % 4];
                c->sc[j] = byte & 15;
                c->mn[j] = byte >> 4;
            }
        } else {
            c->dm = c->d;
            uint8_t s[12];
            int8_t sc[16];
            for (int k = 0; k < 3; k++) memcpy(s + 4 * k, blk + K3_SC + 64 * k + 4 * r, 4);
            llp_q3_k_scales(s, sc);
            for (int j = 0; j < 16; j++) {
                c->sc[j] = sc[j];
                c->mn[j] = 4 * sc[j];
            }
        }
        /* Value 128h + 32k + 4g + l: field k of byte l of qs dword 8h + g;
         * Q3_K's third bit: bit 4h + k of byte l of hmask dword g. */
        const size_t qs = type == LLP_Q2_K ? K2_QS : K3_QS;
        for (int h2 = 0; h2 < 2; h2++)
            for (int k = 0; k < 4; k++)
                for (int g = 0; g < 8; g++)
                    for (int l = 0; l < 4; l++) {
                        uint8_t *u = &c->u[128 * h2 + 32 * k + 4 * g + l];
                        *u = (blk[qs + 64 * (8 * h2 + g) + 4 * r + l] >> (2 * k)) & 3;
                        if (type == LLP_Q3_K)
                            *u |= (uint8_t)(((blk[K3_HMASK + 64 * g + 4 * r + l] >>
                                              (4 * h2 + k)) & 1) << 2);
                    }
        return;
    }
    if (type == LLP_Q6_K) {
        c->dm = c->d;
        for (int j = 0; j < 16; j++) {
            c->sc[j] = (int8_t)blk[K6_SC + 64 * (j / 4) + 4 * r + j % 4];
            c->mn[j] = 32 * c->sc[j];
        }
        for (int j = 0; j < 16; j++)
            for (int l = 0; l < 4; l++) {
                c->u[16 * j + 12 + l] = 0;
                for (int i = 0; i < 3; i++) {
                    uint8_t byte = blk[K6_CODES + 192 * j + 64 * i + 4 * r + l];
                    c->u[16 * j + 4 * i + l] = byte & 63;
                    c->u[16 * j + 12 + l] |= (uint8_t)((byte >> 6) << (2 * i));
                }
            }
        return;
    }
    memcpy(&h, blk + K_DMIN + 2 * r, 2);
    c->dm = llp_fp16_to_f32(h);
    uint8_t s[12], sc[8], mn[8];
    for (int k = 0; k < 3; k++) memcpy(s + 4 * k, blk + K4_SC + 64 * k + 4 * r, 4);
    llp_k4_scales(s, sc, mn);
    for (int j = 0; j < 16; j++) {
        c->sc[j] = sc[j / 2];
        c->mn[j] = mn[j / 2];
    }
    for (int p = 0; p < 4; p++)
        for (int g = 0; g < 8; g++)
            for (int i = 0; i < 4; i++) {
                uint8_t byte = blk[k4_qs_off(type) + 64 * (8 * p + g) + 4 * r + i];
                uint8_t *lo = &c->u[64 * p + 4 * g + i], *hi = lo + 32;
                *lo = byte & 15;
                *hi = byte >> 4;
                if (type == LLP_Q5_K) {
                    uint8_t qh = blk[K5_QH + 64 * g + 4 * r + i];
                    *lo |= (uint8_t)(((qh >> (2 * p)) & 1) << 4);
                    *hi |= (uint8_t)(((qh >> (2 * p + 1)) & 1) << 4);
                }
            }
}

/* The scalar set's gemm_k arithmetic (scalar.c) on packed rows. */
static void gemm_packed_k(uint32_t type, int64_t n, const void *P, int n_rows,
                          const void *A, size_t a_stride, int n_tok, float *Y,
                          int64_t y_stride)
{
    const int64_t nb = n / 256;
    const size_t blk = LLP_PACK_ROWS * llp_row_size(type, 256);
    for (int r0 = 0; r0 < n_rows; r0 += LLP_PACK_ROWS) {
        const uint8_t *group = (const uint8_t *)P + (size_t)(r0 / LLP_PACK_ROWS) * (size_t)nb * blk;
        for (int r = 0; r < LLP_PACK_ROWS && r0 + r < n_rows; r++) {
            for (int t = 0; t < n_tok; t++) {
                const llp_act_q8_256 *a = (const llp_act_q8_256 *)((const char *)A +
                                                                    (size_t)t * a_stride);
                float acc = 0;
                for (int64_t b = 0; b < nb; b++) {
                    k_codes c;
                    packed_k_codes(type, group + (size_t)b * blk, r, &c);
                    int32_t isum = 0, msum = 0;
                    for (int j = 0; j < 16; j++) {
                        int32_t s = 0;
                        for (int k = 0; k < 16; k++)
                            s += c.u[16 * j + k] * a[b].qs[16 * j + k];
                        isum += c.sc[j] * s;
                        msum += c.mn[j] * a[b].bsums[j];
                    }
                    acc += a[b].d * (c.d * (float)isum - c.dm * (float)msum);
                }
                Y[(int64_t)t * y_stride + r0 + r] = acc;
            }
        }
    }
}

static void gemm_packed_scalar(uint32_t type, int64_t n, const void *P, int n_rows,
                               const void *A, size_t a_stride, int n_tok, float *Y,
                               int64_t y_stride)
{
    if (is_k_type(type))
        gemm_packed_k(type, n, P, n_rows, A, a_stride, n_tok, Y, y_stride);
    else
        gemm_packed_legacy(type, n, P, n_rows, A, a_stride, n_tok, Y, y_stride);
}

/* The scalar set's table entries (kernels/scalar.c): one per type. */
#define SCALAR_PACKED(name, type)                                              \
    void llp_gemm_packed_##name##_scalar(int64_t n, const void *P, int n_rows, \
                                         const void *A, size_t a_stride,       \
                                         int n_tok, float *Y, int64_t y_stride) \
    {                                                                          \
        gemm_packed_scalar(type, n, P, n_rows, A, a_stride, n_tok, Y, y_stride); \
    }
SCALAR_PACKED(q4_0, LLP_Q4_0)
SCALAR_PACKED(q4_1, LLP_Q4_1)
SCALAR_PACKED(q5_0, LLP_Q5_0)
SCALAR_PACKED(q5_1, LLP_Q5_1)
SCALAR_PACKED(q8_0, LLP_Q8_0)
SCALAR_PACKED(q2_k, LLP_Q2_K)
SCALAR_PACKED(q3_k, LLP_Q3_K)
SCALAR_PACKED(q4_k, LLP_Q4_K)
SCALAR_PACKED(q5_k, LLP_Q5_K)
SCALAR_PACKED(q6_k, LLP_Q6_K)
