"""Scorecards as data: the shared, versionable definition of a good lead.

Scope: the frozen value classes of a scorecard — :class:`Scorecard`, :class:`Rule`,
:class:`Thresholds` and the conditions — with their validation, their plain-dict form
(:meth:`Scorecard.from_dict` / :meth:`Scorecard.to_dict`) and their TOML form
(:func:`load_scorecard`, :func:`loads_scorecard`, :func:`dump_scorecard`). Evaluation lives in
:mod:`leadflow.rules.scoring`; nothing here reads a clock.

A rule has an id, a condition, points (negative allowed), an optional cap and a category:
*fit* (who they are) or *behaviour* (what they did). Behaviour rules carry a signal: *interest*
(content, webinars, e-mail clicks) or *intent* (quote, demo, pricing, RFP).

Conditions are field predicates on the lead and its account (:class:`Equals`, :class:`OneOf`,
:class:`Range`, :class:`Regex`, :class:`TitleKeywords`, :class:`Missing`, :class:`Present`,
:class:`FreeMailDomain`), combinators (:class:`AllOf`, :class:`AnyOf`, :class:`Not`) and
activity conditions (:class:`ActivityCount`). Field names and activity kinds are checked when a
card is built, so a typo is an error naming where it is, never a silent zero:

>>> Scorecard.from_dict({
...     "name": "demo",
...     "rules": [{"id": "vp", "category": "fit", "points": 20,
...                "when": {"field": "titel", "keywords": ["VP"]}}],
... })
Traceback (most recent call last):
...
leadflow.errors.ConfigError: rules[0].when.field: unknown field 'titel'; did you mean 'title'?

Paths index rules from 0, like Python.
"""

from __future__ import annotations

import difflib
import enum
import math
import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from os import PathLike
from pathlib import Path
from typing import Any, TypeAlias

import attrs

from leadflow import _validate as v
from leadflow._files import read_text
from leadflow._validate import check_keys as _check_keys
from leadflow._validate import finite as _finite
from leadflow._validate import fraction_below_one as _fraction
from leadflow._validate import optional_finite as _optional_finite
from leadflow._validate import optional_positive as _optional_positive
from leadflow._validate import positive as _positive
from leadflow.errors import ConfigError, NotFoundError, ValidationError
from leadflow.model import STANDARD_ACTIVITY_KINDS, Account, Activity, Lead
from leadflow.rules import matching as m
from leadflow.rules._files import build, in_source, toml_key, toml_value

__all__ = [
    "ACCOUNT_FIELDS",
    "FREE_MAIL_DOMAINS",
    "LEAD_FIELDS",
    "NUMERIC_FIELDS",
    "ActivityCount",
    "AllOf",
    "AnyOf",
    "Category",
    "Condition",
    "Equals",
    "FreeMailDomain",
    "Missing",
    "Not",
    "OneOf",
    "Present",
    "Range",
    "Regex",
    "Rule",
    "Scorecard",
    "Signal",
    "Thresholds",
    "TitleKeywords",
    "condition_from_dict",
    "dump_scorecard",
    "iter_conditions",
    "load_scorecard",
    "loads_scorecard",
]


# -- vocabulary --------------------------------------------------------------------------------


class Category(enum.StrEnum):
    """What a rule judges: *fit* (Level 1, who they are) or *behaviour* (Level 2, what they did)."""

    FIT = "fit"
    BEHAVIOUR = "behaviour"


class Signal(enum.StrEnum):
    """What a behaviour shows: *interest* (reading, watching) is not *intent* (asking to buy)."""

    INTEREST = "interest"
    INTENT = "intent"


_DERIVED_LEAD_FIELDS = ("email_domain", "full_name")

#: Lead fields a condition may name: the :class:`~leadflow.model.Lead` attributes (except its
#: history and properties) plus the derived ``email_domain`` and ``full_name``. Custom properties
#: are named ``properties.<name>``.
LEAD_FIELDS: frozenset[str] = frozenset(
    {a.name for a in attrs.fields(Lead) if a.name not in {"history", "properties"}}
    | set(_DERIVED_LEAD_FIELDS)
)

#: Account fields a condition may name, with their ``account.`` prefix; custom account
#: properties are ``account.properties.<name>``.
ACCOUNT_FIELDS: frozenset[str] = frozenset(
    f"account.{a.name}" for a in attrs.fields(Account) if a.name != "properties"
)

#: Fields that hold numbers (the only ones, with custom properties, that :class:`Range` accepts).
NUMERIC_FIELDS: frozenset[str] = frozenset(
    {"annual_revenue", "employees", "account.annual_revenue", "account.employees"}
)

#: Consumer e-mail domains that :class:`FreeMailDomain` matches unless given its own list.
FREE_MAIL_DOMAINS: frozenset[str] = frozenset(
    {
        "126.com",
        "163.com",
        "aol.com",
        "fastmail.com",
        "gmail.com",
        "gmx.com",
        "gmx.de",
        "gmx.net",
        "googlemail.com",
        "hey.com",
        "hotmail.co.uk",
        "hotmail.com",
        "hotmail.fr",
        "icloud.com",
        "live.com",
        "mac.com",
        "mail.com",
        "mail.ru",
        "me.com",
        "msn.com",
        "outlook.com",
        "proton.me",
        "protonmail.com",
        "qq.com",
        "tutanota.com",
        "web.de",
        "yahoo.co.uk",
        "yahoo.com",
        "yahoo.fr",
        "yandex.com",
        "yandex.ru",
        "zoho.com",
    }
)

_PROPERTY_PREFIXES = ("properties.", "account.properties.")


def _known_field(name: object) -> str:
    """*name* if a condition may read it; else a :class:`ConfigError` with a suggestion."""
    if not isinstance(name, str) or not name:
        raise ConfigError("field", f"must be a non-empty field name, got {name!r}")
    if name in LEAD_FIELDS or name in ACCOUNT_FIELDS:
        return name
    for prefix in _PROPERTY_PREFIXES:
        if name.startswith(prefix) and name[len(prefix) :].strip():
            return name
    known = sorted(LEAD_FIELDS | ACCOUNT_FIELDS)
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"did you mean {close[0]!r}?" if close else "a custom property is 'properties.<name>'"
    raise ConfigError("field", f"unknown field {name!r}; {hint}")


# -- validators and converters -----------------------------------------------------------------


def _field_name(_inst: object, _attribute: attrs.Attribute[Any], value: object) -> None:
    _known_field(value)


def _to_float(value: Any) -> Any:
    """Converter: an int (not a bool) to float, so ``20`` and ``20.0`` make equal cards."""
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _optional_float(value: Any) -> Any:
    return None if value is None else _to_float(value)


def _str_tuple(value: Any) -> Any:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Iterable) and not isinstance(value, Mapping):
        return tuple(value)
    return value


def _non_empty_strings(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, tuple) or not value:
        raise ValidationError(attribute.name, value, "must be a non-empty list of strings")
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise ValidationError(attribute.name, item, "is not a non-empty string")


def _kind_names(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, tuple):
        raise ValidationError(attribute.name, value, "must be a list of activity kinds")
    for item in value:
        if not isinstance(item, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", item):
            raise ValidationError(
                attribute.name, item, "is not a snake_case activity kind (e.g. 'quote_request')"
            )
    if len(set(value)) != len(value):
        raise ValidationError(attribute.name, value, "lists a kind twice")


def _scalar(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str | int | float | bool):
        raise ValidationError(attribute.name, value, "must be a string, number or boolean")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValidationError(attribute.name, value, "is not a finite number")


def _scalars(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, tuple) or not value:
        raise ValidationError(attribute.name, value, "must be a non-empty list of values")
    for item in value:
        _scalar(_inst, attribute, item)


# -- conditions --------------------------------------------------------------------------------


class _Matchable:
    """What every condition can do besides being data: judge a lead."""

    __slots__ = ()

    def matcher(self) -> m.Matcher:
        """This condition prepared for evaluation (see :mod:`leadflow.rules.matching`)."""
        raise NotImplementedError  # pragma: no cover - every condition class defines it

    def matches(
        self,
        lead: Lead,
        account: Account | None = None,
        *,
        activities: Iterable[Activity] = (),
        as_of: datetime | None = None,
    ) -> bool:
        """Whether the condition holds for *lead*, its *account* and its *activities*.

        Activity conditions count *activities* at or before *as_of* (timezone-aware; required
        when activities are given). A card scores many leads faster with
        :func:`leadflow.rules.scoring.score_many`, which prepares each condition once.

        >>> from datetime import datetime, timezone
        >>> at = datetime(2026, 3, 2, tzinfo=timezone.utc)
        >>> vp = TitleKeywords(keywords=["VP"])
        >>> vp.matches(Lead(id="L-1", created_at=at, title="VP Sales"))
        True
        >>> vp.matches(Lead(id="L-2", created_at=at, title="SVP Sales"))
        False
        """
        activities = tuple(activities)
        if not activities:
            seen: m.Seen = {}
        elif as_of is None:
            raise ValidationError("as_of", None, "is required to judge activities")
        else:
            seen = m.sightings_by_kind(lead.id, activities, as_of)
        return self.matcher().evidence(lead, account, seen) is not None


@attrs.frozen(kw_only=True)
class Equals(_Matchable):
    """The field equals *value* (strings compare case- and edge-space-insensitively).

    TOML: ``{ field = "country", equals = "US" }``
    """

    field: str = attrs.field(validator=_field_name)
    value: str | int | float | bool = attrs.field(validator=_scalar)

    def matcher(self) -> m.Matcher:
        """This condition prepared for evaluation (see :mod:`leadflow.rules.matching`)."""
        return m.EqualsOneOf(m.reader(self.field), frozenset({m.comparable(self.value)}))

    def to_dict(self) -> dict[str, Any]:
        """Plain data that :func:`condition_from_dict` reads back to an equal condition."""
        return {"field": self.field, "equals": self.value}


@attrs.frozen(kw_only=True)
class OneOf(_Matchable):
    """The field equals one of *values* (same comparison as :class:`Equals`).

    TOML: ``{ field = "industry", in = ["Software", "Financial Services"] }``
    """

    field: str = attrs.field(validator=_field_name)
    values: tuple[str | int | float | bool, ...] = attrs.field(
        converter=_str_tuple, validator=_scalars
    )

    def matcher(self) -> m.Matcher:
        """This condition prepared for evaluation (see :mod:`leadflow.rules.matching`)."""
        return m.EqualsOneOf(m.reader(self.field), frozenset(map(m.comparable, self.values)))

    def to_dict(self) -> dict[str, Any]:
        """Plain data that :func:`condition_from_dict` reads back to an equal condition."""
        return {"field": self.field, "in": list(self.values)}


@attrs.frozen(kw_only=True)
class Range(_Matchable):
    """The field is a number with ``min <= value <= max`` (either bound may be left out).

    Only numeric fields and custom properties are accepted; a missing or non-numeric value does
    not match. TOML: ``{ field = "annual_revenue", min = 500_000_000 }``
    """

    field: str = attrs.field(validator=_field_name)
    min: float | None = attrs.field(
        default=None, converter=_optional_float, validator=_optional_finite
    )
    max: float | None = attrs.field(
        default=None, converter=_optional_float, validator=_optional_finite
    )

    def __attrs_post_init__(self) -> None:
        if not (self.field in NUMERIC_FIELDS or self.field.startswith(_PROPERTY_PREFIXES)):
            raise ConfigError(
                "field",
                f"{self.field!r} is not a numeric field; range applies to "
                f"{', '.join(sorted(NUMERIC_FIELDS))} or custom properties",
            )
        if self.min is None and self.max is None:
            raise ConfigError("min", "a range needs min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ConfigError("min", f"min {self.min!r} is greater than max {self.max!r}")

    def matcher(self) -> m.Matcher:
        """This condition prepared for evaluation (see :mod:`leadflow.rules.matching`)."""
        low = -math.inf if self.min is None else self.min
        high = math.inf if self.max is None else self.max
        return m.InRange(m.reader(self.field), low, high)

    def to_dict(self) -> dict[str, Any]:
        """Plain data that :func:`condition_from_dict` reads back to an equal condition."""
        data: dict[str, Any] = {"field": self.field}
        if self.min is not None:
            data["min"] = self.min
        if self.max is not None:
            data["max"] = self.max
        return data


def _regex(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str) or not value:
        raise ValidationError(attribute.name, value, "must be a non-empty regular expression")
    try:
        re.compile(value)
    except re.error as exc:
        raise ValidationError(
            attribute.name, value, f"is not a valid regular expression: {exc}"
        ) from None


@attrs.frozen(kw_only=True)
class Regex(_Matchable):
    """The field's text contains a match of *pattern* (Python :mod:`re` syntax, ``re.search``).

    Case matters unless the pattern says ``(?i)``. TOML: ``{ field = "email", regex = "\\\\.edu$" }``
    """

    field: str = attrs.field(validator=_field_name)
    pattern: str = attrs.field(validator=_regex)

    def matcher(self) -> m.Matcher:
        """This condition prepared for evaluation (see :mod:`leadflow.rules.matching`)."""
        return m.Searches(m.reader(self.field), re.compile(self.pattern))

    def to_dict(self) -> dict[str, Any]:
        """Plain data that :func:`condition_from_dict` reads back to an equal condition."""
        return {"field": self.field, "regex": self.pattern}


@attrs.frozen(kw_only=True)
class TitleKeywords(_Matchable):
    """The field (``title`` by default) contains one of *keywords* as a whole word or phrase.

    Matching ignores case and needs word boundaries, so ``VP`` matches "VP Sales" but not "SVP"
    (list ``SVP`` too if you want it). TOML: ``{ keywords = ["VP", "Vice President"] }``
    """

    keywords: tuple[str, ...] = attrs.field(converter=_str_tuple, validator=_non_empty_strings)
    field: str = attrs.field(default="title", validator=_field_name)

    def pattern(self) -> re.Pattern[str]:
        """The one pattern every evaluation path (per record, columnar) matches with.

        >>> bool(TitleKeywords(keywords=["VP"]).pattern().search("SVP Sales"))
        False
        """
        words = "|".join(re.escape(k.strip()) for k in self.keywords)
        return re.compile(rf"(?<!\w)(?:{words})(?!\w)", re.IGNORECASE)

    def matcher(self) -> m.Matcher:
        """This condition prepared for evaluation (see :mod:`leadflow.rules.matching`)."""
        return m.Searches(m.reader(self.field), self.pattern())

    def to_dict(self) -> dict[str, Any]:
        """Plain data that :func:`condition_from_dict` reads back to an equal condition."""
        data: dict[str, Any] = {"keywords": list(self.keywords)}
        if self.field != "title":
            data["field"] = self.field
        return data


@attrs.frozen(kw_only=True)
class Missing(_Matchable):
    """The field is empty (``None``). TOML: ``{ field = "company", missing = true }``"""

    field: str = attrs.field(validator=_field_name)

    def matcher(self) -> m.Matcher:
        """This condition prepared for evaluation (see :mod:`leadflow.rules.matching`)."""
        return m.IsMissing(m.reader(self.field))

    def to_dict(self) -> dict[str, Any]:
        """Plain data that :func:`condition_from_dict` reads back to an equal condition."""
        return {"field": self.field, "missing": True}


@attrs.frozen(kw_only=True)
class Present(_Matchable):
    """The field has a value. TOML: ``{ field = "account_id", present = true }``"""

    field: str = attrs.field(validator=_field_name)

    def matcher(self) -> m.Matcher:
        """This condition prepared for evaluation (see :mod:`leadflow.rules.matching`)."""
        return m.IsPresent(m.reader(self.field))

    def to_dict(self) -> dict[str, Any]:
        """Plain data that :func:`condition_from_dict` reads back to an equal condition."""
        return {"field": self.field, "present": True}


def _domains(value: Any) -> Any:
    value = _str_tuple(value)
    if isinstance(value, tuple):
        return tuple(d.strip().lower() if isinstance(d, str) else d for d in value)
    return value


def _optional_domain_list(value: Any) -> Any:
    return None if value is None else _domains(value)


def _optional_domains(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None:
        _non_empty_strings(_inst, attribute, value)


@attrs.frozen(kw_only=True)
class FreeMailDomain(_Matchable):
    """The lead's e-mail address is at a consumer mail provider (gmail.com, outlook.com...).

    ``domains`` replaces the built-in :data:`FREE_MAIL_DOMAINS`. A lead with no e-mail address
    does not match. TOML: ``{ free_mail = true }``
    """

    domains: tuple[str, ...] | None = attrs.field(
        default=None,
        converter=_optional_domain_list,
        validator=_optional_domains,
    )

    def matcher(self) -> m.Matcher:
        """This condition prepared for evaluation (see :mod:`leadflow.rules.matching`)."""
        return m.DomainIn(frozenset(FREE_MAIL_DOMAINS if self.domains is None else self.domains))

    def to_dict(self) -> dict[str, Any]:
        """Plain data that :func:`condition_from_dict` reads back to an equal condition."""
        data: dict[str, Any] = {"free_mail": True}
        if self.domains is not None:
            data["domains"] = list(self.domains)
        return data


def _as_tuple(value: Any) -> Any:
    """Converter: a list (any iterable but a string or mapping) as a tuple; else as it is, for
    the validator to refuse."""
    if isinstance(value, Iterable) and not isinstance(value, str | Mapping):
        return tuple(value)
    return value


def _condition_tuple(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, tuple) or not value:
        raise ValidationError(attribute.name, value, "must be a non-empty list of conditions")
    for item in value:
        if not isinstance(item, _CONDITION_TYPES):
            raise ValidationError(attribute.name, item, "is not a condition")


def _one_condition(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, _CONDITION_TYPES):
        raise ValidationError(attribute.name, value, "is not a condition")


@attrs.frozen(kw_only=True)
class AllOf(_Matchable):
    """Every one of *conditions* holds. TOML: ``{ all = [ {...}, {...} ] }``"""

    conditions: tuple[Condition, ...] = attrs.field(converter=_as_tuple, validator=_condition_tuple)

    def matcher(self) -> m.Matcher:
        """This condition prepared for evaluation (see :mod:`leadflow.rules.matching`)."""
        return m.AllMatch(tuple(c.matcher() for c in self.conditions))

    def to_dict(self) -> dict[str, Any]:
        """Plain data that :func:`condition_from_dict` reads back to an equal condition."""
        return {"all": [c.to_dict() for c in self.conditions]}


@attrs.frozen(kw_only=True)
class AnyOf(_Matchable):
    """At least one of *conditions* holds. TOML: ``{ any = [ {...}, {...} ] }``"""

    conditions: tuple[Condition, ...] = attrs.field(converter=_as_tuple, validator=_condition_tuple)

    def matcher(self) -> m.Matcher:
        """This condition prepared for evaluation (see :mod:`leadflow.rules.matching`)."""
        parts = tuple(c.matcher() for c in self.conditions)
        return m.AnyMatch(parts) if _has_activity_condition(self) else m.FirstMatch(parts)

    def to_dict(self) -> dict[str, Any]:
        """Plain data that :func:`condition_from_dict` reads back to an equal condition."""
        return {"any": [c.to_dict() for c in self.conditions]}


@attrs.frozen(kw_only=True)
class Not(_Matchable):
    """*condition* does not hold. TOML: ``{ not = {...} }``"""

    condition: Condition = attrs.field(validator=_one_condition)

    def matcher(self) -> m.Matcher:
        """This condition prepared for evaluation (see :mod:`leadflow.rules.matching`)."""
        return m.NoMatch(self.condition.matcher())

    def to_dict(self) -> dict[str, Any]:
        """Plain data that :func:`condition_from_dict` reads back to an equal condition."""
        return {"not": self.condition.to_dict()}


@attrs.frozen(kw_only=True)
class ActivityCount(_Matchable):
    """At least *at_least* activities of *kinds*, within *within_days* before ``as_of``.

    Only activities at or before ``as_of`` count; with no window, any earlier activity counts.
    "Two or more pricing visits in 14 days" is
    ``{ activity = ["pricing_page_visit"], at_least = 2, within_days = 14 }``.
    """

    kinds: tuple[str, ...] = attrs.field(converter=_str_tuple, validator=_kind_names)
    at_least: int = attrs.field(default=1, validator=v.positive_int)
    within_days: float | None = attrs.field(
        default=None, converter=_optional_float, validator=_optional_positive
    )

    def __attrs_post_init__(self) -> None:
        if not self.kinds:
            raise ValidationError("kinds", self.kinds, "must name at least one activity kind")

    def matcher(self) -> m.Matcher:
        """This condition prepared for evaluation (see :mod:`leadflow.rules.matching`)."""
        window = math.inf if self.within_days is None else self.within_days
        return m.CountActivities(self.kinds, self.at_least, window)

    def to_dict(self) -> dict[str, Any]:
        """Plain data that :func:`condition_from_dict` reads back to an equal condition."""
        data: dict[str, Any] = {"activity": list(self.kinds)}
        if self.at_least != 1:
            data["at_least"] = self.at_least
        if self.within_days is not None:
            data["within_days"] = self.within_days
        return data


#: Any condition a rule's ``when`` may hold.
Condition: TypeAlias = (
    Equals
    | OneOf
    | Range
    | Regex
    | TitleKeywords
    | Missing
    | Present
    | FreeMailDomain
    | AllOf
    | AnyOf
    | Not
    | ActivityCount
)

_CONDITION_TYPES = (
    Equals,
    OneOf,
    Range,
    Regex,
    TitleKeywords,
    Missing,
    Present,
    FreeMailDomain,
    AllOf,
    AnyOf,
    Not,
    ActivityCount,
)


def iter_conditions(condition: Condition, path: str = "when") -> Iterator[tuple[str, Condition]]:
    """Every condition in *condition*'s tree (itself first) with its path, depth first.

    >>> tree = AllOf(conditions=[Present(field="title"), Not(condition=Missing(field="email"))])
    >>> [p for p, _ in iter_conditions(tree)]
    ['when', 'when.all[0]', 'when.all[1]', 'when.all[1].not']
    """
    yield path, condition
    if isinstance(condition, AllOf | AnyOf):
        key = "all" if isinstance(condition, AllOf) else "any"
        for index, child in enumerate(condition.conditions):
            yield from iter_conditions(child, f"{path}.{key}[{index}]")
    elif isinstance(condition, Not):
        yield from iter_conditions(condition.condition, f"{path}.not")


# -- from plain data ---------------------------------------------------------------------------

_FIELD_OPERATORS = ("equals", "in", "regex", "missing", "present")


def _true_flag(data: Mapping[str, Any], key: str, path: str, instead: str) -> None:
    if data[key] is not True:
        raise ConfigError(f"{path}.{key}", f"must be true, got {data[key]!r}; {instead}")


def condition_from_dict(data: Any, path: str = "when") -> Condition:
    """Build a condition from plain data (a parsed TOML inline table).

    The operator key decides the kind: ``equals``, ``in``, ``min``/``max``, ``regex``,
    ``keywords``, ``missing``, ``present`` (each with ``field``), ``free_mail``, ``all``, ``any``,
    ``not`` and ``activity``. Errors are :class:`~leadflow.errors.ConfigError` naming the path.

    >>> condition_from_dict({"field": "annual_revenue", "min": 500_000_000})
    Range(field='annual_revenue', min=500000000.0, max=None)
    >>> condition_from_dict({"field": "industry"}, "rules[2].when")
    Traceback (most recent call last):
    ...
    leadflow.errors.ConfigError: rules[2].when: no operator; expected one of equals, in, min, max, regex, keywords, missing, present (with field), or free_mail, all, any, not, activity
    """
    if isinstance(data, _CONDITION_TYPES):
        return data
    if not isinstance(data, Mapping):
        raise ConfigError(path, f"a condition must be a table, got {data!r}")
    if "all" in data or "any" in data:
        key = "all" if "all" in data else "any"
        _check_keys(data, path, (key,))
        items = data[key]
        if not isinstance(items, list | tuple) or not items:
            raise ConfigError(f"{path}.{key}", "must be a non-empty list of conditions")
        children = [condition_from_dict(c, f"{path}.{key}[{i}]") for i, c in enumerate(items)]
        return build(AllOf if key == "all" else AnyOf, path, {"conditions": children})  # type: ignore[no-any-return]
    if "not" in data:
        _check_keys(data, path, ("not",))
        return Not(condition=condition_from_dict(data["not"], f"{path}.not"))
    if "activity" in data:
        _check_keys(data, path, ("activity", "at_least", "within_days"))
        kwargs = {"kinds": data["activity"]}
        for key in ("at_least", "within_days"):
            if key in data:
                kwargs[key] = data[key]
        built: Condition = build(ActivityCount, path, kwargs)
        return built
    if "free_mail" in data:
        _check_keys(data, path, ("free_mail", "domains"))
        _true_flag(data, "free_mail", path, "wrap it in { not = ... } to negate")
        return build(FreeMailDomain, path, {"domains": data.get("domains")})  # type: ignore[no-any-return]
    if "keywords" in data:
        _check_keys(data, path, ("keywords", "field"))
        kwargs = {"keywords": data["keywords"]}
        if "field" in data:
            kwargs["field"] = data["field"]
        return build(TitleKeywords, path, kwargs)  # type: ignore[no-any-return]
    if "min" in data or "max" in data:
        _check_keys(data, path, ("field", "min", "max"))
        _require_field(data, path)
        return build(Range, path, dict(data))  # type: ignore[no-any-return]
    ops = [k for k in _FIELD_OPERATORS if k in data]
    if len(ops) > 1:
        raise ConfigError(path, f"has more than one operator: {', '.join(ops)}; use all = [...]")
    if not ops:
        _check_keys(data, path, ("field", *_FIELD_OPERATORS, "min", "max", "keywords"))
        raise ConfigError(
            path,
            "no operator; expected one of equals, in, min, max, regex, keywords, missing, "
            "present (with field), or free_mail, all, any, not, activity",
        )
    op = ops[0]
    _check_keys(data, path, ("field", op))
    _require_field(data, path)
    field = data["field"]
    if op == "equals":
        return build(Equals, path, {"field": field, "value": data[op]})  # type: ignore[no-any-return]
    if op == "in":
        values = data[op]
        if not isinstance(values, list | tuple):
            raise ConfigError(f"{path}.in", f"must be a list of values, got {values!r}")
        return build(OneOf, path, {"field": field, "values": values})  # type: ignore[no-any-return]
    if op == "regex":
        return build(Regex, path, {"field": field, "pattern": data[op]})  # type: ignore[no-any-return]
    _true_flag(data, op, path, "use the other of missing/present instead")
    cls = Missing if op == "missing" else Present
    return build(cls, path, {"field": field})  # type: ignore[no-any-return]


def _require_field(data: Mapping[str, Any], path: str) -> None:
    if "field" not in data:
        raise ConfigError(f"{path}.field", "is required")
    try:
        _known_field(data["field"])
    except ConfigError as exc:
        raise ConfigError(f"{path}.{exc.path}", exc.problem) from None


# -- rules and scorecards ----------------------------------------------------------------------


def _category(value: Any) -> Any:
    return v.coerce_enum(Category, value)


def _signal(value: Any) -> Any:
    return None if value is None else v.coerce_enum(Signal, value)


def _optional_signal(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and not isinstance(value, Signal):
        raise ValidationError(attribute.name, value, "is not one of 'interest', 'intent'")


def _optional_condition(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None:
        _one_condition(_inst, attribute, value)


def _default_label(rule: Rule) -> str:
    # runs before the validators, so the id may not be a string yet (the validator says so)
    return rule.id.replace("_", " ") if isinstance(rule.id, str) else repr(rule.id)


def _has_activity_condition(condition: Condition | None) -> bool:
    if condition is None:
        return False
    return any(isinstance(c, ActivityCount) for _, c in iter_conditions(condition))


@attrs.frozen(kw_only=True)
class Rule:
    """One line of a scorecard: when *when* holds, add *points*.

    * A **fit** rule adds its points, undecayed, when ``when`` holds.
    * A **behaviour** rule with ``activities`` adds *points* for each activity of those kinds
      (within ``within_days`` of ``as_of`` if set), each decayed by its age with the half-life
      (``half_life_days`` here, else the card's); ``when``, if given, gates the whole rule.
    * A **behaviour** rule without ``activities`` adds *points* once when ``when`` holds, decayed
      by the age of the newest activity that satisfied its activity conditions.

    ``cap`` bounds the size of the rule's contribution (``|points| <= cap``). ``label`` is the
    human wording used in explanations (the id with spaces by default).
    """

    id: str = attrs.field(validator=v.identifier)
    category: Category = attrs.field(converter=_category, validator=v.member_of(Category))
    points: float = attrs.field(converter=_to_float, validator=_finite)
    when: Condition | None = attrs.field(default=None, validator=_optional_condition)
    signal: Signal | None = attrs.field(default=None, converter=_signal, validator=_optional_signal)
    activities: tuple[str, ...] = attrs.field(
        default=(), converter=_str_tuple, validator=_kind_names
    )
    within_days: float | None = attrs.field(
        default=None, converter=_optional_float, validator=_optional_positive
    )
    cap: float | None = attrs.field(
        default=None, converter=_optional_float, validator=_optional_positive
    )
    half_life_days: float | None = attrs.field(
        default=None, converter=_optional_float, validator=_optional_positive
    )
    label: str = attrs.field(
        default=attrs.Factory(_default_label, takes_self=True), validator=v.non_empty
    )

    def __attrs_post_init__(self) -> None:
        if self.category is Category.FIT:
            for name in ("signal", "within_days", "half_life_days"):
                if getattr(self, name) is not None:
                    raise ConfigError(name, "is for behaviour rules; a fit rule does not decay")
            if self.activities:
                raise ConfigError(
                    "activities", "is for behaviour rules; use category = 'behaviour'"
                )
            if self.when is None:
                raise ConfigError("when", "is required for a fit rule")
            return
        if self.signal is None:
            raise ConfigError("signal", "is required for a behaviour rule: 'interest' or 'intent'")
        if not self.activities and not _has_activity_condition(self.when):
            raise ConfigError(
                "activities",
                "a behaviour rule needs activities = [...] or an activity condition in when; "
                "a rule on fields alone is category = 'fit'",
            )
        if self.within_days is not None and not self.activities:
            raise ConfigError(
                "within_days", "applies to activities = [...]; put a window in the condition"
            )

    @property
    def kinds(self) -> frozenset[str]:
        """Every activity kind the rule reads (its ``activities`` and its conditions')."""
        found = set(self.activities)
        if self.when is not None:
            for _, c in iter_conditions(self.when):
                if isinstance(c, ActivityCount):
                    found.update(c.kinds)
        return frozenset(found)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], path: str = "rule") -> Rule:
        """Build a rule from plain data (a ``[[rules]]`` table); errors name *path*."""
        if not isinstance(data, Mapping):
            raise ConfigError(path, f"a rule must be a table, got {data!r}")
        fields = [a.name for a in attrs.fields(cls)]
        _check_keys(data, path, fields)
        for key in ("id", "category", "points"):
            if key not in data:
                raise ConfigError(f"{path}.{key}", "is required")
        kwargs = dict(data)
        if "when" in kwargs:
            kwargs["when"] = condition_from_dict(kwargs["when"], f"{path}.when")
        built: Rule = build(cls, path, kwargs)
        return built

    def to_dict(self) -> dict[str, Any]:
        """Plain data that :meth:`from_dict` reads back to an equal rule (``None``s left out)."""
        data: dict[str, Any] = {"id": self.id}
        if self.label != _default_label(self):
            data["label"] = self.label
        data["category"] = self.category.value
        if self.signal is not None:
            data["signal"] = self.signal.value
        data["points"] = self.points
        for name in ("cap", "half_life_days"):
            if getattr(self, name) is not None:
                data[name] = getattr(self, name)
        if self.activities:
            data["activities"] = list(self.activities)
        if self.within_days is not None:
            data["within_days"] = self.within_days
        if self.when is not None:
            data["when"] = self.when.to_dict()
        return data


def _text(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str):
        raise ValidationError(attribute.name, value, "must be a string")


def _bool(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, bool):
        raise ValidationError(attribute.name, value, "must be true or false")


@attrs.frozen(kw_only=True)
class Thresholds:
    """Where scores turn into recommendations (see :class:`leadflow.rules.scoring.Recommendation`).

    * ``mql``: a lead's total at or above this is a marketing-qualified lead.
    * ``sql_ready``: at or above this (and, if ``sql_ready_requires_intent``, with an intent
      signal) it is ready for sales to qualify.
    * ``winnable_*``: an account is *sales-winnable* when its account-level fit is at least
      ``winnable_fit``, at least ``winnable_contacts`` distinct people engaged, its engagement is
      at least ``winnable_engagement`` and the trend is not cooling — intent not required.
    """

    mql: float = attrs.field(default=50.0, converter=_to_float, validator=_finite)
    sql_ready: float = attrs.field(default=80.0, converter=_to_float, validator=_finite)
    sql_ready_requires_intent: bool = attrs.field(default=True, validator=_bool)
    winnable_fit: float = attrs.field(default=30.0, converter=_to_float, validator=_finite)
    winnable_contacts: int = attrs.field(default=3, validator=v.positive_int)
    winnable_engagement: float = attrs.field(default=50.0, converter=_to_float, validator=_finite)

    def __attrs_post_init__(self) -> None:
        if self.sql_ready < self.mql:
            raise ConfigError(
                "sql_ready", f"{self.sql_ready!r} is below the mql threshold {self.mql!r}"
            )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], path: str = "thresholds") -> Thresholds:
        """Build thresholds from plain data; missing keys take their defaults."""
        if not isinstance(data, Mapping):
            raise ConfigError(path, f"must be a table, got {data!r}")
        _check_keys(data, path, [a.name for a in attrs.fields(cls)])
        built: Thresholds = build(cls, path, dict(data))
        return built

    def to_dict(self) -> dict[str, Any]:
        """Plain data that :meth:`from_dict` reads back to equal thresholds."""
        return attrs.asdict(self)


def _rule_tuple(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, tuple) or not value:
        raise ValidationError(attribute.name, value, "must be a non-empty list of rules")
    for item in value:
        if not isinstance(item, Rule):
            raise ValidationError(attribute.name, item, "is not a Rule")


@attrs.frozen(kw_only=True, cache_hash=True)
class Scorecard:
    """A named, versionable set of rules with its decay, trend window and thresholds.

    * ``half_life_days``: default half-life of behaviour points (a rule may override it).
    * ``kinds``: extra activity kinds this card uses beyond
      :data:`~leadflow.model.STANDARD_ACTIVITY_KINDS`; any other kind is an error.
    * ``trend_window_days`` / ``trend_tolerance``: an account's trend compares its engagement now
      with one window ago; a change within the tolerance (a fraction) is *steady*.

    >>> card = Scorecard(name="tiny", rules=[
    ...     Rule(id="vp_title", category="fit", points=20,
    ...          when=TitleKeywords(keywords=["VP"])),
    ...     Rule(id="quote_request", category="behaviour", signal="intent", points=40,
    ...          activities=["quote_request"]),
    ... ])
    >>> Scorecard.from_dict(card.to_dict()) == card
    True
    """

    name: str = attrs.field(validator=v.non_empty)
    rules: tuple[Rule, ...] = attrs.field(converter=_as_tuple, validator=_rule_tuple)
    description: str = attrs.field(default="", validator=_text)
    half_life_days: float = attrs.field(default=30.0, converter=_to_float, validator=_positive)
    kinds: tuple[str, ...] = attrs.field(default=(), converter=_str_tuple, validator=_kind_names)
    trend_window_days: float = attrs.field(default=30.0, converter=_to_float, validator=_positive)
    trend_tolerance: float = attrs.field(default=0.1, converter=_to_float, validator=_fraction)
    thresholds: Thresholds = attrs.field(
        factory=Thresholds, validator=attrs.validators.instance_of(Thresholds)
    )

    def __attrs_post_init__(self) -> None:
        known = self.known_kinds
        seen: dict[str, int] = {}
        for index, rule in enumerate(self.rules):
            if rule.id in seen:
                raise ConfigError(
                    f"rules[{index}].id", f"{rule.id!r} is already the id of rules[{seen[rule.id]}]"
                )
            seen[rule.id] = index
            for kind in rule.activities:
                if kind not in known:
                    raise ConfigError(f"rules[{index}].activities", _unknown_kind(kind, known))
            if rule.when is not None:
                for path, c in iter_conditions(rule.when, f"rules[{index}].when"):
                    if isinstance(c, ActivityCount):
                        for kind in c.kinds:
                            if kind not in known:
                                raise ConfigError(f"{path}.activity", _unknown_kind(kind, known))

    @property
    def known_kinds(self) -> frozenset[str]:
        """The activity kinds this card may name: the standard ones and its own ``kinds``."""
        return STANDARD_ACTIVITY_KINDS | frozenset(self.kinds)

    def rule(self, rule_id: str) -> Rule:
        """The rule with id *rule_id* (:class:`~leadflow.errors.NotFoundError`, a
        :class:`LookupError`, if there is none)."""
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise NotFoundError("rule", rule_id, (r.id for r in self.rules))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Scorecard:
        """Build a card from plain data (a parsed TOML document); errors name the path."""
        if not isinstance(data, Mapping):
            raise ConfigError("", f"a scorecard must be a table, got {data!r}")
        _check_keys(data, "", [a.name for a in attrs.fields(cls)])
        for key in ("name", "rules"):
            if key not in data:
                raise ConfigError(key, "is required")
        raw_rules = data["rules"]
        if not isinstance(raw_rules, list | tuple) or not raw_rules:
            raise ConfigError("rules", "must be a non-empty list of [[rules]] tables")
        kwargs = dict(data)
        kwargs["rules"] = [Rule.from_dict(r, f"rules[{i}]") for i, r in enumerate(raw_rules)]
        if "thresholds" in kwargs:
            kwargs["thresholds"] = Thresholds.from_dict(kwargs["thresholds"])
        try:
            return cls(**kwargs)
        except ValidationError as exc:
            raise ConfigError(exc.field, f"{exc.value!r} {exc.reason}") from None

    def to_dict(self) -> dict[str, Any]:
        """Plain data that :meth:`from_dict` reads back to an equal card."""
        data: dict[str, Any] = {"name": self.name}
        if self.description:
            data["description"] = self.description
        data["half_life_days"] = self.half_life_days
        if self.kinds:
            data["kinds"] = list(self.kinds)
        data["trend_window_days"] = self.trend_window_days
        data["trend_tolerance"] = self.trend_tolerance
        data["thresholds"] = self.thresholds.to_dict()
        data["rules"] = [r.to_dict() for r in self.rules]
        return data


def _unknown_kind(kind: str, known: frozenset[str]) -> str:
    close = difflib.get_close_matches(kind, sorted(known), n=1)
    hint = f"did you mean {close[0]!r}?" if close else "declare it in the card's kinds = [...]"
    return f"unknown activity kind {kind!r}; {hint}"


# -- TOML --------------------------------------------------------------------------------------


def loads_scorecard(text: str, *, source: str = "<string>") -> Scorecard:
    """Parse a scorecard from TOML text; *source* (a file name) prefixes the location in every
    error."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, f"is not valid TOML: {exc}") from None
    with in_source(source):
        return Scorecard.from_dict(data)


def load_scorecard(path: str | PathLike[str]) -> Scorecard:
    """Read a scorecard from a TOML file.

    >>> from pathlib import Path
    >>> repo = Path(__file__).resolve().parents[3]  # the source checkout
    >>> card = load_scorecard(repo / "examples" / "scorecard.toml")
    >>> card.name, len(card.rules) > 5
    ('seed', True)
    """
    return loads_scorecard(read_text(path), source=str(Path(path)))


def dump_scorecard(card: Scorecard) -> str:
    """The card as TOML text that :func:`loads_scorecard` reads back to an equal card.

    >>> card = Scorecard(name="tiny", rules=[Rule(id="gmail", category="fit", points=-10,
    ...                                           when=FreeMailDomain())])
    >>> print(dump_scorecard(card))  # doctest: +ELLIPSIS
    name = "tiny"
    ...
    [[rules]]
    id = "gmail"
    category = "fit"
    points = -10.0
    when = { free_mail = true }
    <BLANKLINE>
    """
    return _toml_document(card.to_dict())


def _is_table_array(value: Any) -> bool:
    return (
        isinstance(value, list | tuple)
        and bool(value)
        and all(isinstance(item, Mapping) for item in value)
    )


def _toml_document(data: Mapping[str, Any]) -> str:
    lines: list[str] = []
    tables: list[tuple[str, Mapping[str, Any]]] = []
    arrays: list[tuple[str, list[Mapping[str, Any]]]] = []
    for key, value in data.items():
        if isinstance(value, Mapping):
            tables.append((key, value))
        elif _is_table_array(value):
            arrays.append((key, list(value)))
        else:
            lines.append(f"{toml_key(key)} = {toml_value(value)}")
    for key, table in tables:
        lines += ["", f"[{toml_key(key)}]"]
        lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in table.items()]
    for key, items in arrays:
        for item in items:
            lines += ["", f"[[{toml_key(key)}]]"]
            lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in item.items()]
    return "\n".join(lines) + "\n"
