/* Channel vocoder for cochlear-implant simulation (Shannon et al. 1995, Science 270:303-304):
 * per band, band-pass analysis -> full-wave rectification -> low-pass envelope, optional
 * mixing of envelopes across bands (current spread), then envelope x carrier, summed.
 * Noise carriers come from a counter-based generator keyed by (seed, channel, band) and indexed
 * by the absolute sample number, so the output does not depend on how the signal is split
 * into blocks, nor on which process runs it. */
#include <math.h>

#include "al_internal.h"

/* splitmix64's output mix (Steele, Lea & Flood 2014, "Fast splittable pseudorandom number
 * generators"): a bijection on 64 bits whose output passes BigCrush for a counter input. */
static inline uint64_t al_ci_mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline uint64_t al_ci_stream_key(uint64_t seed, int32_t channel, int32_t band)
{
    const uint64_t stream = (uint64_t)channel * AL_CI_MAX_BANDS + (uint64_t)band + 1u;
    return al_ci_mix(seed + stream * 0xd1b54a32d192ed03ULL);
}

/* Sample `index` of one stream: uniform with zero mean and unit variance (24 bits, the centres
 * of 2^24 equal cells, times sqrt(12)). Band-pass filtering makes it Gaussian enough. */
static inline double al_ci_noise(uint64_t key, uint64_t index)
{
    const uint64_t h = al_ci_mix(key + index * 0x9e3779b97f4a7c15ULL);
    return (((double)(h >> 40) + 0.5) * (1.0 / 16777216.0) - 0.5) * 3.4641016151377544;
}

/* Cascade of biquads (transposed direct form II, as csrc/sos.c) over v[0..m), in place. */
static void al_ci_sos(const double *sos, double *state, int32_t n_sections, double *v, int32_t m)
{
    for (int32_t k = 0; k < n_sections; k++) {
        const double *q = sos + 6 * k;
        const double b0 = q[0], b1 = q[1], b2 = q[2], a1 = q[4], a2 = q[5];
        double z0 = state[2 * k], z1 = state[2 * k + 1];
        for (int32_t n = 0; n < m; n++) {
            const double in = v[n];
            const double out = b0 * in + z0;
            z0 = b1 * in - a1 * out + z1;
            z1 = b2 * in - a2 * out;
            v[n] = out;
        }
        state[2 * k] = z0;
        state[2 * k + 1] = z1;
    }
}

static int al_ci_valid(const al_ci *s)
{
    if (!s->analysis_sos || !s->envelope_sos || !s->carrier_gain || !s->rotation ||
        !s->analysis_state || !s->envelope_state || !s->oscillator || !s->scratch)
        return AL_ERR_NULL;
    if (s->carrier == AL_CI_NOISE && (!s->synthesis_sos || !s->synthesis_state))
        return AL_ERR_NULL;
    if (s->n_bands < 1 || s->n_bands > AL_CI_MAX_BANDS || s->n_analysis_sections < 1 ||
        s->n_envelope_sections < 1 ||
        (s->carrier == AL_CI_NOISE && s->n_synthesis_sections < 1) || s->position < 0)
        return AL_ERR_SIZE;
    if (s->carrier != AL_CI_NOISE && s->carrier != AL_CI_SINE) return AL_ERR_VALUE;
    return AL_OK;
}

/* Envelopes of every band of one chunk of one channel into env (n_bands, AL_CI_CHUNK). */
static void al_ci_envelopes(al_ci *s, int32_t c, const float *xc, int32_t m, double *env)
{
    const int32_t nb = s->n_bands, na = s->n_analysis_sections, ne = s->n_envelope_sections;
    for (int32_t b = 0; b < nb; b++) {
        double *e = env + (int64_t)b * AL_CI_CHUNK;
        for (int32_t n = 0; n < m; n++) e[n] = isfinite(xc[n]) ? (double)xc[n] : 0.0;
        al_ci_sos(s->analysis_sos + (int64_t)b * na * 6,
                  s->analysis_state + ((int64_t)c * nb + b) * na * 2, na, e, m);
        for (int32_t n = 0; n < m; n++) e[n] = fabs(e[n]);
        al_ci_sos(s->envelope_sos, s->envelope_state + ((int64_t)c * nb + b) * ne * 2, ne, e, m);
        /* The low-passed rectified signal can dip below zero after a sharp offset. */
        for (int32_t n = 0; n < m; n++) e[n] = e[n] > 0.0 ? e[n] * s->envelope_gain : 0.0;
    }
}

/* Current spread: out row i = sum_j spread[i, j] * env row j. */
static void al_ci_spread(const al_ci *s, const double *env, double *out, int32_t m)
{
    const int32_t nb = s->n_bands;
    for (int32_t i = 0; i < nb; i++) {
        double *o = out + (int64_t)i * AL_CI_CHUNK;
        for (int32_t n = 0; n < m; n++) o[n] = 0.0;
        for (int32_t j = 0; j < nb; j++) {
            const double w = s->spread[(int64_t)i * nb + j];
            const double *e = env + (int64_t)j * AL_CI_CHUNK;
            if (w != 0.0)
                for (int32_t n = 0; n < m; n++) o[n] += w * e[n];
        }
    }
}

/* Add band b's modulated carrier for one chunk to acc. work may alias e. */
static void al_ci_carrier(al_ci *s, int32_t c, int32_t b, const double *e, double *work,
                          uint64_t first, int32_t m, double *acc)
{
    const int32_t nb = s->n_bands, ns = s->n_synthesis_sections;
    const double g = s->carrier_gain[b];
    if (s->carrier == AL_CI_NOISE) {
        /* Modulate white noise, then band-limit it with the synthesis filter (Shannon 1995). */
        const uint64_t key = al_ci_stream_key(s->seed, c, b);
        for (int32_t n = 0; n < m; n++) work[n] = e[n] * al_ci_noise(key, first + (uint64_t)n);
        al_ci_sos(s->synthesis_sos + (int64_t)b * ns * 6,
                  s->synthesis_state + ((int64_t)c * nb + b) * ns * 2, ns, work, m);
        for (int32_t n = 0; n < m; n++) acc[n] += g * work[n];
        return;
    }
    double *osc = s->oscillator + ((int64_t)c * nb + b) * 2;
    const double cr = s->rotation[2 * b], sr = s->rotation[2 * b + 1];
    double co = osc[0], si = osc[1];
    for (int32_t n = 0; n < m; n++) {
        acc[n] += g * e[n] * si;
        const double t = co * cr - si * sr;
        si = si * cr + co * sr;
        co = t;
        /* Keep the rotator on the unit circle; at absolute sample numbers, so that the result
         * does not depend on block boundaries. */
        if (((first + (uint64_t)n + 1u) & 4095u) == 0) {
            const double r = 1.5 - 0.5 * (co * co + si * si);
            co *= r;
            si *= r;
        }
    }
    osc[0] = co;
    osc[1] = si;
}

al_status al_ci_process(al_ci *s, float *x, int32_t n_channels, int64_t n_frames)
{
    if (!s || (!x && n_frames > 0)) return AL_ERR_NULL;
    const int status = al_ci_valid(s);
    if (status != AL_OK) return (al_status)status;
    if (n_frames < 0) return AL_ERR_SIZE;
    if (n_channels < 1 || n_channels != s->n_channels) return AL_ERR_STATE;
    const int32_t nb = s->n_bands;
    double *env = s->scratch;
    double *mixed = s->scratch + (int64_t)nb * AL_CI_CHUNK;
    double *acc = s->scratch + (int64_t)2 * nb * AL_CI_CHUNK;
    al_fpmode fp = al_fp_enter();
    for (int32_t c = 0; c < n_channels; c++) {
        float *xc = x + (int64_t)c * n_frames;
        for (int64_t start = 0; start < n_frames; start += AL_CI_CHUNK) {
            const int32_t m = (int32_t)(n_frames - start < AL_CI_CHUNK ? n_frames - start
                                                                       : AL_CI_CHUNK);
            const uint64_t first = (uint64_t)(s->position + start);
            al_ci_envelopes(s, c, xc + start, m, env);
            const double *use = env;
            if (s->spread) {
                al_ci_spread(s, env, mixed, m);
                use = mixed;
            }
            for (int32_t n = 0; n < m; n++) acc[n] = 0.0;
            for (int32_t b = 0; b < nb; b++)
                al_ci_carrier(s, c, b, use + (int64_t)b * AL_CI_CHUNK,
                              env + (int64_t)b * AL_CI_CHUNK, first, m, acc);
            for (int32_t n = 0; n < m; n++) xc[start + n] = (float)acc[n];
        }
    }
    s->position += n_frames;
    al_fp_leave(fp);
    return AL_OK;
}
