/* The hot kernels for AVX2 + FMA (x86-64-v3). The target pragma comes first, so that every
 * header after it, and the vector widths they choose, see the AVX2 macros. */
#include "al_isa.h"
#if AL_ISA_VARIANTS
#pragma GCC target("arch=x86-64-v3")
#define AL_ISA_SUFFIX _avx2
#include "kernels.h"
#endif
