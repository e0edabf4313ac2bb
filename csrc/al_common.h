/* Status codes shared by every kernel; audiolab/_ckernel.py maps them to exceptions. */
#ifndef AL_COMMON_H
#define AL_COMMON_H

#include <stdint.h>

typedef enum {
    AL_OK = 0,
    AL_ERR_NULL = 1,        /* a required pointer was NULL */
    AL_ERR_SIZE = 2,        /* a count or size out of range */
    AL_ERR_VALUE = 3,       /* a parameter value out of range */
    AL_ERR_NONFINITE = 4,   /* NaN or inf met where it is not allowed */
    AL_ERR_STATE = 5        /* the state struct does not match the call */
} al_status;

int al_abi_version(void);

/* The hot kernels are built for several instruction sets and one of them runs (csrc/isa/):
 * the baseline of the architecture (x86-64: SSE2), AVX2 + FMA (x86-64-v3) and AVX-512
 * (x86-64-v4), the last two only on x86-64 with GCC. */
typedef enum { AL_CPU_BASELINE = 0, AL_CPU_AVX2 = 1, AL_CPU_AVX512 = 2 } al_cpu;

/* 1 if the kernels of path were built and this CPU (and OS) runs them, else 0. */
int32_t al_cpu_supported(int32_t path);

/* Run path from now on (every later kernel call); AL_ERR_VALUE if it is not supported. Set
 * once at import (audiolab/_ckernel.py), before any audio runs. */
al_status al_cpu_select(int32_t path);

/* The path that runs: "avx512", "avx2+fma" or "baseline"; the bench records it beside its
 * figures. A static string, never freed. */
const char *al_cpu_path(void);

/* A processing stage the real-time engine can run: x is planar (n_channels, n_frames) float32
 * sound pressure in Pa, processed in place; state is the stage's own struct. */
typedef al_status (*al_stage_fn)(void *state, float *x, int32_t n_channels, int64_t n_frames);

#endif
