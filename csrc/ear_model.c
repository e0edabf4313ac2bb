/* Kates' ear model: per-band recursions (see al_ear_model.h), in double precision.
 *
 * The gammatone bank runs AL_EAR_LANES bands at once in vector lanes (the recursions of one
 * band are serial, those of different bands independent). The compression and the inner hair
 * cell take their logarithms and exponentials for a chunk of samples at a time with the
 * polynomial forms below, which the compiler vectorises (libm's log10 and pow it cannot), then
 * run their recursions over the chunk. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "audiolab.h"
#include "al_fastmath.h"

enum { AL_EAR_LANES = 8, AL_EAR_BLOCK = 64, AL_EAR_CHUNK = 256 };
typedef double ear_vd __attribute__((vector_size(8 * AL_EAR_LANES)));

static const double SMALL = 1e-30;

/* 20 log10(p) for p > 0 in float64 (al_db10_f64: within 1e-12 dB). */
static inline double db20(double p) { return 2.0 * al_db10_f64(p); }

/* 10^(db / 20) in float64: e^r with db ln(10)/20 = n ln 2 + r, |r| <= ln(2)/2, by its Taylor
 * series to r^12 (truncation below 2e-16 relative), times 2^n by the exponent bits.
 * For |db| < 6000 (every gain here is within +-200 dB). */
static inline double undb20(double db)
{
    const double t = db * 0.11512925464970229; /* ln(10) / 20 */
    const double nf = __builtin_round(t * 1.4426950408889634);
    const double r = (t - nf * 0.6931471803691238) - nf * 1.9082149292705877e-10;
    double p = 1.0 / 479001600.0;
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
    const uint64_t bits = (uint64_t)((int64_t)nf + 1023) << 52;
    double scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

static void bank_group(const double *x, int64_t n, int32_t n_lanes, const double *cf_hz,
                       const double *a, const double *gain, double fs, double *env, double *bm,
                       double *sum_sq)
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
            if (k > 0) {
                const ear_vd c_new = c * c_step + s * s_step;
                s = s * c_step - c * s_step;
                c = c_new;
            }
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
        bank_group(x, n, lanes, cf8, a8, g8, fs, env ? env + (int64_t)b0 * n : NULL,
                   bm ? bm + (int64_t)b0 * n : NULL, sum_sq ? sum_sq + b0 : NULL);
    }
    return AL_OK;
}

al_status al_ear_decimate(const double *x, int32_t n_rows, int64_t n, const double *taps,
                          int32_t n_taps, int32_t step, int32_t delay, double *out,
                          int64_t n_out)
{
    if (!x || !taps || !out) return AL_ERR_NULL;
    if (n_rows < 1 || n < 1 || n_taps < 1 || step < 1 || delay < 0 || n_out < 0)
        return AL_ERR_SIZE;
    for (int32_t r = 0; r < n_rows; r++) {
        const double *xr = x + (int64_t)r * n;
        for (int64_t m = 0; m < n_out; m++) {
            const int64_t top = step * m + delay; /* index of taps[0] */
            double acc = 0.0;
            if (top - (n_taps - 1) >= 0 && top < n) {
                for (int32_t j = 0; j < n_taps; j++) acc += taps[j] * xr[top - j];
            } else {
                for (int32_t j = 0; j < n_taps; j++) {
                    const int64_t i = top - j;
                    if (i >= 0 && i < n) acc += taps[j] * xr[i];
                }
            }
            out[(int64_t)r * n_out + m] = acc;
        }
    }
    return AL_OK;
}

al_status al_ear_compress(const double *control, int64_t n, double level_db_spl,
                          double attn_ohc_db, double low_knee_db_spl, double compression_ratio,
                          double lp_b0, double lp_a1, double *env, double *bm)
{
    if (!control || !env) return AL_ERR_NULL;
    if (n < 1) return AL_ERR_SIZE;
    if (!(compression_ratio > 0.0) || !isfinite(level_db_spl) || !isfinite(attn_ohc_db)
        || !isfinite(low_knee_db_spl))
        return AL_ERR_VALUE;
    const double slope = 1.0 - 1.0 / compression_ratio;
    double gain[AL_EAR_CHUNK];
    double z = 0.0, prev = 0.0;
    for (int64_t k0 = 0; k0 < n; k0 += AL_EAR_CHUNK) {
        const int64_t m = n - k0 < AL_EAR_CHUNK ? n - k0 : AL_EAR_CHUNK;
        for (int64_t j = 0; j < m; j++) { /* vectorised: no calls, no branches */
            const double ctl = control[k0 + j] > SMALL ? control[k0 + j] : SMALL;
            double level = level_db_spl + db20(ctl);
            level = level < 100.0 ? level : 100.0;
            level = level > low_knee_db_spl ? level : low_knee_db_spl;
            gain[j] = undb20(-attn_ohc_db - (level - low_knee_db_spl) * slope);
        }
        for (int64_t j = 0; j < m; j++) {
            /* y[k] = b0 g[k] + b0 g[k-1] - a1 y[k-1] */
            const double y = lp_b0 * (gain[j] + prev) - lp_a1 * z;
            prev = gain[j];
            z = y;
            env[k0 + j] *= y;
            if (bm) bm[k0 + j] *= y;
        }
    }
    return AL_OK;
}

al_status al_ear_ihc(double *env, double *bm, int64_t n, double sl_offset_db, const double *num,
                     const double *den)
{
    if (!env || !num || !den) return AL_ERR_NULL;
    if (n < 1) return AL_ERR_SIZE;
    if (den[0] != 1.0 || !isfinite(sl_offset_db)) return AL_ERR_VALUE;
    double db[AL_EAR_CHUNK];
    double z1 = 0.0, z2 = 0.0;
    for (int64_t k0 = 0; k0 < n; k0 += AL_EAR_CHUNK) {
        const int64_t m = n - k0 < AL_EAR_CHUNK ? n - k0 : AL_EAR_CHUNK;
        for (int64_t j = 0; j < m; j++) { /* vectorised */
            const double v = sl_offset_db + db20(env[k0 + j] + SMALL);
            db[j] = v > 0.0 ? v : 0.0;
        }
        for (int64_t j = 0; j < m; j++) {
            const double e = env[k0 + j], d = db[j];
            const double y = num[0] * d + z1;
            z1 = num[1] * d - den[1] * y + z2;
            z2 = num[2] * d - den[2] * y;
            const double out = y > 0.0 ? y : 0.0;
            env[k0 + j] = out;
            if (bm) bm[k0 + j] *= ((d + SMALL) / (e + SMALL)) * ((out + SMALL) / (d + SMALL));
        }
    }
    return AL_OK;
}
