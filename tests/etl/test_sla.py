"""The columnar SLA plan gives the per-record rules' results, row for row, and refuses bad rows."""

from __future__ import annotations

import pickle
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadflow.business_time import BusinessCalendar, load_calendars
from leadflow.errors import ConfigError, ValidationError
from leadflow.etl.files import ErrorSink
from leadflow.etl.sla import SLAPlan, compile_sla
from leadflow.model import Lead, Touch, TouchKind, TouchOutcome
from leadflow.rules.sla import SLAPolicy, Trigger, evaluate_many, load_policies
from leadflow.testing import strategies as lst

from .sla_helpers import expected_rows, leads_table, touches_table, utc_rows

NOW = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)
HANDOFF = (Trigger(kind="handoff"),)


def random_data(seed: int, n: int = 300, now: datetime = NOW) -> tuple[list[Lead], list[Touch]]:
    """Leads handed off over the three weeks before *now* (some after it), with touches."""
    rnd = random.Random(seed)
    owners = ["u-ana", "u-bob", "u-lena", "u-mia", None]
    leads: list[Lead] = []
    touches: list[Touch] = []
    for i in range(n):
        created = now - timedelta(days=rnd.uniform(2, 25))
        handoff = None if rnd.random() < 0.1 else created + timedelta(hours=rnd.uniform(0, 72))
        owner = rnd.choice(owners)
        lead = Lead(
            id=f"L-{i}",
            created_at=created,
            owner_id=owner,
            handed_off_at=handoff,
            source=rnd.choice(["web", "event", None]),
            country=rnd.choice(["US", "DE", "AU", "FR", None]),
            properties={"team": "anz"} if rnd.random() < 0.1 else {},
        )
        leads.append(lead)
        base = handoff or created
        for k in range(rnd.randrange(6)):
            touches.append(
                Touch(
                    id=f"T-{i}-{k}",
                    lead_id=lead.id,
                    kind=rnd.choice(list(TouchKind)),
                    at=base + timedelta(hours=rnd.uniform(-5, 300)),
                    by=rnd.choice(["u-ana", "u-bob", "u-lena", "u-mia"]),
                    outcome=rnd.choice(list(TouchOutcome)),
                )
            )
    rnd.shuffle(touches)
    touches.append(  # a touch of a lead that is not in the leads table is ignored
        Touch(id="T-x", lead_id="L-missing", kind="call", at=now, by="u-ana")
    )
    return leads, touches


def columnar(plan: SLAPlan, leads: list[Lead], touches: list[Touch], now: datetime) -> Any:
    return utc_rows(plan.evaluate(leads_table(leads), touches_table(touches), now=now).to_pylist())


def per_record(plan: SLAPlan, leads: list[Lead], touches: list[Touch], now: datetime) -> Any:
    evaluations = evaluate_many(
        leads, touches, now=now, policies=plan.policies, calendar=plan.calendar
    )
    return expected_rows(evaluations)


@pytest.mark.parametrize("seed", [1, 2])
def test_equals_per_record_with_a_calendar_resolver(seed: int) -> None:
    plan = compile_sla(
        load_policies("examples/sla.toml"), load_calendars("examples/calendars.toml")
    )
    leads, touches = random_data(seed)
    got = columnar(plan, leads, touches, NOW)
    assert got == per_record(plan, leads, touches, NOW)
    states = {row["state"] for row in got}
    assert {"met", "breached", "pending"} <= states  # the data exercises the states
    assert len({row["calendar"] for row in got}) == 3


def test_equals_per_record_at_many_instants_with_one_calendar() -> None:
    policies = load_policies("examples/sla.toml")
    plan = compile_sla(policies, BusinessCalendar.weekdays("America/New_York", name="ny"))
    leads, touches = random_data(3, n=120)
    for hours in range(-200, 200, 37):
        now = NOW + timedelta(hours=hours)
        assert columnar(plan, leads, touches, now) == per_record(plan, leads, touches, now)


@st.composite
def lead_sets(draw: st.DrawFn) -> tuple[list[Lead], list[Touch], datetime]:
    now = draw(lst.instants())
    window = st.builds(lambda h: now + timedelta(hours=h), st.floats(-400, 100))
    leads = draw(st.lists(lst.leads(), min_size=1, max_size=4, unique_by=lambda x: x.id))
    leads = [
        Lead(
            **{
                **{k: getattr(x, k) for k in ("id", "created_at", "owner_id", "source")},
                "handed_off_at": draw(st.none() | window),
            }
        )
        for x in leads
    ]
    touches = []
    for index, lead in enumerate(leads):
        drawn = draw(st.lists(lst.touches(lead_id=lead.id, at=window), max_size=6))
        touches += [attrs.evolve(t, id=f"T-{index}-{j}") for j, t in enumerate(drawn)]
    return leads, touches, now


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=lead_sets(),
    policies=st.lists(
        lst.sla_policies(triggers=HANDOFF), min_size=1, max_size=2, unique_by=lambda p: p.name
    ),
    calendar=lst.calendars(),
)
def test_property_equals_per_record(
    data: tuple[list[Lead], list[Touch], datetime],
    policies: list[SLAPolicy],
    calendar: BusinessCalendar,
) -> None:
    leads, touches, now = data
    plan = compile_sla(policies, calendar)
    assert columnar(plan, leads, touches, now) == per_record(plan, leads, touches, now)


def test_plan_pickles_and_gives_the_same_result() -> None:
    plan = compile_sla(
        load_policies("examples/sla.toml"), load_calendars("examples/calendars.toml")
    )
    leads, touches = random_data(4, n=50)
    again = pickle.loads(pickle.dumps(plan))
    assert again == plan
    assert columnar(again, leads, touches, NOW) == columnar(plan, leads, touches, NOW)


def test_bad_rows_go_to_the_sink_and_good_rows_continue() -> None:
    plan = compile_sla(load_policies("examples/sla.toml"), BusinessCalendar.weekdays("UTC"))
    leads = pa.table(
        {
            "id": ["L-1", "L-2", ""],
            "created_at": ["2026-03-02T09:00:00Z", "2026-03-02T09:00:00", "2026-03-02T09:00Z"],
            "owner_id": ["u-ana", "u-ana", "u-ana"],
            "handed_off_at": ["2026-03-02T10:00:00+00:00", None, None],
        }
    )
    touches = pa.table(
        {
            "id": ["T-1", "T-2", "T-3", "T-4"],
            "lead_id": ["L-1", "L-1", "L-1", "L-1"],
            "kind": ["call", "pigeon", "email", "call"],
            "at": [
                "2026-03-02T11:00:00Z",
                "2026-03-02T11:00:00Z",
                "2026-03-02T12:00:00",
                "2026-03-02T13:00:00Z",
            ],
            "by": ["u-ana", "u-ana", "u-ana", "u-ana"],
            "outcome": ["no_answer", "sent", "sent", "waved"],
        }
    )
    sink = ErrorSink(None)
    out = plan.evaluate(leads, touches, now=datetime(2026, 3, 4, tzinfo=UTC), errors=sink)
    refused = {(e.source, e.row, e.field) for e in sink.errors}
    assert refused == {
        ("leads", 1, "created_at"),
        ("leads", 2, "id"),
        ("touches", 1, "kind"),
        ("touches", 2, "at"),
        ("touches", 3, "outcome"),
    }
    pigeon = next(e for e in sink.errors if e.field == "kind")
    assert pigeon.value == "pigeon" and "'call'" in pigeon.reason
    rows = out.to_pylist()
    assert [(r["lead_id"], r["step"], r["done"]) for r in rows] == [
        ("L-1", "first_touch", 1),
        ("L-1", "follow_up_attempts", 1),
    ]
    with pytest.raises(ValidationError, match="leads row 1: created_at"):
        plan.evaluate(leads, touches, now=datetime(2026, 3, 4, tzinfo=UTC))


def test_naive_timestamp_columns_and_naive_now_are_refused() -> None:
    plan = compile_sla(load_policies("examples/sla.toml"), BusinessCalendar.weekdays("UTC"))
    naive = datetime(2026, 3, 2, 9)
    leads = pa.table({"id": ["L-1"], "created_at": [naive]})
    touches = touches_table([])
    with pytest.raises(ValidationError, match="without a time zone"):
        plan.evaluate(leads, touches, now=NOW, errors=ErrorSink(None))
    with pytest.raises(ValidationError, match="now"):
        plan.evaluate(leads, touches, now=naive)


def test_compile_refuses_triggers_the_columns_cannot_see() -> None:
    policy = SLAPolicy.from_dict(
        {
            "name": "sal",
            "trigger": {"stage_entered": "sal"},
            "steps": [{"name": "first", "within_hours": 4}],
        }
    )
    with pytest.raises(ConfigError, match="stage_entered"):
        compile_sla([policy], BusinessCalendar.weekdays("UTC"))
    with pytest.raises(ConfigError, match="at least one"):
        compile_sla([], BusinessCalendar.weekdays("UTC"))


def test_a_lead_id_given_twice_and_no_touches_at_all() -> None:
    plan = compile_sla(
        load_policies("examples/sla.toml"), load_calendars("examples/calendars.toml")
    )
    leads, touches = random_data(5, n=30)
    first = next(x for x in leads if x.handed_off_at is not None and x.owner_id is not None)
    twin = attrs.evolve(first, owner_id="u-mia" if first.owner_id != "u-mia" else "u-ana")
    leads = [*leads, twin]
    got = columnar(plan, leads, touches, NOW)
    assert got == per_record(plan, leads, touches, NOW)
    assert sum(row["lead_id"] == first.id for row in got) == 4
    assert columnar(plan, leads, [], NOW) == per_record(plan, leads, [], NOW)


def test_boundaries_touch_at_the_trigger_at_the_due_instant_and_now_at_due() -> None:
    policies = load_policies("examples/sla.toml")
    cal = BusinessCalendar.weekdays("America/New_York", name="ny")
    plan = compile_sla(policies, cal)
    handoff = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    due = policies[0].steps[0].due(handoff, cal)  # the close of the next business day
    leads = [
        Lead(id=f"L-{i}", created_at=handoff, owner_id="u-ana", handed_off_at=handoff)
        for i in range(3)
    ]
    touches = [
        Touch(id="T-0", lead_id="L-0", kind="call", at=handoff, by="u-ana"),  # at the trigger
        Touch(id="T-1", lead_id="L-1", kind="call", at=due, by="u-ana"),  # at the due instant
    ]
    for now in (due, due + timedelta(microseconds=1), handoff):
        got = columnar(plan, leads, touches, now)
        assert got == per_record(plan, leads, touches, now)
    at_due = {
        r["lead_id"]: r for r in columnar(plan, leads, touches, due) if r["step"] == "first_touch"
    }
    assert [at_due[f"L-{i}"]["state"] for i in range(3)] == ["met", "met", "at_risk"]
    assert at_due["L-2"]["remaining_hours"] == 0.0
    after = columnar(plan, leads, touches, due + timedelta(microseconds=1))
    assert [r["state"] for r in after if r["step"] == "first_touch"] == ["met", "met", "breached"]
