#include "al_internal.h"

al_status al_gain_process(al_gain *state, float *x, int32_t n_channels, int64_t n_frames)
{
    if (!state || (!x && n_frames > 0)) return AL_ERR_NULL;
    if (n_channels < 1 || n_frames < 0) return AL_ERR_SIZE;
    if (n_channels != state->n_channels) return AL_ERR_STATE;
    const float g = state->gain;
    const int64_t n = (int64_t)n_channels * n_frames;
    for (int64_t k = 0; k < n; k++) x[k] *= g;
    return AL_OK;
}
