/* STOI's resampling to 10 kHz (see al_stoi.h): a polyphase FIR whose inner loop is a
 * contiguous dot product, so the compiler vectorises it. */
#include <math.h>
#include <string.h>

#include "audiolab.h"

/* GCC/Clang vector extension: eight doubles, lowered to what the target has (AVX-512: one
 * register, AVX2: two, SSE2: four). */
typedef double v8d __attribute__((vector_size(64)));

/* Dot product of g and xs over n taps in two vector accumulators: without -ffast-math a
 * single scalar accumulator is one serial chain of additions that cannot be vectorised. */
static double dot(const double *g, const double *xs, int32_t n)
{
    v8d a0 = {0}, a1 = {0};
    int32_t i = 0;
    for (; i + 16 <= n; i += 16) {
        v8d g0, g1, x0, x1;
        memcpy(&g0, g + i, sizeof g0);
        memcpy(&x0, xs + i, sizeof x0);
        memcpy(&g1, g + i + 8, sizeof g1);
        memcpy(&x1, xs + i + 8, sizeof x1);
        a0 += g0 * x0;
        a1 += g1 * x1;
    }
    a0 += a1;
    double acc = 0.0;
    for (; i < n; i++) acc += g[i] * xs[i];
    return acc + ((a0[0] + a0[4]) + (a0[1] + a0[5])) + ((a0[2] + a0[6]) + (a0[3] + a0[7]));
}

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
        if (start >= 0 && q < n_in) {
            y[m] = dot(g, x + start, n_taps);
        } else {  /* near the ends: the samples outside x are zeros */
            int64_t i0 = start < 0 ? -start : 0;
            int64_t i1 = q < n_in ? n_taps : n_taps - (q - n_in + 1);
            double acc = 0.0;
            for (int64_t i = i0; i < i1; i++) acc += g[i] * x[start + i];
            y[m] = acc;
        }
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

/* Half-frame block b of the overlap-add of the kept frames: the first half of kept frame b
 * plus the second half of kept frame b - 1, each windowed (see al_stoi_frames). */
static void ola_block(const double *s, const int32_t *kept, int64_t b, const double *window,
                      int32_t hop, double *block)
{
    const double *first = s + kept[b] * hop;
    for (int32_t i = 0; i < hop; i++) block[i] = window[i] * first[i];
    if (b > 0) {
        const double *second = s + kept[b - 1] * hop + hop;
        for (int32_t i = 0; i < hop; i++) block[i] += window[hop + i] * second[i];
    }
}

al_status al_stoi_frames(const double *x, const double *y, int64_t n, const double *window,
                         int32_t n_frame, int32_t n_fft, double dyn_range_db, double *out,
                         int32_t *kept, int64_t *n_out)
{
    if (!x || !y || !window || !out || !kept || !n_out) return AL_ERR_NULL;
    if (n_frame < 2 || n_frame % 2 || n_frame > AL_STOI_MAX_FRAME || n_fft < n_frame || n < 0)
        return AL_ERR_SIZE;
    int32_t hop = n_frame / 2;
    int64_t n_frames = n > n_frame ? (n - n_frame + hop - 1) / hop : 0;
    *n_out = 0;
    if (n_frames == 0) return AL_OK;
    if (n_frames > INT32_MAX) return AL_ERR_SIZE;
    /* The energies go into out as scratch: it is written with frames only afterwards. */
    double *energy_db = out;
    double loudest = -INFINITY;
    for (int64_t k = 0; k < n_frames; k++) {
        const double *f = x + k * hop;
        double ss = 0.0;
        for (int32_t i = 0; i < n_frame; i++) { double v = window[i] * f[i]; ss += v * v; }
        energy_db[k] = 20.0 * log10(sqrt(ss) + STOI_EPS);
        if (energy_db[k] > loudest) loudest = energy_db[k];
    }
    int64_t n_kept = 0;
    for (int64_t k = 0; k < n_frames; k++)
        if (energy_db[k] > loudest - dyn_range_db) kept[n_kept++] = (int32_t)k;
    if (n_kept < 2) return AL_OK;
    int64_t rows = n_kept - 1;
    double block_a[AL_STOI_MAX_FRAME / 2], block_b[AL_STOI_MAX_FRAME / 2];
    for (int s = 0; s < 2; s++) {
        const double *sig = s ? y : x;
        for (int64_t r = 0; r < rows; r++) {
            ola_block(sig, kept, r, window, hop, block_a);
            ola_block(sig, kept, r + 1, window, hop, block_b);
            double *row = out + (s * rows + r) * (int64_t)n_fft;
            for (int32_t i = 0; i < hop; i++) row[i] = window[i] * block_a[i];
            for (int32_t i = 0; i < hop; i++) row[hop + i] = window[hop + i] * block_b[i];
            for (int32_t i = n_frame; i < n_fft; i++) row[i] = 0.0;
        }
    }
    *n_out = rows;
    return AL_OK;
}

al_status al_stoi_bands(const double *spec, int64_t n_rows_half, int32_t n_bins,
                        const int32_t *lo, const int32_t *hi, int32_t n_bands, double *env)
{
    if (!spec || !lo || !hi || !env) return AL_ERR_NULL;
    if (n_rows_half < 0 || n_bins < 1 || n_bands < 1) return AL_ERR_SIZE;
    for (int32_t j = 0; j < n_bands; j++)
        if (lo[j] < 0 || hi[j] < lo[j] || hi[j] > n_bins) return AL_ERR_VALUE;
    for (int64_t r = 0; r < 2 * n_rows_half; r++) {
        const double *row = spec + 2 * r * (int64_t)n_bins;
        double *dst = env + (r / n_rows_half) * n_bands * n_rows_half + r % n_rows_half;
        for (int32_t j = 0; j < n_bands; j++) {
            double p = 0.0;
            for (int32_t b = lo[j]; b < hi[j]; b++)
                p += row[2 * b] * row[2 * b] + row[2 * b + 1] * row[2 * b + 1];
            dst[j * n_rows_half] = sqrt(p);
        }
    }
    return AL_OK;
}
