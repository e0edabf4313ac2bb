#include <math.h>
#include <string.h>

#include "al_biquad.h"
#include "al_fastmath.h"
#include "al_internal.h"
#include "al_simd.h"

/* ---- real FFT ------------------------------------------------------------------------------ */

/* Butterflies of one radix-2 stage over one group; split arrays so the loop vectorises. */
static inline void fft_group(int32_t h, float *restrict ar, float *restrict ai, float *restrict br,
                             float *restrict bi, const float *restrict wr,
                             const float *restrict wi)
{
    for (int32_t j = 0; j < h; j++) {
        const float tr = br[j] * wr[j] - bi[j] * wi[j];
        const float ti = br[j] * wi[j] + bi[j] * wr[j];
        br[j] = ar[j] - tr;
        bi[j] = ai[j] - ti;
        ar[j] += tr;
        ai[j] += ti;
    }
}

/* One radix-2 stage of half-size h (a compile-time constant where inlined: short groups are
 * unrolled into vector code instead of a scalar loop per group). */
static inline void fft_stage(int32_t k, int32_t h, const float *tw_re, const float *tw_im,
                             float *re, float *im)
{
    const float *wr = tw_re + (h - 1), *wi = tw_im + (h - 1);
    for (int32_t g = 0; g < k; g += 2 * h)
        fft_group(h, re + g, im + g, re + g + h, im + g + h, wr, wi);
}

/* The radix-2 stages of half-size 4 and up of an in-place complex FFT of size k >= 4 on split
 * arrays (iterative decimation in time, bit-reversed input), after the first two stages. With
 * half_last, the last stage makes only the first k/2 outputs (all an inverse transform whose
 * output is cut to its first half needs). */
static void cfft_upper_stages(int32_t k, const float *tw_re, const float *tw_im, float *re,
                              float *im, int half_last)
{
    const int32_t top = half_last ? k / 2 : k;
    if (k > 4 && 4 < top) fft_stage(k, 4, tw_re, tw_im, re, im);
    if (k > 8 && 8 < top) fft_stage(k, 8, tw_re, tw_im, re, im);
    for (int32_t h = 16; h < top; h *= 2) fft_stage(k, h, tw_re, tw_im, re, im);
    if (top == k) return;
    /* Last stage, first half: ar + w br only. */
    const int32_t h = k / 2;
    const float *restrict wr = tw_re + (h - 1), *restrict wi = tw_im + (h - 1);
    float *restrict ar = re, *restrict ai = im;
    const float *restrict br = re + h, *restrict bi = im + h;
    for (int32_t j = 0; j < h; j++) {
        const float tr = br[j] * wr[j] - bi[j] * wi[j];
        const float ti = br[j] * wi[j] + bi[j] * wr[j];
        ar[j] += tr;
        ai[j] += ti;
    }
}

/* In-place complex FFT (forward, unnormalised) of size k >= 4 on split arrays in bit-reversed
 * order (iterative radix-2 decimation in time). The first two stages (twiddles 1 and -i) are
 * done together as radix-4 butterflies without multiplications. */
static void cfft_stages(int32_t k, const float *tw_re, const float *tw_im, float *re, float *im,
                        int half_last)
{
    for (int32_t g = 0; g < k; g += 4) {
        float *r = re + g, *q = im + g;
        const float s0r = r[0] + r[1], s0i = q[0] + q[1], d0r = r[0] - r[1], d0i = q[0] - q[1];
        const float s1r = r[2] + r[3], s1i = q[2] + q[3], d1r = r[2] - r[3], d1i = q[2] - q[3];
        r[0] = s0r + s1r;
        q[0] = s0i + s1i;
        r[2] = s0r - s1r;
        q[2] = s0i - s1i;
        /* d1 * (-i) = (d1i, -d1r) */
        r[1] = d0r + d1i;
        q[1] = d0i - d1r;
        r[3] = d0r - d1i;
        q[3] = d0i + d1r;
    }
    cfft_upper_stages(k, tw_re, tw_im, re, im, half_last);
}

/* Set-up check of a plan, once per call: the bit-reversal table indexes the work arrays and
 * (rfft_forward_padded relies on it) is exactly the bit reversal of 0..n/2-1. */
static al_status rfft_valid(const al_rfft *f)
{
    if (!f || !f->bitrev || !f->tw_re || !f->tw_im || !f->rtw_re || !f->rtw_im || !f->work_re ||
        !f->work_im)
        return AL_ERR_NULL;
    if (f->n < 8 || (f->n & (f->n - 1)) != 0) return AL_ERR_SIZE;
    const int32_t k = f->n / 2;
    for (int32_t i = 0; i < k; i++) {
        int32_t r = 0;
        for (int32_t bit = 1, top = k / 2; bit < k; bit *= 2, top /= 2)
            if (i & bit) r |= top;
        if (f->bitrev[i] != r) return AL_ERR_SIZE;
    }
    return AL_OK;
}

/* Combine the complex FFT Z of the n/2 (even, odd) sample pairs into the spectrum of the real
 * signal: X[m] = E[m] + exp(-2 pi i m / n) O[m], with E = (Z[m] + conj Z[k-m]) / 2 and
 * O = (Z[m] - conj Z[k-m]) / (2i), m = 0..k (k = n/2; Z[k] = Z[0]). */
static void rfft_split(int32_t k, const float *restrict re, const float *restrict im,
                       const float *restrict twr, const float *restrict twi,
                       float *restrict out_re, float *restrict out_im)
{
    out_re[0] = re[0] + im[0];
    out_im[0] = 0.0f;
    out_re[k] = re[0] - im[0];
    out_im[k] = 0.0f;
    for (int32_t m = 1; m < k; m++) {
        const float zr = re[m], zi = im[m], cr = re[k - m], ci = -im[k - m];
        const float er = 0.5f * (zr + cr), ei = 0.5f * (zi + ci);
        const float or_ = 0.5f * (zi - ci), oi = -0.5f * (zr - cr);
        out_re[m] = er + twr[m] * or_ - twi[m] * oi;
        out_im[m] = ei + twr[m] * oi + twi[m] * or_;
    }
}

/* Inverse of rfft_split, conjugated: fills Z* so that a forward FFT gives k * conj(z), each
 * element stored at its bit-reversed position (rev), ready for the decimation-in-time stages.
 * The imaginary parts of bins 0 and k are ignored. */
static void rfft_merge(int32_t k, const float *restrict in_re, const float *restrict in_im,
                       const float *restrict twr, const float *restrict twi,
                       const int32_t *restrict rev, float *restrict re, float *restrict im)
{
    re[0] = 0.5f * (in_re[0] + in_re[k]) - 0.5f * (in_re[0] - in_re[k]) * twi[0];
    im[0] = -0.5f * (in_re[0] - in_re[k]) * twr[0];
    for (int32_t m = 1; m < k; m++) {
        const float xr = in_re[m], xi = in_im[m], cr = in_re[k - m], ci = -in_im[k - m];
        const float er = 0.5f * (xr + cr), ei = 0.5f * (xi + ci);
        const float dr = 0.5f * (xr - cr), di = 0.5f * (xi - ci);
        /* O = (X - conj X') / 2 * exp(+2 pi i m / n); Z = E + i O, stored conjugated */
        const float or_ = dr * twr[m] + di * twi[m], oi = di * twr[m] - dr * twi[m];
        re[rev[m]] = er - oi;
        im[rev[m]] = -(ei + or_);
    }
}

/* Forward real FFT of x (n). */
static void rfft_forward(al_rfft *f, const float *restrict x, float *out_re, float *out_im)
{
    const int32_t k = f->n / 2;
    float *restrict re = f->work_re, *restrict im = f->work_im;
    for (int32_t i = 0; i < k; i++) {
        const int32_t s = 2 * f->bitrev[i];
        re[i] = x[s];
        im[i] = x[s + 1];
    }
    cfft_stages(k, f->tw_re, f->tw_im, re, im, 0);
    rfft_split(k, re, im, f->rtw_re, f->rtw_im, out_re, out_im);
}

/* rfft_forward of a windowed frame x (n/2) zero-padded to n. In bit-reversed order every
 * odd element is then zero (its index reversed is >= k/2, a sample pair >= n/2), so the
 * first two stages reduce to sums of the two even ones, fused with the windowing gather. */
static void rfft_forward_padded(al_rfft *f, const float *restrict x, const float *restrict win,
                                float *out_re, float *out_im)
{
    const int32_t k = f->n / 2;
    const int32_t *restrict rev = f->bitrev;
    float *restrict re = f->work_re, *restrict im = f->work_im;
    for (int32_t g = 0; g < k; g += 4) {
        const int32_t s0 = 2 * rev[g], s2 = 2 * rev[g + 2];
        const float r0 = win[s0] * x[s0], q0 = win[s0 + 1] * x[s0 + 1];
        const float r2 = win[s2] * x[s2], q2 = win[s2 + 1] * x[s2 + 1];
        re[g] = r0 + r2;
        im[g] = q0 + q2;
        re[g + 2] = r0 - r2;
        im[g + 2] = q0 - q2;
        re[g + 1] = r0 + q2;
        im[g + 1] = q0 - r2;
        re[g + 3] = r0 - q2;
        im[g + 3] = q0 + r2;
    }
    cfft_upper_stages(k, f->tw_re, f->tw_im, re, im, 0);
    rfft_split(k, re, im, f->rtw_re, f->rtw_im, out_re, out_im);
}

/* Inverse real FFT (scaled by 1/n as numpy.fft.irfft); writes x[0..n_out), n_out = n or n/2
 * (then the last stage makes only the outputs kept). */
static void rfft_inverse_part(al_rfft *f, const float *in_re, const float *in_im, float *x,
                              int32_t n_out)
{
    const int32_t k = f->n / 2;
    float *re = f->work_re, *im = f->work_im;
    rfft_merge(k, in_re, in_im, f->rtw_re, f->rtw_im, f->bitrev, re, im);
    cfft_stages(k, f->tw_re, f->tw_im, re, im, n_out <= k);
    const float scale = 1.0f / (float)k;
    for (int32_t i = 0; i < n_out / 2; i++) {
        x[2 * i] = re[i] * scale;
        x[2 * i + 1] = -im[i] * scale;
    }
}

static void rfft_inverse(al_rfft *f, const float *in_re, const float *in_im, float *x)
{
    rfft_inverse_part(f, in_re, in_im, x, f->n);
}

al_status al_rfft_forward(al_rfft *f, const float *x, float *spec_re, float *spec_im)
{
    const al_status status = rfft_valid(f);
    if (status != AL_OK) return status;
    if (!x || !spec_re || !spec_im) return AL_ERR_NULL;
    rfft_forward(f, x, spec_re, spec_im);
    return AL_OK;
}

al_status al_rfft_inverse(al_rfft *f, const float *spec_re, const float *spec_im, float *x)
{
    const al_status status = rfft_valid(f);
    if (status != AL_OK) return status;
    if (!x || !spec_re || !spec_im) return AL_ERR_NULL;
    rfft_inverse(f, spec_re, spec_im, x);
    return AL_OK;
}

/* ---- spectral smearing -------------------------------------------------------------------- */

_Static_assert((int)AL_HLSIM_ROWS == (int)AL_VF16_LANES, "a block of smearing rows is one al_vf16");
_Static_assert((int)AL_HLSIM_LANES % (int)AL_VFN_LANES == 0,
               "the per-band arrays are padded to whole native registers");

/* The smearing of a frame in three steps, the middle one shared by a batch of frames:
 * (1) window, FFT, the power spectrum P taken to the cochlea (normalised by its maximum, so
 * that loud frames cannot overflow float32); (2) S = M P; (3) the smeared magnitude
 * |X| sqrt(S / P) with each bin's phase (no phasor division), inverse FFT at free field (the
 * output) and at the cochlea (for the power correction), which differ by the outer/middle-ear
 * gain per bin. A frame's work space (frame_work) holds the spectrum, P, S, then the two
 * inverse transforms, its maximum power and its specified energy. */
typedef struct {
    float *re, *im, *power, *smeared, *out, *out_c, *pmax, *energy;
} frame_work;

static frame_work frame_slot(const al_hlsim_ear *e, int32_t k)
{
    const int32_t nf = e->frame_len;
    float *w = e->batch + (int64_t)k * (AL_HLSIM_FRAME_WORK * (int64_t)nf + 4);
    frame_work f = {w, w + nf + 1, w + 2 * nf + 2, w + 3 * nf + 2, NULL, NULL,
                    w + 4 * nf + 2, w + 4 * nf + 3};
    f.out = f.power;    /* the inverse transforms overwrite P and S once the gains are known */
    f.out_c = f.smeared;
    return f;
}

/* Step 1 of frame (nf samples, oldest first); returns 0 for a silent frame (nothing to add). */
static int frame_power(al_hlsim_ear *e, const float *frame, frame_work f)
{
    const int32_t nf = e->frame_len;
    float *restrict sr = f.re, *restrict si = f.im, *restrict p = f.power;
    const float *restrict wp = e->ome_pow;
    /* The FFT is twice the frame: the upper half is zero padding. */
    rfft_forward_padded(e->fft, frame, e->window, sr, si);
    al_vf16 vmax = {0.0f};
    for (int32_t k = 0; k < nf; k += AL_HLSIM_ROWS) {
        const al_vf16 a = al_load_vf16(sr + k), b = al_load_vf16(si + k);
        const al_vf16 pk = (a * a + b * b) * al_load_vf16(wp + k);
        al_store_vf16(p + k, pk);
        vmax = al_max_vf16(pk, vmax);
    }
    float pmax = 0.0f;
    for (int l = 0; l < AL_HLSIM_ROWS; l++) pmax = vmax[l] > pmax ? vmax[l] : pmax;
    *f.pmax = pmax;
    if (!(pmax > 0.0f) || al_is_nonfinite(pmax)) return 0;
    const float inv = 1.0f / pmax;
    for (int32_t k = 0; k < nf; k++) p[k] *= inv;
    return 1;
}

/* Step 2 for NB frames: S = M P by blocks of AL_HLSIM_ROWS output bins. Each block stores,
 * for every input bin in its band, the AL_HLSIM_ROWS matrix entries contiguously; the block's
 * rows are taken one native register (AL_VFN_LANES rows) at a time, so that the sums stay in
 * registers (two accumulators per frame hide the FMA latency) and each matrix vector loaded
 * serves every frame. Per frame and row, the arithmetic is the same for any NB and any
 * register width. */
static inline __attribute__((always_inline)) void
smear_product(const al_hlsim_ear *e, const frame_work *f, const int NB)
{
    for (int32_t blk = 0; blk < e->frame_len / AL_HLSIM_ROWS; blk++) {
        const int32_t start = e->smear_start[blk], len = e->smear_len[blk];
        for (int32_t r = 0; r < AL_HLSIM_ROWS; r += AL_VFN_LANES) {
            const float *v = e->smear + e->smear_offset[blk] + r;
            al_vfn a0[AL_HLSIM_BATCH], a1[AL_HLSIM_BATCH];
            for (int q = 0; q < NB; q++) a0[q] = a1[q] = (al_vfn){0.0f};
            int32_t j = 0;
            for (; j + 1 < len; j += 2) {
                const al_vfn m0 = al_load_vfn(v + (int64_t)j * AL_HLSIM_ROWS);
                const al_vfn m1 = al_load_vfn(v + (int64_t)(j + 1) * AL_HLSIM_ROWS);
                for (int q = 0; q < NB; q++) {
                    a0[q] += m0 * f[q].power[start + j];
                    a1[q] += m1 * f[q].power[start + j + 1];
                }
            }
            if (j < len) {
                const al_vfn m0 = al_load_vfn(v + (int64_t)j * AL_HLSIM_ROWS);
                for (int q = 0; q < NB; q++) a0[q] += m0 * f[q].power[start + j];
            }
            for (int q = 0; q < NB; q++)
                al_store_vfn(f[q].smeared + blk * AL_HLSIM_ROWS + r, a0[q] + a1[q]);
        }
    }
}

/* Frames per pass over the matrix: as many as keep their accumulators (two registers per
 * frame) in registers, beside the two matrix vectors. */
#if defined(__AVX512F__)
enum { SMEAR_GROUP = 8 };
#else
enum { SMEAR_GROUP = 4 };
#endif

static void smear_products(const al_hlsim_ear *e, const frame_work *f, int32_t n)
{
    int32_t k = 0;
    for (; k + SMEAR_GROUP <= n; k += SMEAR_GROUP) smear_product(e, f + k, SMEAR_GROUP);
    for (; k < n; k++) smear_product(e, f + k, 1);
}

/* Step 3 of a non-silent frame: its two inverse transforms and its specified energy (sum of
 * the smeared power spectrum / frame_len). */
static void frame_resynth(al_hlsim_ear *e, frame_work f)
{
    const int32_t nf = e->frame_len;
    float *restrict sr = f.re, *restrict si = f.im;
    const float *restrict p = f.power, *restrict sm = f.smeared, *restrict wa = e->ome_amp;
    float spec_sum = 0.0f;
    for (int32_t k = 0; k < nf; k++) {
        /* The smearing matrix deconvolves, so a sum can dip below zero: no energy there. */
        const int on = sm[k] > 0.0f && p[k] > 0.0f;
        const float g = on ? sqrtf(sm[k] / p[k]) : 0.0f;
        spec_sum += on ? sm[k] : 0.0f;
        sr[k] *= g;
        si[k] *= g;
    }
    sr[nf] = 0.0f;
    si[nf] = 0.0f;
    *f.energy = spec_sum * *f.pmax / (float)nf;
    rfft_inverse_part(e->fft, sr, si, e->frame, nf);
    memcpy(f.out, e->frame, sizeof(float) * (size_t)nf);
    for (int32_t k = 0; k < nf; k++) { /* the same frame at the cochlea */
        sr[k] *= wa[k];
        si[k] *= wa[k];
    }
    rfft_inverse_part(e->fft, sr, si, e->frame, nf);
    memcpy(f.out_c, e->frame, sizeof(float) * (size_t)nf);
}

/* The frames of the n_batch events from x index j_event on (every hop samples): frame k ends
 * at x[j_event + k hop]; in_buf holds the frame_len samples ending at x[j_event]. */
static void smear_batch(al_hlsim_ear *e, const float *x, int64_t j_event, int32_t n_batch)
{
    const int32_t nf = e->frame_len;
    frame_work f[AL_HLSIM_BATCH], live[AL_HLSIM_BATCH];
    int32_t n_live = 0;
    for (int32_t k = 0; k < n_batch; k++) {
        f[k] = frame_slot(e, k);
        /* The frame's samples: the older ones from in_buf, the rest from x. */
        const int64_t shift = (int64_t)k * e->hop;
        const int32_t from_buf = shift >= nf ? 0 : nf - (int32_t)shift;
        float *fr = e->frame;
        memcpy(fr, e->in_buf + (nf - from_buf), sizeof(float) * (size_t)from_buf);
        memcpy(fr + from_buf, x + j_event + shift - (nf - from_buf) + 1,
               sizeof(float) * (size_t)(nf - from_buf));
        if (frame_power(e, fr, f[k])) live[n_live++] = f[k];
        else *f[k].energy = 0.0f;
    }
    smear_products(e, live, n_live);
    for (int32_t k = 0; k < n_live; k++) frame_resynth(e, live[k]);
}

/* Overlap-add of a transformed frame (smear_batch) into the accumulators; returns its
 * specified energy. */
static float smear_add(al_hlsim_ear *e, frame_work f)
{
    const int32_t nf = e->frame_len;
    if (!(*f.pmax > 0.0f) || al_is_nonfinite(*f.pmax)) return 0.0f; /* silent: adds nothing */
    float *restrict acc = e->acc, *restrict acc_c = e->acc_c;
    const float *restrict out = f.out, *restrict out_c = f.out_c;
    for (int32_t i = 0; i < nf; i++) acc[i] += e->window[i] * out[i];
    for (int32_t i = 0; i < nf; i++) acc_c[i] += e->window[i] * out_c[i];
    return *f.energy;
}

/* Power correction of one output sample: y (free field) times sqrt(specified / realised),
 * realised measured on yc (the same sample at the cochlea); 1 until both are known. */
static inline float power_correct(al_hlsim_ear *e, float y, float yc)
{
    const float a = e->pc_coef;
    e->pc_spec_avg += a * (e->pc_spec - e->pc_spec_avg);
    e->pc_real_avg += a * (yc * yc - e->pc_real_avg);
    const float t = e->pc_spec_avg, r = e->pc_real_avg;
    if (!(t > 0.0f) || !(r > 1e-30f)) return y;
    float g = sqrtf(t / r);
    const float hi = e->pc_max_gain, lo = 1.0f / e->pc_max_gain;
    g = g > hi ? hi : (g < lo ? lo : g);
    return y * g;
}

/* Streaming overlap-add: frame m covers input [m hop, m hop + frame_len) and is processed when
 * its last sample arrives; output is the input delayed by frame_len - 1 samples. With the
 * power correction, the energy specified by frame m applies from the event of frame m + 2 on
 * (for hop samples), when the frame's output is half way out. */
static void smear_run(al_hlsim_ear *e, float *x, int64_t n)
{
    const int32_t nf = e->frame_len, hop = e->hop;
    const int on = e->smear_mode == AL_HLSIM_SMEAR_ON;
    int32_t batched = 0, n_batched = 0; /* frames of the current batch used, and made */
    int64_t j = 0;
    while (j < n) {
        const int64_t left = n - j;
        const int32_t len = (int32_t)((left < hop - e->phase) ? left : hop - e->phase);
        memcpy(e->in_buf + (nf - hop + e->phase), x + j, sizeof(float) * (size_t)len);
        const int event = (e->phase + len == hop);
        const int32_t n_plain = event ? len - 1 : len;
        const int32_t base = e->phase + 1;
        if (on) {
            for (int32_t i = 0; i < n_plain; i++)
                x[j + i] = power_correct(e, e->acc[base + i], e->acc_c[base + i]);
        } else {
            for (int32_t i = 0; i < n_plain; i++) x[j + i] = e->acc[base + i];
        }
        if (event) {
            const size_t keep = sizeof(float) * (size_t)(nf - hop);
            memmove(e->acc, e->acc + hop, keep);
            memset(e->acc + (nf - hop), 0, sizeof(float) * (size_t)hop);
            if (on) {
                memmove(e->acc_c, e->acc_c + hop, keep);
                memset(e->acc_c + (nf - hop), 0, sizeof(float) * (size_t)hop);
                e->pc_spec = e->pc_e2 / (float)hop;
                e->pc_e2 = e->pc_e1;
            }
            if (on) {
                /* This frame's transform is done with those of the next events of the call
                 * (smear_batch), unless a batch already holds it. */
                if (batched == n_batched) {
                    const int64_t j_event = j + len - 1;
                    const int64_t ahead = 1 + (n - 1 - j_event) / hop;
                    n_batched = (int32_t)(ahead < AL_HLSIM_BATCH ? ahead : AL_HLSIM_BATCH);
                    batched = 0;
                    smear_batch(e, x, j_event, n_batched);
                }
                e->pc_e1 = smear_add(e, frame_slot(e, batched++));
            } else {
                for (int32_t i = 0; i < nf; i++) e->acc[i] += e->window_sq[i] * e->in_buf[i];
            }
            memmove(e->in_buf, e->in_buf + hop, keep);
            e->phase = 0;
            x[j + len - 1] = on ? power_correct(e, e->acc[0], e->acc_c[0]) : e->acc[0];
        } else {
            e->phase += len;
        }
        j += len;
    }
}

/* ---- recruitment in gammatone bands -------------------------------------------------------- */

/* atan2 to about 1e-6 rad, branch-free (atan on [0, 1] by a polynomial, then octants). */
static inline float hl_atan2(float y, float x)
{
    const float ax = fabsf(x), ay = fabsf(y);
    const float mx = ax > ay ? ax : ay, mn = ax > ay ? ay : ax;
    const float a = mx > 0.0f ? mn / mx : 0.0f, s = a * a;
    float r = a * (0.99997726f + s * (-0.33262347f + s * (0.19354346f + s * (-0.11643287f +
              s * (0.05265332f + s * -0.01172120f)))));
    r = ay > ax ? 1.57079633f - r : r;
    r = x < 0.0f ? 3.14159265f - r : r;
    return y < 0.0f ? -r : r;
}

/* The mean frequency f of each band relative to its centre frequency, f / cf in [1/2, 2]: the
 * power and lag-1 sums since the last update are smoothed twice, cos(w) is their ratio. */
static inline void band_ratios(int32_t nb, float a, const float *restrict acc0,
                               const float *restrict acc1, const float *restrict cos_cf,
                               const float *restrict inv_omega,
                               float *restrict p1, float *restrict l1, float *restrict p2,
                               float *restrict l2, float *restrict ratio)
{
    for (int32_t b = 0; b < nb; b++) {
        p1[b] += a * (acc0[b] - p1[b]);
        l1[b] += a * (acc1[b] - l1[b]);
        p2[b] += a * (p1[b] - p2[b]);
        l2[b] += a * (l1[b] - l2[b]);
        float c = p2[b] > 1e-30f ? l2[b] / p2[b] : cos_cf[b];
        c = c < -1.0f ? -1.0f : (c > 1.0f ? 1.0f : c);
        const float s = sqrtf(1.0f - c * c);
        const float r = hl_atan2(s, c) * inv_omega[b];
        ratio[b] = r < 0.5f ? 0.5f : (r > 2.0f ? 2.0f : r);
    }
}

/* The exponents (expansion ratio - 1) of the first n lanes (whole groups) at an exponent
 * update, from their power and lag-1 sums since the last one (acc0, acc1: n each), read from
 * their tables at the bands' mean frequencies (linear interpolation). All groups at once:
 * the divisions, square roots and logarithms of one group overlap those of the others. */
static void band_exponents(al_hlsim_ear *e, int32_t n, const float *acc0, const float *acc1)
{
    const int32_t nl = e->n_lanes, nr = e->n_ratio;
    float *st = e->freq_state, *expo = e->exponent;
    band_ratios(n, e->freq_coef, acc0, acc1, e->cos_cf, e->inv_omega, st, st + nl,
                st + 2 * nl, st + 3 * nl, expo);
    /* Table position u = ratio_scale log2(f / cf) + mid, within the table; 1 / ln 2. */
    const float mid = 0.5f * (float)(nr - 1), top = (float)(nr - 1);
    for (int32_t l0 = 0; l0 < n; l0 += AL_VFN_LANES) {
        const al_vfn u = al_log_vfn(al_load_vfn(expo + l0)) * (e->ratio_scale * 1.44269504f) +
                         mid;
        al_store_vfn(expo + l0,
                     al_min_vfn(al_max_vfn(u, al_splat_vfn(0.0f)), al_splat_vfn(top)));
    }
    for (int32_t b = 0; b < n; b++) {
        const float ub = expo[b];
        int32_t i = (int32_t)ub;
        i = i > nr - 2 ? nr - 2 : i;
        const float *t = e->expo_table + (int64_t)b * nr + i;
        expo[b] = t[0] + (ub - (float)i) * (t[1] - t[0]);
    }
}

/* The gains a band group ramps to from a gain update (Moore & Glasberg 1993): gain =
 * (envelope / catch-up)^(ER - 1) = exp((ER - 1) ln(envelope / catch-up)) <= 1. */
static inline al_vfn band_gain_target(al_vfn env, al_vfn scale, al_vfn expo, float lo)
{
    const al_vfn v = al_min_vfn(al_max_vfn(env * scale, al_splat_vfn(lo)), al_splat_vfn(1.0f));
    return al_exp_vfn(expo * al_log_vfn(v));
}

/* One section Re{1 / (1 - p z^-1)} of a group of bands: the complex one-pole state (r, i) advances
 * with input v; its real part is the section's output. */
static inline al_vfn section_vfn(al_vfn v, al_vfn pr, al_vfn pi, al_vfn *r, al_vfn *i)
{
    const al_vfn nr = v + pr * *r - pi * *i;
    *i = pr * *i + pi * *r;
    *r = nr;
    return nr;
}

/* The gain updates of a block: the samples whose absolute index is a multiple of
 * gain_interval, every freq_every-th of them also an exponent update (done first). The same
 * for every band group, so the counters advance once per block. */
typedef struct {
    int32_t n;
    int32_t t[AL_HLSIM_BLOCK];     /* their samples in the block, ascending */
    int32_t expo[AL_HLSIM_BLOCK];  /* nonzero: an exponent update too */
} band_updates;

static void band_schedule(al_hlsim_ear *e, int32_t len, band_updates *u)
{
    const int32_t interval = e->gain_interval;
    u->n = 0;
    for (int32_t t = e->count == 0 ? 0 : interval - e->count; t < len; t += interval) {
        u->t[u->n] = t;
        u->expo[u->n++] = e->freq_count == 0;
        e->freq_count = (e->freq_count + 1 == e->freq_every) ? 0 : e->freq_count + 1;
    }
    e->count = (int32_t)(((int64_t)e->count + len) % interval);
}

/* The planes of the scratch (al_hlsim.h), each (AL_HLSIM_BLOCK, n_lanes) by sample of the
 * block, written at the updates only: the smoothed envelopes (then the gains they give) and
 * the power and lag-1 sums (at exponent updates). */
enum { SCRATCH_ENV = 0, SCRATCH_POW = 1, SCRATCH_LAG1 = 2 };

static inline float *scratch_plane(const al_hlsim_ear *e, int32_t plane)
{
    return e->scratch + (int64_t)plane * AL_HLSIM_BLOCK * e->n_lanes;
}

/* len (<= AL_HLSIM_BLOCK) samples through the AL_VFN_LANES bands from lane l0 (one native
 * register: a wider group would spill its states), with every state in registers: the four
 * sections Re{1 / (1 - p z^-1)} (a complex one-pole whose real part feeds the next section),
 * the high-pass biquad (transposed direct form II), the envelope (rectified band value
 * smoothed by two one-poles) and the mean-frequency sums (power, lag-1 product). Writes each
 * sample's weighted band values to vals (rows of n_lanes from the block's first) and, at the
 * updates, the envelope and sums to the scratch for band_targets; the sums restart after an
 * exponent update. The gains are left out of this loop: their log/exp at the updates would
 * stall it (its states then spill around them). */
static void band_group(al_hlsim_ear *e, int32_t l0, const float *x, int32_t len,
                       const band_updates *u, float *vals)
{
    const int32_t nl = e->n_lanes;
    const al_vfn pr = al_load_vfn(e->pole_re + l0), pi = al_load_vfn(e->pole_im + l0);
    const al_vfn gin = al_load_vfn(e->in_gain + l0), ac = al_load_vfn(e->env_coef + l0);
    const float *hp = e->hp + l0;
    const al_vfn b0 = al_load_vfn(hp), b1 = al_load_vfn(hp + nl);
    const al_vfn b2 = al_load_vfn(hp + 2 * nl);
    const al_vfn a1 = al_load_vfn(hp + 3 * nl), a2 = al_load_vfn(hp + 4 * nl);
    float *sr = e->state_re + l0, *si = e->state_im + l0;
    al_vfn r0 = al_load_vfn(sr), r1 = al_load_vfn(sr + nl), r2 = al_load_vfn(sr + 2 * nl),
            r3 = al_load_vfn(sr + 3 * nl);
    al_vfn i0 = al_load_vfn(si), i1 = al_load_vfn(si + nl), i2 = al_load_vfn(si + 2 * nl),
            i3 = al_load_vfn(si + 3 * nl);
    float *hs = e->hp_state + l0, *env = e->env + l0, *acc = e->freq_acc + l0;
    al_vfn h1 = al_load_vfn(hs), h2 = al_load_vfn(hs + nl);
    al_vfn e1 = al_load_vfn(env), e2 = al_load_vfn(env + nl);
    al_vfn s0 = al_load_vfn(acc), s1 = al_load_vfn(acc + nl), yp = al_load_vfn(e->yprev + l0);
    const al_vfn w = al_load_vfn(e->weight + l0);
    float *env_at = scratch_plane(e, SCRATCH_ENV) + l0;
    float *pow_at = scratch_plane(e, SCRATCH_POW) + l0;
    float *lag1_at = scratch_plane(e, SCRATCH_LAG1) + l0;
    int32_t t = 0;
    for (int32_t k = 0;; k++) {
        /* Up to and with the k-th update's sample (or the block's end). */
        const int32_t end = k < u->n ? u->t[k] + 1 : len;
        for (; t < end; t++) {
            al_vfn v = gin * x[t];
            v = section_vfn(v, pr, pi, &r0, &i0);
            v = section_vfn(v, pr, pi, &r1, &i1);
            v = section_vfn(v, pr, pi, &r2, &i2);
            v = section_vfn(v, pr, pi, &r3, &i3);
            al_vfn y;
            AL_BIQUAD_TDF2(y, v, b0, b1, b2, a1, a2, h1, h2);
            e1 = e1 + ac * (al_abs_vfn(y) - e1);
            e2 = e2 + ac * (e1 - e2);
            s0 = s0 + y * y;
            s1 = s1 + y * yp;
            yp = y;
            al_store_vfn(vals + (int64_t)t * nl + l0, w * y);
        }
        if (k == u->n) break;
        const int64_t at = (int64_t)(t - 1) * nl;
        al_store_vfn(env_at + at, e2);
        if (u->expo[k]) {
            al_store_vfn(pow_at + at, s0);
            al_store_vfn(lag1_at + at, s1);
            s0 = al_splat_vfn(0.0f);
            s1 = al_splat_vfn(0.0f);
        }
    }
    al_store_vfn(sr, r0);
    al_store_vfn(sr + nl, r1);
    al_store_vfn(sr + 2 * nl, r2);
    al_store_vfn(sr + 3 * nl, r3);
    al_store_vfn(si, i0);
    al_store_vfn(si + nl, i1);
    al_store_vfn(si + 2 * nl, i2);
    al_store_vfn(si + 3 * nl, i3);
    al_store_vfn(hs, h1);
    al_store_vfn(hs + nl, h2);
    al_store_vfn(env, e1);
    al_store_vfn(env + nl, e2);
    al_store_vfn(acc, s0);
    al_store_vfn(acc + nl, s1);
    al_store_vfn(e->yprev + l0, yp);
}

/* The gains of the first n lanes (whole groups) at the updates of a block, in place of the
 * envelopes band_group left in the scratch, after the exponents where due (from the sums it
 * left there). Nothing here depends on the gains in force, so the updates overlap one
 * another; band_products ramps to these targets. */
static void band_targets(al_hlsim_ear *e, int32_t n, const band_updates *u)
{
    const int32_t nl = e->n_lanes;
    float *env_at = scratch_plane(e, SCRATCH_ENV);
    const float *pow_at = scratch_plane(e, SCRATCH_POW);
    const float *lag1_at = scratch_plane(e, SCRATCH_LAG1);
    for (int32_t k = 0; k < u->n; k++) {
        const int64_t at = (int64_t)u->t[k] * nl;
        if (u->expo[k]) band_exponents(e, n, pow_at + at, lag1_at + at);
        for (int32_t l0 = 0; l0 < n; l0 += AL_VFN_LANES) {
            float *g = env_at + at + l0;
            al_store_vfn(g, band_gain_target(al_load_vfn(g), al_load_vfn(e->env_scale + l0),
                                             al_load_vfn(e->exponent + l0), e->env_floor));
        }
    }
}

/* The band history's tails moved to their fronts: the last lag rows of band values and the
 * last max_delay rows of each band's products; the current row is then max_delay again. */
static void hist_shift(al_hlsim_ear *e)
{
    const int32_t nb = e->n_bands, nl = e->n_lanes, md = e->max_delay, from = e->row - md;
    const int64_t rows = (int64_t)md + e->hist_rows;
    float *vals = e->hist, *prod = e->hist + ((int64_t)e->lag + e->hist_rows) * nl;
    memmove(vals, vals + (int64_t)from * nl, sizeof(float) * (size_t)e->lag * (size_t)nl);
    for (int32_t b = 0; b < nb; b++)
        memmove(prod + b * rows, prod + b * rows + from, sizeof(float) * (size_t)md);
    e->row = md;
}

/* Resynthesis of one block: y[t] = sum_b product_b[t - d_b], AL_VFN_LANES samples at a time
 * (each band's products are contiguous in time); per sample the same sums in the same order
 * as one at a time, so block splits do not change the result. Reads past the block stay in
 * the history (bands_run keeps AL_HLSIM_BLOCK rows free after the current one). */
static void band_sums(const al_hlsim_ear *e, const float *prod, float *x, int32_t len)
{
    const int32_t nb = e->n_bands;
    const int32_t *restrict off = e->read_offset;
    for (int32_t t = 0; t < len; t += AL_VFN_LANES) {
        const float *p = prod + e->row + t;
        al_vfn y0 = {0.0f}, y1 = {0.0f}, y2 = {0.0f}, y3 = {0.0f};
        int32_t b = 0;
        for (; b + 3 < nb; b += 4) {
            y0 += al_load_vfn(p + off[b]);
            y1 += al_load_vfn(p + off[b + 1]);
            y2 += al_load_vfn(p + off[b + 2]);
            y3 += al_load_vfn(p + off[b + 3]);
        }
        for (; b < nb; b++) y0 += al_load_vfn(p + off[b]);
        const al_vfn y = (y0 + y1) + (y2 + y3);
        const int32_t n = len - t < AL_VFN_LANES ? len - t : AL_VFN_LANES;
        memcpy(x + t, &y, sizeof(float) * (size_t)n);
    }
}

/* Each band's products of a block, its weighted values lag samples earlier (vals: rows of
 * n_lanes from the block's first) times its gains, into its run in time, by tiles of
 * AL_VFN_LANES samples and bands transposed in registers. The gains ramp linearly over a
 * gain interval from where they are at an update to its target (band_targets); the shuffles
 * of the transposes hide the latency of that sample-by-sample chain. A tile's samples past len
 * are stored too (values of no use, in rows bands_run keeps free, overwritten before they are
 * read). */
static void band_products(al_hlsim_ear *e, const float *vals, const band_updates *u,
                          float *prod, int32_t len)
{
    const int32_t nb = e->n_bands, nl = e->n_lanes;
    const int64_t rows = (int64_t)e->max_delay + e->hist_rows;
    const float inv_interval = 1.0f / (float)e->gain_interval;
    const float *lagged = vals - (int64_t)e->lag * nl, *targets = scratch_plane(e, SCRATCH_ENV);
    for (int32_t b0 = 0; b0 < nb; b0 += AL_VFN_LANES) {
        al_vfn gain = al_load_vfn(e->gain + b0), step = al_load_vfn(e->gain_step + b0);
        int32_t k = 0;
        for (int32_t t0 = 0; t0 < len; t0 += AL_VFN_LANES) {
            al_vfn tile[AL_VFN_LANES];
            /* Unrolled whole (despite the update test), so that the tile stays in registers. */
#pragma GCC unroll 16
            for (int i = 0; i < AL_VFN_LANES; i++) {
                const int32_t t = t0 + i;
                if (t < len) {
                    if (k < u->n && u->t[k] == t) {
                        step = (al_load_vfn(targets + (int64_t)t * nl + b0) - gain) *
                               inv_interval;
                        k++;
                    }
                    gain = gain + step;
                }
                tile[i] = al_load_vfn(lagged + (int64_t)t * nl + b0) * gain;
            }
            al_transpose_vfn(tile);
            const int32_t n = nb - b0 < AL_VFN_LANES ? nb - b0 : AL_VFN_LANES;
            for (int i = 0; i < n; i++)
                al_store_vfn(prod + (b0 + i) * rows + e->row + t0, tile[i]);
        }
        al_store_vfn(e->gain + b0, gain);
        al_store_vfn(e->gain_step + b0, step);
    }
}

static void bands_run(al_hlsim_ear *e, float *x, int64_t n)
{
    const int32_t nl = e->n_lanes, md = e->max_delay;
    const int32_t wrap = md + e->hist_rows;
    /* Band values: rows 0 .. lag + hist_rows of n_lanes, row - max_delay + lag the current. */
    float *vals = e->hist + (int64_t)(e->lag - md) * nl;
    float *prod = e->hist + ((int64_t)e->lag + e->hist_rows) * nl;
    /* Lanes of the groups that hold a band (the lanes past them stay zero). */
    const int32_t n_active = (e->n_bands + AL_VFN_LANES - 1) / AL_VFN_LANES * AL_VFN_LANES;
    band_updates u;
    for (int64_t j0 = 0; j0 < n; j0 += AL_HLSIM_BLOCK) {
        const int32_t len = (int32_t)((n - j0) < AL_HLSIM_BLOCK ? (n - j0) : AL_HLSIM_BLOCK);
        float *xb = x + j0;
        float *v = vals + (int64_t)e->row * nl;
        band_schedule(e, len, &u);
        for (int32_t l0 = 0; l0 < n_active; l0 += AL_VFN_LANES)
            band_group(e, l0, xb, len, &u, v);
        band_targets(e, n_active, &u);
        band_products(e, v, &u, prod, len);
        band_sums(e, prod, xb, len);
        e->row += len;
        if (e->row + AL_HLSIM_BLOCK > wrap) hist_shift(e);
    }
}

/* The smearing matrix's blocks (al_hlsim.h): each within the frame's bins, stored one after
 * the other from smear[0]. */
static al_status smear_tables_valid(const al_hlsim_ear *e)
{
    const int32_t nf = e->frame_len;
    int64_t next = 0;
    for (int32_t blk = 0; blk < nf / AL_HLSIM_ROWS; blk++) {
        const int32_t start = e->smear_start[blk], len = e->smear_len[blk];
        if (start < 0 || len < 0 || start > nf - len || e->smear_offset[blk] != next)
            return AL_ERR_SIZE;
        next += (int64_t)len * AL_HLSIM_ROWS;
    }
    return AL_OK;
}

/* Set-up checks of one ear, once per call before any sample: NULL pointers (AL_ERR_NULL),
 * counts and index tables (AL_ERR_SIZE), parameter values (AL_ERR_VALUE), then the running
 * counters (AL_ERR_STATE); the per-sample loops then index only in range. */
static al_status ear_valid(const al_hlsim_ear *e)
{
    if (!e || !e->pole_re || !e->pole_im || !e->in_gain || !e->hp || !e->weight ||
        !e->read_offset || !e->env_coef || !e->env_scale || !e->exponent || !e->state_re ||
        !e->state_im || !e->hp_state || !e->env || !e->gain || !e->gain_step || !e->hist ||
        !e->scratch || !e->cos_cf || !e->inv_omega || !e->expo_table || !e->yprev ||
        !e->freq_acc || !e->freq_state)
        return AL_ERR_NULL;
    if (e->n_bands < 1 || e->n_lanes < e->n_bands || e->n_lanes % AL_HLSIM_LANES ||
        e->n_ratio < 3 || e->gain_interval < 1 || e->freq_every < 1 || e->max_delay < 0 ||
        e->hist_rows < AL_HLSIM_BLOCK || e->lag < 1 || e->lag > e->max_delay)
        return AL_ERR_SIZE;
    if (!(e->ratio_scale > 0.0f) || !(e->freq_coef > 0.0f) || !(e->freq_coef <= 1.0f) ||
        !(e->env_floor > 0.0f))
        return AL_ERR_VALUE;
    if (e->freq_count < 0 || e->freq_count >= e->freq_every || e->count < 0 ||
        e->count >= e->gain_interval || e->row < e->max_delay ||
        e->row > e->max_delay + e->hist_rows - AL_HLSIM_BLOCK)
        return AL_ERR_STATE;
    /* Each band reads its own products at most max_delay rows behind the current row. */
    const int64_t rows = (int64_t)e->max_delay + e->hist_rows;
    for (int32_t b = 0; b < e->n_bands; b++) {
        const int64_t delay = (int64_t)b * rows - e->read_offset[b];
        if (delay < 0 || delay > e->max_delay) return AL_ERR_SIZE;
    }
    if (e->smear_mode == AL_HLSIM_SMEAR_OFF) return AL_OK;
    if (e->smear_mode != AL_HLSIM_SMEAR_DELAY && e->smear_mode != AL_HLSIM_SMEAR_ON)
        return AL_ERR_VALUE;
    if (!e->window || !e->window_sq || !e->in_buf || !e->acc) return AL_ERR_NULL;
    const int32_t nf = e->frame_len;
    if (nf < AL_HLSIM_ROWS || (nf & (nf - 1)) || e->hop < 1 || nf % e->hop) return AL_ERR_SIZE;
    if (e->phase < 0 || e->phase >= e->hop) return AL_ERR_STATE;
    if (e->smear_mode == AL_HLSIM_SMEAR_DELAY) return AL_OK;
    if (!e->smear || !e->smear_start || !e->smear_len || !e->smear_offset || !e->frame ||
        !e->batch || !e->ome_pow || !e->ome_amp ||
        !e->acc_c)
        return AL_ERR_NULL;
    const al_status fft = rfft_valid(e->fft);
    if (fft != AL_OK) return fft;
    if (e->fft->n != 2 * nf) return AL_ERR_SIZE;
    if (!(e->pc_max_gain >= 1.0f) || !(e->pc_coef > 0.0f) || !(e->pc_coef <= 1.0f))
        return AL_ERR_VALUE;
    return smear_tables_valid(e);
}

al_status al_hlsim_process(al_hlsim *s, float *x, int32_t n_channels, int64_t n_frames)
{
    if (!s || !s->ears || (!x && n_frames > 0)) return AL_ERR_NULL;
    if (n_frames < 0) return AL_ERR_SIZE;
    if (n_channels != s->n_channels) return AL_ERR_STATE;
    for (int32_t c = 0; c < n_channels; c++) {
        const al_status status = ear_valid(&s->ears[c]);
        if (status != AL_OK) return status;
    }
    al_fpmode fp = al_fp_enter();
    for (int32_t c = 0; c < n_channels; c++) {
        al_hlsim_ear *e = &s->ears[c];
        float *xc = x + (int64_t)c * n_frames;
        /* On the engine path nothing upstream checks samples: a non-finite one enters as
         * silence rather than poisoning the filter states for good. */
        for (int64_t j = 0; j < n_frames; j++)
            xc[j] = al_finite_or_zero(xc[j]);
        if (e->smear_mode != AL_HLSIM_SMEAR_OFF) smear_run(e, xc, n_frames);
        bands_run(e, xc, n_frames);
    }
    al_fp_leave(fp);
    return AL_OK;
}
