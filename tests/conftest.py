import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

from audiolab._ckernel import select_cpu_path, supported_cpu_paths

# Shared 2-core machines: no per-example deadline.
settings.register_profile(
    "audiolab",
    deadline=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile("audiolab")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test that needs the JACK server is slow too: `make test-fast` (-m "not slow") skips it."""
    for item in items:
        if item.get_closest_marker("jack") is not None and item.get_closest_marker("slow") is None:
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded generator: every test that draws random numbers is reproducible."""
    return np.random.default_rng(20261128)


@pytest.fixture
def app_context(tmp_path, monkeypatch):
    """An application context whose remembered settings live in a temporary folder."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    from audiolab.gui import AppContext

    return AppContext()


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test marked `jack` fails (never skips) without the dummy server `make test` starts."""
    if item.get_closest_marker("jack") is not None and not os.environ.get("AUDIOLAB_JACK_SERVER"):
        pytest.fail("this test needs the JACK dummy server: run it through `make test` or "
                    "`bash tests/with_jack.sh .venv/bin/python -m pytest ...` "
                    "(AUDIOLAB_JACK_SERVER is unset)")


@pytest.fixture(params=supported_cpu_paths())
def cpu_path(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run the test once on each CPU path of the C kernels that this machine runs (baseline,
    AVX2, AVX-512: csrc/isa/), as ``AUDIOLAB_CPU_PATH`` would select it."""
    before = select_cpu_path(request.param)
    try:
        yield request.param
    finally:
        select_cpu_path(before)


@pytest.fixture(autouse=True)
def _qt_garbage_collected_in_the_gui_thread(request: pytest.FixtureRequest) -> Iterator[None]:
    """Collect a Qt test's garbage in the GUI thread, before and after it.

    A Qt wrapper left in a reference cycle is freed by whichever thread the garbage collector
    next runs in; when that is a worker (a session driver, a task), destroying its widgets there
    deadlocked against the GUI thread (seen once: QObject mutexes and the GIL taken in opposite
    orders). Collecting here leaves workers nothing Qt to free.
    """
    if "qtbot" not in request.fixturenames:
        yield
        return
    import gc

    gc.collect()
    yield
    gc.collect()
