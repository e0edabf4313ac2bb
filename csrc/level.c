#include <math.h>

#include "al_fastmath.h"
#include "al_internal.h"

static inline int al_level_ok(const al_level *m)
{
    return m && m->mean_square && m->count && m->n_channels > 0 &&
           (m->mode == AL_LEVEL_EXPONENTIAL || m->mode == AL_LEVEL_LEQ) && m->alpha > 0.0 &&
           m->alpha <= 1.0 && m->inv_reference_sq > 0.0 && isfinite(m->inv_reference_sq);
}

al_status al_level_process(al_level *m, float *x, int32_t n_channels, int64_t n_frames)
{
    if (!al_level_ok(m) || (!x && n_frames > 0)) return AL_ERR_NULL;
    if (n_channels != m->n_channels || n_frames < 0) return AL_ERR_SIZE;
    al_fpmode fp = al_fp_enter();
    for (int32_t c = 0; c < n_channels; c++) {
        const float *xc = x + (int64_t)c * n_frames;
        double ms = m->mean_square[c];
        if (m->mode == AL_LEVEL_EXPONENTIAL) {
            /* IEC 61672-1 exponential time weighting of the squared signal: the one-pole
             * ms[n] = ms[n-1] + alpha (x[n]^2 - ms[n-1]), alpha = 1 - exp(-1 / (tau fs)). */
            const double a = m->alpha, keep = 1.0 - m->alpha;
            for (int64_t i = 0; i < n_frames; i++) {
                const double v = xc[i];
                ms = keep * ms + a * (v * v);
            }
        } else {
            for (int64_t i = 0; i < n_frames; i++) {
                const double v = xc[i];
                ms += v * v;
            }
            m->count[c] += n_frames;
        }
        m->mean_square[c] = ms;
    }
    al_fp_leave(fp);
    return AL_OK;
}

al_status al_level_levels(al_level *m, const float *x, float *level_db, int64_t n_frames)
{
    if (!al_level_ok(m) || ((!x || !level_db) && n_frames > 0)) return AL_ERR_NULL;
    if (n_frames < 0) return AL_ERR_SIZE;
    const double inv_ref = m->inv_reference_sq;
    al_fpmode fp = al_fp_enter();
    for (int32_t c = 0; c < m->n_channels; c++) {
        const float *xc = x + (int64_t)c * n_frames;
        float *lc = level_db + (int64_t)c * n_frames;
        double ms = m->mean_square[c];
        /* Two passes per block of samples: the serial recursion (its mean square parked in
         * a double buffer), then the vectorised conversion to dB. x may alias level_db, so
         * a block is read completely before any of it is written. */
        enum { BLOCK = 256 };
        double buf[BLOCK];
        for (int64_t start = 0; start < n_frames; start += BLOCK) {
            const int64_t len = n_frames - start < BLOCK ? n_frames - start : BLOCK;
            if (m->mode == AL_LEVEL_EXPONENTIAL) {
                const double a = m->alpha, keep = 1.0 - m->alpha;
                for (int64_t i = 0; i < len; i++) {
                    const double v = xc[start + i];
                    ms = keep * ms + a * (v * v);
                    buf[i] = ms * inv_ref;
                }
            } else {
                int64_t count = m->count[c];
                for (int64_t i = 0; i < len; i++) {
                    const double v = xc[start + i];
                    ms += v * v;
                    buf[i] = ms * inv_ref / (double)(count + i + 1);
                }
                m->count[c] = count + len;
            }
            for (int64_t i = 0; i < len; i++) lc[start + i] = (float)al_db10_f64(buf[i]);
        }
        m->mean_square[c] = ms;
    }
    al_fp_leave(fp);
    return AL_OK;
}
