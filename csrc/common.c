#include "al_internal.h"

/* Bumped whenever a struct layout or signature in audiolab.h changes. */
int al_abi_version(void) { return 1; }
