/* Helpers for the C sources only; not part of the cdef'd interface. */
#ifndef AL_INTERNAL_H
#define AL_INTERNAL_H

#include <stdint.h>
#include <string.h>

#include "audiolab.h"

/* The one non-finite test of the audio paths: NaN or +-inf, read from the exponent bits, so it
 * holds whatever floating-point flags a kernel is built with and vectorises. Input samples
 * that fail it enter as silence: one bad sample must not poison a recursive state for good. */
static inline int al_is_nonfinite(float v)
{
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    return (bits & 0x7f800000u) == 0x7f800000u;
}

static inline float al_finite_or_zero(float v) { return al_is_nonfinite(v) ? 0.0f : v; }

#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>

/* Flush-to-zero and denormals-are-zero for the duration of one kernel call: recursive filters
 * decaying towards silence otherwise fall into denormals and run 10-100x slower. */
typedef unsigned int al_fpmode;
static inline al_fpmode al_fp_enter(void) {
    unsigned int old = _mm_getcsr();
    _mm_setcsr(old | 0x8040u);
    return old;
}
static inline void al_fp_leave(al_fpmode old) { _mm_setcsr(old); }
#else
typedef int al_fpmode;
static inline al_fpmode al_fp_enter(void) { return 0; }
static inline void al_fp_leave(al_fpmode old) { (void)old; }
#endif

#endif
