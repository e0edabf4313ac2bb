<<<<<<< HEAD
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
=======
"""audiolab.hearing: audiograms, prescriptions, hearing aid, simulators, speech material."""

from audiolab.hearing._ci import (
    CIConfig,
    CIDesign,
    CochlearImplantSimulator,
    design_ci,
    greenwood_frequency_hz,
    greenwood_place,
)
from audiolab.hearing._speech_material import (
    BUNDLED_SPEECH_DIR,
    MATRIX_WORD_CLASSES,
    MatrixSentence,
    SpeechCorpus,
    SpeechItem,
    load_speech_corpus,
    matrix_sentence,
    speech_ltass,
    speech_shaped_noise,
)

__all__ = [
    "BUNDLED_SPEECH_DIR",
    "CIConfig",
    "CIDesign",
    "CochlearImplantSimulator",
    "design_ci",
    "greenwood_frequency_hz",
    "greenwood_place",
    "MATRIX_WORD_CLASSES",
    "MatrixSentence",
    "SpeechCorpus",
    "SpeechItem",
    "load_speech_corpus",
    "matrix_sentence",
    "speech_ltass",
    "speech_shaped_noise",
>>>>>>> cisim
]
