"""Lifecycle stages, the transitions between them, and a lead's stage history.

Scope: a configurable stage model (:class:`Lifecycle`) whose transitions are declared as data and
checked when the model is defined, plus pure functions that move a :class:`~leadflow.model.Lead`
through it. The default, :data:`WATERFALL`, is the standard demand waterfall:

    inquiry → mql → sal → sql → opportunity → won | lost

with ``recycled`` (back to nurture) and ``disqualified`` as the exits. *Sales-winnable* is a
designation a lead or account earns from a scorecard, not a stage.

Every move returns a new lead whose history gained one :class:`~leadflow.model.StageChange`; the
history is append-only and time-ordered, so the current stage can be replayed from it and the time
spent in each stage derived from it.

>>> from datetime import datetime, timedelta, timezone
>>> from leadflow.model import Lead
>>> t0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
>>> lead = Lead(id="L-1", created_at=t0)
>>> lead = transition(lead, Stage.MQL, at=t0 + timedelta(hours=1), by="scoring")
>>> lead = transition(lead, Stage.SAL, at=t0 + timedelta(hours=5), by="u-ana")
>>> lead.stage, [c.to_stage for c in lead.history]
('sal', ['mql', 'sal'])
>>> transition(lead, Stage.WON, at=t0 + timedelta(hours=6))
Traceback (most recent call last):
...
leadflow.errors.IllegalTransitionError: cannot move from 'sal' to 'won'; allowed from 'sal': sql, recycled, disqualified
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs

from leadflow._validate import check_aware
from leadflow._validate import utc as _utc
from leadflow.errors import (
    ConfigError,
    IllegalTransitionError,
    UnknownStageError,
    ValidationError,
)
from leadflow.model import Lead, OwnerChange, StageChange, check_change_order

__all__ = [
    "WATERFALL",
    "Lifecycle",
    "Stage",
    "StageSpan",
    "as_of",
    "reassign",
    "replay",
    "stage_spans",
    "time_in_stage",
    "transition",
]


class Stage(enum.StrEnum):
    """The stage names of the default :data:`WATERFALL` (plain strings, so they compare to str)."""

    INQUIRY = "inquiry"
    MQL = "mql"
    SAL = "sal"
    SQL = "sql"
    OPPORTUNITY = "opportunity"
    WON = "won"
    LOST = "lost"
    RECYCLED = "recycled"
    DISQUALIFIED = "disqualified"


def _names(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(str(s) for s in value)


def _freeze_transitions(
    value: Mapping[str, Iterable[str]],
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if not isinstance(value, Mapping):
        raise ConfigError("transitions", f"must be a mapping of stage to targets, got {value!r}")
    return tuple((str(k), tuple(str(t) for t in targets)) for k, targets in value.items())


@attrs.frozen(kw_only=True)
class Lifecycle:
    """A stage model: its stages, where each may go next, and the roles some stages play.

    Checked when defined: every stage named in ``transitions`` exists, every stage is reachable
    from ``initial``, and the role stages (``recycled``, ``disqualified``) exist. A stage with no
    targets is terminal.

    >>> Lifecycle(stages=("new", "working", "done"), initial="new",
    ...           transitions={"new": ["working"], "working": ["done", "gone"]},
    ...           recycled=None, disqualified=None)
    Traceback (most recent call last):
    ...
    leadflow.errors.ConfigError: transitions['working']: target 'gone' is not a stage; stages: new, working, done
    """

    stages: tuple[str, ...] = attrs.field(converter=_names)
    initial: str
    transitions: tuple[tuple[str, tuple[str, ...]], ...] = attrs.field(
        converter=_freeze_transitions
    )
    recycled: str | None = "recycled"
    disqualified: str | None = "disqualified"

    def __attrs_post_init__(self) -> None:
        known = set(self.stages)
        listed = ", ".join(self.stages)
        if len(known) != len(self.stages):
            raise ConfigError("stages", f"lists a stage twice: {self.stages!r}")
        if self.initial not in known:
            raise ConfigError("initial", f"{self.initial!r} is not a stage; stages: {listed}")
        for source, targets in self.transitions:
            if source not in known:
                raise ConfigError(f"transitions[{source!r}]", f"is not a stage; stages: {listed}")
            for target in targets:
                if target not in known:
                    raise ConfigError(
                        f"transitions[{source!r}]",
                        f"target {target!r} is not a stage; stages: {listed}",
                    )
        for role in ("recycled", "disqualified"):
            stage = getattr(self, role)
            if stage is not None and stage not in known:
                raise ConfigError(role, f"{stage!r} is not a stage; stages: {listed}")
        reachable = {self.initial}
        frontier = [self.initial]
        table = dict(self.transitions)
        while frontier:
            for target in table.get(frontier.pop(), ()):
                if target not in reachable:
                    reachable.add(target)
                    frontier.append(target)
        unreachable = [s for s in self.stages if s not in reachable]
        if unreachable:
            raise ConfigError(
                "transitions",
                f"stages {unreachable!r} cannot be reached from the initial stage {self.initial!r}",
            )

    def check_stage(self, stage: str) -> str:
        """Return *stage* if this model defines it, else raise :class:`UnknownStageError`."""
        if stage not in self.stages:
            raise UnknownStageError(stage, self.stages)
        return stage

    def targets(self, stage: str) -> tuple[str, ...]:
        """The stages reachable from *stage* in one step (empty for a terminal stage)."""
        self.check_stage(stage)
        return dict(self.transitions).get(stage, ())

    def allows(self, from_stage: str, to_stage: str) -> bool:
        """Whether moving from *from_stage* to *to_stage* is one legal step."""
        return to_stage in self.targets(from_stage)

    def is_terminal(self, stage: str) -> bool:
        """Whether no transition leaves *stage*."""
        return not self.targets(stage)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Lifecycle:
        """Build a model from plain data (a parsed TOML table).

        >>> m = Lifecycle.from_dict({"stages": ["new", "won"], "initial": "new",
        ...                          "transitions": {"new": ["won"]},
        ...                          "recycled": None, "disqualified": None})
        >>> m.targets("new")
        ('won',)
        """
        allowed = {"stages", "initial", "transitions", "recycled", "disqualified"}
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise ConfigError(unknown[0], f"unknown key; expected one of {sorted(allowed)}")
        for key in ("stages", "initial", "transitions"):
            if key not in data:
                raise ConfigError(key, "is required")
        return cls(**{k: data[k] for k in allowed if k in data})

    def to_dict(self) -> dict[str, Any]:
        """Plain data that :meth:`from_dict` reads back to an equal model."""
        return {
            "stages": list(self.stages),
            "initial": self.initial,
            "transitions": {k: list(t) for k, t in self.transitions},
            "recycled": self.recycled,
            "disqualified": self.disqualified,
        }


_TO_NURTURE_OR_OUT = (Stage.RECYCLED.value, Stage.DISQUALIFIED.value)

#: The standard demand waterfall.
WATERFALL = Lifecycle(
    stages=tuple(s.value for s in Stage),
    initial=Stage.INQUIRY.value,
    transitions={
        Stage.INQUIRY: (Stage.MQL, *_TO_NURTURE_OR_OUT),
        Stage.MQL: (Stage.SAL, *_TO_NURTURE_OR_OUT),
        Stage.SAL: (Stage.SQL, *_TO_NURTURE_OR_OUT),
        Stage.SQL: (Stage.OPPORTUNITY, *_TO_NURTURE_OR_OUT),
        Stage.OPPORTUNITY: (Stage.WON, Stage.LOST),
        Stage.LOST: (Stage.RECYCLED,),
        Stage.RECYCLED: (Stage.MQL, Stage.DISQUALIFIED),
        Stage.WON: (),
        Stage.DISQUALIFIED: (),
    },
)


def transition(
    lead: Lead,
    to: str,
    *,
    at: datetime,
    by: str | None = None,
    reason: str | None = None,
    note: str | None = None,
    lifecycle: Lifecycle = WATERFALL,
) -> Lead:
    """Move *lead* to stage *to*, returning a new lead with the change appended to its history.

    Raises :class:`~leadflow.errors.IllegalTransitionError` (naming from, to and the allowed
    targets) when the lifecycle does not allow the step, and
    :class:`~leadflow.errors.HistoryOrderError` when *at* is earlier than the last change. Times
    compare as instants (UTC), never as wall clocks: inside a repeated daylight-saving hour
    01:30 the second time is later than 01:45 the first time. The original lead is never
    modified.
    """
    to = str(to)
    lifecycle.check_stage(lead.stage)
    lifecycle.check_stage(to)
    check_aware("at", at)
    if not lifecycle.allows(lead.stage, to):
        raise IllegalTransitionError(lead.stage, to, lifecycle.targets(lead.stage))
    change = StageChange(from_stage=lead.stage, to_stage=to, at=at, by=by, reason=reason, note=note)
    check_change_order(lead.history[-1].at if lead.history else None, change)
    return attrs.evolve(lead, stage=change.to_stage, history=(*lead.history, change))


def reassign(lead: Lead, owner_id: str | None, *, at: datetime, by: str | None = None) -> Lead:
    """Give *lead* to *owner_id* from instant *at*, appending to its ``owner_history``.

    A lead without an owner history first gets an entry for its current owner at its
    ``created_at``, so touches before *at* stay credited to the owner who held it then.
    :class:`~leadflow.errors.ValidationError` when *at* is earlier than the last owner change.

    >>> from datetime import datetime, timedelta, timezone
    >>> from leadflow.model import Lead
    >>> t0 = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
    >>> lead = reassign(Lead(id="L-1", created_at=t0, owner_id="u-ana"), "u-bob",
    ...                 at=t0 + timedelta(days=1), by="u-boss")
    >>> lead.owner_id, lead.owner_at(t0 + timedelta(hours=1))
    ('u-bob', 'u-ana')
    """
    check_aware("at", at)
    history = lead.owner_history
    if not history:
        start = min(lead.created_at, at, key=_utc)
        history = (OwnerChange(owner_id=lead.owner_id, at=start),)
    if _utc(at) < _utc(history[-1].at):
        raise ValidationError(
            "at", at.isoformat(), f"is earlier than the last owner change at {history[-1].at}"
        )
    change = OwnerChange(owner_id=owner_id, at=at, by=by)
    return attrs.evolve(lead, owner_id=change.owner_id, owner_history=(*history, change))


def as_of(lead: Lead, at: datetime) -> Lead | None:
    """*lead* as it stood at instant *at*: ``None`` if it was created later; else the lead with
    only the stage and owner changes made at or before *at*, the stage and owner those leave it
    in, and no hand-off time if the hand-off came later.

    What a report "as of" a past instant reads, so rows recorded after it do not count. With no
    ``owner_history``, ``owner_id`` is kept as it is (there is nothing to go back through).

    >>> from datetime import datetime, timedelta, timezone
    >>> from leadflow.model import Lead
    >>> t0 = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
    >>> lead = transition(Lead(id="L-1", created_at=t0), Stage.MQL, at=t0 + timedelta(days=1))
    >>> lead = transition(lead, Stage.SAL, at=t0 + timedelta(days=3))
    >>> as_of(lead, t0 + timedelta(days=2)).stage, as_of(lead, t0 - timedelta(days=1))
    ('mql', None)
    """
    check_aware("at", at)
    instant = _utc(at)
    if _utc(lead.created_at) > instant:
        return None
    history = tuple(c for c in lead.history if _utc(c.at) <= instant)
    owners = tuple(c for c in lead.owner_history if _utc(c.at) <= instant)
    handed_off = lead.handed_off_at
    if (
        len(history) == len(lead.history)
        and len(owners) == len(lead.owner_history)
        and (handed_off is None or _utc(handed_off) <= instant)
    ):
        return lead
    if history:
        stage = history[-1].to_stage
    else:
        stage = lead.history[0].from_stage if lead.history else lead.stage
    owner = lead.owner_at(at) if lead.owner_history else lead.owner_id
    if lead.owner_history and not owners:  # before the first entry: held by its owner
        owners = (attrs.evolve(lead.owner_history[0], at=lead.created_at),)
    return attrs.evolve(
        lead,
        stage=stage,
        history=history,
        owner_id=owner,
        owner_history=owners,
        handed_off_at=None if handed_off is not None and _utc(handed_off) > instant else handed_off,
    )


def replay(
    history: Sequence[StageChange], *, lifecycle: Lifecycle = WATERFALL, start: str | None = None
) -> str:
    """The stage a history leads to, checking every step against *lifecycle*.

    *start* is the stage before the first change (the lifecycle's initial stage by default).

    >>> from datetime import datetime, timezone
    >>> at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> replay([StageChange(from_stage="inquiry", to_stage="mql", at=at)])
    'mql'
    """
    stage = lifecycle.check_stage(start if start is not None else lifecycle.initial)
    last: datetime | None = None
    for change in history:
        if change.from_stage != stage:
            raise ValidationError(
                "history", change.from_stage, f"does not follow on from stage {stage!r}"
            )
        if not lifecycle.allows(stage, change.to_stage):
            raise IllegalTransitionError(stage, change.to_stage, lifecycle.targets(stage))
        check_change_order(last, change)
        stage, last = change.to_stage, change.at
    return stage


@attrs.frozen(kw_only=True)
class StageSpan:
    """A stretch of time a lead spent in one stage; ``end`` is ``None`` while it is still there."""

    stage: str
    start: datetime
    end: datetime | None

    def duration(self, *, now: datetime | None = None) -> timedelta | None:
        """Length of the span; an open span needs *now*, else ``None``."""
        end = self.end if self.end is not None else now
        return None if end is None else end - self.start


def stage_spans(lead: Lead) -> list[StageSpan]:
    """The stages *lead* has been in, in order, derived from ``created_at`` and its history."""
    spans: list[StageSpan] = []
    start_stage = lead.history[0].from_stage if lead.history else lead.stage
    start = lead.created_at
    stage = start_stage
    for change in lead.history:
        spans.append(StageSpan(stage=stage, start=start, end=change.at))
        stage, start = change.to_stage, change.at
    spans.append(StageSpan(stage=stage, start=start, end=None))
    return spans


def time_in_stage(lead: Lead, *, now: datetime) -> dict[str, timedelta]:
    """Total time *lead* spent in each stage up to *now* (a stage re-entered adds up).

    >>> from datetime import datetime, timedelta, timezone
    >>> from leadflow.model import Lead
    >>> t0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
    >>> lead = transition(Lead(id="L-1", created_at=t0), "mql", at=t0 + timedelta(days=2))
    >>> time_in_stage(lead, now=t0 + timedelta(days=3))
    {'inquiry': datetime.timedelta(days=2), 'mql': datetime.timedelta(days=1)}
    """
    check_aware("now", now)
    totals: dict[str, timedelta] = {}
    for span in stage_spans(lead):
        duration = span.duration(now=now)
        if duration is not None:
            totals[span.stage] = totals.get(span.stage, timedelta()) + max(duration, timedelta())
    return totals
