"""A real Dask scheduler and one worker on loopback, for tests that compare Dask with local runs."""

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import audiolab


@contextlib.contextmanager
def local_dask_cluster(folder: Path):
    """Yield the address of a scheduler with one single-threaded worker; stop both afterwards.

    The cluster's output goes to ``folder / "cluster.log"`` (read it when a test fails). The
    workers import this checkout's audiolab (PYTHONPATH), and the test waits for the worker
    rather than sleeping.
    """
    import distributed

    scheduler_file = folder / "scheduler.json"
    env = dict(os.environ)
    root = str(Path(audiolab.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join([root, env.get("PYTHONPATH", "")])
    dask = [sys.executable, "-m", "dask"]
    commands = [
        [*dask, "scheduler", "--scheduler-file", str(scheduler_file), "--host", "127.0.0.1",
         "--port", "0", "--no-dashboard"],
        [*dask, "worker", "--scheduler-file", str(scheduler_file), "--nworkers", "1",
         "--nthreads", "1", "--no-dashboard"],
    ]
    procs = []
    with open(folder / "cluster.log", "w") as log:
        try:
            for cmd in commands:
                procs.append(subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT))
            with distributed.Client(scheduler_file=str(scheduler_file), timeout="60s") as client:
                client.wait_for_workers(1, timeout=60)
                address = client.scheduler.address
            yield address
        finally:
            for p in reversed(procs):  # workers first, while their scheduler still answers
                p.terminate()
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
