"""The engine's fixed output path: output calibration (equaliser and Pa -> digital) and ceiling.

Both are set once from the calibration when the engine is built, in C memory that no graph,
stage or gain can reach (DESIGN.md, "Calibration and safety"): each channel's equaliser is
designed from the calibration table for ``fs`` (:mod:`audiolab.calibration._equalizer`), its
broadband factor turns pascal into digital values, and the C safety ceiling clamps the digital
peak after it. The meters read the output back through the inverse equaliser, in dB SPL.
"""

from typing import Any

import numpy as np

from audiolab._errors import CalibrationError
from audiolab.calibration._calibration import Calibration
from audiolab.calibration._safety import OutputCeiling
from audiolab.engine._held import HeldByC
from audiolab.engine._stats import db_spl_of_peak

__all__ = ["OutputCalibration"]


class OutputCalibration:
    """The arrays C's output calibration and ceiling run on, built from a calibration.

    Parameters
    ----------
    calibration : Calibration
        Output calibration and ceiling (``Calibration.uncalibrated_mode(n_outputs)`` for the
        explicit uncalibrated mode).
    n_outputs : int
        Device output channels.
    fs : float
        Sample rate in Hz (the equalisers are designed for it).
    held : HeldByC
        The engine's holder: C reads these arrays for the engine's lifetime.

    Attributes
    ----------
    ceiling : OutputCeiling
        The ceiling and the per-channel equalisers.
    c_args : tuple
        ``ceiling, digital_per_pa, pa_per_digital, eq_sos, eq_n_sections`` pointers, in the
        order ``al_engine_init`` takes them.
    """

    def __init__(
        self, calibration: Calibration, *, n_outputs: int, fs: float, held: HeldByC
    ) -> None:
        if not isinstance(calibration, Calibration):
            raise CalibrationError(
                "calibration must be a Calibration (load_calibration(path), or "
                "Calibration.uncalibrated_mode(n_outputs) for the explicit uncalibrated mode), "
                f"got {type(calibration).__name__}"
            )
        self.calibration = calibration
        self.ceiling = OutputCeiling.for_outputs(calibration, n_outputs, fs=fs)
        ceiling = self.ceiling
        digital_per_pa = (1.0 / ceiling.pa_per_digital).astype(np.float32)
        pa_per_digital = ceiling.pa_per_digital.astype(np.float32)
        eqs = [eq.sos for eq in ceiling.equalizers if eq is not None]
        # C needs a valid pointer even when no channel has an equaliser.
        eq_sos = np.ascontiguousarray(np.concatenate(eqs) if eqs else np.zeros((1, 6)), np.float64)
        eq_n_sections = np.array(
            [0 if eq is None else eq.n_sections for eq in ceiling.equalizers], np.int32
        )
        digital_peak = np.ascontiguousarray(ceiling.digital_peak, np.float32)
        self.c_args: tuple[Any, ...] = (
            held.floats(digital_peak, "ceiling", writable=False),
            held.floats(digital_per_pa, "digital_per_pa", writable=False),
            held.floats(pa_per_digital, "pa_per_digital", writable=False),
            held.doubles(eq_sos, "eq_sos", writable=False),
            held.ints(eq_n_sections, "eq_n_sections", writable=False),
        )

    def ceiling_db_spl(self) -> list[float | None]:
        """Each output's ceiling in dB SPL (None for a channel whose ceiling is 0)."""
        c = self.ceiling
        return [
            float(db_spl_of_peak(c.peak_pa(o))) if c.digital_peak[o] > 0 else None
            for o in range(c.n_outputs)
        ]

    def describe_equalizers(self) -> list[Any]:
        """Each output's equaliser as :meth:`OutputEqualizer.describe` gives it (None: none)."""
        return [None if eq is None else eq.describe() for eq in self.ceiling.equalizers]
