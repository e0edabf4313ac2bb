/* A bank of SOS cascades (one per band) fed by the same input: octave and fractional-octave
 * filterbanks. Coefficients and state are double (low bands at high sample rates are badly
 * conditioned); samples are float32. Bands are processed in groups of SIMD width with the
 * whole cascade state held in registers, so the bank costs about as much as a few scalar
 * cascades. */
#ifndef AL_SOSBANK_H
#define AL_SOSBANK_H

#include <stdint.h>

#include "al_common.h"

enum {
    AL_SOSBANK_CHUNK = 64,       /* samples per chunk of the band-major transposition */
    AL_SOSBANK_LANES = 8,        /* band stride must be a multiple of this (pad with zeros) */
    AL_SOSBANK_MAX_SECTIONS = 8
};

typedef struct {
    int32_t n_bands;      /* bands written to the output */
    int32_t stride;       /* padded band count, a multiple of AL_SOSBANK_LANES, >= n_bands */
    int32_t n_sections;   /* 1 .. AL_SOSBANK_MAX_SECTIONS */
    int32_t n_channels;
    const double *coef;   /* (n_sections, 5, stride): b0 b1 b2 a1 a2 of each band, a0 == 1 */
    double *state;        /* (n_channels, n_sections, 2, stride), transposed direct form II */
    float *scratch;       /* (AL_SOSBANK_CHUNK, stride) work space */
} al_sosbank;

/* One channel x (n) -> out (n_bands, n): every band's cascade applied to the same input,
 * continuing from the channel's state. */
al_status al_sosbank_analyze(al_sosbank *s, int32_t channel, const float *x, int64_t n,
                             float *out);

/* bands (n_bands, n): filter each row with its own band's cascade, backwards in time (last
 * sample first), in place, continuing from the channel's state. With a state at rest this is
 * the backward pass of forward-backward (zero-phase) filtering. */
al_status al_sosbank_filter_reversed(al_sosbank *s, int32_t channel, float *bands, int64_t n);

#endif
