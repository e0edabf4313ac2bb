"""Hearing: audiograms, prescriptions, hearing aid, hearing-loss simulation, SII."""

from audiolab.hearing._audiogram import (
    STANDARD_AUDIOGRAMS,
    Audiogram,
    AudiogramLike,
    EarAudiogram,
    load_audiogram,
    read_audiogram,
    write_audiogram,
)
from audiolab.hearing._wdrc import (
    MultibandWdrc,
    WdrcSettings,
    ansi_time_constants_ms,
    static_gain_db,
)

__all__ = [
    "Audiogram",
    "AudiogramLike",
    "EarAudiogram",
    "MultibandWdrc",
    "STANDARD_AUDIOGRAMS",
    "WdrcSettings",
    "ansi_time_constants_ms",
    "load_audiogram",
    "read_audiogram",
    "static_gain_db",
    "write_audiogram",
]
