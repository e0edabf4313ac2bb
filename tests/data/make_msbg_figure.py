"""Make docs/images/msbg-agreement.png: our hearing-loss simulator's one-third-octave attenuation
of stationary noise beside MSBG's (pyclarity 0.9.0, from the fixture that
make_msbg_reference.py wrote), for the six audiograms of the agreement test.

Needs only audiolab (no pyclarity):

    .venv/bin/python tests/data/make_msbg_figure.py [OUT.png]
"""

import importlib.util
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from audiolab.calibration import db_spl_to_pa_rms  # noqa: E402
from audiolab.models import HearingLossSimulator  # noqa: E402

HERE = Path(__file__).parent
FIXTURE = HERE / "msbg_pyclarity_0.9.0_band_attenuation.json"
PROFILES = ("N1", "N2", "N3", "N4", "S1", "S2")
SEED = 20261129


def _reference_module():
    spec = importlib.util.spec_from_file_location("mk", HERE / "make_msbg_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(out: Path) -> None:
    mk = _reference_module()
    ref = json.loads(FIXTURE.read_text())
    centres = np.array(ref["band_centres_hz"])
    rng = np.random.default_rng(SEED)
    fig, axes = plt.subplots(2, 3, figsize=(13, 7.5), sharex=True)
    for ax, profile in zip(axes.ravel(), PROFILES, strict=True):
        sim = HearingLossSimulator(profile, fs=mk.FS)
        severity = ref["severity"][profile]
        for noise, colour in (("pink", "tab:red"), ("white", "tab:blue")):
            x = mk.stationary_noise(noise, int(4.0 * mk.FS), rng)
            passthrough = np.array(ref["passthrough_gain_db"][severity][noise])
            for level, style in ((70.0, "-"), (85.0, "--")):
                xp = (x * float(db_spl_to_pa_rms(level))).astype(np.float32)
                sim.reset()
                y = sim.process(xp)
                ours = mk.third_octave_levels_db(xp.astype(float), mk.FS) - (
                    mk.third_octave_levels_db(y.astype(float), mk.FS)
                )
                msbg = np.array(ref["attenuation_db"][profile][noise][f"{level:g}"])
                ax.plot(centres, ours, style, color=colour, lw=1.6)
                ax.plot(centres, msbg + passthrough, "o", color=colour, ms=3.5, mfc="none")
        ax.axvspan(500, 4000, color="0.92", zorder=0)
        ax.set_xscale("log")
        ax.set_title(f"{profile} ({severity})")
        ax.grid(True, which="both", alpha=0.3)
        ax.invert_yaxis()
    for ax in axes[1]:
        ax.set_xlabel("one-third-octave band (Hz)")
        ax.set_xticks([125, 250, 500, 1000, 2000, 4000, 8000])
        ax.set_xticklabels(["125", "250", "500", "1k", "2k", "4k", "8k"])
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    for ax in axes[:, 0]:
        ax.set_ylabel("attenuation (dB)")
    line = matplotlib.lines.Line2D
    handles = [
        line([], [], color="tab:red", lw=1.6, label="pink noise"),
        line([], [], color="tab:blue", lw=1.6, label="white noise"),
        line([], [], color="k", ls="-", label="70 dB SPL"),
        line([], [], color="k", ls="--", label="85 dB SPL"),
        line([], [], color="k", lw=1.6, label="audiolab"),
        line([], [], color="k", ls="none", marker="o", mfc="none", ms=4,
             label="MSBG's model (pyclarity 0.9.0 + its bank's pass-through gain)"),
    ]
    fig.legend(handles=handles, loc="lower center", ncol=6, fontsize=9, frameon=False)
    fig.suptitle(
        "Hearing-loss simulation, one-third-octave attenuation of stationary noise: audiolab "
        "and MSBG\n(shaded: 0.5-4 kHz, where the test holds both to 3 dB)"
    )
    fig.tight_layout(rect=(0, 0.05, 1, 0.95))
    fig.savefig(out, dpi=100)
    print(out)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/images/msbg-agreement.png"))
