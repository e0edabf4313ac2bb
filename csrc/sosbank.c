#include <string.h>

#include "al_biquad.h"
#include "al_internal.h"
#include "al_simd.h"

/* W bands per group: one register of float64 lanes (al_simd.h). */
enum { W = AL_VD_LANES };
_Static_assert((int)AL_SOSBANK_LANES % (int)W == 0,
               "the band stride is a whole number of groups");

/* Run one group of W bands over len samples. ns is a compile-time constant at every call
 * site, so the loops over sections unroll and the whole cascade state (2 ns vectors) and the
 * coefficients stay in registers: the only serial dependency left is each section's own
 * recursion, and the sections of consecutive samples overlap. x != NULL: every band takes
 * x[j]; x == NULL: band inputs are read from io (row j, this group's lanes). Outputs go to
 * io[j * stride + lane]. */
static inline __attribute__((always_inline)) void
al_sosbank_group(const int ns, const double *coef, int32_t stride, double *state,
                 const float *x, int64_t x_step, float *io, int64_t len)
{
    al_vd b0[AL_SOSBANK_MAX_SECTIONS], b1[AL_SOSBANK_MAX_SECTIONS], b2[AL_SOSBANK_MAX_SECTIONS];
    al_vd a1[AL_SOSBANK_MAX_SECTIONS], a2[AL_SOSBANK_MAX_SECTIONS];
    al_vd z0[AL_SOSBANK_MAX_SECTIONS], z1[AL_SOSBANK_MAX_SECTIONS];
    for (int k = 0; k < ns; k++) {
        const double *c = coef + (int64_t)5 * k * stride;
        b0[k] = al_load_vd(c);
        b1[k] = al_load_vd(c + stride);
        b2[k] = al_load_vd(c + 2 * stride);
        a1[k] = al_load_vd(c + 3 * stride);
        a2[k] = al_load_vd(c + 4 * stride);
        z0[k] = al_load_vd(state + (int64_t)2 * k * stride);
        z1[k] = al_load_vd(state + (int64_t)(2 * k + 1) * stride);
    }
    for (int64_t j = 0; j < len; j++) {
        al_vd v = x ? (al_vd){} + (double)x[j * x_step] : al_load_vdf(io + j * stride);
        for (int k = 0; k < ns; k++)
            AL_BIQUAD_TDF2(v, v, b0[k], b1[k], b2[k], a1[k], a2[k], z0[k], z1[k]);
        al_store_vdf(io + j * stride, v);
    }
    for (int k = 0; k < ns; k++) {
        al_store_vd(state + (int64_t)2 * k * stride, z0[k]);
        al_store_vd(state + (int64_t)(2 * k + 1) * stride, z1[k]);
    }
}

/* All groups of one chunk; the switch gives each section count its own unrolled copy. */
static void al_sosbank_chunk(const al_sosbank *s, double *state, const float *x,
                             int64_t x_step, int64_t len)
{
    for (int32_t g = 0; g < s->stride; g += W) {
        const double *c = s->coef + g;
        double *z = state + g;
        float *io = s->scratch + g;
        switch (s->n_sections) {
#define AL_SOSBANK_CASE(N) \
        case N: al_sosbank_group(N, c, s->stride, z, x, x_step, io, len); break;
        AL_SOSBANK_CASE(1) AL_SOSBANK_CASE(2) AL_SOSBANK_CASE(3) AL_SOSBANK_CASE(4)
        AL_SOSBANK_CASE(5) AL_SOSBANK_CASE(6) AL_SOSBANK_CASE(7) AL_SOSBANK_CASE(8)
#undef AL_SOSBANK_CASE
        default: break;
        }
    }
}

/* Set-up checks, once per call before any sample. */
static inline al_status al_sosbank_valid(const al_sosbank *s, int32_t channel, int64_t n)
{
    if (!s->coef || !s->state || !s->scratch) return AL_ERR_NULL;
    if (s->n_bands < 1 || s->stride < s->n_bands || s->stride % AL_SOSBANK_LANES != 0 ||
        s->n_sections < 1 || s->n_sections > AL_SOSBANK_MAX_SECTIONS || s->n_channels < 1 ||
        channel < 0 || channel >= s->n_channels || n < 0)
        return AL_ERR_SIZE;
    return AL_OK;
}

al_status al_sosbank_analyze(al_sosbank *s, int32_t channel, const float *x, int64_t n,
                             float *out)
{
    if (!s || ((!x || !out) && n > 0)) return AL_ERR_NULL;
    const al_status status = al_sosbank_valid(s, channel, n);
    if (status != AL_OK) return status;
    const int32_t nb = s->n_bands, stride = s->stride;
    double *state = s->state + (int64_t)channel * s->n_sections * 2 * stride;
    const float *scr = s->scratch;
    al_fpmode fp = al_fp_enter();
    for (int64_t start = 0; start < n; start += AL_SOSBANK_CHUNK) {
        const int64_t len = (n - start < AL_SOSBANK_CHUNK) ? n - start : AL_SOSBANK_CHUNK;
        al_sosbank_chunk(s, state, x + start, 1, len);
        /* Band-major store: long contiguous runs into the (n_bands, n) output. */
        for (int32_t b = 0; b < nb; b++) {
            float *o = out + (int64_t)b * n + start;
            for (int64_t j = 0; j < len; j++) o[j] = scr[j * stride + b];
        }
    }
    al_fp_leave(fp);
    return AL_OK;
}

al_status al_sosbank_filter_reversed(al_sosbank *s, int32_t channel, float *bands, int64_t n)
{
    if (!s || (!bands && n > 0)) return AL_ERR_NULL;
    const al_status status = al_sosbank_valid(s, channel, n);
    if (status != AL_OK) return status;
    const int32_t nb = s->n_bands, stride = s->stride;
    double *state = s->state + (int64_t)channel * s->n_sections * 2 * stride;
    float *scr = s->scratch;
    al_fpmode fp = al_fp_enter();
    /* Chunks from the end; within a chunk, row j of the scratch is j samples before its end.
     * Padding lanes are zeroed once so that they never carry garbage into the state. */
    memset(scr, 0, sizeof(float) * AL_SOSBANK_CHUNK * stride);
    for (int64_t stop = n; stop > 0; stop -= AL_SOSBANK_CHUNK) {
        const int64_t len = stop < AL_SOSBANK_CHUNK ? stop : AL_SOSBANK_CHUNK;
        const int64_t first = stop - len;
        for (int32_t b = 0; b < nb; b++) {
            const float *row = bands + (int64_t)b * n + first;
            for (int64_t j = 0; j < len; j++) scr[j * stride + b] = row[len - 1 - j];
        }
        al_sosbank_chunk(s, state, NULL, 0, len);
        for (int32_t b = 0; b < nb; b++) {
            float *row = bands + (int64_t)b * n + first;
            for (int64_t j = 0; j < len; j++) row[len - 1 - j] = scr[j * stride + b];
        }
    }
    al_fp_leave(fp);
    return AL_OK;
}
