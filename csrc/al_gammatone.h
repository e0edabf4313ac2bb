/* Hohmann (2002) complex 4th-order gammatone filterbank: analysis, resynthesis and the fused
 * streaming analysis -> synthesis path. Coefficients are designed in Python
 * (audiolab/dsp/_gammatone.py); the recursions run here, vectorised across bands. */
#ifndef AL_GAMMATONE_H
#define AL_GAMMATONE_H

#include <stdint.h>

#include "al_common.h"

enum { AL_GT_ORDER = 4, AL_GT_CHUNK = 64 };

/* The analyzer's scratch holds AL_GT_SCRATCH_PER_LANE floats per lane: a block of
 * AL_GT_CHUNK samples of band values sample-major, then the same band-major in rows of
 * AL_GT_CHUNK + AL_GT_ROW_PAD with zeros around them (the delay-sum reads across a row's
 * ends). */
enum { AL_GT_ROW_PAD = 16, AL_GT_SCRATCH_PER_LANE = 2 * AL_GT_CHUNK + 2 * AL_GT_ROW_PAD };

/* The recursion runs on n_lanes >= n_bands lanes (a multiple of AL_GT_LANES): the padding lanes
 * have zero coefficients, so every vector is full and no scalar remainder loop runs. */
enum { AL_GT_LANES = 16 };

typedef struct {
    int32_t n_bands;
    int32_t n_lanes;        /* n_bands rounded up to a multiple of AL_GT_LANES */
    int32_t n_channels;
    const float *coef_re;   /* (n_lanes) pole  lambda * exp(i beta); 0 in padding lanes */
    const float *coef_im;
    const float *norm;      /* (n_lanes) input gain 2 (1 - lambda)^4; 0 in padding lanes */
    float *state_re;        /* (n_channels, AL_GT_ORDER, n_lanes) */
    float *state_im;
    float *scratch;         /* (AL_GT_SCRATCH_PER_LANE * n_lanes) work space */
} al_gt_analyzer;

typedef struct {
    int32_t n_bands;
    int32_t n_channels;
    const float *weight_re; /* (n_bands) gain * phase factor: band output = Re(weight * z) */
    const float *weight_im;
    const int32_t *delay;   /* (n_bands) per-band delay in samples, 0 <= delay < ring_len */
    int32_t ring_len;       /* power of two */
    float *ring;            /* (n_channels, ring_len) output accumulator */
    int32_t *pos;           /* (n_channels) read position in ring */
    float *scratch;         /* (n_bands) work space */
} al_gt_synth;

/* One channel x (n) -> out (n_bands, n) complex64 as interleaved float pairs. */
al_status al_gt_analyze(al_gt_analyzer *a, int32_t channel, const float *x, int64_t n,
                        float *out);

/* Bands (n_bands, n) complex64 of one channel -> out (n) real. */
al_status al_gt_synthesize(al_gt_synth *s, int32_t channel, const float *bands, int64_t n,
                           float *out);

/* Streaming analysis then synthesis of x (n_channels, n) in place, no bands stored. */
al_status al_gt_process(al_gt_analyzer *a, al_gt_synth *s, float *x, int64_t n);

#endif
