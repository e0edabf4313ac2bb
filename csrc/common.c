#include "al_internal.h"

/* Bumped whenever a struct layout or signature in audiolab.h changes, together with
 * ABI_VERSION in audiolab/_ckernel.py, which refuses an extension built for another. */
int al_abi_version(void) { return 1; }
