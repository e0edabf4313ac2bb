#include "al_internal.h"

al_status al_sos_process(al_sos *s, float *x, int64_t n_samples)
{
    if (!s || !s->sos || !s->state || (!x && n_samples > 0)) return AL_ERR_NULL;
    if (s->n_channels < 1 || s->n_sections < 1 || n_samples < 0) return AL_ERR_SIZE;
    al_fpmode fp = al_fp_enter();
    for (int32_t c = 0; c < s->n_channels; c++) {
        float *xc = x + (int64_t)c * n_samples;
        for (int32_t k = 0; k < s->n_sections; k++) {
            const double *q = s->sos + 6 * k;
            const double b0 = q[0], b1 = q[1], b2 = q[2], a1 = q[4], a2 = q[5];
            double *z = s->state + 2 * ((int64_t)c * s->n_sections + k);
            double z0 = z[0], z1 = z[1];
            for (int64_t n = 0; n < n_samples; n++) {
                const double in = xc[n];
                const double out = b0 * in + z0;
                z0 = b1 * in - a1 * out + z1;
                z1 = b2 * in - a2 * out;
                xc[n] = (float)out;
            }
            z[0] = z0;
            z[1] = z1;
        }
    }
    al_fp_leave(fp);
    return AL_OK;
}
