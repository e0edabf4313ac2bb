/* Cochlear-implant simulation: a noise- or sine-carrier channel vocoder (Shannon et al. 1995).
 * Filters, carrier frequencies and the channel-interaction matrix are designed in Python
 * (audiolab/hearing/_ci.py); the per-sample work runs here, vectorised across bands, so every
 * per-band array has the band index innermost. */
#ifndef AL_CI_H
#define AL_CI_H

#include <stdint.h>

#include "al_common.h"

enum { AL_CI_MAX_BANDS = 64, AL_CI_NOISE = 0, AL_CI_SINE = 1 };

typedef struct {
    int32_t n_channels;            /* signal channels the state was allocated for */
    int32_t n_bands;               /* vocoder channels (simulated electrodes), 1..AL_CI_MAX_BANDS */
    int32_t carrier;               /* AL_CI_NOISE or AL_CI_SINE */
    int32_t n_analysis_sections;   /* biquads per analysis band-pass */
    int32_t n_envelope_sections;   /* biquads of the envelope low-pass (shared by all bands) */
    int32_t n_synthesis_sections;  /* biquads per synthesis band-pass (noise carriers) */
    uint64_t seed;                 /* noise carriers: key of the counter-based generator */
    int64_t position;              /* frames processed since rest: the noise/phase counter */
    double envelope_gain;          /* rectified-mean to RMS factor */
    const double *analysis_coef;   /* (n_analysis_sections, 5, n_bands): b0 b1 b2 a1 a2, a0 = 1 */
    const double *envelope_sos;    /* (n_envelope_sections, 6): b0 b1 b2 a0 a1 a2, a0 = 1 */
    const double *synthesis_coef;  /* (n_synthesis_sections, 5, n_bands); unused for sine */
    const double *carrier_gain;    /* (n_bands) makes each carrier's band power 1 */
    const double *spread;          /* (n_bands, n_bands): [j, i] weight of envelope j on
                                    * electrode i; NULL for independent channels */
    const double *rotation;        /* (2, n_bands) cos, sin of the sine carrier's phase step */
    double *analysis_state;        /* (n_channels, n_analysis_sections, 2, n_bands) */
    double *envelope_state;        /* (n_channels, n_envelope_sections, 2, n_bands) */
    double *synthesis_state;       /* (n_channels, n_synthesis_sections, 2, n_bands) */
    double *oscillator;            /* (n_channels, 2, n_bands) cos, sin of the carrier phase */
} al_ci;

/* x: planar (n_channels, n_frames) float32 sound pressure, vocoded in place; n_frames >= 0.
 * Non-finite input samples are taken as 0, so one bad sample cannot poison the state. */
al_status al_ci_process(al_ci *s, float *x, int32_t n_channels, int64_t n_frames);

#endif
