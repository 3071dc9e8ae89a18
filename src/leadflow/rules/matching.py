"""Matching: the prepared form of a scorecard condition, and what it is judged on.

Scope: how a condition (:mod:`leadflow.rules.scorecard`) is evaluated against one lead — pure,
no clock, no I/O. Each condition builds its :class:`Matcher` once with ``condition.matcher()``;
a matcher is a small frozen object with one method, :meth:`Matcher.evidence`, which answers
``None`` when the condition does not hold and otherwise the activities that made it hold (empty
when it holds on fields alone or through a ``not``). ``condition.matches(...)`` is the one-off
form; :mod:`leadflow.rules.scoring` builds a card's matchers once and reuses them for every lead.

Activity conditions read :data:`Seen`: a lead's activities at or before the evaluation instant,
grouped by kind, each as a :class:`Sighting` with its age in days, in the order given.
:func:`sightings_by_kind` builds it.

Comparisons (the same in every evaluation path, the columnar one included): strings compare
case-folded with edge spaces stripped, numbers as floats (``1 == 1.0``), booleans only with
booleans; a missing value (``None``) matches no value, range or pattern.

>>> from datetime import datetime, timezone
>>> from leadflow.model import Lead
>>> from leadflow.rules.scorecard import Equals
>>> at = datetime(2026, 3, 2, tzinfo=timezone.utc)
>>> matcher = Equals(field="country", value="us").matcher()
>>> matcher.evidence(Lead(id="L-1", created_at=at, country=" US"), None, {})
()
>>> matcher.evidence(Lead(id="L-2", created_at=at, country="DE"), None, {}) is None
True
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple, Protocol

import attrs

from leadflow._validate import check_aware
from leadflow.errors import ValidationError
from leadflow.model import Account, Activity, Lead

__all__ = [
    "AccountField",
    "AccountProperty",
    "AllMatch",
    "AnyMatch",
    "CountActivities",
    "DomainIn",
    "EqualsOneOf",
    "Evidence",
    "FirstMatch",
    "InRange",
    "IsMissing",
    "IsPresent",
    "LeadField",
    "LeadProperty",
    "Matcher",
    "NoMatch",
    "Reader",
    "Searches",
    "Seen",
    "Sighting",
    "comparable",
    "foreign_activity",
    "reader",
    "sightings_by_kind",
]

_DAY = 86400.0


class Sighting(NamedTuple):
    """An activity with its age in days at the evaluation instant (``>= 0``)."""

    age_days: float
    activity: Activity


#: A lead's activities at or before the evaluation instant, by kind, in the order given.
Seen = Mapping[str, Sequence[Sighting]]

#: What a condition that holds found: the sightings behind it (often none).
Evidence = Sequence[Sighting]

_HOLDS: tuple[Sighting, ...] = ()  # what a field condition that holds answers


def sightings_by_kind(
    lead_id: str, activities: Iterable[Activity], as_of: datetime
) -> dict[str, list[Sighting]]:
    """The :data:`Seen` of lead *lead_id*: its *activities* at or before *as_of*, by kind.

    Raises :class:`~leadflow.errors.ValidationError` for a naive *as_of* or an activity of
    another lead.
    """
    check_aware("as_of", as_of)
    as_of_utc = as_of.astimezone(UTC)  # same-zone subtraction would be wall-clock time
    seen: dict[str, list[Sighting]] = {}
    for activity in activities:
        if activity.lead_id != lead_id:
            raise foreign_activity(activity, lead_id)
        age = (as_of_utc - activity.occurred_at).total_seconds() / _DAY  # as scoring does
        if age >= 0:
            seen.setdefault(activity.kind, []).append(Sighting(age, activity))
    return seen


def foreign_activity(activity: Activity, lead_id: str) -> ValidationError:
    """The error for *activity* given among lead *lead_id*'s, though it is another lead's.

    >>> from datetime import datetime, timezone
    >>> at = datetime(2026, 3, 2, tzinfo=timezone.utc)
    >>> print(foreign_activity(Activity(id="A-1", lead_id="L-2", kind="web_visit",
    ...                                 occurred_at=at), "L-1"))
    activities: 'A-1' belongs to lead 'L-2', not to 'L-1'
    """
    return ValidationError(
        "activities", activity.id, f"belongs to lead {activity.lead_id!r}, not to {lead_id!r}"
    )


def comparable(value: Any) -> Any:
    """The form values are compared in: strings case-folded and stripped, numbers as float.

    Booleans are tagged apart from numbers, so ``True`` never equals ``1``.

    >>> comparable(" VP ") == comparable("vp"), comparable(1) == comparable(1.0)
    (True, True)
    >>> comparable(True) == comparable(1)
    False
    """
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, int | float):
        return ("n", float(value))
    if isinstance(value, str):
        return ("s", value.strip().casefold())
    return ("o", value)


# -- reading a field -----------------------------------------------------------------------------


class Reader(Protocol):
    """Reads one field of a lead or of its account (``None`` when there is no value)."""

    def read(self, lead: Lead, account: Account | None) -> Any:
        """The field's value for *lead* and its *account*."""


@attrs.frozen
class LeadField:
    """A :class:`~leadflow.model.Lead` attribute (``email_domain`` and ``full_name`` included)."""

    name: str

    def read(self, lead: Lead, account: Account | None) -> Any:
        """``lead.<name>``."""
        return getattr(lead, self.name)


@attrs.frozen
class AccountField:
    """An :class:`~leadflow.model.Account` attribute; ``None`` for a lead without an account."""

    name: str

    def read(self, lead: Lead, account: Account | None) -> Any:
        """``account.<name>``, or ``None`` without an account."""
        return None if account is None else getattr(account, self.name)


@attrs.frozen
class LeadProperty:
    """One of the lead's custom ``properties``."""

    key: str

    def read(self, lead: Lead, account: Account | None) -> Any:
        """``lead.properties[key]``, or ``None``."""
        return lead.properties.get(self.key)


@attrs.frozen
class AccountProperty:
    """One of the account's custom ``properties``; ``None`` for a lead without an account."""

    key: str

    def read(self, lead: Lead, account: Account | None) -> Any:
        """``account.properties[key]``, or ``None``."""
        return None if account is None else account.properties.get(self.key)


def reader(field: str) -> Reader:
    """The :class:`Reader` of a condition's *field* name (``account.``/``properties.`` prefixes).

    >>> reader("account.properties.tier")
    AccountProperty(key='tier')
    """
    if field.startswith("account.properties."):
        return AccountProperty(field[len("account.properties.") :])
    if field.startswith("account."):
        return AccountField(field[len("account.") :])
    if field.startswith("properties."):
        return LeadProperty(field[len("properties.") :])
    return LeadField(field)


# -- matchers ------------------------------------------------------------------------------------


class Matcher(Protocol):
    """A condition prepared for evaluation."""

    def evidence(self, lead: Lead, account: Account | None, seen: Seen) -> Evidence | None:
        """``None`` if the condition does not hold; else the sightings that made it hold."""


@attrs.frozen
class EqualsOneOf:
    """The field's value is one of *wanted* (values in :func:`comparable` form).

    *texts* holds the wanted strings alone (case-folded), so the usual case — a string field —
    is one set lookup.
    """

    field: Reader
    wanted: frozenset[Any]
    texts: frozenset[str] = attrs.field(
        default=attrs.Factory(
            lambda self: frozenset(w[1] for w in self.wanted if w[0] == "s"), takes_self=True
        )
    )

    def evidence(self, lead: Lead, account: Account | None, seen: Seen) -> Evidence | None:
        """Holds when the value compares equal to a wanted one."""
        value = self.field.read(lead, account)
        if value.__class__ is str:
            hit = value.strip().casefold() in self.texts
        else:
            hit = value is not None and comparable(value) in self.wanted
        return _HOLDS if hit else None


@attrs.frozen
class InRange:
    """The field holds a number (not a boolean) with ``low <= value <= high``."""

    field: Reader
    low: float = -math.inf
    high: float = math.inf

    def evidence(self, lead: Lead, account: Account | None, seen: Seen) -> Evidence | None:
        """Holds for a number within the bounds; a missing or non-numeric value does not."""
        value = self.field.read(lead, account)
        number = value.__class__ in (int, float) or (
            isinstance(value, int | float) and not isinstance(value, bool)
        )
        return _HOLDS if number and self.low <= value <= self.high else None


@attrs.frozen
class Searches:
    """The field's text (``str()`` of a non-string) contains a match of *pattern*."""

    field: Reader
    pattern: re.Pattern[str]

    def evidence(self, lead: Lead, account: Account | None, seen: Seen) -> Evidence | None:
        """Holds when ``pattern.search`` finds a match; a missing value does not."""
        value = self.field.read(lead, account)
        if value is None:
            return None
        text = value if value.__class__ is str else str(value)
        return _HOLDS if self.pattern.search(text) is not None else None


@attrs.frozen
class IsMissing:
    """The field is ``None``."""

    field: Reader

    def evidence(self, lead: Lead, account: Account | None, seen: Seen) -> Evidence | None:
        """Holds when there is no value."""
        return _HOLDS if self.field.read(lead, account) is None else None


@attrs.frozen
class IsPresent:
    """The field is not ``None``."""

    field: Reader

    def evidence(self, lead: Lead, account: Account | None, seen: Seen) -> Evidence | None:
        """Holds when there is a value."""
        return _HOLDS if self.field.read(lead, account) is not None else None


@attrs.frozen
class DomainIn:
    """The lead's e-mail domain is one of *domains* (lower-case); no address does not match."""

    domains: frozenset[str]

    def evidence(self, lead: Lead, account: Account | None, seen: Seen) -> Evidence | None:
        """Holds when ``lead.email_domain`` is listed."""
        return _HOLDS if lead.email_domain in self.domains else None


@attrs.frozen
class AllMatch:
    """Every part holds; the evidence is all of theirs, in order."""

    parts: tuple[Matcher, ...]

    def evidence(self, lead: Lead, account: Account | None, seen: Seen) -> Evidence | None:
        """``None`` at the first part that fails."""
        found: list[Sighting] | None = None  # made when some part has evidence
        for part in self.parts:
            more = part.evidence(lead, account, seen)
            if more is None:
                return None
            if more:
                if found is None:
                    found = list(more)
                else:
                    found.extend(more)
        return _HOLDS if found is None else found


@attrs.frozen
class AnyMatch:
    """At least one part holds; the evidence is that of every part that holds, in order."""

    parts: tuple[Matcher, ...]

    def evidence(self, lead: Lead, account: Account | None, seen: Seen) -> Evidence | None:
        """Every part is asked (each one's evidence counts), ``None`` if none holds."""
        found: Evidence | None = None
        for part in self.parts:
            more = part.evidence(lead, account, seen)
            if more is None:
                continue
            if found is None:
                found = more
            elif more:
                found = [*found, *more]
        return found


@attrs.frozen
class FirstMatch:
    """At least one part holds, where no part reads activities (so none has evidence).

    With no evidence to gather, the first part that holds decides and the rest are not asked.
    """

    parts: tuple[Matcher, ...]

    def evidence(self, lead: Lead, account: Account | None, seen: Seen) -> Evidence | None:
        """Holds, with no evidence, at the first part that holds."""
        for part in self.parts:
            if part.evidence(lead, account, seen) is not None:
                return _HOLDS
        return None


@attrs.frozen
class NoMatch:
    """The part does not hold (a negation has no evidence)."""

    part: Matcher

    def evidence(self, lead: Lead, account: Account | None, seen: Seen) -> Evidence | None:
        """Holds, with no evidence, when the part does not."""
        return _HOLDS if self.part.evidence(lead, account, seen) is None else None


@attrs.frozen
class CountActivities:
    """At least *at_least* sightings of *kinds* aged at most *within_days*.

    The evidence is those sightings, kind by kind in *kinds* order, each kind in the order given.
    """

    kinds: tuple[str, ...]
    at_least: int = 1
    within_days: float = math.inf

    def evidence(self, lead: Lead, account: Account | None, seen: Seen) -> Evidence | None:
        """The sightings counted, or ``None`` when there are too few."""
        found: list[Sighting] = []
        for kind in self.kinds:
            items = seen.get(kind)
            if items:
                found.extend(items)
        if len(found) < self.at_least:  # too few even before the window
            return None
        window = self.within_days
        if window != math.inf:
            found = [s for s in found if s.age_days <= window]
        return found if len(found) >= self.at_least else None
