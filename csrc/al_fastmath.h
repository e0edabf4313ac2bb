/* The one fast log/exp of the C sources (not part of the cdef'd interface): written without
 * libm so that loops over samples or bands vectorise (libm's logf/expf/powf do not).
 * float32: natural log and exp of 16 lanes at once (Cephes, about 1 ulp), for the gain
 * computations of the band kernels. float64: 10 log10 for the level meter, whose levels must
 * stay within 1e-12 dB (a float32 log alone would be off by up to 1e-5 dB). */
#ifndef AL_FASTMATH_H
#define AL_FASTMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "al_simd.h"

/* al_log_NAME(x): natural logarithm of positive normal floats, Cephes logf (Moshier 1989):
 * mantissa reduced to [sqrt(1/2), sqrt(2)), ln(1 + t) = t - t^2/2 + t^3 P(t); about 1 ulp.
 * al_exp_NAME(x): e^x for x in [-87, 88] (clamped, so the result is a positive normal float),
 * Cephes expf: x = n ln2 + r, e^r by a degree-5 polynomial, 2^n by the exponent bits; about
 * 1 ulp. Defined for the float32 vector type VEC with int32 lanes IVEC: al_vf16 (the 16-lane
 * band groups) and al_vfn (one native register). */
#define AL_FASTMATH_LOG_EXP(VEC, IVEC, NAME) \
static inline VEC al_log_##NAME(VEC x)                                                            \
{                                                                                                 \
    const IVEC bits = (IVEC)x;                                                                    \
    IVEC e = ((bits >> 23) & 0xff) - 127;                                                         \
    VEC m = (VEC)((bits & 0x007fffff) | 0x3f800000); /* [1, 2) */                                 \
    const IVEC big = m > al_splat_##NAME(1.41421356f);                                            \
    m = al_select_##NAME(big, m * 0.5f, m);                                                       \
    e = e - big; /* big is -1 where true */                                                       \
    const VEC t = m - 1.0f;                                                                       \
    const VEC t2 = t * t;                                                                         \
    VEC p = al_splat_##NAME(7.0376836292e-2f);                                                    \
    p = p * t - 1.1514610310e-1f;                                                                 \
    p = p * t + 1.1676998740e-1f;                                                                 \
    p = p * t - 1.2420140846e-1f;                                                                 \
    p = p * t + 1.4249322787e-1f;                                                                 \
    p = p * t - 1.6668057665e-1f;                                                                 \
    p = p * t + 2.0000714765e-1f;                                                                 \
    p = p * t - 2.4999993993e-1f;                                                                 \
    p = p * t + 3.3333331174e-1f;                                                                 \
    const VEC ef = __builtin_convertvector(e, VEC);                                               \
    VEC y = t2 * t * p;                                                                           \
    y = y + ef * -2.12194440e-4f;                                                                 \
    y = y - 0.5f * t2;                                                                            \
    return t + y + ef * 0.693359375f;                                                             \
}                                                                                                 \
static inline VEC al_exp_##NAME(VEC x)                                                            \
{                                                                                                 \
    x = al_min_##NAME(al_max_##NAME(x, al_splat_##NAME(-87.0f)), al_splat_##NAME(88.0f));         \
    VEC fx = x * 1.44269504088896341f + 0.5f;                                                     \
    IVEC n = __builtin_convertvector(fx, IVEC); /* truncates towards zero */                      \
    VEC nf = __builtin_convertvector(n, VEC);                                                     \
    const IVEC over = nf > fx; /* floor for negative values */                                    \
    n = n + over;                                                                                 \
    nf = __builtin_convertvector(n, VEC);                                                         \
    const VEC r = x - nf * 0.693359375f - nf * -2.12194440e-4f;                                   \
    const VEC r2 = r * r;                                                                         \
    VEC p = al_splat_##NAME(1.9875691500e-4f);                                                    \
    p = p * r + 1.3981999507e-3f;                                                                 \
    p = p * r + 8.3334519073e-3f;                                                                 \
    p = p * r + 4.1665795894e-2f;                                                                 \
    p = p * r + 1.6666665459e-1f;                                                                 \
    p = p * r + 5.0000001201e-1f;                                                                 \
    const VEC y = p * r2 + r + 1.0f;                                                              \
    return y * (VEC)((n + 127) << 23);                                                            \
}

AL_FASTMATH_LOG_EXP(al_vf16, al_vi16, vf16)
AL_FASTMATH_LOG_EXP(al_vfn, al_vin, vfn)

/* 10 log10(p), p >= 0, in float64; -inf below the smallest normal double (p = 0 is silence).
 * p = z 2^k with z in [sqrt(1/2), sqrt(2)), ln z = 2 atanh(s), s = (z - 1) / (z + 1),
 * |s| < 0.172, series to s^15 (truncation error < 1e-13, i.e. < 1e-12 dB). */
static inline double al_db10_f64(double p)
{
    uint64_t bits;
    memcpy(&bits, &p, sizeof bits);
    const uint64_t tmp = bits - UINT64_C(0x3fe6a09e667f3bcd); /* bits of sqrt(1/2) */
    const int64_t k = (int64_t)tmp >> 52;
    const uint64_t zbits = bits - (tmp & UINT64_C(0xfff0000000000000));
    double z;
    memcpy(&z, &zbits, sizeof z);
    const double s = (z - 1.0) / (z + 1.0), s2 = s * s;
    const double series =
        1.0 + s2 * (1.0 / 3 + s2 * (1.0 / 5 + s2 * (1.0 / 7 + s2 * (1.0 / 9 +
        s2 * (1.0 / 11 + s2 * (1.0 / 13 + s2 * (1.0 / 15)))))));
    const double ln_p = (double)k * 0.6931471805599453 + 2.0 * s * series;
    /* 10 / ln(10) */
    return p >= 2.2250738585072014e-308 ? 4.342944819032518 * ln_p : -INFINITY;
}

#endif
