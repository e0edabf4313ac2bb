"""audiolab.audiology: the field's tables and formulas.

Audiograms (Bisgaard standard profiles, audiolab JSON, CSV and Clarity files), prescription rules
(NAL-R, half-gain, POGO), the ANSI S3.5-1997 Speech Intelligibility Index, HASPI v2 and
HASQI v2 for a listener's audiogram, and the bundled speech material. Pure functions and frozen
data; no processors, no audio I/O.

May import: ``audiolab.calibration``, ``audiolab.dsp`` and the private base modules.
"""

from audiolab.audiology._audiogram import (
    STANDARD_AUDIOGRAMS,
    Audiogram,
    AudiogramLike,
    EarAudiogram,
    load_audiogram,
    read_audiogram,
    write_audiogram,
)
from audiolab.audiology._hearing_aid_indices import (
    EARS_CHOICES,
    IndexDetails,
    better_ear,
    haspi,
    haspi_details,
    hasqi,
    hasqi_details,
)
from audiolab.audiology._prescription import (
    RULE_SOURCES,
    RULES,
    prescribe,
)
from audiolab.audiology._sii import (
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
from audiolab.audiology._speech_material import (
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
    "EARS_CHOICES",
    "MATRIX_WORD_CLASSES",
    "NO_NOISE_SPECTRUM_LEVEL_DB_SPL",
    "RULES",
    "RULE_SOURCES",
    "SII_PROCEDURES",
    "STANDARD_AUDIOGRAMS",
    "VOCAL_EFFORTS",
    "Audiogram",
    "AudiogramLike",
    "EarAudiogram",
    "IndexDetails",
    "MatrixSentence",
    "SIIBands",
    "SpeechCorpus",
    "SpeechItem",
    "band_spectrum_levels_db_spl",
    "better_ear",
    "haspi",
    "haspi_details",
    "hasqi",
    "hasqi_details",
    "load_audiogram",
    "load_speech_corpus",
    "matrix_sentence",
    "prescribe",
    "read_audiogram",
    "sii_bands",
    "sii_from_signals",
    "speech_band_levels_db_spl",
    "speech_intelligibility_index",
    "speech_ltass",
    "speech_shaped_noise",
    "standard_speech_spectrum_level_db_spl",
    "write_audiogram",
]
