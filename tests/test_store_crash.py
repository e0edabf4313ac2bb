"""Crash safety and concurrent writers of the results store, with real processes.

A writer prints each trial index right after ``record_trial`` returns; it is killed with SIGKILL
at a moment drawn from a seeded generator. What it printed is what a runner's ``--log-trials``
would have reported, so every printed trial must be in the database.
"""

import signal
import sqlite3
import subprocess
import sys

import numpy as np
import pytest

from audiolab.store import ResultsStore

_WRITER = """
import sys
from audiolab.store import VIRTUAL_IDEAL_CALIBRATION, ResultsStore

db, subject, n_trials, pause_at = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
with ResultsStore(db) as store:
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        raise SystemExit("no go")
    sid = store.start_session(
        subject=subject, experiment_name="crash", experiment_toml="x = 1\\n",
        calibration=VIRTUAL_IDEAL_CALIBRATION, software_version="test", seed=1,
        listener="psychometric:midpoint=0,slope=1,lapse=0")
    print("session", sid, flush=True)
    for i in range(n_trials):
        store.record_trial(
            sid, index=i, track="AB"[i % 2], variable=float(i), presented={"i": i},
            response=str(1 + i % 3), correct=i % 2 == 0, state={"n": i, "pad": "x" * (i % 97)})
        print(i, flush=True)
        if i == pause_at and sys.stdin.readline().strip() != "go on":
            raise SystemExit("no go on")
    store.end_session(sid)
    print("done", flush=True)
"""


def _writer(db, subject, n_trials, pause_at=-1):
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(db), subject, str(n_trials), str(pause_at)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    return proc


def _integrity(db):
    conn = sqlite3.connect(db)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


@pytest.mark.parametrize("seed", range(6))
def test_sigkill_at_a_random_moment_loses_no_reported_trial(tmp_path, seed):
    rng = np.random.default_rng(seed)
    db = tmp_path / "crash.sqlite"
    # 0..120 reported trials before the kill; the writer keeps committing while the test reads,
    # so the kill lands wherever it is in its loop: in a commit, between commit and print, ...
    n_before_kill = int(rng.integers(0, 121))
    proc = _writer(db, "P07", 100_000)
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
        header = proc.stdout.readline()
        assert header.startswith("session "), header + proc.stderr.read()
        sid = int(header.split()[1])
        printed = []
        while len(printed) < n_before_kill:
            printed.append(int(proc.stdout.readline()))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        # What was printed before the kill but not read yet is still in the pipe. Each line is
        # one write() of a few bytes (< PIPE_BUF), so no line is cut in half.
        printed += [int(line) for line in proc.stdout.read().split()]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert printed == list(range(len(printed)))

    with ResultsStore(db) as store:
        stored = [t.index for t in store.trials(sid)]
        # Every reported trial is stored, with no gap or duplicate. At most one more: the kill
        # may fall between a trial's COMMIT and its print.
        assert stored == list(range(len(stored)))
        assert len(printed) <= len(stored) <= len(printed) + 1
        assert store.session(sid).status == "running"
        assert _integrity(db) == "ok"
        # The session resumes where it stopped and completes with every index once.
        store.open_session(sid)
        for i in range(len(stored), len(stored) + 3):
            store.record_trial(sid, index=i, track="A", variable=0.0, presented={},
                               response="1", correct=True, state={})
        store.end_session(sid)
        assert [t.index for t in store.trials(sid)] == list(range(len(stored) + 3))
        kinds = [e.kind for e in store.events(sid)]
        assert kinds == ["start", "resume", "end"]
        trials = store.trials(sid)
        assert all(t.state.get("n", i) == i for i, t in enumerate(trials))


def test_two_processes_write_one_new_database_at_once(tmp_path):
    db = tmp_path / "shared" / "both.sqlite"
    n_trials, pause_at = 150, 9
    # Both open (and race to create) the file, then start writing at the same moment. Each
    # pauses after its 10th trial until both have got there, so their sessions overlap for
    # certain however the OS schedules them, and the other 140 trials each race.
    writers = [_writer(db, "P01", n_trials, pause_at), _writer(db, "P02", n_trials, pause_at)]
    try:
        for proc in writers:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        for proc in writers:
            assert proc.stdout is not None
            lines = [proc.stdout.readline() for _ in range(pause_at + 2)]
            assert lines[-1] == f"{pause_at}\n", lines
        for proc in writers:
            assert proc.stdin is not None
            proc.stdin.write("go on\n")
            proc.stdin.flush()
        outputs = [proc.communicate(timeout=120) for proc in writers]
    finally:
        for proc in writers:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    for proc, (out, err) in zip(writers, outputs, strict=True):
        assert proc.returncode == 0, err
        assert out.endswith("done\n")
    with ResultsStore(db) as store:
        sessions = store.sessions()
        assert sorted(s.subject for s in sessions) == ["P01", "P02"]
        assert store.subjects() == ["P01", "P02"]
        spans = []
        for s in sessions:
            trials = store.trials(s.id)
            assert [t.index for t in trials] == list(range(n_trials))
            assert s.status == "completed"
            spans.append((trials[0].time_utc, trials[-1].time_utc))
        assert len(store.export_trials()) == 2 * n_trials
    # The writers really overlapped (each began before the other finished), so the waits on
    # the other's transactions were exercised.
    (a0, a1), (b0, b1) = spans
    assert a0 < b1 and b0 < a1
    assert _integrity(db) == "ok"
