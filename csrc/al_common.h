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

/* The instruction set the kernels were compiled for ("avx512f", "avx2+fma", "avx", "sse2" or
 * "generic"): the bench records it beside its figures. A static string, never freed. */
const char *al_cpu_path(void);

/* A processing stage the real-time engine can run: x is planar (n_channels, n_frames) float32
 * sound pressure in Pa, processed in place; state is the stage's own struct. */
typedef al_status (*al_stage_fn)(void *state, float *x, int32_t n_channels, int64_t n_frames);

#endif
