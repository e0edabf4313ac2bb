#include "al_internal.h"

/* Bumped whenever a struct layout or signature in audiolab.h changes, together with
 * ABI_VERSION in audiolab/_ckernel.py, which refuses an extension built for another. */
int al_abi_version(void) { return 2; }

const char *al_cpu_path(void)
{
#if defined(__AVX512F__)
    return "avx512f";
#elif defined(__AVX2__) && defined(__FMA__)
    return "avx2+fma";
#elif defined(__AVX__)
    return "avx";
#elif defined(__SSE2__)
    return "sse2";
#else
    return "generic";
#endif
}
