/* Kates' ear model of HASPI v2 and HASQI v2 (audiolab/dsp/_ear_model.py): the per-band
 * recursions at the model's 24 kHz, several bands at once. */
#ifndef AL_EAR_MODEL_H
#define AL_EAR_MODEL_H

#include <stdint.h>

#include "al_common.h"

/* n_bands gammatone bands of one signal (Kates 2013, Eq. (1)): for band b, x (n samples) is
 * shifted down by cf_hz[b] (times cos and -sin of 2 pi cf k / fs, by a rotation recursion), both
 * parts are filtered by (1 + 4a z^-1 + 4a^2 z^-2) / (1 - a z^-1)^4 with a = a[b] and scaled by
 * gain[b]; env[b] = |u|, and, when bm is not NULL, bm[b] = Re(u e^{j 2 pi cf k / fs}) (the band's
 * basilar-membrane signal); sum_sq[b] = sum over k of env[b][k]^2. env, bm: (n_bands, n)
 * row-major; env may be NULL when only sum_sq is wanted, bm and sum_sq may be NULL.
 * 0 < a[b] < 1, n >= 1. */
al_status al_ear_gammatone_bank(const double *x, int64_t n, int32_t n_bands, const double *cf_hz,
                                const double *a, const double *gain, double fs, double *env,
                                double *bm, double *sum_sq);

/* The gammatone bank of al_ear_gammatone_bank with the outer-hair-cell compression (Kates 2013,
 * Eq. (5)): band b also runs a control filter (pole a_ctl[b], gain gain_ctl[b]) whose envelope
 * c gives the level L = level_db_spl + 20 log10(max(c, 1e-30)), clamped to [low_knee_db_spl[b],
 * 100] (upper bound first), and the gain 10^((-attn_ohc_db[b] - (L - low_knee_db_spl[b])
 * slope[b]) / 20), slope = 1 - 1/compression ratio; the gain is smoothed by the 1st-order
 * low-pass b0 (1 + z^-1) / (1 + lp_a1 z^-1) and multiplies the band's envelope env[b] and, when
 * bm is not NULL, its basilar-membrane signal bm[b]. sum_sq[b] is the band's sum of squared
 * envelope before the compression. env, bm: (n_bands, n) row-major. */
al_status al_ear_cochlea_bank(const double *x, int64_t n, int32_t n_bands, const double *cf_hz,
                              const double *a_ctl, const double *gain_ctl, const double *a,
                              const double *gain, double fs, double level_db_spl,
                              const double *attn_ohc_db, const double *low_knee_db_spl,
                              const double *slope, double lp_b0, double lp_a1, double *env,
                              double *bm, double *sum_sq);

/* Inner hair cells of n_bands bands, in place: env[b] becomes its level above threshold,
 * db = max(sl_offset_db[b] + 20 log10(env + 1e-30), 0), then the adapted level
 * out = max(y, 0) with y the 2nd-order filter num (3 taps) / den (3 taps, den[0] == 1) of db
 * (Kates' rapid and short-term adaptation, written as its transfer function);
 * bm[b], when bm is not NULL, is multiplied by (db + 1e-30) / (env + 1e-30) and by
 * (out + 1e-30) / (db + 1e-30). env, bm: (n_bands, n) row-major. */
al_status al_ear_ihc_bank(double *env, double *bm, int32_t n_bands, int64_t n,
                          const double *sl_offset_db, const double *num, const double *den);

/* HASPI's envelopes from the compressed ones, decimated, in one pass: band b is aligned and
 * delayed, passes the inner hair cells of al_ear_ihc_bank and a decimating FIR. The band's input
 * at sample t (0 <= t < n) is env[b][t - delay[b] + advance[b]] where t >= delay[b] and that
 * index is in [0, n), else 0 (advanced by advance[b], then delayed by delay[b] >= 0, zero-filled;
 * with sl_offset_db[b] < 600 the inner hair cells turn leading zeros into zeros, so delaying
 * their input is delaying their output). Its adapted levels a[t] (al_ear_ihc_bank's env output,
 * 0 outside [0, n)) are filtered and kept every step-th sample:
 * out[b][m] = sum over j of taps[j] a[step m + tap_delay - j], m in [0, n_out).
 * env: (n_bands, n), out: (n_bands, n_out) row-major; 1 <= n_taps <= 256,
 * 0 <= tap_delay < n_taps. */
al_status al_ear_ihc_lowpass(const double *env, int32_t n_bands, int64_t n,
                             const int32_t *advance, const int32_t *delay,
                             const double *sl_offset_db, const double *num, const double *den,
                             const double *taps, int32_t n_taps, int32_t step, int32_t tap_delay,
                             double *out, int64_t n_out);

/* Peak lag-weighted cross-correlation of segment pairs (HASQI's basilar-membrane coherence,
 * Kates' eb_BMcovary): for row r of xs and ys (n_rows, n_win) row-major, peak[r] = max over
 * |L| <= max_lag of |sum_j xs[r][j + L] ys[r][j]| * weight[(r % n_weight_rows)][L + max_lag]
 * (samples outside the row count as zero); weight: (n_weight_rows, 2 max_lag + 1).
 * 0 <= max_lag < n_win. */
al_status al_ear_segment_xcorr_peak(const double *xs, const double *ys, int64_t n_rows,
                                    int32_t n_win, int32_t max_lag, const double *weight,
                                    int64_t n_weight_rows, double *peak);

#endif
