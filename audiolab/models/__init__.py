"""audiolab.models: signal models of the ear and of hearing devices, and chains of them.

The multiband WDRC hearing aid with its fitting, the hearing-loss simulator (MSBG model), the
cochlear-implant vocoder, and the chain (a sequence of stages read from TOML, with its stage
registry). Every class follows the processor protocol of ``audiolab.dsp``.

May import: ``audiolab.audiology``, ``audiolab.calibration``, ``audiolab.dsp`` and the private base
modules.
"""

from audiolab.models._chain import (
    Chain,
    ChainSpec,
    GainStage,
    StageSpec,
    build_chain,
    load_chain,
    register_stage,
    stage_class,
    stage_parameters,
    stage_types,
    write_chain,
)
from audiolab.models._ci import (
    CIConfig,
    CIDesign,
    CochlearImplantSimulator,
    design_ci,
    greenwood_frequency_hz,
    greenwood_place,
)
from audiolab.models._fitting import (
    EarFitting,
    Fitting,
    fit_hearing_aid,
)
from audiolab.models._hearing_aid import (
    HearingAid,
    fit_ear_settings,
    loudness_discomfort_db_hl,
)
from audiolab.models._hearing_loss import (
    HearingLossConfig,
    HearingLossSimulator,
)
from audiolab.models._wdrc import (
    MultibandWdrc,
    WdrcSettings,
    ansi_time_constants_ms,
    static_gain_db,
)

__all__ = [
    "CIConfig",
    "CIDesign",
    "Chain",
    "ChainSpec",
    "CochlearImplantSimulator",
    "EarFitting",
    "Fitting",
    "GainStage",
    "HearingAid",
    "HearingLossConfig",
    "HearingLossSimulator",
    "MultibandWdrc",
    "StageSpec",
    "WdrcSettings",
    "ansi_time_constants_ms",
    "build_chain",
    "design_ci",
    "fit_ear_settings",
    "fit_hearing_aid",
    "greenwood_frequency_hz",
    "greenwood_place",
    "load_chain",
    "loudness_discomfort_db_hl",
    "register_stage",
    "stage_class",
    "stage_parameters",
    "stage_types",
    "static_gain_db",
    "write_chain",
]
