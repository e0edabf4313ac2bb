/* Routing stages of the real-time engine: run a stage on a range of a graph's channels, and
 * choose (with a crossfade) which range is heard. Together they let one graph run several
 * processing paths side by side, each on its own channels, so that switching between them
 * (A/B/C listening) never restarts a path: every path keeps running with its state, and a
 * switch is a graph swap that changes only the selection. */
#ifndef AL_ROUTE_H
#define AL_ROUTE_H

#include <stdint.h>

#include "al_common.h"

typedef struct {
    int32_t first_channel;   /* first graph channel the inner stage sees */
    int32_t n_channels;      /* how many channels it sees */
    al_stage_fn fn;          /* the inner stage */
    void *state;             /* its state */
} al_channel_range;

/* state: al_channel_range; x: planar (n_channels, n_frames). Runs the inner stage on rows
 * [first_channel, first_channel + n) in place (they are contiguous in a planar block). */
al_status al_channel_range_process(void *state, float *x, int32_t n_channels, int64_t n_frames);

typedef struct {
    int32_t n_channels;      /* channels of one path; the chosen one is written to rows 0..n-1 */
    int32_t from_channel;    /* first row of the path heard before the switch */
    int32_t to_channel;      /* first row of the path heard from now on */
    int64_t fade_frames;     /* raised-cosine crossfade length; 0: switch at once */
    int64_t position;        /* frames run since the stage started (0 at rest) */
} al_select;

/* state: al_select. Rows 0..n-1 become the path at to_channel, faded in from the path at
 * from_channel over the first fade_frames frames the stage runs. Each output sample is a convex
 * combination of the two paths' samples, so it is never larger than the larger of the two. */
al_status al_select_process(void *state, float *x, int32_t n_channels, int64_t n_frames);

#endif
