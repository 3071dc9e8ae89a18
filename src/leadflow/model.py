"""The domain vocabulary: :class:`Lead`, :class:`Account`, :class:`Activity`, :class:`Touch`.

Scope: plain, frozen, validated values with no I/O and no knowledge of any CRM. Adapters map
CRM records onto these classes; rules (scorecards, SLAs) read them; nothing here reads a clock.

Conventions, enforced on construction:

* every timestamp is timezone-aware; a naive one raises :class:`~leadflow.errors.ValidationError`
  naming the field;
* e-mail addresses are stripped and lower-cased, and a malformed one is refused with the field
  and value in the message;
* custom properties are an immutable mapping of names to scalars;
* values change with :func:`attrs.evolve`, which validates again.

>>> from datetime import datetime, timezone
>>> lead = Lead(
...     id="L-1", email="  Ada@Example.COM ", title="VP Engineering", company="Example Ltd",
...     created_at=datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc),
... )
>>> lead.email, lead.stage
('ada@example.com', 'inquiry')
>>> Lead(id="L-2", created_at=datetime(2026, 3, 2, 9, 30))
Traceback (most recent call last):
...
leadflow.errors.ValidationError: created_at: datetime.datetime(2026, 3, 2, 9, 30) is a naive datetime; pass a timezone-aware one
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol, Self, TypeVar

import attrs
from dateutil.parser import isoparse

from leadflow import _validate as v
from leadflow._validate import FrozenMap, Scalar
from leadflow.errors import HistoryOrderError, ValidationError

__all__ = [
    "STANDARD_ACTIVITY_KINDS",
    "Account",
    "Activity",
    "FrozenMap",
    "Lead",
    "OwnerChange",
    "StageChange",
    "Touch",
    "TouchKind",
    "TouchOutcome",
    "apply_change",
    "by_lead",
    "check_change_order",
]

#: Activity kinds leadflow knows out of the box. Any snake_case kind is accepted on an
#: :class:`Activity`; scorecards refuse kinds they do not know unless they declare them.
STANDARD_ACTIVITY_KINDS: frozenset[str] = frozenset(
    {
        "web_visit",
        "pricing_page_visit",
        "email_open",
        "email_click",
        "content_download",
        "case_study_download",
        "webinar_registration",
        "webinar_attended",
        "event_attended",
        "trade_show_scan",
        "form_submit",
        "contact_request",
        "demo_request",
        "quote_request",
        "rfp",
        "free_trial",
        "unsubscribe",
    }
)


class TouchKind(enum.StrEnum):
    """How sales followed a lead up."""

    CALL = "call"
    EMAIL = "email"
    MEETING = "meeting"
    TASK = "task"
    SOCIAL = "social"
    SMS = "sms"


class TouchOutcome(enum.StrEnum):
    """What a follow-up achieved. ``CONNECTED`` and ``MEETING_BOOKED`` are a live conversation."""

    ATTEMPTED = "attempted"
    NO_ANSWER = "no_answer"
    LEFT_VOICEMAIL = "left_voicemail"
    SENT = "sent"
    BOUNCED = "bounced"
    REPLIED = "replied"
    CONNECTED = "connected"
    MEETING_BOOKED = "meeting_booked"
    COMPLETED = "completed"

    @property
    def is_connect(self) -> bool:
        """Whether this outcome means sales actually reached the person."""
        return self in {TouchOutcome.REPLIED, TouchOutcome.CONNECTED, TouchOutcome.MEETING_BOOKED}


def _touch_kind(value: Any) -> Any:
    return v.coerce_enum(TouchKind, value)


def _touch_outcome(value: Any) -> Any:
    return v.coerce_enum(TouchOutcome, value)


def _changes(value: Iterable[StageChange]) -> tuple[StageChange, ...]:
    return tuple(value)


def _strip(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _lower_domain(value: Any) -> Any:
    value = _strip(value)
    if isinstance(value, str):
        value = value.lower().removeprefix("https://").removeprefix("http://")
        value = value.removeprefix("www.").split("/", 1)[0]
    return value


@attrs.frozen(kw_only=True)
class StageChange:
    """One entry of a lead's stage history: who moved it from where to where, when and why.

    ``reason`` holds a reject code when the change is a rejection; ``note`` is free text.
    """

    from_stage: str = attrs.field(validator=v.non_empty)
    to_stage: str = attrs.field(validator=v.non_empty)
    at: datetime = attrs.field(validator=v.aware)
    by: str | None = attrs.field(default=None, converter=_strip, validator=v.optional_non_empty)
    reason: str | None = attrs.field(default=None, converter=_strip)
    note: str | None = attrs.field(default=None, converter=_strip)


@attrs.frozen(kw_only=True)
class OwnerChange:
    """One entry of a lead's owner history: from ``at`` on, ``owner_id`` holds the lead
    (``None``: nobody, e.g. back in a queue); ``by`` is who reassigned it.

    The first entry is the assignment the history starts from: before it, the lead counts as
    held by that first owner (see :meth:`Lead.owner_at`).
    """

    owner_id: str | None = attrs.field(converter=_strip, validator=v.optional_non_empty)
    at: datetime = attrs.field(validator=v.aware)
    by: str | None = attrs.field(default=None, converter=_strip, validator=v.optional_non_empty)


def _owner_changes(value: Iterable[OwnerChange]) -> tuple[OwnerChange, ...]:
    return tuple(value)


def _check_owner_history(_inst: Lead, _attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, tuple) or not all(isinstance(c, OwnerChange) for c in value):
        raise ValidationError("owner_history", value, "is not a tuple of OwnerChange")
    for earlier, later in itertools.pairwise(value):
        # Instants, not wall clocks: two changes inside a repeated DST hour share a tzinfo.
        if later.at.astimezone(UTC) < earlier.at.astimezone(UTC):
            raise ValidationError(
                "owner_history", later.at.isoformat(), "is earlier than the change before it"
            )


def check_change_order(previous_at: datetime | None, change: StageChange) -> None:
    """Raise :class:`~leadflow.errors.HistoryOrderError` when *change* is dated before
    *previous_at*, the instant of the change it follows (``None`` for the first).

    The one place a history's time order is checked: :class:`Lead` checks its ``history`` with
    it, :func:`~leadflow.lifecycle.transition` and :func:`~leadflow.lifecycle.replay` go through
    it, and so does the store recording a change, so an out-of-order change is the same error
    wherever it is found.
    """
    # Instants, not wall clocks: aware datetimes sharing a tzinfo compare by wall time and
    # ignore fold, so inside a repeated DST hour 01:15 (second time) would sort before 01:30.
    if previous_at is not None and change.at.astimezone(UTC) < previous_at.astimezone(UTC):
        raise HistoryOrderError(change.at, previous_at)


def _check_history(instance: Lead, _attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, tuple) or not all(isinstance(c, StageChange) for c in value):
        raise ValidationError("history", value, "is not a tuple of StageChange")
    for earlier, later in itertools.pairwise(value):
        check_change_order(earlier.at, later)
        if later.from_stage != earlier.to_stage:
            raise ValidationError(
                "history",
                later.from_stage,
                f"does not follow on from the previous change's stage {earlier.to_stage!r}",
            )


@attrs.frozen(kw_only=True)
class Lead:
    """A person who showed interest, and where they are in the funnel.

    ``stage`` is the current lifecycle stage (a name from the :mod:`leadflow.lifecycle` model in
    use); ``history`` is its append-only record of stage changes. When ``history`` is not empty,
    ``stage`` must equal the last change's ``to_stage``. Change the stage with
    :func:`leadflow.lifecycle.transition`, never with ``evolve``.

    ``owner_history`` is the time-ordered record of who held the lead (:class:`OwnerChange`);
    when it is not empty, ``owner_id`` must equal the last entry's owner. Reassign with
    :func:`leadflow.lifecycle.reassign`. SLA credit follows it: a touch counts for the owner
    who held the lead when it happened (:meth:`owner_at`).
    """

    id: str = attrs.field(validator=v.non_empty)
    created_at: datetime = attrs.field(validator=v.aware)
    email: str | None = attrs.field(default=None, converter=v.normalise_email, validator=v.email)
    first_name: str | None = attrs.field(default=None, converter=_strip)
    last_name: str | None = attrs.field(default=None, converter=_strip)
    title: str | None = attrs.field(default=None, converter=_strip)
    company: str | None = attrs.field(default=None, converter=_strip)
    industry: str | None = attrs.field(default=None, converter=_strip)
    annual_revenue: float | None = attrs.field(default=None, validator=v.optional_non_negative)
    employees: int | None = attrs.field(default=None, validator=v.optional_non_negative)
    country: str | None = attrs.field(default=None, converter=_strip)
    source: str | None = attrs.field(default=None, converter=_strip)
    campaign: str | None = attrs.field(default=None, converter=_strip)
    owner_id: str | None = attrs.field(default=None, converter=_strip)
    account_id: str | None = attrs.field(default=None, converter=_strip)
    handed_off_at: datetime | None = attrs.field(default=None, validator=v.optional_aware)
    stage: str = attrs.field(default="inquiry", validator=v.non_empty)
    history: tuple[StageChange, ...] = attrs.field(
        default=(), converter=_changes, validator=_check_history
    )
    properties: FrozenMap = attrs.field(factory=FrozenMap, converter=v.freeze_map)
    owner_history: tuple[OwnerChange, ...] = attrs.field(
        default=(), converter=_owner_changes, validator=_check_owner_history
    )

    def __attrs_post_init__(self) -> None:
        if self.owner_history and self.owner_history[-1].owner_id != self.owner_id:
            raise ValidationError(
                "owner_id",
                self.owner_id,
                "does not match the last owner_history entry's owner "
                f"{self.owner_history[-1].owner_id!r}",
            )
        if self.history and self.history[-1].to_stage != self.stage:
            raise ValidationError(
                "stage",
                self.stage,
                f"does not match the last history entry's stage {self.history[-1].to_stage!r}",
            )
        if isinstance(self.employees, float):
            raise ValidationError("employees", self.employees, "is not a whole number")

    def owner_at(self, at: datetime) -> str | None:
        """Who held the lead at instant *at*: the owner of the last ``owner_history`` entry at or
        before *at* (the first entry's owner before it), or ``owner_id`` without a history.

        >>> from datetime import datetime, timedelta, timezone
        >>> t0 = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
        >>> lead = Lead(id="L-1", created_at=t0, owner_id="u-bob", owner_history=[
        ...     OwnerChange(owner_id="u-ana", at=t0), OwnerChange(owner_id="u-bob", at=t0 + timedelta(days=1))])
        >>> lead.owner_at(t0 + timedelta(hours=3)), lead.owner_at(t0 + timedelta(days=2))
        ('u-ana', 'u-bob')
        """
        v.check_aware("at", at)
        if not self.owner_history:
            return self.owner_id
        instant = at.astimezone(UTC)
        owner = self.owner_history[0].owner_id
        for change in self.owner_history:
            if change.at.astimezone(UTC) > instant:
                break
            owner = change.owner_id
        return owner

    @property
    def full_name(self) -> str | None:
        """First and last name joined, or ``None`` when both are missing."""
        parts = [p for p in (self.first_name, self.last_name) if p]
        return " ".join(parts) or None

    @property
    def email_domain(self) -> str | None:
        """The part of the e-mail address after ``@``, or ``None``."""
        return self.email.rsplit("@", 1)[1] if self.email else None

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Self:
        """Build a lead from a flat record (a CSV row, a JSON object).

        Strings are parsed into the field's type: ISO-8601 timestamps (which must carry an
        offset), numbers, ``""`` as missing. Keys that are not fields go into ``properties``
        (a ``properties.`` prefix is stripped).

        >>> Lead.from_record({"id": "L-9", "created_at": "2026-01-05T10:00:00+01:00",
        ...                   "employees": "250", "persona": "buyer"}).properties["persona"]
        'buyer'
        """
        return _from_record(cls, record)


def apply_change(lead: Lead, change: StageChange, *, handed_off_at: datetime | None = None) -> Lead:
    """*lead* with *change* recorded: its stage moved and the change appended to its history.

    Idempotent: a change already in the history is not appended again, so
    ``apply_change(lead, change) == lead`` tells whether the lead already holds it. A change that
    does not start from the lead's stage is a :class:`~leadflow.errors.ValidationError`; one dated
    before the last recorded change a :class:`~leadflow.errors.HistoryOrderError`.
    *handed_off_at* (from :attr:`~leadflow.ports.StageWrite.handed_off_at`) is stored as
    ``Lead.handed_off_at`` when given. The lifecycle's rules are the job's to check (with
    :func:`~leadflow.lifecycle.transition`); an adapter records what the system of record holds,
    and the job records the change a scorer made (:mod:`leadflow.adapters.sync` re-exports it).

    >>> from datetime import datetime, timezone
    >>> at = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
    >>> lead = Lead(id="L-1", created_at=at)
    >>> change = StageChange(from_stage="inquiry", to_stage="mql", at=at, by="scoring")
    >>> moved = apply_change(lead, change)
    >>> moved.stage, len(moved.history), apply_change(moved, change) == moved
    ('mql', 1, True)
    >>> apply_change(lead, StageChange(from_stage="sal", to_stage="sql", at=at))
    Traceback (most recent call last):
    ...
    leadflow.errors.ValidationError: change.from_stage: 'sal' does not match lead 'L-1''s stage 'inquiry'
    """
    moved = lead
    if change not in lead.history:
        if change.from_stage != lead.stage:
            raise ValidationError(
                "change.from_stage",
                change.from_stage,
                f"does not match lead {lead.id!r}'s stage {lead.stage!r}",
            )
        moved = attrs.evolve(lead, stage=change.to_stage, history=(*lead.history, change))
    if handed_off_at is not None and moved.handed_off_at != handed_off_at:
        moved = attrs.evolve(moved, handed_off_at=handed_off_at)
    return moved


@attrs.frozen(kw_only=True)
class Account:
    """A company. Leads and contacts belong to one through ``Lead.account_id``."""

    id: str = attrs.field(validator=v.non_empty)
    name: str = attrs.field(validator=v.non_empty)
    domain: str | None = attrs.field(default=None, converter=_lower_domain)
    industry: str | None = attrs.field(default=None, converter=_strip)
    annual_revenue: float | None = attrs.field(default=None, validator=v.optional_non_negative)
    employees: int | None = attrs.field(default=None, validator=v.optional_non_negative)
    country: str | None = attrs.field(default=None, converter=_strip)
    owner_id: str | None = attrs.field(default=None, converter=_strip)
    created_at: datetime | None = attrs.field(default=None, validator=v.optional_aware)
    properties: FrozenMap = attrs.field(factory=FrozenMap, converter=v.freeze_map)

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Self:
        """Build an account from a flat record; see :meth:`Lead.from_record`."""
        return _from_record(cls, record)


@attrs.frozen(kw_only=True)
class Activity:
    """A marketing-side engagement: a download, a visit, a webinar, a demo or quote request.

    ``kind`` is a snake_case name; :data:`STANDARD_ACTIVITY_KINDS` lists the ones leadflow knows.
    """

    id: str = attrs.field(validator=v.non_empty)
    lead_id: str = attrs.field(validator=v.non_empty)
    kind: str = attrs.field(validator=v.identifier)
    occurred_at: datetime = attrs.field(validator=v.aware)
    account_id: str | None = attrs.field(default=None, converter=_strip)
    channel: str | None = attrs.field(default=None, converter=_strip)
    campaign: str | None = attrs.field(default=None, converter=_strip)
    content: str | None = attrs.field(default=None, converter=_strip)
    properties: FrozenMap = attrs.field(factory=FrozenMap, converter=v.freeze_map)

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Self:
        """Build an activity from a flat record; see :meth:`Lead.from_record`."""
        return _from_record(cls, record)


@attrs.frozen(kw_only=True)
class Touch:
    """A sales-side follow-up (call, e-mail, meeting, task): the evidence an SLA is judged on."""

    id: str = attrs.field(validator=v.non_empty)
    lead_id: str = attrs.field(validator=v.non_empty)
    kind: TouchKind = attrs.field(converter=_touch_kind, validator=v.member_of(TouchKind))
    at: datetime = attrs.field(validator=v.aware)
    by: str = attrs.field(validator=v.non_empty)
    outcome: TouchOutcome = attrs.field(
        default=TouchOutcome.ATTEMPTED,
        converter=_touch_outcome,
        validator=v.member_of(TouchOutcome),
    )
    subject: str | None = attrs.field(default=None, converter=_strip)

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Self:
        """Build a touch from a flat record; see :meth:`Lead.from_record`."""
        return _from_record(cls, record)


# -- from_record ------------------------------------------------------------------------------

_C = TypeVar("_C")


def _parse_datetime(name: str, raw: Any) -> Any:
    if isinstance(raw, str):
        try:
            return isoparse(raw)
        except (ValueError, OverflowError):
            raise ValidationError(name, raw, "is not an ISO-8601 timestamp") from None
    return raw


def _parse_number(name: str, raw: Any, kind: type) -> Any:
    if isinstance(raw, str):
        return v.parse_number(name, raw, kind)
    if kind is float and isinstance(raw, int) and not isinstance(raw, bool):
        return float(raw)
    return raw


def _from_record(cls: type[_C], record: Mapping[str, Any]) -> _C:
    if not isinstance(record, Mapping):
        raise ValidationError("record", record, "is not a mapping")
    fields = attrs.fields_dict(cls)  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {}
    extra: dict[str, Scalar] = {}
    for key, raw in record.items():
        name = key.removeprefix("properties.") if isinstance(key, str) else key
        if key in fields and key not in {"properties", "history", "owner_history"}:
            value = None if isinstance(raw, str) and not raw.strip() else raw
            if value is not None:
                annotation = str(fields[key].type)
                if "datetime" in annotation:
                    value = _parse_datetime(key, value)
                elif annotation.startswith("int"):
                    value = _parse_number(key, value, int)
                elif annotation.startswith("float"):
                    value = _parse_number(key, value, float)
            elif fields[key].default is not attrs.NOTHING:
                continue  # blank: the field's default ("inquiry" for a stage, "attempted"...)
            kwargs[key] = value
        elif key == "properties" and isinstance(raw, Mapping):
            extra.update(raw)
        elif "properties" in fields:
            if raw is not None and raw != "":
                extra[str(name)] = raw
        else:
            raise ValidationError(str(key), raw, f"is not a field of {cls.__name__}")
    if "properties" in fields:
        kwargs["properties"] = extra
    missing = [n for n, f in fields.items() if f.default is attrs.NOTHING and kwargs.get(n) is None]
    if missing:
        raise ValidationError(missing[0], None, "is required but missing")
    return cls(**kwargs)


class _OfALead(Protocol):
    @property
    def lead_id(self) -> str: ...


_R = TypeVar("_R", bound=_OfALead)


def by_lead(records: Iterable[_R]) -> dict[str, list[_R]]:
    """*records* (activities, touches: anything with a ``lead_id``) grouped by lead id, each
    lead's in the order given — how :func:`~leadflow.rules.score_many` and
    :func:`~leadflow.rules.sla.evaluate_many` pairs are usually made.

    >>> from datetime import datetime, timezone
    >>> at = datetime(2026, 3, 2, tzinfo=timezone.utc)
    >>> acts = [Activity(id=f"A-{i}", lead_id=who, kind="web_visit", occurred_at=at)
    ...         for i, who in enumerate(["L-1", "L-2", "L-1"])]
    >>> {lead: [a.id for a in mine] for lead, mine in by_lead(acts).items()}
    {'L-1': ['A-0', 'A-2'], 'L-2': ['A-1']}
    """
    groups: dict[str, list[_R]] = {}
    for record in records:
        groups.setdefault(record.lead_id, []).append(record)
    return groups
