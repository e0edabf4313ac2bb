"""audiolab.dsp: signal processors and their common protocol.

SOS filters, the Hohmann complex gammatone filterbank, IEC 61260-1 octave and one-third-octave
banks, level meters, ERB scales, the dB conversions every layer uses, the STOI/ESTOI metric and
Kates' ear model with HASPI v2 and HASQI v2 on it.

May import: only the private base modules (``audiolab._errors``, ``_validate``, ``_ckernel``).
"""

from audiolab.dsp._auditory import erb_bandwidth_hz, erb_number, erb_number_to_hz, erb_space_hz
from audiolab.dsp._ear_model import (
    EAR_MODEL_FS,
    EarModelOutput,
    ear_centre_frequencies_hz,
    ear_model,
)
from audiolab.dsp._gammatone import GammatoneConfig, GammatoneFilterbank, design_gammatone
from audiolab.dsp._haspi import HASPI_MODULATION_CENTRES_HZ, HaspiResult, haspi_v2
from audiolab.dsp._hasqi import HasqiResult, hasqi_v2
from audiolab.dsp._level import LevelMeter, LevelMeterConfig
from audiolab.dsp._octave import (
    OCTAVE_RATIO,
    OctaveFilterbank,
    OctaveFilterbankConfig,
    band_edges_hz,
    design_octave_bands,
    mid_band_frequencies_hz,
)
from audiolab.dsp._processor import Processor
from audiolab.dsp._resample import resample, resample_ratio
from audiolab.dsp._sos import SOSConfig, SOSFilter, sosfilt
from audiolab.dsp._stoi import STOI_FS, stoi, stoi_resampling_filter, third_octave_matrix
from audiolab.dsp._units import amplitude_to_db, db_to_amplitude, db_to_power, power_to_db

__all__ = [
    "EAR_MODEL_FS",
    "HASPI_MODULATION_CENTRES_HZ",
    "OCTAVE_RATIO",
    "STOI_FS",
    "EarModelOutput",
    "GammatoneConfig",
    "GammatoneFilterbank",
    "HaspiResult",
    "HasqiResult",
    "LevelMeter",
    "LevelMeterConfig",
    "OctaveFilterbank",
    "OctaveFilterbankConfig",
    "Processor",
    "SOSConfig",
    "SOSFilter",
    "amplitude_to_db",
    "band_edges_hz",
    "db_to_amplitude",
    "db_to_power",
    "design_gammatone",
    "design_octave_bands",
    "ear_centre_frequencies_hz",
    "ear_model",
    "erb_bandwidth_hz",
    "erb_number",
    "erb_number_to_hz",
    "erb_space_hz",
    "haspi_v2",
    "hasqi_v2",
    "mid_band_frequencies_hz",
    "power_to_db",
    "resample",
    "resample_ratio",
    "sosfilt",
    "stoi",
    "stoi_resampling_filter",
    "third_octave_matrix",
]
