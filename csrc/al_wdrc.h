/* Multiband wide-dynamic-range compressor fused with the Hohmann (2002) gammatone bank, plus a
 * broadband output limiter: the hearing aid's audio path (audiolab/hearing/_hearing_aid.py).
 *
 * Per band: complex gammatone analysis -> band power averaged over a grid of `grid` samples ->
 * level in dB SPL smoothed on that grid with attack/release -> static gain curve (knee, ratio,
 * expansion, maximum gain) -> linear gain ramped linearly across the next grid interval ->
 * resynthesis (per-band delay, phase and weight) -> limiter at the MPO on the modulus of the
 * analytic output signal.
 * Bands run in groups of AL_WDRC_LANES vector lanes; per-band arrays are padded to
 * n_groups * AL_WDRC_LANES with zeros (padding lanes stay silent). */
#ifndef AL_WDRC_H
#define AL_WDRC_H

#include <stdint.h>

#include "al_common.h"

enum { AL_WDRC_LANES = 16, AL_WDRC_CHUNK = 64 };

typedef struct {
    int32_t n_bands;
    int32_t n_groups;            /* ceil(n_bands / AL_WDRC_LANES) */
    int32_t n_channels;
    int32_t grid;                /* gains are computed every `grid` samples, 1..256 */
    int32_t ring_len;            /* power of two > max(delay) + AL_WDRC_CHUNK (input ring) */
    /* filterbank, shared by the channels, (n_groups * LANES) */
    const float *coef_re;        /* pole lambda * exp(i beta) */
    const float *coef_im;
    const float *norm;           /* input gain 2 (1 - lambda)^4 */
    const float *weight_re;      /* band output = Re(weight * z) */
    const float *weight_im;
    const int32_t *delay;        /* (n_bands) resynthesis delay applied to the band's input,
                                  * samples, 0 .. ring_len - AL_WDRC_CHUNK - 1 */
    /* gain curve per channel and band, (n_channels, n_groups * LANES) */
    const float *gain_db;        /* gain between the expansion knee and the compression knee */
    const float *knee_db_spl;    /* compression knee (band level) */
    const float *comp_slope;     /* 1 / ratio - 1  (<= 0) */
    const float *exp_knee_db_spl;/* expansion knee (band level) */
    const float *exp_slope;      /* 1 / expansion_ratio - 1  (>= 0; gain falls below the knee) */
    const float *max_gain_db;
    const float *attack_coef;    /* smoothing coefficient per grid step when the level rises */
    const float *release_coef;   /* ... when it falls */
    /* limiter, per channel */
    const float *limit_pa;       /* (n_channels) peak output allowed (MPO sine peak) */
    float limiter_release_coef;  /* per sample decay of the limiter's envelope */
    float power_scale;           /* 1 / (grid * 2 * p_ref^2): summed |z|^2 -> mean square
                                  * re p_ref */
    float power_floor;           /* lowest mean square re p_ref (level floor) */
    /* state */
    float *state_re;             /* (n_channels, n_groups, 4, LANES) */
    float *state_im;
    float *power_acc;            /* (n_channels, n_groups * LANES) |z|^2 summed this grid step */
    float *level_db_spl;         /* smoothed band level */
    float *gain;                 /* current linear gain */
    float *gain_step;            /* per-sample increment towards gain_target */
    float *gain_target;          /* linear gain at the end of this grid step */
    float *input_ring;           /* (n_channels, ring_len) past input, for the band delays */
    int32_t *pos;                /* (n_channels) ring position of the next sample */
    int32_t *phase;              /* (n_channels) samples since the last grid point, 0..grid-1 */
    float *limiter_env;          /* (n_channels) envelope of the analytic output, Pa */
} al_wdrc;

/* x: planar (n_channels, n_frames) float32 Pa, processed in place; any n_frames >= 0.
 * Non-finite input samples are taken as 0 (the state stays finite). */
al_status al_wdrc_process(al_wdrc *s, float *x, int32_t n_channels, int64_t n_frames);

#endif
