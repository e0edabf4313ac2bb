"""Make docs/images/haspi-hasqi-behaviour.png and print the numbers docs/haspi-hasqi.md quotes.

Three behaviours of HASPI v2 and HASQI v2 themselves (not of audiolab), on the pairs of
tests/data/make_haspi_hasqi_reference.py, with pyclarity 0.9.0's values from
tests/data/haspi_hasqi_pyclarity_0.9.0.json beside audiolab's where that file has them:

(a) HASPI against SNR (white noise) for a normal, a moderate sloping (N3) and a steep
    high-frequency (S2) audiogram: the reference passes a normal ear, so for an impaired ear
    the identical pair scores below 1, and moderate noise scores higher than none;
(b) HASPI against presentation level for N3, identical pair and 0 dB SNR;
(c) HASQI of the identical pair with equalisation 1 (NAL-R on the reference only) and 2.

Also prints audiolab's and pyclarity's scores at 44.1 kHz, where pyclarity resamples as if it
were 44 kHz. Run: ``.venv/bin/python tests/data/make_haspi_figure.py`` (audiolab, matplotlib).
"""

import importlib.util
import json
from pathlib import Path

import numpy as np

from audiolab.audiology import Audiogram, haspi, hasqi

HERE = Path(__file__).parent
OUT = HERE.parent.parent / "docs" / "images" / "haspi-hasqi-behaviour.png"
FS = 24000


def _reference_module():
    spec = importlib.util.spec_from_file_location(
        "make_haspi_hasqi_reference", HERE / "make_haspi_hasqi_reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ref = _reference_module()
    data = json.loads((HERE / "haspi_hasqi_pyclarity_0.9.0.json").read_text())
    audiograms = {k: Audiogram.symmetric(ref.FREQUENCIES_HZ, v, name=k)
                  for k, v in ref.AUDIOGRAMS.items()}

    def pyclarity(metric, condition, audiogram, level=65.0, fs=FS):
        for c in data["cases"]:
            if (c["condition"], c["audiogram"], c["fs"], c["level_db_spl"]) == (
                    condition, audiogram, fs, level):
                return float(np.mean(c[metric]))
        return None

    x, _ = ref.make_pair("identical", FS, 65.0)
    rng = np.random.default_rng(ref.SIGNAL_SEED)
    noise = rng.standard_normal(x.size)
    snrs = [30, 20, 10, 5, 0, -5, -10]
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    ax = axes[0]
    for name, colour in (("normal", "C0"), ("N3", "C1"), ("S2", "C2")):
        ag = audiograms[name]
        clean = haspi(x, x, FS, audiogram=ag)
        ours = [haspi(x, x + 10 ** (-s / 20) * noise, FS, audiogram=ag) for s in snrs]
        ax.plot(snrs, ours, "-o", color=colour, label=f"{name} (audiolab)")
        ax.axhline(clean, color=colour, ls=":", lw=1)
        pts = [(s, pyclarity("haspi", f"snr{s:+d}" if s else "snr0", name)) for s in (5, 0, -5)]
        pts.append((35, pyclarity("haspi", "identical", name)))
        ax.plot([p[0] for p in pts], [p[1] for p in pts], "x", color="k", ms=8)
        ax.plot([35], [clean], "o", color=colour)
        print(f"(a) {name}: clean {clean:.4f}, " + ", ".join(
            f"{s:+d} dB {v:.4f}" for s, v in zip(snrs, ours, strict=True)))
    ax.set_xlabel("SNR (dB); 35 = no noise (dotted)")
    ax.set_ylabel("HASPI v2")
    ax.set_title("(a) HASPI v2 against SNR, 65 dB SPL\n(x: pyclarity 0.9.0)")
    ax.legend(fontsize=8, loc="lower right")
    ax.invert_xaxis()

    ax = axes[1]
    levels = np.arange(40, 101, 5)
    y0 = x + noise  # 0 dB SNR
    for label, y, style in (("identical", x, "-o"), ("0 dB SNR", y0, "-s")):
        ours = [haspi(x, y, FS, audiogram=audiograms["N3"], level_db_spl=float(v))
                for v in levels]
        ax.plot(levels, ours, style, label=f"N3, {label} (audiolab)")
        print(f"(b) N3 {label}: " + ", ".join(
            f"{v} dB {s:.4f}" for v, s in zip(levels, ours, strict=True)))
    for cond in ("identical", "snr0"):
        for level in (65.0, 80.0):
            ax.plot([level], [pyclarity("haspi", cond, "N3", level)], "x", color="k", ms=8)
    ax.set_xlabel("level of the reference (dB SPL)")
    ax.set_title("(b) HASPI v2 against level, N3\n(x: pyclarity 0.9.0)")
    ax.legend(fontsize=8)

    ax = axes[2]
    names = list(audiograms)
    for i, eq in enumerate((1, 2)):
        ours = [hasqi(x, x, FS, audiogram=audiograms[n], equalisation=eq) for n in names]
        ax.bar(np.arange(len(names)) + 0.38 * i, ours, width=0.36,
               label=f"equalisation={eq} ({'NAL-R on the reference' if eq == 1 else 'none'})")
        key = "hasqi" if eq == 1 else "hasqi_eq2"
        ax.plot(np.arange(len(names)) + 0.38 * i, [pyclarity(key, "identical", n) for n in names],
                "x", color="k", ms=8)
        print(f"(c) HASQI identical eq{eq}: " + ", ".join(
            f"{n} {v:.4f}" for n, v in zip(names, ours, strict=True)))
    ax.set_xticks(np.arange(len(names)) + 0.19, names)
    ax.set_ylim(0, 1.05)
    ax.set_title("(c) HASQI v2 of an identical pair\n(x: pyclarity 0.9.0)")
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    fig.savefig(OUT, dpi=110)
    print(f"wrote {OUT}")

    for cond in ("identical", "snr0"):
        a, b = ref.make_pair(cond, 44100, 65.0)
        ours = haspi(a, b, 44100, audiogram=audiograms["N3"])
        ours_q = hasqi(a, b, 44100, audiogram=audiograms["N3"])
        print(f"44.1 kHz N3 {cond}: HASPI audiolab {ours:.4f} pyclarity "
              f"{pyclarity('haspi', cond, 'N3', fs=44100):.4f}; HASQI audiolab {ours_q:.4f} "
              f"pyclarity {pyclarity('hasqi', cond, 'N3', fs=44100):.4f}")


if __name__ == "__main__":
    main()
