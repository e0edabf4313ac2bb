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

/* 16 float32 lanes: the blocks of smearing-matrix rows of the hearing-loss simulator
 * (AL_HLSIM_ROWS) and the wdrc kernel's fast log/exp users; band groups that keep states in
 * registers use al_vfn (one native register) instead. */
enum { AL_VF16_LANES = 16 };
typedef float al_vf16 __attribute__((vector_size(4 * AL_VF16_LANES)));
typedef int32_t al_vi16 __attribute__((vector_size(4 * AL_VF16_LANES)));

AL_SIMD_LOAD_STORE(al_vf16, float, vf16)

/* al_splat_NAME(a), al_select_NAME(mask, a, b) (lane-wise mask ? a : b; a comparison of two
 * VEC gives the mask, -1 true, 0 false), al_max_NAME, al_min_NAME and al_abs_NAME (the sign
 * bit cleared) of a float32 vector type VEC with the int32 vector type IVEC of its lanes. */
#define AL_SIMD_FLOAT_OPS(VEC, IVEC, NAME)                                                 \
    static inline VEC al_splat_##NAME(float a) { return (VEC){0} + a; }                   \
    static inline VEC al_select_##NAME(IVEC mask, VEC a, VEC b)                           \
    {                                                                                     \
        return (VEC)(((IVEC)a & mask) | ((IVEC)b & ~mask));                               \
    }                                                                                     \
    static inline VEC al_max_##NAME(VEC a, VEC b) { return al_select_##NAME(a > b, a, b); } \
    static inline VEC al_min_##NAME(VEC a, VEC b) { return al_select_##NAME(a < b, a, b); } \
    static inline VEC al_abs_##NAME(VEC v) { return (VEC)((IVEC)v & ((IVEC){0} + 0x7fffffff)); }

AL_SIMD_FLOAT_OPS(al_vf16, al_vi16, vf16)

/* float64 lanes of one native register: the band groups of the SOS filterbank, whose state
 * must stay in registers (a wider vector would spill), and the STOI kernels. AL_VD_LANES float32 of the same lanes
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

/* float32 lanes of one native register, and the in-register transpose of AL_VFN_LANES such
 * vectors: the band-major view of a block of band outputs computed sample-major (the
 * gammatone delay-sum). Stage b swaps, between rows i and i + b (bit b of i clear), the
 * elements whose column has bit b set with those of the partner row whose column has it
 * clear; after every bit, element (i, c) has gone to (c, i). */
#if defined(__AVX512F__)
#define AL_VFN_WIDTH_ 16
#define AL_VFN_T1_LO_ 0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30
#define AL_VFN_T1_HI_ 1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31
#define AL_VFN_T2_LO_ 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29
#define AL_VFN_T2_HI_ 2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31
#define AL_VFN_T4_LO_ 0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27
#define AL_VFN_T4_HI_ 4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31
#define AL_VFN_T8_LO_ 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23
#define AL_VFN_T8_HI_ 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31
#elif defined(__AVX__)
#define AL_VFN_WIDTH_ 8
#define AL_VFN_T1_LO_ 0, 8, 2, 10, 4, 12, 6, 14
#define AL_VFN_T1_HI_ 1, 9, 3, 11, 5, 13, 7, 15
#define AL_VFN_T2_LO_ 0, 1, 8, 9, 4, 5, 12, 13
#define AL_VFN_T2_HI_ 2, 3, 10, 11, 6, 7, 14, 15
#define AL_VFN_T4_LO_ 0, 1, 2, 3, 8, 9, 10, 11
#define AL_VFN_T4_HI_ 4, 5, 6, 7, 12, 13, 14, 15
#else
#define AL_VFN_WIDTH_ 4
#define AL_VFN_T1_LO_ 0, 4, 2, 6
#define AL_VFN_T1_HI_ 1, 5, 3, 7
#define AL_VFN_T2_LO_ 0, 1, 4, 5
#define AL_VFN_T2_HI_ 2, 3, 6, 7
#endif
enum { AL_VFN_LANES = AL_VFN_WIDTH_ };
typedef float al_vfn __attribute__((vector_size(4 * AL_VFN_LANES)));
typedef int32_t al_vin __attribute__((vector_size(4 * AL_VFN_LANES)));

AL_SIMD_LOAD_STORE(al_vfn, float, vfn)
AL_SIMD_FLOAT_OPS(al_vfn, al_vin, vfn)

#if defined(__clang__)
#define AL_VFN_SHUFFLE_(a, b, MASK) __builtin_shufflevector(a, b, MASK)
#else
#define AL_VFN_SHUFFLE_(a, b, MASK) __builtin_shuffle(a, b, (al_vin){MASK})
#endif

#define AL_VFN_STAGE_(v, B)                                                           \
    for (int i_ = 0; i_ < AL_VFN_LANES; i_++)                                         \
        if (!(i_ & (B))) {                                                            \
            const al_vfn lo_ = AL_VFN_SHUFFLE_(v[i_], v[i_ + (B)], AL_VFN_T##B##_LO_); \
            const al_vfn hi_ = AL_VFN_SHUFFLE_(v[i_], v[i_ + (B)], AL_VFN_T##B##_HI_); \
            v[i_] = lo_;                                                              \
            v[i_ + (B)] = hi_;                                                        \
        }

static inline __attribute__((always_inline)) void al_transpose_vfn(al_vfn v[AL_VFN_LANES])
{
    AL_VFN_STAGE_(v, 1)
    AL_VFN_STAGE_(v, 2)
#if AL_VFN_WIDTH_ >= 8
    AL_VFN_STAGE_(v, 4)
#endif
#if AL_VFN_WIDTH_ >= 16
    AL_VFN_STAGE_(v, 8)
#endif
}

#endif
