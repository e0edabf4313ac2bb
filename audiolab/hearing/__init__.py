"""audiolab.hearing: the old home of audiograms, fitting, the hearing aid and the simulators.

Deprecated. Its contents moved in 0.2: the field's tables and formulas (audiograms, prescription
rules, SII, speech material) to :mod:`audiolab.audiology`; the hearing aid, its fitting, the WDRC,
the hearing-loss and CI simulators and chains to :mod:`audiolab.models`. Every public name still
resolves from here, with a ``DeprecationWarning`` that names its new import path.

May import: ``audiolab.audiology`` and ``audiolab.models`` (lazily, on first use of a name).
"""

import importlib
import warnings
from typing import Any

_NEW_HOME = {
    "Audiogram": "audiolab.audiology",
    "AudiogramLike": "audiolab.audiology",
    "BUNDLED_SPEECH_DIR": "audiolab.audiology",
    "CIConfig": "audiolab.models",
    "CIDesign": "audiolab.models",
    "Chain": "audiolab.models",
    "ChainSpec": "audiolab.models",
    "CochlearImplantSimulator": "audiolab.models",
    "EarAudiogram": "audiolab.audiology",
    "EarFitting": "audiolab.models",
    "Fitting": "audiolab.models",
    "GainStage": "audiolab.models",
    "HearingAid": "audiolab.models",
    "HearingLossConfig": "audiolab.models",
    "HearingLossSimulator": "audiolab.models",
    "MATRIX_WORD_CLASSES": "audiolab.audiology",
    "MatrixSentence": "audiolab.audiology",
    "MultibandWdrc": "audiolab.models",
    "NO_NOISE_SPECTRUM_LEVEL_DB_SPL": "audiolab.audiology",
    "RULES": "audiolab.audiology",
    "RULE_SOURCES": "audiolab.audiology",
    "SIIBands": "audiolab.audiology",
    "SII_PROCEDURES": "audiolab.audiology",
    "STANDARD_AUDIOGRAMS": "audiolab.audiology",
    "SpeechCorpus": "audiolab.audiology",
    "SpeechItem": "audiolab.audiology",
    "StageSpec": "audiolab.models",
    "VOCAL_EFFORTS": "audiolab.audiology",
    "WdrcSettings": "audiolab.models",
    "ansi_time_constants_ms": "audiolab.models",
    "band_spectrum_levels_db_spl": "audiolab.audiology",
    "build_chain": "audiolab.models",
    "design_ci": "audiolab.models",
    "fit_ear_settings": "audiolab.models",
    "fit_hearing_aid": "audiolab.models",
    "greenwood_frequency_hz": "audiolab.models",
    "greenwood_place": "audiolab.models",
    "load_audiogram": "audiolab.audiology",
    "load_chain": "audiolab.models",
    "load_speech_corpus": "audiolab.audiology",
    "loudness_discomfort_db_hl": "audiolab.models",
    "matrix_sentence": "audiolab.audiology",
    "prescribe": "audiolab.audiology",
    "read_audiogram": "audiolab.audiology",
    "register_stage": "audiolab.models",
    "sii_bands": "audiolab.audiology",
    "sii_from_signals": "audiolab.audiology",
    "speech_band_levels_db_spl": "audiolab.audiology",
    "speech_intelligibility_index": "audiolab.audiology",
    "speech_ltass": "audiolab.audiology",
    "speech_shaped_noise": "audiolab.audiology",
    "stage_types": "audiolab.models",
    "standard_speech_spectrum_level_db_spl": "audiolab.audiology",
    "static_gain_db": "audiolab.models",
    "write_audiogram": "audiolab.audiology",
    "write_chain": "audiolab.models",
}

__all__ = sorted(_NEW_HOME)


def __getattr__(name: str) -> Any:
    home = _NEW_HOME.get(name)
    if home is None:
        raise AttributeError(
            f"audiolab.hearing has no attribute {name!r}; the package was split into "
            "audiolab.audiology and audiolab.models"
        )
    warnings.warn(
        f"audiolab.hearing.{name} moved: import it from {home}",
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(importlib.import_module(home), name)


def __dir__() -> list[str]:
    return __all__
