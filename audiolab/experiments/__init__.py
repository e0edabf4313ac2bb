"""audiolab.experiments: listening-experiment procedures, listeners and the runner.

Procedures are pure state machines (``next_trial() -> record(response) -> next_trial()``): they
never play sound, read keys, sleep or write files, and :func:`replay` rebuilds any of them from
its config, seed and responses. Transformed up-down (Levitt 1971), weighted up-down
(Kaernbach 1991), constant stimuli, QUEST+ (Watson 2017) and interleaved tracks; threshold
estimates (last reversals, maximum-likelihood logistic fit); ISO 8253-1 pure-tone audiometry;
the matrix-test SRT track (Brand & Kollmeier 2002); stimuli rendered in pascal from an
experiment file's ``[stimulus]`` table with their ceiling check; the psychometric listener and
the simulated listener with an audiogram, which hears the rendered sound.

May import: ``audiolab.store``, ``audiolab.engine`` and the layers below.
"""

from audiolab._errors import ProcedureError
from audiolab.experiments._audiometry import (
    AudiogramPoint,
    AudiometryConfig,
    PureToneAudiometry,
)
from audiolab.experiments._estimates import (
    LogisticFit,
    ReversalEstimate,
    fit_logistic,
    fit_procedure,
    reversal_threshold,
    summarize,
)
from audiolab.experiments._experiment import Experiment, load_experiment, parse_experiment
from audiolab.experiments._listeners import (
    Listener,
    PsychometricListener,
    parse_listener,
    run_listener,
)
from audiolab.experiments._matrix import (
    MatrixSrt,
    MatrixSrtConfig,
    MatrixSrtEstimate,
    fit_matrix_srt,
)
from audiolab.experiments._procedures import (
    ConstantStimuli,
    ConstantStimuliConfig,
    Interleaved,
    InterleavedConfig,
    ProcedureConfig,
    Reversal,
    UpDown,
    UpDownConfig,
    WeightedUpDownConfig,
    make_procedure,
    replay,
)
from audiolab.experiments._quest import QuestPlus, QuestPlusConfig, QuestPlusEstimate
from audiolab.experiments._runner import (
    SessionResult,
    TerminalListener,
    check_session_levels,
    response_text,
    resume_session_id,
    run_session,
    stored_response,
    track_name,
    virtual_ideal_calibration,
)
from audiolab.experiments._simulated import SimulatedListener, parse_simulated
from audiolab.experiments._stimuli import (
    DEFAULT_TRANSDUCER,
    KINDS,
    RenderedTrial,
    StimulusSpec,
    check_ceiling,
    render_trial,
    stimulus_spec,
)
from audiolab.experiments._trials import (
    Procedure,
    Response,
    Task,
    Trial,
    TrialDraws,
    TrialRecord,
)

__all__ = [
    "DEFAULT_TRANSDUCER",
    "KINDS",
    "AudiogramPoint",
    "AudiometryConfig",
    "ConstantStimuli",
    "ConstantStimuliConfig",
    "Experiment",
    "Interleaved",
    "InterleavedConfig",
    "Listener",
    "LogisticFit",
    "MatrixSrt",
    "MatrixSrtConfig",
    "MatrixSrtEstimate",
    "Procedure",
    "ProcedureConfig",
    "ProcedureError",
    "PsychometricListener",
    "PureToneAudiometry",
    "QuestPlus",
    "QuestPlusConfig",
    "QuestPlusEstimate",
    "RenderedTrial",
    "Response",
    "Reversal",
    "ReversalEstimate",
    "SessionResult",
    "SimulatedListener",
    "StimulusSpec",
    "Task",
    "TerminalListener",
    "Trial",
    "TrialDraws",
    "TrialRecord",
    "UpDown",
    "UpDownConfig",
    "WeightedUpDownConfig",
    "check_ceiling",
    "check_session_levels",
    "fit_logistic",
    "fit_matrix_srt",
    "fit_procedure",
    "load_experiment",
    "make_procedure",
    "parse_experiment",
    "parse_listener",
    "parse_simulated",
    "render_trial",
    "replay",
    "response_text",
    "resume_session_id",
    "reversal_threshold",
    "run_listener",
    "run_session",
    "stimulus_spec",
    "stored_response",
    "summarize",
    "track_name",
    "virtual_ideal_calibration",
]
