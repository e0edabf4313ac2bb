/* Hearing-loss simulator after the Cambridge MSBG model: spectral smearing (Baer & Moore 1993)
 * on a fixed FFT frame with overlap-add, then threshold elevation and loudness recruitment by
 * envelope expansion in gammatone bands (Moore & Glasberg 1993). Everything is designed
 * in Python (audiolab/hearing/_hearing_loss.py); the streaming kernels run here. */
#ifndef AL_HLSIM_H
#define AL_HLSIM_H

#include <stdint.h>

#include "al_common.h"

/* Real FFT of size n (power of two, >= 4) via a complex FFT of size n/2. Tables are filled by
 * Python; work buffers are scratch owned by the plan. */
typedef struct {
    int32_t n;
    const int32_t *bitrev;  /* (n/2) bit-reversal permutation of 0..n/2-1 */
    const float *tw_re;     /* (n/2 - 1) twiddles exp(-i pi j / h), j < h, for h = 1, 2, 4.. */
    const float *tw_im;
    const float *rtw_re;    /* (n/2 + 1) exp(-2 pi i k / n), k = 0..n/2 */
    const float *rtw_im;
    float *work_re;         /* (n/2) */
    float *work_im;
} al_rfft;

/* x (n) real -> spectrum (n/2 + 1) as split re/im arrays; same as numpy.fft.rfft. */
al_status al_rfft_forward(al_rfft *f, const float *x, float *spec_re, float *spec_im);
/* Spectrum (n/2 + 1) split re/im -> x (n) real; same as numpy.fft.irfft (scaled by 1/n). */
al_status al_rfft_inverse(al_rfft *f, const float *spec_re, const float *spec_im, float *x);

enum { AL_HLSIM_SMEAR_OFF = 0, AL_HLSIM_SMEAR_DELAY = 1, AL_HLSIM_SMEAR_ON = 2 };
enum { AL_HLSIM_ROWS = 16 };  /* output bins per block of the stored smearing matrix */
enum { AL_HLSIM_LANES = 16 };  /* per-band arrays are padded to a multiple (whole registers) */
enum { AL_HLSIM_BLOCK = 64 };  /* samples per block of the band loop */
enum { AL_HLSIM_SCRATCH = 3 };  /* planes of a block's band scratch */
/* Smearing frames whose events fall in one call are transformed up to AL_HLSIM_BATCH at a time
 * (a multiple of every native vector width), side by side in vector lanes, so that every FFT
 * butterfly serves a register of them and one pass over the smearing matrix serves them all;
 * each takes AL_HLSIM_FRAME_WORK floats per frame_len (plus 4) of the batch work space. */
enum { AL_HLSIM_BATCH = 16, AL_HLSIM_FRAME_WORK = 9 };

/* State and design of one ear (one channel). */
typedef struct {
    /* -- spectral smearing: frames of frame_len, hop frame_len/4, FFT of 2 frame_len ------- */
    int32_t smear_mode;       /* AL_HLSIM_SMEAR_*: OFF = no stage, DELAY = same latency only */
    int32_t frame_len;        /* power of two; the FFT plan has n == 2 frame_len */
    int32_t hop;
    int32_t phase;            /* samples received since the last frame, 0..hop-1 */
    al_rfft *fft;
    const float *window;      /* (frame_len) analysis = synthesis window */
    const float *window_sq;   /* (frame_len) window^2, used by DELAY mode */
    /* Smearing matrix in blocks of AL_HLSIM_ROWS output bins (rows): block b covers input
     * bins smear_start[b] .. + smear_len[b], stored from smear[smear_offset[b]] as
     * (smear_len[b], AL_HLSIM_ROWS), i.e. the block's rows side by side for each input bin.
     * Blocks follow each other: smear_offset[0] = 0, smear_offset[b + 1] = smear_offset[b] +
     * smear_len[b] AL_HLSIM_ROWS. */
    const float *smear;
    const int32_t *smear_start;  /* (frame_len / AL_HLSIM_ROWS) */
    const int32_t *smear_len;
    const int32_t *smear_offset;
    const float *ome_pow;     /* (frame_len) free-field -> cochlea power gain of each bin */
    const float *ome_amp;     /* (frame_len) its square root */
    float *in_buf;            /* (frame_len) most recent input */
    float *acc;               /* (frame_len) overlap-add accumulator (free field) */
    float *acc_c;             /* (frame_len) the same frames at the cochlea (ON mode) */
    /* Power correction (ON mode): the output is scaled by sqrt(specified / realised power at
     * the cochlea), both smoothed by one-poles; overlap-add loses the spread energy that is
     * not phase-coherent from frame to frame. */
    float pc_coef;            /* one-pole coefficient of both smoothers */
    float pc_max_gain;        /* largest correction (amplitude); its inverse is the smallest */
    float pc_spec;            /* specified power per sample in force */
    float pc_e1;              /* specified energy of the last frame */
    float pc_e2;              /* ... and of the one before */
    float pc_spec_avg;        /* smoothed specified power */
    float pc_real_avg;        /* smoothed realised power */
    float *frame;             /* (frame_len + (AL_HLSIM_BATCH - 1) hop) a batch's samples */
    float *batch;             /* (AL_HLSIM_BATCH, AL_HLSIM_FRAME_WORK frame_len + 4) work */

    /* -- gammatone bands with envelope expansion ------------------------------------------ */
    /* Per-band arrays hold n_lanes entries (n_bands rounded up to AL_HLSIM_LANES; the padding
     * bands have input gain 0 and weight 0): "(n_lanes)" below; read_offset has n_bands. */
    int32_t n_bands;
    int32_t n_lanes;
    int32_t gain_interval;    /* gains are recomputed every gain_interval samples, ramped */
    int32_t count;            /* absolute sample index modulo gain_interval */
    int32_t max_delay;        /* largest delay read from hist, in samples */
    int32_t lag;              /* delay of band values before their gains (envelope lag) */
    int32_t hist_rows;        /* rows of hist (>= AL_HLSIM_BLOCK) between moves of its tail */
    int32_t row;              /* current row of hist, max_delay <= row <= max_delay +
                                 hist_rows - AL_HLSIM_BLOCK (a block's rows follow it) */
    float env_floor;          /* lowest relative envelope, a positive normal float */
    /* Band b: four sections Re{1 / (1 - p z^-1)} (each a complex one-pole whose real part
     * feeds the next), then a biquad high-pass; MSBG's gammatone bands. */
    const float *pole_re;     /* (n_lanes) p */
    const float *pole_im;
    const float *in_gain;     /* (n_lanes) input gain: 1 at the centre frequency */
    const float *hp;          /* (5, n_lanes) b0, b1, b2, a1, a2 (identity: 1, 0, 0, 0, 0) */
    const float *weight;      /* (n_lanes) resynthesis weights */
    const int32_t *read_offset; /* (n_bands) b rows - d_b: from the current row, the offset in
                                   the products (see hist) of band b's product delayed by its
                                   resynthesis delay d_b, 0 <= d_b <= max_delay */
    const float *env_coef;    /* (n_lanes) one-pole coefficient of the envelope smoother */
    const float *env_scale;   /* (n_lanes) |band| -> envelope relative to the catch-up level */
    /* The expansion ratio of a band follows the frequency of what it carries: the power-
     * weighted mean of cos(w), from the band's lag-1 product over its power, both summed
     * between exponent updates and smoothed; the exponent (ratio - 1) is read from a table
     * over log2(f / cf) in [-1, 1]. */
    int32_t n_ratio;          /* points of each band's exponent table (odd) */
    int32_t freq_every;       /* the exponents are updated at every freq_every-th gain update */
    int32_t freq_count;       /* gain updates since the last exponent update, modulo the above */
    float ratio_scale;        /* table points per octave */
    float freq_coef;          /* one-pole coefficient (per exponent update) of the estimate */
    const float *cos_cf;      /* (n_lanes) cos(2 pi cf / fs), the estimate of a silent band */
    const float *inv_omega;   /* (n_lanes) fs / (2 pi cf): w -> f / cf */
    const float *expo_table;  /* (n_lanes, n_ratio) expansion ratio - 1, >= 0, at
                                 f = cf 2^((i - (n_ratio - 1) / 2) / ratio_scale) */
    float *yprev;             /* (n_lanes) band values one sample earlier */
    float *freq_acc;          /* (2, n_lanes) power and lag-1 product since the last update */
    float *freq_state;        /* (4, n_lanes) two smoother stages of both */
    float *exponent;          /* (n_lanes) the exponents in force */
    float *state_re;          /* (4, n_lanes) section states */
    float *state_im;
    float *hp_state;          /* (2, n_lanes) high-pass states (transposed direct form II) */
    float *env;               /* (2, n_lanes) two smoother stages */
    float *gain;              /* (n_lanes) current gain */
    float *gain_step;         /* (n_lanes) per-sample gain increment */
    /* Band history: the weighted band values (lag + hist_rows, n_lanes), the current sample
     * at row - max_delay + lag; then each band's products with its gain (n_bands, rows),
     * rows = max_delay + hist_rows, contiguous in time so that the resynthesis reads a run of
     * samples of a band at once. */
    float *hist;
    float *scratch;           /* (AL_HLSIM_SCRATCH, AL_HLSIM_BLOCK, n_lanes) a block's envelopes
                                 (then gain targets) and mean-frequency sums at its gain
                                 updates (hlsim.c) */
} al_hlsim_ear;

typedef struct {
    int32_t n_channels;
    al_hlsim_ear *ears;       /* (n_channels) */
} al_hlsim;

/* x (n_channels, n_frames) planar float32 Pa, processed in place; channel c uses ears[c]. */
al_status al_hlsim_process(al_hlsim *s, float *x, int32_t n_channels, int64_t n_frames);

#endif
