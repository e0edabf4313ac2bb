/* Status codes shared by every kernel; audiolab/_ckernel.py maps them to exceptions. */
typedef enum {
    AL_OK = 0,
    AL_ERR_NULL = 1,        /* a required pointer was NULL */
    AL_ERR_SIZE = 2,        /* a count or size out of range */
    AL_ERR_VALUE = 3,       /* a parameter value out of range */
    AL_ERR_NONFINITE = 4,   /* NaN or inf met where it is not allowed */
    AL_ERR_STATE = 5        /* the state struct does not match the call */
} al_status;

int al_abi_version(void);
