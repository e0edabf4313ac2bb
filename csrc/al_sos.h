/* Cascade of second-order sections (transposed direct form II), multichannel, in place.
 * Coefficients and state are double: one-third-octave sections near 20 Hz at 48 kHz are too
 * ill-conditioned for float32. Samples stay float32. */
#ifndef AL_SOS_H
#define AL_SOS_H

#include <stdint.h>

#include "al_common.h"

typedef struct {
    int32_t n_channels;
    int32_t n_sections;
    const double *sos;   /* (n_sections, 6): b0 b1 b2 a0 a1 a2, a0 == 1 */
    double *state;       /* (n_channels, n_sections, 2) */
} al_sos;

/* x: (n_channels, n_samples) float32, C order, filtered in place. */
al_status al_sos_process(al_sos *s, float *x, int64_t n_samples);

#endif
