/* Chain stages owned by the chain module (audiolab/hearing/_chain.py): a broadband gain.
 * Every stage function has the al_stage_fn shape (csrc/al_common.h) with its own state type. */
#ifndef AL_CHAIN_H
#define AL_CHAIN_H

#include <stdint.h>

#include "al_common.h"

typedef struct {
    int32_t n_channels;   /* channel count the state was allocated for */
    float gain;           /* linear amplitude factor, 10^(gain_db / 20) */
} al_gain;

/* x: planar (n_channels, n_frames) float32, scaled in place; n_frames >= 0. */
al_status al_gain_process(al_gain *state, float *x, int32_t n_channels, int64_t n_frames);

#endif
