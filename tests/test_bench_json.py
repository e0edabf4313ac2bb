"""``audiolab bench --save-json FILE`` and ``--compare FILE``: saved figures, change per case."""

import json

import pytest

from audiolab._ckernel import select_cpu_path, supported_cpu_paths
from audiolab.bench import BenchResult, compare_results, machine_info
from audiolab.cli import main


def _result(name: str, audio_s: float, ours_s: float) -> BenchResult:
    return BenchResult(name, audio_s, ours_s, None, "", None, None)


def test_compare_results_change_in_percent_per_case():
    # 10 s of audio in 0.05 s is 200x real time; against 80x that is +150 %.
    old = {
        "results": [
            {"name": "a", "ours_x_real_time": 80.0},
            {"name": "gone", "ours_x_real_time": 1.0},
        ]
    }
    rows = compare_results(old, [_result("a", 10.0, 0.05), _result("b", 1.0, 0.5)])
    assert rows[0] == ("a", 80.0, pytest.approx(200.0), pytest.approx(150.0))
    assert rows[1] == ("b", None, pytest.approx(2.0), None)


def test_compare_results_ignores_broken_entries():
    old = {
        "results": [
            "junk",
            {"name": "a", "ours_x_real_time": None},
            {"name": "b", "ours_x_real_time": -3},
        ]
    }
    rows = compare_results(old, [_result("a", 1.0, 1.0), _result("b", 1.0, 1.0)])
    assert [r[1] for r in rows] == [None, None]


def test_machine_info_names_the_cpu_path_that_runs():
    names = {"baseline": "baseline", "avx2": "avx2+fma", "avx512": "avx512"}
    for path in supported_cpu_paths():
        before = select_cpu_path(path)
        try:
            assert machine_info()["cpu_path"] == names[path]
        finally:
            select_cpu_path(before)
    assert machine_info()["machine"]


@pytest.mark.slow
def test_bench_json_file_then_compare(tmp_path, capsys):
    path = tmp_path / "before.json"
    assert main(["bench", "--quick", "--only", "SOS cascade", "--save-json", str(path)]) == 0
    doc = json.loads(path.read_text())
    (result,) = doc["results"]
    assert doc["cpu_path"] == machine_info()["cpu_path"]
    assert result["name"].startswith("SOS cascade") and result["ours_x_real_time"] > 0
    capsys.readouterr()
    assert main(["bench", "--quick", "--only", "SOS cascade", "--compare", str(path)]) == 0
    out = capsys.readouterr().out
    assert "change against the earlier run (its CPU path: " in out
    assert out.rstrip().endswith("%")


@pytest.mark.parametrize(
    ("text", "message"),
    [("not json", "is not JSON"), ("[1, 2]", "must be the output of audiolab bench --json")],
)
def test_compare_rejects_a_file_that_is_not_a_bench_run(tmp_path, capsys, text, message):
    path = tmp_path / "old.json"
    path.write_text(text)
    assert main(["bench", "--only", "SOS", "--compare", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_compare_rejects_a_missing_file(tmp_path, capsys):
    assert main(["bench", "--compare", str(tmp_path / "nope.json")]) == 2
    assert "cannot be read" in capsys.readouterr().err
