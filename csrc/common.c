#include "al_internal.h"
#include "isa/al_isa.h"

/* Bumped whenever a struct layout or signature in audiolab.h changes, together with
 * ABI_VERSION in audiolab/_ckernel.py, which refuses an extension built for another. */
int al_abi_version(void) { return 4; }

int32_t al_cpu_selected = AL_CPU_BASELINE;

int32_t al_cpu_supported(int32_t path)
{
    if (path == AL_CPU_BASELINE) return 1;
#if AL_ISA_VARIANTS
    __builtin_cpu_init();
#if __GNUC__ >= 12
    /* The ISA levels the variants are built for (the check includes the OS's saving of the
     * vector registers). */
    if (path == AL_CPU_AVX2) return __builtin_cpu_supports("x86-64-v3") ? 1 : 0;
    if (path == AL_CPU_AVX512) return __builtin_cpu_supports("x86-64-v4") ? 1 : 0;
#else
    const int v3 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                   __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2");
    if (path == AL_CPU_AVX2) return v3;
    if (path == AL_CPU_AVX512)
        return v3 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512dq") &&
               __builtin_cpu_supports("avx512vl");
#endif
#endif
    return 0;
}

al_status al_cpu_select(int32_t path)
{
    if (!al_cpu_supported(path)) return AL_ERR_VALUE;
    al_cpu_selected = path;
    return AL_OK;
}

const char *al_cpu_path(void)
{
    switch (al_cpu_selected) {
    case AL_CPU_AVX512: return "avx512";
    case AL_CPU_AVX2: return "avx2+fma";
    default: return "baseline";
    }
}
