#include <math.h>

#include "al_internal.h"

al_status al_channel_range_process(void *state, float *x, int32_t n_channels, int64_t n_frames)
{
    al_channel_range *s = (al_channel_range *)state;
    if (!s || !s->fn || (!x && n_frames > 0)) return AL_ERR_NULL;
    if (n_frames < 0 || s->first_channel < 0 || s->n_channels < 1 ||
        s->first_channel + s->n_channels > n_channels)
        return AL_ERR_SIZE;
    return s->fn(s->state, x + (int64_t)s->first_channel * n_frames, s->n_channels, n_frames);
}

al_status al_select_process(void *state, float *x, int32_t n_channels, int64_t n_frames)
{
    al_select *s = (al_select *)state;
    if (!s || (!x && n_frames > 0)) return AL_ERR_NULL;
    const int32_t n = s->n_channels;
    if (n < 1 || n_frames < 0 || s->fade_frames < 0 || s->from_channel < 0 ||
        s->to_channel < 0 || s->from_channel + n > n_channels || s->to_channel + n > n_channels)
        return AL_ERR_SIZE;
    const double half_pi = 1.57079632679489661923;
    for (int32_t c = 0; c < n; c++) {
        float *dst = x + (int64_t)c * n_frames;
        const float *a = x + (int64_t)(s->from_channel + c) * n_frames;
        const float *b = x + (int64_t)(s->to_channel + c) * n_frames;
        for (int64_t j = 0; j < n_frames; j++) {
            const int64_t k = s->position + j;
            if (k >= s->fade_frames) {
                dst[j] = b[j];
            } else {
                /* sin^2 rises from 0 to 1 over the fade; a and b weights sum to 1 */
                const double w = sin(half_pi * (double)k / (double)s->fade_frames);
                const float wb = (float)(w * w);
                dst[j] = (1.0f - wb) * a[j] + wb * b[j];
            }
        }
    }
    s->position += n_frames;
    return AL_OK;
}
