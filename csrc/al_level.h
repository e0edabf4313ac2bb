/* Level meter: mean square with exponential time weighting (IEC 61672-1 "fast" 125 ms,
 * "slow" 1 s) or linear averaging since the start (Leq), per channel, in double. */
#ifndef AL_LEVEL_H
#define AL_LEVEL_H

#include <stdint.h>

#include "al_common.h"

typedef enum {
    AL_LEVEL_EXPONENTIAL = 0,  /* ms += alpha (x^2 - ms) */
    AL_LEVEL_LEQ = 1           /* ms = sum(x^2) / count since the start */
} al_level_mode;

typedef struct {
    int32_t n_channels;
    int32_t mode;              /* al_level_mode */
    double alpha;              /* exponential: 1 - exp(-1 / (tau fs)) */
    double inv_reference_sq;   /* 1 / reference^2: levels are dB re reference */
    double *mean_square;       /* (n_channels) exponential mean square, or sum of x^2 (Leq) */
    int64_t *count;            /* (n_channels) samples summed (Leq) */
} al_level;

/* Meter stage (al_stage_fn shape): update the meters from x (n_channels, n_frames); x is
 * left unchanged. */
al_status al_level_process(al_level *m, float *x, int32_t n_channels, int64_t n_frames);

/* Update the meters from x (n_channels, n_frames) and write the level after each sample, in
 * dB re reference (-inf for a zero mean square), to level_db (same shape; may alias x). */
al_status al_level_levels(al_level *m, const float *x, float *level_db, int64_t n_frames);

#endif
