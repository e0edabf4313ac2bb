"""Audiograms: per-ear hearing thresholds in dB HL, standard presets and file formats.

An :class:`EarAudiogram` holds the air-conduction thresholds of one ear (and optionally its
bone-conduction thresholds); an :class:`Audiogram` holds both ears and a name. Wherever audiolab
asks for an audiogram it accepts an :class:`Audiogram`, a preset name (``"N1"``..``"N7"``,
``"S1"``..``"S3"``, Bisgaard et al. 2010) or the path of an audiogram file; :func:`load_audiogram`
does that conversion.

File formats (chosen by content for ``.json``, by suffix for ``.csv``):

- audiolab JSON: ``{"left": {"frequencies_hz": [...], "thresholds_db_hl": [...]},
  "right": {...}}``, optional ``"name"`` at the top and optional ``"bone_frequencies_hz"`` /
  ``"bone_thresholds_db_hl"`` per ear;
- Clarity listener JSON: one listener ``{"name": ..., "audiogram_cfs": [...],
  "audiogram_levels_l": [...], "audiogram_levels_r": [...]}`` or a ``listeners.json`` mapping of
  listener ids to such entries (pick one with ``PATH#LISTENER_ID``);
- CSV: a header row ``frequency_hz,left_db_hl,right_db_hl`` then one row per frequency; an empty
  cell means "not measured" in that ear. Optional columns ``left_bone_db_hl`` and
  ``right_bone_db_hl`` hold bone conduction. Lines starting with ``#`` are comments.
"""

import csv
import io
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from audiolab._errors import ConfigError, FileFormatError

__all__ = [
    "EARS",
    "STANDARD_AUDIOGRAMS",
    "Audiogram",
    "AudiogramLike",
    "EarAudiogram",
    "load_audiogram",
    "read_audiogram",
    "write_audiogram",
]

EARS: tuple[str, str] = ("left", "right")

MIN_DB_HL = -10.0
MAX_DB_HL = 120.0
# An audiogram must cover the speech frequencies every prescription rule uses.
COVER_LOW_HZ = 500.0
COVER_HIGH_HZ = 4000.0

_CSV_COLUMNS = (
    "frequency_hz", "left_db_hl", "right_db_hl", "left_bone_db_hl", "right_bone_db_hl"
)
_OUR_EAR_KEYS = (
    "frequencies_hz", "thresholds_db_hl", "bone_frequencies_hz", "bone_thresholds_db_hl"
)
_FORMATS = ("json", "clarity", "csv")


def _as_vector(name: str, values: Any) -> np.ndarray:
    if isinstance(values, str | bytes) or not isinstance(values, list | tuple | np.ndarray):
        raise ConfigError(f"{name} must be a list of numbers, got {type(values).__name__}")
    try:
        arr = np.array(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a list of numbers, got {list(values)!r}") from None
    if arr.ndim != 1:
        raise ConfigError(f"{name} must be a flat list of numbers, got shape {arr.shape}")
    return arr


def _validated_pair(
    what: str, frequencies_hz: Any, thresholds_db_hl: Any, *, need_cover: bool
) -> tuple[np.ndarray, np.ndarray]:
    f = _as_vector(f"{what} frequencies_hz", frequencies_hz)
    t = _as_vector(f"{what} thresholds_db_hl", thresholds_db_hl)
    if f.size != t.size:
        raise ConfigError(
            f"{what}: frequencies_hz has {f.size} values but thresholds_db_hl has {t.size}; "
            "give one threshold per frequency"
        )
    if f.size < (2 if need_cover else 1):
        raise ConfigError(f"{what}: need at least 2 frequencies, got {f.size}")
    if not np.isfinite(f).all() or (f <= 0).any():
        raise ConfigError(
            f"{what}: frequencies_hz must be finite and positive, got {f.tolist()!r}"
        )
    if (np.diff(f) <= 0).any():
        raise ConfigError(
            f"{what}: frequencies_hz must be sorted ascending without repeats, got {f.tolist()!r}"
        )
    if not np.isfinite(t).all():
        bad = f[~np.isfinite(t)][0]
        raise ConfigError(f"{what}: the threshold at {bad:g} Hz is not a finite number")
    out = (t < MIN_DB_HL) | (t > MAX_DB_HL)
    if out.any():
        i = int(np.argmax(out))
        raise ConfigError(
            f"{what}: thresholds must be in [{MIN_DB_HL:g}, {MAX_DB_HL:g}] dB HL, "
            f"got {t[i]:g} dB HL at {f[i]:g} Hz"
        )
    if need_cover and (f[0] > COVER_LOW_HZ or f[-1] < COVER_HIGH_HZ):
        raise ConfigError(
            f"{what}: the audiogram must cover {COVER_LOW_HZ:g}-{COVER_HIGH_HZ:g} Hz, "
            f"got {f[0]:g}-{f[-1]:g} Hz; measure at least 500, 1000, 2000 and 4000 Hz"
        )
    f.flags.writeable = False
    t.flags.writeable = False
    return f, t


@dataclass(frozen=True, eq=False)
class EarAudiogram:
    """Hearing thresholds of one ear.

    Parameters
    ----------
    frequencies_hz : array_like
        Test frequencies in Hz, positive, sorted ascending, no repeats, covering at least
        500-4000 Hz (standard audiometric frequencies are 125-8000 Hz incl. 750, 1500, 3000
        and 6000 Hz).
    thresholds_db_hl : array_like
        Air-conduction thresholds in dB HL, one per frequency, finite, in [-10, 120].
    bone_frequencies_hz, bone_thresholds_db_hl : array_like, optional
        Bone-conduction thresholds (dB HL) at their own frequencies; both or neither.

    Examples
    --------
    >>> ear = EarAudiogram([250, 500, 1000, 2000, 4000], [20, 25, 30, 40, 55])
    >>> round(float(ear.threshold_db_hl_at(1414.2)), 2)
    35.0
    """

    frequencies_hz: np.ndarray
    thresholds_db_hl: np.ndarray
    bone_frequencies_hz: np.ndarray | None = None
    bone_thresholds_db_hl: np.ndarray | None = None
    side: str = field(default="ear", compare=False)

    def __post_init__(self) -> None:
        f, t = _validated_pair(
            self.side, self.frequencies_hz, self.thresholds_db_hl, need_cover=True
        )
        object.__setattr__(self, "frequencies_hz", f)
        object.__setattr__(self, "thresholds_db_hl", t)
        if (self.bone_frequencies_hz is None) != (self.bone_thresholds_db_hl is None):
            raise ConfigError(
                f"{self.side}: give both bone_frequencies_hz and bone_thresholds_db_hl, or neither"
            )
        if self.bone_frequencies_hz is not None:
            bf, bt = _validated_pair(
                f"{self.side} bone conduction",
                self.bone_frequencies_hz,
                self.bone_thresholds_db_hl,
                need_cover=False,
            )
            object.__setattr__(self, "bone_frequencies_hz", bf)
            object.__setattr__(self, "bone_thresholds_db_hl", bt)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EarAudiogram):
            return NotImplemented
        return (
            np.array_equal(self.frequencies_hz, other.frequencies_hz)
            and np.array_equal(self.thresholds_db_hl, other.thresholds_db_hl)
            and _optional_equal(self.bone_frequencies_hz, other.bone_frequencies_hz)
            and _optional_equal(self.bone_thresholds_db_hl, other.bone_thresholds_db_hl)
        )

    __hash__ = None  # type: ignore[assignment]

    @property
    def has_bone_conduction(self) -> bool:
        """True if bone-conduction thresholds were given."""
        return self.bone_frequencies_hz is not None

    def threshold_db_hl_at(self, f_hz: ArrayLike) -> np.ndarray:
        """Air-conduction threshold in dB HL at any frequency.

        Linear interpolation on log frequency between the measured points; constant beyond
        the lowest and highest measured frequency.

        Parameters
        ----------
        f_hz : array_like
            Frequency or frequencies in Hz, positive and finite.

        Returns
        -------
        numpy.ndarray
            float64 thresholds in dB HL with the shape of ``f_hz`` (0-d for a scalar).
        """
        f = np.asarray(f_hz, dtype=np.float64)
        if f.size and (not np.isfinite(f).all() or (f <= 0).any()):
            raise ConfigError(f"f_hz must be finite and positive, got {f_hz!r}")
        return np.asarray(
            np.interp(np.log(f), np.log(self.frequencies_hz), self.thresholds_db_hl),
            dtype=np.float64,
        )

    def to_dict(self) -> dict[str, list[float]]:
        """The ear as our JSON object (``frequencies_hz``, ``thresholds_db_hl``, bone if any)."""
        d = {
            "frequencies_hz": _plain(self.frequencies_hz),
            "thresholds_db_hl": _plain(self.thresholds_db_hl),
        }
        if self.bone_frequencies_hz is not None and self.bone_thresholds_db_hl is not None:
            d["bone_frequencies_hz"] = _plain(self.bone_frequencies_hz)
            d["bone_thresholds_db_hl"] = _plain(self.bone_thresholds_db_hl)
        return d


def _optional_equal(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    if a is None or b is None:
        return a is b
    return np.array_equal(a, b)


def _plain(a: np.ndarray) -> list[float]:
    """JSON-friendly list: integral values as ints so files read like an audiologist wrote them."""
    return [int(v) if float(v).is_integer() else float(v) for v in a]


@dataclass(frozen=True)
class Audiogram:
    """Both ears' thresholds and a name (preset name or file stem, used in reports).

    Parameters
    ----------
    left, right : EarAudiogram
        Thresholds of each ear.
    name : str
        Short name for reports and manifests.

    Examples
    --------
    >>> ag = load_audiogram("N3")
    >>> ag.name, float(ag.ear("right").threshold_db_hl_at(2000))
    ('N3', 50.0)
    """

    left: EarAudiogram
    right: EarAudiogram
    name: str = "audiogram"

    def __post_init__(self) -> None:
        for side in EARS:
            if not isinstance(getattr(self, side), EarAudiogram):
                raise ConfigError(
                    f"{side} must be an EarAudiogram, got {type(getattr(self, side)).__name__}"
                )
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError(f"name must be a non-empty string, got {self.name!r}")

    @classmethod
    def symmetric(
        cls, frequencies_hz: ArrayLike, thresholds_db_hl: ArrayLike, *, name: str = "audiogram"
    ) -> "Audiogram":
        """An audiogram with the same thresholds in both ears."""
        return cls(
            EarAudiogram(frequencies_hz, thresholds_db_hl, side="left"),  # type: ignore[arg-type]
            EarAudiogram(frequencies_hz, thresholds_db_hl, side="right"),  # type: ignore[arg-type]
            name,
        )

    def ear(self, side: str) -> EarAudiogram:
        """The :class:`EarAudiogram` of ``side`` (``"left"`` or ``"right"``)."""
        if side == "left":
            return self.left
        if side == "right":
            return self.right
        raise ConfigError(f"ear must be 'left' or 'right', got {side!r}")

    def to_dict(self) -> dict[str, Any]:
        """Our JSON document: ``{"name": ..., "left": {...}, "right": {...}}``."""
        return {"name": self.name, "left": self.left.to_dict(), "right": self.right.to_dict()}

    def to_clarity_dict(self) -> dict[str, Any]:
        """One Clarity listener entry (both ears on the union of their frequencies)."""
        cfs = np.union1d(self.left.frequencies_hz, self.right.frequencies_hz)
        return {
            "name": self.name,
            "audiogram_cfs": _plain(cfs),
            "audiogram_levels_l": _plain(np.round(self.left.threshold_db_hl_at(cfs), 2)),
            "audiogram_levels_r": _plain(np.round(self.right.threshold_db_hl_at(cfs), 2)),
        }


AudiogramLike = Audiogram | str | Path | Mapping[str, Any]
"""What audiolab accepts as an audiogram: object, preset name, file path or inline table."""


def _load_presets() -> dict[str, Audiogram]:
    text = (
        resources.files("audiolab")
        .joinpath("data/bisgaard2010_standard_audiograms.json")
        .read_text(encoding="utf-8")
    )
    doc = json.loads(text)
    f = doc["frequencies_hz"]
    return {n: Audiogram.symmetric(f, t, name=n) for n, t in doc["audiograms"].items()}


STANDARD_AUDIOGRAMS: Mapping[str, Audiogram] = _load_presets()
"""Bisgaard, Vlaming & Dahlquist (2010) standard audiograms N1..N7, S1..S3 (both ears alike).

Published at 250, 375, 500, 750, 1000, 1500, 2000, 3000, 4000 and 6000 Hz; below 250 Hz and
above 6000 Hz :meth:`EarAudiogram.threshold_db_hl_at` holds the end values.
"""


def load_audiogram(audiogram: AudiogramLike) -> Audiogram:
    """Turn an audiogram, a preset name or a file path into an :class:`Audiogram`.

    Parameters
    ----------
    audiogram : Audiogram or str or pathlib.Path or dict
        An :class:`Audiogram` (returned as is), a preset name ``"N1"``..``"N7"``,
        ``"S1"``..``"S3"`` (case-insensitive), the path of an audiogram file (audiolab or
        Clarity JSON, or CSV; ``PATH#LISTENER_ID`` picks one listener of a Clarity
        ``listeners.json``), or a mapping laid out like the audiolab JSON (as a chain file's
        inline table).

    Returns
    -------
    Audiogram

    Raises
    ------
    ConfigError
        Unknown preset or missing file, or thresholds that are not a valid audiogram.
    FileFormatError
        The file exists but is not a readable audiogram.

    Examples
    --------
    >>> load_audiogram("s2").name
    'S2'
    """
    if isinstance(audiogram, Audiogram):
        return audiogram
    if isinstance(audiogram, str):
        preset = STANDARD_AUDIOGRAMS.get(audiogram.strip().upper())
        if preset is not None:
            return preset
    if isinstance(audiogram, Mapping):
        # An inline table (e.g. in a chain file): our JSON layout or one Clarity listener.
        return _from_json_doc(dict(audiogram), where="audiogram table", name="audiogram",
                              listener=None)
    if not isinstance(audiogram, str | Path):
        raise ConfigError(
            "audiogram must be an Audiogram, a preset name, a file path or a table with "
            f"'left' and 'right', got {type(audiogram).__name__}"
        )
    if isinstance(audiogram, str) and not audiogram.strip():  # Path("") would be the cwd
        raise ConfigError("audiogram is empty; give a preset name or an audiogram file")
    return read_audiogram(audiogram)


def _split_selector(path: str | Path) -> tuple[Path, str | None]:
    p = Path(path)
    if not p.exists() and "#" in str(path):
        base, _, listener = str(path).rpartition("#")
        return Path(base), listener
    return p, None


def read_audiogram(path: str | Path) -> Audiogram:
    """Read an audiogram file (audiolab JSON, Clarity listener JSON or CSV).

    The name of the result is the Clarity listener's name, the JSON ``"name"`` or the file stem.
    """
    p, listener = _split_selector(path)
    if not p.exists():
        presets = ", ".join(STANDARD_AUDIOGRAMS)
        raise ConfigError(
            f"audiogram {str(path)!r} is neither a preset ({presets}) nor an existing file; "
            "give a preset name or the path of a .json or .csv audiogram"
        )
    if p.is_dir():
        raise FileFormatError(f"audiogram path {str(p)!r} is a folder; give an audiogram file")
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise FileFormatError(
            f"cannot read audiogram file {str(p)!r}: {exc.strerror or exc}"
        ) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FileFormatError(
            f"audiogram file {str(p)!r} is not UTF-8 text; give a .json or .csv audiogram"
        ) from None
    if p.suffix.lower() == ".csv":
        if listener is not None:
            raise ConfigError(f"'#{listener}' selects a Clarity listener; {str(p)!r} is a CSV file")
        return _parse_csv(text, where=str(p), name=p.stem)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        hint = " (CSV audiograms need the .csv suffix)" if p.suffix.lower() != ".json" else ""
        raise FileFormatError(
            f"audiogram file {str(p)!r} is not valid JSON: {exc.msg} at line {exc.lineno}, "
            f"column {exc.colno}{hint}"
        ) from None
    return _from_json_doc(doc, where=str(p), name=p.stem, listener=listener)


def _from_json_doc(doc: Any, *, where: str, name: str, listener: str | None) -> Audiogram:
    if not isinstance(doc, dict):
        raise FileFormatError(
            f"{where}: an audiogram JSON must be an object, got {type(doc).__name__}"
        )
    if "audiogram_cfs" in doc:
        if listener is not None:
            raise ConfigError(f"{where} holds one Clarity listener; remove '#{listener}'")
        return _from_clarity_entry(doc, where=where, name=name)
    if "left" in doc or "right" in doc:
        if listener is not None:
            raise ConfigError(f"{where} is an audiolab audiogram, not a listeners file; "
                              f"remove '#{listener}'")
        return _from_our_json(doc, where=where, name=name)
    entries = {k: v for k, v in doc.items() if isinstance(v, dict) and "audiogram_cfs" in v}
    if not entries or len(entries) != len(doc):
        raise FileFormatError(
            f"{where}: not an audiogram; expected audiolab JSON with \"left\" and \"right\" or a "
            "Clarity listener with \"audiogram_cfs\", \"audiogram_levels_l\", "
            "\"audiogram_levels_r\""
        )
    if listener is None:
        if len(entries) > 1:
            some = ", ".join(list(entries)[:3])
            raise ConfigError(
                f"{where} holds {len(entries)} Clarity listeners; pick one as PATH#ID "
                f"(e.g. {where}#{next(iter(entries))}; ids include {some})"
            )
        listener = next(iter(entries))
    if listener not in entries:
        raise ConfigError(f"{where} has no listener {listener!r}; pick one of its listener ids")
    return _from_clarity_entry(entries[listener], where=f"{where}#{listener}", name=listener)


def _from_our_json(doc: dict[str, Any], *, where: str, name: str) -> Audiogram:
    unknown = set(doc) - {"left", "right", "name"}
    if unknown:
        raise FileFormatError(
            f"{where}: unknown key {sorted(unknown)[0]!r}; allowed keys are 'left', 'right', 'name'"
        )
    ears = {}
    for side in EARS:
        if side not in doc:
            raise FileFormatError(f"{where}: missing {side!r}; an audiogram needs both ears")
        entry = doc[side]
        if not isinstance(entry, dict):
            raise FileFormatError(f"{where}: {side!r} must be an object with frequencies_hz "
                                  "and thresholds_db_hl")
        bad = set(entry) - set(_OUR_EAR_KEYS)
        if bad:
            raise FileFormatError(
                f"{where}: unknown key {sorted(bad)[0]!r} in {side!r}; allowed keys are "
                + ", ".join(map(repr, _OUR_EAR_KEYS))
            )
        for key in _OUR_EAR_KEYS[:2]:
            if key not in entry:
                raise FileFormatError(f"{where}: {side!r} is missing {key!r}")
        ears[side] = _ear(
            entry["frequencies_hz"], entry["thresholds_db_hl"], where, side,
            entry.get("bone_frequencies_hz"), entry.get("bone_thresholds_db_hl"),
        )
    label = doc.get("name", name)
    if not isinstance(label, str) or not label:
        raise FileFormatError(f"{where}: 'name' must be a non-empty string, got {label!r}")
    return Audiogram(ears["left"], ears["right"], label)


def _ear(f: Any, t: Any, where: str, side: str, bf: Any = None, bt: Any = None) -> EarAudiogram:
    # Prefix validation errors with the file so the one-line message says where to look.
    try:
        return EarAudiogram(f, t, bf, bt, side=side)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _from_clarity_entry(entry: dict[str, Any], *, where: str, name: str) -> Audiogram:
    for key in ("audiogram_cfs", "audiogram_levels_l", "audiogram_levels_r"):
        if key not in entry:
            raise FileFormatError(f"{where}: Clarity listener is missing {key!r}")
    cfs = entry["audiogram_cfs"]
    label = entry.get("name", name)
    return Audiogram(
        _ear(cfs, entry["audiogram_levels_l"], where, "left"),
        _ear(cfs, entry["audiogram_levels_r"], where, "right"),
        label if isinstance(label, str) and label else name,
    )


def _parse_csv(text: str, *, where: str, name: str) -> Audiogram:
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    rows = list(csv.reader(lines))
    if not rows:
        raise FileFormatError(f"{where}: empty CSV; expected a header {','.join(_CSV_COLUMNS[:3])}")
    header = [h.strip().lower() for h in rows[0]]
    unknown = [h for h in header if h not in _CSV_COLUMNS]
    if unknown or len(set(header)) != len(header):
        raise FileFormatError(
            f"{where}: bad CSV header {rows[0]!r}; columns are frequency_hz, left_db_hl, "
            "right_db_hl and optionally left_bone_db_hl, right_bone_db_hl"
        )
    for required in _CSV_COLUMNS[:3]:
        if required not in header:
            raise FileFormatError(f"{where}: CSV header lacks the column {required!r}")
    columns: dict[str, list[float]] = {h: [] for h in header}
    for lineno, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise FileFormatError(
                f"{where}: data row {lineno} has {len(row)} cells, the header has {len(header)}"
            )
        for h, cell in zip(header, row, strict=True):
            cell = cell.strip()
            try:
                columns[h].append(float(cell) if cell else math.nan)
            except ValueError:
                raise FileFormatError(
                    f"{where}: data row {lineno}, column {h!r}: {cell!r} is not a number"
                ) from None
    freqs = np.array(columns["frequency_hz"])
    if np.isnan(freqs).any():
        raise FileFormatError(f"{where}: every row needs a frequency_hz")

    def measured(col: str) -> tuple[np.ndarray, np.ndarray] | None:
        if col not in columns:
            return None
        v = np.array(columns[col])
        keep = ~np.isnan(v)
        return (freqs[keep], v[keep]) if keep.any() else None

    ears = []
    for side in EARS:
        air = measured(f"{side}_db_hl")
        if air is None:
            raise FileFormatError(f"{where}: the column {side}_db_hl has no values")
        bone = measured(f"{side}_bone_db_hl")
        ears.append(_ear(air[0], air[1], where, side, *(bone or (None, None))))
    return Audiogram(ears[0], ears[1], name)


def _csv_text(ag: Audiogram) -> str:
    ears = [ag.left, ag.right]
    has_bone = any(e.has_bone_conduction for e in ears)
    cols = list(_CSV_COLUMNS if has_bone else _CSV_COLUMNS[:3])
    sets = [e.frequencies_hz for e in ears]
    if has_bone:
        sets += [e.bone_frequencies_hz for e in ears if e.bone_frequencies_hz is not None]
    freqs = np.unique(np.concatenate(sets))

    def cell(f_arr: np.ndarray | None, t_arr: np.ndarray | None, f: float) -> str:
        if f_arr is None or t_arr is None:
            return ""
        hit = np.flatnonzero(f_arr == f)
        return f"{t_arr[hit[0]]:g}" if hit.size else ""

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(cols)
    for f in freqs:
        row = [f"{f:g}"] + [cell(e.frequencies_hz, e.thresholds_db_hl, f) for e in ears]
        if has_bone:
            row += [cell(e.bone_frequencies_hz, e.bone_thresholds_db_hl, f) for e in ears]
        writer.writerow(row)
    return buf.getvalue()


def write_audiogram(audiogram: AudiogramLike, path: str | Path, *, format: str = "json") -> Path:
    """Write an audiogram file.

    Parameters
    ----------
    audiogram : Audiogram or str or pathlib.Path
        What to write (anything :func:`load_audiogram` accepts).
    path : str or pathlib.Path
        Output file; its folder must exist.
    format : {"json", "clarity", "csv"}
        audiolab JSON, one Clarity listener entry (both ears on the union of their frequencies,
        interpolated on log frequency; bone conduction is not part of that format) or CSV.

    Returns
    -------
    pathlib.Path
        The written path.
    """
    ag = load_audiogram(audiogram)
    if format not in _FORMATS:
        raise ConfigError(f"format must be one of {', '.join(map(repr, _FORMATS))}, got {format!r}")
    if format == "csv":
        text = _csv_text(ag)
    else:
        doc = ag.to_dict() if format == "json" else ag.to_clarity_dict()
        text = json.dumps(doc, indent=2) + "\n"
    out = Path(path)
    out.write_text(text, encoding="utf-8")
    return out
