"""SLA policies compiled once into an :class:`SLAPlan` and evaluated over Arrow tables.

Scope: the columnar counterpart of :func:`leadflow.rules.sla.evaluate_many`. An
:class:`SLAPlan` is plain frozen data (the policies, the calendar or the calendar resolver, the
touch masks each step needs): it pickles, does no I/O, and gives results identical to the
per-record rules. :meth:`SLAPlan.evaluate` takes a leads table (``id``, ``created_at``,
``owner_id``, ``handed_off_at``, ``stage``, ``source``, ``country``, ``team``, ``region``) and a
touches table (``id``, ``lead_id``, ``kind``, ``at``, ``by``, ``outcome``) and returns one row per
lead x step of the governing policy (:data:`SLA_OUTPUT_SCHEMA`).

What is columnar and what is not, honestly:

* columnar (Arrow compute, whole batches): row checks (:func:`~leadflow.etl.files.conform`;
  unknown touch kinds and outcomes, missing fields and timestamps without an offset go to the
  errors sink and good rows carry on); grouping touches by lead (one stable sort by lead, time,
  id); matching touches to steps (one boolean mask per step for kinds, outcomes and
  ``by = owner``, the owner joined onto the touches by lead id); the "live conversation" mask
  of the final action; the trigger cut-off ``handed_off_at <= now``;
* each step's due instant, as array arithmetic per calendar
  (:func:`~leadflow.etl.business_time.add_business_time`: the calendar's open intervals over
  the span laid out once with running totals, then a ``numpy.searchsorted`` per lead -- exact,
  equal to :meth:`~leadflow.business_time.BusinessCalendar.add`);
* computed once per distinct value, not per lead: the calendar per distinct (owner, team,
  region, country) when a :class:`~leadflow.business_time.CalendarResolver` chooses;
* the business time between two instants (response time, time left, time overdue) for all
  rows at once, per calendar (:func:`~leadflow.etl.business_time.business_between`, equal to
  :meth:`~leadflow.business_time.BusinessCalendar.between`);
* per lead, in Python: choosing the policy, counting the matching touches in the window and
  the state.

Supported triggers: ``handoff`` (the leads' ``handed_off_at``). ``stage_entered`` and
``activity`` triggers need a stage history and an activities table, which the columnar inputs
do not carry; :func:`compile_sla` refuses them with a :class:`~leadflow.errors.ConfigError`.
Without a history no lead is ever in a stop stage after its trigger, so no step is ``stopped``
here (per record, a lead without history is never stopped either).

>>> import pyarrow as pa
>>> from datetime import datetime, timezone
>>> from leadflow.business_time import BusinessCalendar
>>> from leadflow.rules.sla import load_policies
>>> plan = compile_sla(load_policies("examples/sla.toml"), BusinessCalendar.weekdays("UTC"))
>>> t = lambda d, h: datetime(2026, 3, d, h, tzinfo=timezone.utc)
>>> leads = pa.table({"id": ["L-1"], "created_at": [t(2, 9)], "owner_id": ["u-ana"],
...                   "handed_off_at": [t(2, 10)]})
>>> touches = pa.table({"id": ["T-1"], "lead_id": ["L-1"], "kind": ["call"], "at": [t(2, 11)],
...                     "by": ["u-ana"], "outcome": ["no_answer"]})
>>> out = plan.evaluate(leads, touches, now=t(4, 12))
>>> out.select(["step", "state", "response_hours", "remaining_hours"]).to_pylist()[0]
{'step': 'first_touch', 'state': 'met', 'response_hours': 1.0, 'remaining_hours': None}
>>> out.column("next_step").to_pylist()
['follow_up_attempts', 'follow_up_attempts']
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from leadflow._validate import check_aware
from leadflow._validate import utc as _utc
from leadflow.business_time import BusinessCalendar, CalendarResolver
from leadflow.errors import ConfigError
from leadflow.etl.business_time import add_business_days, add_business_time, business_between
from leadflow.etl.files import ErrorSink, RowError, conform
from leadflow.model import Lead, TouchKind, TouchOutcome
from leadflow.reasons import Disposition
from leadflow.rules.sla import (
    ActionState,
    Performer,
    SLAPolicy,
    Step,
    StepState,
    TriggerKind,
)

__all__ = [
    "SLA_LEAD_COLUMNS",
    "SLA_OUTPUT_SCHEMA",
    "SLA_TOUCH_COLUMNS",
    "SLAPlan",
    "compile_sla",
    "conform_sla_leads",
    "conform_touches",
]

_TS = pa.timestamp("us", tz="UTC")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_HOUR = timedelta(hours=1)
_US = timedelta(microseconds=1)

#: The leads columns the plan reads (absent optional ones are nulls).
SLA_LEAD_COLUMNS: dict[str, pa.DataType] = {
    "id": pa.string(),
    "created_at": _TS,
    "owner_id": pa.string(),
    "handed_off_at": _TS,
    "stage": pa.string(),
    "source": pa.string(),
    "country": pa.string(),
    "team": pa.string(),
    "region": pa.string(),
}
#: The touches columns the plan reads; ``outcome`` may be absent (``attempted``).
SLA_TOUCH_COLUMNS: dict[str, pa.DataType] = {
    "id": pa.string(),
    "lead_id": pa.string(),
    "kind": pa.string(),
    "at": _TS,
    "by": pa.string(),
    "outcome": pa.string(),
}
_TOUCH_REQUIRED = frozenset({"id", "lead_id", "kind", "at", "by"})

#: One row per lead x step. Durations are business hours (floats), instants UTC.
SLA_OUTPUT_SCHEMA = pa.schema(
    [
        ("lead_id", pa.string()),
        ("policy", pa.string()),
        ("step", pa.string()),
        ("state", pa.string()),
        ("started_at", _TS),
        ("due_at", _TS),
        ("required", pa.int64()),
        ("done", pa.int64()),
        ("met_at", _TS),
        ("response_hours", pa.float64()),
        ("remaining_hours", pa.float64()),
        ("breached_at", _TS),
        ("overdue_hours", pa.float64()),
        ("escalate", pa.string()),
        ("escalation_due", pa.bool_()),
        ("next_step", pa.string()),
        ("next_action", pa.string()),
        ("next_due", _TS),
        ("next_escalate", pa.string()),
        ("final_action", pa.string()),
        ("final_reason", pa.string()),
        ("final_state", pa.string()),
        ("calendar", pa.string()),
        ("owner_id", pa.string()),
        ("team", pa.string()),
        ("source", pa.string()),
    ]
)

_ROW = "__row"


@functools.cache
def _values(kind: str) -> pa.Array:
    """The touch kinds, outcomes or connecting outcomes, as an Arrow array: made on first use,
    not at import (Arrow's first array from Python objects imports pandas when it is
    installed: ~46 MB that a scoring run never needs)."""
    if kind == "kinds":
        return pa.array([k.value for k in TouchKind])
    if kind == "outcomes":
        return pa.array([o.value for o in TouchOutcome])
    return pa.array([o.value for o in TouchOutcome if o.is_connect])


@attrs.frozen(kw_only=True)
class SLAPlan:
    """SLA policies compiled for columnar evaluation; build it with :func:`compile_sla`.

    ``calendar`` is one :class:`~leadflow.business_time.BusinessCalendar` or a
    :class:`~leadflow.business_time.CalendarResolver` (both frozen data that pickle, so the plan can
    be shipped to Spark executors).
    """

    policies: tuple[SLAPolicy, ...]
    calendar: BusinessCalendar | CalendarResolver

    def __attrs_post_init__(self) -> None:
        if not self.policies:
            raise ConfigError("policies", "give at least one SLA policy")
        for index, policy in enumerate(self.policies):
            if policy.trigger.kind is not TriggerKind.HANDOFF:
                raise ConfigError(
                    f"policies[{index}].trigger",
                    f"{policy.trigger.kind.value!r} triggers are not supported by the columnar "
                    "SLA plan (it reads handed_off_at only); use leadflow.rules.sla.evaluate_many",
                )
        if not isinstance(self.calendar, BusinessCalendar | CalendarResolver):
            raise ConfigError(
                "calendar", f"{self.calendar!r} is not a BusinessCalendar or CalendarResolver"
            )

    @property
    def output_schema(self) -> pa.Schema:
        """The schema of :meth:`evaluate`'s result (:data:`SLA_OUTPUT_SCHEMA`)."""
        return SLA_OUTPUT_SCHEMA

    def evaluate(
        self,
        leads: pa.Table | pa.RecordBatch,
        touches: pa.Table | pa.RecordBatch,
        *,
        now: datetime,
        errors: ErrorSink | None = None,
        sources: tuple[str, str] = ("leads", "touches"),
    ) -> pa.Table:
        """Judge every lead at *now*: one row per lead x step of the policy that governs it.

        Rows are checked first: with an *errors* sink bad rows go there and the rest are
        evaluated; without one the first bad row raises
        :class:`~leadflow.errors.ValidationError`. Touches of leads not in *leads* are
        ignored, and leads no policy has started for give no rows, as in
        :func:`~leadflow.rules.sla.evaluate_many`. Output rows follow the leads' order, then
        the policy's steps.
        """
        check_aware("now", now)
        sink = errors if errors is not None else ErrorSink(None)
        lead_table = conform_sla_leads(_table(leads), sink, source=sources[0])
        touch_table = conform_touches(_table(touches), sink, source=sources[1])
        if errors is None and sink.errors:
            raise sink.errors[0].to_exception()
        return self.evaluate_typed(lead_table, touch_table, now=now)

    def evaluate_typed(self, leads: pa.Table, touches: pa.Table, *, now: datetime) -> pa.Table:
        """:meth:`evaluate` on tables already checked by :func:`conform_sla_leads` and
        :func:`conform_touches` (as the file pipeline and Spark do, batch by batch)."""
        check_aware("now", now)
        now_utc = _utc(now)
        index = _TouchIndex.build(self, leads, touches)
        # the trigger cut-off, columnar: handed_off_at <= now
        handoff = leads.column("handed_off_at")
        started = pc.fill_null(pc.less_equal(handoff, pa.scalar(now_utc, _TS)), False)
        started_np = started.to_numpy(zero_copy_only=False)
        handoff_list = handoff.to_pylist()
        calendars = self._calendars(leads)
        lead_fields = {
            "lead_id": leads.column("id").to_pylist(),
            "owner_id": leads.column("owner_id").to_pylist(),
            "source": leads.column("source").to_pylist(),
            "team": self._teams(leads),
        }
        # every policy starts at the hand-off, so the governing one is the same for all leads:
        # highest priority, then the first name (select_policy's order for equal starts)
        p = min(
            range(len(self.policies)),
            key=lambda i: (-self.policies[i].priority, self.policies[i].name),
        )
        policy = self.policies[p]
        now_us = _to_us(now_utc)
        started_rows = np.flatnonzero(started_np)
        dues = _due_arrays(policy, handoff, started_rows, calendars)
        escalations = [None if x.escalate is None else x.escalate.to_data() for x in policy.steps]
        rows: dict[str, list[Any]] = {name: [] for name in SLA_OUTPUT_SCHEMA.names}
        pending: list[tuple[int, int, str, int, int, int]] = []
        by_key: dict[int, BusinessCalendar] = {}
        warns = [0 if step.warn is None else step.warn // _US for step in policy.steps]
        for i in started_rows.tolist():
            start = handoff_list[i]
            cal, cal_key = calendars[i]
            by_key[cal_key] = cal
            start_us = _to_us(start)
            window = [j for j in index.of_lead(i) if start_us <= index.at_us[j] <= now_us]
            # A live conversation ends the chase (the policy's stop_on_connect), as per record.
            connect_us = next((index.at_us[j] for j in window if index.connects[j]), None)
            stop_us = connect_us if policy.stop_on_connect else None
            statuses = []
            for s, step in enumerate(policy.steps):
                due_us = int(dues[s][i])
                cached = (_EPOCH + timedelta(microseconds=due_us), due_us)
                mask = index.masks[(p, s)]
                matching = [j for j in window if mask[j]]
                statuses.append(
                    _status(
                        step,
                        cached,
                        matching,
                        index,
                        start_us=start_us,
                        now_us=now_us,
                        stop_us=stop_us,
                    )
                )
            connected = connect_us is not None
            lead = {name: values[i] for name, values in lead_fields.items()}
            lead.update(started_at=start, calendar=cal.name or cal.zone)
            first = len(rows["step"])
            _emit(
                rows,
                policy,
                statuses,
                lead,
                escalations,
                connected=connected,
                now_us=now_us,
                touched_us=[index.at_us[j] for j in window],
                chase_over=stop_us is not None,
            )
            for s, status in enumerate(statuses):
                for field, a_us, b_us in status["__between"]:
                    pending.append((first + s, cal_key, field, a_us, b_us, warns[s]))
        _fill_business_hours(rows, pending, by_key)
        return pa.table(rows, schema=SLA_OUTPUT_SCHEMA)

    def _calendars(self, leads: pa.Table) -> list[tuple[BusinessCalendar, int]]:
        """Each lead's calendar, resolved once per distinct (owner, team, region, country)."""
        if isinstance(self.calendar, BusinessCalendar):
            return [(self.calendar, 0)] * leads.num_rows
        resolver = self.calendar
        keys = zip(
            leads.column("owner_id").to_pylist(),
            leads.column("team").to_pylist(),
            leads.column("region").to_pylist(),
            leads.column("country").to_pylist(),
            strict=True,
        )
        found: dict[tuple[Any, ...], tuple[BusinessCalendar, int]] = {}
        ids: dict[int, int] = {}
        out = []
        for key in keys:
            hit = found.get(key)
            if hit is None:
                cal = resolver.for_lead(_stand_in(*key))
                hit = found[key] = (cal, ids.setdefault(id(cal), len(ids)))
            out.append(hit)
        return out

    def _teams(self, leads: pa.Table) -> list[str | None]:
        teams: list[str | None] = leads.column("team").to_pylist()
        if isinstance(self.calendar, CalendarResolver):
            owner_teams = self.calendar.owner_teams
            owners = leads.column("owner_id").to_pylist()
            return [
                owner_teams[o] if o is not None and o in owner_teams else t
                for o, t in zip(owners, teams, strict=True)
            ]
        return teams


@attrs.frozen(kw_only=True)
class _TouchIndex:
    """The touches of known leads, grouped by lead row and sorted by (lead row, time, id), with one
    boolean mask per (policy, step) and the live-conversation mask, all built with Arrow."""

    bounds: np.ndarray
    at_list: list[datetime]
    at_us: list[int]
    masks: dict[tuple[int, int], np.ndarray]
    connects: np.ndarray

    def of_lead(self, row: int) -> range:
        return range(int(self.bounds[row]), int(self.bounds[row + 1]))

    @classmethod
    def build(cls, plan: SLAPlan, leads: pa.Table, touches: pa.Table) -> _TouchIndex:
        # a hash join, so that a lead id given twice gets its touches twice, as per record
        rows = pa.table(
            {"lead_id": leads.column("id"), "__lead": pa.array(np.arange(leads.num_rows))}
        )
        touches = touches.join(rows, keys="lead_id", join_type="inner")
        keys = [("__lead", "ascending"), ("at", "ascending"), ("id", "ascending")]
        touches = touches.take(pc.sort_indices(touches, sort_keys=keys))
        lead_of = touches.column("__lead").to_numpy().astype(np.int64)
        owner = leads.column("owner_id").take(touches.column("__lead"))
        by_owner = pc.fill_null(pc.equal(touches.column("by"), owner), False)
        outcome = pc.fill_null(touches.column("outcome"), TouchOutcome.ATTEMPTED.value)
        return cls(
            bounds=np.searchsorted(lead_of, np.arange(leads.num_rows + 1)),
            at_list=touches.column("at").to_pylist(),
            at_us=_micros(touches.column("at")),
            masks={
                (p, s): _step_mask(step, touches.column("kind"), outcome, by_owner)
                for p, policy in enumerate(plan.policies)
                for s, step in enumerate(policy.steps)
            },
            connects=pc.is_in(outcome, value_set=_values("connects")).to_numpy(
                zero_copy_only=False
            ),
        )


def _due_arrays(
    policy: SLAPolicy,
    handoff: pa.ChunkedArray,
    rows: np.ndarray,
    calendars: Sequence[tuple[BusinessCalendar, int]],
) -> list[np.ndarray]:
    """Each step's due instant (epoch microseconds) for the leads *rows*, one array
    computation per calendar and step (:mod:`leadflow.etl.business_time`, exact)."""
    starts = pc.cast(handoff, pa.int64()).to_numpy(zero_copy_only=False)
    out = [np.zeros(len(starts), dtype=np.int64) for _ in policy.steps]
    if len(rows) == 0:
        return out
    keys = np.array([calendars[i][1] for i in rows.tolist()], dtype=np.int64)
    for key in np.unique(keys).tolist():
        members = rows[keys == key]
        cal = calendars[int(members[0])][0]
        begin = starts[members].astype(np.int64)
        for s, step in enumerate(policy.steps):
            if step.within is not None:
                due = add_business_time(cal, begin, step.within)
            else:
                assert step.within_days is not None  # checked by Step
                due = add_business_days(cal, begin, step.within_days)
            out[s][members] = due.view(np.int64)
    return out


def _emit(
    rows: dict[str, list[Any]],
    policy: SLAPolicy,
    statuses: Sequence[dict[str, Any]],
    lead: dict[str, Any],
    escalations: Sequence[str | None],
    *,
    connected: bool,
    now_us: int,
    touched_us: Sequence[int] = (),
    chase_over: bool = False,
) -> None:
    """Append one lead's rows: its steps, the next action and the final decision."""
    final = policy.final
    final_state = None
    last = max(statuses, key=lambda st: st["__due_us"])
    last_due = last["due_at"]
    final_action = None if final is None else final.action.value
    final_reason = None if final is None else final.reason
    if final is not None:
        if final.unless_connected and connected:
            final_state = ActionState.SKIPPED
        else:
            if (
                now_us > last["__due_us"]
                and final.untouched_reason is not None
                and not any(at <= last["__due_us"] for at in touched_us)
            ):
                # nobody followed the lead up: back to nurture as sales' miss, as per record
                final_action, final_reason = Disposition.RECYCLE.value, final.untouched_reason
            final_state = ActionState.DUE if now_us > last["__due_us"] else ActionState.PENDING
    triples = list(zip(statuses, policy.steps, escalations, strict=True))
    open_steps = [t for t in triples if t[0]["state"] in (StepState.PENDING, StepState.AT_RISK)]
    nxt: dict[str, Any] = dict.fromkeys(("next_step", "next_action", "next_due", "next_escalate"))
    if open_steps:
        st, step, escalate = min(open_steps, key=lambda t: t[0]["__due_us"])
        nxt.update(next_step=step.name, next_due=st["due_at"], next_escalate=escalate)
    elif final is not None and final_state is ActionState.PENDING:
        nxt.update(next_action=final_action, next_due=last_due)
    fixed = {
        "policy": policy.name,
        "final_action": final_action,
        "final_reason": final_reason,
        "final_state": None if final_state is None else final_state.value,
        **lead,
        **nxt,
    }
    count = len(triples)
    for name, value in fixed.items():
        rows[name].extend([value] * count)
    for st, step, escalate in triples:
        for name in _STATUS_FIELDS:
            rows[name].append(st[name])
        rows["step"].append(step.name)
        rows["state"].append(st["state"].value)
        rows["escalate"].append(escalate)
        rows["escalation_due"].append(
            st["state"] is StepState.BREACHED
            and st["met_at"] is None
            and escalate is not None
            and not chase_over
        )


_STATUS_FIELDS = (
    "due_at",
    "required",
    "done",
    "met_at",
    "response_hours",
    "remaining_hours",
    "breached_at",
    "overdue_hours",
)


def _stand_in(owner: str | None, team: str | None, region: str | None, country: str | None) -> Lead:
    """A lead carrying only what a :class:`CalendarResolver` looks at."""
    props = {k: val for k, val in (("team", team), ("region", region)) if val is not None}
    return Lead(
        id="-",
        created_at=datetime(1970, 1, 1, tzinfo=UTC),
        owner_id=owner,
        country=country,
        properties=props,
    )


def _status(
    step: Step,
    due: tuple[datetime, int],
    matching: Sequence[int],
    index: _TouchIndex,
    *,
    start_us: int,
    now_us: int,
    stop_us: int | None = None,
) -> dict[str, Any]:
    """One step's row, by the same rules as :func:`leadflow.rules.sla.evaluate` (instants are
    compared as UTC microseconds, as the rules compare them in UTC). Business time between two
    instants is not computed here: ``__between`` lists (field, from, to) in microseconds, and
    :func:`_fill_business_hours` computes them all at once, per calendar; a step that may be at
    risk is ``pending`` until then. *stop_us* is when a live conversation ended the chase: a
    step not met by then (and not yet due) is ``stopped``."""
    due_at, due_us = due
    row: dict[str, Any] = {
        "due_at": due_at,
        "__due_us": due_us,
        "required": step.count,
        "done": min(len(matching), step.count),
        "met_at": None,
        "response_hours": None,
        "remaining_hours": None,
        "breached_at": None,
        "overdue_hours": None,
    }
    between: list[tuple[str, int, int]] = []
    done_us: int | None = None
    if len(matching) >= step.count:
        done = matching[step.count - 1]
        done_us = index.at_us[done]
        row["met_at"] = index.at_list[done]
        between.append(("response_hours", start_us, done_us))
        if done_us <= due_us:
            row["state"] = StepState.MET
            row["__between"] = between
            return row
    if stop_us is not None and stop_us <= due_us:
        row["state"] = StepState.STOPPED
        row["__between"] = between
        return row
    if done_us is not None:
        row["state"] = StepState.BREACHED
        row["breached_at"] = due_at
        between.append(("overdue_hours", due_us, done_us))
        row["__between"] = between
        return row
    if now_us > due_us:
        row["state"] = StepState.BREACHED
        row["breached_at"] = due_at
        row["__between"] = [("overdue_hours", due_us, now_us)]
        return row
    row["state"] = StepState.PENDING  # or at risk: decided with the time left
    row["__between"] = [("remaining_hours", now_us, due_us)]
    return row


def _fill_business_hours(
    rows: dict[str, list[Any]],
    pending: list[tuple[int, int, str, int, int, int]],
    calendars: dict[int, BusinessCalendar],
) -> None:
    """Business hours between two instants for every (row, calendar, field, from, to, warn)
    in *pending*, one array computation per calendar
    (:func:`~leadflow.etl.business_time.business_between`, equal to
    :meth:`~leadflow.business_time.BusinessCalendar.between`); a pending step with no more
    time left than its warning is ``at_risk``."""
    if not pending:
        return
    table = np.array([(r, key, a, b, warn) for r, key, _, a, b, warn in pending], dtype=np.int64)
    fields = [item[2] for item in pending]
    micros = np.zeros(len(pending), dtype=np.int64)
    for key in np.unique(table[:, 1]).tolist():
        members = np.flatnonzero(table[:, 1] == key)
        found = business_between(calendars[key], table[members, 2], table[members, 3])
        micros[members] = found.view(np.int64)
    hours = micros / 3_600_000_000  # exact microseconds, one rounding: as timedelta / 1 hour
    for k, (r, field) in enumerate(zip(table[:, 0].tolist(), fields, strict=True)):
        rows[field][r] = float(hours[k])
        warn = int(table[k, 4])
        if field == "remaining_hours" and warn and micros[k] <= warn:
            rows["state"][r] = StepState.AT_RISK.value


def _step_mask(step: Step, kind: pa.Array, outcome: pa.Array, by_owner: pa.Array) -> np.ndarray:
    """Which touches count towards *step* (before the time window), as one boolean mask."""
    mask = pa.array(np.ones(len(kind), dtype=bool))
    if step.kinds:
        mask = pc.and_(mask, pc.is_in(kind, value_set=pa.array(sorted(step.kinds))))
    if step.outcomes:
        mask = pc.and_(mask, pc.is_in(outcome, value_set=pa.array(sorted(step.outcomes))))
    if step.by is Performer.OWNER:
        mask = pc.and_(mask, by_owner)
    return np.asarray(pc.fill_null(mask, False).to_numpy(zero_copy_only=False), dtype=bool)


def _micros(arr: pa.ChunkedArray | pa.Array) -> list[int]:
    return list(pc.cast(arr, pa.int64()).to_pylist())


def _to_us(at: datetime) -> int:
    delta = _utc(at) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _table(data: pa.Table | pa.RecordBatch) -> pa.Table:
    return pa.Table.from_batches([data]) if isinstance(data, pa.RecordBatch) else data


def _conform_table(
    table: pa.Table,
    columns: dict[str, pa.DataType],
    *,
    required: set[str],
    sink: ErrorSink,
    source: str,
    id_column: str,
    row_offset: int,
) -> pa.Table:
    spec = {**columns, _ROW: pa.int64()}
    batches = []
    offset = row_offset
    for raw in table.to_batches():
        numbered = raw.append_column(_ROW, pa.array(np.arange(offset, offset + raw.num_rows)))
        batches.append(
            conform(
                numbered,
                spec,
                required=required,
                source=source,
                row_offset=offset,
                errors=sink,
                id_column=id_column,
            )
        )
        offset += raw.num_rows
    return pa.Table.from_batches(batches, schema=pa.schema(list(spec.items())))


def conform_sla_leads(
    table: pa.Table, sink: ErrorSink, *, source: str = "leads", row_offset: int = 0
) -> pa.Table:
    """The leads columns the plan reads, typed; bad rows (a missing id, a timestamp without
    an offset) go to *sink*, numbered from *row_offset*."""
    return _conform_table(
        table,
        SLA_LEAD_COLUMNS,
        required={"id", "created_at"},
        sink=sink,
        source=source,
        id_column="id",
        row_offset=row_offset,
    ).drop_columns([_ROW])


def conform_touches(
    table: pa.Table, sink: ErrorSink, *, source: str = "touches", row_offset: int = 0
) -> pa.Table:
    """The touches columns, typed; rows with a missing field, a timestamp without an offset,
    or a ``kind``/``outcome`` that is not a :class:`~leadflow.model.TouchKind` /
    :class:`~leadflow.model.TouchOutcome` go to *sink*, numbered from *row_offset*."""
    typed = _conform_table(
        table,
        SLA_TOUCH_COLUMNS,
        required=set(_TOUCH_REQUIRED),
        sink=sink,
        source=source,
        id_column="lead_id",
        row_offset=row_offset,
    )
    bad = np.zeros(typed.num_rows, dtype=bool)
    for name, allowed in (("kind", _values("kinds")), ("outcome", _values("outcomes"))):
        column = typed.column(name)
        wrong = pc.and_(pc.is_valid(column), pc.invert(pc.is_in(column, value_set=allowed)))
        hits = np.flatnonzero(pc.fill_null(wrong, False).to_numpy(zero_copy_only=False))
        if len(hits) == 0:
            continue
        values = column.to_pylist()
        lead_ids = typed.column("lead_id").to_pylist()
        numbers = typed.column(_ROW).to_pylist()
        choices = ", ".join(repr(x) for x in allowed.to_pylist())
        for index in hits.tolist():
            if bad[index]:
                continue
            bad[index] = True
            sink.add(
                RowError(
                    source=source,
                    row=numbers[index],
                    id=lead_ids[index],
                    field=name,
                    value=values[index],
                    reason=f"is not one of {choices}",
                )
            )
    typed = typed.filter(pa.array(~bad)) if bad.any() else typed
    return typed.drop_columns([_ROW])


def compile_sla(
    policies: Iterable[SLAPolicy], calendar: BusinessCalendar | CalendarResolver
) -> SLAPlan:
    """Compile *policies* with *calendar* (one calendar, or a resolver per lead) into a plan.

    Raises :class:`~leadflow.errors.ConfigError` for a trigger the columnar inputs cannot
    see (``stage_entered``, ``activity``: see the module docstring) or for no policies.
    """
    return SLAPlan(policies=tuple(policies), calendar=calendar)
