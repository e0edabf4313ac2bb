"""Synthesise audiolab's bundled speech material with espeak-ng (run once; output is committed).

Run from the repository root, with espeak-ng installed (Debian package ``espeak-ng``)::

    python audiolab/data/speech/make_speech.py

It writes ``sentences/*.flac``, ``matrix/*.flac``, ``manifest.csv`` and
``speech_shaped_noise.flac`` beside this script: 22050 Hz (espeak-ng's native rate), mono, FLAC
PCM_24. Every recording is trimmed of leading and trailing silence and stored at one RMS level
(-26 dB re full scale RMS 1.0), so all items are equally loud before any level is applied.
espeak-ng synthesises 16-bit samples, so the scaled samples are rounded to the 16-bit grid:
the 24-bit FLAC then costs what 16 bits would (FLAC drops the unused low bits). The
speech-shaped noise is 5 s of :func:`audiolab.audiology.speech_shaped_noise` (seed 1) at the same
level. The sentences and the matrix words were written for audiolab.
"""

import csv
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from audiolab.dsp import db_to_amplitude

HERE = Path(__file__).resolve().parent
FS = 22050
VOICE = "en-us"
WORDS_PER_MINUTE = 150
STORED_RMS = float(db_to_amplitude(-26))  # digital RMS of every stored item
NOISE_SECONDS = 5.0
NOISE_SEED = 1

SENTENCES = (
    "The dog sleeps by the warm fire.",
    "She opened the window in the morning.",
    "We bought fresh bread at the market.",
    "The children played in the park.",
    "He drank a cup of hot tea.",
    "The train left the station on time.",
    "Please close the door behind you.",
    "My sister painted the old fence.",
    "The rain stopped before lunch.",
    "They walked home along the river.",
    "A small bird sang in the tree.",
    "The teacher read a long story.",
)

# Five classes of ten words; any choice of one word per class is a grammatical sentence.
MATRIX = {
    "name": ("Peter", "Kathy", "Lucy", "Alan", "Rachel",
             "Thomas", "Nina", "Steven", "Doris", "Barry"),
    "verb": ("bought", "gives", "got", "has", "keeps", "likes", "sees", "sold", "wants", "wins"),
    "number": ("two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "twelve"),
    "adjective": ("large", "small", "old", "dark", "cheap", "green", "pretty", "red", "big",
                  "heavy"),
    "object": ("desks", "chairs", "shoes", "toys", "cups", "spoons", "rings", "mugs", "bowls",
               "coats"),
}


def synthesise(text: str) -> np.ndarray:
    """Speak ``text`` with espeak-ng and return float64 samples at :data:`FS`."""
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "out.wav"
        subprocess.run(
            ["espeak-ng", "-v", VOICE, "-s", str(WORDS_PER_MINUTE), "-w", str(wav), text],
            check=True,
        )
        x, fs = sf.read(str(wav), dtype="float64")
    if fs != FS:
        raise SystemExit(f"espeak-ng wrote {fs} Hz, expected {FS} Hz")
    return x


def trim(x: np.ndarray, *, pad_s: float = 0.01, fade_s: float = 0.005) -> np.ndarray:
    """Cut leading and trailing silence (below -45 dB re peak), keep a pad, fade its ends."""
    active = np.flatnonzero(np.abs(x) > np.abs(x).max() * db_to_amplitude(-45))
    pad = int(pad_s * FS)
    y = x[max(active[0] - pad, 0): active[-1] + pad + 1].copy()
    n_fade = int(fade_s * FS)
    ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(n_fade) / n_fade)
    y[:n_fade] *= ramp
    y[-n_fade:] *= ramp[::-1]
    return y


def store(x: np.ndarray, relative: str) -> None:
    """Write ``x`` at :data:`STORED_RMS` as FLAC PCM_24, on the 16-bit grid."""
    y = np.round(x * (STORED_RMS / np.sqrt(np.mean(x * x))) * 32768.0) / 32768.0
    if np.abs(y).max() >= 1.0:
        raise SystemExit(f"{relative} would clip at the stored level")
    path = HERE / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), y, FS, subtype="PCM_24", format="FLAC")


def main() -> int:
    """Synthesise every item, write the manifest, then the speech-shaped noise."""
    rows = []
    for k, text in enumerate(SENTENCES, start=1):
        relative = f"sentences/s{k:02d}.flac"
        store(trim(synthesise(text)), relative)
        rows.append({"file": relative, "words": text.rstrip("."), "kind": "sentence",
                     "word_class": ""})
    for word_class, words in MATRIX.items():
        for k, word in enumerate(words):
            relative = f"matrix/{word_class}_{k:02d}.flac"
            store(trim(synthesise(word)), relative)
            rows.append({"file": relative, "words": word, "kind": "matrix",
                         "word_class": word_class})
    with (HERE / "manifest.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=["file", "words", "kind", "word_class"],
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)

    # Imported here: the noise follows the LTASS of the corpus just written.
    from audiolab.audiology import load_speech_corpus, speech_shaped_noise

    corpus = load_speech_corpus(HERE)
    noise = speech_shaped_noise(int(NOISE_SECONDS * FS), fs=FS, seed=NOISE_SEED, corpus=corpus)
    store(noise.astype(np.float64), "speech_shaped_noise.flac")
    print(f"wrote {len(rows)} items, manifest.csv and speech_shaped_noise.flac to {HERE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
