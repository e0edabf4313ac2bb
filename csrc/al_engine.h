/* Real-time engine: the PortAudio callback, its processing graph and the lock-free channels
 * between the audio thread and Python. The callback runs no Python; sounddevice opens the
 * stream with it (as python-rtmixer does). Offline processing calls the very same callback.
 *
 * Per block: device input -> input calibration (digital -> Pa) [or a looping source in Pa]
 * -> chain stages (al_stage_fn, in place) -> routing to output channels -> + stimulus player
 * -> output calibration (NaN/inf -> silence; per-channel equaliser, then Pa -> digital) ->
 * safety ceiling (hard clamp) -> device output; meters through the inverse equaliser (the
 * calibration's model of the transducer: what the clamped output produces, in Pa). */
#ifndef AL_ENGINE_H
#define AL_ENGINE_H

#include <stdint.h>

#include "al_common.h"
#include "al_gammatone.h"

enum {
    AL_ENGINE_MAX_CHANNELS = 16,   /* device inputs/outputs and processing channels */
    AL_ENGINE_MAX_STAGES = 32,
    AL_ENGINE_PLAYER_SLOTS = 16,
    AL_ENGINE_MAX_EQ_SECTIONS = 64, /* output equaliser biquads per channel */
    AL_ENGINE_REC_INPUT = 0,       /* which recording: the device input as received */
    AL_ENGINE_REC_OUTPUT = 1,      /* what leaves the ceiling stage */
    AL_SLOT_FREE = 0,
    AL_SLOT_QUEUED = 1,
    AL_SLOT_PLAYING = 2,
    AL_SLOT_DONE = 3
};

/* PortAudio's PaStreamCallbackTimeInfo (portaudio.h, v19), declared here so that no PortAudio
 * header is needed to build; the flags argument is PaStreamCallbackFlags (unsigned long). */
typedef struct {
    double input_buffer_adc_time;
    double current_time;
    double output_buffer_dac_time;
} al_pa_time_info;

/* The engine state: opaque (it holds C11 atomics). Python allocates al_engine_sizeof() bytes. */
typedef struct al_engine al_engine;

/* A processing configuration, built and validated in Python, published by atomic pointer swap
 * and adopted by the callback at a block boundary (contract: al_engine_publish below). */
typedef struct {
    uint64_t id;
    int32_t n_channels;          /* processing channels (the chain's width) */
    int32_t n_stages;
    al_stage_fn *stage_fn;       /* (n_stages) */
    void **stage_state;          /* (n_stages) */
    const int32_t *in_map;       /* (n_channels) device input feeding each channel, -1: silence */
    const float *in_gain;        /* (n_channels) Pa per digital unit of that input */
    const float *source;         /* (n_channels, source_frames) looping source in Pa, or NULL;
                                  * stream frame t plays source[t % source_frames], so a swap
                                  * between graphs with the same source continues seamlessly */
    int64_t source_frames;
    const int32_t *out_map;      /* (n_outputs) channel routed to each device output, -1: none */
    float *work;                 /* (n_channels, max_frames) scratch */
} al_graph;

/* One record per callback (or offline block), read from a lock-free ring by Python. */
typedef struct {
    uint64_t index;              /* callbacks since al_engine_init */
    int64_t frame;               /* stream frame of the block's first sample */
    int64_t start_ns;            /* CLOCK_MONOTONIC at callback entry */
    double pa_current_time;      /* PortAudio's currentTime and outputBufferDacTime (s), */
    double pa_dac_time;          /* 0 offline */
    uint64_t graph_id;           /* graph that processed this block (0: none) */
    float duration_us;           /* time spent in the callback */
    uint32_t n_frames;
    uint32_t status_flags;       /* PortAudio statusFlags (under/overflow hints) */
    uint32_t overrun;            /* 1 if the callback took longer than the block period */
    uint32_t nonfinite_in;       /* non-finite input/source samples replaced by 0 */
    uint32_t nonfinite_out;      /* non-finite output samples replaced by 0 (silence) */
    uint32_t limited;            /* output samples clamped by the ceiling */
    uint32_t stage_errors;       /* stages that returned an error: block muted */
    float peak_pa[16];           /* per output channel: largest |p| the clamped output produces
                                  * (AL_ENGINE_MAX_CHANNELS), through the inverse equaliser */
    double sum_sq_pa[16];        /* per output channel, sum of p^2 over the block */
} al_block_stats;

typedef struct {
    uint64_t callbacks;
    int64_t frame;               /* next stream frame */
    uint64_t dropped_stats;      /* records lost because Python did not drain the ring in time */
    uint64_t dropped_input_frames;
    uint64_t dropped_output_frames;
    int64_t input_first_frame;   /* stream frame of the first recorded frame, -1: none yet */
    int64_t output_first_frame;
} al_engine_counters;

int64_t al_engine_sizeof(void);

/* ceiling: (n_outputs) digital peak per output, in [0, 1]; digital_per_pa / pa_per_digital:
 * (n_outputs) output calibration at the reference frequency; eq_sos: the output equalisers,
 * eq_n_sections[o] biquads (b0 b1 b2 1 a1 a2) per output one after the other (both NULL: none).
 * Each section must be stable and minimum phase (its inverse drives the meters). Copied into
 * the engine: none of them can change while it runs.
 * stats_buf holds stats_capacity records, rec_*_buf rec_*_frames frames of n_inputs/n_outputs
 * interleaved floats; capacities are powers of two. */
al_status al_engine_init(al_engine *e, int32_t n_inputs, int32_t n_outputs, int32_t max_frames,
                         double fs, const float *ceiling, const float *digital_per_pa,
                         const float *pa_per_digital, const double *eq_sos,
                         const int32_t *eq_n_sections, float *out_work,
                         al_block_stats *stats_buf, int64_t stats_capacity,
                         float *rec_in_buf, int64_t rec_in_frames,
                         float *rec_out_buf, int64_t rec_out_frames);

/* Validate g against the engine and publish it; the callback adopts it at its next block.
 *
 * Contract (the one way a configuration reaches the audio thread):
 * - Ownership: the engine never copies, frees or keeps anything of g but the pointer. The
 *   caller owns g and every array and stage state it points to, and keeps them all alive and
 *   unchanged (stage states are then written only by the stage functions, on the audio thread)
 *   from this call until g is retired.
 * - Retirement: g is retired, and may be freed or reused, once al_engine_active() returns a
 *   graph published after g: the callback adopts graphs in publication order and never goes
 *   back. A graph replaced while still pending (published again before any callback ran) is
 *   retired the same way. While no callback can run (stream stopped or not yet started) the
 *   caller may call al_engine_adopt() and retire the previous graph at once.
 * - Threads: one thread publishes (the engine allows a single producer); publishing is
 *   lock-free and wait-free: validation, then one atomic release store. It never blocks the
 *   callback and the callback never blocks it. Every field of g written before the call is
 *   visible to the callback (release/acquire pairing with the callback's exchange).
 * - What the callback sees: at the start of a callback (a block boundary, never mid-block) it
 *   takes the newest published graph, if any, and runs that one graph for the whole callback.
 *   Stages get the block as planar (n_channels, n <= max_frames) float32 in g->work, in order;
 *   a stage returning an error skips the later stages and mutes the graph's output for that
 *   block (the stimulus player still plays), counted in stage_errors. A looping source
 *   continues at stream frame t -> source[t % source_frames], so graphs with the same source
 *   swap seamlessly. Before any graph is adopted only the stimulus player sounds.
 * Returns AL_ERR_NULL (e not initialised, or a required pointer of g NULL), AL_ERR_SIZE
 * (a count or map entry out of range) or AL_ERR_VALUE (a non-finite input gain); on error
 * nothing is published. */
al_status al_engine_publish(al_engine *e, al_graph *g);
/* The graph the callback is using now (NULL before the first adoption); the graphs published
 * before it are retired. */
al_graph *al_engine_active(al_engine *e);
/* Adopt the pending graph at once, on the calling thread: only while no callback can run
 * (stream stopped), as the callback would at its next block. */
void al_engine_adopt(al_engine *e);

/* PortAudio's PaStreamCallback; user_data is the al_engine. Returns paContinue (0). */
int al_engine_callback(const void *input, void *output, unsigned long frame_count,
                       const al_pa_time_info *time_info, unsigned long status_flags,
                       void *user_data);

/* The same callback over a whole signal, block by block: in (n_frames, n_inputs) and
 * out (n_frames, n_outputs), interleaved float32. */
al_status al_engine_run_offline(al_engine *e, const float *in, float *out, int64_t n_frames,
                                int32_t block_frames);

int64_t al_engine_read_stats(al_engine *e, al_block_stats *dst, int64_t max_records);
void al_engine_set_recording(al_engine *e, int32_t which, int32_t on);
int64_t al_engine_read_recording(al_engine *e, int32_t which, float *dst, int64_t max_frames);
void al_engine_get_counters(al_engine *e, al_engine_counters *out);

/* Stimulus player: data (n_channels, n_frames) in Pa, row k added to device output
 * channels[k]; starts at stream frame start_frame (or at the next block if < 0). */
al_status al_engine_queue(al_engine *e, int32_t slot, const float *data, int32_t n_channels,
                          const int32_t *channels, int64_t n_frames, int64_t start_frame);
int32_t al_engine_slot_state(al_engine *e, int32_t slot, int64_t *start_frame,
                             int64_t *end_frame);
void al_engine_slot_cancel(al_engine *e, int32_t slot);
al_status al_engine_slot_release(al_engine *e, int32_t slot);

/* The fused gammatone analysis -> resynthesis of al_gt_process as an al_stage_fn stage (the
 * engine's test stage until the filterbank module offers one itself). */
typedef struct {
    al_gt_analyzer *analyzer;
    al_gt_synth *synth;
} al_gt_stage;
al_status al_gt_stage_process(void *state, float *x, int32_t n_channels, int64_t n_frames);

#endif
