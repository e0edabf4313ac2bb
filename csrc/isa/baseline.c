/* The hot kernels for the architecture's baseline (x86-64: SSE2): the path of last resort,
 * and the one AUDIOLAB_CPU_PATH=baseline forces. */
#define AL_ISA_SUFFIX _baseline
#include "kernels.h"
