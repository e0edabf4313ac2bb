/* Per-sample building blocks of the gammatone bank, shared by the kernels that fuse it with
 * other processing (e.g. the hearing-aid compressor). C sources only. */
#ifndef AL_GAMMATONE_IMPL_H
#define AL_GAMMATONE_IMPL_H

#include "al_internal.h"

/* Run the 4 cascaded complex one-pole stages of every lane for one input sample; writes the
 * band outputs to zre/zim (nb = n_lanes values). The loop over lanes vectorises. */
static inline void al_gt_step(int32_t nb, const float *restrict cre, const float *restrict cim,
                              const float *restrict norm, float *restrict sre,
                              float *restrict sim, float xin, float *restrict zre,
                              float *restrict zim)
{
    /* ivdep: the stage states of different bands never alias (GCC will not prove it itself). */
#pragma GCC ivdep
    for (int32_t b = 0; b < nb; b++) {
        const float cr = cre[b], ci = cim[b];
        float ir = norm[b] * xin, ii = 0.0f;
        for (int k = 0; k < AL_GT_ORDER; k++) {
            float *s_r = sre + k * nb, *s_i = sim + k * nb;
            const float r = ir + cr * s_r[b] - ci * s_i[b];
            const float i = ii + cr * s_i[b] + ci * s_r[b];
            s_r[b] = r;
            s_i[b] = i;
            ir = r;
            ii = i;
        }
        zre[b] = ir;
        zim[b] = ii;
    }
}

/* Add one sample's weighted band values r (n_bands, already Re(weight * z) * gain) into the
 * ring at each band's delay, and pop the output sample. The bands go from the last to the
 * first, the order the block path of al_gt_process keeps (a slot's terms in decreasing
 * delay). */
static inline float al_gt_ring_step(int32_t nb, const float *restrict r,
                                    const int32_t *restrict delay, float *restrict ring,
                                    int32_t mask, int32_t *pos)
{
    const int32_t p = *pos;
    for (int32_t b = nb - 1; b >= 0; b--) ring[(p + delay[b]) & mask] += r[b];
    const float y = ring[p];
    ring[p] = 0.0f;
    *pos = (p + 1) & mask;
    return y;
}

/* Set-up checks, run once per call before any sample: NULL pointers, then counts, then the
 * delay table, so that the per-sample loops index only in range. */
static inline al_status al_gt_analyzer_valid(const al_gt_analyzer *a)
{
    if (!a || !a->coef_re || !a->coef_im || !a->norm || !a->state_re || !a->state_im ||
        !a->scratch)
        return AL_ERR_NULL;
    if (a->n_bands < 1 || a->n_channels < 1 || a->n_lanes < a->n_bands ||
        a->n_lanes % AL_GT_LANES != 0)
        return AL_ERR_SIZE;
    return AL_OK;
}

static inline al_status al_gt_synth_valid(const al_gt_synth *s)
{
    if (!s || !s->weight_re || !s->weight_im || !s->delay || !s->ring || !s->pos || !s->scratch)
        return AL_ERR_NULL;
    if (s->n_bands < 1 || s->n_channels < 1 || s->ring_len < 1 ||
        (s->ring_len & (s->ring_len - 1)) != 0)
        return AL_ERR_SIZE;
    for (int32_t b = 0; b < s->n_bands; b++)
        if (s->delay[b] < 0 || s->delay[b] >= s->ring_len) return AL_ERR_SIZE;
    for (int32_t c = 0; c < s->n_channels; c++)
        if (s->pos[c] < 0 || s->pos[c] >= s->ring_len) return AL_ERR_STATE;
    return AL_OK;
}

#endif
