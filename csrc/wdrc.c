#include <math.h>
#include <string.h>

#include "al_fastmath.h"
#include "al_internal.h"
#include "al_simd.h"

/* Bands run one native register (al_vfn, al_simd.h) at a time: the 4 complex stages of those
 * bands stay in registers for a whole chunk of samples instead of going through memory every
 * sample, which is what makes the fused hearing aid faster than the analysis alone. */
_Static_assert((int)AL_WDRC_LANES % (int)AL_VFN_LANES == 0,
               "a band group is a whole number of native registers");

static inline int wdrc_check(const al_wdrc *s)
{
    return s && s->coef_re && s->coef_im && s->norm && s->weight_re && s->weight_im && s->delay &&
           s->gain_db && s->knee_db_spl && s->comp_slope && s->exp_knee_db_spl && s->exp_slope &&
           s->max_gain_db && s->attack_coef && s->release_coef && s->limit_pa && s->state_re &&
           s->state_im && s->power_acc && s->level_db_spl && s->gain && s->gain_step &&
           s->gain_target && s->input_ring && s->pos && s->phase && s->limiter_env;
}

/* Analysis, level, gain and weighting of the AL_VFN_LANES bands (one native register, so the
 * states stay in registers) from lane `sub` of group g over `len` samples of one channel.
 * xin holds each lane's input, already delayed by its band's resynthesis delay (len x LANES);
 * the weighted, gain-applied complex band values are added lane-wise into out_re / out_im
 * (len x LANES). Each lane's arithmetic does not depend on the register width. */
static void wdrc_lanes(const al_wdrc *s, int32_t c, int32_t g, int32_t sub, const float *xin,
                       int64_t len, int32_t phase0, float *out_re, float *out_im)
{
    const int32_t L = AL_WDRC_LANES, nl = s->n_groups * L, grid = s->grid;
    const int64_t band = (int64_t)g * L + sub, cb = (int64_t)c * nl + band;
    const al_vfn cr = al_load_vfn(s->coef_re + band), ci = al_load_vfn(s->coef_im + band);
    const al_vfn nm = al_load_vfn(s->norm + band);
    const al_vfn wr = al_load_vfn(s->weight_re + band), wi = al_load_vfn(s->weight_im + band);
    float *st_re = s->state_re + ((int64_t)c * s->n_groups + g) * AL_GT_ORDER * L + sub;
    float *st_im = s->state_im + ((int64_t)c * s->n_groups + g) * AL_GT_ORDER * L + sub;
    xin += sub;
    out_re += sub;
    out_im += sub;
    al_vfn s0r = al_load_vfn(st_re), s1r = al_load_vfn(st_re + L),
            s2r = al_load_vfn(st_re + 2 * L), s3r = al_load_vfn(st_re + 3 * L);
    al_vfn s0i = al_load_vfn(st_im), s1i = al_load_vfn(st_im + L),
            s2i = al_load_vfn(st_im + 2 * L), s3i = al_load_vfn(st_im + 3 * L);
    al_vfn acc = al_load_vfn(s->power_acc + cb), gain = al_load_vfn(s->gain + cb);
    al_vfn step = al_load_vfn(s->gain_step + cb);
    int32_t phase = phase0;
    for (int64_t j = 0; j < len;) {
        /* Run to the next grid point (or the chunk's end) without a branch per sample. */
        const int64_t end = (len - j < grid - phase) ? len : j + (grid - phase);
        phase += (int32_t)(end - j);
        for (; j < end; j++) {
            /* Eq. (12) in Hohmann (2002): four cascaded complex one-pole filters. */
            const al_vfn in = nm * al_load_vfn(xin + j * L);
            al_vfn tr, ti;
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
            float *o_re = out_re + j * L, *o_im = out_im + j * L;
            al_store_vfn(o_re, al_load_vfn(o_re) + (wr * s3r - wi * s3i) * gain);
            al_store_vfn(o_im, al_load_vfn(o_im) + (wr * s3i + wi * s3r) * gain);
            gain += step;
        }
        if (phase == grid) {
            phase = 0;
            al_vfn level = al_load_vfn(s->level_db_spl + cb);
            /* Band level in dB SPL of the mean square over the grid step; 10/ln 10. */
            const al_vfn mean_sq = al_max_vfn(acc * s->power_scale,
                                                al_splat_vfn(s->power_floor));
            const al_vfn inst = 4.34294481903f * al_log_vfn(mean_sq);
            const al_vfn coef = al_select_vfn(inst > level, al_load_vfn(s->attack_coef + cb),
                                                al_load_vfn(s->release_coef + cb));
            level += coef * (inst - level);
            const al_vfn zero = al_splat_vfn(0.0f);
            const al_vfn knee = al_load_vfn(s->knee_db_spl + cb);
            const al_vfn exp_knee = al_load_vfn(s->exp_knee_db_spl + cb);
            al_vfn gdb = al_load_vfn(s->gain_db + cb) +
                          al_load_vfn(s->comp_slope + cb) * al_max_vfn(level - knee, zero) -
                          al_load_vfn(s->exp_slope + cb) * al_max_vfn(exp_knee - level, zero);
            gdb = al_min_vfn(gdb, al_load_vfn(s->max_gain_db + cb));
            const al_vfn target = al_exp_vfn(gdb * 0.115129254650f); /* ln(10) / 20 */
            gain = al_load_vfn(s->gain_target + cb); /* land exactly on the previous target */
            step = (target - gain) * (1.0f / (float)grid);
            al_store_vfn(s->level_db_spl + cb, level);
            al_store_vfn(s->gain_target + cb, target);
            acc = al_splat_vfn(0.0f);
        }
    }
    al_store_vfn(st_re, s0r); al_store_vfn(st_re + L, s1r); al_store_vfn(st_re + 2 * L, s2r);
    al_store_vfn(st_re + 3 * L, s3r);
    al_store_vfn(st_im, s0i); al_store_vfn(st_im + L, s1i); al_store_vfn(st_im + 2 * L, s2i);
    al_store_vfn(st_im + 3 * L, s3i);
    al_store_vfn(s->power_acc + cb, acc);
    al_store_vfn(s->gain + cb, gain);
    al_store_vfn(s->gain_step + cb, step);
}

/* One group of AL_WDRC_LANES bands (see wdrc_lanes), one native register at a time; the
 * registers past the last band are padding and add nothing. */
static void wdrc_group(const al_wdrc *s, int32_t c, int32_t g, const float *xin, int64_t len,
                       int32_t phase0, float *out_re, float *out_im)
{
    for (int32_t sub = 0; sub < AL_WDRC_LANES && g * AL_WDRC_LANES + sub < s->n_bands;
         sub += AL_VFN_LANES)
        wdrc_lanes(s, c, g, sub, xin, len, phase0, out_re, out_im);
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
    /* The delays index the input ring: each band reads a chunk ending `delay` samples back. */
    for (int32_t b = 0; b < s->n_bands; b++)
        if (s->delay[b] < 0 || s->delay[b] > s->ring_len - AL_WDRC_CHUNK - 1) return AL_ERR_SIZE;
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
            for (int64_t j = 0; j < len; j++)
                ring[(pos + j) & mask] = al_finite_or_zero(xc[start + j]);
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
