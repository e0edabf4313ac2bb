"""Experiment files: the five shipped ones load, and bad files are refused naming table.key."""

from pathlib import Path

import pytest

from audiolab._errors import ConfigError
from audiolab.experiments import (
    AudiometryConfig,
    MatrixSrtConfig,
    QuestPlusConfig,
    UpDownConfig,
    WeightedUpDownConfig,
    load_experiment,
    parse_experiment,
)

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted((ROOT / "experiments").glob("*.toml"))

GOOD = """
[experiment]
name = "t"
[procedure]
type = "up_down"
start_db = 60
floor_db = 20
ceiling_db = 80
[stimulus]
kind = "tone_in_noise"
[response]
type = "afc"
intervals = 3
"""


def test_five_files_are_shipped_each_with_a_comment_block_citing_its_method():
    names = {p.name for p in SHIPPED}
    assert names == {"audiogram.toml", "tone_in_noise_3afc.toml", "am_detection_weighted.toml",
                     "tone_detection_questplus.toml", "srt_matrix.toml"}
    cites = {"audiogram.toml": "ISO 8253-1", "tone_in_noise_3afc.toml": "Levitt 1971",
             "am_detection_weighted.toml": "Kaernbach 1991",
             "tone_detection_questplus.toml": "Watson 2017",
             "srt_matrix.toml": "Brand & Kollmeier"}
    for path in SHIPPED:
        head = path.read_text().split("[experiment]")[0]
        assert head.startswith("#") and "Measures" in head and cites[path.name] in head


def test_shipped_files_map_to_the_procedures_their_comments_name():
    exp = {p.stem: load_experiment(p) for p in SHIPPED}
    tin = exp["tone_in_noise_3afc"].procedure
    assert isinstance(tin, UpDownConfig) and (tin.n_down, tin.n_up) == (2, 1)
    assert tin.task.n_intervals == 3
    # Levitt (1971): 1-up-2-down converges on p = 0.5 ** (1/2) = 0.7071
    assert tin.target_probability == pytest.approx(0.5 ** 0.5, abs=1e-9)
    am = exp["am_detection_weighted"].procedure
    assert isinstance(am, WeightedUpDownConfig) and am.target == 0.75
    # Kaernbach (1991): S_up / S_down = p / (1 - p) = 3 at p = 0.75
    assert am.step_up_sizes_db == (6.0, 3.0)
    q = exp["tone_detection_questplus"].procedure
    assert isinstance(q, QuestPlusConfig) and q.task.n_intervals == 2
    assert q.stimuli_db[0] == -10.0 and q.stimuli_db[-1] == 60.0 and len(q.stimuli_db) == 71
    assert isinstance(exp["audiogram"].procedure, AudiometryConfig)
    assert exp["audiogram"].frequencies_hz == (250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0)
    assert isinstance(exp["srt_matrix"].procedure, MatrixSrtConfig)
    assert exp["srt_matrix"].stimulus.kind == "speech_in_noise"


@pytest.mark.parametrize(("edit", "words"), [
    (("intervals = 3", "intervals = 3\nbogus = 1"), "response.bogus is not a known key"),
    (("start_db = 60", "start_db = 60\nstep_size = 2"), "procedure.step_size is not a known key"),
    (("start_db = 60", 'start_db = "sixty"'), "procedure.start_db"),
    (("intervals = 3", "intervals = 7"), "response.intervals must be"),
    (("intervals = 3", "intervals = 3\nanswers_during_playback = 1"),
     "response.answers_during_playback must be true or false"),
    (('kind = "tone_in_noise"', 'kind = "tone_in_noise"\nfrequency_hz = 30000'),
     "stimulus.frequency_hz"),
    (('kind = "tone_in_noise"', 'kind = "chirp"'), "stimulus.kind"),
    (('type = "up_down"', 'type = "staircase"'), "procedure.type"),
    (("ceiling_db = 80\n", ""), "procedure.ceiling_db must be given"),
    (('name = "t"', 'name = ""'), "experiment.name"),
    (("[response]", "[responses]"), "responses is not a known key"),
    (('kind = "tone_in_noise"', 'kind = "custom"\nvariable = "level_db_spl"\n'
      'module = "missing.py"'), "stimulus.module must be an existing file"),
])
def test_bad_files_name_the_key_and_the_value(edit, words):
    text = GOOD.replace(*edit)
    assert text != GOOD
    with pytest.raises(ConfigError) as info:
        parse_experiment(text)
    assert words in str(info.value) and "\n" not in str(info.value)


def test_invalid_toml_and_missing_file_are_config_errors(tmp_path):
    bad = tmp_path / "x.toml"
    bad.write_text("[experiment\nname = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_experiment(bad)
    with pytest.raises(ConfigError, match="cannot be read"):
        load_experiment(tmp_path / "nope.toml")


def test_a_custom_module_is_found_beside_the_file(tmp_path):
    (tmp_path / "click.py").write_text(
        "import numpy as np\n"
        "def render(x_db, *, fs, rng, **params):\n"
        "    return np.full(int(fs * 0.01), 20e-6 * 10 ** (x_db / 20))\n")
    text = GOOD.replace('kind = "tone_in_noise"',
                        'kind = "custom"\nvariable = "level_db_spl"\nmodule = "click.py"')
    path = tmp_path / "e.toml"
    path.write_text(text)
    assert load_experiment(path).stimulus.module == tmp_path / "click.py"


def test_procedure_and_stimulus_must_agree():
    audiogram = (ROOT / "experiments" / "audiogram.toml").read_text()
    with pytest.raises(ConfigError, match="stimulus.kind must be 'tone' for audiometry"):
        parse_experiment(audiogram.replace('kind = "tone"', 'kind = "noise"')
                         .replace('variable = "level_db_hl"', 'variable = "level_db_spl"'))
    with pytest.raises(ConfigError, match="response.type must be 'yes_no'"):
        parse_experiment(audiogram.replace('type = "yes_no"', 'type = "afc"'))


def test_answers_during_playback_default_true_and_can_be_refused():
    assert parse_experiment(GOOD).answers_during_playback is True
    exp = parse_experiment(GOOD.replace("intervals = 3", "intervals = 3\n"
                                        "answers_during_playback = false"))
    assert exp.answers_during_playback is False and exp.procedure.task.n_intervals == 3
    assert exp.plan()["answers_during_playback"] is False
