"""audiolab.calibration: units, RETSPL tables, device calibration, output equaliser, ceiling.

May import: ``audiolab.dsp`` and the private base modules.
"""

from audiolab.calibration._calibration import (
    DEFAULT_MAX_AGE_DAYS,
    REFERENCE_FREQUENCY_HZ,
    UNCALIBRATED_CEILING_DBFS,
    UNCALIBRATED_FULL_SCALE_DB_SPL,
    Calibration,
    CalibrationAgeWarning,
    ChannelCalibration,
    calibration_to_toml,
    db_hl_to_dbfs,
    db_spl_to_dbfs,
    dbfs_to_db_hl,
    dbfs_to_db_spl,
    load_calibration,
    parse_calibration,
    write_calibration,
)
from audiolab.calibration._equalizer import OutputEqualizer, design_output_equalizer
from audiolab.calibration._retspl import (
    FREE_FIELD,
    RETSPL_TABLES,
    RetsplTable,
    db_hl_to_db_spl,
    db_spl_to_db_hl,
    retspl_table,
)
from audiolab.calibration._safety import OutputCeiling
from audiolab.calibration._units import (
    FULL_SCALE_SINE_RMS,
    P_REF_PA,
    db_spl_to_pa_rms,
    digital_to_pa_scale,
    pa_rms_to_db_spl,
    rms_db_spl,
    scale_to_db_spl,
    sine_peak_pa,
)

__all__ = [
    "DEFAULT_MAX_AGE_DAYS",
    "FREE_FIELD",
    "FULL_SCALE_SINE_RMS",
    "P_REF_PA",
    "REFERENCE_FREQUENCY_HZ",
    "RETSPL_TABLES",
    "UNCALIBRATED_CEILING_DBFS",
    "UNCALIBRATED_FULL_SCALE_DB_SPL",
    "Calibration",
    "CalibrationAgeWarning",
    "ChannelCalibration",
    "OutputCeiling",
    "OutputEqualizer",
    "RetsplTable",
    "calibration_to_toml",
    "db_hl_to_db_spl",
    "db_hl_to_dbfs",
    "db_spl_to_db_hl",
    "db_spl_to_dbfs",
    "db_spl_to_pa_rms",
    "dbfs_to_db_hl",
    "dbfs_to_db_spl",
    "design_output_equalizer",
    "digital_to_pa_scale",
    "load_calibration",
    "pa_rms_to_db_spl",
    "parse_calibration",
    "retspl_table",
    "rms_db_spl",
    "scale_to_db_spl",
    "sine_peak_pa",
    "write_calibration",
]
