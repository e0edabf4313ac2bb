/* The hot sources, built once per instruction set (baseline.c, avx2.c, avx512.c) with their
 * public functions renamed by AL_ISA_SUFFIX. audiolab/_build_kernels.py reads the list
 * below and leaves these files out of the plain build. */
#ifndef AL_ISA_KERNELS_H
#define AL_ISA_KERNELS_H

#include "al_isa_names.h"

#include "../chain.c"
#include "../ci.c"
#include "../gammatone.c"
#include "../hlsim.c"
#include "../level.c"
#include "../sos.c"
#include "../sosbank.c"
#include "../stoi.c"
#include "../wdrc.c"

#endif
