"""Chain files: a TOML list of processing stages, the stage registry, and the chain processor.

A chain file (``# audiolab chain``) holds an optional processing rate ``fs`` and one
``[[stage]]`` table per stage, run in order::

    fs = 48000
    [[stage]]
    type = "hearing-aid"
    audiogram = "N3"
    [[stage]]
    type = "gain"
    gain_db = -6.0

Each stage type maps to a class (imported only when a chain uses it) that declares its keys in
``CHAIN_PARAMETERS`` (:class:`~audiolab._params.Param`), checks a table against them in
``from_chain_table`` and writes them back in ``to_chain_table``. The same declarations give
``audiolab stages`` and ``docs/parameters.md``. Every stage is a
:class:`~audiolab.dsp.Processor` on ``(n_channels, n)`` float32 sound pressure in Pa.
"""

import importlib
import os
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from audiolab._ckernel import check, ffi, float_buffer, lib
from audiolab._errors import ConfigError
from audiolab._params import Param, check_keys, check_table, validate, without
from audiolab.dsp._processor import Processor
from audiolab.dsp._units import db_to_amplitude

__all__ = [
    "CHAIN_FILE_PARAMETERS",
    "Chain",
    "ChainSpec",
    "GainStage",
    "StageSpec",
    "build_chain",
    "check_chain_table",
    "load_chain",
    "register_stage",
    "stage_class",
    "stage_parameters",
    "stage_types",
    "write_chain",
]

# type -> "module:Class". Classes are imported on first use, so a chain of gains never loads
# the hearing-loss simulator and a branch without a stage still reads every other chain.
_REGISTRY: dict[str, str] = {
    "gain": "audiolab.models._chain:GainStage",
    "hearing-aid": "audiolab.models._hearing_aid:HearingAid",
    "hearing-loss": "audiolab.models._hearing_loss:HearingLossSimulator",
    "ci-vocoder": "audiolab.models._ci:CochlearImplantSimulator",
}


def _whole_hz(name: str, fs: float) -> float:
    if not fs.is_integer():
        raise ConfigError(f"{name} must be a whole number of Hz, got {fs!r}")
    return fs


_CHAIN_FS = Param("fs", "processing rate; unset: every signal is processed at its own rate",
                  unit="Hz", default=None, low=8000, high=384000, parse=_whole_hz)
CHAIN_FILE_PARAMETERS: tuple[Param, ...] = (
    _CHAIN_FS,
    Param("stage", "the stages, run in order: one [[stage]] table each, with its 'type'",
          kind="any", values="array of tables"),
)
"""The top-level keys of a chain file (load_chain checks the stage list itself: its messages
name the stage and the known types)."""

_TOP_KEYS = tuple(p.name for p in CHAIN_FILE_PARAMETERS)
# Rate at which a chain without its own ``fs`` is test-built by load_chain.
_CHECK_FS = 48000.0


def register_stage(type_name: str, target: str) -> None:
    """Add (or replace) a stage type: ``target`` is ``"package.module:ClassName"``.

    The class must provide ``from_chain_table(table, *, fs)`` and ``to_chain_table()`` and be a
    :class:`~audiolab.dsp.Processor`. Chains loaded afterwards carry the target with them, so
    batch workers in other processes import it without registering it themselves.
    """
    if not isinstance(type_name, str) or not type_name:
        raise ConfigError(f"type_name must be a non-empty string, got {type_name!r}")
    module, _, cls = target.partition(":")
    if not module or not cls:
        raise ConfigError(f"target must be 'package.module:ClassName', got {target!r}")
    _REGISTRY[type_name] = target


def stage_types() -> tuple[str, ...]:
    """The registered stage types, sorted."""
    return tuple(sorted(_REGISTRY))


def _known_types() -> str:
    return ", ".join(repr(t) for t in stage_types())


def stage_class(type_name: str) -> type:
    """The class of a registered stage type (imported on this first use)."""
    if type_name not in _REGISTRY:
        raise ConfigError(f"unknown stage type {type_name!r}; known types: {_known_types()}")
    cls: type = _resolve(_REGISTRY[type_name], type_name)
    return cls


def stage_parameters(type_name: str) -> tuple[Param, ...] | None:
    """The declared chain-table keys of a registered stage type (its ``CHAIN_PARAMETERS``).

    None for a class that declares none (a stage registered from outside that checks its
    table by hand).
    """
    params = getattr(stage_class(type_name), "CHAIN_PARAMETERS", None)
    return None if params is None else tuple(params)


def check_chain_table(table: Mapping[str, Any], *, stage_type: str, allowed: Iterable[str]) -> None:
    """Raise :class:`ConfigError` if ``table`` has a key outside ``allowed``.

    For stage classes registered from outside that do not declare ``CHAIN_PARAMETERS``; the
    built-in stages check their tables with :func:`audiolab._params.check_table`.
    """
    check_keys(table, allowed, stage_type=stage_type)


def _plain(value: Any, where: str) -> Any:
    """``value`` with NumPy scalars and arrays turned into the TOML types they stand for."""
    if isinstance(value, np.ndarray):
        return [_plain(v, where) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Mapping):
        return {str(k): _plain(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v, where) for v in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if value is None or not isinstance(value, bool | int | float | str):
        raise ConfigError(f"{where}: {value!r} cannot be written to a chain file")
    return value


@dataclass(frozen=True, eq=True)
class StageSpec:
    """One stage of a :class:`ChainSpec`: its type, its keys, and the class that runs it.

    ``params`` is the stage table without ``type``; ``target`` is ``"module:Class"`` as registered
    when the chain was loaded.
    """

    type: str
    params: dict[str, Any]
    target: str

    def to_table(self) -> dict[str, Any]:
        """The stage's TOML table (``type`` first)."""
        return {"type": self.type, **_plain(self.params, f"stage {self.type!r}")}


@dataclass(frozen=True, eq=True)
class ChainSpec:
    """A validated chain description: what a chain file says, before it is built at a rate.

    Parameters
    ----------
    stages : tuple of StageSpec
        The stages in processing order (at least one).
    fs : float or None
        Processing rate in Hz, or None to process every signal at its own rate.
    source : str
        Where the chain came from (file path or ``"<dict>"``), used in messages only.
    """

    stages: tuple[StageSpec, ...]
    fs: float | None = None
    source: str = field(default="<dict>", compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The chain as plain data (the TOML/JSON document, ``fs`` omitted when unset)."""
        doc: dict[str, Any] = {}
        if self.fs is not None:
            doc["fs"] = int(self.fs) if float(self.fs).is_integer() else self.fs
        doc["stage"] = [s.to_table() for s in self.stages]
        return doc

    @classmethod
    def from_stages(cls, stages: Sequence[Any], *, fs: float | None = None) -> "ChainSpec":
        """Describe already constructed stage objects (each a registered class) as a chain."""
        by_target = {target: name for name, target in _REGISTRY.items()}
        table: list[dict[str, Any]] = []
        for i, stage in enumerate(stages, 1):
            target = f"{type(stage).__module__}:{type(stage).__qualname__}"
            if target not in by_target:
                raise ConfigError(
                    f"stage {i} is a {type(stage).__name__}, which is not a registered stage "
                    f"type; known types: {_known_types()}"
                )
            table.append({"type": by_target[target], **stage.to_chain_table()})
        doc: dict[str, Any] = {"stage": table}
        if fs is not None:
            doc["fs"] = fs
        return load_chain(doc)


def _resolve(target: str, type_name: str) -> Any:
    module_name, _, cls_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module_name.startswith(exc.name):
            raise ConfigError(
                f"stage type {type_name!r} is not available in this installation "
                f"({module_name} is missing)"
            ) from None
        raise
    try:
        return getattr(module, cls_name)
    except AttributeError:
        raise ConfigError(
            f"stage type {type_name!r} is not available in this installation "
            f"({module_name} has no {cls_name})"
        ) from None


def _check_fs(value: Any, where: str) -> float:
    return float(_CHAIN_FS.check(value, name=f"{where}fs"))


def _build_stage(spec: StageSpec, index: int, *, fs: float, source: str) -> Processor:
    where = f"{source}: stage {index} ({spec.type})"
    try:
        cls = _resolve(spec.target, spec.type)
        stage = cls.from_chain_table(dict(spec.params), fs=fs)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    if not isinstance(stage, Processor):
        raise ConfigError(f"{where}: {spec.target} did not build a Processor")
    return stage


def load_chain(source: "str | os.PathLike[str] | Mapping[str, Any] | ChainSpec") -> ChainSpec:
    """Read and validate a chain file (or the same structure as a dict).

    Every stage is test-built (at the chain's ``fs``, or 48 kHz if it has none), so every error
    in the file surfaces here, naming the stage, the key and the allowed values.

    Parameters
    ----------
    source : str, path-like, dict or ChainSpec
        Path of a TOML chain file, or its content as a dict (``{"fs": ..., "stage": [...]}``).

    Returns
    -------
    ChainSpec

    Raises
    ------
    ConfigError
        Missing or unreadable file, invalid TOML, an unknown key anywhere, an unknown stage type
        (the message lists the known ones), or a bad value.

    Examples
    --------
    >>> from audiolab.models import load_chain
    >>> spec = load_chain({"stage": [{"type": "gain", "gain_db": -6.0}]})
    >>> spec.stages[0].type, spec.fs
    ('gain', None)
    """
    if isinstance(source, ChainSpec):
        return source
    if isinstance(source, Mapping):
        doc: Any = source
        where = "chain"
    else:
        where = os.fspath(source)
        doc = _read_chain_file(where)
    for key in doc:
        if key not in _TOP_KEYS:
            raise ConfigError(
                f"{where}: unknown key {key!r} at the top level; allowed keys: "
                + ", ".join(repr(k) for k in _TOP_KEYS)
            )
    fs = None if doc.get("fs") is None else _check_fs(doc["fs"], f"{where}: ")
    spec = ChainSpec(stages=_stage_specs(doc.get("stage"), where), fs=fs, source=where)
    for i, stage in enumerate(spec.stages, 1):
        _build_stage(stage, i, fs=fs if fs is not None else _CHECK_FS, source=where)
    return spec


def _read_chain_file(where: str) -> dict[str, Any]:
    """The TOML document of the chain file at ``where``; one-line errors for what goes wrong."""
    if not where:  # Path("") would be the current folder
        raise ConfigError("the chain file name is empty; give the path of a TOML chain file")
    try:
        text = Path(where).read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"chain file {where} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"chain file {where} is a folder, not a TOML file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{where}: is not a text (TOML) file") from None
    except OSError as exc:
        raise ConfigError(f"chain file {where} cannot be read: {exc.strerror or exc}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not a valid TOML file ({exc})") from None


def _stage_specs(raw: Any, where: str) -> tuple[StageSpec, ...]:
    """The ``[[stage]]`` tables as specs: each a table with a registered ``type``."""
    if not isinstance(raw, list) or not raw:
        raise ConfigError(
            f"{where}: a chain needs at least one [[stage]] table with a 'type' "
            f"(known types: {_known_types()})"
        )
    stages = []
    for i, table in enumerate(raw, 1):
        if not isinstance(table, Mapping):
            raise ConfigError(f"{where}: stage {i} must be a table, got {type(table).__name__}")
        type_name = table.get("type")
        if type_name not in _REGISTRY:
            what = "has no 'type'" if type_name is None else f"has unknown type {type_name!r}"
            raise ConfigError(f"{where}: stage {i} {what}; known types: {_known_types()}")
        params = {k: v for k, v in table.items() if k != "type"}
        stages.append(StageSpec(type=type_name, params=params, target=_REGISTRY[type_name]))
    return tuple(stages)


def write_chain(chain: "ChainSpec | Chain", path: str | os.PathLike[str]) -> None:
    """Write a chain file that :func:`load_chain` reads back to an equal :class:`ChainSpec`."""
    import tomli_w

    spec = chain.spec if isinstance(chain, Chain) else chain
    if not isinstance(spec, ChainSpec):
        raise TypeError(f"chain must be a ChainSpec or a Chain, got {type(chain).__name__}")
    text = "# audiolab chain\n" + tomli_w.dumps(spec.to_dict())
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.part")
    tmp.write_text(text)
    os.replace(tmp, target)


def build_chain(
    spec: "ChainSpec | str | os.PathLike[str] | Mapping[str, Any]", *, fs: float | None = None
) -> "Chain":
    """Build the processor that runs a chain's stages in order at sample rate ``fs``.

    Parameters
    ----------
    spec : ChainSpec, path or dict
        The chain (loaded with :func:`load_chain` if it is not a ChainSpec yet).
    fs : float, optional
        Processing rate in Hz. Required when the chain sets no ``fs``; must equal it when it does
        (resample signals to the chain's rate first).

    Returns
    -------
    Chain
    """
    spec = load_chain(spec)
    if fs is None:
        if spec.fs is None:
            raise ConfigError(f"{spec.source}: the chain sets no fs, so build_chain needs fs=")
        rate = spec.fs
    else:
        rate = _check_fs(fs, "")
        if spec.fs is not None and rate != spec.fs:
            raise ConfigError(
                f"{spec.source} runs at fs={spec.fs:g} Hz, got fs={fs!r}: resample the signal "
                "to the chain's rate (audiolab process does this itself)"
            )
    stages = [_build_stage(s, i, fs=rate, source=spec.source) for i, s in enumerate(spec.stages, 1)]
    return Chain(stages, fs=rate, spec=spec)


class Chain(Processor):
    """A processor that runs its stages in order; latency is the sum of theirs.

    Parameters
    ----------
    stages : sequence of Processor
        The stages, each already built for ``fs``.
    fs : float
        Sample rate in Hz.
    spec : ChainSpec, optional
        The description the stages were built from (:func:`build_chain` sets it); derived from
        the stages when omitted.

    Examples
    --------
    >>> import numpy as np
    >>> from audiolab.models import build_chain
    >>> chain = build_chain({"stage": [{"type": "gain", "gain_db": 20.0}]}, fs=48000)
    >>> chain.process(np.full((2, 3), 0.1, np.float32)).round(3)
    array([[1., 1., 1.],
           [1., 1., 1.]], dtype=float32)
    """

    def __init__(
        self, stages: Sequence[Processor], *, fs: float, spec: ChainSpec | None = None
    ) -> None:
        super().__init__()
        if not stages:
            raise ConfigError("stages must hold at least one stage")
        for i, s in enumerate(stages, 1):
            if not isinstance(s, Processor):
                raise ConfigError(f"stage {i} must be a Processor, got {type(s).__name__}")
        self.fs = float(fs)
        self._stages = tuple(stages)
        self._spec = spec

    @property
    def stages(self) -> tuple[Processor, ...]:
        """The stage processors in processing order."""
        return self._stages

    @property
    def spec(self) -> ChainSpec:
        """The chain's description (what :func:`write_chain` writes)."""
        if self._spec is None:
            self._spec = ChainSpec.from_stages(self._stages, fs=self.fs)
        return self._spec

    @property
    def latency_samples(self) -> int:
        """Sum of the stages' latencies, in samples."""
        return sum(int(s.latency_samples) for s in self._stages)

    def c_stages(self, n_channels: int) -> list[tuple[Any, Any]]:
        """``(al_stage_fn, void *state)`` of every stage, in order, for the real-time engine."""
        out = []
        for i, s in enumerate(self._stages, 1):
            c_stage = getattr(s, "c_stage", None)
            if c_stage is None:
                raise ConfigError(
                    f"stage {i} ({type(s).__name__}) has no C implementation (c_stage)"
                )
            out.append(c_stage(n_channels))
        return out

    def reset(self) -> None:
        """Return every stage to rest."""
        super().reset()
        for s in self._stages:
            s.reset()

    def _allocate(self, n_channels: int) -> None:
        pass  # each stage allocates its own state on its first block

    def _process(self, x: np.ndarray) -> np.ndarray:
        for s in self._stages:
            x = s.process(x)
        return x


@dataclass(frozen=True)
class GainConfig:
    """Validated parameters of a :class:`GainStage`.

    Parameters
    ----------
    gain_db : float
        Broadband gain in dB, in [-120, 120].
    fs : float
        Sample rate in Hz, in (0, 768000] (the gain does not depend on it).
    """

    PARAMETERS: ClassVar[tuple[Param, ...]] = (
        Param("gain_db", "broadband gain applied to every channel", unit="dB", default=0.0,
              low=-120, high=120),
        Param("fs", "sample rate (the gain does not depend on it)", unit="Hz", default=48000.0,
              low=0, high=768000, low_open=True),
    )

    gain_db: float = 0.0
    fs: float = 48000.0

    def __post_init__(self) -> None:
        validate(vars(self), self.PARAMETERS)


class GainStage(Processor):
    """Broadband gain, the simplest chain stage (``type = "gain"``, key ``gain_db``).

    Parameters
    ----------
    gain_db : float
        Gain in dB applied to every channel, in [-120, 120].
    fs : float
        Sample rate in Hz.

    Examples
    --------
    >>> import numpy as np
    >>> from audiolab.models import GainStage
    >>> GainStage(gain_db=-20.0, fs=48000).process(np.ones(3, np.float32))
    array([0.1, 0.1, 0.1], dtype=float32)
    """

    # The chain sets fs for every stage: it is no key of the stage's table.
    CHAIN_PARAMETERS: ClassVar[tuple[Param, ...]] = without(GainConfig.PARAMETERS, "fs")

    def __init__(self, *, gain_db: float = 0.0, fs: float) -> None:
        super().__init__()
        self.config = GainConfig(gain_db=gain_db, fs=fs)
        self.fs = float(fs)
        self.gain_db = float(gain_db)
        self.gain = np.float32(db_to_amplitude(self.gain_db))
        self._c: Any = None
        self._c_states: list[Any] = []

    @classmethod
    def from_chain_table(cls, table: Mapping[str, Any], *, fs: float) -> "GainStage":
        """Build from a chain-file table (without ``type``): key ``gain_db`` (default 0)."""
        return cls(fs=fs, **check_table(table, cls.CHAIN_PARAMETERS, stage_type="gain"))

    def to_chain_table(self) -> dict[str, Any]:
        """The chain-file table of this stage (without ``type``)."""
        return {"gain_db": self.gain_db}

    @property
    def latency_samples(self) -> int:
        """A gain has no delay: 0."""
        return 0

    def _new_state(self, n_channels: int) -> Any:
        c = ffi.new("al_gain *")
        c.n_channels = n_channels
        c.gain = float(self.gain)
        return c

    def c_stage(self, n_channels: int) -> tuple[Any, Any]:
        """``(al_stage_fn, void *state)`` running this gain on ``n_channels`` channels in C."""
        if isinstance(n_channels, bool) or not isinstance(n_channels, int) or n_channels < 1:
            raise ConfigError(f"n_channels must be an integer >= 1, got {n_channels!r}")
        c = self._new_state(n_channels)
        self._c_states.append(c)  # the engine holds the pointer: keep the struct alive
        fn = ffi.cast("al_stage_fn", ffi.addressof(lib, "al_gain_process"))
        return fn, ffi.cast("void *", c)

    def _allocate(self, n_channels: int) -> None:
        self._c = self._new_state(n_channels)

    def _process(self, x: np.ndarray) -> np.ndarray:
        status = lib.al_gain_process(self._c, float_buffer(x, "block"), x.shape[0], x.shape[1])
        check(status, "al_gain_process")
        return x

