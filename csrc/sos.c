#include "al_biquad.h"
#include "al_internal.h"

al_status al_sos_process(al_sos *s, float *x, int64_t n_samples)
{
    if (!s || !s->sos || !s->state || (!x && n_samples > 0)) return AL_ERR_NULL;
    if (s->n_channels < 1 || s->n_sections < 1 || n_samples < 0) return AL_ERR_SIZE;
    al_fpmode fp = al_fp_enter();
    const int32_t ns = s->n_sections;
    for (int32_t c = 0; c < s->n_channels; c++) {
        float *xc = x + (int64_t)c * n_samples;
        double *z = s->state + 2 * (int64_t)c * ns;
        /* Samples outer, sections inner: consecutive sections' recursions overlap in the
         * pipeline, where a section-by-section pass would wait on one chain at a time. */
        for (int64_t n = 0; n < n_samples; n++) {
            double v = xc[n];
            for (int32_t k = 0; k < ns; k++) {
                const double *q = s->sos + 6 * k;
                AL_BIQUAD_TDF2(v, v, q[0], q[1], q[2], q[4], q[5], z[2 * k], z[2 * k + 1]);
            }
            xc[n] = (float)v;
        }
    }
    al_fp_leave(fp);
    return AL_OK;
}
