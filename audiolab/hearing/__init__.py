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
]
