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

/* Natural logarithm of positive normal floats, Cephes logf (Moshier 1989): mantissa reduced
 * to [sqrt(1/2), sqrt(2)), ln(1 + t) = t - t^2/2 + t^3 P(t); about 1 ulp. */
static inline al_vf16 al_log_vf16(al_vf16 x)
{
    const al_vi16 bits = (al_vi16)x;
    al_vi16 e = ((bits >> 23) & 0xff) - 127;
    al_vf16 m = (al_vf16)((bits & 0x007fffff) | 0x3f800000); /* [1, 2) */
    const al_vi16 big = m > al_splat_vf16(1.41421356f);
    m = al_select_vf16(big, m * 0.5f, m);
    e = e - big; /* big is -1 where true */
    const al_vf16 t = m - 1.0f;
    const al_vf16 t2 = t * t;
    al_vf16 p = al_splat_vf16(7.0376836292e-2f);
    p = p * t - 1.1514610310e-1f;
    p = p * t + 1.1676998740e-1f;
    p = p * t - 1.2420140846e-1f;
    p = p * t + 1.4249322787e-1f;
    p = p * t - 1.6668057665e-1f;
    p = p * t + 2.0000714765e-1f;
    p = p * t - 2.4999993993e-1f;
    p = p * t + 3.3333331174e-1f;
    const al_vf16 ef = __builtin_convertvector(e, al_vf16);
    al_vf16 y = t2 * t * p;
    y = y + ef * -2.12194440e-4f;
    y = y - 0.5f * t2;
    return t + y + ef * 0.693359375f;
}

/* e^x for x in [-87, 88] (clamped, so the result is a positive normal float), Cephes expf:
 * x = n ln2 + r, e^r by a degree-5 polynomial, 2^n by the exponent bits; about 1 ulp. */
static inline al_vf16 al_exp_vf16(al_vf16 x)
{
    x = al_min_vf16(al_max_vf16(x, al_splat_vf16(-87.0f)), al_splat_vf16(88.0f));
    al_vf16 fx = x * 1.44269504088896341f + 0.5f;
    al_vi16 n = __builtin_convertvector(fx, al_vi16); /* truncates towards zero */
    al_vf16 nf = __builtin_convertvector(n, al_vf16);
    const al_vi16 over = nf > fx; /* floor for negative values */
    n = n + over;
    nf = __builtin_convertvector(n, al_vf16);
    const al_vf16 r = x - nf * 0.693359375f - nf * -2.12194440e-4f;
    const al_vf16 r2 = r * r;
    al_vf16 p = al_splat_vf16(1.9875691500e-4f);
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    const al_vf16 y = p * r2 + r + 1.0f;
    return y * (al_vf16)((n + 127) << 23);
}

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
