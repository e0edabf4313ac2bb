/* STOI and ESTOI kernels (Taal et al. 2011; Jensen & Taal 2016): the resampling to 10 kHz, the
 * framing with silent-frame removal and one-third-octave band magnitudes, and the segment
 * statistics.  audiolab/dsp/_stoi.py holds the NumPy forms the tests compare them with. */
#ifndef AL_STOI_H
#define AL_STOI_H

#include <stdint.h>

#include "al_common.h"

/* Polyphase FIR resampling of x and of y (both n_in samples), the arithmetic of
 * scipy.signal.resample_poly(x, up, down, window=h) with a symmetric filter of odd length:
 * out[m] = sum_i phases[p][i] * x[q - n_taps + 1 + i] for m in [0, n_out), where
 * t = m * down + half_len, p = t mod up, q = t div up, and phases holds, per phase p, the
 * filter taps h[p + up * j] (already multiplied by up) reversed and zero-padded at the front
 * to n_taps (row p, index n_taps - 1 - j).  Samples outside [0, n_in) count as zeros.
 * phases: (up, n_taps) doubles; x_out, y_out: n_out doubles each. */
al_status al_stoi_resample(const double *x, const double *y, int64_t n_in, double *x_out,
                           double *y_out, int64_t n_out, const double *phases, int32_t up,
                           int32_t down, int32_t n_taps, int64_t half_len);

enum {
    AL_STOI_MAX_BANDS = 32,
    AL_STOI_MAX_SEGMENT = 64,
    AL_STOI_MAX_FRAME = 512,
    AL_STOI_MAX_FFT = 1024
};

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

/* Framing, silent-frame removal and band magnitudes at 10 kHz (Taal et al. 2011, Sec. II-A
 * and Eq. (1)), as the reference code does it: frames of n_frame samples every
 * hop = n_frame / 2 starting at 0 while start < n - n_frame, each multiplied by window; the
 * frames of x whose energy 20 log10(norm + eps) is more than dyn_range_db below the loudest
 * are dropped from x and y; the kept frames are overlap-added and the result is framed and
 * windowed again.  Of each such frame, zero-padded to n_fft, the band magnitude
 * sqrt(sum over FFT bins [lo[j], hi[j]) of |X[bin]|^2) goes to
 * env[s * n_bands * n_out + j * n_out + r] (s = 0 for x, 1 for y; r the frame), where *n_out
 * is the number of kept frames minus one (0 if fewer than two).
 * x, y: n doubles; window: n_frame; twiddle: n_fft / 2 complex exp(-2 pi i k / n_fft),
 * interleaved (re, im); env: 2 * n_bands * max(frames, 1) doubles (also the energies'
 * scratch); kept: max(frames, 1) indices (work); n_frame even, n_fft a power of two with
 * 2 n_frame <= n_fft <= AL_STOI_MAX_FFT, hi[j] <= n_fft / 2 + 1. */
al_status al_stoi_envelopes(const double *x, const double *y, int64_t n, const double *window,
                            int32_t n_frame, const double *twiddle, int32_t n_fft,
                            double dyn_range_db, const int32_t *lo, const int32_t *hi,
                            int32_t n_bands, double *env, int32_t *kept, int64_t *n_out);

#endif
