/* STOI's resampling to 10 kHz: polyphase FIR, the same arithmetic as
 * scipy.signal.resample_poly(x, up, down, window=h) with a symmetric filter of odd length. */
#ifndef AL_STOI_H
#define AL_STOI_H

#include <stdint.h>

#include "al_common.h"

/* y[m] = sum_i phases[p][i] * x[q - n_taps + 1 + i] for m in [0, n_out), where
 * t = m * down + half_len, p = t mod up, q = t div up, and phases holds, per phase p, the
 * filter taps h[p + up * j] (already multiplied by up) reversed and zero-padded to n_taps
 * (row p, index n_taps - 1 - j).  Samples of x outside [0, n_in) count as zeros.
 * phases: (up, n_taps) doubles; x: n_in doubles; y: n_out doubles. */
al_status al_stoi_resample(const double *x, int64_t n_in, double *y, int64_t n_out,
                           const double *phases, int32_t up, int32_t down, int32_t n_taps,
                           int64_t half_len);

enum { AL_STOI_MAX_BANDS = 32, AL_STOI_MAX_SEGMENT = 64, AL_STOI_MAX_FRAME = 1024 };

/* The score from the one-third-octave envelopes x_env, y_env (n_bands, n_frames), row-major:
 * extended == 0: STOI, the mean over 30-frame segments and bands of the correlation of the
 * clean envelope with the energy-normalised, clipped processed envelope (Taal et al. 2011,
 * Eqs. (2)-(5), clip factor 1 + clip = 10^(15/20) + 1);
 * extended != 0: ESTOI, the mean over segments of the summed products of the row- then
 * column-normalised segments divided by n_segment (Jensen & Taal 2016).
 * Norms are guarded by + eps (DBL_EPSILON) as pystoi does.  n_frames >= n_segment. */
al_status al_stoi_score(const double *x_env, const double *y_env, int32_t n_bands,
                        int64_t n_frames, int32_t n_segment, double clip, int32_t extended,
                        double *score);

/* Framing and silent-frame removal at 10 kHz (Taal et al. 2011, Sec. II-A), as the reference
 * code does it: frames of n_frame samples every hop = n_frame / 2 starting at 0 while
 * start < n - n_frame, each multiplied by window; the frames of x whose energy
 * 20 log10(norm + eps) is more than dyn_range_db below the loudest are dropped from x and y;
 * the kept frames are overlap-added and the result is framed and windowed again.  Those
 * frames go to out, zero-padded to n_fft: x's in rows [0, n_out), y's in rows
 * [n_out, 2 n_out), where *n_out is the number of kept frames minus one (0 if none).
 * x, y: n doubles; window: n_frame; out: (2 * max(frames, 1), n_fft) doubles (also the
 * energies' scratch); kept: max(frames, 1) indices (work); n_frame even, at most
 * AL_STOI_MAX_FRAME; n_fft >= n_frame. */
al_status al_stoi_frames(const double *x, const double *y, int64_t n, const double *window,
                         int32_t n_frame, int32_t n_fft, double dyn_range_db, double *out,
                         int32_t *kept, int64_t *n_out);

/* One-third-octave magnitudes: env[(r / n_rows_half) * n_bands * n_rows_half + j * n_rows_half
 * + r % n_rows_half] = sqrt(sum over bins [lo[j], hi[j]) of |spec[r, bin]|^2) for each of the
 * 2 * n_rows_half rows of spec (n_bins complex values each, interleaved re, im).
 * (Taal et al. 2011, Eq. (1)) */
al_status al_stoi_bands(const double *spec, int64_t n_rows_half, int32_t n_bins,
                        const int32_t *lo, const int32_t *hi, int32_t n_bands, double *env);

#endif
