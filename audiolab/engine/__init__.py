"""Real-time engine: a C audio path under sounddevice, calibration at the edges, a ceiling."""

from audiolab.engine._engine import STATS_DTYPE, Engine, EngineStats, Playback
from audiolab.engine._stages import GammatoneStage, SharedStage
from audiolab.engine._stream import (
    EngineStream,
    JackMonitor,
    ensure_portaudio,
    jack_server_name,
    list_devices,
    resolve_device,
)

__all__ = [
    "STATS_DTYPE",
    "Engine",
    "EngineStats",
    "EngineStream",
    "GammatoneStage",
    "JackMonitor",
    "Playback",
    "SharedStage",
    "ensure_portaudio",
    "jack_server_name",
    "list_devices",
    "resolve_device",
]
