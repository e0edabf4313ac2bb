/* audiolab C kernels: the one header.
 *
 * Included by every C source and read (includes expanded, other preprocessor lines dropped)
 * by cffi's cdef() in audiolab/_build_kernels.py.  So: plain declarations only, constants as
 * enums, no macros, no inline bodies.  Each area keeps its declarations in its own al_*.h file;
 * every header has an include guard and includes what it uses (tests/test_c_hygiene.py).
 * The C sources' own helpers live in headers this one never includes: al_internal.h (denormal
 * mode, the non-finite test), al_simd.h (vector types), al_fastmath.h (log and exp),
 * al_biquad.h (the biquad section) and al_gammatone_impl.h (gammatone steps).
 *
 * Conventions: kernels work in place on caller-owned buffers, never allocate or do I/O, keep
 * their state in structs that Python allocates, and return an al_status (AL_OK == 0).
 */
#ifndef AUDIOLAB_H
#define AUDIOLAB_H

#include <stdint.h>

#include "al_common.h"
#include "al_sos.h"
#include "al_gammatone.h"
#include "al_level.h"
#include "al_wdrc.h"
#include "al_chain.h"
#include "al_ci.h"
#include "al_hlsim.h"
#include "al_sosbank.h"
#include "al_engine.h"
#include "al_route.h"
#include "al_stoi.h"
#include "al_ear_model.h"

#endif
