/* The one biquad of the C sources (not part of the cdef'd interface): a second-order section
 * in transposed direct form II, b0 b1 b2 a1 a2 with a0 = 1 (scipy.signal's sosfilt form).
 * It is a macro because the kernels run it on float64 scalars and on GCC vectors of float32
 * and float64 lanes, and C has no generics over vector types; one text also keeps one
 * rounding order, so every kernel filters alike. */
#ifndef AL_BIQUAD_H
#define AL_BIQUAD_H

/* y = section(x), advancing the state (z0, z1); y, z0 and z1 are lvalues of one type, the
 * coefficients scalars or vectors of it. (b1 x + z1) does not wait for y, so the loop-carried
 * path z0 -> y -> z0 is two multiply-adds. x is read once, so y may be x itself. */
#define AL_BIQUAD_TDF2(y, x, b0, b1, b2, a1, a2, z0, z1)  \
    do {                                                  \
        const __typeof__(y) al_biquad_in_ = (x);          \
        (y) = (b0) * al_biquad_in_ + (z0);                \
        (z0) = ((b1) * al_biquad_in_ + (z1)) - (a1) * (y); \
        (z1) = (b2) * al_biquad_in_ - (a2) * (y);          \
    } while (0)

#endif
