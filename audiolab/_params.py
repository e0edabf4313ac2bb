"""Declared parameters: each config and chain stage states its parameters once.

A :class:`Param` holds what a parameter is (name, unit, default, range or choices, one-line
doc). From the same declaration come the checks of a config object (:func:`validate`), the
checks of a chain file's stage table (:func:`check_table`), and the parameter tables of
``audiolab stages`` and ``docs/parameters.md`` (:func:`range_text`, :func:`default_text`),
so the three cannot disagree. In the spirit of openMHA, where every plugin variable is
declared with its type, range and help text and the configuration language checks against it.

Every check goes through :mod:`audiolab._validate`, so all messages read the same:
``"attack_ms must be in (0, 500], got -3"``.
"""

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from audiolab._errors import ConfigError
from audiolab._validate import check_choice, check_int, check_real

__all__ = [
    "KINDS",
    "REQUIRED",
    "Param",
    "check_keys",
    "check_table",
    "default_text",
    "range_text",
    "validate",
    "without",
]

KINDS = ("real", "int", "choice", "any")


class _Required:
    """The default of a parameter that has none: the table or call must give it."""

    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()

# A bound is a number, or (factor, name): factor times the value of another parameter (the
# upper frequency limit fs/2 is (0.5, "fs")).
Bound = float | tuple[float, str]


@dataclass(frozen=True)
class Param:
    """One declared parameter.

    Parameters
    ----------
    name : str
        Attribute (and keyword) name in the config class.
    doc : str
        One line: what the parameter does (and what an unset value means, if it can be unset).
    kind : {"real", "int", "choice", "any"}
        How the value is checked: a real number in ``[low, high]``, an integer in
        ``[low, high]``, one of ``choices``, or by ``parse`` alone (``"any"`` without
        ``parse``: its owner checks it; ``values`` says what it takes).
    unit : str
        Unit of the value (``"Hz"``, ``"dB"``, ``"ms"``, ...); empty for none.
    default : object
        Value when not given; ``None`` means the parameter may be left unset (and then is
        derived, as ``doc`` says); :data:`REQUIRED` means it must be given.
    low, high : float or (float, str)
        Bounds of a real or integer parameter; ``(factor, name)`` is ``factor`` times the
        value of parameter ``name`` (checked after that one).
    low_open, high_open : bool
        Whether the bound itself is excluded (real parameters only).
    choices : tuple of str
        The allowed values of a ``"choice"`` parameter.
    key : str
        The key in a chain file's stage table, when it differs from ``name``.
    parse : callable, optional
        ``parse(name, value) -> value``: a further check (after the kind's) that may also
        convert the value; the only check of an ``"any"`` parameter.
    values : str
        The allowed values in words, for parameters whose ``parse`` decides them.
    hint : str
        What to do about a bad value, appended to the message (``"resample the signal
        first"``).
    """

    name: str
    doc: str
    kind: str = "real"
    unit: str = ""
    default: Any = REQUIRED
    low: Bound = -math.inf
    high: Bound = math.inf
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] = ()
    key: str = ""
    parse: Callable[[str, Any], Any] | None = None
    values: str = ""
    hint: str = ""

    def __post_init__(self) -> None:
        check_choice("kind", self.kind, KINDS)
        if self.kind == "choice" and not self.choices:
            raise ConfigError(f"parameter {self.name!r} is a choice but declares no choices")

    @property
    def table_key(self) -> str:
        """The key of this parameter in a chain file's stage table."""
        return self.key or self.name

    @property
    def required(self) -> bool:
        """True if the parameter has no default."""
        return self.default is REQUIRED

    def depends_on(self) -> tuple[str, ...]:
        """Names of the parameters whose values bound this one."""
        return tuple(b[1] for b in (self.low, self.high) if isinstance(b, tuple))

    def check(self, value: Any, *, name: str | None = None,
              context: Mapping[str, Any] | None = None) -> Any:
        """Return ``value`` checked (and converted) as declared; raise naming ``name``.

        Parameters
        ----------
        value : object
            The value given. ``None`` is accepted (and returned) when the default is ``None``.
        name : str, optional
            The name the message gives (default: the parameter's ``name``).
        context : mapping, optional
            Values of the other parameters, for bounds relative to them.

        Raises
        ------
        ConfigError
            The value is of the wrong type or outside the declared range.
        """
        label = self.name if name is None else name
        if value is None and self.default is None:
            return None
        try:
            return self._check(value, label, context)
        except ConfigError as exc:
            if not self.hint:
                raise
            raise ConfigError(f"{exc}; {self.hint}") from None

    def _check(self, value: Any, label: str, context: Mapping[str, Any] | None) -> Any:
        if self.kind == "real":
            value = check_real(label, value, low=self._bound(self.low, context),
                               high=self._bound(self.high, context), low_open=self.low_open,
                               high_open=self.high_open)
        elif self.kind == "int":
            value = check_int(label, value, low=_int_bound(self._bound(self.low, context)),
                              high=_int_bound(self._bound(self.high, context)))
        elif self.kind == "choice":
            value = check_choice(label, value, self.choices)
        if self.parse is not None:
            value = self.parse(label, value)
        return value

    def _bound(self, bound: Bound, context: Mapping[str, Any] | None) -> float:
        if not isinstance(bound, tuple):
            return bound  # an int stays exact (a seed's bound 2**63 - 1 is no float)
        factor, other = bound
        if context is None or context.get(other) is None:
            raise ConfigError(f"{self.name} is bounded by {other}, which is not known here")
        return factor * float(context[other])


def _int_bound(bound: float) -> int | None:
    return None if isinstance(bound, float) and math.isinf(bound) else int(bound)


def _bound_text(bound: Bound) -> str:
    if isinstance(bound, tuple):
        factor, other = bound
        return other if factor == 1 else f"{factor:g} {other}"
    return str(bound) if isinstance(bound, int) else f"{bound:g}"


def range_text(param: Param) -> str:
    """The allowed values of ``param`` in the notation of its error messages.

    Examples
    --------
    >>> range_text(Param("attack_ms", "attack time", low=0, high=500, low_open=True))
    '(0, 500]'
    >>> range_text(Param("ear", "ear", kind="choice", choices=("left", "right")))
    "'left', 'right'"
    """
    if param.values:
        return param.values
    if param.kind == "choice":
        return ", ".join(repr(c) for c in param.choices)
    lb = "(" if param.low_open else "["
    hb = ")" if param.high_open else "]"
    return f"{lb}{_bound_text(param.low)}, {_bound_text(param.high)}{hb}"


def default_text(param: Param) -> str:
    """The default as a chain file may spell it: ``required``, ``unset`` or the value."""
    if param.required:
        return "required"
    if param.default is None:
        return "unset"
    if isinstance(param.default, str):
        return repr(param.default)
    return f"{param.default:g}" if isinstance(param.default, float) else str(param.default)


def without(params: Sequence[Param], *names: str) -> tuple[Param, ...]:
    """``params`` except those named: a chain table's keys are its config's minus ``fs``."""
    unknown = set(names) - {p.name for p in params}
    if unknown:
        raise ConfigError(f"no declared parameter named {', '.join(sorted(unknown))}")
    return tuple(p for p in params if p.name not in names)


def _in_dependency_order(params: Sequence[Param]) -> list[Param]:
    """``params`` with each one after the parameters its bounds refer to (else as declared)."""
    return sorted(params, key=lambda p: bool(p.depends_on()))


def validate(values: Mapping[str, Any], params: Sequence[Param],
             context: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Check the values of a config (keyed by parameter ``name``) against their declarations.

    Parameters
    ----------
    values : mapping
        ``name -> value`` for every declared parameter (a missing one takes its default).
    params : sequence of Param
        The declarations.
    context : mapping, optional
        Further values that bounds may refer to (such as a chain's ``fs``).

    Returns
    -------
    dict
        ``name -> checked value`` (floats for real parameters, ints for integer ones).

    Raises
    ------
    ConfigError
        A required parameter is missing, or a value is of the wrong type or out of range;
        the message names the parameter, its range and the value.
    """
    checked: dict[str, Any] = dict(context or {})
    for p in _in_dependency_order(params):
        value = values.get(p.name, p.default)
        if value is REQUIRED:
            raise ConfigError(f"missing parameter {p.name!r}: {p.doc}")
        checked[p.name] = p.check(value, context=checked)
    return {p.name: checked[p.name] for p in params}


def check_keys(table: Any, allowed: Iterable[str], *, stage_type: str) -> None:
    """Raise :class:`ConfigError` unless ``table`` is a mapping with keys in ``allowed`` only.

    The message names the stage type, the unknown key and every allowed key.
    """
    allowed = tuple(allowed)
    if not isinstance(table, Mapping):
        raise ConfigError(f"a {stage_type!r} stage must be a table, got {type(table).__name__}")
    for key in table:
        if key not in allowed:
            raise ConfigError(
                f"unknown key {key!r} in a {stage_type!r} stage; allowed keys: "
                + (", ".join(repr(k) for k in allowed) or "none")
            )


def check_table(table: Any, params: Sequence[Param], *, stage_type: str,
                context: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Check a chain file's stage table (without ``type``) against its declared parameters.

    Parameters
    ----------
    table : mapping
        The stage's keys as read from TOML (``Param.table_key`` names).
    params : sequence of Param
        The stage's declared parameters (those a chain file may set).
    stage_type : str
        The stage type, for messages.
    context : mapping, optional
        Values that bounds may refer to (the chain's ``fs``).

    Returns
    -------
    dict
        ``name -> value`` for the keys the table sets, as given (the class converts them as
        it converts its keyword arguments, and fills in the defaults), ready to pass as
        keyword arguments.

    Raises
    ------
    ConfigError
        The table is not a table, has an unknown key, lacks a required key, or holds a value
        of the wrong type or out of range. One line naming the key, its range and the value.

    Examples
    --------
    >>> gain = Param("gain_db", "broadband gain", unit="dB", default=0.0, low=-120, high=120)
    >>> check_table({"gain_db": -6}, (gain,), stage_type="gain")
    {'gain_db': -6}
    """
    check_keys(table, (p.table_key for p in params), stage_type=stage_type)
    for p in params:
        if p.required and p.table_key not in table:
            raise ConfigError(
                f"missing key {p.table_key!r} in a {stage_type!r} stage: it needs "
                f"'{p.table_key}', {p.doc}"
            )
    checked: dict[str, Any] = dict(context or {})
    for p in _in_dependency_order(params):
        if p.table_key in table:
            checked[p.name] = p.check(table[p.table_key], name=p.table_key, context=checked)
        else:
            checked[p.name] = p.default  # what the class will use, for bounds relative to it
    return {p.name: table[p.table_key] for p in params if p.table_key in table}
