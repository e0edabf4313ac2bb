#include "al_gammatone_impl.h"

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

al_status al_gt_process(al_gt_analyzer *a, al_gt_synth *s, float *x, int64_t n)
{
    al_status status = al_gt_analyzer_valid(a);
    if (status == AL_OK) status = al_gt_synth_valid(s);
    if (status != AL_OK) return status;
    if (!x && n > 0) return AL_ERR_NULL;
    if (a->n_bands != s->n_bands || a->n_channels != s->n_channels) return AL_ERR_STATE;
    if (n < 0) return AL_ERR_SIZE;
    const int32_t nb = a->n_bands, nl = a->n_lanes, mask = s->ring_len - 1;
    float *zre = a->scratch, *zim = a->scratch + nl, *r = s->scratch;
    al_fpmode fp = al_fp_enter();
    for (int32_t c = 0; c < a->n_channels; c++) {
        float *sre = a->state_re + (int64_t)c * AL_GT_ORDER * nl;
        float *sim = a->state_im + (int64_t)c * AL_GT_ORDER * nl;
        float *ring = s->ring + (int64_t)c * s->ring_len;
        float *xc = x + (int64_t)c * n;
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
