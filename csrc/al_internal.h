/* Helpers for the C sources only; not part of the cdef'd interface. */
#ifndef AL_INTERNAL_H
#define AL_INTERNAL_H

#include "audiolab.h"

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
