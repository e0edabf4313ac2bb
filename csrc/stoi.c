/* STOI and ESTOI kernels (see al_stoi.h).  Everything runs in float64, as the reference code
 * does; the vectors are one native register of doubles (al_vd, al_simd.h: 8 lanes on
 * AVX-512, 4 on AVX2, 2 on SSE2): a wider GCC vector is lowered through the stack where the
 * target lacks the registers, which made the AVX2 build slower than the SSE2 one. */
#include <math.h>
#include <string.h>

#include "al_simd.h"
#include "audiolab.h"

enum { LANES = AL_VD_LANES };
typedef al_vd v8d;
typedef al_vdi v8i;

static const double STOI_EPS = 2.220446049250313e-16;  /* DBL_EPSILON, pystoi's guard */

static inline v8d ld(const double *p)
{
    v8d v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Sum of the lanes: lane i plus lane i + LANES/2, then those sums as a tree of neighbours
 * (for eight lanes ((a0 + a4) + (a1 + a5)) + ((a2 + a6) + (a3 + a7))). */
static inline double hsum(v8d a)
{
    enum { HALF = LANES / 2 };
    double b[HALF];
    for (int i = 0; i < HALF; i++) b[i] = a[i] + a[i + HALF];
    for (int w = 1; w < HALF; w *= 2)
        for (int i = 0; i + w < HALF; i += 2 * w) b[i] += b[i + w];
    return b[0];
}

static inline v8d vsqrt(v8d v)
{
    for (int l = 0; l < LANES; l++) v[l] = sqrt(v[l]);
    return v;
}

static inline v8d vmin(v8d a, v8d b)
{
    const v8i m = a < b;
    return (v8d)(((v8i)a & m) | ((v8i)b & ~m));
}

/* -- resampling ------------------------------------------------------------------------------ */

/* The dot products of g with xs and with ys over n taps: the filter is loaded once for both
 * signals, and two accumulators per signal break the chain of additions. */
static void dot2(const double *g, const double *xs, const double *ys, int32_t n, double *ox,
                 double *oy)
{
    v8d ax0 = {0}, ax1 = {0}, ay0 = {0}, ay1 = {0};
    int32_t i = 0;
    for (; i + 2 * LANES <= n; i += 2 * LANES) {
        const v8d g0 = ld(g + i), g1 = ld(g + i + LANES);
        ax0 += g0 * ld(xs + i);
        ay0 += g0 * ld(ys + i);
        ax1 += g1 * ld(xs + i + LANES);
        ay1 += g1 * ld(ys + i + LANES);
    }
    if (i + LANES <= n) {
        const v8d g0 = ld(g + i);
        ax0 += g0 * ld(xs + i);
        ay0 += g0 * ld(ys + i);
        i += LANES;
    }
    double tx = 0.0, ty = 0.0;
    for (; i < n; i++) {
        tx += g[i] * xs[i];
        ty += g[i] * ys[i];
    }
    *ox = tx + hsum(ax0 + ax1);
    *oy = ty + hsum(ay0 + ay1);
}

al_status al_stoi_resample(const double *x, const double *y, int64_t n_in, double *x_out,
                           double *y_out, int64_t n_out, const double *phases, int32_t up,
                           int32_t down, int32_t n_taps, int64_t half_len)
{
    if (!x || !y || !x_out || !y_out || !phases) return AL_ERR_NULL;
    if (n_in < 1 || n_out < 0 || up < 1 || down < 1 || n_taps < 1 || half_len < 0)
        return AL_ERR_SIZE;
    /* t = m * down + half_len = q * up + p, stepped without a division per sample. */
    int64_t p = half_len % up, q = half_len / up;
    const int64_t dp = down % up, dq = down / up;
    for (int64_t m = 0; m < n_out; m++, p += dp, q += dq) {
        if (p >= up) {
            p -= up;
            q++;
        }
        const double *g = phases + p * (int64_t)n_taps;
        const int64_t start = q - n_taps + 1; /* x index of g[0] */
        if (start >= 0 && q < n_in) {
            dot2(g, x + start, y + start, n_taps, x_out + m, y_out + m);
        } else { /* near the ends: the samples outside x are zeros */
            const int64_t i0 = start < 0 ? -start : 0;
            const int64_t i1 = q < n_in ? n_taps : n_taps - (q - n_in + 1);
            double ax = 0.0, ay = 0.0;
            for (int64_t i = i0; i < i1; i++) {
                ax += g[i] * x[start + i];
                ay += g[i] * y[start + i];
            }
            x_out[m] = ax;
            y_out[m] = ay;
        }
    }
    return AL_OK;
}

/* -- segment statistics ---------------------------------------------------------------------- */

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

/* band_correlation of the LANES segments starting at xv, xv + 1, ... at once (lane l is the
 * segment starting at xv + l): consecutive segments are consecutive vectors of the row.
 * Returns the sum of the LANES correlations. */
static double band_correlation_lanes(const double *xv, const double *yv, int32_t n, double clip)
{
    v8d xx = {0}, yy = {0};
    for (int32_t i = 0; i < n; i++) {
        const v8d a = ld(xv + i), b = ld(yv + i);
        xx += a * a;
        yy += b * b;
    }
    const v8d alpha = vsqrt(xx) / (vsqrt(yy) + STOI_EPS);
    v8d yp[AL_STOI_MAX_SEGMENT];
    v8d xm = {0}, ym = {0};
    for (int32_t i = 0; i < n; i++) {
        const v8d a = ld(xv + i);
        yp[i] = vmin(alpha * ld(yv + i), a * (1.0 + clip));
        xm += a;
        ym += yp[i];
    }
    xm /= (double)n;
    ym /= (double)n;
    v8d sxy = {0}, sxx = {0}, syy = {0};
    for (int32_t i = 0; i < n; i++) {
        const v8d dx = ld(xv + i) - xm, dy = yp[i] - ym;
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    return hsum(sxy / ((vsqrt(sxx) + STOI_EPS) * (vsqrt(syy) + STOI_EPS)));
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

/* row_col_normalise of the LANES segments starting at env, env + 1, ... (lane l the segment
 * starting at env + l) into out (n_bands, n) vectors. */
static void row_col_normalise_lanes(const double *env, int64_t stride, int32_t n_bands,
                                    int32_t n, v8d *out)
{
    for (int32_t j = 0; j < n_bands; j++) {
        const double *v = env + j * stride;
        v8d m = {0}, ss = {0};
        for (int32_t i = 0; i < n; i++) m += ld(v + i);
        m /= (double)n;
        for (int32_t i = 0; i < n; i++) {
            out[j * n + i] = ld(v + i) - m;
            ss += out[j * n + i] * out[j * n + i];
        }
        const v8d inv = 1.0 / (vsqrt(ss) + STOI_EPS);
        for (int32_t i = 0; i < n; i++) out[j * n + i] *= inv;
    }
    for (int32_t i = 0; i < n; i++) {
        v8d m = {0}, ss = {0};
        for (int32_t j = 0; j < n_bands; j++) m += out[j * n + i];
        m /= (double)n_bands;
        for (int32_t j = 0; j < n_bands; j++) {
            out[j * n + i] -= m;
            ss += out[j * n + i] * out[j * n + i];
        }
        const v8d inv = 1.0 / (vsqrt(ss) + STOI_EPS);
        for (int32_t j = 0; j < n_bands; j++) out[j * n + i] *= inv;
    }
}

static double stoi_total(const double *x_env, const double *y_env, int32_t n_bands,
                         int64_t n_frames, int32_t n_segment, double clip)
{
    const int64_t n_seg = n_frames - n_segment + 1;
    double total = 0.0;
    for (int32_t j = 0; j < n_bands; j++) {
        const double *xr = x_env + j * n_frames, *yr = y_env + j * n_frames;
        int64_t s = 0;
        for (; s + LANES <= n_seg; s += LANES)
            total += band_correlation_lanes(xr + s, yr + s, n_segment, clip);
        for (; s < n_seg; s++) total += band_correlation(xr + s, yr + s, n_segment, clip);
    }
    return total;
}

static double estoi_total(const double *x_env, const double *y_env, int32_t n_bands,
                          int64_t n_frames, int32_t n_segment)
{
    const int64_t n_seg = n_frames - n_segment + 1;
    const int32_t size = n_bands * n_segment;
    double total = 0.0;
    int64_t s = 0;
    {
        v8d xn[AL_STOI_MAX_BANDS * AL_STOI_MAX_SEGMENT / 4];
        v8d yn[AL_STOI_MAX_BANDS * AL_STOI_MAX_SEGMENT / 4];
        if (size <= AL_STOI_MAX_BANDS * AL_STOI_MAX_SEGMENT / 4) {
            for (; s + LANES <= n_seg; s += LANES) {
                row_col_normalise_lanes(x_env + s, n_frames, n_bands, n_segment, xn);
                row_col_normalise_lanes(y_env + s, n_frames, n_bands, n_segment, yn);
                v8d d = {0};
                for (int32_t k = 0; k < size; k++) d += xn[k] * yn[k];
                total += hsum(d);
            }
        }
    }
    double xn[AL_STOI_MAX_BANDS * AL_STOI_MAX_SEGMENT], yn[AL_STOI_MAX_BANDS * AL_STOI_MAX_SEGMENT];
    for (; s < n_seg; s++) {
        row_col_normalise(x_env + s, n_frames, n_bands, n_segment, xn);
        row_col_normalise(y_env + s, n_frames, n_bands, n_segment, yn);
        double d = 0.0;
        for (int32_t k = 0; k < size; k++) d += xn[k] * yn[k];
        total += d;
    }
    return total;
}

al_status al_stoi_score(const double *x_env, const double *y_env, int32_t n_bands,
                        int64_t n_frames, int32_t n_segment, double clip, int32_t extended,
                        double *score)
{
    if (!x_env || !y_env || !score) return AL_ERR_NULL;
    if (n_bands < 1 || n_bands > AL_STOI_MAX_BANDS || n_segment < 2
        || n_segment > AL_STOI_MAX_SEGMENT || n_frames < n_segment)
        return AL_ERR_SIZE;
    const int64_t n_seg = n_frames - n_segment + 1;
    if (!extended) {
        *score = stoi_total(x_env, y_env, n_bands, n_frames, n_segment, clip)
                 / ((double)n_seg * n_bands);
    } else {
        *score = estoi_total(x_env, y_env, n_bands, n_frames, n_segment)
                 / ((double)n_segment * n_seg);
    }
    return AL_OK;
}

/* -- framing, FFT and bands ------------------------------------------------------------------ */

/* Half-frame block b of the overlap-add of the kept frames: the first half of kept frame b
 * plus the second half of kept frame b - 1, each windowed (see al_stoi_envelopes). */
static void ola_block(const double *s, const int32_t *kept, int64_t b, const double *window,
                      int32_t hop, double *block)
{
    const double *first = s + (int64_t)kept[b] * hop;
    for (int32_t i = 0; i < hop; i++) block[i] = window[i] * first[i];
    if (b > 0) {
        const double *second = s + (int64_t)kept[b - 1] * hop + hop;
        for (int32_t i = 0; i < hop; i++) block[i] += window[hop + i] * second[i];
    }
}

/* Frames of x to keep (Taal et al. 2011, Sec. II-A); returns their number. The energies go
 * to energy_db (n_frames). */
static int64_t keep_frames(const double *x, int64_t n_frames, const double *window,
                           int32_t n_frame, double dyn_range_db, double *energy_db,
                           int32_t *kept)
{
    const int32_t hop = n_frame / 2;
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
    return n_kept;
}

/* In-place radix-2 decimation-in-frequency FFT of m complex points (natural order in,
 * bit-reversed order out), LANES independent transforms at once. tw is the table of the
 * 2m-point transform (exp(-2 pi i k / (2 m)), interleaved), so the m-point twiddle k is
 * tw[2 k]. Only the first n_nonzero <= m / 2 inputs may be non-zero. */
static void fft_dif_lanes(v8d *restrict zr, v8d *restrict zi, int32_t m, const double *tw,
                          int32_t n_nonzero)
{
    int32_t len = m;
    if (n_nonzero <= m / 2) { /* first stage: the upper halves are zero */
        const int32_t half = m / 2;
        for (int32_t j = 0; j < half; j++) {
            const double wr = tw[4 * j], wi = tw[4 * j + 1];
            const v8d ar = zr[j], ai = zi[j];
            zr[j + half] = ar * wr - ai * wi;
            zi[j + half] = ar * wi + ai * wr;
        }
        len = half;
    }
    for (; len > 2; len >>= 1) {
        const int32_t half = len / 2, step = 4 * (m / len);
        for (int32_t s = 0; s < m; s += len) {
            v8d *restrict ar = zr + s, *restrict ai = zi + s;
            for (int32_t j = 0; j < half; j++) {
                const double wr = tw[j * step], wi = tw[j * step + 1];
                const v8d pr = ar[j], pi = ai[j], qr = ar[j + half], qi = ai[j + half];
                ar[j] = pr + qr;
                ai[j] = pi + qi;
                const v8d dr = pr - qr, di = pi - qi;
                ar[j + half] = dr * wr - di * wi;
                ai[j + half] = dr * wi + di * wr;
            }
        }
    }
    for (int32_t s = 0; s < m; s += 2) { /* last stage: twiddle 1 */
        const v8d pr = zr[s], pi = zi[s], qr = zr[s + 1], qi = zi[s + 1];
        zr[s] = pr + qr;
        zi[s] = pi + qi;
        zr[s + 1] = pr - qr;
        zi[s + 1] = pi - qi;
    }
}

/* |X[k]|^2 of the 2m-point real transform X from the m-point transform Z of
 * z[n] = x[2n] + i x[2n + 1] (bit-reversed in zr, zi): X[k] = E[k] + W^k O[k] with
 * E = (Z[k] + conj Z[m-k]) / 2 and O = (Z[k] - conj Z[m-k]) / 2i. */
static inline v8d bin_power(const v8d *zr, const v8d *zi, const int32_t *rev, int32_t m,
                            const double *tw, int32_t k)
{
    const int32_t i = rev[k & (m - 1)], c = rev[(m - k) & (m - 1)];
    const v8d er = 0.5 * (zr[i] + zr[c]), ei = 0.5 * (zi[i] - zi[c]);
    const v8d or_ = 0.5 * (zi[i] + zi[c]), oi = -0.5 * (zr[i] - zr[c]);
    const double wr = k < m ? tw[2 * k] : -1.0, wi = k < m ? tw[2 * k + 1] : 0.0;
    const v8d xr = er + (or_ * wr - oi * wi), xi = ei + (oi * wr + or_ * wi);
    return xr * xr + xi * xi;
}

/* One signal's band magnitudes of its rows frames (see al_stoi_envelopes) into
 * env (n_bands, rows), LANES frames per transform. */
static void signal_envelopes(const double *sig, const int32_t *kept, int64_t rows,
                             const double *window, int32_t n_frame, const double *tw,
                             int32_t n_fft, const int32_t *lo, const int32_t *hi,
                             int32_t n_bands, const int32_t *rev, double *env)
{
    const int32_t hop = n_frame / 2, m = n_fft / 2;
    v8d zr[AL_STOI_MAX_FFT / 2], zi[AL_STOI_MAX_FFT / 2];
    double block_a[AL_STOI_MAX_FRAME / 2], block_b[AL_STOI_MAX_FRAME / 2];
    for (int64_t r0 = 0; r0 < rows; r0 += LANES) {
        const int lanes = rows - r0 < LANES ? (int)(rows - r0) : LANES;
        for (int32_t i = 0; i < m; i++) zr[i] = zi[i] = (v8d){0};
        for (int l = 0; l < lanes; l++) {
            ola_block(sig, kept, r0 + l, window, hop, block_a);
            ola_block(sig, kept, r0 + l + 1, window, hop, block_b);
            for (int32_t i = 0; i < hop / 2; i++) {
                zr[i][l] = window[2 * i] * block_a[2 * i];
                zi[i][l] = window[2 * i + 1] * block_a[2 * i + 1];
                zr[hop / 2 + i][l] = window[hop + 2 * i] * block_b[2 * i];
                zi[hop / 2 + i][l] = window[hop + 2 * i + 1] * block_b[2 * i + 1];
            }
        }
        fft_dif_lanes(zr, zi, m, tw, hop);
        for (int32_t j = 0; j < n_bands; j++) {
            v8d p = {0};
            for (int32_t k = lo[j]; k < hi[j]; k++) p += bin_power(zr, zi, rev, m, tw, k);
            p = vsqrt(p);
            for (int l = 0; l < lanes; l++) env[j * rows + r0 + l] = p[l];
        }
    }
}

al_status al_stoi_envelopes(const double *x, const double *y, int64_t n, const double *window,
                            int32_t n_frame, const double *twiddle, int32_t n_fft,
                            double dyn_range_db, const int32_t *lo, const int32_t *hi,
                            int32_t n_bands, double *env, int32_t *kept, int64_t *n_out)
{
    if (!x || !y || !window || !twiddle || !lo || !hi || !env || !kept || !n_out)
        return AL_ERR_NULL;
    if (n_frame < 4 || n_frame % 4 || n_frame > AL_STOI_MAX_FRAME || n < 0 || n_bands < 1
        || n_fft < 2 * n_frame || n_fft > AL_STOI_MAX_FFT || (n_fft & (n_fft - 1)))
        return AL_ERR_SIZE;
    for (int32_t j = 0; j < n_bands; j++)
        if (lo[j] < 0 || hi[j] < lo[j] || hi[j] > n_fft / 2 + 1) return AL_ERR_VALUE;
    const int32_t hop = n_frame / 2, m = n_fft / 2;
    const int64_t n_frames = n > n_frame ? (n - n_frame + hop - 1) / hop : 0;
    *n_out = 0;
    if (n_frames == 0) return AL_OK;
    if (n_frames > INT32_MAX) return AL_ERR_SIZE;
    /* The energies go into env as scratch: it is written with magnitudes only afterwards. */
    const int64_t n_kept = keep_frames(x, n_frames, window, n_frame, dyn_range_db, env, kept);
    if (n_kept < 2) return AL_OK;
    const int64_t rows = n_kept - 1;
    int32_t rev[AL_STOI_MAX_FFT / 2];
    int32_t bits = 0;
    while ((1 << bits) < m) bits++;
    for (int32_t k = 0; k < m; k++) {
        int32_t r = 0;
        for (int32_t b = 0; b < bits; b++) r |= ((k >> b) & 1) << (bits - 1 - b);
        rev[k] = r;
    }
    signal_envelopes(x, kept, rows, window, n_frame, twiddle, n_fft, lo, hi, n_bands, rev, env);
    signal_envelopes(y, kept, rows, window, n_frame, twiddle, n_fft, lo, hi, n_bands, rev,
                     env + n_bands * rows);
    *n_out = rows;
    return AL_OK;
}
