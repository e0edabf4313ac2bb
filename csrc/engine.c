/* Real-time engine (declarations and the block diagram: al_engine.h).
 *
 * Threads: the audio thread runs al_engine_callback; Python runs everything else. They share
 * only single-producer single-consumer channels built on C11 atomics: the graph pointer
 * (Python -> callback), the player slots (Python -> callback -> Python), and the stats and
 * recording rings (callback -> Python). The callback never allocates, locks, frees or does I/O.
 */
#include <math.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "al_internal.h"

/* Single-producer single-consumer ring of fixed-size items; capacity is a power of two. The
 * producer publishes with a release store of head, the consumer frees with one of tail. */
typedef struct {
    unsigned char *buf;
    uint64_t mask;
    uint64_t item;
    _Atomic uint64_t head;
    _Atomic uint64_t tail;
    _Atomic uint64_t dropped;
} al_ring;

typedef struct {
    _Atomic int32_t state;
    _Atomic int32_t cancel;
    const float *data;
    int32_t n_channels;
    int32_t channels[AL_ENGINE_MAX_CHANNELS];
    int64_t n_frames;
    int64_t start_request;
    int64_t pos;                 /* callback-private: frames played so far */
    int64_t start_frame;         /* written before the release store of PLAYING/DONE */
    int64_t end_frame;
} al_slot;

struct al_engine {
    int32_t n_inputs, n_outputs, max_frames, ready;
    double fs;
    float ceiling[AL_ENGINE_MAX_CHANNELS];
    float digital_per_pa[AL_ENGINE_MAX_CHANNELS];
    float pa_per_digital[AL_ENGINE_MAX_CHANNELS];
    /* Output equaliser per channel and its inverse (the transducer model behind the meters):
     * coefficients copied at init, state callback-private. */
    al_sos eq[AL_ENGINE_MAX_CHANNELS];
    al_sos model[AL_ENGINE_MAX_CHANNELS];
    double eq_coef[AL_ENGINE_MAX_CHANNELS][AL_ENGINE_MAX_EQ_SECTIONS * 6];
    double model_coef[AL_ENGINE_MAX_CHANNELS][AL_ENGINE_MAX_EQ_SECTIONS * 6];
    double eq_state[AL_ENGINE_MAX_CHANNELS][AL_ENGINE_MAX_EQ_SECTIONS * 2];
    double model_state[AL_ENGINE_MAX_CHANNELS][AL_ENGINE_MAX_EQ_SECTIONS * 2];
    float *out_work;                     /* (n_outputs, max_frames) */
    _Atomic(al_graph *) pending;
    _Atomic(al_graph *) active;
    al_graph *current;                   /* callback-private */
    int64_t frame;                       /* callback-private: next stream frame */
    uint64_t n_callbacks;                /* callback-private */
    _Atomic uint64_t pub_callbacks;      /* copies for Python */
    _Atomic int64_t pub_frame;
    _Atomic int32_t record[2];
    _Atomic int64_t rec_first_frame[2];  /* stream frame of each recording's first frame */
    int32_t rec_was_on[2];               /* callback-private */
    al_ring stats;
    al_ring rec[2];
    al_slot slots[AL_ENGINE_PLAYER_SLOTS];
};

/* -- ring --------------------------------------------------------------------------------- */
static int ring_setup(al_ring *r, void *buf, int64_t capacity, uint64_t item)
{
    if (capacity < 1 || (capacity & (capacity - 1)) != 0 || (!buf && capacity > 0)) return 0;
    r->buf = buf;
    r->mask = (uint64_t)capacity - 1;
    r->item = item;
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    atomic_init(&r->dropped, 0);
    return 1;
}

/* All or nothing, so that a recording never loses part of a block silently. */
static void ring_push(al_ring *r, const void *items, uint64_t n)
{
    const uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    const uint64_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
    if (r->mask + 1 - (head - tail) < n) {
        atomic_fetch_add_explicit(&r->dropped, n, memory_order_relaxed);
        return;
    }
    const uint64_t at = head & r->mask, first = (n < r->mask + 1 - at) ? n : r->mask + 1 - at;
    memcpy(r->buf + at * r->item, items, first * r->item);
    if (n > first)
        memcpy(r->buf, (const unsigned char *)items + first * r->item, (n - first) * r->item);
    atomic_store_explicit(&r->head, head + n, memory_order_release);
}

static int64_t ring_pop(al_ring *r, void *dst, int64_t max)
{
    if (!r->buf || max <= 0) return 0;
    const uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    const uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);
    uint64_t n = head - tail;
    if (n > (uint64_t)max) n = (uint64_t)max;
    const uint64_t at = tail & r->mask, first = (n < r->mask + 1 - at) ? n : r->mask + 1 - at;
    memcpy(dst, r->buf + at * r->item, first * r->item);
    if (n > first) memcpy((unsigned char *)dst + first * r->item, r->buf, (n - first) * r->item);
    atomic_store_explicit(&r->tail, tail + n, memory_order_release);
    return (int64_t)n;
}

/* -- set-up (Python thread) ----------------------------------------------------------------- */
int64_t al_engine_sizeof(void) { return (int64_t)sizeof(struct al_engine); }

/* 1 + c1 z^-1 + c2 z^-2 has both roots strictly inside the unit circle (stability triangle). */
static int roots_inside(double c1, double c2)
{
    return fabs(c2) < 1.0 && fabs(c1) < 1.0 + c2;
}

/* Copy one output's equaliser and derive its inverse; 0 if a section is not finite, stable
 * and minimum phase. */
static int setup_eq(al_engine *e, int32_t o, const double *sos, int32_t n_sections)
{
    for (int32_t k = 0; k < n_sections; k++) {
        const double *q = sos + 6 * k;
        for (int i = 0; i < 6; i++)
            if (!isfinite(q[i])) return 0;
        if (q[3] != 1.0 || q[0] == 0.0 || !roots_inside(q[4], q[5]) ||
            !roots_inside(q[1] / q[0], q[2] / q[0]))
            return 0;
        double *d = e->eq_coef[o] + 6 * k, *m = e->model_coef[o] + 6 * k;
        memcpy(d, q, 6 * sizeof(double));
        /* The inverse swaps zeros and poles: (a0 a1 a2 / b0 b1 b2), normalised by b0. */
        m[0] = 1.0 / q[0];
        m[1] = q[4] / q[0];
        m[2] = q[5] / q[0];
        m[3] = 1.0;
        m[4] = q[1] / q[0];
        m[5] = q[2] / q[0];
    }
    al_sos *fw = &e->eq[o], *inv = &e->model[o];
    fw->n_channels = inv->n_channels = 1;
    fw->n_sections = inv->n_sections = n_sections;
    fw->sos = e->eq_coef[o];
    inv->sos = e->model_coef[o];
    fw->state = e->eq_state[o];
    inv->state = e->model_state[o];
    return 1;
}

al_status al_engine_init(al_engine *e, int32_t n_inputs, int32_t n_outputs, int32_t max_frames,
                         double fs, const float *ceiling, const float *digital_per_pa,
                         const float *pa_per_digital, const double *eq_sos,
                         const int32_t *eq_n_sections, float *out_work,
                         al_block_stats *stats_buf, int64_t stats_capacity,
                         float *rec_in_buf, int64_t rec_in_frames,
                         float *rec_out_buf, int64_t rec_out_frames)
{
    if (!e || !ceiling || !digital_per_pa || !pa_per_digital || !out_work || !stats_buf)
        return AL_ERR_NULL;
    if (n_inputs < 0 || n_inputs > AL_ENGINE_MAX_CHANNELS || n_outputs < 1 ||
        n_outputs > AL_ENGINE_MAX_CHANNELS || max_frames < 1)
        return AL_ERR_SIZE;
    if (!(fs > 0.0) || !isfinite(fs)) return AL_ERR_VALUE;
    if ((eq_sos == NULL) != (eq_n_sections == NULL)) return AL_ERR_NULL;
    memset(e, 0, sizeof *e);
    const double *next_eq = eq_sos;
    for (int32_t o = 0; o < n_outputs; o++) {
        const int32_t ns = eq_n_sections ? eq_n_sections[o] : 0;
        if (ns < 0 || ns > AL_ENGINE_MAX_EQ_SECTIONS) return AL_ERR_SIZE;
        if (!setup_eq(e, o, next_eq, ns)) return AL_ERR_VALUE;
        if (ns) next_eq += 6 * (int64_t)ns;
    }
    for (int32_t o = 0; o < n_outputs; o++) {
        const float c = ceiling[o], g = digital_per_pa[o], s = pa_per_digital[o];
        /* The ceiling is a digital peak: never above full scale, never negative or NaN. */
        if (!(c >= 0.0f && c <= 1.0f) || !(g > 0.0f) || !isfinite(g) || !(s > 0.0f) ||
            !isfinite(s))
            return AL_ERR_VALUE;
        e->ceiling[o] = c;
        e->digital_per_pa[o] = g;
        e->pa_per_digital[o] = s;
    }
    e->n_inputs = n_inputs;
    e->n_outputs = n_outputs;
    e->max_frames = max_frames;
    e->fs = fs;
    e->out_work = out_work;
    atomic_init(&e->pending, NULL);
    atomic_init(&e->active, NULL);
    atomic_init(&e->pub_callbacks, 0);
    atomic_init(&e->pub_frame, 0);
    atomic_init(&e->record[0], 0);
    atomic_init(&e->record[1], 0);
    atomic_init(&e->rec_first_frame[0], -1);
    atomic_init(&e->rec_first_frame[1], -1);
    if (!ring_setup(&e->stats, stats_buf, stats_capacity, sizeof(al_block_stats)))
        return AL_ERR_SIZE;
    if (rec_in_buf && !ring_setup(&e->rec[0], rec_in_buf, rec_in_frames,
                                  sizeof(float) * (uint64_t)(n_inputs > 0 ? n_inputs : 1)))
        return AL_ERR_SIZE;
    if (rec_out_buf && !ring_setup(&e->rec[1], rec_out_buf, rec_out_frames,
                                   sizeof(float) * (uint64_t)n_outputs))
        return AL_ERR_SIZE;
    for (int i = 0; i < AL_ENGINE_PLAYER_SLOTS; i++) {
        atomic_init(&e->slots[i].state, AL_SLOT_FREE);
        atomic_init(&e->slots[i].cancel, 0);
    }
    e->ready = 1;
    return AL_OK;
}

al_status al_engine_publish(al_engine *e, al_graph *g)
{
    if (!e || !e->ready || !g) return AL_ERR_NULL;
    if (g->n_channels < 1 || g->n_channels > AL_ENGINE_MAX_CHANNELS || g->n_stages < 0 ||
        g->n_stages > AL_ENGINE_MAX_STAGES)
        return AL_ERR_SIZE;
    if (!g->in_map || !g->in_gain || !g->out_map || !g->work ||
        (g->n_stages > 0 && (!g->stage_fn || !g->stage_state)))
        return AL_ERR_NULL;
    for (int32_t s = 0; s < g->n_stages; s++)
        if (!g->stage_fn[s]) return AL_ERR_NULL;
    for (int32_t c = 0; c < g->n_channels; c++) {
        if (g->in_map[c] < -1 || g->in_map[c] >= e->n_inputs) return AL_ERR_SIZE;
        if (!isfinite(g->in_gain[c])) return AL_ERR_VALUE;
    }
    for (int32_t o = 0; o < e->n_outputs; o++)
        if (g->out_map[o] < -1 || g->out_map[o] >= g->n_channels) return AL_ERR_SIZE;
    if (g->source && g->source_frames < 1) return AL_ERR_SIZE;
    atomic_store_explicit(&e->pending, g, memory_order_release);
    return AL_OK;
}

al_graph *al_engine_active(al_engine *e)
{
    return e ? atomic_load_explicit(&e->active, memory_order_acquire) : NULL;
}

static void adopt_pending(al_engine *e)
{
    al_graph *p = atomic_exchange_explicit(&e->pending, NULL, memory_order_acq_rel);
    if (p) {
        e->current = p;
        /* From here on the callback never touches the previous graph: Python may free it. */
        atomic_store_explicit(&e->active, p, memory_order_release);
    }
}

void al_engine_adopt(al_engine *e)
{
    if (e && e->ready) adopt_pending(e);
}

/* -- the audio path (audio thread) ----------------------------------------------------------- */
static void read_input(al_engine *e, const al_graph *g, const float *in, int64_t off,
                       int64_t n, int64_t block_frame, uint32_t *nonfinite)
{
    const int32_t ni = e->n_inputs;
    for (int32_t c = 0; c < g->n_channels; c++) {
        /* Stages see x as (n_channels, n) packed, so the row stride is this block's n. */
        float *x = g->work + (int64_t)c * n;
        if (g->source) {
            const float *src = g->source + (int64_t)c * g->source_frames;
            int64_t p = block_frame % g->source_frames;
            for (int64_t j = 0; j < n; j++) {
                x[j] = src[p];
                if (++p == g->source_frames) p = 0;
            }
        } else {
            const int32_t m = g->in_map[c];
            if (m < 0 || !in) {
                memset(x, 0, sizeof(float) * (size_t)n);
                continue;
            }
            const float k = g->in_gain[c];
            const float *src = in + off * ni + m;
            for (int64_t j = 0; j < n; j++) x[j] = src[j * ni] * k;
        }
        for (int64_t j = 0; j < n; j++)
            if (al_is_nonfinite(x[j])) {
                x[j] = 0.0f;
                (*nonfinite)++;
            }
    }
}

static void play_slots(al_engine *e, int64_t block_frame, int64_t n)
{
    for (int i = 0; i < AL_ENGINE_PLAYER_SLOTS; i++) {
        al_slot *s = &e->slots[i];
        int32_t st = atomic_load_explicit(&s->state, memory_order_acquire);
        if (st != AL_SLOT_QUEUED && st != AL_SLOT_PLAYING) continue;
        if (atomic_load_explicit(&s->cancel, memory_order_relaxed)) {
            if (st == AL_SLOT_QUEUED) s->start_frame = -1;
            s->end_frame = block_frame;
            atomic_store_explicit(&s->state, AL_SLOT_DONE, memory_order_release);
            continue;
        }
        int64_t offset = 0;
        if (st == AL_SLOT_QUEUED) {
            if (s->start_request >= block_frame + n) continue;
            offset = s->start_request > block_frame ? s->start_request - block_frame : 0;
            s->start_frame = block_frame + offset;
            s->pos = 0;
            st = AL_SLOT_PLAYING;
            atomic_store_explicit(&s->state, AL_SLOT_PLAYING, memory_order_release);
        }
        int64_t len = n - offset;
        if (len > s->n_frames - s->pos) len = s->n_frames - s->pos;
        for (int32_t k = 0; k < s->n_channels; k++) {
            const float *src = s->data + (int64_t)k * s->n_frames + s->pos;
            float *dst = e->out_work + (int64_t)s->channels[k] * e->max_frames + offset;
            for (int64_t j = 0; j < len; j++) dst[j] += src[j];
        }
        s->pos += len;
        if (s->pos >= s->n_frames) {
            s->end_frame = block_frame + offset + len;
            atomic_store_explicit(&s->state, AL_SLOT_DONE, memory_order_release);
        }
    }
}

/* A filter state that went non-finite (it cannot, for finite input to a stable cascade; kept
 * as a guard) would silence the channel for good: restart it at rest instead. */
static void sos_guard(al_sos *s)
{
    for (int32_t i = 0; i < 2 * s->n_sections; i++)
        if (!isfinite(s->state[i])) {
            memset(s->state, 0, sizeof(double) * 2 * (size_t)s->n_sections);
            return;
        }
}

/* Output calibration, then the safety ceiling: the last stage before the device, applied to
 * every output sample whatever the graph did. A non-finite pressure becomes silence (before the
 * equaliser, whose state it would poison); a finite one is equalised, converted and clamped to
 * +-ceiling (an overflow to inf clamps too). The meters then run the clamped output through
 * the inverse equaliser: the pressure the calibration says the transducer produces. */
static void calibrate_and_limit(al_engine *e, float *out, int64_t off, int64_t n,
                                al_block_stats *st)
{
    const int32_t no = e->n_outputs;
    for (int32_t o = 0; o < no; o++) {
        float *x = e->out_work + (int64_t)o * e->max_frames;
        const float g = e->digital_per_pa[o], c = e->ceiling[o], s = e->pa_per_digital[o];
        const int eq = e->eq[o].n_sections > 0;
        float *dst = out + off * no + o;
        if (eq) {
            for (int64_t j = 0; j < n; j++)
                if (al_is_nonfinite(x[j])) {
                    x[j] = 0.0f;
                    st->nonfinite_out++;
                }
            al_sos_process(&e->eq[o], x, n);
            sos_guard(&e->eq[o]);
        }
        for (int64_t j = 0; j < n; j++) {
            float v = x[j];
            /* After the equaliser only an overflow to +-inf can appear, and that clamps. */
            if (al_is_nonfinite(v) && (!eq || v != v)) {
                v = 0.0f;
                st->nonfinite_out++;
            } else {
                v *= g;
                if (v > c) {
                    v = c;
                    st->limited++;
                } else if (v < -c) {
                    v = -c;
                    st->limited++;
                }
            }
            dst[j * no] = v;
            x[j] = v;
        }
        if (eq) {
            al_sos_process(&e->model[o], x, n);
            sos_guard(&e->model[o]);
        }
        float peak = st->peak_pa[o];
        double sum = 0.0;
        for (int64_t j = 0; j < n; j++) {
            const float p = x[j] * s;
            sum += (double)p * p;
            if (fabsf(p) > peak) peak = fabsf(p);
        }
        st->peak_pa[o] = peak;
        st->sum_sq_pa[o] += sum;
    }
}

static void run_block(al_engine *e, const float *in, float *out, int64_t off, int64_t n,
                      al_block_stats *st)
{
    const al_graph *g = e->current;
    const int32_t no = e->n_outputs;
    for (int32_t o = 0; o < no; o++) memset(e->out_work + (int64_t)o * e->max_frames, 0,
                                             sizeof(float) * (size_t)n);
    if (g) {
        read_input(e, g, in, off, n, e->frame + off, &st->nonfinite_in);
        int ok = 1;
        for (int32_t s = 0; s < g->n_stages && ok; s++)
            if (g->stage_fn[s](g->stage_state[s], g->work, g->n_channels, n) != AL_OK) {
                st->stage_errors++;
                ok = 0;
            }
        if (ok)
            for (int32_t o = 0; o < no; o++) {
                const int32_t m = g->out_map[o];
                if (m >= 0)
                    memcpy(e->out_work + (int64_t)o * e->max_frames, g->work + (int64_t)m * n,
                           sizeof(float) * (size_t)n);
            }
    }
    play_slots(e, e->frame + off, n);
    calibrate_and_limit(e, out, off, n, st);
}

/* Recordings start at a block boundary; the first recorded stream frame is published so that
 * Python can align them (e.g. input against output through a loopback). */
static void record_block(al_engine *e, int which, const float *data, int64_t n)
{
    const int on = atomic_load_explicit(&e->record[which], memory_order_relaxed);
    if (on && data && e->rec[which].buf && (which == 1 || e->n_inputs > 0)) {
        if (!e->rec_was_on[which])
            atomic_store_explicit(&e->rec_first_frame[which], e->frame, memory_order_release);
        ring_push(&e->rec[which], data, (uint64_t)n);
    }
    e->rec_was_on[which] = on;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int al_engine_callback(const void *input, void *output, unsigned long frame_count,
                       const al_pa_time_info *time_info, unsigned long status_flags,
                       void *user_data)
{
    al_engine *e = user_data;
    if (!e || !e->ready) {
        return 2; /* paAbort: nothing sane to play */
    }
    const int64_t t0 = now_ns();
    al_fpmode fp = al_fp_enter();
    adopt_pending(e);
    al_block_stats st;
    memset(&st, 0, sizeof st);
    st.index = e->n_callbacks;
    st.frame = e->frame;
    st.start_ns = t0;
    st.n_frames = (uint32_t)frame_count;
    st.status_flags = (uint32_t)status_flags;
    st.graph_id = e->current ? e->current->id : 0;
    if (time_info) {
        st.pa_current_time = time_info->current_time;
        st.pa_dac_time = time_info->output_buffer_dac_time;
    }
    const float *in = input;
    float *out = output;
    const int64_t n = (int64_t)frame_count;
    for (int64_t off = 0; off < n; off += e->max_frames) {
        const int64_t len = (n - off < e->max_frames) ? n - off : e->max_frames;
        run_block(e, in, out, off, len, &st);
    }
    record_block(e, 0, in, n);
    record_block(e, 1, out, n);
    e->frame += n;
    e->n_callbacks++;
    al_fp_leave(fp);
    const int64_t t1 = now_ns();
    st.duration_us = (float)((double)(t1 - t0) * 1e-3);
    st.overrun = (double)(t1 - t0) * 1e-9 * e->fs > (double)n;
    ring_push(&e->stats, &st, 1);
    atomic_store_explicit(&e->pub_frame, e->frame, memory_order_release);
    atomic_store_explicit(&e->pub_callbacks, e->n_callbacks, memory_order_release);
    return 0; /* paContinue */
}

al_status al_engine_run_offline(al_engine *e, const float *in, float *out, int64_t n_frames,
                                int32_t block_frames)
{
    if (!e || !e->ready || !out || (!in && e->n_inputs > 0 && n_frames > 0)) return AL_ERR_NULL;
    if (n_frames < 0 || block_frames < 1) return AL_ERR_SIZE;
    for (int64_t off = 0; off < n_frames; off += block_frames) {
        const int64_t len = (n_frames - off < block_frames) ? n_frames - off : block_frames;
        al_engine_callback(in ? in + off * e->n_inputs : NULL, out + off * e->n_outputs,
                           (unsigned long)len, NULL, 0, e);
    }
    return AL_OK;
}

/* -- Python side of the channels -------------------------------------------------------------- */
int64_t al_engine_read_stats(al_engine *e, al_block_stats *dst, int64_t max_records)
{
    if (!e || !e->ready || !dst) return 0;
    return ring_pop(&e->stats, dst, max_records);
}

void al_engine_set_recording(al_engine *e, int32_t which, int32_t on)
{
    if (e && e->ready && (which == 0 || which == 1) && e->rec[which].buf)
        atomic_store_explicit(&e->record[which], on ? 1 : 0, memory_order_relaxed);
}

int64_t al_engine_read_recording(al_engine *e, int32_t which, float *dst, int64_t max_frames)
{
    if (!e || !e->ready || !dst || (which != 0 && which != 1)) return 0;
    return ring_pop(&e->rec[which], dst, max_frames);
}

void al_engine_get_counters(al_engine *e, al_engine_counters *out)
{
    if (!e || !e->ready || !out) return;
    out->callbacks = atomic_load_explicit(&e->pub_callbacks, memory_order_acquire);
    out->frame = atomic_load_explicit(&e->pub_frame, memory_order_acquire);
    out->dropped_stats = atomic_load_explicit(&e->stats.dropped, memory_order_relaxed);
    out->dropped_input_frames = atomic_load_explicit(&e->rec[0].dropped, memory_order_relaxed);
    out->dropped_output_frames = atomic_load_explicit(&e->rec[1].dropped, memory_order_relaxed);
    out->input_first_frame = atomic_load_explicit(&e->rec_first_frame[0], memory_order_acquire);
    out->output_first_frame = atomic_load_explicit(&e->rec_first_frame[1], memory_order_acquire);
}

al_status al_engine_queue(al_engine *e, int32_t slot, const float *data, int32_t n_channels,
                          const int32_t *channels, int64_t n_frames, int64_t start_frame)
{
    if (!e || !e->ready || !data || !channels) return AL_ERR_NULL;
    if (slot < 0 || slot >= AL_ENGINE_PLAYER_SLOTS || n_channels < 1 ||
        n_channels > AL_ENGINE_MAX_CHANNELS || n_frames < 1)
        return AL_ERR_SIZE;
    for (int32_t k = 0; k < n_channels; k++)
        if (channels[k] < 0 || channels[k] >= e->n_outputs) return AL_ERR_SIZE;
    al_slot *s = &e->slots[slot];
    if (atomic_load_explicit(&s->state, memory_order_acquire) != AL_SLOT_FREE) return AL_ERR_STATE;
    s->data = data;
    s->n_channels = n_channels;
    memcpy(s->channels, channels, sizeof(int32_t) * (size_t)n_channels);
    s->n_frames = n_frames;
    s->start_request = start_frame;
    s->start_frame = -1;
    s->end_frame = -1;
    atomic_store_explicit(&s->cancel, 0, memory_order_relaxed);
    atomic_store_explicit(&s->state, AL_SLOT_QUEUED, memory_order_release);
    return AL_OK;
}

int32_t al_engine_slot_state(al_engine *e, int32_t slot, int64_t *start_frame,
                             int64_t *end_frame)
{
    if (!e || !e->ready || slot < 0 || slot >= AL_ENGINE_PLAYER_SLOTS) return -1;
    al_slot *s = &e->slots[slot];
    const int32_t st = atomic_load_explicit(&s->state, memory_order_acquire);
    if (start_frame) *start_frame = (st >= AL_SLOT_PLAYING) ? s->start_frame : -1;
    if (end_frame) *end_frame = (st == AL_SLOT_DONE) ? s->end_frame : -1;
    return st;
}

void al_engine_slot_cancel(al_engine *e, int32_t slot)
{
    if (e && e->ready && slot >= 0 && slot < AL_ENGINE_PLAYER_SLOTS)
        atomic_store_explicit(&e->slots[slot].cancel, 1, memory_order_relaxed);
}

al_status al_engine_slot_release(al_engine *e, int32_t slot)
{
    if (!e || !e->ready) return AL_ERR_NULL;
    if (slot < 0 || slot >= AL_ENGINE_PLAYER_SLOTS) return AL_ERR_SIZE;
    al_slot *s = &e->slots[slot];
    if (atomic_load_explicit(&s->state, memory_order_acquire) != AL_SLOT_DONE) return AL_ERR_STATE;
    atomic_store_explicit(&s->state, AL_SLOT_FREE, memory_order_release);
    return AL_OK;
}

/* -- stages ------------------------------------------------------------------------------ */
al_status al_gt_stage_process(void *state, float *x, int32_t n_channels, int64_t n_frames)
{
    al_gt_stage *s = state;
    if (!s || !s->analyzer || !s->synth) return AL_ERR_NULL;
    if (n_channels != s->analyzer->n_channels) return AL_ERR_STATE;
    return al_gt_process(s->analyzer, s->synth, x, n_frames);
}
