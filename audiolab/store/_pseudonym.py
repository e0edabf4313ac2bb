"""Subject pseudonyms: what the store accepts as a subject identifier, and what it refuses."""

import datetime
import re

from audiolab._errors import ConfigError, SignalTypeError

__all__ = ["MAX_PSEUDONYM_CHARS", "check_pseudonym"]

MAX_PSEUDONYM_CHARS = 64

_ALLOWED = re.compile(r"[A-Za-z0-9._-]+")
# A Danish CPR number is DDMMYY-NNNN or DDMMYYNNNN. It is looked for anywhere in the pseudonym
# ("P-010190-1234" carries the number as much as "0101901234" does), bounded by non-digits.
_CPR = re.compile(r"(?<![0-9])([0-9]{2})([0-9]{2})([0-9]{2})-?[0-9]{4}(?![0-9])")
# An e-mail address with its "@" replaced by a character the alphabet allows is still one.
_EMAIL_LIKE = re.compile(r"[A-Za-z0-9._%+-]+(@|\(at\)|\[at\])[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")


def _is_calendar_date(day: int, month: int, yy: int) -> bool:
    # The century of a CPR number follows from its 7th digit; a date is a possible birth date if
    # it exists in any of the centuries the scheme covers (29 February needs a leap year).
    for century in (1800, 1900, 2000):
        try:
            datetime.date(century + yy, month, day)
        except ValueError:
            continue
        return True
    return False


def _looks_like_cpr(pseudonym: str) -> bool:
    for match in _CPR.finditer(pseudonym):
        day, month, yy = (int(g) for g in match.groups())
        if _is_calendar_date(day, month, yy):
            return True
    return False


def check_pseudonym(pseudonym: object) -> str:
    """Return ``pseudonym`` if the store may hold it as a subject identifier, else raise.

    A pseudonym is 1 to 64 characters of ASCII letters, digits, ``-``, ``_`` and ``.``. Two kinds
    of identifier that name a person are refused even when they fit that alphabet: e-mail
    addresses (anything with ``@``) and Danish CPR numbers (``DDMMYY-NNNN`` or ``DDMMYYNNNN``,
    anywhere in the string, when ``DDMMYY`` is a calendar date).

    Parameters
    ----------
    pseudonym : str
        The subject identifier, e.g. ``"P01"``.

    Returns
    -------
    str
        ``pseudonym`` unchanged.

    Raises
    ------
    SignalTypeError
        If ``pseudonym`` is not a string.
    ConfigError
        If it is empty, too long, has a character outside the alphabet, or looks like an e-mail
        address or a CPR number; the message gives the reason in one line.

    Examples
    --------
    >>> check_pseudonym("P01")
    'P01'
    >>> check_pseudonym("010190-1234")
    Traceback (most recent call last):
    ...
    audiolab._errors.ConfigError: subject pseudonym '010190-1234' looks like a Danish CPR number \
(DDMMYY-NNNN); use a code that does not identify the person, e.g. P01
    """
    if not isinstance(pseudonym, str):
        raise SignalTypeError(
            f"subject pseudonym must be a string, got {type(pseudonym).__name__}"
        )
    if not 1 <= len(pseudonym) <= MAX_PSEUDONYM_CHARS:
        raise ConfigError(
            f"subject pseudonym must have 1 to {MAX_PSEUDONYM_CHARS} characters, "
            f"got {len(pseudonym)}"
        )
    advice = "use a code that does not identify the person, e.g. P01"
    if "@" in pseudonym or _EMAIL_LIKE.fullmatch(pseudonym):
        raise ConfigError(f"subject pseudonym {pseudonym!r} looks like an e-mail address; {advice}")
    if _looks_like_cpr(pseudonym):
        raise ConfigError(
            f"subject pseudonym {pseudonym!r} looks like a Danish CPR number (DDMMYY-NNNN); "
            f"{advice}"
        )
    if not _ALLOWED.fullmatch(pseudonym):
        bad = next(ch for ch in pseudonym if not _ALLOWED.fullmatch(ch))
        raise ConfigError(
            f"subject pseudonym {pseudonym!r} has the character {bad!r}; use only letters A-Z "
            "a-z, digits and - _ ."
        )
    return pseudonym
