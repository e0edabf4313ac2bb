#include "al_biquad.h"
#include "al_internal.h"
#include "al_simd.h"

/* The cascade as a skewed (wavefront) pipeline: lane k of a vector holds section k, and at step
 * t it filters sample t - k, whose input lane k - 1 produced at step t - 1. One permute hands
 * every section its input, so the loop-carried path per step is one section's (two multiply-
 * adds) instead of the whole cascade's. The arithmetic per section and sample is that of
 * AL_BIQUAD_TDF2 in float64, as before, so the output does not depend on the lane count, and
 * a block split anywhere gives the same samples: the pipeline fills and drains within each
 * chunk, with the lanes outside the chunk masked, and only the sections' states persist. */

enum { AL_SOS_CHUNK = 512 }; /* samples per pass, float64 on the stack: 4 KiB, in L1 */

typedef struct {
    al_vd b0, b1, b2, a1, a2, z0, z1;
    int32_t first, n; /* sections first .. first + n - 1 of the cascade in lanes 0 .. n - 1 */
} al_sos_group;

static void group_load(al_sos_group *g, const al_sos *s, const double *z, int32_t first)
{
    double c[7][AL_VD_LANES];
    g->first = first;
    g->n = s->n_sections - first < AL_VD_LANES ? s->n_sections - first : AL_VD_LANES;
    for (int32_t j = 0; j < AL_VD_LANES; j++) {
        /* Lanes past the last section pass their input through (b0 = 1, state at rest). */
        const int32_t k = first + j;
        const double *q = s->sos + 6 * (int64_t)k;
        const int on = j < g->n;
        c[0][j] = on ? q[0] : 1.0;
        c[1][j] = on ? q[1] : 0.0;
        c[2][j] = on ? q[2] : 0.0;
        c[3][j] = on ? q[4] : 0.0;
        c[4][j] = on ? q[5] : 0.0;
        c[5][j] = on ? z[2 * k] : 0.0;
        c[6][j] = on ? z[2 * k + 1] : 0.0;
    }
    g->b0 = al_load_vd(c[0]);
    g->b1 = al_load_vd(c[1]);
    g->b2 = al_load_vd(c[2]);
    g->a1 = al_load_vd(c[3]);
    g->a2 = al_load_vd(c[4]);
    g->z0 = al_load_vd(c[5]);
    g->z1 = al_load_vd(c[6]);
}

static void group_store(const al_sos_group *g, double *z)
{
    double z0[AL_VD_LANES], z1[AL_VD_LANES];
    al_store_vd(z0, g->z0);
    al_store_vd(z1, g->z1);
    for (int32_t j = 0; j < g->n; j++) {
        z[2 * (g->first + j)] = z0[j];
        z[2 * (g->first + j) + 1] = z1[j];
    }
}

/* Fill or drain step t of a chunk of n samples: only lanes with 0 <= t - lane < n advance. */
static inline al_vd group_step_masked(al_sos_group *g, al_vd in, int64_t t, int64_t n)
{
    al_vdi lane;
    for (int32_t j = 0; j < AL_VD_LANES; j++) lane[j] = j;
    const al_vdi k = (al_vdi){0} + t - lane;
    const al_vdi on = (k >= 0) & (k < n);
    al_vd y, z0 = g->z0, z1 = g->z1;
    AL_BIQUAD_TDF2(y, in, g->b0, g->b1, g->b2, g->a1, g->a2, z0, z1);
    g->z0 = al_select_vd(on, z0, g->z0);
    g->z1 = al_select_vd(on, z1, g->z1);
    return y;
}

/* The groups' sections over buf[p][0 .. n - 1], in place, for n_groups (1 or 2) independent
 * channels at once: two chains in flight hide each other's latency. The last lane writes
 * sample t - L + 1 after lane 0 has read sample t, so no input is overwritten before it is
 * read. */
static inline void group_run(al_sos_group *g, double *const *buf, int n_groups, int64_t n)
{
    const int64_t lag = AL_VD_LANES - 1;
    al_vd y[2] = {{0}, {0}};
    int64_t t = 0;
    for (; t < n && t < lag; t++)
        for (int p = 0; p < n_groups; p++)
            y[p] = group_step_masked(&g[p], al_shift_in_vd(y[p], buf[p][t]), t, n);
    if (n_groups == 2) {
        al_sos_group *ga = &g[0], *gb = &g[1];
        double *ba = buf[0], *bb = buf[1];
        al_vd ya = y[0], yb = y[1];
        for (; t < n; t++) {
            const al_vd ia = al_shift_in_vd(ya, ba[t]);
            const al_vd ib = al_shift_in_vd(yb, bb[t]);
            AL_BIQUAD_TDF2(ya, ia, ga->b0, ga->b1, ga->b2, ga->a1, ga->a2, ga->z0, ga->z1);
            AL_BIQUAD_TDF2(yb, ib, gb->b0, gb->b1, gb->b2, gb->a1, gb->a2, gb->z0, gb->z1);
            ba[t - lag] = ya[AL_VD_LANES - 1];
            bb[t - lag] = yb[AL_VD_LANES - 1];
        }
        y[0] = ya;
        y[1] = yb;
    } else {
        al_sos_group *ga = &g[0];
        double *ba = buf[0];
        al_vd ya = y[0];
        for (; t < n; t++) {
            const al_vd ia = al_shift_in_vd(ya, ba[t]);
            AL_BIQUAD_TDF2(ya, ia, ga->b0, ga->b1, ga->b2, ga->a1, ga->a2, ga->z0, ga->z1);
            ba[t - lag] = ya[AL_VD_LANES - 1];
        }
        y[0] = ya;
    }
    for (; t < n + lag; t++)
        for (int p = 0; p < n_groups; p++) {
            y[p] = group_step_masked(&g[p], al_shift_in_vd(y[p], 0.0), t, n);
            if (t >= lag) buf[p][t - lag] = y[p][AL_VD_LANES - 1];
        }
}

al_status al_sos_process(al_sos *s, float *x, int64_t n_samples)
{
    if (!s || !s->sos || !s->state || (!x && n_samples > 0)) return AL_ERR_NULL;
    if (s->n_channels < 1 || s->n_sections < 1 || n_samples < 0) return AL_ERR_SIZE;
    al_fpmode fp = al_fp_enter();
    const int32_t ns = s->n_sections;
    double store[2][AL_SOS_CHUNK];
    double *const buf[2] = {store[0], store[1]};
    /* Channels in pairs (and a last one alone). */
    for (int32_t c = 0; c < s->n_channels; c += 2) {
        const int n_groups = c + 1 < s->n_channels ? 2 : 1;
        for (int64_t start = 0; start < n_samples; start += AL_SOS_CHUNK) {
            const int64_t n = n_samples - start < AL_SOS_CHUNK ? n_samples - start : AL_SOS_CHUNK;
            for (int p = 0; p < n_groups; p++) {
                const float *xc = x + (int64_t)(c + p) * n_samples + start;
                for (int64_t i = 0; i < n; i++) buf[p][i] = xc[i];
            }
            for (int32_t first = 0; first < ns; first += AL_VD_LANES) {
                al_sos_group g[2];
                for (int p = 0; p < n_groups; p++)
                    group_load(&g[p], s, s->state + 2 * (int64_t)(c + p) * ns, first);
                group_run(g, buf, n_groups, n);
                for (int p = 0; p < n_groups; p++)
                    group_store(&g[p], s->state + 2 * (int64_t)(c + p) * ns);
            }
            for (int p = 0; p < n_groups; p++) {
                float *xc = x + (int64_t)(c + p) * n_samples + start;
                for (int64_t i = 0; i < n; i++) xc[i] = (float)buf[p][i];
            }
        }
    }
    al_fp_leave(fp);
    return AL_OK;
}
