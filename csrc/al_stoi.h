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

enum { AL_STOI_MAX_BANDS = 32, AL_STOI_MAX_SEGMENT = 64 };

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
