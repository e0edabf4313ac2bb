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
from audiolab.hearing._hearing_loss import HearingLossConfig, HearingLossSimulator

__all__ = [
    "Audiogram",
    "AudiogramLike",
    "EarAudiogram",
    "HearingLossConfig",
    "HearingLossSimulator",
    "STANDARD_AUDIOGRAMS",
    "load_audiogram",
    "read_audiogram",
    "write_audiogram",
]
