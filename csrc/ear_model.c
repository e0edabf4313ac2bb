/* Kates' ear model: per-band recursions (see al_ear_model.h). Plain double arithmetic in the
 * order of the NumPy reference (audiolab/dsp/_ear_model.py), so the two agree to rounding. */
#include <math.h>

#include "audiolab.h"

static const double SMALL = 1e-30;

al_status al_ear_gammatone(const double *x, int64_t n, double cf_hz, double fs, double a,
                           double gain, double *env, double *bm)
{
    if (!x || !env) return AL_ERR_NULL;
    if (n < 1) return AL_ERR_SIZE;
    if (!(a > 0.0 && a < 1.0) || !(fs > 0.0) || !isfinite(cf_hz) || !isfinite(gain))
        return AL_ERR_VALUE;
    /* Denominator (1 - a z^-1)^4 = 1 - d1 z^-1 - d2 z^-2 - d3 z^-3 - d4 z^-4. */
    const double d1 = 4.0 * a, d2 = -6.0 * a * a, d3 = 4.0 * a * a * a, d4 = -a * a * a * a;
    const double b1 = 4.0 * a, b2 = 4.0 * a * a;
    const double c_step = cos(2.0 * M_PI / fs * cf_hz), s_step = sin(2.0 * M_PI / fs * cf_hz);
    double c = 1.0, s = 0.0; /* cos(k w), -sin(k w) */
    /* Transposed direct form II state of the real and imaginary parts. */
    double r1 = 0, r2 = 0, r3 = 0, r4 = 0, i1 = 0, i2 = 0, i3 = 0, i4 = 0;
    for (int64_t k = 0; k < n; k++) {
        if (k > 0) {
            const double c_new = c * c_step + s * s_step;
            s = s * c_step - c * s_step;
            c = c_new;
        }
        const double xr = x[k] * c, xi = x[k] * s;
        const double ur = xr + r1, ui = xi + i1;
        r1 = b1 * xr + d1 * ur + r2;
        r2 = b2 * xr + d2 * ur + r3;
        r3 = d3 * ur + r4;
        r4 = d4 * ur;
        i1 = b1 * xi + d1 * ui + i2;
        i2 = b2 * xi + d2 * ui + i3;
        i3 = d3 * ui + i4;
        i4 = d4 * ui;
        env[k] = gain * sqrt(ur * ur + ui * ui);
        if (bm) bm[k] = gain * (ur * c + ui * s);
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
    /* The gain in dB is linear in log10(control) between the knees: outside them it is one of
     * two constants, and the logarithm is taken only where the control lies between. */
    const double upper = 100.0 < low_knee_db_spl ? low_knee_db_spl : 100.0;
    const double lo_c = pow(10.0, (low_knee_db_spl - level_db_spl) / 20.0);
    const double hi_c = pow(10.0, (upper - level_db_spl) / 20.0);
    const double g_lo = pow(10.0, -attn_ohc_db / 20.0);
    const double g_hi = pow(10.0, (-attn_ohc_db - (upper - low_knee_db_spl) * slope) / 20.0);
    double z = 0.0, prev = 0.0;
    for (int64_t k = 0; k < n; k++) {
        const double ctl = control[k] > SMALL ? control[k] : SMALL;
        double g;
        if (ctl <= lo_c) {
            g = g_lo;
        } else if (ctl >= hi_c) {
            g = g_hi;
        } else {
            const double level = level_db_spl + 20.0 * log10(ctl);
            g = pow(10.0, (-attn_ohc_db - (level - low_knee_db_spl) * slope) / 20.0);
        }
        /* y[k] = b0 g[k] + b0 g[k-1] - a1 y[k-1] */
        const double y = lp_b0 * (g + prev) - lp_a1 * z;
        prev = g;
        z = y;
        env[k] *= y;
        if (bm) bm[k] *= y;
    }
    return AL_OK;
}

al_status al_ear_ihc(double *env, double *bm, int64_t n, double sl_offset_db, const double *num,
                     const double *den)
{
    if (!env || !num || !den) return AL_ERR_NULL;
    if (n < 1) return AL_ERR_SIZE;
    if (den[0] != 1.0 || !isfinite(sl_offset_db)) return AL_ERR_VALUE;
    double z1 = 0.0, z2 = 0.0;
    for (int64_t k = 0; k < n; k++) {
        const double e = env[k];
        double db = sl_offset_db + 20.0 * log10(e + SMALL);
        if (db < 0.0) db = 0.0;
        const double y = num[0] * db + z1;
        z1 = num[1] * db - den[1] * y + z2;
        z2 = num[2] * db - den[2] * y;
        const double out = y > 0.0 ? y : 0.0;
        env[k] = out;
        if (bm) bm[k] *= ((db + SMALL) / (e + SMALL)) * ((out + SMALL) / (db + SMALL));
    }
    return AL_OK;
}
