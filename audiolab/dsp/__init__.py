"""Signal processors: SOS filters, auditory and octave filterbanks, level meters."""

from audiolab.dsp._auditory import erb_bandwidth_hz, erb_number, erb_number_to_hz, erb_space_hz
from audiolab.dsp._gammatone import GammatoneConfig, GammatoneFilterbank, design_gammatone
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
from audiolab.dsp._sos import SOSConfig, SOSFilter, sosfilt

__all__ = [
    "GammatoneConfig",
    "GammatoneFilterbank",
    "LevelMeter",
    "LevelMeterConfig",
    "OCTAVE_RATIO",
    "OctaveFilterbank",
    "OctaveFilterbankConfig",
    "band_edges_hz",
    "design_gammatone",
    "design_octave_bands",
    "erb_bandwidth_hz",
    "erb_number",
    "erb_number_to_hz",
    "erb_space_hz",
    "mid_band_frequencies_hz",
    "Processor",
    "SOSConfig",
    "SOSFilter",
    "sosfilt",
]
