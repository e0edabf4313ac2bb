"""EngineStats over long streams: bounded memory, whole-stream figures, block-split adding.

Synthetic callback records (no stream needed) far beyond the recent window; every figure is
checked against NumPy formulas applied to the whole stream, written here from their definitions.
"""

import math

import numpy as np
import pytest

from audiolab.engine._stats import MAX_CHANNELS, RECENT_RECORDS, STATS_DTYPE, EngineStats

FS = 48000.0
BLOCK = 256
N_OUT = 2
P_REF_PA = 20e-6  # reference sound pressure in air, ISO 1683:2015
# Half the relative width of a log bin of the duration histogram (512 bins per octave), and half
# the width of a linear (1 us) bin: the most a bin's midpoint can miss a value in it.
HALF_LOG_BIN = (2.0 ** (1 / 512) - 1) / 2
HALF_LINEAR_BIN_US = 0.5
SUMMED = ("overrun", "limited", "stage_errors")


def _durations_us(rng, n, kind="heavy"):
    """Callback durations in us: a log-normal body with a Pareto tail (alpha 1.2) by default."""
    if kind == "heavy":
        d = rng.lognormal(math.log(300.0), 0.3, n)
        tail = rng.random(n) < 0.01
        d[tail] = 2000.0 * (1 + rng.pareto(1.2, int(tail.sum())))
    elif kind == "short":  # a light graph: tens of us, a few long outliers
        d = rng.uniform(5.0, 60.0, n)
        spikes = rng.random(n) < 0.002
        d[spikes] = rng.uniform(3000.0, 50_000.0, int(spikes.sum()))
    elif kind == "at_1024":  # around the switch from linear to log bins
        d = rng.normal(1024.0, 30.0, n)
    else:  # "constant": one value and one outlier
        d = np.full(n, 123.456)
        d[n // 2] = 9876.5
    return d.astype(np.float32)


def _records(rng, n, *, first_index=0, first_ns=10**12, first_frame=0, kind="heavy"):
    """``n`` synthetic records: variable blocks, gaps in time, flags, counters, levels."""
    r = np.zeros(n, STATS_DTYPE)
    n_frames = np.where(rng.random(n) < 0.9, BLOCK, rng.integers(1, 2 * BLOCK, n))
    r["n_frames"] = n_frames
    r["index"] = first_index + np.arange(n)
    r["frame"] = first_frame + np.cumsum(n_frames) - n_frames
    period_ns = 1e9 * n_frames / FS
    gaps = np.where(rng.random(n) < 0.001, rng.integers(1, 5, n), 0) * BLOCK / FS * 1e9
    step_ns = (period_ns + gaps + rng.normal(0.0, 2e4, n)).astype(np.int64)
    r["start_ns"] = first_ns + np.cumsum(step_ns) - step_ns[0]
    r["graph_id"] = rng.integers(1, 4, n)
    r["duration_us"] = _durations_us(rng, n, kind)
    r["status_flags"] = np.where(rng.random(n) < 0.01, rng.integers(1, 32, n), 0)  # 0x10: no xrun
    for name in SUMMED + ("nonfinite_in", "nonfinite_out"):
        r[name] = np.where(rng.random(n) < 0.02, rng.integers(1, 300, n), 0)
    r["peak_pa"] = rng.lognormal(-1.0, 1.0, (n, MAX_CHANNELS))
    r["sum_sq_pa"] = n_frames[:, None] * rng.lognormal(-3.0, 1.0, (n, MAX_CHANNELS))
    return r


def _stream(rng, n_total, *, kind="heavy"):
    """Records of one stream, generated chunk by chunk (each chunk follows the previous one)."""
    done, ns, frame = 0, 10**12, 0
    while done < n_total:
        n = min(int(rng.integers(1, 20_000)), n_total - done)
        r = _records(rng, n, first_index=done, first_ns=ns, first_frame=frame, kind=kind)
        yield r
        done += n
        ns = int(r["start_ns"][-1]) + int(1e9 * BLOCK / FS)
        frame = int(r["frame"][-1] + r["n_frames"][-1])


def _columns(r):
    """What the whole-stream reference needs of each record (the output channels only)."""
    keep = ("start_ns", "duration_us", "n_frames", "status_flags", "nonfinite_in",
            "nonfinite_out") + SUMMED
    out = {k: r[k].copy() for k in keep}
    out["peak_pa"] = r["peak_pa"][:, :N_OUT].copy()
    out["sum_sq_pa"] = r["sum_sq_pa"][:, :N_OUT].copy()
    return out


def _concat(parts):
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _reference(c):
    """The summary's figures from the whole stream's columns, by their definitions."""
    n = c["duration_us"].size
    d = c["duration_us"].astype(np.float64)
    elapsed_s = (int(c["start_ns"][-1]) - int(c["start_ns"][0])) * 1e-9
    expected = int(round(elapsed_s * FS / BLOCK)) + 1
    frames = int(c["n_frames"].sum(dtype=np.int64))
    peak = c["peak_pa"].astype(np.float64).max(axis=0)
    mean_square = c["sum_sq_pa"].sum(axis=0) / frames
    return {
        "callbacks": n,
        "expected_callbacks": expected,
        "lost_callbacks": max(0, expected - n),
        "xruns": int(np.count_nonzero(c["status_flags"] & 0xF)),  # portaudio.h xrun flags
        "overruns": int(c["overrun"].sum(dtype=np.int64)),
        "nonfinite_samples": int(c["nonfinite_in"].sum(dtype=np.int64)
                                 + c["nonfinite_out"].sum(dtype=np.int64)),
        "limited_samples": int(c["limited"].sum(dtype=np.int64)),
        "stage_errors": int(c["stage_errors"].sum(dtype=np.int64)),
        "frames": frames,
        "callback_us": {"max": d.max(), "mean": d.mean(),
                        "p99": np.percentile(d, 99), "p999": np.percentile(d, 99.9)},
        # the level of the sine with that peak, and the RMS level, dB SPL
        "max_output_db_spl": 20 * np.log10(peak / (math.sqrt(2) * P_REF_PA)),
        "rms_output_db_spl": 10 * np.log10(mean_square / P_REF_PA**2),
    }


def _within_histogram_bound(estimate, exact):
    return abs(estimate - exact) <= HALF_LINEAR_BIN_US + HALF_LOG_BIN * abs(exact) + 1e-9


def _assert_matches(summary, ref):
    for key in ("callbacks", "expected_callbacks", "lost_callbacks", "xruns", "overruns",
                "nonfinite_samples", "limited_samples", "stage_errors", "frames"):
        assert summary[key] == ref[key], key
    cb, cb_ref = summary["callback_us"], ref["callback_us"]
    assert cb["max"] == cb_ref["max"]
    assert cb["mean"] == pytest.approx(cb_ref["mean"], rel=1e-12)
    for q in ("p99", "p999"):
        assert _within_histogram_bound(cb[q], cb_ref[q]), (q, cb[q], cb_ref[q])
    for key in ("max_output_db_spl", "rms_output_db_spl"):
        np.testing.assert_allclose(np.array(summary[key], float), ref[key], rtol=1e-12)


def test_ten_windows_keep_memory_bounded_and_match_the_whole_stream(rng):
    """10 x RECENT_RECORDS records in chunks: the buffer stays bounded, `records` is the last
    RECENT_RECORDS, and the summary equals the whole stream's."""
    stats = EngineStats(N_OUT, FS)
    bound_nbytes = (RECENT_RECORDS + RECENT_RECORDS // 8) * STATS_DTYPE.itemsize
    parts, tail = [], np.zeros(0, STATS_DTYPE)
    for r in _stream(rng, 10 * RECENT_RECORDS):
        stats.add(r)
        assert stats.buffer_nbytes <= bound_nbytes
        parts.append(_columns(r))
        tail = np.concatenate([tail, r])[-RECENT_RECORDS:]
    assert stats.callbacks == 10 * RECENT_RECORDS
    assert stats.records.size == RECENT_RECORDS
    assert np.array_equal(stats.records, tail)
    ref = _reference(_concat(parts))
    assert ref["lost_callbacks"] > 0 and ref["xruns"] > 0  # the stream exercises them
    _assert_matches(stats.summary(block_frames=BLOCK), ref)
    assert stats.expected_callbacks(BLOCK) == ref["expected_callbacks"]


def _add_in_random_chunks(stats, r, rng, *, largest):
    at = 0
    while at < r.size:
        n = int(rng.integers(0, largest + 1))  # empty chunks too
        stats.add(r[at : at + n])
        at += n


def test_block_split_adding_gives_the_same_figures(rng):
    """The same stream added in random chunks (empty ones, ones larger than the window) or in one
    piece: the same summary, the same window, the same meters."""
    window = 1000
    r = np.concatenate(list(_stream(rng, 12 * window)))
    whole = EngineStats(N_OUT, FS, recent_records=window)
    whole.add(r)
    ref = _reference(_columns(r))
    _assert_matches(whole.summary(block_frames=BLOCK), ref)
    for largest in (1, 37, 3 * window):
        split = EngineStats(N_OUT, FS, recent_records=window)
        _add_in_random_chunks(split, r, rng, largest=largest)
        assert split.buffer_nbytes <= (window + window // 8) * STATS_DTYPE.itemsize
        assert np.array_equal(split.records, r[-window:])
        a, b = split.summary(block_frames=BLOCK), whole.summary(block_frames=BLOCK)
        assert a["callback_us"].pop("mean") == pytest.approx(b["callback_us"].pop("mean"),
                                                              rel=1e-12)
        a_rms, b_rms = a.pop("rms_output_db_spl"), b.pop("rms_output_db_spl")
        np.testing.assert_allclose(np.array(a_rms, float), np.array(b_rms, float), rtol=1e-12)
        assert a == b
        for last_s in (0.0, 0.01, 0.3, 1.0, 1e3):
            np.testing.assert_array_equal(split.meters(last_s=last_s),
                                          whole.meters(last_s=last_s))
            np.testing.assert_allclose(whole.meters(last_s=last_s),
                                       _reference_meters(r[-window:], last_s), rtol=1e-12)


def _reference_meters(window, last_s):
    """RMS and peak levels (dB SPL) of the fewest last records holding ``last_s`` of frames."""
    k = 1
    while k < window.size and window["n_frames"][-k:].sum() < last_s * FS:
        k += 1
    tail = window[-k:]
    mean_square = tail["sum_sq_pa"][:, :N_OUT].sum(axis=0) / tail["n_frames"].sum()
    peak = tail["peak_pa"][:, :N_OUT].astype(np.float64).max(axis=0)
    return (10 * np.log10(mean_square / P_REF_PA**2),
            20 * np.log10(peak / (math.sqrt(2) * P_REF_PA)))


@pytest.mark.parametrize("kind", ["heavy", "short", "at_1024", "constant"])
@pytest.mark.parametrize("n", [1, 2, 50, 999, 1001, 300_000])
def test_callback_percentiles_are_within_half_a_bin_of_numpy(rng, kind, n):
    """p99 and p999 from the duration histogram against np.percentile of every duration:
    within 0.5 us or 0.068 % (half a bin), so well within 1 us or 1 %."""
    d = _durations_us(rng, n, kind)
    r = np.zeros(n, STATS_DTYPE)
    r["duration_us"] = d
    r["n_frames"] = BLOCK
    stats = EngineStats(N_OUT, FS, recent_records=1024)
    _add_in_random_chunks(stats, r, rng, largest=5000)
    cb = stats.summary(block_frames=BLOCK)["callback_us"]
    exact = d.astype(np.float64)
    for key, q in (("p99", 99.0), ("p999", 99.9)):
        ref = float(np.percentile(exact, q))
        assert _within_histogram_bound(cb[key], ref), (key, cb[key], ref)
        assert abs(cb[key] - ref) <= max(1.0, 0.01 * ref)
    assert cb["max"] == float(exact.max())


def test_records_handed_out_do_not_change_as_more_arrive(rng):
    """A view of `records` is a snapshot: growing and trimming the window leave it as it was."""
    stats = EngineStats(N_OUT, FS, recent_records=100)
    first = _records(rng, 60)
    stats.add(first)
    view = stats.records
    snapshot = view.copy()
    for _ in range(10):
        stats.add(_records(rng, 45))
    assert np.array_equal(view, snapshot) and np.array_equal(view, first)
    assert not view.flags.writeable
    assert stats.records.size == 100 and stats.callbacks == 510


def test_an_empty_stream_reports_zeros_and_silence():
    stats = EngineStats(N_OUT, FS)
    stats.add(np.zeros(0, STATS_DTYPE))
    s = stats.summary(block_frames=BLOCK)
    assert s["callbacks"] == s["expected_callbacks"] == s["frames"] == 0
    assert s["callback_us"] == {"max": 0.0, "p99": 0.0, "p999": 0.0, "mean": 0.0}
    assert s["max_output_db_spl"] == s["rms_output_db_spl"] == [None, None]
    rms, peak = stats.meters()
    assert np.all(rms == -np.inf) and np.all(peak == -np.inf)
