#include <math.h>
#include <string.h>

#include "al_internal.h"

/* Bands run AL_WDRC_LANES at a time in GCC/Clang vector types: the 4 complex stages of one
 * group stay in registers for a whole chunk of samples instead of going through memory every
 * sample, which is what makes the fused hearing aid faster than the analysis alone. */
typedef float al_v8 __attribute__((vector_size(4 * AL_WDRC_LANES)));
typedef int32_t al_v8i __attribute__((vector_size(4 * AL_WDRC_LANES)));

static inline al_v8 v_load(const float *p)
{
    al_v8 v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void v_store(float *p, al_v8 v) { memcpy(p, &v, sizeof v); }

static inline al_v8 v_splat(float a) { return (al_v8){0} + a; }

static inline al_v8 v_select(al_v8i mask, al_v8 a, al_v8 b)
{
    return (al_v8)(((al_v8i)a & mask) | ((al_v8i)b & ~mask));
}

static inline al_v8 v_max(al_v8 a, al_v8 b) { return v_select(a > b, a, b); }
static inline al_v8 v_min(al_v8 a, al_v8 b) { return v_select(a < b, a, b); }

/* Natural logarithm of positive normal floats, Cephes logf (Moshier 1989): mantissa reduced
 * to [sqrt(1/2), sqrt(2)), ln(1 + t) = t - t^2/2 + t^3 P(t); about 1 ulp. */
static inline al_v8 v_log(al_v8 x)
{
    const al_v8i bits = (al_v8i)x;
    al_v8i e = ((bits >> 23) & 0xff) - 127;
    al_v8 m = (al_v8)((bits & 0x007fffff) | 0x3f800000); /* [1, 2) */
    const al_v8i big = m > v_splat(1.41421356f);
    m = v_select(big, m * 0.5f, m);
    e = e - big; /* big is -1 where true */
    const al_v8 t = m - 1.0f;
    const al_v8 t2 = t * t;
    al_v8 p = v_splat(7.0376836292e-2f);
    p = p * t - 1.1514610310e-1f;
    p = p * t + 1.1676998740e-1f;
    p = p * t - 1.2420140846e-1f;
    p = p * t + 1.4249322787e-1f;
    p = p * t - 1.6668057665e-1f;
    p = p * t + 2.0000714765e-1f;
    p = p * t - 2.4999993993e-1f;
    p = p * t + 3.3333331174e-1f;
    const al_v8 ef = __builtin_convertvector(e, al_v8);
    al_v8 y = t2 * t * p;
    y = y + ef * -2.12194440e-4f;
    y = y - 0.5f * t2;
    return t + y + ef * 0.693359375f;
}

/* e^x for x in [-87, 88] (clamped), Cephes expf: x = n ln2 + r, e^r by a degree-5 polynomial,
 * 2^n by the exponent bits; about 1 ulp. */
static inline al_v8 v_exp(al_v8 x)
{
    x = v_min(v_max(x, v_splat(-87.0f)), v_splat(88.0f));
    al_v8 fx = x * 1.44269504088896341f + 0.5f;
    al_v8i n = __builtin_convertvector(fx, al_v8i); /* truncates towards zero */
    al_v8 nf = __builtin_convertvector(n, al_v8);
    const al_v8i over = nf > fx; /* floor for negative values */
    n = n + over;
    nf = __builtin_convertvector(n, al_v8);
    const al_v8 r = x - nf * 0.693359375f - nf * -2.12194440e-4f;
    const al_v8 r2 = r * r;
    al_v8 p = v_splat(1.9875691500e-4f);
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    const al_v8 y = p * r2 + r + 1.0f;
    return y * (al_v8)((n + 127) << 23);
}

static inline int wdrc_check(const al_wdrc *s)
{
    return s && s->coef_re && s->coef_im && s->norm && s->weight_re && s->weight_im && s->delay &&
           s->gain_db && s->knee_db_spl && s->comp_slope && s->exp_knee_db_spl && s->exp_slope &&
           s->max_gain_db && s->attack_coef && s->release_coef && s->limit_pa && s->state_re &&
           s->state_im && s->power_acc && s->level_db_spl && s->gain && s->gain_step &&
           s->gain_target && s->input_ring && s->pos && s->phase && s->limiter_env;
}

/* Analysis, level, gain and weighting of one group of bands over `len` samples of one channel.
 * xin holds each lane's input, already delayed by its band's resynthesis delay (len x LANES);
 * the weighted, gain-applied complex band values are added lane-wise into out_re / out_im
 * (len x LANES). */
static void wdrc_group(const al_wdrc *s, int32_t c, int32_t g, const float *xin, int64_t len,
                       int32_t phase0, float *out_re, float *out_im)
{
    const int32_t L = AL_WDRC_LANES, nl = s->n_groups * L, grid = s->grid;
    const int64_t band = (int64_t)g * L, cb = (int64_t)c * nl + band;
    const al_v8 cr = v_load(s->coef_re + band), ci = v_load(s->coef_im + band);
    const al_v8 nm = v_load(s->norm + band);
    const al_v8 wr = v_load(s->weight_re + band), wi = v_load(s->weight_im + band);
    float *st_re = s->state_re + ((int64_t)c * s->n_groups + g) * AL_GT_ORDER * L;
    float *st_im = s->state_im + ((int64_t)c * s->n_groups + g) * AL_GT_ORDER * L;
    al_v8 s0r = v_load(st_re), s1r = v_load(st_re + L), s2r = v_load(st_re + 2 * L),
          s3r = v_load(st_re + 3 * L);
    al_v8 s0i = v_load(st_im), s1i = v_load(st_im + L), s2i = v_load(st_im + 2 * L),
          s3i = v_load(st_im + 3 * L);
    al_v8 acc = v_load(s->power_acc + cb), gain = v_load(s->gain + cb);
    al_v8 step = v_load(s->gain_step + cb);
    int32_t phase = phase0;
    for (int64_t j = 0; j < len;) {
        /* Run to the next grid point (or the chunk's end) without a branch per sample. */
        const int64_t end = (len - j < grid - phase) ? len : j + (grid - phase);
        phase += (int32_t)(end - j);
        for (; j < end; j++) {
            /* Eq. (12) in Hohmann (2002): four cascaded complex one-pole filters. */
            const al_v8 in = nm * v_load(xin + j * L);
            al_v8 tr, ti;
            tr = in + cr * s0r - ci * s0i;
            ti = cr * s0i + ci * s0r;
            s0r = tr; s0i = ti;
            tr = s0r + cr * s1r - ci * s1i;
            ti = s0i + cr * s1i + ci * s1r;
            s1r = tr; s1i = ti;
            tr = s1r + cr * s2r - ci * s2i;
            ti = s1i + cr * s2i + ci * s2r;
            s2r = tr; s2i = ti;
            tr = s2r + cr * s3r - ci * s3i;
            ti = s2i + cr * s3i + ci * s3r;
            s3r = tr; s3i = ti;
            /* |z|^2 of the analytic band signal: its envelope, free of the carrier's ripple. */
            acc += s3r * s3r + s3i * s3i;
            /* Keep the whole complex band (weight * z * gain): the real parts sum to the
             * output, the complex sum is its analytic signal, whose modulus the limiter uses. */
            v_store(out_re + j * L, v_load(out_re + j * L) + (wr * s3r - wi * s3i) * gain);
            v_store(out_im + j * L, v_load(out_im + j * L) + (wr * s3i + wi * s3r) * gain);
            gain += step;
        }
        if (phase == grid) {
            phase = 0;
            al_v8 level = v_load(s->level_db_spl + cb);
            /* Band level in dB SPL of the mean square over the grid step; 10/ln 10. */
            const al_v8 inst = 4.34294481903f *
                               v_log(v_max(acc * s->power_scale, v_splat(s->power_floor)));
            const al_v8 coef = v_select(inst > level, v_load(s->attack_coef + cb),
                                        v_load(s->release_coef + cb));
            level += coef * (inst - level);
            const al_v8 zero = v_splat(0.0f);
            al_v8 gdb = v_load(s->gain_db + cb) +
                        v_load(s->comp_slope + cb) * v_max(level - v_load(s->knee_db_spl + cb), zero) -
                        v_load(s->exp_slope + cb) * v_max(v_load(s->exp_knee_db_spl + cb) - level, zero);
            gdb = v_min(gdb, v_load(s->max_gain_db + cb));
            const al_v8 target = v_exp(gdb * 0.115129254650f); /* ln(10) / 20 */
            gain = v_load(s->gain_target + cb); /* land exactly on the previous target */
            step = (target - gain) * (1.0f / (float)grid);
            v_store(s->level_db_spl + cb, level);
            v_store(s->gain_target + cb, target);
            acc = v_splat(0.0f);
        }
    }
    v_store(st_re, s0r); v_store(st_re + L, s1r); v_store(st_re + 2 * L, s2r);
    v_store(st_re + 3 * L, s3r);
    v_store(st_im, s0i); v_store(st_im + L, s1i); v_store(st_im + 2 * L, s2i);
    v_store(st_im + 3 * L, s3i);
    v_store(s->power_acc + cb, acc);
    v_store(s->gain + cb, gain);
    v_store(s->gain_step + cb, step);
}

al_status al_wdrc_process(al_wdrc *s, float *x, int32_t n_channels, int64_t n_frames)
{
    if (!wdrc_check(s) || (!x && n_frames > 0)) return AL_ERR_NULL;
    if (n_channels != s->n_channels || s->n_bands < 1 ||
        s->n_groups != (s->n_bands + AL_WDRC_LANES - 1) / AL_WDRC_LANES)
        return AL_ERR_STATE;
    if (n_frames < 0 || s->grid < 1 || s->grid > 256 || s->ring_len < AL_WDRC_CHUNK + 1 ||
        (s->ring_len & (s->ring_len - 1)) != 0)
        return AL_ERR_SIZE;
    const int32_t L = AL_WDRC_LANES, mask = s->ring_len - 1;
    for (int32_t c = 0; c < n_channels; c++)
        if (s->phase[c] < 0 || s->phase[c] >= s->grid || s->pos[c] < 0 || s->pos[c] > mask)
            return AL_ERR_STATE;
    al_fpmode fp = al_fp_enter();
    for (int32_t c = 0; c < n_channels; c++) {
        float *xc = x + (int64_t)c * n_frames;
        const float limit = s->limit_pa[c], rel = s->limiter_release_coef;
        float env = s->limiter_env[c];
        for (int64_t start = 0; start < n_frames; start += AL_WDRC_CHUNK) {
            const int64_t len = (n_frames - start < AL_WDRC_CHUNK) ? n_frames - start
                                                                   : AL_WDRC_CHUNK;
            const int32_t pos = s->pos[c], phase = s->phase[c];
            float *ring = s->input_ring + (int64_t)c * s->ring_len;
            /* A non-finite sample (possible on the engine path, which skips Python's checks)
             * would poison the recursions for good: it enters as silence instead. */
            for (int64_t j = 0; j < len; j++) {
                const float v = xc[start + j];
                ring[(pos + j) & mask] = isfinite(v) ? v : 0.0f;
            }
            /* Hohmann's resynthesis delays each band's output; the bands are time-invariant
             * apart from their gains, which follow their own signal, so delaying each band's
             * input instead gives the same output, and the bands of one output sample are then
             * all computed at once (a lane-wise sum, no per-band output delay lines). */
            float xin[AL_WDRC_CHUNK * AL_WDRC_LANES];
            float acc_re[AL_WDRC_CHUNK * AL_WDRC_LANES], acc_im[AL_WDRC_CHUNK * AL_WDRC_LANES];
            memset(acc_re, 0, sizeof(float) * (size_t)(len * L));
            memset(acc_im, 0, sizeof(float) * (size_t)(len * L));
            for (int32_t g = 0; g < s->n_groups; g++) {
                for (int32_t l = 0; l < L; l++) {
                    const int32_t b = g * L + l;
                    const int32_t d = b < s->n_bands ? s->delay[b] : 0;
                    const int64_t first = (pos - d) & mask;
                    const int64_t n1 = (len < s->ring_len - first) ? len : s->ring_len - first;
                    for (int64_t j = 0; j < n1; j++) xin[j * L + l] = ring[first + j];
                    for (int64_t j = n1; j < len; j++) xin[j * L + l] = ring[j - n1];
                }
                wdrc_group(s, c, g, xin, len, phase, acc_re, acc_im);
            }
            /* Sum the lanes in a fixed order: the result does not depend on block sizes. */
            float out_re[AL_WDRC_CHUNK], out_im[AL_WDRC_CHUNK];
            for (int64_t j = 0; j < len; j++) {
                float sr = 0.0f, si = 0.0f;
                for (int32_t l = 0; l < L; l++) {
                    sr += acc_re[j * L + l];
                    si += acc_im[j * L + l];
                }
                out_re[j] = sr;
                out_im[j] = si;
            }
            /* Limiter on the modulus of the analytic output: |y| <= |y + i H{y}|, so the output
             * never exceeds the limit, and a steady tone is scaled, not clipped (no harmonics).
             * Instant attack; release with a short time constant (the modulus has no carrier
             * ripple to follow). */
            for (int64_t j = 0; j < len; j++) {
                const float m = sqrtf(out_re[j] * out_re[j] + out_im[j] * out_im[j]);
                const float decayed = env * rel;
                env = m > decayed ? m : decayed;
                xc[start + j] = env > limit ? out_re[j] * (limit / env) : out_re[j];
            }
            s->pos[c] = (int32_t)((pos + len) & mask);
            s->phase[c] = (int32_t)((phase + len) % s->grid);
        }
        s->limiter_env[c] = env;
    }
    al_fp_leave(fp);
    return AL_OK;
}
