"""Experiment files: one TOML file says what to measure, with what procedure and stimulus.

A file has four tables (see ``experiments/*.toml`` and docs/experiments.md):

- ``[experiment]``: ``name`` (required) and ``description``;
- ``[procedure]``: ``type`` (one of :data:`PROCEDURE_TYPES`) and the fields of that procedure's
  config (``start_db``, ``step_sizes_db``, ``floor_db``, ``ceiling_db``, ``max_reversals``...),
  named as in the config class; QUEST+ grids are given as ``{from = A, to = B, step = S}``;
- ``[stimulus]``: parsed by :func:`~audiolab.experiments.stimulus_spec` (``module = "x.py"``
  beside the file for ``kind = "custom"``);
- ``[response]``: ``type`` ``afc`` (with ``intervals``), ``yes_no`` (with ``catch_fraction``,
  ``false_alarm_rate``) or ``words`` (matrix sentences); pure-tone audiometry takes yes/no;
  ``answers_during_playback`` (default true) says whether a person may answer while the
  stimulus still plays.

Every error is a ConfigError naming ``table.key``, what is allowed and what was given.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from audiolab._errors import ConfigError
from audiolab._validate import check_choice, check_int, check_real
from audiolab.experiments._audiometry import AudiometryConfig
from audiolab.experiments._matrix import MatrixSrtConfig
from audiolab.experiments._procedures import (
    ConstantStimuliConfig,
    ProcedureConfig,
    UpDownConfig,
    WeightedUpDownConfig,
)
from audiolab.experiments._quest import QuestPlusConfig
from audiolab.experiments._stimuli import StimulusSpec, stimulus_spec
from audiolab.experiments._trials import Task

__all__ = ["PROCEDURE_TYPES", "Experiment", "load_experiment", "parse_experiment"]

_CONFIGS: dict[str, type] = {
    "up_down": UpDownConfig,
    "weighted_up_down": WeightedUpDownConfig,
    "constant_stimuli": ConstantStimuliConfig,
    "quest_plus": QuestPlusConfig,
    "audiometry": AudiometryConfig,
    "matrix": MatrixSrtConfig,
}
PROCEDURE_TYPES = tuple(_CONFIGS)
"""Values of ``procedure.type``."""

_TABLES = ("experiment", "procedure", "stimulus", "response")
_GRID_KEYS = ("stimuli_db", "thresholds_db", "slopes_per_db")
_MAX_GRID = 2001


@dataclass(frozen=True)
class Experiment:
    """A validated experiment file (build it with :func:`load_experiment`).

    Attributes
    ----------
    name, description : str
        From ``[experiment]``.
    procedure : ProcedureConfig
        The procedure's config (its ``task`` follows ``[response]``).
    stimulus : StimulusSpec
        The stimulus.
    x_min_db, x_max_db : float
        The range the procedure's variable can reach (its floor and ceiling), checked against
        the output ceiling before the first trial.
    frequencies_hz : tuple of float
        Tone frequencies the procedure sets (audiometry); empty else.
    source : str
        The file's path, ``"<string>"`` for :func:`parse_experiment`.
    text : str
        The file's full text (stored with each session).
    answers_during_playback : bool
        ``[response] answers_during_playback``: whether a person's answer given while the
        stimulus still plays is taken (and stored as such) or ignored until the sound ends.
        Default true (audiometry's listener answers while the tone plays).
    """

    name: str
    description: str
    procedure: ProcedureConfig
    stimulus: StimulusSpec
    x_min_db: float
    x_max_db: float
    frequencies_hz: tuple[float, ...]
    source: str
    text: str
    answers_during_playback: bool = True

    def plan(self) -> dict[str, Any]:
        """What the experiment will do, as JSON-able data (``audiolab run --dry-run``)."""
        proc = {k: v for k, v in dataclasses.asdict(self.procedure).items()
                if k not in _GRID_KEYS}
        return {"name": self.name, "description": self.description,
                "procedure": type(self.procedure).__name__, "procedure_config": proc,
                "stimulus": self.stimulus.describe(), "variable": self.stimulus.variable,
                "x_min_db": self.x_min_db, "x_max_db": self.x_max_db,
                "answers_during_playback": self.answers_during_playback}


def _table(doc: Mapping[str, Any], name: str, *, required: bool = True) -> dict[str, Any]:
    if name not in doc:
        if required:
            raise ConfigError(f"[{name}] must be given (tables: {', '.join(_TABLES)})")
        return {}
    value = doc[name]
    if not isinstance(value, Mapping):
        raise ConfigError(f"[{name}] must be a table, got {value!r}")
    return dict(value)


def _unknown(table: str, given: Mapping[str, Any], known: tuple[str, ...]) -> None:
    for key in given:
        if key not in known:
            raise ConfigError(f"{table}.{key} is not a known key (known: "
                              f"{', '.join(sorted(known))}), got {key!r}")


def _task(response: dict[str, Any], *, n_words: int | None) -> Task:
    _unknown("response", response, ("type", "intervals", "catch_fraction", "false_alarm_rate"))
    kind = check_choice("response.type", response.get("type", "afc"), ("afc", "yes_no", "words"))
    try:
        if kind == "afc":
            return Task(response="afc", n_intervals=response.get("intervals", 2))
        if kind == "yes_no":
            return Task(response="yes_no", n_intervals=1,
                        catch_fraction=response.get("catch_fraction", 0.0),
                        false_alarm_rate=response.get("false_alarm_rate", 0.0))
        return Task(response="words", n_intervals=1, n_words=n_words or 5)
    except ConfigError as exc:
        raise _prefixed("response", exc, {"n_intervals": "intervals"}) from None


def _prefixed(table: str, exc: ConfigError, rename: Mapping[str, str] | None = None) -> ConfigError:
    """The same error with its parameter named as ``table.key`` (the file's spelling)."""
    text = str(exc)
    for old, new in (rename or {}).items():
        if text.startswith(old):
            text = new + text[len(old):]
    return ConfigError(f"{table}.{text}")


def _grid(name: str, value: Any) -> tuple[float, ...]:
    if isinstance(value, Mapping):
        _unknown(f"procedure.{name}", value, ("from", "to", "step"))
        for key in ("from", "to", "step"):
            if key not in value:
                raise ConfigError(f"procedure.{name}.{key} must be given, got {dict(value)!r}")
        lo = check_real(f"procedure.{name}.from", value["from"], low=-1000, high=1000)
        hi = check_real(f"procedure.{name}.to", value["to"], low=lo, high=1000)
        step = check_real(f"procedure.{name}.step", value["step"], low=0, high=1000,
                          low_open=True)
        n = math.floor((hi - lo) / step + 1e-9) + 1
        check_int(f"procedure.{name} (points)", n, low=1, high=_MAX_GRID)
        return tuple(float(v) for v in np.round(lo + step * np.arange(n), 10))
    if isinstance(value, list):
        return tuple(value)
    raise ConfigError(f"procedure.{name} must be a list of numbers or "
                      f"{{from = A, to = B, step = S}}, got {value!r}")


def _procedure(table: dict[str, Any], response: dict[str, Any]) -> ProcedureConfig:
    if "type" not in table:
        raise ConfigError(f"procedure.type must be given, one of {', '.join(PROCEDURE_TYPES)}")
    kind = check_choice("procedure.type", table.pop("type"), PROCEDURE_TYPES)
    cls = _CONFIGS[kind]
    fields = tuple(f.name for f in dataclasses.fields(cls) if f.name != "task")
    _unknown("procedure", table, fields)
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key in _GRID_KEYS:
            value = _grid(key, value)
        elif isinstance(value, list):
            value = tuple(value)
        elif isinstance(value, Mapping) and key != "max_db_hl_by_frequency":
            raise ConfigError(f"procedure.{key} must be a number or a list, got {value!r}")
        values[key] = value
    if "max_db_hl_by_frequency" in values:
        raw = values["max_db_hl_by_frequency"]
        if not isinstance(raw, Mapping):
            raise ConfigError(f"procedure.max_db_hl_by_frequency must be a table of "
                              f"\"FREQUENCY\" = dB HL, got {raw!r}")
        try:
            values["max_db_hl_by_frequency"] = {float(k): v for k, v in raw.items()}
        except ValueError:
            raise ConfigError(f"procedure.max_db_hl_by_frequency keys must be frequencies in "
                              f"Hz, got {list(raw)!r}") from None
    try:
        if kind == "audiometry":
            if response and response.get("type", "yes_no") != "yes_no":
                raise ConfigError(f"response.type must be 'yes_no' for audiometry, got "
                                  f"{response.get('type')!r}")
            _unknown("response", response, ("type", "catch_fraction"))
            if "catch_fraction" in response:
                values["catch_fraction"] = response["catch_fraction"]
            return AudiometryConfig(**values)
        if kind == "matrix":
            if response.get("type", "words") != "words":
                raise ConfigError(f"response.type must be 'words' for the matrix test, got "
                                  f"{response.get('type')!r}")
            _unknown("response", response, ("type",))
            return MatrixSrtConfig(**values)
        return cls(**values, task=_task(response, n_words=None))
    except ConfigError as exc:
        if str(exc).startswith(("response.", "procedure.")):
            raise
        raise _prefixed("procedure", exc) from None
    except TypeError as exc:  # a required field missing
        raise ConfigError(f"procedure: {exc}".replace("__init__() ", "")) from None


def _range(cfg: ProcedureConfig) -> tuple[float, float, tuple[float, ...]]:
    """Floor and ceiling of the variable a procedure can reach, and its tone frequencies."""
    if isinstance(cfg, AudiometryConfig):
        tops = [cfg.ceiling_db_hl(f) for f in cfg.order_hz]
        return cfg.min_db_hl, max(tops), tuple(sorted(set(cfg.order_hz)))
    if isinstance(cfg, QuestPlusConfig):
        return min(cfg.stimuli_db), max(cfg.stimuli_db), ()
    if isinstance(cfg, ConstantStimuliConfig):
        return min(cfg.levels_db), max(cfg.levels_db), ()
    for key in ("floor_db", "ceiling_db"):
        if getattr(cfg, key) is None:
            raise ConfigError(f"procedure.{key} must be given: the runner checks every "
                              "reachable level against the output ceiling before the first "
                              "trial, got nothing")
    return float(cfg.floor_db), float(cfg.ceiling_db), ()  # type: ignore[union-attr, arg-type]


def parse_experiment(text: str, *, base_dir: Path | None = None,
                     source: str = "<string>") -> Experiment:
    """Validate an experiment file's text (see :func:`load_experiment`).

    Examples
    --------
    >>> exp = parse_experiment('''
    ... [experiment]
    ... name = "tone in noise"
    ... [procedure]
    ... type = "up_down"
    ... start_db = 60
    ... floor_db = 20
    ... ceiling_db = 80
    ... [stimulus]
    ... kind = "tone_in_noise"
    ... [response]
    ... type = "afc"
    ... intervals = 3
    ... ''')
    >>> exp.procedure.task.n_intervals, exp.x_max_db
    (3, 80.0)
    """
    if not isinstance(text, str):
        raise ConfigError(f"experiment text must be a str, got {type(text).__name__}")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source} is not valid TOML: {exc}") from None
    _unknown("file", doc, _TABLES)
    head = _table(doc, "experiment")
    _unknown("experiment", head, ("name", "description"))
    name = head.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"experiment.name must be a non-empty string, got {name!r}")
    description = head.get("description", "")
    if not isinstance(description, str):
        raise ConfigError(f"experiment.description must be a string, got {description!r}")
    response = _table(doc, "response", required=False)
    during = response.pop("answers_during_playback", True)
    if not isinstance(during, bool):
        raise ConfigError(f"response.answers_during_playback must be true or false, got "
                          f"{during!r}")
    procedure = _procedure(_table(doc, "procedure"), response)
    stimulus = stimulus_spec(_table(doc, "stimulus"), base_dir=base_dir)
    if isinstance(procedure, AudiometryConfig) and stimulus.kind != "tone":
        raise ConfigError(f"stimulus.kind must be 'tone' for audiometry, got {stimulus.kind!r}")
    if isinstance(procedure, MatrixSrtConfig) and stimulus.kind != "speech_in_noise":
        raise ConfigError("stimulus.kind must be 'speech_in_noise' for the matrix test, got "
                          f"{stimulus.kind!r}")
    if stimulus.kind == "speech_in_noise" and not isinstance(procedure, MatrixSrtConfig):
        raise ConfigError("procedure.type must be 'matrix' for stimulus.kind = "
                          f"'speech_in_noise', got {type(procedure).__name__}")
    x_min, x_max, freqs = _range(procedure)
    return Experiment(name=name.strip(), description=description, procedure=procedure,
                      stimulus=stimulus, x_min_db=float(x_min), x_max_db=float(x_max),
                      frequencies_hz=freqs, source=source, text=text,
                      answers_during_playback=during)


def load_experiment(path: str | Path) -> Experiment:
    """Read and validate an experiment TOML file.

    Parameters
    ----------
    path : str or pathlib.Path
        The file; a ``stimulus.module`` or ``stimulus.corpus`` is relative to its folder.

    Returns
    -------
    Experiment

    Raises
    ------
    ConfigError
        An unreadable file, invalid TOML, an unknown table or key, a wrong type or a value out
        of range: one line naming ``table.key``, the allowed range and the value.

    Examples
    --------
    >>> from pathlib import Path
    >>> import audiolab
    >>> root = Path(audiolab.__file__).resolve().parents[1] / "experiments"
    >>> load_experiment(root / "tone_in_noise_3afc.toml").procedure.task.n_intervals
    3
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"experiment file {str(p)!r} cannot be read: "
                          f"{getattr(exc, 'strerror', None) or exc}") from None
    return parse_experiment(text, base_dir=p.resolve().parent, source=str(p))
