/* Kates' ear model: per-band recursions (see al_ear_model.h), in double precision.
 *
 * Every kernel runs AL_EAR_LANES bands at once in vector lanes (the recursions of one band are
 * serial, those of different bands independent), with the logarithm and exponential written as
 * vector polynomials (libm's cannot be vectorised). Samples move between the bands' rows and
 * the lanes through small blocks.
 *
 * The 8-double vectors are one AVX-512 register but four SSE2 ones: each kernel's body is
 * inlined into a baseline and an AVX-512 function (EAR_PATHS), and the selected CPU path
 * (al_cpu_selected, as for csrc/isa/) picks one; AVX-512 halves HASPI's time. The AVX2 path runs
 * the baseline body: its 16 registers of 4 doubles spill these 8-double states, and an AVX2
 * build measured slower than the baseline one (cochlea bank 0.50 s vs 0.40 s per 10 s pair). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "audiolab.h"
#include "isa/al_isa.h"

#define EAR_INLINE static inline __attribute__((always_inline))

/* NAME##_run PARAMS: NAME ARGS (an EAR_INLINE body) compiled for the selected CPU path. */
#if AL_ISA_VARIANTS
#define EAR_PATHS(name, params, args)                                                           \
    static void name##_base params { name args; }                                               \
    __attribute__((target("arch=x86-64-v4"))) static void name##_avx512 params { name args; }  \
    static void name##_run params                                                               \
    {                                                                                           \
        if (al_cpu_selected == AL_CPU_AVX512) name##_avx512 args;                               \
        else name##_base args;                                                                  \
    }
#else
#define EAR_PATHS(name, params, args) \
    static void name##_run params { name args; }
#endif

enum { AL_EAR_LANES = 8, AL_EAR_BLOCK = 64, AL_EAR_CHUNK = 256, AL_EAR_MAX_TAPS = 256 };
typedef double ear_vd __attribute__((vector_size(8 * AL_EAR_LANES)));

typedef int64_t ear_vi __attribute__((vector_size(8 * AL_EAR_LANES)));

static const double SMALL = 1e-30;

EAR_INLINE ear_vd splat(double v) { return (ear_vd){0} + v; }
/* Lane-wise mask ? a : b; a comparison of two ear_vd gives the mask (-1 true, 0 false). */
EAR_INLINE ear_vd vselect(ear_vi mask, ear_vd a, ear_vd b)
{
    return (ear_vd)(((ear_vi)a & mask) | ((ear_vi)b & ~mask));
}
/* The demodulating oscillator one sample on: (c, s) = (cos k w, -sin k w) per lane. */
EAR_INLINE void rotate(ear_vd *c, ear_vd *s, ear_vd c_step, ear_vd s_step)
{
    const ear_vd c_new = *c * c_step + *s * s_step;
    *s = *s * c_step - *c * s_step;
    *c = c_new;
}
EAR_INLINE ear_vd vmax(ear_vd a, ear_vd b) { return vselect(a > b, a, b); }
EAR_INLINE ear_vd vmin(ear_vd a, ear_vd b) { return vselect(a < b, a, b); }

/* 20 log10(p) for normal p > 0, lane by lane, as al_db10_f64 (al_fastmath.h) does it:
 * p = z 2^k with z in [sqrt(1/2), sqrt(2)), ln z = 2 atanh(s), s = (z - 1)/(z + 1), series to
 * s^15 (within 1e-12 dB). */
EAR_INLINE ear_vd vdb20(ear_vd p)
{
    const ear_vi bits = (ear_vi)p;
    const ear_vi tmp = bits - (int64_t)0x3fe6a09e667f3bcdLL; /* bits of sqrt(1/2) */
    const ear_vi k = tmp >> 52;
    const ear_vi zbits = bits - (tmp & (int64_t)0xfff0000000000000ULL);
    const ear_vd z = (ear_vd)zbits;
    const ear_vd s = (z - 1.0) / (z + 1.0), s2 = s * s;
    const ear_vd series =
        1.0 + s2 * (1.0 / 3 + s2 * (1.0 / 5 + s2 * (1.0 / 7 + s2 * (1.0 / 9 +
        s2 * (1.0 / 11 + s2 * (1.0 / 13 + s2 * (1.0 / 15)))))));
    const ear_vd ln_p = __builtin_convertvector(k, ear_vd) * 0.6931471805599453 + 2.0 * s * series;
    return 8.685889638065036 * ln_p; /* 20 / ln(10) */
}

/* 10^(db / 20) lane by lane: e^r with db ln(10)/20 = n ln 2 + r, |r| <= ln(2)/2, by its Taylor
 * series to r^12 (truncation below 2e-16 relative), times 2^n by the exponent bits.
 * For |db| < 6000 (every gain here is within +-200 dB). */
EAR_INLINE ear_vd vundb20(ear_vd db)
{
    const ear_vd t = db * 0.11512925464970229; /* ln(10) / 20 */
    const ear_vd q = t * 1.4426950408889634;
    const ear_vi n = __builtin_convertvector(q + vselect(q >= 0.0, splat(0.5), splat(-0.5)),
                                             ear_vi);
    const ear_vd nf = __builtin_convertvector(n, ear_vd);
    const ear_vd r = (t - nf * 0.6931471803691238) - nf * 1.9082149292705877e-10;
    ear_vd p = splat(1.0 / 479001600.0);
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    return p * (ear_vd)((n + 1023) << 52);
}

EAR_INLINE void bank_group(const double *x, int64_t n, int32_t n_lanes, const double *cf_hz,
                           const double *a, const double *gain, double fs, double *env,
                           double *bm, double *sum_sq)
{
    ear_vd acc = {0};
    ear_vd d1 = {0}, d2 = {0}, d3 = {0}, d4 = {0}, b1 = {0}, b2 = {0}, g = {0};
    ear_vd c_step = {0}, s_step = {0}, c = {0}, s = {0};
    for (int32_t l = 0; l < n_lanes; l++) {
        const double al = a[l];
        /* Denominator (1 - a z^-1)^4 = 1 - d1 z^-1 - d2 z^-2 - d3 z^-3 - d4 z^-4. */
        d1[l] = 4.0 * al;
        d2[l] = -6.0 * al * al;
        d3[l] = 4.0 * al * al * al;
        d4[l] = -al * al * al * al;
        b1[l] = 4.0 * al;
        b2[l] = 4.0 * al * al;
        g[l] = gain[l];
        c_step[l] = cos(2.0 * M_PI / fs * cf_hz[l]);
        s_step[l] = sin(2.0 * M_PI / fs * cf_hz[l]);
        c[l] = 1.0; /* cos(k w) */
        s[l] = 0.0; /* -sin(k w) */
    }
    ear_vd r1 = {0}, r2 = {0}, r3 = {0}, r4 = {0}, i1 = {0}, i2 = {0}, i3 = {0}, i4 = {0};
    double env_blk[AL_EAR_BLOCK][AL_EAR_LANES], bm_blk[AL_EAR_BLOCK][AL_EAR_LANES];
    for (int64_t k0 = 0; k0 < n; k0 += AL_EAR_BLOCK) {
        const int64_t m = n - k0 < AL_EAR_BLOCK ? n - k0 : AL_EAR_BLOCK;
        for (int64_t j = 0; j < m; j++) {
            const int64_t k = k0 + j;
            if (k > 0)
                rotate(&c, &s, c_step, s_step);
            const ear_vd xr = x[k] * c, xi = x[k] * s;
            const ear_vd ur = xr + r1, ui = xi + i1;
            r1 = b1 * xr + d1 * ur + r2;
            r2 = b2 * xr + d2 * ur + r3;
            r3 = d3 * ur + r4;
            r4 = d4 * ur;
            i1 = b1 * xi + d1 * ui + i2;
            i2 = b2 * xi + d2 * ui + i3;
            i3 = d3 * ui + i4;
            i4 = d4 * ui;
            const ear_vd mag2 = ur * ur + ui * ui;
            ear_vd e;
            for (int32_t l = 0; l < AL_EAR_LANES; l++) e[l] = __builtin_sqrt(mag2[l]);
            e = g * e;
            acc += e * e;
            memcpy(env_blk[j], &e, sizeof e);
            const ear_vd b = g * (ur * c + ui * s);
            memcpy(bm_blk[j], &b, sizeof b);
        }
        for (int32_t l = 0; l < n_lanes; l++) {
            if (env)
                for (int64_t j = 0; j < m; j++) env[l * n + k0 + j] = env_blk[j][l];
            if (bm)
                for (int64_t j = 0; j < m; j++) bm[l * n + k0 + j] = bm_blk[j][l];
        }
    }
    if (sum_sq)
        for (int32_t l = 0; l < n_lanes; l++) sum_sq[l] = acc[l];
}

EAR_PATHS(bank_group,
          (const double *x, int64_t n, int32_t n_lanes, const double *cf_hz, const double *a,
           const double *gain, double fs, double *env, double *bm, double *sum_sq),
          (x, n, n_lanes, cf_hz, a, gain, fs, env, bm, sum_sq))

al_status al_ear_gammatone_bank(const double *x, int64_t n, int32_t n_bands, const double *cf_hz,
                                const double *a, const double *gain, double fs, double *env,
                                double *bm, double *sum_sq)
{
    if (!x || !cf_hz || !a || !gain) return AL_ERR_NULL;
    if (n < 1 || n_bands < 1) return AL_ERR_SIZE;
    if (!(fs > 0.0)) return AL_ERR_VALUE;
    for (int32_t b = 0; b < n_bands; b++)
        if (!(a[b] > 0.0 && a[b] < 1.0) || !isfinite(cf_hz[b]) || !isfinite(gain[b]))
            return AL_ERR_VALUE;
    for (int32_t b0 = 0; b0 < n_bands; b0 += AL_EAR_LANES) {
        const int32_t lanes = n_bands - b0 < AL_EAR_LANES ? n_bands - b0 : AL_EAR_LANES;
        double cf8[AL_EAR_LANES], a8[AL_EAR_LANES], g8[AL_EAR_LANES];
        for (int32_t l = 0; l < AL_EAR_LANES; l++) { /* idle lanes run a harmless band */
            const int32_t b = b0 + (l < lanes ? l : 0);
            cf8[l] = cf_hz[b];
            a8[l] = a[b];
            g8[l] = gain[b];
        }
        bank_group_run(x, n, lanes, cf8, a8, g8, fs, env ? env + (int64_t)b0 * n : NULL,
                       bm ? bm + (int64_t)b0 * n : NULL, sum_sq ? sum_sq + b0 : NULL);
    }
    return AL_OK;
}

/* Per lane: the filter (1 + 4a z^-1 + 4a^2 z^-2) / (1 - a z^-1)^4 in transposed direct form. */
typedef struct {
    ear_vd d1, d2, d3, d4, b1, b2, g;
    ear_vd r1, r2, r3, r4, i1, i2, i3, i4;
} ear_tone;

EAR_INLINE void tone_init(ear_tone *t, const double *a, const double *gain)
{
    memset(t, 0, sizeof *t);
    for (int32_t l = 0; l < AL_EAR_LANES; l++) {
        const double al = a[l];
        t->d1[l] = 4.0 * al;
        t->d2[l] = -6.0 * al * al;
        t->d3[l] = 4.0 * al * al * al;
        t->d4[l] = -al * al * al * al;
        t->b1[l] = 4.0 * al;
        t->b2[l] = 4.0 * al * al;
        t->g[l] = gain[l];
    }
}

/* One sample: the filtered demodulated pair (ur, ui), unscaled. */
EAR_INLINE void tone_step(ear_tone *t, ear_vd xr, ear_vd xi, ear_vd *ur, ear_vd *ui)
{
    *ur = xr + t->r1;
    *ui = xi + t->i1;
    t->r1 = t->b1 * xr + t->d1 * *ur + t->r2;
    t->r2 = t->b2 * xr + t->d2 * *ur + t->r3;
    t->r3 = t->d3 * *ur + t->r4;
    t->r4 = t->d4 * *ur;
    t->i1 = t->b1 * xi + t->d1 * *ui + t->i2;
    t->i2 = t->b2 * xi + t->d2 * *ui + t->i3;
    t->i3 = t->d3 * *ui + t->i4;
    t->i4 = t->d4 * *ui;
}

EAR_INLINE ear_vd vsqrt(ear_vd v)
{
    for (int32_t l = 0; l < AL_EAR_LANES; l++) v[l] = __builtin_sqrt(v[l]);
    return v;
}

typedef struct {
    double cf[AL_EAR_LANES], a_ctl[AL_EAR_LANES], g_ctl[AL_EAR_LANES], a[AL_EAR_LANES];
    double g[AL_EAR_LANES], attn[AL_EAR_LANES], knee[AL_EAR_LANES], slope[AL_EAR_LANES];
} ear_group;

EAR_INLINE void cochlea_group(const double *x, int64_t n, int32_t n_lanes, const ear_group *p,
                              double fs, double level_db_spl, double lp_b0, double lp_a1,
                              double *env, double *bm, double *sum_sq)
{
    ear_tone ctl, tone;
    tone_init(&ctl, p->a_ctl, p->g_ctl);
    tone_init(&tone, p->a, p->g);
    ear_vd c_step, s_step, attn, knee, slope, c = splat(1.0), s = splat(0.0);
    for (int32_t l = 0; l < AL_EAR_LANES; l++) {
        c_step[l] = cos(2.0 * M_PI / fs * p->cf[l]);
        s_step[l] = sin(2.0 * M_PI / fs * p->cf[l]);
        attn[l] = p->attn[l];
        knee[l] = p->knee[l];
        slope[l] = p->slope[l];
    }
    ear_vd acc = {0}, prev = {0}, z = {0};
    /* Three passes per block: the filters (the serial recursion), then the compression gain
     * (the logarithm and exponential, independent from sample to sample, so that their long
     * latencies overlap), then the gain's smoothing (serial again, one step). */
    ear_vd ctl_blk[AL_EAR_BLOCK], mag_blk[AL_EAR_BLOCK], car_blk[AL_EAR_BLOCK];
    double env_blk[AL_EAR_BLOCK][AL_EAR_LANES], bm_blk[AL_EAR_BLOCK][AL_EAR_LANES];
    for (int64_t k0 = 0; k0 < n; k0 += AL_EAR_BLOCK) {
        const int64_t m = n - k0 < AL_EAR_BLOCK ? n - k0 : AL_EAR_BLOCK;
        for (int64_t j = 0; j < m; j++) {
            const int64_t k = k0 + j;
            if (k > 0)
                rotate(&c, &s, c_step, s_step);
            const ear_vd xr = x[k] * c, xi = x[k] * s;
            ear_vd ur, ui, vr, vi;
            tone_step(&ctl, xr, xi, &vr, &vi);
            tone_step(&tone, xr, xi, &ur, &ui);
            ctl_blk[j] = vr * vr + vi * vi;
            mag_blk[j] = ur * ur + ui * ui;
            car_blk[j] = ur * c + ui * s;
        }
        for (int64_t j = 0; j < m; j++) {
            /* 20 log10(control) as 10 log10(control^2): no square root for the control. */
            const ear_vd control2 = ctl.g * ctl.g * ctl_blk[j];
            ear_vd level = level_db_spl + 0.5 * vdb20(vmax(control2, splat(SMALL * SMALL)));
            level = vmax(vmin(level, splat(100.0)), knee);
            ctl_blk[j] = vundb20(-attn - (level - knee) * slope);
            mag_blk[j] = tone.g * vsqrt(mag_blk[j]);
        }
        for (int64_t j = 0; j < m; j++) {
            const ear_vd e = mag_blk[j], gain = ctl_blk[j];
            acc += e * e;
            /* y[k] = b0 g[k] + b0 g[k-1] - a1 y[k-1] */
            const ear_vd y = lp_b0 * (gain + prev) - lp_a1 * z;
            prev = gain;
            z = y;
            const ear_vd ey = e * y, by = tone.g * car_blk[j] * y;
            memcpy(env_blk[j], &ey, sizeof ey);
            memcpy(bm_blk[j], &by, sizeof by);
        }
        for (int32_t l = 0; l < n_lanes; l++) {
            for (int64_t j = 0; j < m; j++) env[l * n + k0 + j] = env_blk[j][l];
            if (bm)
                for (int64_t j = 0; j < m; j++) bm[l * n + k0 + j] = bm_blk[j][l];
        }
    }
    for (int32_t l = 0; l < n_lanes; l++) sum_sq[l] = acc[l];
}

EAR_PATHS(cochlea_group,
          (const double *x, int64_t n, int32_t n_lanes, const ear_group *p, double fs,
           double level_db_spl, double lp_b0, double lp_a1, double *env, double *bm,
           double *sum_sq),
          (x, n, n_lanes, p, fs, level_db_spl, lp_b0, lp_a1, env, bm, sum_sq))

al_status al_ear_cochlea_bank(const double *x, int64_t n, int32_t n_bands, const double *cf_hz,
                              const double *a_ctl, const double *gain_ctl, const double *a,
                              const double *gain, double fs, double level_db_spl,
                              const double *attn_ohc_db, const double *low_knee_db_spl,
                              const double *slope, double lp_b0, double lp_a1, double *env,
                              double *bm, double *sum_sq)
{
    if (!x || !cf_hz || !a_ctl || !gain_ctl || !a || !gain || !attn_ohc_db || !low_knee_db_spl
        || !slope || !env || !sum_sq)
        return AL_ERR_NULL;
    if (n < 1 || n_bands < 1) return AL_ERR_SIZE;
    if (!(fs > 0.0) || !isfinite(level_db_spl) || !isfinite(lp_b0) || !isfinite(lp_a1))
        return AL_ERR_VALUE;
    for (int32_t b = 0; b < n_bands; b++)
        if (!(a[b] > 0.0 && a[b] < 1.0) || !(a_ctl[b] > 0.0 && a_ctl[b] < 1.0)
            || !isfinite(cf_hz[b]) || !isfinite(gain[b]) || !isfinite(gain_ctl[b])
            || !isfinite(attn_ohc_db[b]) || !isfinite(low_knee_db_spl[b]) || !isfinite(slope[b]))
            return AL_ERR_VALUE;
    for (int32_t b0 = 0; b0 < n_bands; b0 += AL_EAR_LANES) {
        const int32_t lanes = n_bands - b0 < AL_EAR_LANES ? n_bands - b0 : AL_EAR_LANES;
        ear_group p;
        for (int32_t l = 0; l < AL_EAR_LANES; l++) { /* idle lanes run a harmless band */
            const int32_t b = b0 + (l < lanes ? l : 0);
            p.cf[l] = cf_hz[b];
            p.a_ctl[l] = a_ctl[b];
            p.g_ctl[l] = gain_ctl[b];
            p.a[l] = a[b];
            p.g[l] = gain[b];
            p.attn[l] = attn_ohc_db[b];
            p.knee[l] = low_knee_db_spl[b];
            p.slope[l] = slope[b];
        }
        cochlea_group_run(x, n, lanes, &p, fs, level_db_spl, lp_b0, lp_a1,
                          env + (int64_t)b0 * n, bm ? bm + (int64_t)b0 * n : NULL, sum_sq + b0);
    }
    return AL_OK;
}

/* The inner-hair-cell stage's level for a group of bands: the envelope in dB above threshold
 * (offset), floored at 0. */
EAR_INLINE ear_vd ihc_level(ear_vd e, ear_vd off)
{
    return vmax(off + vdb20(e + SMALL), splat(0.0));
}

/* One sample of the inner-hair-cell adaptation for a group of bands: the level d through the
 * adaptation filter (num, den; state z1, z2), half-wave rectified. */
EAR_INLINE ear_vd ihc_adapt(ear_vd d, const double *num, const double *den, ear_vd *z1,
                            ear_vd *z2)
{
    const ear_vd y = num[0] * d + *z1;
    *z1 = num[1] * d - den[1] * y + *z2;
    *z2 = num[2] * d - den[2] * y;
    return vmax(y, splat(0.0));
}

EAR_INLINE void ihc_group(double *env, double *bm, int32_t n_lanes, int64_t n,
                          const double *offset, const double *num, const double *den)
{
    ear_vd off = {0}, z1 = {0}, z2 = {0};
    for (int32_t l = 0; l < AL_EAR_LANES; l++) off[l] = offset[l < n_lanes ? l : 0];
    double e_blk[AL_EAR_BLOCK][AL_EAR_LANES], g_blk[AL_EAR_BLOCK][AL_EAR_LANES];
    memset(e_blk, 0, sizeof e_blk);
    for (int64_t k0 = 0; k0 < n; k0 += AL_EAR_BLOCK) {
        const int64_t m = n - k0 < AL_EAR_BLOCK ? n - k0 : AL_EAR_BLOCK;
        for (int32_t l = 0; l < n_lanes; l++)
            for (int64_t j = 0; j < m; j++) e_blk[j][l] = env[l * n + k0 + j];
        for (int64_t j = 0; j < m; j++) {
            ear_vd e;
            memcpy(&e, e_blk[j], sizeof e);
            const ear_vd d = ihc_level(e, off);
            const ear_vd out = ihc_adapt(d, num, den, &z1, &z2);
            memcpy(e_blk[j], &out, sizeof out);
            if (bm) {
                const ear_vd g = ((d + SMALL) / (e + SMALL)) * ((out + SMALL) / (d + SMALL));
                memcpy(g_blk[j], &g, sizeof g);
            }
        }
        for (int32_t l = 0; l < n_lanes; l++) {
            for (int64_t j = 0; j < m; j++) env[l * n + k0 + j] = e_blk[j][l];
            if (bm)
                for (int64_t j = 0; j < m; j++) bm[l * n + k0 + j] *= g_blk[j][l];
        }
    }
}

EAR_PATHS(ihc_group,
          (double *env, double *bm, int32_t n_lanes, int64_t n, const double *offset,
           const double *num, const double *den),
          (env, bm, n_lanes, n, offset, num, den))

al_status al_ear_ihc_bank(double *env, double *bm, int32_t n_bands, int64_t n,
                          const double *sl_offset_db, const double *num, const double *den)
{
    if (!env || !sl_offset_db || !num || !den) return AL_ERR_NULL;
    if (n < 1 || n_bands < 1) return AL_ERR_SIZE;
    if (den[0] != 1.0) return AL_ERR_VALUE;
    for (int32_t b = 0; b < n_bands; b++)
        if (!isfinite(sl_offset_db[b])) return AL_ERR_VALUE;
    for (int32_t b0 = 0; b0 < n_bands; b0 += AL_EAR_LANES) {
        const int32_t lanes = n_bands - b0 < AL_EAR_LANES ? n_bands - b0 : AL_EAR_LANES;
        ihc_group_run(env + (int64_t)b0 * n, bm ? bm + (int64_t)b0 * n : NULL, lanes, n,
                      sl_offset_db + b0, num, den);
    }
    return AL_OK;
}

/* The adapted levels of a group of bands pass through a history of vectors (one row per sample,
 * a lane per band) long enough for the FIR, so that the low-pass runs on whole vectors and only
 * at the kept samples. */
EAR_INLINE void ihc_lowpass_group(const double *env, int32_t n_lanes, int64_t n,
                                  const int32_t *advance, const int32_t *delay,
                                  const double *offset, const double *num, const double *den,
                                  const double *taps, int32_t n_taps, int32_t step,
                                  int32_t tap_delay, double *out, int64_t n_out)
{
    ear_vd off = {0}, z1 = {0}, z2 = {0};
    for (int32_t l = 0; l < AL_EAR_LANES; l++) off[l] = offset[l < n_lanes ? l : 0];
    double e_blk[AL_EAR_CHUNK][AL_EAR_LANES];
    memset(e_blk, 0, sizeof e_blk); /* idle lanes stay silent */
    /* hist[r] is sample base + r of the adapted levels; samples before 0 and from n on are 0. */
    ear_vd hist[AL_EAR_MAX_TAPS + AL_EAR_CHUNK];
    memset(hist, 0, (size_t)n_taps * sizeof hist[0]);
    int64_t base = -n_taps, m = 0;
    int32_t fill = n_taps;
    const int64_t t_end = step * (n_out - 1) + tap_delay + 1; /* the last output's newest sample */
    for (int64_t t0 = 0; t0 < t_end; t0 += AL_EAR_CHUNK) {
        const int32_t len = (int32_t)(t_end - t0 < AL_EAR_CHUNK ? t_end - t0 : AL_EAR_CHUNK);
        const int32_t live = (int32_t)(t0 >= n ? 0 : (n - t0 < len ? n - t0 : len));
        for (int32_t l = 0; l < n_lanes; l++) {
            /* sample t reads env[l][t - delay + advance] where that and t - delay are in range */
            const int64_t shift = (int64_t)advance[l] - delay[l];
            int64_t lo = delay[l] > delay[l] - advance[l] ? delay[l] : delay[l] - advance[l];
            int64_t hi = n - shift;
            lo = lo - t0 < 0 ? 0 : (lo - t0 > live ? live : lo - t0);
            hi = hi - t0 < lo ? lo : (hi - t0 > live ? live : hi - t0);
            const double *row = env + (int64_t)l * n + t0 + shift;
            for (int64_t j = 0; j < lo; j++) e_blk[j][l] = 0.0;
            for (int64_t j = lo; j < hi; j++) e_blk[j][l] = row[j];
            for (int64_t j = hi; j < live; j++) e_blk[j][l] = 0.0;
        }
        for (int32_t j = 0; j < live; j++) {
            ear_vd e;
            memcpy(&e, e_blk[j], sizeof e);
            hist[fill + j] = ihc_adapt(ihc_level(e, off), num, den, &z1, &z2);
        }
        for (int32_t j = live; j < len; j++) hist[fill + j] = splat(0.0);
        fill += len;
        for (; m < n_out && step * m + tap_delay < base + fill; m++) {
            const ear_vd *h = hist + (step * m + tap_delay - base); /* taps[j] weighs h[-j] */
            /* Four partial sums: one would be a serial chain of n_taps additions. */
            ear_vd acc[4] = {{0}, {0}, {0}, {0}};
            int32_t j = 0;
            for (; j + 4 <= n_taps; j += 4)
                for (int32_t q = 0; q < 4; q++) acc[q] += taps[j + q] * h[-(j + q)];
            for (; j < n_taps; j++) acc[0] += taps[j] * h[-j];
            const ear_vd sum = (acc[0] + acc[1]) + (acc[2] + acc[3]);
            for (int32_t l = 0; l < n_lanes; l++) out[(int64_t)l * n_out + m] = sum[l];
        }
        memmove(hist, hist + fill - n_taps, (size_t)n_taps * sizeof hist[0]);
        base += fill - n_taps;
        fill = n_taps;
    }
}

EAR_PATHS(ihc_lowpass_group,
          (const double *env, int32_t n_lanes, int64_t n, const int32_t *advance,
           const int32_t *delay, const double *offset, const double *num, const double *den,
           const double *taps, int32_t n_taps, int32_t step, int32_t tap_delay, double *out,
           int64_t n_out),
          (env, n_lanes, n, advance, delay, offset, num, den, taps, n_taps, step, tap_delay, out,
           n_out))

al_status al_ear_ihc_lowpass(const double *env, int32_t n_bands, int64_t n,
                             const int32_t *advance, const int32_t *delay,
                             const double *sl_offset_db, const double *num, const double *den,
                             const double *taps, int32_t n_taps, int32_t step, int32_t tap_delay,
                             double *out, int64_t n_out)
{
    if (!env || !advance || !delay || !sl_offset_db || !num || !den || !taps || !out)
        return AL_ERR_NULL;
    if (n < 1 || n_bands < 1 || n_taps < 1 || n_taps > AL_EAR_MAX_TAPS || step < 1
        || tap_delay < 0 || tap_delay >= n_taps || n_out < 0)
        return AL_ERR_SIZE;
    if (den[0] != 1.0) return AL_ERR_VALUE;
    for (int32_t b = 0; b < n_bands; b++)
        if (!isfinite(sl_offset_db[b]) || !(sl_offset_db[b] < 600.0) || delay[b] < 0)
            return AL_ERR_VALUE;
    if (n_out == 0) return AL_OK;
    for (int32_t b0 = 0; b0 < n_bands; b0 += AL_EAR_LANES) {
        const int32_t lanes = n_bands - b0 < AL_EAR_LANES ? n_bands - b0 : AL_EAR_LANES;
        ihc_lowpass_group_run(env + (int64_t)b0 * n, lanes, n, advance + b0, delay + b0,
                              sl_offset_db + b0, num, den, taps, n_taps, step, tap_delay,
                              out + (int64_t)b0 * n_out, n_out);
    }
    return AL_OK;
}

EAR_INLINE void segment_peaks(const double *xs, const double *ys, int64_t n_rows, int32_t n_win,
                              int32_t max_lag, const double *weight, int64_t n_weight_rows,
                              double *peak)
{
    for (int64_t r = 0; r < n_rows; r++) {
        const double *x = xs + r * n_win, *y = ys + r * n_win;
        const double *w = weight + (r % n_weight_rows) * (2 * max_lag + 1);
        double best = 0.0;
        for (int32_t lag = -max_lag; lag <= max_lag; lag++) {
            /* sum over j of x[j + lag] y[j], for the j where both are in the row */
            const int32_t lo = lag < 0 ? -lag : 0, hi = lag > 0 ? n_win - lag : n_win;
            ear_vd part = {0};
            double acc = 0.0;
            int32_t j = lo;
            for (; j + AL_EAR_LANES <= hi; j += AL_EAR_LANES) {
                ear_vd a, b;
                memcpy(&a, x + j + lag, sizeof a);
                memcpy(&b, y + j, sizeof b);
                part += a * b;
            }
            for (; j < hi; j++) acc += x[j + lag] * y[j];
            for (int32_t l = 0; l < AL_EAR_LANES; l++) acc += part[l];
            const double v = fabs(acc) * w[lag + max_lag];
            if (v > best) best = v;
        }
        peak[r] = best;
    }
}

EAR_PATHS(segment_peaks,
          (const double *xs, const double *ys, int64_t n_rows, int32_t n_win, int32_t max_lag,
           const double *weight, int64_t n_weight_rows, double *peak),
          (xs, ys, n_rows, n_win, max_lag, weight, n_weight_rows, peak))

al_status al_ear_segment_xcorr_peak(const double *xs, const double *ys, int64_t n_rows,
                                    int32_t n_win, int32_t max_lag, const double *weight,
                                    int64_t n_weight_rows, double *peak)
{
    if (!xs || !ys || !weight || !peak) return AL_ERR_NULL;
    if (n_rows < 0 || n_win < 1 || max_lag < 0 || max_lag >= n_win || n_weight_rows < 1)
        return AL_ERR_SIZE;
    segment_peaks_run(xs, ys, n_rows, n_win, max_lag, weight, n_weight_rows, peak);
    return AL_OK;
}
