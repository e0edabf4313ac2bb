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
 * arrays (iterative decimation in time, bit-reversed input), after the first two stages. */
static void cfft_upper_stages(int32_t k, const float *tw_re, const float *tw_im, float *re,
                              float *im)
{
    if (k > 4) fft_stage(k, 4, tw_re, tw_im, re, im);
    if (k > 8) fft_stage(k, 8, tw_re, tw_im, re, im);
    for (int32_t h = 16; h < k; h *= 2) fft_stage(k, h, tw_re, tw_im, re, im);
}

/* In-place complex FFT (forward, unnormalised) of size k >= 4 on split arrays in bit-reversed
 * order (iterative radix-2 decimation in time). The first two stages (twiddles 1 and -i) are
 * done together as radix-4 butterflies without multiplications. */
static void cfft_stages(int32_t k, const float *tw_re, const float *tw_im, float *re, float *im)
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
    cfft_upper_stages(k, tw_re, tw_im, re, im);
}

/* Set-up check of a plan, once per call: the bit-reversal table indexes the work arrays and
 * (the smearing's padded transform relies on it) is exactly the bit reversal of 0..n/2-1. */
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
    cfft_stages(k, f->tw_re, f->tw_im, re, im);
    rfft_split(k, re, im, f->rtw_re, f->rtw_im, out_re, out_im);
}

/* Inverse real FFT (scaled by 1/n as numpy.fft.irfft). */
static void rfft_inverse(al_rfft *f, const float *in_re, const float *in_im, float *x)
{
    const int32_t k = f->n / 2;
    float *re = f->work_re, *im = f->work_im;
    rfft_merge(k, in_re, in_im, f->rtw_re, f->rtw_im, f->bitrev, re, im);
    cfft_stages(k, f->tw_re, f->tw_im, re, im);
    const float scale = 1.0f / (float)k;
    for (int32_t i = 0; i < k; i++) {
        x[2 * i] = re[i] * scale;
        x[2 * i + 1] = -im[i] * scale;
    }
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
_Static_assert((int)AL_HLSIM_BATCH % (int)AL_VFN_LANES == 0,
               "a batch is whole groups of AL_VFN_LANES frames");

/* The smearing of a batch of frames in three steps, the middle one shared by the batch:
 * (1) window, FFT, the power spectrum P taken to the cochlea (normalised by its maximum, so
 * that loud frames cannot overflow float32); (2) S = M P; (3) the smeared magnitude
 * |X| sqrt(S / P) with each bin's phase (no phasor division), inverse FFT at free field (the
 * output) and at the cochlea (for the power correction), which differ by the outer/middle-ear
 * gain per bin.
 * Steps 1 and 3 take the frames AL_VFN_LANES at a time (a lane group), side by side in the
 * lanes of native vectors: every FFT butterfly of the group is one vector operation without
 * shuffles. A batch of one frame (the engine's 64-sample calls) runs instead on its own, its
 * vectors along the FFT's butterflies and the bins. Both do, for every element, the same
 * operations in the same order (the arithmetic is written once, in the macros below, over the
 * value type), and a frame's lane does not matter, so block splits stay bit-identical.
 * The batch work space (al_hlsim.h), aligned for al_vfn, holds the complex FFT's work (zr, zi:
 * n/2 vectors each), then per lane group the spectrum (xr, xi: n/2 + 1) and P (pw: frame_len,
 * then the time samples of an inverse transform); then per frame the largest power, the
 * specified energy, S (frame_len) and the two inverse transforms out and out_c (frame_len
 * each). A frame on its own uses the same arrays as floats, P at stride 1. */
/* That is (2 AL_VFN_LANES + 6 AL_HLSIM_BATCH) frame_len + 4 AL_HLSIM_BATCH floats, and fewer
 * than AL_VFN_LANES <= frame_len for the alignment, within the AL_HLSIM_BATCH
 * (AL_HLSIM_FRAME_WORK frame_len + 4) allocated. */
_Static_assert(2 * AL_VFN_LANES + 6 * AL_HLSIM_BATCH + 1 <= AL_HLSIM_FRAME_WORK * AL_HLSIM_BATCH,
               "the batch work space holds the lane groups");
typedef struct {
    al_vfn *zr, *zi, *groups;
    float *pmax, *energy;             /* (AL_HLSIM_BATCH) */
    float *smeared, *out, *out_c;     /* (AL_HLSIM_BATCH, frame_len) */
} batch_work;

typedef struct {
    al_vfn *xr, *xi, *pw;
} lane_group;

static batch_work batch_slots(const al_hlsim_ear *e)
{
    const int32_t nf = e->frame_len, k = e->fft->n / 2;
    const uintptr_t a = (uintptr_t)e->batch, align = sizeof(al_vfn);
    al_vfn *v = (al_vfn *)((a + align - 1) & ~(align - 1));
    const int32_t n_groups = AL_HLSIM_BATCH / AL_VFN_LANES;
    batch_work b = {v, v + k, v + 2 * k, NULL, NULL, NULL, NULL, NULL};
    b.pmax = (float *)(b.groups + (int64_t)n_groups * (2 * k + 2 + nf));
    b.energy = b.pmax + AL_HLSIM_BATCH;
    b.smeared = b.energy + AL_HLSIM_BATCH;
    b.out = b.smeared + AL_HLSIM_BATCH * nf;
    b.out_c = b.out + AL_HLSIM_BATCH * nf;
    return b;
}

static lane_group group_slots(const al_hlsim_ear *e, batch_work b, int32_t g)
{
    const int32_t nf = e->frame_len, k = e->fft->n / 2;
    al_vfn *v = b.groups + (int64_t)g * (2 * k + 2 + nf);
    return (lane_group){v, v + k + 1, v + 2 * k + 2};
}

/* The transforms and the steps around them are not contracted into multiply-adds: GCC's
 * contraction (-ffp-contract=fast) fused the same expressions differently in the lane and the
 * single-frame code, which must agree to the bit. (Clang contracts within an expression only,
 * the same for both.) The matrix product keeps its multiply-adds: it is one code for both. */
#if defined(__GNUC__) && !defined(__clang__)
#define SMEAR_EXACT __attribute__((optimize("fp-contract=off")))
#else
#define SMEAR_EXACT
#endif
/* The arithmetic of the transforms on values of type T (float or al_vfn; a twiddle may be a
 * float with a vector), in place on the variables named. */

/* Forward, first two stages on bit-reversed input whose odd elements are zero (the padding):
 * (r0, q0) and (r2, q2) are the two even ones; outputs to o0..o3 (re) and p0..p3 (im). */
#define FFT_PADDED4(T, r0, q0, r2, q2, o0, p0, o1, p1, o2, p2, o3, p3) \
    do {                                                              \
        o0 = r0 + r2;                                                 \
        p0 = q0 + q2;                                                 \
        o2 = r0 - r2;                                                 \
        p2 = q0 - q2;                                                 \
        o1 = r0 + q2;                                                 \
        p1 = q0 - r2;                                                 \
        o3 = r0 - q2;                                                 \
        p3 = q0 + r2;                                                 \
    } while (0)

/* First two stages (twiddles 1 and -i) as one radix-4 butterfly without multiplications. */
#define FFT_FIRST4(T, r0, q0, r1, q1, r2, q2, r3, q3)                                  \
    do {                                                                               \
        const T s0r_ = r0 + r1, s0i_ = q0 + q1, d0r_ = r0 - r1, d0i_ = q0 - q1;        \
        const T s1r_ = r2 + r3, s1i_ = q2 + q3, d1r_ = r2 - r3, d1i_ = q2 - q3;        \
        r0 = s0r_ + s1r_;                                                              \
        q0 = s0i_ + s1i_;                                                              \
        r2 = s0r_ - s1r_;                                                              \
        q2 = s0i_ - s1i_;                                                              \
        r1 = d0r_ + d1i_; /* d1 (-i) = (d1i, -d1r) */                                 \
        q1 = d0i_ - d1r_;                                                              \
        r3 = d0r_ - d1i_;                                                              \
        q3 = d0i_ + d1r_;                                                              \
    } while (0)

/* A radix-2 butterfly of stage h with twiddle w = exp(-i pi j / h). */
#define FFT_RADIX2(T, r0, q0, r1, q1, wr, wi)                         \
    do {                                                              \
        const T tr_ = r1 * wr - q1 * wi, ti_ = r1 * wi + q1 * wr;     \
        r1 = r0 - tr_;                                                \
        q1 = q0 - ti_;                                                \
        r0 = r0 + tr_;                                                \
        q0 = q0 + ti_;                                                \
    } while (0)

/* Stages h and 2h as one radix-4 butterfly over the points at offsets 0, h, 2h, 3h, with
 * w1 = exp(-i pi j / h), w2 = exp(-i pi j / 2h); stage 2h's twiddle for its second pair,
 * exp(-i pi (j + h) / 2h), is taken as -i w2. Half the loads and stores of two radix-2
 * stages. */
#define FFT_RADIX4(T, r0, q0, r1, q1, r2, q2, r3, q3, w1r, w1i, w2r, w2i)         \
    do {                                                                         \
        const T tbr_ = r1 * w1r - q1 * w1i, tbi_ = r1 * w1i + q1 * w1r;          \
        const T tdr_ = r3 * w1r - q3 * w1i, tdi_ = r3 * w1i + q3 * w1r;          \
        const T ar_ = r0 + tbr_, ai_ = q0 + tbi_, er_ = r0 - tbr_, ei_ = q0 - tbi_; \
        const T cr_ = r2 + tdr_, ci_ = q2 + tdi_, fr_ = r2 - tdr_, fi_ = q2 - tdi_; \
        const T ur_ = cr_ * w2r - ci_ * w2i, ui_ = cr_ * w2i + ci_ * w2r;        \
        const T vr_ = fr_ * w2i + fi_ * w2r, vi_ = -(fr_ * w2r - fi_ * w2i); /* (f w2)(-i) */ \
        r0 = ar_ + ur_;                                                          \
        q0 = ai_ + ui_;                                                          \
        r1 = er_ + vr_;                                                          \
        q1 = ei_ + vi_;                                                          \
        r2 = ar_ - ur_;                                                          \
        q2 = ai_ - ui_;                                                          \
        r3 = er_ - vr_;                                                          \
        q3 = ei_ - vi_;                                                          \
    } while (0)

/* The in-place radix-4 butterfly of stage h at r, q (elements 0, h, 2h, 3h, of type T, read
 * with LD and written with ST); with last, only the first two outputs are stored (all that an
 * inverse transform cut to its first half needs). */
#define FFT_RADIX4_AT(T, LD, ST, r, q, h, last, w1r, w1i, w2r, w2i)                  \
    do {                                                                            \
        T r0_ = LD(r), q0_ = LD(q), r1_ = LD((r) + (h)), q1_ = LD((q) + (h));        \
        T r2_ = LD((r) + 2 * (h)), q2_ = LD((q) + 2 * (h));                          \
        T r3_ = LD((r) + 3 * (h)), q3_ = LD((q) + 3 * (h));                          \
        FFT_RADIX4(T, r0_, q0_, r1_, q1_, r2_, q2_, r3_, q3_, w1r, w1i, w2r, w2i);  \
        ST(r, r0_);                                                                 \
        ST(q, q0_);                                                                 \
        ST((r) + (h), r1_);                                                         \
        ST((q) + (h), q1_);                                                         \
        if (!(last)) {                                                              \
            ST((r) + 2 * (h), r2_);                                                 \
            ST((q) + 2 * (h), q2_);                                                 \
            ST((r) + 3 * (h), r3_);                                                 \
            ST((q) + 3 * (h), q3_);                                                 \
        }                                                                           \
    } while (0)
#define FFT_DEREF(p) (*(p))
#define FFT_PUT(p, v) (*(p) = (v))

/* The first stage of half-size 4 of an FFT of size k (re, im of element type T) when log2 k is
 * odd, radix-2 so that the rest pair up into radix-4 passes; advances h from 4 to 8. */
#define FFT_ODD_STAGE(T, re, im, k, h, twr, twi)                                     \
    do {                                                                            \
        if (__builtin_ctz((unsigned)(k)) % 2) {                                     \
            for (int32_t j_ = 0; j_ < (h); j_++)                                    \
                for (int32_t g_ = j_; g_ < (k); g_ += 2 * (h))                      \
                    FFT_RADIX2(T, (re)[g_], (im)[g_], (re)[g_ + (h)], (im)[g_ + (h)], \
                               (twr)[(h) - 1 + j_], (twi)[(h) - 1 + j_]);           \
            (h) *= 2;                                                               \
        }                                                                           \
    } while (0)

/* One radix-4 pass of half-size h over elements of type T, one butterfly at a time (scalar
 * twiddles per j). */
#define FFT_RADIX4_PASS(T, re, im, k, h, last, twr, twi)                             \
    do {                                                                            \
        for (int32_t j_ = 0; j_ < (h); j_++) {                                      \
            const float w1r_ = (twr)[(h) - 1 + j_], w1i_ = (twi)[(h) - 1 + j_];      \
            const float w2r_ = (twr)[2 * (h) - 1 + j_], w2i_ = (twi)[2 * (h) - 1 + j_]; \
            for (int32_t g_ = j_; g_ < (k); g_ += 4 * (h))                          \
                FFT_RADIX4_AT(T, FFT_DEREF, FFT_PUT, (re) + g_, (im) + g_, h, last,  \
                              w1r_, w1i_, w2r_, w2i_);                              \
        }                                                                           \
    } while (0)

/* rfft_split of bin m: Z[m] = (zr, zi), Z[k - m] = (cr, -ci); twiddle (wr, wi). */
#define FFT_SPLIT(T, zr, zi, cr, ci, wr, wi, xr, xi)                       \
    do {                                                                   \
        const T er_ = 0.5f * (zr + cr), ei_ = 0.5f * (zi + ci);            \
        const T or_ = 0.5f * (zi - ci), oi_ = -0.5f * (zr - cr);           \
        xr = er_ + wr * or_ - wi * oi_;                                    \
        xi = ei_ + wr * oi_ + wi * or_;                                    \
    } while (0)

/* rfft_merge of bin m: X[m] = (ar, ai), X[k - m] = (cr, -ci); twiddle (wr, wi); conjugated Z
 * to (zr, zi). */
#define FFT_MERGE(T, ar, ai, cr, ci, wr, wi, zr, zi)                         \
    do {                                                                     \
        const T er_ = 0.5f * (ar + cr), ei_ = 0.5f * (ai + ci);              \
        const T dr_ = 0.5f * (ar - cr), di_ = 0.5f * (ai - ci);              \
        const T or_ = dr_ * wr + di_ * wi, oi_ = di_ * wr - dr_ * wi;        \
        zr = er_ - oi_;                                                      \
        zi = -(ei_ + or_);                                                   \
    } while (0)

/* The radix-2 stages of half-size 4 and up of the complex FFT (size k) of every lane, after
 * the first two, two at a time (FFT_RADIX4); an odd stage count starts with one radix-2
 * stage. With half_last, the last stage makes only the first k/2 outputs (all an inverse
 * transform whose output is cut to its first half needs). */
SMEAR_EXACT static void
lane_stages(const al_rfft *f, al_vfn *restrict re, al_vfn *restrict im, int half_last)
{
    const int32_t k = f->n / 2;
    const float *restrict twr = f->tw_re, *restrict twi = f->tw_im;
    int32_t h = 4;
    FFT_ODD_STAGE(al_vfn, re, im, k, h, twr, twi);
    for (; h < k; h *= 4)
        FFT_RADIX4_PASS(al_vfn, re, im, k, h, half_last && 4 * h == k, twr, twi);
}

/* lane_stages for one frame on float arrays: each butterfly's vectors run along j (when a
 * stage has a register of them), so every element sees the same operations. */
SMEAR_EXACT static void
frame_stages(const al_rfft *f, float *restrict re, float *restrict im, int half_last)
{
    const int32_t k = f->n / 2;
    const float *restrict twr = f->tw_re, *restrict twi = f->tw_im;
    int32_t h = 4;
    FFT_ODD_STAGE(float, re, im, k, h, twr, twi);
    for (; h < k; h *= 4) {
        const int last = half_last && 4 * h == k;
        if (h < AL_VFN_LANES) {
            FFT_RADIX4_PASS(float, re, im, k, h, last, twr, twi);
            continue;
        }
        for (int32_t g = 0; g < k; g += 4 * h)
            for (int32_t j = 0; j < h; j += AL_VFN_LANES) {
                const al_vfn w1r = al_load_vfn(twr + h - 1 + j);
                const al_vfn w1i = al_load_vfn(twi + h - 1 + j);
                const al_vfn w2r = al_load_vfn(twr + 2 * h - 1 + j);
                const al_vfn w2i = al_load_vfn(twi + 2 * h - 1 + j);
                FFT_RADIX4_AT(al_vfn, al_load_vfn, al_store_vfn, re + g + j, im + g + j, h,
                              last, w1r, w1i, w2r, w2i);
            }
    }
}

/* Step 1 for lane group g: its windowed frames (frame l = st[l hop ..], frame_len samples)
 * zero-padded to n, their FFT (the spectrum xr, xi), and their power spectra P at the
 * cochlea, normalised per frame. */
SMEAR_EXACT static void
group_power(const al_hlsim_ear *e, const float *st, batch_work b, int32_t g)
{
    const al_rfft *f = e->fft;
    const int32_t nf = e->frame_len, hop = e->hop, k = f->n / 2;
    const lane_group lg = group_slots(e, b, g);
    /* The windowed samples, transposed into lanes (in xr until the split fills it). */
    al_vfn *restrict t = lg.xr;
    for (int32_t s = 0; s < nf; s += AL_VFN_LANES) {
        al_vfn r[AL_VFN_LANES];
        for (int l = 0; l < AL_VFN_LANES; l++) r[l] = al_load_vfn(st + l * hop + s);
        al_transpose_vfn(r);
        for (int i = 0; i < AL_VFN_LANES; i++) t[s + i] = r[i] * e->window[s + i];
    }
    /* In bit-reversed order every odd element is zero (its index reversed is >= k/2, a sample
     * pair >= n/2), so the first two stages reduce to sums of the two even ones. */
    const int32_t *restrict rev = f->bitrev;
    al_vfn *restrict re = b.zr, *restrict im = b.zi;
    for (int32_t i = 0; i < k; i += 4) {
        const int32_t s0 = 2 * rev[i], s2 = 2 * rev[i + 2];
        FFT_PADDED4(al_vfn, t[s0], t[s0 + 1], t[s2], t[s2 + 1], re[i], im[i], re[i + 1],
                    im[i + 1], re[i + 2], im[i + 2], re[i + 3], im[i + 3]);
    }
    lane_stages(f, re, im, 0);
    const float *restrict twr = f->rtw_re, *restrict twi = f->rtw_im;
    al_vfn *restrict xr = lg.xr, *restrict xi = lg.xi;
    xr[0] = re[0] + im[0];
    xi[0] = (al_vfn){0.0f};
    xr[k] = re[0] - im[0];
    xi[k] = (al_vfn){0.0f};
    for (int32_t m = 1; m < k; m++)
        FFT_SPLIT(al_vfn, re[m], im[m], re[k - m], -im[k - m], twr[m], twi[m], xr[m], xi[m]);
    /* P, each frame's largest power (a NaN never wins the comparison), P / max. */
    al_vfn *restrict p = lg.pw, vmax = {0.0f};
    for (int32_t m = 0; m < nf; m++) {
        const al_vfn pk = (xr[m] * xr[m] + xi[m] * xi[m]) * e->ome_pow[m];
        p[m] = pk;
        vmax = al_select_vfn(pk > vmax, pk, vmax);
    }
    al_store_vfn(b.pmax + g * AL_VFN_LANES, vmax);
    /* A silent frame (pmax 0 or not finite) gets no P > 0 here, hence gain 0 in step 3. */
    const al_vfn inv = 1.0f / vmax;
    for (int32_t m = 0; m < nf; m++) p[m] *= inv;
}

/* Step 2 for the NB frames q0 .. q0 + NB - 1, whose powers of a bin are adjacent, bins
 * stride floats apart from p0 (a lane group's P, from q0's lane; or one frame's, stride 1):
 * S = M P by blocks of AL_HLSIM_ROWS output bins. Each block stores, for every input bin in
 * its band, the AL_HLSIM_ROWS matrix entries contiguously; the block's rows are taken one
 * native register (AL_VFN_LANES rows) at a time, so that the sums stay in registers (two
 * accumulators per frame hide the FMA latency) and each matrix vector loaded serves every
 * frame. Per frame and row, the arithmetic is the same for any NB, q0, stride and register
 * width. */
static inline __attribute__((always_inline)) void
smear_product(const al_hlsim_ear *e, batch_work b, const float *p0, int32_t stride, int32_t q0,
              const int NB)
{
    for (int32_t blk = 0; blk < e->frame_len / AL_HLSIM_ROWS; blk++) {
        const int32_t start = e->smear_start[blk], len = e->smear_len[blk];
        const float *p = p0 + (int64_t)start * stride;
        for (int32_t r = 0; r < AL_HLSIM_ROWS; r += AL_VFN_LANES) {
            const float *v = e->smear + e->smear_offset[blk] + r;
            al_vfn a0[AL_HLSIM_BATCH], a1[AL_HLSIM_BATCH];
            for (int q = 0; q < NB; q++) a0[q] = a1[q] = (al_vfn){0.0f};
            int32_t j = 0;
            for (; j + 1 < len; j += 2) {
                const al_vfn m0 = al_load_vfn(v + (int64_t)j * AL_HLSIM_ROWS);
                const al_vfn m1 = al_load_vfn(v + (int64_t)(j + 1) * AL_HLSIM_ROWS);
                const float *pj = p + (int64_t)j * stride;
                for (int q = 0; q < NB; q++) {
                    a0[q] += m0 * pj[q];
                    a1[q] += m1 * pj[stride + q];
                }
            }
            if (j < len) {
                const al_vfn m0 = al_load_vfn(v + (int64_t)j * AL_HLSIM_ROWS);
                const float *pj = p + (int64_t)j * stride;
                for (int q = 0; q < NB; q++) a0[q] += m0 * pj[q];
            }
            float *out = b.smeared + (int64_t)q0 * e->frame_len + blk * AL_HLSIM_ROWS + r;
            for (int q = 0; q < NB; q++)
                al_store_vfn(out + (int64_t)q * e->frame_len, a0[q] + a1[q]);
        }
    }
}

/* Frames per pass over the matrix: as many as keep their accumulators (two registers per
 * frame) in registers, beside the two matrix vectors; a divisor of AL_VFN_LANES. */
#if defined(__AVX512F__)
enum { SMEAR_GROUP = 8 };
#else
enum { SMEAR_GROUP = 4 };
#endif
_Static_assert((int)AL_VFN_LANES % (int)SMEAR_GROUP == 0, "a pass stays in one lane group");

/* S of the first n frames of the lane groups. */
static void smear_products(const al_hlsim_ear *e, batch_work b, int32_t n)
{
    for (int32_t q = 0; q < n;) {
        const float *p0 = (const float *)group_slots(e, b, q / AL_VFN_LANES).pw +
                          q % AL_VFN_LANES;
        if (q + SMEAR_GROUP <= n) {
            smear_product(e, b, p0, AL_VFN_LANES, q, SMEAR_GROUP);
            q += SMEAR_GROUP;
        } else {
            smear_product(e, b, p0, AL_VFN_LANES, q, 1);
            q++;
        }
    }
}

/* The start of an inverse real FFT of size 2k on element type T: the spectrum (xr, xi) merged
 * into the conjugated half-size complex input in bit-reversed order (re, im; rfft_merge), then
 * its first two stages. */
#define FFT_INVERSE_START(T, xr, xi, k, twr, twi, rev, re, im)                             \
    do {                                                                                  \
        (re)[0] = 0.5f * ((xr)[0] + (xr)[k]) - 0.5f * ((xr)[0] - (xr)[k]) * (twi)[0];     \
        (im)[0] = -0.5f * ((xr)[0] - (xr)[k]) * (twr)[0];                                 \
        for (int32_t m_ = 1; m_ < (k); m_++)                                              \
            FFT_MERGE(T, (xr)[m_], (xi)[m_], (xr)[(k) - m_], -(xi)[(k) - m_], (twr)[m_],   \
                      (twi)[m_], (re)[(rev)[m_]], (im)[(rev)[m_]]);                       \
        for (int32_t i_ = 0; i_ < (k); i_ += 4)                                           \
            FFT_FIRST4(T, (re)[i_], (im)[i_], (re)[i_ + 1], (im)[i_ + 1], (re)[i_ + 2],    \
                       (im)[i_ + 2], (re)[i_ + 3], (im)[i_ + 3]);                         \
    } while (0)

/* An inverse real FFT of the spectra (xr, xi) of lane group g (FFT_MERGE, then the complex
 * FFT, on lanes), of which only the first frame_len samples are made, stored per frame from
 * out (the group's first frame). */
SMEAR_EXACT static void
group_inverse(const al_hlsim_ear *e, batch_work b, lane_group lg, float *out)
{
    const al_rfft *f = e->fft;
    const int32_t nf = e->frame_len, k = f->n / 2;
    const float *restrict twr = f->rtw_re, *restrict twi = f->rtw_im;
    const int32_t *restrict rev = f->bitrev;
    const al_vfn *restrict xr = lg.xr, *restrict xi = lg.xi;
    al_vfn *restrict re = b.zr, *restrict im = b.zi;
    FFT_INVERSE_START(al_vfn, xr, xi, k, twr, twi, rev, re, im);
    lane_stages(f, re, im, 1); /* k == frame_len (ear_valid) */
    /* The samples (conjugated back, scaled by 1/n), transposed out to the frames. */
    const float scale = 1.0f / (float)k;
    al_vfn *restrict t = lg.pw;
    for (int32_t i = 0; i < nf / 2; i++) {
        t[2 * i] = re[i] * scale;
        t[2 * i + 1] = -im[i] * scale;
    }
    for (int32_t s = 0; s < nf; s += AL_VFN_LANES) {
        al_vfn r[AL_VFN_LANES];
        for (int i = 0; i < AL_VFN_LANES; i++) r[i] = t[s + i];
        al_transpose_vfn(r);
        for (int l = 0; l < AL_VFN_LANES; l++) al_store_vfn(out + (int64_t)l * nf + s, r[l]);
    }
}

/* Step 3 for lane group g: the smeared spectra (a frame without a product has S = 0, so gain
 * 0), each frame's specified energy (sum of the smeared power spectrum / frame_len, summed
 * bin after bin), the two inverse transforms. */
SMEAR_EXACT static void
group_resynth(const al_hlsim_ear *e, batch_work b, int32_t g)
{
    const int32_t nf = e->frame_len, k = e->fft->n / 2, q0 = g * AL_VFN_LANES;
    const lane_group lg = group_slots(e, b, g);
    al_vfn *restrict xr = lg.xr, *restrict xi = lg.xi;
    const al_vfn *restrict p = lg.pw;
    al_vfn spec_sum = {0.0f};
    for (int32_t s = 0; s < nf; s += AL_VFN_LANES) {
        al_vfn sm[AL_VFN_LANES];
        for (int l = 0; l < AL_VFN_LANES; l++)
            sm[l] = al_load_vfn(b.smeared + (int64_t)(q0 + l) * nf + s);
        al_transpose_vfn(sm);
        for (int i = 0; i < AL_VFN_LANES; i++) {
            /* The smearing matrix deconvolves, so a sum can dip below zero: no energy there. */
            const al_vin on = (sm[i] > 0.0f) & (p[s + i] > 0.0f);
            al_vfn gain = (al_vfn)((al_vin)(sm[i] / p[s + i]) & on);
            for (int l = 0; l < AL_VFN_LANES; l++) gain[l] = __builtin_sqrtf(gain[l]);
            spec_sum += (al_vfn)((al_vin)sm[i] & on);
            xr[s + i] *= gain;
            xi[s + i] *= gain;
        }
    }
    for (int32_t m = nf; m <= k; m++) xr[m] = xi[m] = (al_vfn){0.0f};
    for (int l = 0; l < AL_VFN_LANES; l++)
        b.energy[q0 + l] = spec_sum[l] * b.pmax[q0 + l] / (float)nf;
    group_inverse(e, b, lg, b.out + (int64_t)q0 * nf);
    for (int32_t m = 0; m < nf; m++) { /* the same frames at the cochlea */
        xr[m] *= e->ome_amp[m];
        xi[m] *= e->ome_amp[m];
    }
    group_inverse(e, b, lg, b.out_c + (int64_t)q0 * nf);
}

/* A frame with nothing to add: silent, or not finite. */
static inline int frame_silent(float pmax) { return !(pmax > 0.0f) || al_is_nonfinite(pmax); }

/* smear_products for a batch of one frame (P p, stride 1); outside smear_frame (SMEAR_EXACT),
 * so that its multiply-adds are smear_products'. */
__attribute__((noinline)) static void frame_product(const al_hlsim_ear *e, batch_work b,
                                                    const float *p)
{
    smear_product(e, b, p, 1, 0, 1);
}

/* group_inverse of one frame's spectrum (xr, xi; floats) into out. */
SMEAR_EXACT static void
frame_inverse(const al_hlsim_ear *e, batch_work b, const float *restrict xr,
              const float *restrict xi, float *restrict out)
{
    const al_rfft *f = e->fft;
    const int32_t nf = e->frame_len, k = f->n / 2;
    const float *restrict twr = f->rtw_re, *restrict twi = f->rtw_im;
    const int32_t *restrict rev = f->bitrev;
    float *restrict re = (float *)b.zr, *restrict im = (float *)b.zi;
    FFT_INVERSE_START(float, xr, xi, k, twr, twi, rev, re, im);
    frame_stages(f, re, im, 1);
    const float scale = 1.0f / (float)k;
    for (int32_t i = 0; i < nf / 2; i++) {
        out[2 * i] = re[i] * scale;
        out[2 * i + 1] = -im[i] * scale;
    }
}

/* The three steps for a batch of one frame (st, frame_len samples), as frame 0 of the batch;
 * the spectrum and P go to lane group 0's space as floats. */
SMEAR_EXACT static void
smear_frame(al_hlsim_ear *e, const float *st)
{
    const al_rfft *f = e->fft;
    const int32_t nf = e->frame_len, k = f->n / 2;
    const batch_work b = batch_slots(e);
    const lane_group lg = group_slots(e, b, 0);
    float *restrict re = (float *)b.zr, *restrict im = (float *)b.zi;
    float *restrict xr = (float *)lg.xr, *restrict xi = (float *)lg.xi;
    float *restrict p = (float *)lg.pw;
    const int32_t *restrict rev = f->bitrev;
    const float *restrict w = e->window;
    for (int32_t i = 0; i < k; i += 4) {
        const int32_t s0 = 2 * rev[i], s2 = 2 * rev[i + 2];
        const float r0 = st[s0] * w[s0], q0 = st[s0 + 1] * w[s0 + 1];
        const float r2 = st[s2] * w[s2], q2 = st[s2 + 1] * w[s2 + 1];
        FFT_PADDED4(float, r0, q0, r2, q2, re[i], im[i], re[i + 1], im[i + 1], re[i + 2],
                    im[i + 2], re[i + 3], im[i + 3]);
    }
    frame_stages(f, re, im, 0);
    const float *restrict twr = f->rtw_re, *restrict twi = f->rtw_im;
    xr[0] = re[0] + im[0];
    xi[0] = 0.0f;
    xr[k] = re[0] - im[0];
    xi[k] = 0.0f;
    for (int32_t m = 1; m < k; m++)
        FFT_SPLIT(float, re[m], im[m], re[k - m], -im[k - m], twr[m], twi[m], xr[m], xi[m]);
    float pmax = 0.0f;
    for (int32_t m = 0; m < nf; m++) {
        const float pk = (xr[m] * xr[m] + xi[m] * xi[m]) * e->ome_pow[m];
        p[m] = pk;
        pmax = pk > pmax ? pk : pmax;
    }
    b.pmax[0] = pmax;
    if (frame_silent(pmax)) return; /* smear_add adds nothing */
    const float inv = 1.0f / pmax;
    for (int32_t m = 0; m < nf; m++) p[m] *= inv;
    frame_product(e, b, p);
    const float *restrict sm = b.smeared;
    float spec_sum = 0.0f;
    for (int32_t m = 0; m < nf; m++) {
        const int on = sm[m] > 0.0f && p[m] > 0.0f;
        const float gain = __builtin_sqrtf(on ? sm[m] / p[m] : 0.0f);
        spec_sum += on ? sm[m] : 0.0f;
        xr[m] *= gain;
        xi[m] *= gain;
    }
    for (int32_t m = nf; m <= k; m++) xr[m] = xi[m] = 0.0f;
    b.energy[0] = spec_sum * pmax / (float)nf;
    frame_inverse(e, b, xr, xi, b.out);
    for (int32_t m = 0; m < nf; m++) {
        xr[m] *= e->ome_amp[m];
        xi[m] *= e->ome_amp[m];
    }
    frame_inverse(e, b, xr, xi, b.out_c);
}

/* The frames of the n_batch events from x index j_event on (every hop samples): frame q ends
 * at x[j_event + q hop]; in_buf holds the frame_len samples ending at x[j_event]. */
static void smear_batch(al_hlsim_ear *e, const float *x, int64_t j_event, int32_t n_batch)
{
    if (n_batch == 1) {
        smear_frame(e, e->in_buf);
        return;
    }
    const int32_t nf = e->frame_len, hop = e->hop;
    const int32_t n_groups = (n_batch + AL_VFN_LANES - 1) / AL_VFN_LANES;
    const batch_work b = batch_slots(e);
    /* The batch's samples, frame q from st[q hop] on; frames past n_batch get silence. */
    float *st = e->frame;
    const int32_t n_in = (n_batch - 1) * hop, n_st = nf + (n_groups * AL_VFN_LANES - 1) * hop;
    memcpy(st, e->in_buf, sizeof(float) * (size_t)nf);
    memcpy(st + nf, x + j_event + 1, sizeof(float) * (size_t)n_in);
    memset(st + nf + n_in, 0, sizeof(float) * (size_t)(n_st - nf - n_in));
    for (int32_t g = 0; g < n_groups; g++)
        group_power(e, st + (int64_t)g * AL_VFN_LANES * hop, b, g);
    /* A silent frame's product is garbage, and one past n_batch is not made: step 3 gives
     * both gain 0 (P is not > 0, S is 0). */
    smear_products(e, b, n_batch);
    memset(b.smeared + (int64_t)n_batch * nf, 0,
           sizeof(float) * (size_t)((n_groups * AL_VFN_LANES - n_batch) * nf));
    for (int32_t g = 0; g < n_groups; g++) group_resynth(e, b, g);
}

/* Overlap-add of frame q of the batch (smear_batch) into the accumulators; returns its
 * specified energy. */
static float smear_add(al_hlsim_ear *e, int32_t q)
{
    const int32_t nf = e->frame_len;
    const batch_work b = batch_slots(e);
    if (frame_silent(b.pmax[q])) return 0.0f; /* adds nothing */
    float *restrict acc = e->acc, *restrict acc_c = e->acc_c;
    const float *restrict out = b.out + (int64_t)q * nf;
    const float *restrict out_c = b.out_c + (int64_t)q * nf;
    for (int32_t i = 0; i < nf; i++) acc[i] += e->window[i] * out[i];
    for (int32_t i = 0; i < nf; i++) acc_c[i] += e->window[i] * out_c[i];
    return b.energy[q];
}

/* Power correction of n output samples: y (free field) times sqrt(specified / realised),
 * realised measured on yc (the same samples at the cochlea); 1 until both are known. The
 * smoothers' recursion runs first, by chunks, so that the gains then vectorise; each smoother
 * step, avg + a (v - avg), is taken as (1 - a) avg + a v, one multiply-add on the recursion's
 * path instead of a subtraction and a multiply-add. */
static void power_correct(al_hlsim_ear *e, const float *restrict y, const float *restrict yc,
                          float *restrict out, int32_t n)
{
    enum { CHUNK = 64 };
    const float a = e->pc_coef, keep = 1.0f - a, a_spec = a * e->pc_spec;
    const float hi = e->pc_max_gain, lo = 1.0f / e->pc_max_gain;
    float t = e->pc_spec_avg, r = e->pc_real_avg;
    for (int32_t i0 = 0; i0 < n; i0 += CHUNK) {
        const int32_t len = n - i0 < CHUNK ? n - i0 : CHUNK;
        float ts[CHUNK], rs[CHUNK];
        for (int32_t i = 0; i < len; i++) {
            t = keep * t + a_spec;
            r = keep * r + a * (yc[i0 + i] * yc[i0 + i]);
            ts[i] = t;
            rs[i] = r;
        }
        for (int32_t i = 0; i < len; i++) {
            float g = sqrtf(ts[i] / rs[i]);
            g = g > hi ? hi : (g < lo ? lo : g);
            const int known = ts[i] > 0.0f && rs[i] > 1e-30f;
            out[i0 + i] = known ? y[i0 + i] * g : y[i0 + i];
        }
    }
    e->pc_spec_avg = t;
    e->pc_real_avg = r;
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
            power_correct(e, e->acc + base, e->acc_c + base, x + j, n_plain);
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
                e->pc_e1 = smear_add(e, batched++);
            } else {
                for (int32_t i = 0; i < nf; i++) e->acc[i] += e->window_sq[i] * e->in_buf[i];
            }
            memmove(e->in_buf, e->in_buf + hop, keep);
            e->phase = 0;
            if (on) power_correct(e, e->acc, e->acc_c, x + j + len - 1, 1);
            else x[j + len - 1] = e->acc[0];
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
        !e->batch || !e->ome_pow || !e->ome_amp || !e->acc_c)
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
