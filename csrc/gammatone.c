#include "al_gammatone_impl.h"
#include "al_simd.h"

al_status al_gt_analyze(al_gt_analyzer *a, int32_t channel, const float *x, int64_t n,
                        float *out)
{
    const al_status status = al_gt_analyzer_valid(a);
    if (status != AL_OK) return status;
    if ((!x || !out) && n > 0) return AL_ERR_NULL;
    if (channel < 0 || channel >= a->n_channels || n < 0) return AL_ERR_SIZE;
    const int32_t nb = a->n_bands, nl = a->n_lanes;
    float *sre = a->state_re + (int64_t)channel * AL_GT_ORDER * nl;
    float *sim = a->state_im + (int64_t)channel * AL_GT_ORDER * nl;
    float *zre = a->scratch, *zim = a->scratch + (int64_t)AL_GT_CHUNK * nl;
    al_fpmode fp = al_fp_enter();
    for (int64_t start = 0; start < n; start += AL_GT_CHUNK) {
        const int64_t len = (n - start < AL_GT_CHUNK) ? n - start : AL_GT_CHUNK;
        /* Compute a chunk sample-major (vectorised across bands), then store band-major so that
         * the (n_bands, n) output is written in long contiguous runs. */
        for (int64_t j = 0; j < len; j++)
            al_gt_step(nl, a->coef_re, a->coef_im, a->norm, sre, sim, x[start + j],
                       zre + j * nl, zim + j * nl);
        for (int32_t b = 0; b < nb; b++) {
            float *o = out + 2 * ((int64_t)b * n + start);
            for (int64_t j = 0; j < len; j++) {
                o[2 * j] = zre[j * nl + b];
                o[2 * j + 1] = zim[j * nl + b];
            }
        }
    }
    al_fp_leave(fp);
    return AL_OK;
}

al_status al_gt_synthesize(al_gt_synth *s, int32_t channel, const float *bands, int64_t n,
                           float *out)
{
    const al_status status = al_gt_synth_valid(s);
    if (status != AL_OK) return status;
    if ((!bands || !out) && n > 0) return AL_ERR_NULL;
    if (channel < 0 || channel >= s->n_channels || n < 0) return AL_ERR_SIZE;
    const int32_t nb = s->n_bands, mask = s->ring_len - 1;
    float *ring = s->ring + (int64_t)channel * s->ring_len;
    int32_t *pos = s->pos + channel;
    float *r = s->scratch;
    al_fpmode fp = al_fp_enter();
    for (int64_t j = 0; j < n; j++) {
        for (int32_t b = 0; b < nb; b++) {
            const float *z = bands + 2 * ((int64_t)b * n + j);
            r[b] = s->weight_re[b] * z[0] - s->weight_im[b] * z[1];
        }
        out[j] = al_gt_ring_step(nb, r, s->delay, ring, mask, pos);
    }
    al_fp_leave(fp);
    return AL_OK;
}

/* Groups of bands recursed together: one native register of lanes (al_vfn), two groups
 * interleaved (two independent recursions) where their 26 state and coefficient vectors fit
 * the 32 AVX-512 registers, one group elsewhere (16 registers: more would spill). */
enum { GT_NG = AL_VFN_LANES >= 16 ? 2 : 1 };

/* Weighted band outputs Re(weight * z) of one channel for len <= AL_GT_CHUNK samples into r
 * (len, n_lanes), sample-major, for NG (1 or 2) groups of AL_VFN_LANES lanes from lane g0,
 * their stage states in registers for the whole block. Eq. (7)-(11) of Hohmann (2002), as
 * al_gt_step computes them. */
static inline __attribute__((always_inline)) void
gt_analyze_groups(const al_gt_analyzer *a, const al_gt_synth *s, float *sre, float *sim,
                  const float *x, int64_t len, float *restrict r, int32_t g0, const int NG)
{
    enum { W = AL_VFN_LANES };
    const int32_t nl = a->n_lanes;
    al_vfn cr[2], ci[2], nrm[2], wr[2], wi[2], sr[2][AL_GT_ORDER], si[2][AL_GT_ORDER];
    for (int q = 0; q < NG; q++) {
        const int32_t g = g0 + q * W;
        float wre[W], wim[W];
        for (int32_t j = 0; j < W; j++) {
            const int on = g + j < s->n_bands; /* padding lanes: no synthesis weight */
            wre[j] = on ? s->weight_re[g + j] : 0.0f;
            wim[j] = on ? s->weight_im[g + j] : 0.0f;
        }
        cr[q] = al_load_vfn(a->coef_re + g);
        ci[q] = al_load_vfn(a->coef_im + g);
        nrm[q] = al_load_vfn(a->norm + g);
        wr[q] = al_load_vfn(wre);
        wi[q] = al_load_vfn(wim);
        for (int k = 0; k < AL_GT_ORDER; k++) {
            sr[q][k] = al_load_vfn(sre + (int64_t)k * nl + g);
            si[q][k] = al_load_vfn(sim + (int64_t)k * nl + g);
        }
    }
    for (int64_t j = 0; j < len; j++) {
        for (int q = 0; q < NG; q++) {
            al_vfn ir = nrm[q] * x[j], ii = (al_vfn){0};
            for (int k = 0; k < AL_GT_ORDER; k++) {
                const al_vfn re = ir + cr[q] * sr[q][k] - ci[q] * si[q][k];
                const al_vfn im = ii + cr[q] * si[q][k] + ci[q] * sr[q][k];
                sr[q][k] = re;
                si[q][k] = im;
                ir = re;
                ii = im;
            }
            al_store_vfn(r + j * nl + g0 + q * W, wr[q] * ir - wi[q] * ii);
        }
    }
    for (int q = 0; q < NG; q++) {
        const int32_t g = g0 + q * W;
        for (int k = 0; k < AL_GT_ORDER; k++) {
            al_store_vfn(sre + (int64_t)k * nl + g, sr[q][k]);
            al_store_vfn(sim + (int64_t)k * nl + g, si[q][k]);
        }
    }
}

static void gt_analyze_block(const al_gt_analyzer *a, const al_gt_synth *s, float *sre,
                             float *sim, const float *x, int64_t len, float *restrict r)
{
    const int32_t nl = a->n_lanes;
    int32_t g = 0;
    for (; g + GT_NG * AL_VFN_LANES <= nl; g += GT_NG * AL_VFN_LANES)
        gt_analyze_groups(a, s, sre, sim, x, len, r, g, GT_NG);
    for (; g < nl; g += AL_VFN_LANES) gt_analyze_groups(a, s, sre, sim, x, len, r, g, 1);
}

enum { GT_ROW = AL_GT_CHUNK + AL_GT_ROW_PAD };

/* The block's weighted bands r (len, nl), sample-major, as rt (n_bands, GT_ROW), band-major,
 * each row zero after its len values: AL_VFN_LANES x AL_VFN_LANES tiles transposed in
 * registers, the samples after the last whole tile copied one by one. */
static void gt_transpose_block(const float *restrict r, int32_t nl, int32_t nb, int64_t len,
                               float *restrict rt)
{
    const int64_t whole = len - len % AL_VFN_LANES;
    for (int64_t j0 = 0; j0 < whole; j0 += AL_VFN_LANES) {
        for (int32_t g = 0; g < nb; g += AL_VFN_LANES) {
            al_vfn v[AL_VFN_LANES];
            for (int i = 0; i < AL_VFN_LANES; i++) v[i] = al_load_vfn(r + (j0 + i) * nl + g);
            al_transpose_vfn(v);
            for (int i = 0; i < AL_VFN_LANES; i++)
                al_store_vfn(rt + (int64_t)(g + i) * GT_ROW + j0, v[i]);
        }
    }
    for (int32_t b = 0; b < nb; b++) {
        float *row = rt + (int64_t)b * GT_ROW;
        for (int64_t j = whole; j < len; j++) row[j] = r[j * nl + b];
        if (len == AL_GT_CHUNK) /* the usual case: one vector store per AL_VFN_LANES zeros */
            for (int32_t j = AL_GT_CHUNK; j < GT_ROW; j += AL_VFN_LANES)
                al_store_vfn(row + j, (al_vfn){0});
        else
            for (int64_t j = len; j < GT_ROW; j++) row[j] = 0.0f;
    }
}

/* Add the block's weighted bands rt (see gt_transpose_block) into the ring at their delays
 * and pop len output samples. The ring is visited in windows of AL_VFN_LANES slots, each
 * loaded and stored once with the terms of every band that reaches it added in between
 * (a band's row read across its ends adds zeros): no store is read back by the next band,
 * which would stall store forwarding. The bands go from the last to the first, so each
 * slot receives its terms in the order the per-sample loop (al_gt_ring_step) adds them
 * (decreasing delay, equal delays from the last band): the sums, and so a block split
 * anywhere, are bit for bit the same. Needs delays that do not decrease with the band (as the design gives) and
 * len + max delay <= ring_len. */
static void gt_delay_sum_block(const al_gt_synth *s, const float *rt, int64_t len,
                               float *ring, int32_t *pos, float *out)
{
    const int32_t nb = s->n_bands, mask = s->ring_len - 1, p = *pos;
    const int32_t *delay = s->delay;
    const int64_t span = len + delay[nb - 1];
    int32_t b_lo = 0, b_hi = -1; /* the bands reaching the window: a contiguous range */
    for (int64_t v0 = 0; v0 < span; v0 += AL_VFN_LANES) {
        while (b_hi + 1 < nb && delay[b_hi + 1] < v0 + AL_VFN_LANES) b_hi++;
        while (b_lo <= b_hi && delay[b_lo] + len <= v0) b_lo++;
        const int32_t q = (int32_t)((p + v0) & mask);
        const int wraps = q + AL_VFN_LANES > s->ring_len;
        float tmp[AL_VFN_LANES];
        if (wraps)
            for (int i = 0; i < AL_VFN_LANES; i++) tmp[i] = ring[(q + i) & mask];
        al_vfn acc = al_load_vfn(wraps ? tmp : ring + q);
        for (int32_t b = b_hi; b >= b_lo; b--)
            acc += al_load_vfn(rt + (int64_t)b * GT_ROW + (v0 - delay[b]));
        if (wraps) {
            al_store_vfn(tmp, acc);
            for (int i = 0; i < AL_VFN_LANES; i++) ring[(q + i) & mask] = tmp[i];
        } else {
            al_store_vfn(ring + q, acc);
        }
    }
    for (int64_t j = 0; j < len; j++) {
        const int32_t q = (int32_t)((p + j) & mask);
        out[j] = ring[q];
        ring[q] = 0.0f;
    }
    *pos = (int32_t)((p + len) & mask);
}

al_status al_gt_process(al_gt_analyzer *a, al_gt_synth *s, float *x, int64_t n)
{
    al_status status = al_gt_analyzer_valid(a);
    if (status == AL_OK) status = al_gt_synth_valid(s);
    if (status != AL_OK) return status;
    if (!x && n > 0) return AL_ERR_NULL;
    if (a->n_bands != s->n_bands || a->n_channels != s->n_channels) return AL_ERR_STATE;
    if (n < 0) return AL_ERR_SIZE;
    const int32_t nb = a->n_bands, nl = a->n_lanes, mask = s->ring_len - 1;
    /* The block path's conditions (see gt_delay_sum_block); otherwise sample by sample. */
    int ascending = 1;
    for (int32_t b = 1; b < nb; b++) ascending &= s->delay[b] >= s->delay[b - 1];
    const int64_t room = (int64_t)s->ring_len - s->delay[nb - 1];
    const int64_t block = room < AL_GT_CHUNK ? room : AL_GT_CHUNK;
    al_fpmode fp = al_fp_enter();
    for (int32_t c = 0; c < a->n_channels; c++) {
        float *sre = a->state_re + (int64_t)c * AL_GT_ORDER * nl;
        float *sim = a->state_im + (int64_t)c * AL_GT_ORDER * nl;
        float *ring = s->ring + (int64_t)c * s->ring_len;
        float *xc = x + (int64_t)c * n;
        if (ascending && block >= 8) {
            /* The analysis scratch holds (AL_GT_CHUNK, n_lanes) weighted band values, then
             * the same band-major after AL_GT_ROW_PAD zeros (see al_gammatone.h). */
            float *rt = a->scratch + (int64_t)AL_GT_CHUNK * nl + AL_GT_ROW_PAD;
            for (int64_t start = 0; start < n; start += block) {
                const int64_t len = n - start < block ? n - start : block;
                gt_analyze_block(a, s, sre, sim, xc + start, len, a->scratch);
                gt_transpose_block(a->scratch, nl, nb, len, rt);
                gt_delay_sum_block(s, rt, len, ring, s->pos + c, xc + start);
            }
            continue;
        }
        float *zre = a->scratch, *zim = a->scratch + nl, *r = s->scratch;
        for (int64_t j = 0; j < n; j++) {
            al_gt_step(nl, a->coef_re, a->coef_im, a->norm, sre, sim, xc[j], zre, zim);
            for (int32_t b = 0; b < nb; b++)
                r[b] = s->weight_re[b] * zre[b] - s->weight_im[b] * zim[b];
            xc[j] = al_gt_ring_step(nb, r, s->delay, ring, mask, s->pos + c);
        }
    }
    al_fp_leave(fp);
    return AL_OK;
}
