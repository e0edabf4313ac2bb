"""Units, RETSPL tables, device calibration and the output ceiling."""

from audiolab.calibration._units import (
    FULL_SCALE_SINE_RMS,
    P_REF_PA,
    db_spl_to_pa_rms,
    digital_to_pa_scale,
    pa_rms_to_db_spl,
    rms_db_spl,
)

__all__ = [
    "FULL_SCALE_SINE_RMS",
    "P_REF_PA",
    "db_spl_to_pa_rms",
    "digital_to_pa_scale",
    "pa_rms_to_db_spl",
    "rms_db_spl",
]
