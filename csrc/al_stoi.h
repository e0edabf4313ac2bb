/* STOI's resampling to 10 kHz: polyphase FIR, the same arithmetic as
 * scipy.signal.resample_poly(x, up, down, window=h) with a symmetric filter of odd length. */

/* y[m] = sum_i phases[p][i] * x[q - n_taps + 1 + i] for m in [0, n_out), where
 * t = m * down + half_len, p = t mod up, q = t div up, and phases holds, per phase p, the
 * filter taps h[p + up * j] (already multiplied by up) reversed and zero-padded to n_taps
 * (row p, index n_taps - 1 - j).  Samples of x outside [0, n_in) count as zeros.
 * phases: (up, n_taps) doubles; x: n_in doubles; y: n_out doubles. */
al_status al_stoi_resample(const double *x, int64_t n_in, double *y, int64_t n_out,
                           const double *phases, int32_t up, int32_t down, int32_t n_taps,
                           int64_t half_len);
