"""SLA policies as data, their evaluation against a lead's touches, and adherence over many leads.

Scope: the second root cause of the sales/marketing fight is the missing service-level agreement
for following leads up. Here an SLA is data — an :class:`SLAPolicy` loaded from TOML or built in
Python — and evaluating it is a pure function of a lead, its touches, a business calendar and an
instant ``as_of`` that is always an argument (``now`` is its deprecated alias, accepted for one
release; scoring names the instant ``as_of`` too).

A policy is started by a *trigger* (the hand-off to sales, a stage entered, an activity such as a
quote request) and holds ordered *steps*, each a number of matching :class:`~leadflow.model.Touch`
es (by kind, outcome, by the owner or anyone) required within a business-time window that starts
at the trigger. Counts are cumulative from the trigger: "first touch within 24 business hours"
is ``count = 1``, "two more attempts within 5 business days" is ``count = 3``. Anchoring every
step at the trigger (not at the previous step) keeps evaluation monotone: a new touch can only
turn a step met, and a later ``as_of`` never turns a breached step back. A policy may end with a
*final action* — recycle to nurture (or disqualify) with a reject code — that becomes due when
the last window closes without a live conversation. Actions and escalations are returned as
decisions; adapters and the CLI carry them out.

>>> from datetime import datetime, timedelta, timezone
>>> from leadflow.business_time import BusinessCalendar
>>> from leadflow.model import Lead, Touch
>>> policy = SLAPolicy.from_dict({
...     "name": "inbound", "trigger": "handoff",
...     "steps": [{"name": "first_touch", "within_hours": 4, "by": "owner", "escalate": "manager"}],
... })
>>> ny = BusinessCalendar.weekdays("America/New_York")
>>> handoff = datetime(2026, 3, 6, 15, 0, tzinfo=timezone(timedelta(hours=-5)))  # Friday
>>> lead = Lead(id="L-1", created_at=handoff, owner_id="u-ana", handed_off_at=handoff)
>>> result = evaluate(lead, [], as_of=handoff + timedelta(hours=1), policies=[policy],
...                   calendar=ny)
>>> result.steps[0].state, result.steps[0].due.isoformat(), result.steps[0].remaining
(<StepState.PENDING: 'pending'>, '2026-03-09T11:00:00-04:00', datetime.timedelta(seconds=10800))
>>> call = Touch(id="T-1", lead_id="L-1", kind="call", by="u-ana", at=handoff + timedelta(hours=1))
>>> met = evaluate(lead, [call], as_of=handoff + timedelta(days=4), policies=[policy],
...                calendar=ny)
>>> met.steps[0].state, met.steps[0].response_business
(<StepState.MET: 'met'>, datetime.timedelta(seconds=3600))
"""

from __future__ import annotations

import enum
import math
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from os import PathLike
from pathlib import Path
from typing import Any, Self, TypeVar

import attrs

from leadflow import _validate as v
from leadflow._files import read_text
from leadflow._stats import quantile
from leadflow._validate import boolean as _boolean
from leadflow._validate import check_aware
from leadflow._validate import check_keys as _check_keys
from leadflow._validate import optional_positive_int as _positive_int
from leadflow._validate import utc as _utc
from leadflow.business_time import BusinessCalendar, CalendarChoice, CalendarResolver, calendar_for
from leadflow.errors import ConfigError, NotFoundError, ValidationError
from leadflow.lifecycle import Stage
from leadflow.model import Activity, Lead, Touch, TouchKind, TouchOutcome, by_lead
from leadflow.reasons import Disposition
from leadflow.rules._files import build, in_source, toml_key, toml_value

E = TypeVar("E", bound=enum.Enum)

__all__ = [
    "ADHERENCE_DIMENSIONS",
    "DEFAULT_STOP_STAGES",
    "ActionState",
    "AdherenceFigures",
    "Escalation",
    "EscalationDecision",
    "EscalationTarget",
    "Evaluation",
    "FinalAction",
    "FinalDecision",
    "NextAction",
    "Performer",
    "SLAClock",
    "SLAPolicy",
    "Step",
    "StepState",
    "StepResult",
    "StepStatus",
    "Trigger",
    "TriggerKind",
    "adherence",
    "dump_policies",
    "evaluate",
    "evaluate_many",
    "load_policies",
    "loads_policies",
    "policies_from_dict",
    "select_policy",
]

#: Stages that end an SLA clock: once a lead enters one after the trigger, steps not yet met
#: and not yet due are ``stopped`` rather than breached.
DEFAULT_STOP_STAGES: tuple[str, ...] = (
    Stage.SQL.value,
    Stage.OPPORTUNITY.value,
    Stage.WON.value,
    Stage.LOST.value,
    Stage.RECYCLED.value,
    Stage.DISQUALIFIED.value,
)

#: What :func:`adherence` can group by.
ADHERENCE_DIMENSIONS: tuple[str, ...] = ("step", "owner", "team", "source", "policy", "calendar")

_HOUR = timedelta(hours=1)

#: The longest window a step may have (ten years): enough for any SLA, and far from the
#: overflow of date arithmetic.
_MAX_WINDOW = timedelta(days=3660)

_WINDOW = re.compile(
    r"(?P<n>\d+(?:\.\d+)?)\s*(?P<business>business\s+)?(?P<unit>minute|hour|day)s?"
)
_UNITS = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}


# -- the policy data -------------------------------------------------------------------------


class TriggerKind(enum.StrEnum):
    """What starts an SLA clock."""

    HANDOFF = "handoff"
    STAGE_ENTERED = "stage_entered"
    ACTIVITY = "activity"


def _trigger_kind(value: Any) -> Any:
    return v.coerce_enum(TriggerKind, value)


@attrs.frozen(kw_only=True)
class Trigger:
    """The event that starts the clock.

    * ``handoff``: the lead's ``handed_off_at``;
    * ``stage_entered``: the latest history entry into ``stage``;
    * ``activity``: the latest :class:`~leadflow.model.Activity` of kind ``activity``.

    Only events at or before ``as_of`` count; a later event of the same kind restarts the clock
    (a new cycle).
    """

    kind: TriggerKind = attrs.field(converter=_trigger_kind, validator=v.member_of(TriggerKind))
    stage: str | None = attrs.field(default=None, validator=v.optional_non_empty)
    activity: str | None = attrs.field(default=None)

    def __attrs_post_init__(self) -> None:
        if self.kind is TriggerKind.STAGE_ENTERED and self.stage is None:
            raise ValidationError("stage", None, "is required for a stage_entered trigger")
        if self.kind is TriggerKind.ACTIVITY:
            if self.activity is None:
                raise ValidationError("activity", None, "is required for an activity trigger")
            v.identifier(self, attrs.fields(Trigger).activity, self.activity)
        if self.kind is not TriggerKind.STAGE_ENTERED and self.stage is not None:
            raise ValidationError("stage", self.stage, f"does not apply to a {self.kind} trigger")
        if self.kind is not TriggerKind.ACTIVITY and self.activity is not None:
            raise ValidationError(
                "activity", self.activity, f"does not apply to a {self.kind} trigger"
            )

    def started_at(
        self,
        lead: Lead,
        activities: Iterable[Activity] = (),
        *,
        as_of: datetime | None = None,
        now: datetime | None = None,
    ) -> datetime | None:
        """When the clock started for *lead*, as seen at *as_of*; ``None`` if it has not
        (``now`` is the deprecated alias of ``as_of``)."""
        now = _instant_arg(as_of, now)
        if self.kind is TriggerKind.HANDOFF:
            at = lead.handed_off_at
            return at if at is not None and _utc(at) <= _utc(now) else None
        if self.kind is TriggerKind.STAGE_ENTERED:
            entries = [
                c.at for c in lead.history if c.to_stage == self.stage and _utc(c.at) <= _utc(now)
            ]
            return max(entries, key=_utc) if entries else None
        times = [
            a.occurred_at
            for a in activities
            if a.kind == self.activity and a.lead_id == lead.id and _utc(a.occurred_at) <= _utc(now)
        ]
        return max(times, key=_utc) if times else None

    @classmethod
    def parse(cls, data: object) -> Trigger:
        """From ``"handoff"``, ``{"stage_entered": "sal"}`` or ``{"activity": "quote_request"}``."""
        if isinstance(data, Trigger):
            return data
        if isinstance(data, str):
            return cls(kind=data)
        if isinstance(data, Mapping) and len(data) == 1:
            ((key, value),) = data.items()
            if key == TriggerKind.STAGE_ENTERED:
                return cls(kind=key, stage=value)
            if key == TriggerKind.ACTIVITY:
                return cls(kind=key, activity=value)
        if isinstance(data, Mapping) and "kind" in data:
            return cls(kind=data["kind"], stage=data.get("stage"), activity=data.get("activity"))
        raise ValidationError(
            "trigger",
            data,
            "is not 'handoff', {stage_entered = <stage>} or {activity = <activity kind>}",
        )

    def to_data(self) -> str | dict[str, str]:
        """The form :meth:`parse` reads."""
        if self.kind is TriggerKind.STAGE_ENTERED:
            return {"stage_entered": str(self.stage)}
        if self.kind is TriggerKind.ACTIVITY:
            return {"activity": str(self.activity)}
        return self.kind.value


class Performer(enum.StrEnum):
    """Who must make a touch for it to count: the lead's owner, or anyone."""

    OWNER = "owner"
    ANYONE = "anyone"


class EscalationTarget(enum.StrEnum):
    """Who hears about a breach."""

    OWNER = "owner"
    MANAGER = "manager"
    QUEUE = "queue"


def _escalation_target(value: Any) -> Any:
    return v.coerce_enum(EscalationTarget, value)


def _performer(value: Any) -> Any:
    return v.coerce_enum(Performer, value)


def _disposition(value: Any) -> Any:
    return v.coerce_enum(Disposition, value)


@attrs.frozen(kw_only=True)
class Escalation:
    """Where a breached step escalates to: the owner, their manager, or a named queue."""

    to: EscalationTarget = attrs.field(
        converter=_escalation_target,
        validator=v.member_of(EscalationTarget),
    )
    queue: str | None = attrs.field(default=None, validator=v.optional_non_empty)

    def __attrs_post_init__(self) -> None:
        if (self.to is EscalationTarget.QUEUE) != (self.queue is not None):
            raise ValidationError(
                "queue", self.queue, "is required for, and only for, a queue escalation"
            )

    @classmethod
    def parse(cls, data: object) -> Escalation:
        """From ``"owner"``, ``"manager"`` or ``"queue:<name>"`` (or ``{to=..., queue=...}``)."""
        if isinstance(data, Escalation):
            return data
        if isinstance(data, str):
            to, _, queue = data.partition(":")
            return cls(to=to.strip(), queue=queue.strip() or None)
        if isinstance(data, Mapping):
            return cls(to=data.get("to"), queue=data.get("queue"))
        raise ValidationError("escalate", data, "is not 'owner', 'manager' or 'queue:<name>'")

    def to_data(self) -> str:
        """The string form :meth:`parse` reads."""
        return f"queue:{self.queue}" if self.to is EscalationTarget.QUEUE else self.to.value


def _enum_set(name: str, enum_cls: type[E], value: Any) -> frozenset[E]:
    """A set of *enum_cls* members from a name or a list of names; anything else (a number, a
    table, a list inside the list) is a :class:`ValidationError` naming *name*, never a
    ``TypeError`` from hashing it."""
    if isinstance(value, str):
        value = [value]
    allowed = ", ".join(repr(m.value) for m in enum_cls)
    if isinstance(value, Mapping) or not isinstance(value, Iterable):
        raise ValidationError(name, value, f"must be a list of {allowed}")
    members = []
    for item in value:
        member = v.coerce_enum(enum_cls, item) if isinstance(item, str | enum_cls) else item
        if not isinstance(member, enum_cls):
            raise ValidationError(name, item, f"is not one of {allowed}")
        members.append(member)
    return frozenset(members)


def _kinds(value: Iterable[Any]) -> frozenset[Any]:
    return _enum_set("kinds", TouchKind, value)


def _outcomes(value: Iterable[Any]) -> frozenset[Any]:
    return _enum_set("outcomes", TouchOutcome, value)


def _members(enum_cls: type[enum.Enum]) -> Callable[[object, attrs.Attribute[Any], Any], None]:
    def check(_inst: object, attribute: attrs.Attribute[Any], value: Any) -> None:
        for item in value:
            if not isinstance(item, enum_cls):
                allowed = ", ".join(repr(m.value) for m in enum_cls)
                raise ValidationError(attribute.name, item, f"is not one of {allowed}")

    return check


def _business_delta(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        return
    if not isinstance(value, timedelta):
        raise ValidationError(attribute.name, value, "is not a timedelta")
    if value < timedelta(0):
        raise ValidationError(attribute.name, value, "must not be negative")


def _escalation(value: object) -> Escalation | None:
    return None if value is None else Escalation.parse(value)


@attrs.frozen(kw_only=True)
class Step:
    """One obligation: *count* matching touches within a business-time window from the trigger.

    The window is given in exactly one of three units, which say what they mean:

    * ``within``: business time — ``"4 business hours"`` counts only the calendar's open hours;
    * ``within_days``: business days — ``"1 business day"`` is due at the close of the next
      business day after the trigger's date (what a manager means by "next business day");
    * ``within_elapsed``: wall-clock time — ``"24 hours"`` is 24 real hours, open or not.

    :meth:`parse_window` turns such a phrase into the keyword for the constructor, and
    :attr:`window` gives it back:

    >>> Step(name="first_touch", **Step.parse_window("1 business day")).within_days
    1
    >>> Step(name="first_touch", **Step.parse_window("24 hours")).window
    '24 hours'

    Attributes:
        name: snake_case name (``first_touch``), unique within the policy.
        within: the window as business time (24 business hours), or
        within_days: the window as business days: due at the close of the n-th business day
            after the trigger's date, or
        within_elapsed: the window as wall-clock time (exactly one of the three).
        count: matching touches needed since the trigger (cumulative, so later steps count the
            earlier steps' touches too).
        kinds: touch kinds that count (empty: any); outcomes: outcomes that count (empty: any).
        by: ``owner`` — only the lead's owner's touches count — or ``anyone``.
        warn: business time before the due time during which the step is ``at_risk``.
        escalate: where a breach escalates to, or ``None``.
    """

    name: str = attrs.field(validator=v.identifier)
    within: timedelta | None = attrs.field(default=None, validator=_business_delta)
    within_days: int | None = attrs.field(default=None, validator=_positive_int)
    within_elapsed: timedelta | None = attrs.field(default=None, validator=_business_delta)
    count: int = attrs.field(default=1, validator=_positive_int)
    kinds: frozenset[TouchKind] = attrs.field(
        default=frozenset(), converter=_kinds, validator=_members(TouchKind)
    )
    outcomes: frozenset[TouchOutcome] = attrs.field(
        default=frozenset(), converter=_outcomes, validator=_members(TouchOutcome)
    )
    by: Performer = attrs.field(
        default=Performer.ANYONE,
        converter=_performer,
        validator=v.member_of(Performer),
    )
    warn: timedelta = attrs.field(default=timedelta(0), validator=_business_delta)
    escalate: Escalation | None = attrs.field(default=None, converter=_escalation)

    def __attrs_post_init__(self) -> None:
        given = [w for w in (self.within, self.within_days, self.within_elapsed) if w is not None]
        if len(given) != 1:
            raise ValidationError(
                "within",
                self.within,
                "give exactly one of within (business time), within_days (business days) or "
                "within_elapsed (wall-clock time)",
            )
        for name in ("within", "within_elapsed"):
            value = getattr(self, name)
            if value is not None and value <= timedelta(0):
                raise ValidationError(name, value, "must be more than zero")
            if value is not None and value > _MAX_WINDOW:
                raise ValidationError(name, value, f"is longer than {_MAX_WINDOW.days} days")
        if self.within_days is not None and self.within_days > _MAX_WINDOW.days:
            raise ValidationError(
                "within_days", self.within_days, f"is more than {_MAX_WINDOW.days} days"
            )

    @staticmethod
    def parse_window(text: str) -> dict[str, Any]:
        """The window keyword for a phrase with explicit units, for the constructor.

        ``"<n> business days"`` → ``within_days`` (whole days); ``"<n> business hours"`` or
        ``"... minutes"`` → ``within`` (business time); ``"<n> hours"``, ``"... minutes"`` or
        ``"... days"`` without ``business`` → ``within_elapsed`` (wall-clock). Singular or
        plural, any case.

        >>> Step.parse_window("4 business hours")
        {'within': datetime.timedelta(seconds=14400)}
        >>> Step.parse_window("3 weeks")
        Traceback (most recent call last):
        ...
        leadflow.errors.ValidationError: within: '3 weeks' is not '<n> business days', '<n> business hours|minutes' or '<n> hours|minutes|days' (wall-clock)
        """
        match = _WINDOW.fullmatch(text.strip().lower()) if isinstance(text, str) else None
        if match is None:
            raise ValidationError(
                "within",
                text,
                "is not '<n> business days', '<n> business hours|minutes' or "
                "'<n> hours|minutes|days' (wall-clock)",
            )
        number, business, unit = float(match["n"]), bool(match["business"]), match["unit"]
        if not math.isfinite(number) or number <= 0:
            raise ValidationError("within", text, "must be more than zero")
        if unit == "day" and business:
            if number != int(number):
                raise ValidationError("within", text, "business days must be a whole number")
            if number > _MAX_WINDOW.days:
                raise ValidationError("within", text, f"is more than {_MAX_WINDOW.days} days")
            return {"within_days": int(number)}
        if number * _UNITS[unit] / _HOUR > _MAX_WINDOW / _HOUR:
            raise ValidationError("within", text, f"is longer than {_MAX_WINDOW.days} days")
        length = timedelta(hours=number * (_UNITS[unit] / _HOUR))
        return {"within": length} if business else {"within_elapsed": length}

    @property
    def window(self) -> str:
        """The window as a phrase :meth:`parse_window` reads back (``"1 business day"``)."""
        if self.within_days is not None:
            return f"{self.within_days} business day{'s' if self.within_days != 1 else ''}"
        length = self.within if self.within is not None else self.within_elapsed
        assert length is not None  # checked on construction
        prefix = "business " if self.within is not None else ""
        hours = length / _HOUR
        if hours == int(hours):
            return f"{int(hours)} {prefix}hour{'s' if hours != 1 else ''}"
        minutes = _minutes(length)
        return f"{minutes} {prefix}minute{'s' if minutes != 1 else ''}"

    def matches(self, touch: Touch, lead: Lead) -> bool:
        """Whether *touch* counts towards this step for *lead*: with ``by = owner``, only a
        touch by the owner who held the lead when the touch happened
        (:meth:`~leadflow.model.Lead.owner_at`) counts."""
        if self.kinds and touch.kind not in self.kinds:
            return False
        if self.outcomes and touch.outcome not in self.outcomes:
            return False
        return not (self.by is Performer.OWNER and touch.by != lead.owner_at(touch.at))

    def due(self, start: datetime, calendar: BusinessCalendar) -> datetime:
        """When the step is due for a clock started at *start* (in the calendar's zone)."""
        if self.within is not None:
            return calendar.add(start, self.within)
        if self.within_elapsed is not None:
            return (_utc(start) + self.within_elapsed).astimezone(calendar.tzinfo)
        assert self.within_days is not None  # checked on construction
        return calendar.add_days(start, self.within_days)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, path: str = "step") -> Step:
        """From a TOML table: ``name``, the window — ``within`` with explicit units
        (``"1 business day"``, ``"4 business hours"``, ``"24 hours"`` wall-clock; see
        :meth:`parse_window`) or one of ``within_minutes|within_hours`` (business time) or
        ``within_days`` (business days) — ``count``, ``kinds``, ``outcomes``, ``by``,
        ``warn_minutes|warn_hours``, ``escalate``."""
        if not isinstance(data, Mapping):
            raise ConfigError(path, f"a step must be a table, got {data!r}")
        _check_keys(data, path, _STEP_KEYS)
        if "name" not in data:
            raise ConfigError(f"{path}.name", "is required")
        windows = [k for k in _WINDOW_KEYS if k in data]
        if len(windows) != 1:
            raise ConfigError(
                f"{path}.within",
                'give exactly one of within (e.g. "1 business day"), within_minutes, '
                "within_hours or within_days",
            )
        kwargs: dict[str, Any] = {"name": data["name"]}
        key = windows[0]
        if key == "within":
            if not isinstance(data[key], str):
                raise ConfigError(
                    f"{path}.within",
                    f'must be a phrase such as "1 business day", got {data[key]!r}',
                )
            try:
                kwargs.update(Step.parse_window(data[key]))
            except ValidationError as exc:
                raise ConfigError(f"{path}.within", f"{exc.value!r} {exc.reason}") from None
        elif key == "within_days":
            kwargs["within_days"] = data["within_days"]
        else:
            kwargs["within"] = _duration(data[key], key, path)
        warns = [k for k in ("warn_minutes", "warn_hours") if k in data]
        if len(warns) > 1:
            raise ConfigError(f"{path}.warn_hours", "give at most one of warn_minutes, warn_hours")
        if warns:
            kwargs["warn"] = _duration(data[warns[0]], warns[0], path)
        for key in ("count", "kinds", "outcomes", "by"):
            if key in data:
                kwargs[key] = data[key]
        if "escalate" in data:
            try:
                kwargs["escalate"] = Escalation.parse(data["escalate"])
            except ValidationError as exc:
                raise ConfigError(f"{path}.escalate", f"{exc.value!r} {exc.reason}") from None
        step: Step = build(cls, path, kwargs)
        return step

    def to_dict(self) -> dict[str, Any]:
        """Plain data that :meth:`from_dict` reads back to an equal step."""
        data: dict[str, Any] = {"name": self.name, "within": self.window}
        data["count"] = self.count
        if self.kinds:
            data["kinds"] = sorted(k.value for k in self.kinds)
        if self.outcomes:
            data["outcomes"] = sorted(o.value for o in self.outcomes)
        data["by"] = self.by.value
        if self.warn:
            data["warn_minutes"] = _minutes(self.warn)
        if self.escalate is not None:
            data["escalate"] = self.escalate.to_data()
        return data


_WINDOW_KEYS = ("within", "within_minutes", "within_hours", "within_days")

_STEP_KEYS = (
    "name",
    "within",
    "within_minutes",
    "within_hours",
    "within_days",
    "count",
    "kinds",
    "outcomes",
    "by",
    "warn_minutes",
    "warn_hours",
    "escalate",
)


def _optional_identifier(inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None:
        v.identifier(inst, attribute, value)


def _none_if_empty(value: Any) -> Any:
    return None if value == "" else value


@attrs.frozen(kw_only=True)
class FinalAction:
    """The end of the cadence: recycle (or disqualify) the lead with a reject code.

    Due when the last step's window closes. With ``unless_connected`` (the default) a live
    conversation (a touch whose outcome is a connect: replied, connected, meeting booked) since
    the trigger cancels it.

    A lead that nobody touched at all before the cadence ran out was never worked: that is
    sales' miss, not a verdict on the lead, so it is recycled to nurture under
    ``untouched_reason`` (``not_followed_up`` by default, which the rejection report counts as
    an SLA failure) instead of ``reason``. ``None`` uses ``reason`` either way.
    """

    action: Disposition = attrs.field(
        default=Disposition.RECYCLE,
        converter=_disposition,
        validator=v.member_of(Disposition),
    )
    reason: str = attrs.field(default="not_ready_to_buy", validator=v.identifier)
    unless_connected: bool = attrs.field(default=True, validator=_boolean)
    untouched_reason: str | None = attrs.field(
        default="not_followed_up",
        converter=_none_if_empty,
        validator=_optional_identifier,
    )


def _trigger(value: object) -> Trigger:
    return Trigger.parse(value)


def _steps(value: Iterable[Step]) -> tuple[Step, ...]:
    return tuple(value)


def _stages(value: Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, Iterable):
        raise ValidationError("stop_stages", value, "is not a list of stage names")
    stages = tuple(value)
    for stage in stages:
        if not isinstance(stage, str) or not stage.strip():
            raise ValidationError("stop_stages", stage, "is not a stage name")
    return stages


def _check_steps(_inst: object, _attr: attrs.Attribute[Any], value: tuple[Step, ...]) -> None:
    if not value:
        raise ValidationError("steps", value, "must hold at least one step")
    names = [s.name for s in value if isinstance(s, Step)]
    if len(names) != len(value):
        raise ValidationError("steps", value, "must be Step values")
    for name in names:
        if names.count(name) > 1:
            raise ValidationError("steps", name, "is the name of more than one step")


def _priority(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(attribute.name, value, "is not a whole number")


@attrs.frozen(kw_only=True)
class SLAPolicy:
    """A follow-up agreement: a trigger, ordered steps, an optional final action.

    When several policies have started for one lead, the one with the highest ``priority``
    governs; among equals the most recently started, then the first name in alphabetical order.

    The chase ends when the lead leaves the cadence (enters one of ``stop_stages``) and, with
    ``stop_on_connect`` (the default), at the first live conversation (a touch whose outcome is
    a connect): steps not met by then are ``stopped``, never breached nor escalated.
    """

    name: str = attrs.field(validator=v.identifier)
    trigger: Trigger = attrs.field(converter=_trigger)
    steps: tuple[Step, ...] = attrs.field(converter=_steps, validator=_check_steps)
    final: FinalAction | None = None
    priority: int = attrs.field(default=0, validator=_priority)
    stop_stages: tuple[str, ...] = attrs.field(default=DEFAULT_STOP_STAGES, converter=_stages)
    description: str | None = attrs.field(default=None, validator=v.optional_non_empty)
    stop_on_connect: bool = attrs.field(default=True, validator=_boolean)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, path: str = "policy") -> Self:
        """Build a policy from plain data (one ``[[policies]]`` table of a TOML file).

        >>> SLAPolicy.from_dict({"name": "x", "trigger": "handoff",
        ...                      "steps": [{"name": "first", "within_hours": 4, "by": "boss"}]})
        Traceback (most recent call last):
        ...
        leadflow.errors.ConfigError: policy.steps[0].by: 'boss' is not one of 'owner', 'anyone'
        """
        if not isinstance(data, Mapping):
            raise ConfigError(path, f"a policy must be a table, got {data!r}")
        _check_keys(data, path, _POLICY_KEYS)
        for key in ("name", "trigger", "steps"):
            if key not in data:
                raise ConfigError(f"{path}.{key}", "is required")
        raw_steps = data["steps"]
        if not isinstance(raw_steps, Sequence) or isinstance(raw_steps, str):
            raise ConfigError(f"{path}.steps", f"must be a list of step tables, got {raw_steps!r}")
        steps = [Step.from_dict(s, path=f"{path}.steps[{i}]") for i, s in enumerate(raw_steps)]
        try:
            trigger = Trigger.parse(data["trigger"])
        except ValidationError as exc:
            sub = "" if exc.field == "trigger" else f".{exc.field}"
            raise ConfigError(f"{path}.trigger{sub}", f"{exc.value!r} {exc.reason}") from None
        final = None
        if data.get("final") is not None:
            raw_final = data["final"]
            if not isinstance(raw_final, Mapping):
                raise ConfigError(f"{path}.final", f"must be a table, got {raw_final!r}")
            _check_keys(
                raw_final,
                f"{path}.final",
                ("action", "reason", "unless_connected", "untouched_reason"),
            )
            final = build(FinalAction, f"{path}.final", dict(raw_final))
        kwargs: dict[str, Any] = {
            "name": data["name"],
            "trigger": trigger,
            "steps": steps,
            "final": final,
        }
        for key in ("priority", "stop_stages", "description", "stop_on_connect"):
            if key in data:
                kwargs[key] = data[key]
        return build(cls, path, kwargs)  # type: ignore[no-any-return]

    def to_dict(self) -> dict[str, Any]:
        """Plain data that :meth:`from_dict` reads back to an equal policy."""
        data: dict[str, Any] = {"name": self.name}
        if self.description is not None:
            data["description"] = self.description
        data["priority"] = self.priority
        data["trigger"] = self.trigger.to_data()
        data["stop_stages"] = list(self.stop_stages)
        data["stop_on_connect"] = self.stop_on_connect
        data["steps"] = [s.to_dict() for s in self.steps]
        if self.final is not None:
            data["final"] = {
                "action": self.final.action.value,
                "reason": self.final.reason,
                "unless_connected": self.final.unless_connected,
            }
            data["final"]["untouched_reason"] = self.final.untouched_reason or ""
        return data


_POLICY_KEYS = (
    "name",
    "description",
    "priority",
    "trigger",
    "steps",
    "final",
    "stop_stages",
    "stop_on_connect",
)


def _duration(value: object, key: str, path: str) -> timedelta:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{path}.{key}", f"must be a number, got {value!r}")
    if value < 0:
        raise ConfigError(f"{path}.{key}", f"must not be negative, got {value!r}")
    unit = timedelta(minutes=1) if key.endswith("_minutes") else _HOUR
    if value * (unit / _HOUR) > _MAX_WINDOW / _HOUR:
        raise ConfigError(
            f"{path}.{key}", f"must be at most {_MAX_WINDOW.days} days' worth, got {value!r}"
        )
    return value * unit


def _minutes(delta: timedelta) -> int | float:
    minutes = delta / timedelta(minutes=1)
    return int(minutes) if minutes == int(minutes) else minutes


def loads_policies(text: str, *, source: str = "<string>") -> tuple[SLAPolicy, ...]:
    """Parse policies from TOML text (``[[policies]]`` tables); *source* (a file name) prefixes
    the location in every error."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, f"is not valid TOML: {exc}") from None
    with in_source(source):
        return policies_from_dict(data)


def policies_from_dict(data: Mapping[str, Any]) -> tuple[SLAPolicy, ...]:
    """Policies from plain data ``{"policies": [...]}``; names must be unique."""
    _check_keys(data, "", ("policies",))
    raw = data.get("policies")
    if not isinstance(raw, Sequence) or isinstance(raw, str) or not raw:
        raise ConfigError("policies", "must be a non-empty list of [[policies]] tables")
    policies = tuple(SLAPolicy.from_dict(p, path=f"policies[{i}]") for i, p in enumerate(raw))
    seen: dict[str, int] = {}
    for index, policy in enumerate(policies):
        if policy.name in seen:
            raise ConfigError(
                f"policies[{index}].name",
                f"{policy.name!r} is already the name of policies[{seen[policy.name]}]",
            )
        seen[policy.name] = index
    return policies


def load_policies(path: str | PathLike[str]) -> tuple[SLAPolicy, ...]:
    """Read SLA policies from a TOML file.

    >>> policies = load_policies("examples/sla.toml")
    >>> [p.name for p in policies], [s.name for s in policies[0].steps]
    (['handoff_follow_up'], ['first_touch', 'follow_up_attempts'])
    """
    return loads_policies(read_text(path), source=str(Path(path)))


def dump_policies(policies: Iterable[SLAPolicy]) -> str:
    """Policies as TOML text that :func:`loads_policies` reads back to equal policies.

    >>> (policy,) = load_policies("examples/sla.toml")
    >>> loads_policies(dump_policies([policy])) == (policy,)
    True
    """
    lines: list[str] = []
    for policy in policies:
        data = policy.to_dict()
        steps, final = data.pop("steps"), data.pop("final", None)
        lines.append("[[policies]]")
        lines.extend(f"{toml_key(key)} = {toml_value(value)}" for key, value in data.items())
        for step in steps:
            lines.append("")
            lines.append("[[policies.steps]]")
            lines.extend(f"{toml_key(key)} = {toml_value(value)}" for key, value in step.items())
        if final is not None:
            lines.append("")
            lines.append("[policies.final]")
            lines.extend(f"{toml_key(key)} = {toml_value(value)}" for key, value in final.items())
        lines.append("")
    return "\n".join(lines)


# -- evaluation ------------------------------------------------------------------------------


class StepState(enum.StrEnum):
    """Where a step stands at ``as_of``."""

    PENDING = "pending"
    AT_RISK = "at_risk"
    MET = "met"
    BREACHED = "breached"
    STOPPED = "stopped"


@attrs.frozen(kw_only=True)
class StepStatus:
    """One step's state at ``as_of``.

    * ``pending``/``at_risk``: ``due`` and ``remaining`` (business time left);
    * ``met``: ``completed_at`` on or before ``due``, with the response time since the trigger
      in business time and in wall-clock (elapsed) time;
    * ``breached``: ``breached_at`` (the due instant) and ``overdue`` — business time past due,
      up to the late completion (``completed_at``) or, while still open, up to ``as_of`` (or
      the end of the chase);
    * ``stopped``: the chase ended at ``stopped_at`` before the step fell due —
      ``stopped_because`` is ``"stage"`` (the lead left for a stop stage) or ``"connected"``
      (a live conversation: no more attempts are needed).

    ``owner_id`` is whose step it is, by the owner history
    (:meth:`~leadflow.model.Lead.owner_at`): for a met step the owner credited with the touch
    that completed it, for a breached step the owner who held the lead when it fell due, for a
    stopped step the owner when the chase ended, for an open step the owner at ``as_of``.

    ``due`` (like every instant of an evaluation) is an aware datetime in the zone of the
    business calendar the lead was judged in — ``2026-03-09T17:00:00-04:00`` for a New York
    calendar — whatever the zone of the instants passed in.
    """

    step: str
    state: StepState
    due: datetime
    required: int
    done: int
    remaining: timedelta | None = None
    completed_at: datetime | None = None
    response_business: timedelta | None = None
    response_wall: timedelta | None = None
    breached_at: datetime | None = None
    overdue: timedelta | None = None
    stopped_at: datetime | None = None
    escalate: Escalation | None = None
    owner_id: str | None = None
    stopped_because: str | None = None


@attrs.frozen(kw_only=True)
class EscalationDecision:
    """A breached step that is still open escalates: to the owner, their manager, or a queue.

    Only what someone can still act on is open: an escalation closes when the step is done
    (late), when the lead leaves the cadence (recycled, rejected, converted — a stop stage) and
    when a live conversation ended the chase. ``owner_id`` is the lead's owner now, who must
    act, so the caller can find the manager; ``queue`` is set for queue escalations.
    """

    lead_id: str
    step: str
    to: EscalationTarget
    queue: str | None
    owner_id: str | None
    since: datetime


@attrs.frozen(kw_only=True)
class NextAction:
    """The next thing due: a step (with the escalation a miss would trigger) or the final action.

    ``due`` is in the zone of the calendar the lead was judged in."""

    step: str | None
    action: Disposition | None
    due: datetime
    escalation: Escalation | None = None


class ActionState(enum.StrEnum):
    """Where the final action stands: not yet due, due (carry it out), or skipped."""

    PENDING = "pending"
    DUE = "due"
    SKIPPED = "skipped"


@attrs.frozen(kw_only=True)
class FinalDecision:
    """The final action's decision: carry out ``action`` with ``reason`` when ``state`` is due.

    ``skipped_because`` says why a skipped action will not happen (``connected`` or
    ``stopped``). ``untouched`` is true when the action is due and nobody touched the lead
    before the cadence ran out: then ``action`` is recycle and ``reason`` the policy's
    ``untouched_reason`` (while pending, the decision names the policy's own action). ``due`` is
    in the zone of the calendar the lead was judged in.
    """

    action: Disposition
    reason: str
    due: datetime
    state: ActionState
    skipped_because: str | None = None
    untouched: bool = False


@attrs.frozen(kw_only=True)
class StepResult:
    """One lead's result for one step, flattened: the row the analytics reports read.

    ``state`` is the adherence view — ``met``, ``breached`` or ``pending`` (at risk counts as
    pending) — and ``detail`` the full :class:`StepState`. ``response_hours`` is business hours
    from the trigger to completion (met, or breached and done late). ``due_at`` is in the zone of
    the calendar the lead was judged in.
    """

    lead_id: str
    policy: str
    step: str
    state: StepState
    detail: StepState
    due_at: datetime
    response_hours: float | None
    owner: str | None
    team: str | None
    source: str | None


@attrs.frozen(kw_only=True)
class Evaluation:
    """A lead judged against the policy that governs it, at the instant ``as_of``.

    ``owner_id`` is the lead's owner at ``as_of``; each step's own owner (who is credited or
    charged with it) is :attr:`StepStatus.owner_id`.
    """

    lead_id: str
    policy: str
    started_at: datetime
    as_of: datetime
    calendar: str
    steps: tuple[StepStatus, ...]
    next_action: NextAction | None
    escalations: tuple[EscalationDecision, ...]
    final: FinalDecision | None
    owner_id: str | None = None
    team: str | None = None
    source: str | None = None

    @property
    def now(self) -> datetime:
        """Deprecated alias of :attr:`as_of` (kept for one release)."""
        return self.as_of

    @property
    def state(self) -> StepState:
        """The whole SLA in one word: ``breached`` if any step is, else ``at_risk``, else
        ``pending``, else ``met`` (``stopped`` when every step was stopped)."""
        states = {s.state for s in self.steps}
        for state in (StepState.BREACHED, StepState.AT_RISK, StepState.PENDING, StepState.MET):
            if state in states:
                return state
        return StepState.STOPPED

    def step(self, name: str) -> StepStatus:
        """The status of the step called *name* (:class:`~leadflow.errors.NotFoundError`, a
        :class:`LookupError`, if there is none)."""
        for status in self.steps:
            if status.step == name:
                return status
        raise NotFoundError("step", name, (s.step for s in self.steps))

    def results(self) -> tuple[StepResult, ...]:
        """One flat :class:`StepResult` per step that is judged (stopped steps are left out)."""
        out: list[StepResult] = []
        for status in self.steps:
            if status.state is StepState.STOPPED:
                continue
            state = StepState.PENDING if status.state is StepState.AT_RISK else status.state
            hours = (
                status.response_business / _HOUR if status.response_business is not None else None
            )
            out.append(
                StepResult(
                    lead_id=self.lead_id,
                    policy=self.policy,
                    step=status.step,
                    state=state,
                    detail=status.state,
                    due_at=status.due,
                    response_hours=hours,
                    owner=status.owner_id,
                    team=self.team,
                    source=self.source,
                )
            )
        return tuple(out)

    def explain(self) -> str:
        """A one-line, human-readable account, like :meth:`ScoreResult.explain
        <leadflow.rules.scoring.ScoreResult.explain>`: the policy, each step's state with its
        due time (in the calendar's zone, named), whose step it is (the owner in brackets), why
        a stopped step stopped, and the final action.

        For example ``inbound (us-east): first_touch met in 2 business h (u-ana); follow_up
        breached (u-bob), 1/3 done, due 2026-03-12 17:00 EDT, 105 business h overdue, escalates
        to queue sdr; final recycle (no_response) due since 2026-03-12 17:00 EDT``, or
        ``... follow_up stopped at 2026-03-03 10:00 EST: connected (u-ana); ...``.
        """
        parts = [_explain_step(status) for status in self.steps]
        text = f"{self.policy} ({self.calendar}): " + "; ".join(parts)
        final = self.final
        if final is not None:
            text += f"; final {final.action.value} ({final.reason}) "
            if final.state is ActionState.DUE:
                text += f"due since {_when(final.due)}"
            elif final.state is ActionState.SKIPPED:
                text += f"skipped ({final.skipped_because or 'not needed'})"
            else:
                text += f"pending, due {_when(final.due)}"
        return text

    @property
    def clock(self) -> SLAClock:
        """The lead's SLA clock as decided here (the job writes it back): next due time and
        overall state."""
        due = self.next_action.due if self.next_action is not None else None
        return SLAClock(lead_id=self.lead_id, due_at=due, state=self.state)


def _when(at: datetime) -> str:
    """*at* to the minute, with its zone's abbreviation (``2026-03-11 17:00 EDT``)."""
    return at.strftime("%Y-%m-%d %H:%M %Z").rstrip()


def _business_hours(delta: timedelta) -> str:
    text = f"{delta / _HOUR:.1f}"
    return f"{text[:-2] if text.endswith('.0') else text} business h"


def _explain_step(status: StepStatus) -> str:
    """One step of :meth:`Evaluation.explain`: its state and whose step it is (in brackets:
    the owner credited or charged, see :class:`StepStatus`), then what the state means."""
    whose = f" ({status.owner_id})" if status.owner_id is not None else ""
    head = f"{status.step} {status.state.value}"
    if status.state is StepState.MET and status.response_business is not None:
        return f"{head} in {_business_hours(status.response_business)}{whose}"
    if status.state is StepState.STOPPED:
        stopped = f" at {_when(status.stopped_at)}" if status.stopped_at is not None else ""
        why = f": {status.stopped_because}" if status.stopped_because is not None else ""
        return f"{head}{stopped}{why}{whose}"
    text = f"{head}{whose}, {status.done}/{status.required} done, due {_when(status.due)}"
    if status.state is StepState.BREACHED:
        if status.overdue is not None:
            text += f", {_business_hours(status.overdue)} overdue"
        if status.completed_at is None and status.escalate is not None:
            to = status.escalate
            text += f", escalates to {to.to.value}" + (f" {to.queue}" if to.queue else "")
    elif status.remaining is not None:
        text += f", {_business_hours(status.remaining)} left"
    return text


def _instant_arg(as_of: datetime | None, now: datetime | None) -> datetime:
    """The evaluation instant: ``as_of``, or its deprecated alias ``now`` (one of the two)."""
    if as_of is not None and now is not None:
        raise ValidationError("now", now, "is the deprecated alias of as_of; give only as_of")
    instant = as_of if as_of is not None else now
    if instant is None:
        raise ValidationError("as_of", None, "is required: the instant to judge at")
    check_aware("as_of" if as_of is not None else "now", instant)
    return instant


def select_policy(
    lead: Lead,
    policies: Iterable[SLAPolicy],
    *,
    as_of: datetime | None = None,
    activities: Iterable[Activity] = (),
    now: datetime | None = None,
) -> tuple[SLAPolicy, datetime] | None:
    """The policy that governs *lead* at *as_of* and when its clock started, or ``None``.

    Highest priority first; among equals the most recently started; then by name. ``now`` is
    the deprecated alias of ``as_of``.
    """
    at = _instant_arg(as_of, now)
    activities = tuple(activities)
    best: tuple[int, float, str] | None = None
    chosen: tuple[SLAPolicy, datetime] | None = None
    for policy in policies:
        start = policy.trigger.started_at(lead, activities, as_of=at)
        if start is None:
            continue
        key = (-policy.priority, -start.timestamp(), policy.name)
        if best is None or key < best:
            best, chosen = key, (policy, start)
    return chosen


def _team_of(lead: Lead, choice: CalendarChoice) -> str | None:
    if isinstance(choice, CalendarResolver):
        return choice.team_of(lead)
    team = lead.properties.get("team")
    return team if isinstance(team, str) else None


def evaluate(
    lead: Lead,
    touches: Iterable[Touch],
    *,
    as_of: datetime | None = None,
    policies: Iterable[SLAPolicy],
    calendar: CalendarChoice,
    activities: Iterable[Activity] = (),
    now: datetime | None = None,
) -> Evaluation | None:
    """Judge *lead* at instant *as_of* against the policy that governs it; ``None`` if none
    has started.

    *touches* and *activities* may hold other leads' records (they are filtered by lead id)
    and records after *as_of* (ignored: evaluation sees only the past). *calendar* is one
    :class:`~leadflow.business_time.BusinessCalendar` or a chooser per lead such as a
    :class:`~leadflow.business_time.CalendarResolver`. ``now`` is the deprecated alias of ``as_of``
    (the name :func:`leadflow.rules.scoring.score_lead` uses), accepted for one release.

    The chase ends at the earlier of the lead entering a stop stage and (with the policy's
    ``stop_on_connect``) the first live conversation; steps not met by then are ``stopped``.
    Credit follows the owner history: with ``by = owner`` a touch counts when its author held
    the lead at the time, and each step is credited or charged to the owner of its moment
    (:attr:`StepStatus.owner_id`), so reassigning never turns a met step breached.
    """
    at = _instant_arg(as_of, now)
    activities = tuple(activities)
    chosen = select_policy(lead, policies, as_of=at, activities=activities)
    if chosen is None:
        return None
    policy, start = chosen
    cal = calendar_for(calendar, lead)
    left_at = next(
        (
            c.at
            for c in lead.history
            if c.to_stage in policy.stop_stages and _utc(start) < _utc(c.at) <= _utc(at)
        ),
        None,
    )
    horizon = left_at if left_at is not None else at
    seen = sorted(
        (t for t in touches if t.lead_id == lead.id and _utc(start) <= _utc(t.at) <= _utc(horizon)),
        key=lambda t: (t.at.astimezone(UTC), t.id),
    )
    connected_at = next((t.at for t in seen if t.outcome.is_connect), None)
    stop: tuple[datetime, str] | None = (left_at, "stage") if left_at is not None else None
    if (
        policy.stop_on_connect
        and connected_at is not None
        and (stop is None or _utc(connected_at) < _utc(stop[0]))
    ):
        stop = (connected_at, "connected")
    statuses = tuple(
        _step_status(step, lead, seen, start=start, as_of=at, stop=stop, cal=cal)
        for step in policy.steps
    )
    final = _final_decision(policy, seen, statuses, as_of=at, left_at=left_at)
    open_steps = [
        (status, step)
        for status, step in zip(statuses, policy.steps, strict=True)
        if status.state in (StepState.PENDING, StepState.AT_RISK)
    ]
    next_action: NextAction | None = None
    if open_steps:
        status, step = min(open_steps, key=lambda pair: _utc(pair[0].due))
        next_action = NextAction(
            step=step.name, action=None, due=status.due, escalation=step.escalate
        )
    elif final is not None and final.state is ActionState.PENDING:
        next_action = NextAction(step=None, action=final.action, due=final.due)
    owner_now = lead.owner_at(at)
    # An escalation is open only while someone can act on it: not once the lead left the
    # cadence (a stop stage) nor once a live conversation ended the chase.
    escalations = (
        ()
        if stop is not None
        else tuple(
            EscalationDecision(
                lead_id=lead.id,
                step=status.step,
                to=status.escalate.to,
                queue=status.escalate.queue,
                owner_id=owner_now,
                since=status.due,
            )
            for status in statuses
            if status.state is StepState.BREACHED
            and status.completed_at is None
            and status.escalate is not None
        )
    )
    return Evaluation(
        lead_id=lead.id,
        policy=policy.name,
        started_at=start,
        as_of=at,
        calendar=cal.name or cal.zone,
        steps=statuses,
        next_action=next_action,
        escalations=escalations,
        final=final,
        owner_id=owner_now,
        team=_team_of(lead, calendar),
        source=lead.source,
    )


def _step_status(
    step: Step,
    lead: Lead,
    touches: Sequence[Touch],
    *,
    start: datetime,
    as_of: datetime,
    stop: tuple[datetime, str] | None,
    cal: BusinessCalendar,
) -> StepStatus:
    due = step.due(start, cal)
    matching = [t for t in touches if step.matches(t, lead)]
    status = StepStatus(
        step=step.name,
        state=StepState.PENDING,
        due=due,
        required=step.count,
        done=min(len(matching), step.count),
        escalate=step.escalate,
    )
    done_at = matching[step.count - 1].at if len(matching) >= step.count else None
    if done_at is not None:
        status = attrs.evolve(
            status,
            completed_at=done_at,
            response_business=cal.between(start, done_at),
            response_wall=done_at.astimezone(UTC) - start.astimezone(UTC),
        )
        if _utc(done_at) <= _utc(due):
            # Credit goes to whoever held the lead when the completing touch was made.
            return attrs.evolve(status, state=StepState.MET, owner_id=lead.owner_at(done_at))
    if stop is not None and _utc(stop[0]) <= _utc(due):
        # The chase ended (the lead left the cadence, or a conversation made more attempts
        # pointless) before the step fell due: never breached, never escalated.
        return attrs.evolve(
            status,
            state=StepState.STOPPED,
            stopped_at=stop[0].astimezone(
                cal.tzinfo
            ),  # every instant returned: the calendar's zone
            stopped_because=stop[1],
            owner_id=lead.owner_at(stop[0]),
        )
    if done_at is not None:
        return attrs.evolve(
            status,
            state=StepState.BREACHED,
            breached_at=due,
            overdue=cal.between(due, done_at),
            owner_id=lead.owner_at(due),
        )
    if _utc(as_of) > _utc(due):
        # Charged to whoever held the lead when the window closed, not to a later owner.
        return attrs.evolve(
            status,
            state=StepState.BREACHED,
            breached_at=due,
            overdue=cal.between(due, as_of),
            owner_id=lead.owner_at(due),
        )
    remaining = cal.between(as_of, due)
    state = StepState.AT_RISK if step.warn and remaining <= step.warn else StepState.PENDING
    return attrs.evolve(status, state=state, remaining=remaining, owner_id=lead.owner_at(as_of))


def _final_decision(
    policy: SLAPolicy,
    touches: Sequence[Touch],
    statuses: Sequence[StepStatus],
    *,
    as_of: datetime,
    left_at: datetime | None,
) -> FinalDecision | None:
    final = policy.final
    if final is None:
        return None
    due = max((s.due for s in statuses), key=_utc)
    decision = FinalDecision(
        action=final.action, reason=final.reason, due=due, state=ActionState.PENDING
    )
    if left_at is not None:
        # The lead left the cadence (sales moved it on, recycled or disqualified it — or the
        # final action itself was carried out): recycling it now would undo that, even when the
        # cadence had already run out before it left.
        return attrs.evolve(decision, state=ActionState.SKIPPED, skipped_because="stopped")
    if final.unless_connected and any(t.outcome.is_connect for t in touches):
        return attrs.evolve(decision, state=ActionState.SKIPPED, skipped_because="connected")
    if _utc(as_of) <= _utc(due):
        return attrs.evolve(decision, state=ActionState.PENDING)
    if final.untouched_reason is not None and not any(_utc(t.at) <= _utc(due) for t in touches):
        # Nobody followed the lead up before the cadence ran out: sales' miss, not a verdict on
        # the lead — back to nurture under its own reason, which the rejection report counts
        # as an SLA failure.
        decision = attrs.evolve(
            decision, action=Disposition.RECYCLE, reason=final.untouched_reason, untouched=True
        )
    return attrs.evolve(decision, state=ActionState.DUE)


def evaluate_many(
    items: Iterable[Any],
    touches: Iterable[Touch] | None = None,
    *,
    as_of: datetime | None = None,
    policies: Iterable[SLAPolicy],
    calendar: CalendarChoice,
    activities: Iterable[Activity] = (),
    now: datetime | None = None,
) -> list[Evaluation]:
    """:func:`evaluate` for many leads at once, in the input's order.

    *items* has the shape :func:`leadflow.rules.scoring.score_many` takes: one tuple per lead,
    ``(lead, touches)`` — or ``(lead, touches, activities)`` when a policy has an activity
    trigger; *activities* may instead hold every lead's activities (grouped by lead id once).
    Leads no policy has started for are left out (so ``len(result) <= len(items)``).

    The earlier shape ``evaluate_many(leads, touches, now=...)`` — leads, then every lead's
    touches — is still accepted for one release, like ``now`` as the deprecated alias of
    ``as_of``.

    >>> from datetime import datetime, timezone
    >>> from leadflow.business_time import BusinessCalendar
    >>> at = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
    >>> lead = Lead(id="L-1", created_at=at, owner_id="u-1", handed_off_at=at)
    >>> policies = load_policies("examples/sla.toml")
    >>> [e.state.value for e in evaluate_many([(lead, [])], as_of=at, policies=policies,
    ...                                       calendar=BusinessCalendar.weekdays("UTC"))]
    ['pending']
    """
    at = _instant_arg(as_of, now)
    policies = tuple(policies)
    acts = by_lead(activities)
    results: list[Evaluation] = []
    for lead, mine, own_acts in _per_lead(items, touches):
        result = evaluate(
            lead,
            mine,
            as_of=at,
            policies=policies,
            calendar=calendar,
            activities=(*own_acts, *acts.get(lead.id, ())),
        )
        if result is not None:
            results.append(result)
    return results


def _per_lead(
    items: Iterable[Any], touches: Iterable[Touch] | None
) -> Iterable[tuple[Lead, Sequence[Touch], Sequence[Activity]]]:
    if touches is not None:  # the earlier shape: leads, then all their touches
        theirs = by_lead(touches)
        for lead in items:
            if not isinstance(lead, Lead):
                raise ValidationError("leads", lead, "is not a Lead")
            yield lead, theirs.get(lead.id, ()), ()
        return
    for index, item in enumerate(items):
        if isinstance(item, tuple) and len(item) in (2, 3) and isinstance(item[0], Lead):
            yield item[0], tuple(item[1]), tuple(item[2]) if len(item) == 3 else ()
        else:
            raise ValidationError(
                f"items[{index}]", item, "is not a (lead, touches[, activities]) tuple"
            )


# -- adherence -------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class AdherenceFigures:
    """The one definition of SLA adherence for a group of judged steps.

    Stopped steps are never judged. Of the rest, two denominators are used, under distinct names:

    * **judged** = ``met + breached + pending`` (at risk counts as pending): every step the SLA
      has an opinion on. ``share_met``, ``share_breached`` and ``share_pending`` are shares of
      it and add up to 1 — "how much of the work is in which state right now".
    * **decided** = ``met + breached``: the steps whose outcome is known. ``adherence`` =
      ``met / decided`` — "of the steps that could be judged final, how many were met". Pending
      steps are left out because they may still be met.

    ``median_response_hours`` and ``p90_response_hours`` are business hours from the trigger to
    the closing touch over completed steps (met, or breached and done late), by
    :func:`leadflow._stats.quantile`. Every figure is ``None`` when its denominator is 0.
    :func:`adherence` (over evaluations), ``leadflow sla``, the ``leadflow demo`` summary and
    the reports of :mod:`leadflow.analytics` all quote these figures.

    >>> f = AdherenceFigures.of(met=6, breached=2, pending=2, response_hours=[1.0, 3.0, 8.0])
    >>> f.share_met, f.share_pending, f.adherence, f.median_response_hours
    (0.6, 0.2, 0.75, 3.0)
    >>> AdherenceFigures.of(met=0, breached=0, pending=3, response_hours=[]).adherence is None
    True
    """

    share_met: float | None
    share_breached: float | None
    share_pending: float | None
    adherence: float | None
    median_response_hours: float | None
    p90_response_hours: float | None

    @classmethod
    def of(
        cls, *, met: int, breached: int, pending: int, response_hours: Iterable[float]
    ) -> AdherenceFigures:
        """The figures for *met* / *breached* / *pending* step counts and the response hours of
        the completed steps."""
        judged = met + breached + pending
        decided = met + breached
        hours = sorted(response_hours)
        return cls(
            share_met=met / judged if judged else None,
            share_breached=breached / judged if judged else None,
            share_pending=pending / judged if judged else None,
            adherence=met / decided if decided else None,
            median_response_hours=quantile(hours, 0.5),
            p90_response_hours=quantile(hours, 0.9),
        )


def adherence(
    evaluations: Iterable[Evaluation],
    by: Sequence[str] = ("step",),
    *,
    teams: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """SLA adherence grouped by *by* (any of :data:`ADHERENCE_DIMENSIONS`), as plain rows.

    Each row holds the group's values, then ``steps`` (how many step statuses), ``met``,
    ``breached``, ``pending`` (pending and at risk), ``at_risk``, ``stopped``, and the
    :class:`AdherenceFigures`: ``share_met``/``share_breached``/``share_pending`` (of the
    *judged* steps, met + breached + pending), ``adherence`` (met of the *decided* steps,
    met + breached) and ``median_response_hours``/``p90_response_hours``.
    *teams* maps owner ids to teams, overriding the team recorded on the evaluation. ``owner``
    is each step's own owner (:attr:`StepStatus.owner_id`): a step met by one rep stays theirs
    when the lead is reassigned, and a breach counts against who held the lead when it fell due.

    >>> adherence([], by=("owner",))
    []
    """
    by = tuple(by)
    for dim in by:
        if dim not in ADHERENCE_DIMENSIONS:
            raise ValidationError(
                "by", dim, f"is not one of {', '.join(map(repr, ADHERENCE_DIMENSIONS))}"
            )
    groups: dict[tuple[str | None, ...], list[StepStatus]] = {}
    for ev in evaluations:
        for status in ev.steps:
            # Credit and blame follow the owner of the step's moment, not the lead's owner now.
            owner = status.owner_id if status.owner_id is not None else ev.owner_id
            team = ev.team
            if teams is not None and owner is not None and owner in teams:
                team = teams[owner]
            values: dict[str, str | None] = {
                "owner": owner,
                "team": team,
                "source": ev.source,
                "policy": ev.policy,
                "calendar": ev.calendar,
                "step": status.step,
            }
            groups.setdefault(tuple(values[d] for d in by), []).append(status)
    rows: list[dict[str, Any]] = []
    for key in sorted(groups, key=lambda k: tuple((x is None, x or "") for x in k)):
        statuses = groups[key]
        counts = dict.fromkeys(StepState, 0)
        for status in statuses:
            counts[status.state] += 1
        pending = counts[StepState.PENDING] + counts[StepState.AT_RISK]
        figures = AdherenceFigures.of(
            met=counts[StepState.MET],
            breached=counts[StepState.BREACHED],
            pending=pending,
            response_hours=(
                s.response_business / _HOUR for s in statuses if s.response_business is not None
            ),
        )
        row: dict[str, Any] = dict(zip(by, key, strict=True))
        row.update(
            steps=len(statuses),
            met=counts[StepState.MET],
            breached=counts[StepState.BREACHED],
            pending=pending,
            at_risk=counts[StepState.AT_RISK],
            stopped=counts[StepState.STOPPED],
            **attrs.asdict(figures),
        )
        rows.append(row)
    return rows


@attrs.frozen(kw_only=True)
class SLAClock:
    """A lead's SLA clock, as an :class:`Evaluation` decides it: when the next action is due
    (``None`` when nothing is; an aware datetime in the zone of the calendar the lead was judged
    in) and the SLA's overall state. A decision, not a write: the job turns it into the
    adapter's write, as it does every other decision."""

    lead_id: str
    due_at: datetime | None
    state: StepState
