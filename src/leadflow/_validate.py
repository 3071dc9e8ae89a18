"""Validators and converters shared by the domain classes (private).

Each validator has the ``attrs`` signature ``(instance, attribute, value)`` and raises
:class:`leadflow.errors.ValidationError` naming the attribute and the value, so every class
validates the same way and every message has the same shape.
"""

from __future__ import annotations

import difflib
import enum
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

import attrs

from leadflow.errors import ConfigError, ValidationError

__all__ = [
    "FrozenMap",
    "aware",
    "boolean",
    "check_aware",
    "check_keys",
    "finite",
    "fraction",
    "fraction_below_one",
    "email",
    "freeze_map",
    "identifier",
    "member_of",
    "non_empty",
    "non_negative",
    "normalise_email",
    "optional_aware",
    "optional_finite",
    "optional_positive",
    "optional_positive_int",
    "optional_non_empty",
    "optional_non_negative",
    "positive",
    "positive_int",
    "utc",
    "coerce_enum",
    "NUMBER_PATTERN",
    "parse_number",
]

_EMAIL = re.compile(
    r"^[^@\s,;<>()\[\]\"']+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")
#: What a number in text looks like: a sign, ASCII digits, a decimal point, an exponent. No
#: thousands separators ("1,5" and "5,000,000,00" are refused rather than guessed at), no
#: ``_``, no ``nan``/``inf``. The columnar path (:mod:`leadflow.etl.contract`) uses the same text.
NUMBER_PATTERN = r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"
_NUMBER = re.compile(NUMBER_PATTERN)

Scalar = str | int | float | bool | None
E = TypeVar("E", bound=enum.Enum)


class FrozenMap(Mapping[str, Scalar]):
    """An immutable, hashable, picklable mapping of custom properties.

    >>> props = FrozenMap({"persona": "it-buyer", "seats": 40})
    >>> props["seats"], dict(props) == {"persona": "it-buyer", "seats": 40}
    (40, True)
    >>> hash(props) == hash(FrozenMap({"seats": 40, "persona": "it-buyer"}))
    True
    """

    __slots__ = ("_data", "_hash")

    def __init__(self, data: Mapping[str, Scalar] | None = None) -> None:
        self._data: dict[str, Scalar] = dict(data or {})
        self._hash: int | None = None

    def __getitem__(self, key: str) -> Scalar:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._data.items()))
        return self._hash

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return self._data == dict(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenMap, (self._data,))


def freeze_map(value: Mapping[str, Scalar] | None) -> FrozenMap:
    """Converter: any mapping (or ``None``) to a :class:`FrozenMap`."""
    if isinstance(value, FrozenMap):
        return value
    if value is None:
        return FrozenMap()
    if not isinstance(value, Mapping):
        raise ValidationError("properties", value, "is not a mapping of names to values")
    for key, item in value.items():
        if not isinstance(key, str) or not key:
            raise ValidationError("properties", key, "is not a non-empty string key")
        if not isinstance(item, str | int | float | bool) and item is not None:
            raise ValidationError(
                f"properties[{key!r}]", item, "is not a str, int, float, bool or None"
            )
        if isinstance(item, float) and not math.isfinite(item):
            raise ValidationError(f"properties[{key!r}]", item, "is not a finite number")
    return FrozenMap(value)


def check_aware(name: str, value: object) -> datetime:
    """Return *value* if it is a timezone-aware datetime, else raise naming *name*."""
    if not isinstance(value, datetime):
        raise ValidationError(name, value, "is not a datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(name, value, "is a naive datetime; pass a timezone-aware one")
    return value


def aware(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    """Validator: a timezone-aware :class:`~datetime.datetime` (naive ones are refused)."""
    check_aware(attribute.name, value)


def optional_aware(inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    """Validator: ``None`` or a timezone-aware datetime."""
    if value is not None:
        aware(inst, attribute, value)


def non_empty(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    """Validator: a string with at least one non-space character."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(attribute.name, value, "must be a non-empty string")


def optional_non_empty(inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    """Validator: ``None`` or a non-empty string."""
    if value is not None:
        non_empty(inst, attribute, value)


def identifier(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    """Validator: a lower-case snake_case name such as ``quote_request``."""
    if not isinstance(value, str) or not _IDENTIFIER.match(value):
        raise ValidationError(
            attribute.name, value, "must be a lower-case snake_case name (e.g. 'quote_request')"
        )


def non_negative(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    """Validator: a finite number that is zero or more (``bool`` is refused)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(attribute.name, value, "is not a number")
    if not math.isfinite(value) or value < 0:
        raise ValidationError(attribute.name, value, "must be a finite number >= 0")


def optional_non_negative(inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    """Validator: ``None`` or a finite number that is zero or more."""
    if value is not None:
        non_negative(inst, attribute, value)


def parse_number(name: str, raw: str, kind: type) -> int | float:
    """*raw* (text) as a finite ``int`` or ``float``, by :data:`NUMBER_PATTERN` only.

    ``"250.0"`` is a whole number; ``"1,5"``, ``"1e999"`` and ``"nan"`` are refused.

    >>> parse_number("employees", " 250.0 ", int), parse_number("annual_revenue", "5e8", float)
    (250, 500000000.0)
    """
    text = raw.strip()
    if not _NUMBER.match(text):
        raise ValidationError(
            name, raw, "is not a number (digits, '.', an exponent; no separators)"
        )
    number = float(text)
    if not math.isfinite(number):
        raise ValidationError(name, raw, "is not a finite number")
    if kind is int:
        if number != int(number):
            raise ValidationError(name, raw, "is not a whole number")
        if abs(number) >= 2.0**63:
            raise ValidationError(name, raw, "is out of range (a 64-bit whole number)")
        return int(number)
    return number


def normalise_email(value: object) -> object:
    """Converter: strip and lower-case an e-mail address; other values pass unchanged."""
    if isinstance(value, str):
        stripped = value.strip().lower()
        if stripped.startswith("mailto:"):
            stripped = stripped[len("mailto:") :]
        return stripped or None
    return value


def email(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    """Validator: ``None`` or a syntactically valid e-mail address."""
    if value is None:
        return
    if not isinstance(value, str) or not _EMAIL.match(value):
        raise ValidationError(attribute.name, value, "is not a valid e-mail address")


def coerce_enum(enum_cls: type[E], value: Any) -> Any:
    """*value* as a member of *enum_cls*, or unchanged for :func:`member_of` to report."""
    try:
        return enum_cls(value)
    except ValueError:
        return value


def member_of(enum_cls: type[enum.Enum]) -> Callable[[object, attrs.Attribute[Any], object], None]:
    """Validator: a member of *enum_cls*; the message lists the allowed values."""

    def check(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if not isinstance(value, enum_cls):
            allowed = ", ".join(repr(m.value) for m in enum_cls)
            raise ValidationError(attribute.name, value, f"is not one of {allowed}")

    return check


def finite(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    """Validator: a finite number (``bool`` is refused)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValidationError(attribute.name, value, "is not a finite number")


def optional_finite(inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    """Validator: ``None`` or a finite number."""
    if value is not None:
        finite(inst, attribute, value)


def positive(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    """Validator: a finite number above zero (``bool`` is refused)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(attribute.name, value, "is not a number")
    if not math.isfinite(value) or value <= 0:
        raise ValidationError(attribute.name, value, "must be a finite number > 0")


def optional_positive(inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    """Validator: ``None`` or a finite number above zero."""
    if value is not None:
        positive(inst, attribute, value)


def fraction(inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    """Validator: a number from 0 to 1, both included (a share, a jitter)."""
    finite(inst, attribute, value)
    if not 0 <= value <= 1:  # type: ignore[operator]
        raise ValidationError(attribute.name, value, "must be a number from 0 to 1")


def fraction_below_one(inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    """Validator: a number at least 0 and below 1 (a share that cannot be all of it)."""
    finite(inst, attribute, value)
    if not 0 <= value < 1:  # type: ignore[operator]
        raise ValidationError(attribute.name, value, "must be at least 0 and below 1")


def positive_int(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    """Validator: a whole number of at least 1 (``bool`` is refused)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(attribute.name, value, "must be a whole number >= 1")


def optional_positive_int(inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    """Validator: ``None`` or a whole number of at least 1."""
    if value is not None:
        positive_int(inst, attribute, value)


def boolean(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    """Validator: ``True`` or ``False`` (not 1, not ``"yes"``)."""
    if not isinstance(value, bool):
        raise ValidationError(attribute.name, value, "is not true or false")


def utc(at: Any, name: str = "at") -> datetime:
    """*at*, a timezone-aware datetime, as UTC; a naive one raises naming *name*.

    Aware datetimes sharing a tzinfo compare by wall time, ignoring ``fold``: inside a repeated
    hour 01:30 (the second time) would sort before 01:45 (the first). Compare in UTC.

    >>> from datetime import timedelta, timezone
    >>> utc(datetime(2026, 3, 2, 9, 0, tzinfo=timezone(timedelta(hours=1)))).isoformat()
    '2026-03-02T08:00:00+00:00'
    """
    return check_aware(name, at).astimezone(UTC)


def check_keys(data: Mapping[str, Any], path: str, allowed: Iterable[str]) -> None:
    """Refuse a key of *data* (a configuration table at *path*) that is not in *allowed*,
    naming it and the closest allowed key: a typo in a configuration file is an error, not a
    setting silently ignored.

    >>> check_keys({"path": "crm.json", "page_size": 5}, "adapters.jsonfile", ["path", "page_size"])
    >>> check_keys({"pagesize": 5}, "adapters.jsonfile", ["path", "page_size"])
    Traceback (most recent call last):
    ...
    leadflow.errors.ConfigError: adapters.jsonfile.pagesize: unknown key 'pagesize'; did you mean 'page_size'?
    >>> check_keys({"region": "eu"}, "", ["path", "page_size"])
    Traceback (most recent call last):
    ...
    leadflow.errors.ConfigError: region: unknown key 'region'; expected one of page_size, path
    """
    known = sorted(allowed)
    for key in data:
        if key in known:
            continue
        close = difflib.get_close_matches(str(key), known, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"expected one of {', '.join(known)}"
        where = f"{path}.{key}" if path else str(key)
        raise ConfigError(where, f"unknown key {key!r}; {hint}")
