"""audiolab.engine: real-time streams with a C audio callback, calibration at the edges, a ceiling.

May import: ``audiolab.models``, ``audiolab.audiology``, ``audiolab.calibration``,
``audiolab.dsp`` and the private base modules.
"""

from audiolab.engine._engine import STATS_DTYPE, Engine, EngineStats, Playback
from audiolab.engine._paths import ParallelPaths
from audiolab.engine._setup import (
    DeviceSetup,
    TonePlayer,
    device_setup,
    file_source_pa,
    make_source,
)
from audiolab.engine._stages import GammatoneStage, SharedStage
from audiolab.engine._stream import (
    EngineStream,
    JackMonitor,
    ensure_portaudio,
    jack_server_name,
    list_devices,
    resolve_device,
)
from audiolab.engine._tones import DEFAULT_RAMP_MS, Tone, plan_tone, ramped_sine_pa, rise_time_ms

__all__ = [
    "DEFAULT_RAMP_MS",
    "STATS_DTYPE",
    "DeviceSetup",
    "Engine",
    "EngineStats",
    "EngineStream",
    "GammatoneStage",
    "JackMonitor",
    "ParallelPaths",
    "Playback",
    "SharedStage",
    "Tone",
    "TonePlayer",
    "device_setup",
    "ensure_portaudio",
    "file_source_pa",
    "jack_server_name",
    "list_devices",
    "make_source",
    "plan_tone",
    "ramped_sine_pa",
    "resolve_device",
    "rise_time_ms",
]
