/* Channel vocoder for cochlear-implant simulation (Shannon et al. 1995, Science 270:303-304):
 * per band, band-pass analysis -> full-wave rectification -> low-pass envelope, optional
 * mixing of envelopes across bands (current spread), then envelope x carrier, summed.
 * Noise carriers come from a counter-based generator keyed by (seed, channel, band) and indexed
 * by the absolute sample number, so the output does not depend on how the signal is split
 * into blocks, nor on which process runs it. The recursions run sample by sample with the
 * bands in the inner loop: the bands are independent, so that loop vectorises. */
#include <math.h>

#include "al_biquad.h"
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
    return (((double)(int32_t)(h >> 40) + 0.5) * (1.0 / 16777216.0) - 0.5) * 3.4641016151377544;
}

/* One sample through per-band biquad cascades (al_biquad.h):
 * coef (n_sections, 5, nb), state (n_sections, 2, nb), v (nb) in place. */
static inline void al_ci_sections(const double *restrict coef, double *restrict state,
                                  int32_t n_sections, int32_t nb, double *restrict v)
{
    for (int32_t k = 0; k < n_sections; k++) {
        const double *b0 = coef + (int64_t)k * 5 * nb, *b1 = b0 + nb, *b2 = b1 + nb,
                     *a1 = b2 + nb, *a2 = a1 + nb;
        double *z0 = state + (int64_t)k * 2 * nb, *z1 = z0 + nb;
#pragma GCC ivdep
        for (int32_t b = 0; b < nb; b++)
            AL_BIQUAD_TDF2(v[b], v[b], b0[b], b1[b], b2[b], a1[b], a2[b], z0[b], z1[b]);
    }
}

/* The same with one coefficient set for every band (the envelope low-pass). */
static inline void al_ci_shared_sections(const double *restrict sos, double *restrict state,
                                         int32_t n_sections, int32_t nb, double *restrict v)
{
    for (int32_t k = 0; k < n_sections; k++) {
        const double *q = sos + 6 * k;
        const double b0 = q[0], b1 = q[1], b2 = q[2], a1 = q[4], a2 = q[5];
        double *z0 = state + (int64_t)k * 2 * nb, *z1 = z0 + nb;
#pragma GCC ivdep
        for (int32_t b = 0; b < nb; b++)
            AL_BIQUAD_TDF2(v[b], v[b], b0, b1, b2, a1, a2, z0[b], z1[b]);
    }
}

static al_status al_ci_valid(const al_ci *s)
{
    if (!s->analysis_coef || !s->envelope_sos || !s->carrier_gain || !s->rotation ||
        !s->analysis_state || !s->envelope_state || !s->oscillator)
        return AL_ERR_NULL;
    if (s->carrier == AL_CI_NOISE && (!s->synthesis_coef || !s->synthesis_state))
        return AL_ERR_NULL;
    if (s->n_bands < 1 || s->n_bands > AL_CI_MAX_BANDS || s->n_analysis_sections < 1 ||
        s->n_envelope_sections < 1 ||
        (s->carrier == AL_CI_NOISE && s->n_synthesis_sections < 1) || s->position < 0)
        return AL_ERR_SIZE;
    if (s->carrier != AL_CI_NOISE && s->carrier != AL_CI_SINE) return AL_ERR_VALUE;
    return AL_OK;
}

/* Keep the sine rotators on the unit circle. Done at absolute sample numbers, so that the
 * result does not depend on block boundaries. */
static inline void al_ci_renormalise(double *restrict co, double *restrict si, int32_t nb)
{
    for (int32_t b = 0; b < nb; b++) {
        const double r = 1.5 - 0.5 * (co[b] * co[b] + si[b] * si[b]);
        co[b] *= r;
        si[b] *= r;
    }
}

/* Sum of v[0..nb) in four interleaved partial sums: a serial sum would wait out the adder's
 * latency at every band. The order is fixed, so results are reproducible. */
static inline double al_ci_sum(const double *v, int32_t nb)
{
    double p[4] = {0.0, 0.0, 0.0, 0.0};
    int32_t b = 0;
    for (; b + 4 <= nb; b += 4)
        for (int k = 0; k < 4; k++) p[k] += v[b + k];
    for (int k = 0; b < nb; b++, k++) p[k] += v[b];
    return (p[0] + p[1]) + (p[2] + p[3]);
}

static void al_ci_channel(al_ci *s, int32_t c, float *xc, int64_t n_frames)
{
    const int32_t nb = s->n_bands, na = s->n_analysis_sections, ne = s->n_envelope_sections,
                  ns = s->n_synthesis_sections;
    double *ast = s->analysis_state + (int64_t)c * na * 2 * nb;
    double *est = s->envelope_state + (int64_t)c * ne * 2 * nb;
    double *co = s->oscillator + (int64_t)c * 2 * nb, *si = co + nb;
    const double *cr = s->rotation, *sr = s->rotation + nb, *gain = s->carrier_gain;
    const double eg = s->envelope_gain;
    const int noise = s->carrier == AL_CI_NOISE;
    double *sst = noise ? s->synthesis_state + (int64_t)c * ns * 2 * nb : NULL;
    double v[AL_CI_MAX_BANDS], env[AL_CI_MAX_BANDS], mixed[AL_CI_MAX_BANDS];
    uint64_t key[AL_CI_MAX_BANDS];
    for (int32_t b = 0; b < nb; b++) key[b] = al_ci_stream_key(s->seed, c, b);

    for (int64_t n = 0; n < n_frames; n++) {
        const uint64_t index = (uint64_t)(s->position + n);
        const double in = al_finite_or_zero(xc[n]);
        for (int32_t b = 0; b < nb; b++) v[b] = in;
        al_ci_sections(s->analysis_coef, ast, na, nb, v);
        for (int32_t b = 0; b < nb; b++) v[b] = fabs(v[b]);
        al_ci_shared_sections(s->envelope_sos, est, ne, nb, v);
        /* The low-passed rectified signal can dip below zero after a sharp offset. */
        for (int32_t b = 0; b < nb; b++) env[b] = v[b] > 0.0 ? v[b] * eg : 0.0;
        const double *e = env;
        if (s->spread) {
            /* Current spread: electrode i carries sum_j spread[j, i] * envelope j, summed over
             * j in order; the loop over i vectorises. */
            for (int32_t i = 0; i < nb; i++) mixed[i] = 0.0;
            for (int32_t j = 0; j < nb; j++) {
                const double *w = s->spread + (int64_t)j * nb;
                const double ej = env[j];
#pragma GCC ivdep
                for (int32_t i = 0; i < nb; i++) mixed[i] += w[i] * ej;
            }
            e = mixed;
        }
        if (noise) {
            /* Modulate white noise, then band-limit it with the synthesis filter (Shannon 1995). */
            for (int32_t b = 0; b < nb; b++) v[b] = e[b] * al_ci_noise(key[b], index);
            al_ci_sections(s->synthesis_coef, sst, ns, nb, v);
            for (int32_t b = 0; b < nb; b++) v[b] *= gain[b];
        } else {
            for (int32_t b = 0; b < nb; b++) v[b] = gain[b] * e[b] * si[b];
#pragma GCC ivdep
            for (int32_t b = 0; b < nb; b++) {
                const double t = co[b] * cr[b] - si[b] * sr[b];
                si[b] = si[b] * cr[b] + co[b] * sr[b];
                co[b] = t;
            }
            if (((index + 1u) & 4095u) == 0) al_ci_renormalise(co, si, nb);
        }
        xc[n] = (float)al_ci_sum(v, nb);
    }
}

al_status al_ci_process(al_ci *s, float *x, int32_t n_channels, int64_t n_frames)
{
    if (!s || (!x && n_frames > 0)) return AL_ERR_NULL;
    const al_status status = al_ci_valid(s);
    if (status != AL_OK) return status;
    if (n_frames < 0) return AL_ERR_SIZE;
    if (n_channels < 1 || n_channels != s->n_channels) return AL_ERR_STATE;
    al_fpmode fp = al_fp_enter();
    for (int32_t c = 0; c < n_channels; c++)
        al_ci_channel(s, c, x + (int64_t)c * n_frames, n_frames);
    s->position += n_frames;
    al_fp_leave(fp);
    return AL_OK;
}
