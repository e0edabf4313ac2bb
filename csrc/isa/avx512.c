/* The hot kernels for AVX-512 (x86-64-v4: F, BW, CD, DQ, VL). The target pragma comes first,
 * so that every header after it, and the vector widths they choose, see the AVX-512 macros. */
#include "al_isa.h"
#if AL_ISA_VARIANTS
#pragma GCC target("arch=x86-64-v4")
#define AL_ISA_SUFFIX _avx512
#include "kernels.h"
#endif
