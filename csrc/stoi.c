/* STOI's resampling to 10 kHz (see al_stoi.h): a polyphase FIR whose inner loop is a
 * contiguous dot product, so the compiler vectorises it. */
#include "audiolab.h"

al_status al_stoi_resample(const double *x, int64_t n_in, double *y, int64_t n_out,
                           const double *phases, int32_t up, int32_t down, int32_t n_taps,
                           int64_t half_len)
{
    if (!x || !y || !phases) return AL_ERR_NULL;
    if (n_in < 1 || n_out < 0 || up < 1 || down < 1 || n_taps < 1 || half_len < 0)
        return AL_ERR_SIZE;
    for (int64_t m = 0; m < n_out; m++) {
        int64_t t = m * (int64_t)down + half_len;
        int64_t p = t % up;
        int64_t q = t / up;
        const double *g = phases + p * (int64_t)n_taps;
        int64_t start = q - n_taps + 1;  /* x index of g[0] */
        double acc = 0.0;
        if (start >= 0 && q < n_in) {
            /* Eight partial sums: without reassociation (no -ffast-math) one accumulator
             * would be a serial chain; these map onto vector registers. */
            const double *xs = x + start;
            double part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            int32_t i = 0;
            for (; i + 8 <= n_taps; i += 8)
                for (int k = 0; k < 8; k++) part[k] += g[i + k] * xs[i + k];
            for (; i < n_taps; i++) acc += g[i] * xs[i];
            acc += ((part[0] + part[4]) + (part[1] + part[5]))
                 + ((part[2] + part[6]) + (part[3] + part[7]));
        } else {
            int64_t i0 = start < 0 ? -start : 0;
            int64_t i1 = q < n_in ? n_taps : n_taps - (q - n_in + 1);
            for (int64_t i = i0; i < i1; i++) acc += g[i] * x[start + i];
        }
        y[m] = acc;
    }
    return AL_OK;
}
