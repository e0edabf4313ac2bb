/* STOI's resampling to 10 kHz (see al_stoi.h): a polyphase FIR whose inner loop is a
 * contiguous dot product, so the compiler vectorises it. */
#include <math.h>

#include "audiolab.h"

al_status al_stoi_resample(const double *x, int64_t n_in, double *y, int64_t n_out,
                           const double *phases, int32_t up, int32_t down, int32_t n_taps,
                           int64_t half_len)
{
    if (!x || !y || !phases) return AL_ERR_NULL;
    if (n_in < 1 || n_out < 0 || up < 1 || down < 1 || n_taps < 1 || half_len < 0)
        return AL_ERR_SIZE;
    for (int64_t m = 0; m < n_out; m++) {
        int64_t t = m * (int64_t)down + half_len;
        int64_t p = t % up;
        int64_t q = t / up;
        const double *g = phases + p * (int64_t)n_taps;
        int64_t start = q - n_taps + 1;  /* x index of g[0] */
        double acc = 0.0;
        if (start >= 0 && q < n_in) {
            /* Eight partial sums: without reassociation (no -ffast-math) one accumulator
             * would be a serial chain; these map onto vector registers. */
            const double *xs = x + start;
            double part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            int32_t i = 0;
            for (; i + 8 <= n_taps; i += 8)
                for (int k = 0; k < 8; k++) part[k] += g[i + k] * xs[i + k];
            for (; i < n_taps; i++) acc += g[i] * xs[i];
            acc += ((part[0] + part[4]) + (part[1] + part[5]))
                 + ((part[2] + part[6]) + (part[3] + part[7]));
        } else {
            int64_t i0 = start < 0 ? -start : 0;
            int64_t i1 = q < n_in ? n_taps : n_taps - (q - n_in + 1);
            for (int64_t i = i0; i < i1; i++) acc += g[i] * x[start + i];
        }
        y[m] = acc;
    }
    return AL_OK;
}

static const double STOI_EPS = 2.220446049250313e-16;  /* DBL_EPSILON, pystoi's guard */

/* STOI's clipped correlation of one band over one segment (Taal et al. 2011, Eqs. (2)-(4)). */
static double band_correlation(const double *xv, const double *yv, int32_t n, double clip)
{
    double xx = 0.0, yy = 0.0;
    for (int32_t i = 0; i < n; i++) { xx += xv[i] * xv[i]; yy += yv[i] * yv[i]; }
    double alpha = sqrt(xx) / (sqrt(yy) + STOI_EPS);
    double yp[AL_STOI_MAX_SEGMENT];
    double xm = 0.0, ym = 0.0;
    for (int32_t i = 0; i < n; i++) {
        double a = alpha * yv[i], b = xv[i] * (1.0 + clip);
        yp[i] = a < b ? a : b;
        xm += xv[i];
        ym += yp[i];
    }
    xm /= n;
    ym /= n;
    double sxy = 0.0, sxx = 0.0, syy = 0.0;
    for (int32_t i = 0; i < n; i++) {
        double dx = xv[i] - xm, dy = yp[i] - ym;
        sxy += dx * dy; sxx += dx * dx; syy += dy * dy;
    }
    return sxy / ((sqrt(sxx) + STOI_EPS) * (sqrt(syy) + STOI_EPS));
}

/* Row (time) then column (band) normalisation of one segment into out (n_bands, n). */
static void row_col_normalise(const double *env, int64_t stride, int32_t n_bands, int32_t n,
                              double *out)
{
    for (int32_t j = 0; j < n_bands; j++) {
        const double *v = env + j * stride;
        double m = 0.0, ss = 0.0;
        for (int32_t i = 0; i < n; i++) m += v[i];
        m /= n;
        for (int32_t i = 0; i < n; i++) { out[j * n + i] = v[i] - m; ss += out[j * n + i] * out[j * n + i]; }
        double inv = 1.0 / (sqrt(ss) + STOI_EPS);
        for (int32_t i = 0; i < n; i++) out[j * n + i] *= inv;
    }
    for (int32_t i = 0; i < n; i++) {
        double m = 0.0, ss = 0.0;
        for (int32_t j = 0; j < n_bands; j++) m += out[j * n + i];
        m /= n_bands;
        for (int32_t j = 0; j < n_bands; j++) { out[j * n + i] -= m; ss += out[j * n + i] * out[j * n + i]; }
        double inv = 1.0 / (sqrt(ss) + STOI_EPS);
        for (int32_t j = 0; j < n_bands; j++) out[j * n + i] *= inv;
    }
}

al_status al_stoi_score(const double *x_env, const double *y_env, int32_t n_bands,
                        int64_t n_frames, int32_t n_segment, double clip, int32_t extended,
                        double *score)
{
    if (!x_env || !y_env || !score) return AL_ERR_NULL;
    if (n_bands < 1 || n_bands > AL_STOI_MAX_BANDS || n_segment < 2
        || n_segment > AL_STOI_MAX_SEGMENT || n_frames < n_segment)
        return AL_ERR_SIZE;
    int64_t n_seg = n_frames - n_segment + 1;
    double total = 0.0;
    if (!extended) {
        for (int64_t s = 0; s < n_seg; s++)
            for (int32_t j = 0; j < n_bands; j++)
                total += band_correlation(x_env + j * n_frames + s, y_env + j * n_frames + s,
                                          n_segment, clip);
        *score = total / ((double)n_seg * n_bands);
        return AL_OK;
    }
    double xn[AL_STOI_MAX_BANDS * AL_STOI_MAX_SEGMENT], yn[AL_STOI_MAX_BANDS * AL_STOI_MAX_SEGMENT];
    for (int64_t s = 0; s < n_seg; s++) {
        row_col_normalise(x_env + s, n_frames, n_bands, n_segment, xn);
        row_col_normalise(y_env + s, n_frames, n_bands, n_segment, yn);
        double d = 0.0;
        for (int32_t k = 0; k < n_bands * n_segment; k++) d += xn[k] * yn[k];
        total += d;
    }
    *score = total / ((double)n_segment * n_seg);
    return AL_OK;
}
