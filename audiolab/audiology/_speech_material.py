"""Speech material: the bundled corpus (or a user's own), matrix sentences, speech-shaped noise.

The bundled corpus lives in ``audiolab/data/speech/``: short everyday sentences and a matrix-test
word grid (5 word classes x 10 words, name-verb-number-adjective-object, after the design of the
Hagerman and Oldenburg matrix tests), synthesised once with espeak-ng by
``audiolab/data/speech/make_speech.py`` and stored as 24-bit FLAC with a manifest CSV.

A corpus is a manifest CSV with the columns ``file`` (path relative to the manifest's folder, or
absolute) and ``words`` (what is said); optional columns ``kind`` (``sentence``, the default, or
``matrix``) and ``word_class`` (for matrix words: one of :data:`MATRIX_WORD_CLASSES`). Any sound
file soundfile reads will do, at any sample rate; items are resampled on loading.
"""

import csv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from audiolab._errors import ConfigError, FileFormatError
from audiolab._validate import check_int, check_real
from audiolab.calibration import scale_to_db_spl
from audiolab.dsp import resample

__all__ = [
    "BUNDLED_SPEECH_DIR",
    "MATRIX_WORD_CLASSES",
    "MatrixSentence",
    "SpeechCorpus",
    "SpeechItem",
    "load_speech_corpus",
    "matrix_sentence",
    "speech_ltass",
    "speech_shaped_noise",
]

BUNDLED_SPEECH_DIR = Path(__file__).resolve().parent.parent / "data" / "speech"
"""Folder of the bundled corpus (``manifest.csv``, FLAC files, ``make_speech.py``)."""

MATRIX_WORD_CLASSES: tuple[str, ...] = ("name", "verb", "number", "adjective", "object")
"""Word classes of a matrix sentence, in sentence order ("Peter bought three large desks")."""

_KINDS = ("sentence", "matrix")
# Welch segment for the long-term average speech spectrum: 2048 samples at 22.05 kHz (10.8 Hz
# resolution) follows the third-octave bands near a male voice's F0 to within ~0.5 dB; 46 ms
# segments missed them by 2 dB at 100-160 Hz.
_LTASS_SEGMENT_S = 0.0929




def _check_fs(fs: Any) -> float:
    return check_real("fs", fs, low=4000, high=384000)


def _check_level(level_db_spl: Any) -> float:
    return check_real("level_db_spl", level_db_spl, low=-50, high=140)


@dataclass(frozen=True)
class SpeechItem:
    """One recording of a corpus.

    Attributes
    ----------
    file : pathlib.Path
        The sound file (absolute path).
    words : str
        What is said.
    kind : str
        ``"sentence"`` or ``"matrix"`` (one word of the matrix grid).
    word_class : str
        For matrix words one of :data:`MATRIX_WORD_CLASSES`, else ``""``.
    """

    file: Path
    words: str
    kind: str = "sentence"
    word_class: str = ""

    def read(self) -> tuple[np.ndarray, float]:
        """Samples as stored (float64, 1-D, first channel) and the file's sample rate in Hz."""
        import soundfile as sf

        try:
            x, fs = sf.read(str(self.file), dtype="float64", always_2d=True)
        except (RuntimeError, sf.LibsndfileError) as exc:
            raise FileFormatError(f"cannot read speech file {self.file}: {exc}") from None
        return x[:, 0], float(fs)

    def load(self, *, fs: float, level_db_spl: float = 65.0) -> np.ndarray:
        """The recording as sound pressure at ``fs``, scaled to an RMS level.

        Parameters
        ----------
        fs : float
            Sample rate of the result in Hz (resampled from the file's rate if it differs).
        level_db_spl : float
            RMS level of the whole recording in dB SPL, in [-50, 140].

        Returns
        -------
        ndarray, shape (n_samples,), float32
            Sound pressure in Pa.
        """
        fs = _check_fs(fs)
        level = _check_level(level_db_spl)
        x, fs_file = self.read()
        return scale_to_db_spl(resample(x, fs_in=fs_file, fs_out=fs), level)


@dataclass(frozen=True)
class SpeechCorpus:
    """A set of speech recordings read from a manifest (see :func:`load_speech_corpus`)."""

    manifest: Path
    items: tuple[SpeechItem, ...]

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[SpeechItem]:
        return iter(self.items)

    @property
    def name(self) -> str:
        """The corpus folder's name (``speech`` for the bundled one)."""
        return self.manifest.parent.name

    @property
    def sentences(self) -> tuple[SpeechItem, ...]:
        """Items of kind ``sentence``, in manifest order."""
        return tuple(i for i in self.items if i.kind == "sentence")

    def matrix_grid(self) -> dict[str, tuple[SpeechItem, ...]]:
        """Matrix words by class, in :data:`MATRIX_WORD_CLASSES` order.

        Raises
        ------
        ConfigError
            If the corpus has no matrix words, or a class is empty.
        """
        grid = {c: tuple(i for i in self.items if i.kind == "matrix" and i.word_class == c)
                for c in MATRIX_WORD_CLASSES}
        empty = [c for c, words in grid.items() if not words]
        if empty:
            raise ConfigError(
                f"speech corpus {self.manifest} has no matrix words of class {', '.join(empty)}; "
                "a matrix corpus needs rows with kind=matrix for each of "
                f"{', '.join(MATRIX_WORD_CLASSES)}"
            )
        return grid


def _read_manifest(manifest: Path) -> tuple[SpeechItem, ...]:
    try:
        with manifest.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
            columns = set(rows[0].keys()) if rows else set()
    except OSError as exc:
        raise FileFormatError(f"cannot read speech manifest {manifest}: {exc.strerror}") from None
    except (csv.Error, UnicodeDecodeError) as exc:
        raise FileFormatError(f"speech manifest {manifest} is not a UTF-8 CSV: {exc}") from None
    if not rows:
        raise FileFormatError(f"speech manifest {manifest} has no rows (need columns file,words)")
    missing = {"file", "words"} - columns
    if missing:
        raise FileFormatError(
            f"speech manifest {manifest} lacks column(s) {', '.join(sorted(missing))}; "
            "a manifest is a CSV with columns file,words[,kind,word_class]"
        )
    items = []
    for line, row in enumerate(rows, start=2):
        where = f"speech manifest {manifest}, line {line}"
        file = (row.get("file") or "").strip()
        if not file:
            raise FileFormatError(f"{where}: empty file column")
        path = Path(file) if Path(file).is_absolute() else manifest.parent / file
        if not path.is_file():
            raise FileFormatError(f"{where}: sound file {path} does not exist")
        kind = (row.get("kind") or "sentence").strip()
        if kind not in _KINDS:
            raise FileFormatError(f"{where}: kind must be one of {', '.join(_KINDS)}, got {kind!r}")
        word_class = (row.get("word_class") or "").strip()
        if kind == "matrix" and word_class not in MATRIX_WORD_CLASSES:
            raise FileFormatError(
                f"{where}: word_class must be one of {', '.join(MATRIX_WORD_CLASSES)} for a "
                f"matrix word, got {word_class!r}"
            )
        items.append(SpeechItem(path.resolve(), (row.get("words") or "").strip(), kind,
                                word_class if kind == "matrix" else ""))
    return tuple(items)


@lru_cache(maxsize=8)
def _cached_corpus(manifest: Path) -> SpeechCorpus:
    return SpeechCorpus(manifest, _read_manifest(manifest))


def load_speech_corpus(path: str | Path | None = None) -> SpeechCorpus:
    """Read a speech corpus from its manifest.

    Parameters
    ----------
    path : str or pathlib.Path, optional
        A manifest CSV, or a folder holding ``manifest.csv``. Default: the bundled corpus.

    Returns
    -------
    SpeechCorpus

    Examples
    --------
    >>> from audiolab.audiology import load_speech_corpus
    >>> corpus = load_speech_corpus()
    >>> [len(words) for words in corpus.matrix_grid().values()]
    [10, 10, 10, 10, 10]
    >>> x = corpus.sentences[0].load(fs=16000, level_db_spl=65.0)
    """
    p = BUNDLED_SPEECH_DIR if path is None else Path(path)
    manifest = p / "manifest.csv" if p.is_dir() else p
    if not manifest.is_file():
        raise FileFormatError(
            f"speech corpus {p} not found: give a manifest CSV (columns file,words) or a folder "
            "holding manifest.csv"
        )
    return _cached_corpus(manifest.resolve())


def _corpus(corpus: SpeechCorpus | str | Path | None) -> SpeechCorpus:
    return corpus if isinstance(corpus, SpeechCorpus) else load_speech_corpus(corpus)


@dataclass(frozen=True)
class MatrixSentence:
    """A matrix sentence composed from word recordings (see :func:`matrix_sentence`)."""

    audio: np.ndarray  # (n_samples,) float32, Pa
    fs: float
    indices: tuple[int, ...]  # one word index per class
    words: tuple[str, ...]

    @property
    def text(self) -> str:
        """The sentence as text."""
        return " ".join(self.words)


def _matrix_indices(
    indices: Sequence[int] | None, seed: int | None, grid: dict[str, tuple["SpeechItem", ...]]
) -> tuple[int, ...]:
    """The word index of each class: checked against the grid, or drawn with ``seed``."""
    if indices is None:
        gen = np.random.default_rng(seed)
        return tuple(int(gen.integers(len(grid[c]))) for c in MATRIX_WORD_CLASSES)
    if isinstance(indices, str) or len(indices) != len(MATRIX_WORD_CLASSES):
        raise ConfigError(
            f"indices must be {len(MATRIX_WORD_CLASSES)} word indices (one per class "
            f"{', '.join(MATRIX_WORD_CLASSES)}), got {indices!r}"
        )
    return tuple(
        check_int(f"indices[{k}] ({c})", i, low=0, high=len(grid[c]) - 1)
        for k, (c, i) in enumerate(zip(MATRIX_WORD_CLASSES, indices, strict=True))
    )


def matrix_sentence(
    indices: Sequence[int] | None = None,
    *,
    fs: float,
    seed: int | None = None,
    corpus: SpeechCorpus | str | Path | None = None,
    level_db_spl: float = 65.0,
    gap_ms: float = 40.0,
) -> MatrixSentence:
    """Compose a matrix sentence (name verb number adjective object) from word recordings.

    Parameters
    ----------
    indices : sequence of 5 int, optional
        Which word of each class, in :data:`MATRIX_WORD_CLASSES` order. Default: drawn at
        random, one per class, from ``numpy.random.default_rng(seed)``.
    fs : float
        Sample rate of the result in Hz.
    seed : int, optional
        Seed for the random draw when ``indices`` is not given.
    corpus : SpeechCorpus or path, optional
        Corpus with matrix words (default: the bundled one).
    level_db_spl : float
        RMS level of the whole sentence in dB SPL.
    gap_ms : float
        Silence between words in ms, in [0, 500].

    Returns
    -------
    MatrixSentence
        ``audio`` (float32, Pa), ``fs``, ``indices`` and ``words``.

    Examples
    --------
    >>> from audiolab.audiology import matrix_sentence
    >>> s = matrix_sentence([0, 0, 1, 0, 0], fs=22050)
    >>> s.text
    'Peter bought three large desks'
    """
    fs = _check_fs(fs)
    level = _check_level(level_db_spl)
    gap = check_real("gap_ms", gap_ms, low=0, high=500)
    grid = _corpus(corpus).matrix_grid()
    chosen = _matrix_indices(indices, seed, grid)
    silence = np.zeros(int(round(gap * 1e-3 * fs)))
    parts: list[np.ndarray] = []
    words = []
    for c, i in zip(MATRIX_WORD_CLASSES, chosen, strict=True):
        item = grid[c][i]
        x, fs_file = item.read()
        if parts:
            parts.append(silence)
        parts.append(resample(x, fs_in=fs_file, fs_out=fs))
        words.append(item.words)
    audio = scale_to_db_spl(np.concatenate(parts), level)
    return MatrixSentence(audio=audio, fs=fs, indices=chosen, words=tuple(words))


@lru_cache(maxsize=8)
def _ltass_cached(corpus: SpeechCorpus) -> tuple[np.ndarray, np.ndarray]:
    from scipy.signal import welch

    fs_common = corpus.items[0].read()[1]
    nperseg = int(round(_LTASS_SEGMENT_S * fs_common))
    acc = np.zeros(nperseg // 2 + 1)
    n_total = 0
    pending: list[np.ndarray] = []

    def flush() -> None:
        nonlocal acc, n_total
        y = np.concatenate(pending) if pending else np.zeros(0)
        pending.clear()
        if y.size >= nperseg:
            # Weighted by duration: the LTASS of the corpus as one long recording.
            acc = acc + welch(y, fs=fs_common, nperseg=nperseg, detrend=False)[1] * y.size
            n_total += y.size

    # Items are joined in groups of a few million samples, so short words count too and a
    # long corpus never sits in memory at once.
    for item in corpus.items:
        x, fs_file = item.read()
        pending.append(resample(x, fs_in=fs_file, fs_out=fs_common))
        if sum(p.size for p in pending) >= 1 << 22:
            flush()
    flush()
    if n_total == 0:
        raise ConfigError(f"speech corpus {corpus.manifest} is too short for a spectrum")
    return np.fft.rfftfreq(nperseg, 1.0 / fs_common), acc / n_total


def speech_ltass(
    corpus: SpeechCorpus | str | Path | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Long-term average speech spectrum (LTASS) of a corpus.

    Every item counts by its duration, as if the corpus were one long recording; the items are
    taken at their stored level (the bundled items are all stored at one RMS level).

    Parameters
    ----------
    corpus : SpeechCorpus or path, optional
        Default: the bundled corpus.

    Returns
    -------
    frequencies_hz, psd : ndarray
        Frequencies in Hz from 0 to half the first item's sample rate, and the power spectral
        density (digital units squared per Hz, one-sided).
    """
    f, pxx = _ltass_cached(_corpus(corpus))
    return f.copy(), pxx.copy()


def speech_shaped_noise(
    n_samples: int,
    *,
    fs: float,
    seed: int | None = None,
    corpus: SpeechCorpus | str | Path | None = None,
    level_db_spl: float = 65.0,
) -> np.ndarray:
    """Stationary Gaussian noise with the long-term average spectrum of a speech corpus.

    White Gaussian noise drawn from ``numpy.random.default_rng(seed)`` is shaped in the
    frequency domain by the square root of :func:`speech_ltass`, interpolated on the noise's
    frequency grid (zero above the corpus's Nyquist frequency). The result is periodic with
    period ``n_samples``, so it loops without a click.

    Parameters
    ----------
    n_samples : int
        Length in samples, >= 1.
    fs : float
        Sample rate in Hz.
    seed : int, optional
        Seed: the same seed gives the same noise.
    corpus : SpeechCorpus or path, optional
        Corpus whose spectrum to follow (default: the bundled one).
    level_db_spl : float
        RMS level of the noise in dB SPL.

    Returns
    -------
    ndarray, shape (n_samples,), float32
        Sound pressure in Pa.

    Examples
    --------
    >>> from audiolab.audiology import speech_shaped_noise
    >>> noise = speech_shaped_noise(48000, fs=48000, seed=1, level_db_spl=60.0)
    >>> noise.shape, noise.dtype
    ((48000,), dtype('float32'))
    """
    n = check_int("n_samples", n_samples, low=1, high=2**31 - 1)
    fs = _check_fs(fs)
    level = _check_level(level_db_spl)
    f_ltass, psd = _ltass_cached(_corpus(corpus))
    white = np.random.default_rng(seed).standard_normal(n)
    spectrum = np.fft.rfft(white)
    f = np.fft.rfftfreq(n, 1.0 / fs)
    shape = np.sqrt(np.interp(f, f_ltass, psd, right=0.0))
    return scale_to_db_spl(np.fft.irfft(spectrum * shape, n), level)
