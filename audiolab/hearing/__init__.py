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
from audiolab.hearing._fitting import EarFitting, Fitting, fit_hearing_aid
from audiolab.hearing._prescription import RULE_SOURCES, RULES, prescribe
from audiolab.hearing._sii import (
    NO_NOISE_SPECTRUM_LEVEL_DB_SPL,
    SII_PROCEDURES,
    VOCAL_EFFORTS,
    SIIBands,
    band_spectrum_levels_db_spl,
    sii_bands,
    sii_from_signals,
    speech_band_levels_db_spl,
    speech_intelligibility_index,
    standard_speech_spectrum_level_db_spl,
)

__all__ = [
    "Audiogram",
    "AudiogramLike",
    "EarAudiogram",
    "EarFitting",
    "Fitting",
    "NO_NOISE_SPECTRUM_LEVEL_DB_SPL",
    "RULES",
    "RULE_SOURCES",
    "SIIBands",
    "SII_PROCEDURES",
    "STANDARD_AUDIOGRAMS",
    "VOCAL_EFFORTS",
    "band_spectrum_levels_db_spl",
    "fit_hearing_aid",
    "load_audiogram",
    "prescribe",
    "read_audiogram",
    "sii_bands",
    "sii_from_signals",
    "speech_band_levels_db_spl",
    "speech_intelligibility_index",
    "standard_speech_spectrum_level_db_spl",
    "write_audiogram",
]
