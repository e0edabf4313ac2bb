/* The one SIMD shim of the C sources (not part of the cdef'd interface): GCC/Clang vector
 * types and their load/store helpers. The compiler splits a vector wider than the target's
 * registers into several, so the code stays portable; unaligned loads and stores go through
 * memcpy, which compiles to a single unaligned move. */
#ifndef AL_SIMD_H
#define AL_SIMD_H

#include <stdint.h>
#include <string.h>

/* al_load_NAME(p) and al_store_NAME(p, v): a vector of type VEC from or to the ELEM array at
 * p, which need not be aligned. One definition for every vector type. */
#define AL_SIMD_LOAD_STORE(VEC, ELEM, NAME)                                           \
    static inline VEC al_load_##NAME(const ELEM *p)                                   \
    {                                                                                 \
        VEC v;                                                                        \
        memcpy(&v, p, sizeof v);                                                      \
        return v;                                                                     \
    }                                                                                 \
    static inline void al_store_##NAME(ELEM *p, VEC v) { memcpy(p, &v, sizeof v); }

/* 16 float32 lanes: the band groups of the hearing-aid compressor and the hearing-loss
 * simulator (AL_WDRC_LANES, AL_HLSIM_LANES). */
enum { AL_VF16_LANES = 16 };
typedef float al_vf16 __attribute__((vector_size(4 * AL_VF16_LANES)));
typedef int32_t al_vi16 __attribute__((vector_size(4 * AL_VF16_LANES)));

AL_SIMD_LOAD_STORE(al_vf16, float, vf16)

static inline al_vf16 al_splat_vf16(float a) { return (al_vf16){0} + a; }

/* Lane-wise mask ? a : b; a comparison of two al_vf16 gives the mask (-1 true, 0 false). */
static inline al_vf16 al_select_vf16(al_vi16 mask, al_vf16 a, al_vf16 b)
{
    return (al_vf16)(((al_vi16)a & mask) | ((al_vi16)b & ~mask));
}

static inline al_vf16 al_max_vf16(al_vf16 a, al_vf16 b) { return al_select_vf16(a > b, a, b); }
static inline al_vf16 al_min_vf16(al_vf16 a, al_vf16 b) { return al_select_vf16(a < b, a, b); }

/* |v|: the sign bit cleared. */
static inline al_vf16 al_abs_vf16(al_vf16 v)
{
    return (al_vf16)((al_vi16)v & ((al_vi16){0} + 0x7fffffff));
}

/* float64 lanes of one native register: the band groups of the SOS filterbank, whose state
 * must stay in registers (a wider vector would spill). AL_VD_LANES float32 of the same lanes
 * (al_vdf) carry the samples in and out. */
#if defined(__AVX512F__)
enum { AL_VD_LANES = 8 };
#define AL_VD_SHIFT_IN_ 8, 0, 1, 2, 3, 4, 5, 6
#elif defined(__AVX__)
enum { AL_VD_LANES = 4 };
#define AL_VD_SHIFT_IN_ 4, 0, 1, 2
#else
enum { AL_VD_LANES = 2 };
#define AL_VD_SHIFT_IN_ 2, 0
#endif
typedef double al_vd __attribute__((vector_size(8 * AL_VD_LANES)));
typedef int64_t al_vdi __attribute__((vector_size(8 * AL_VD_LANES)));
typedef float al_vdf __attribute__((vector_size(4 * AL_VD_LANES)));

AL_SIMD_LOAD_STORE(al_vd, double, vd)

/* AL_VD_LANES float32 widened to float64, and back (rounded to nearest). */
static inline al_vd al_load_vdf(const float *p)
{
    al_vdf f;
    memcpy(&f, p, sizeof f);
    return __builtin_convertvector(f, al_vd);
}

static inline void al_store_vdf(float *p, al_vd v)
{
    const al_vdf f = __builtin_convertvector(v, al_vdf);
    memcpy(p, &f, sizeof f);
}

/* Lanes moved up by one (lane i gets lane i - 1, the top lane drops out) and a in lane 0: one
 * permute, the hand-over between the stages of a skewed (wavefront) pipeline. */
static inline al_vd al_shift_in_vd(al_vd v, double a)
{
    const al_vd s = (al_vd){0} + a;
#if defined(__clang__)
    return __builtin_shufflevector(v, s, AL_VD_SHIFT_IN_);
#else
    return __builtin_shuffle(v, s, (al_vdi){AL_VD_SHIFT_IN_});
#endif
}

/* Lane-wise mask ? a : b for float64 lanes; a comparison of two al_vdi gives the mask. */
static inline al_vd al_select_vd(al_vdi mask, al_vd a, al_vd b)
{
    return (al_vd)(((al_vdi)a & mask) | ((al_vdi)b & ~mask));
}

#endif
