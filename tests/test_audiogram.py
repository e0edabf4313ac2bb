"""Audiograms: validation, interpolation, Bisgaard (2010) presets, JSON/Clarity/CSV round trips."""

import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from audiolab import AudiolabError, ConfigError, FileFormatError
from audiolab.audiology import (
    STANDARD_AUDIOGRAMS,
    Audiogram,
    EarAudiogram,
    load_audiogram,
    read_audiogram,
    write_audiogram,
)

F6 = [250, 500, 1000, 2000, 4000, 6000]

# Bisgaard, Vlaming & Dahlquist (2010), Trends in Amplification 14:113-120, Table 1,
# at 250, 375, 500, 750, 1000, 1500, 2000, 3000, 4000, 6000 Hz (copied from the paper's table as
# given in REFERENCE.md, independently of the shipped data file).
BISGAARD_2010 = {
    "N1": [10, 10, 10, 10, 10, 10, 15, 20, 30, 40],
    "N2": [20, 20, 20, 22.5, 25, 30, 35, 40, 45, 50],
    "N3": [35, 35, 35, 35, 40, 45, 50, 55, 60, 65],
    "N4": [55, 55, 55, 55, 55, 60, 65, 70, 75, 80],
    "N5": [65, 67.5, 70, 72.5, 75, 80, 80, 80, 80, 80],
    "N6": [75, 77.5, 80, 82.5, 85, 90, 90, 95, 100, 100],
    "N7": [90, 92.5, 95, 100, 105, 105, 105, 105, 105, 105],
    "S1": [10, 10, 10, 10, 10, 10, 15, 30, 55, 70],
    "S2": [20, 20, 20, 22.5, 25, 35, 55, 75, 95, 95],
    "S3": [30, 30, 35, 47.5, 60, 70, 75, 80, 80, 85],
}
BISGAARD_F = [250, 375, 500, 750, 1000, 1500, 2000, 3000, 4000, 6000]


@pytest.mark.parametrize("name", sorted(BISGAARD_2010))
def test_presets_match_bisgaard_2010(name):
    ag = load_audiogram(name)
    assert ag.name == name
    for side in ("left", "right"):
        ear = ag.ear(side)
        np.testing.assert_array_equal(ear.frequencies_hz, BISGAARD_F)
        np.testing.assert_array_equal(ear.thresholds_db_hl, BISGAARD_2010[name])
    assert set(STANDARD_AUDIOGRAMS) == set(BISGAARD_2010)


def test_preset_names_are_case_insensitive():
    assert load_audiogram(" s3 ") is STANDARD_AUDIOGRAMS["S3"]
    ag = STANDARD_AUDIOGRAMS["N2"]
    assert load_audiogram(ag) is ag


def test_interpolation_is_linear_on_log_frequency_and_constant_beyond():
    ear = EarAudiogram([250, 1000, 4000], [10, 30, 70])
    # Geometric midpoints lie halfway in dB.
    np.testing.assert_allclose(ear.threshold_db_hl_at([500, 2000]), [20, 50])
    np.testing.assert_allclose(ear.threshold_db_hl_at([100, 125, 8000, 16000]), [10, 10, 70, 70])
    # A quarter octave above 1 kHz on a 20 dB/octave slope.
    np.testing.assert_allclose(ear.threshold_db_hl_at(1000 * 2 ** 0.25), 35.0)
    assert ear.threshold_db_hl_at(1000).shape == ()
    with pytest.raises(ConfigError, match="f_hz"):
        ear.threshold_db_hl_at([0.0])


@given(
    st.lists(st.floats(-10, 120, allow_nan=False), min_size=6, max_size=6),
    st.floats(0.0, 1.0),
)
def test_interpolated_threshold_stays_between_neighbours(thresholds, position):
    ear = EarAudiogram(F6, thresholds)
    f = 250 * 24 ** position  # anywhere in 250..6000 Hz on a log scale
    i = np.searchsorted(F6, f, side="right") - 1
    lo, hi = sorted(thresholds[i:i + 2]) if i < 5 else (thresholds[5], thresholds[5])
    assert lo - 1e-9 <= float(ear.threshold_db_hl_at(f)) <= hi + 1e-9


@pytest.mark.parametrize(
    "freqs, thresholds, words",
    [
        ([250, 500, 1000, 2000, 4000], [10, 10, 10, 10, 121], r"\[-10, 120\] dB HL, got 121"),
        ([250, 500, 1000, 2000, 4000], [10, 10, -11, 10, 10], "got -11 dB HL at 1000 Hz"),
        ([250, 500, 1000, 2000, 4000], [10, math.nan, 10, 10, 10], "at 500 Hz is not a finite"),
        ([250, 500, 1000, 2000, 4000], [10, math.inf, 10, 10, 10], "not a finite"),
        ([500, 250, 1000, 2000, 4000], [10, 10, 10, 10, 10], "sorted ascending"),
        ([250, 500, 500, 2000, 4000], [10, 10, 10, 10, 10], "without repeats"),
        ([0, 500, 1000, 2000, 4000], [10, 10, 10, 10, 10], "positive"),
        ([1000, 2000, 4000], [10, 10, 10], "cover 500-4000 Hz, got 1000-4000"),
        ([250, 500, 1000, 2000], [10, 10, 10, 10], "cover 500-4000 Hz"),
        ([250, 500, 1000, 4000], [10, 10, 10], "4 values but thresholds_db_hl has 3"),
        ("250 500", [10], "list of numbers"),
        ([[250, 500]], [[10, 10]], "flat list"),
        ([250, "x"], [10, 10], "list of numbers"),
    ],
)
def test_invalid_audiograms_name_the_problem(freqs, thresholds, words):
    with pytest.raises(ConfigError, match=words):
        EarAudiogram(freqs, thresholds)


def test_bone_conduction_is_optional_and_validated():
    ear = EarAudiogram(F6, [20] * 6, [500, 1000, 2000], [10, 15, 20])
    assert ear.has_bone_conduction
    with pytest.raises(ConfigError, match="both bone"):
        EarAudiogram(F6, [20] * 6, [500, 1000], None)
    with pytest.raises(ConfigError, match="bone conduction"):
        EarAudiogram(F6, [20] * 6, [500, 1000], [10, 130])


def test_arrays_are_read_only_float64():
    ear = STANDARD_AUDIOGRAMS["N1"].left
    assert ear.thresholds_db_hl.dtype == np.float64
    with pytest.raises(ValueError, match="read-only"):
        ear.thresholds_db_hl[0] = 0


def _asymmetric() -> Audiogram:
    return Audiogram(
        EarAudiogram([125, 250, 500, 1000, 2000, 4000, 8000], [5, 10, 15, 20.5, 40, 60, 70],
                     [500, 1000, 2000], [5, 10, 30], side="left"),
        EarAudiogram([250, 500, 750, 1000, 1500, 2000, 3000, 4000, 6000],
                     [0, 5, 10, 15, 20, 25, 30, 35, 40], side="right"),
        "listener-7",
    )


@pytest.mark.parametrize("fmt, suffix", [("json", ".json"), ("csv", ".csv")])
def test_our_json_and_csv_round_trip_exactly(tmp_path, fmt, suffix):
    ag = _asymmetric()
    path = write_audiogram(ag, tmp_path / f"ag{suffix}", format=fmt)
    back = load_audiogram(path)
    assert back.left == ag.left and back.right == ag.right
    assert back.name == ("listener-7" if fmt == "json" else "ag")


def test_csv_columns_are_documented_ones(tmp_path):
    p = tmp_path / "ears.csv"
    p.write_text(
        "# audiogram measured 2024-05-01\n"
        "frequency_hz,left_db_hl,right_db_hl\n"
        "250,10,15\n500,15,\n1000,20,25\n2000,30,35\n4000,50,55\n"
    )
    ag = read_audiogram(p)
    np.testing.assert_array_equal(ag.right.frequencies_hz, [250, 1000, 2000, 4000])
    np.testing.assert_array_equal(ag.left.thresholds_db_hl, [10, 15, 20, 30, 50])
    assert ag.name == "ears"


def test_clarity_listener_json_read_and_write(tmp_path):
    # Clarity Challenge listeners.json layout: listener id -> entry with audiogram_cfs and
    # audiogram_levels_l / audiogram_levels_r (dB HL).
    entry = {
        "name": "L0001",
        "audiogram_cfs": [250, 500, 1000, 2000, 3000, 4000, 6000, 8000],
        "audiogram_levels_l": [10, 10, 20, 30, 40, 55, 55, 60],
        "audiogram_levels_r": [15, 15, 25, 35, 45, 60, 65, 70],
    }
    listeners = {"L0001": entry, "L0002": dict(entry, name="L0002")}
    p = tmp_path / "listeners.json"
    p.write_text(json.dumps(listeners))
    ag = load_audiogram(f"{p}#L0002")
    assert ag.name == "L0002"
    np.testing.assert_array_equal(ag.right.thresholds_db_hl, entry["audiogram_levels_r"])
    with pytest.raises(ConfigError, match="2 Clarity listeners; pick one as PATH#ID"):
        load_audiogram(p)
    with pytest.raises(ConfigError, match="no listener 'L0003'"):
        load_audiogram(f"{p}#L0003")

    out = write_audiogram(ag, tmp_path / "one.json", format="clarity")
    doc = json.loads(out.read_text())
    assert doc["audiogram_cfs"] == entry["audiogram_cfs"]
    assert doc["audiogram_levels_l"] == entry["audiogram_levels_l"]
    assert load_audiogram(out).left == ag.left

    single = tmp_path / "single.json"
    single.write_text(json.dumps({"L9": entry}))
    assert load_audiogram(single).name == "L0001"  # the entry's own name wins


def test_clarity_writes_both_ears_on_the_union_of_frequencies(tmp_path):
    doc = _asymmetric().to_clarity_dict()
    assert doc["audiogram_cfs"][0] == 125 and doc["audiogram_cfs"][-1] == 8000
    assert len(doc["audiogram_levels_l"]) == len(doc["audiogram_cfs"])
    assert doc["audiogram_levels_r"][0] == 0  # constant below the lowest measured frequency


@pytest.mark.parametrize(
    "content, exc, words",
    [
        ("{not json", FileFormatError, "not valid JSON: .* line 1"),
        ("[1, 2]", FileFormatError, "must be an object"),
        ('{"foo": 1}', FileFormatError, "not an audiogram"),
        ('{"left": {"frequencies_hz": [500, 4000], "thresholds_db_hl": [1, 2]}}',
         FileFormatError, "missing 'right'"),
        ('{"left": {}, "right": {}, "colour": "red"}', FileFormatError, "unknown key 'colour'"),
        ('{"left": {"frequencies_hz": [500, 4000]}, "right": {}}', FileFormatError,
         "'left' is missing 'thresholds_db_hl'"),
        ('{"left": {"frequencies_hz": [500, 4000], "thresholds_db_hl": [1, 200]}, '
         '"right": {"frequencies_hz": [500, 4000], "thresholds_db_hl": [1, 2]}}',
         ConfigError, r"bad\.json: left: thresholds must be in \[-10, 120\]"),
        ('{"audiogram_cfs": [500, 4000], "audiogram_levels_l": [1, 2]}', FileFormatError,
         "missing 'audiogram_levels_r'"),
    ],
)
def test_bad_json_files_give_one_clear_error(tmp_path, content, exc, words):
    p = tmp_path / "bad.json"
    p.write_text(content)
    with pytest.raises(exc, match=words):
        load_audiogram(p)


@pytest.mark.parametrize(
    "content, words",
    [
        ("", "empty CSV"),
        ("freq,left\n", "bad CSV header"),
        ("frequency_hz,left_db_hl\n500,1\n", "lacks the column 'right_db_hl'"),
        ("frequency_hz,left_db_hl,right_db_hl\n500,1\n", "row 2 has 2 cells"),
        ("frequency_hz,left_db_hl,right_db_hl\n500,x,1\n", "'x' is not a number"),
        ("frequency_hz,left_db_hl,right_db_hl\n500,,1\n4000,,2\n", "left_db_hl has no values"),
    ],
)
def test_bad_csv_files_give_one_clear_error(tmp_path, content, words):
    p = tmp_path / "bad.csv"
    p.write_text(content)
    with pytest.raises(FileFormatError, match=words):
        load_audiogram(p)


def test_unknown_preset_or_missing_path(tmp_path):
    with pytest.raises(ConfigError, match=r"'N9' is neither a preset \(N1, .*S3\) nor an existing"):
        load_audiogram("N9")
    with pytest.raises(AudiolabError, match="folder"):
        load_audiogram(tmp_path)
    with pytest.raises(ConfigError, match="got int"):
        load_audiogram(3)  # type: ignore[arg-type]
    p = tmp_path / "binary.json"
    p.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(FileFormatError, match="not UTF-8"):
        load_audiogram(p)


def test_ear_selector_and_bad_format(tmp_path):
    ag = STANDARD_AUDIOGRAMS["N4"]
    assert ag.ear("left") is ag.left
    with pytest.raises(ConfigError, match="ear must be 'left' or 'right', got 'both'"):
        ag.ear("both")
    with pytest.raises(ConfigError, match="format must be one of"):
        write_audiogram(ag, tmp_path / "x", format="xml")
