"""A report as of a past instant reads the data as it stood then.

Rows recorded after the report's ``now`` -- leads created later, later stage and owner changes,
touches, rejections and outcomes -- must not change it; ``leadflow.lifecycle.as_of`` gives a lead
as it stood at an instant.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
from hypothesis import given
from hypothesis import strategies as st

from leadflow.analytics import build_report
from leadflow.lifecycle import Stage, as_of, reassign, replay, transition
from leadflow.model import Lead, Touch
from leadflow.outcomes import Outcome
from leadflow.reasons import reject
from leadflow.testing.strategies import lead_histories

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def _leads_until_day_3() -> list[Lead]:
    """The leads as they stood on day 3, built by hand (no as_of involved)."""
    a = Lead(id="L-a", created_at=day(0), source="webinar", owner_id="u-ana")
    a = transition(a, Stage.MQL, at=day(1), by="scoring")
    a = transition(a, Stage.SAL, at=day(2), by="u-ana")
    b = Lead(id="L-b", created_at=day(0.5), source="ads", owner_id="u-bob")
    b = transition(b, Stage.MQL, at=day(1.5), by="scoring")
    return [a, b]


def _everything() -> tuple[list[Lead], list[Touch], list[Outcome]]:
    """The same leads with what happened after day 3, plus a lead created on day 4."""
    a, b = _leads_until_day_3()
    a = transition(a, Stage.SQL, at=day(5), by="u-ana")
    a = transition(a, Stage.OPPORTUNITY, at=day(6), by="u-ana")
    a = reassign(a, "u-cy", at=day(7), by="u-boss")
    b, _rejection = reject(b, "not_ready_to_buy", at=day(4), by="u-bob")
    c = Lead(id="L-c", created_at=day(4), source="ads", owner_id="u-cy")
    c = transition(c, Stage.MQL, at=day(4.5), by="scoring")
    touches = [
        Touch(id="T-1", lead_id="L-a", kind="call", at=day(2.5), by="u-ana", outcome="connected"),
        Touch(id="T-2", lead_id="L-b", kind="email", at=day(3.5), by="u-bob"),
        Touch(id="T-3", lead_id="L-c", kind="call", at=day(5), by="u-cy", outcome="connected"),
    ]
    outcomes = [Outcome(lead_id="L-b", kind="competitor", at=day(9))]
    return [a, b, c], touches, outcomes


def test_rows_recorded_after_now_do_not_change_a_report() -> None:
    leads, touches, outcomes = _everything()
    now = day(3)
    full = build_report(leads=leads, touches=touches, outcomes=outcomes, now=now)
    by_hand = build_report(leads=_leads_until_day_3(), touches=touches[:1], outcomes=[], now=now)
    assert full.to_dict() == by_hand.to_dict()
    assert full.leads == 2
    assert full.rejections_total == 0


def test_the_same_data_later_does_count_them() -> None:
    leads, touches, outcomes = _everything()
    later = build_report(leads=leads, touches=touches, outcomes=outcomes, now=day(10))
    assert later.leads == 3
    assert later.rejections_total == 1


def test_as_of_a_past_instant() -> None:
    leads, _, _ = _everything()
    a, b, c = leads
    assert as_of(c, day(3)) is None
    assert as_of(a, day(10)) is a
    past = as_of(a, day(3))
    assert past is not None
    assert (past.stage, past.owner_id, len(past.history), past.owner_history) == (
        "sal",
        "u-ana",
        2,
        a.owner_history[:1],
    )
    before_rejection = as_of(b, day(3))
    assert before_rejection is not None and before_rejection.stage == "mql"


@given(history=lead_histories(reassign_owner=True), offset=st.floats(-30, 30))
def test_as_of_is_the_lead_replayed_up_to_the_instant(history, offset: float) -> None:  # type: ignore[no-untyped-def]
    lead = history.lead
    at = history.now + timedelta(days=offset)
    past = as_of(lead, at)
    if lead.created_at.astimezone(UTC) > at.astimezone(UTC):
        assert past is None
        return
    assert past is not None
    kept = [c for c in lead.history if c.at.astimezone(UTC) <= at.astimezone(UTC)]
    assert list(past.history) == kept
    start = lead.history[0].from_stage if lead.history else lead.stage
    assert past.stage == replay(kept, start=start)
    assert past.owner_id == lead.owner_at(at)
    assert past.owner_at(at) == lead.owner_at(at)
    # Going back twice is going back once to the earlier instant.
    earlier = at - timedelta(days=1)
    assert as_of(past, earlier) == as_of(lead, earlier)
    # Nothing recorded later is left.
    assert all(c.at.astimezone(UTC) <= at.astimezone(UTC) for c in past.owner_history[1:])
    if past.handed_off_at is not None:
        assert past.handed_off_at.astimezone(UTC) <= at.astimezone(UTC)
    # What as_of gives is a lead the model accepts: building it again runs every validator
    # (history order, owner history, hand-off) and must give the same lead.
    assert attrs.evolve(past) == past
    # Only what changes over time is rewound; who the lead is stays as it was.
    timeless = {"id", "email", "first_name", "last_name", "title", "company", "account_id"}
    assert {n: getattr(past, n) for n in timeless} == {n: getattr(lead, n) for n in timeless}


def test_generated_histories_stay_in_time_order_across_a_dst_gap() -> None:
    """The public strategy once added minutes to wall clocks: a change at 02:59 on a spring-forward
    day (a wall time that does not exist) landed after the 03:00 change that followed it, and
    the history refused itself while being generated."""
    from zoneinfo import ZoneInfo

    from hypothesis import find

    from leadflow.testing import strategies

    ny = ZoneInfo("America/New_York")
    start = datetime(2024, 3, 10, 1, 30, tzinfo=ny)
    steps = [strategies._after(start, timedelta(minutes=m)) for m in range(0, 120, 29)]
    assert [s.astimezone(UTC) for s in steps] == sorted(s.astimezone(UTC) for s in steps)
    assert strategies._after(start, timedelta(minutes=30)) == datetime(2024, 3, 10, 3, 0, tzinfo=ny)
    # And whole histories drawn in that zone come out valid and in order.
    found = find(
        lead_histories(zones=("America/New_York",)),
        lambda h: len(h.lead.history) >= 3,
    )
    instants = [c.at.astimezone(UTC) for c in found.lead.history]
    assert instants == sorted(instants)


def test_a_report_from_an_adapter_keeps_a_touch_made_before_now_inside_a_repeated_hour() -> None:
    """``report_from_adapter`` kept the touches made by *now* comparing wall clocks: two instants
    in one zone compare by wall time and ignore fold, so a touch at 01:40 on the first pass of a
    repeated hour (05:40 UTC) was "after" a *now* of 01:20 on its second pass (06:20 UTC) and
    left out: the lead read as never answered."""
    from zoneinfo import ZoneInfo

    from leadflow.adapters.sqlite import SQLiteAdapter
    from leadflow.cli.reporting import report_from_adapter
    from leadflow.ports import Entity

    ny = ZoneInfo("America/New_York")

    class Zoned(SQLiteAdapter):
        """A store handing its touches back in New York time (as another adapter may)."""

        def read_touches(self, cursor=None):  # type: ignore[no-untyped-def]
            for page in super().read_touches(cursor):
                yield attrs.evolve(
                    page,
                    items=tuple(
                        attrs.evolve(v, item=attrs.evolve(v.item, at=v.item.at.astimezone(ny)))
                        for v in page.items
                    ),
                )

    store = Zoned(":memory:")
    start = datetime(2026, 10, 31, 12, tzinfo=UTC)
    lead = transition(Lead(id="L-1", created_at=start, owner_id="u-ana"), Stage.MQL, at=start)
    store.upsert(Entity.LEAD, [attrs.evolve(lead, handed_off_at=start)])
    touched = datetime(2026, 11, 1, 1, 40, tzinfo=ny)  # first pass: 05:40 UTC
    store.upsert(
        Entity.TOUCH,
        [Touch(id="T-1", lead_id="L-1", kind="call", at=touched, by="u-ana", outcome="connected")],
    )
    now = datetime(2026, 11, 1, 1, 20, fold=1, tzinfo=ny)  # second pass: 06:20 UTC
    assert touched.astimezone(UTC) < now.astimezone(UTC)
    buckets = report_from_adapter(store, now=now).to_dict()["delay_buckets"]
    unanswered = next(b for b in buckets if b["bucket"] == "no response")
    assert unanswered["leads"] == 0
    assert sum(b["leads"] for b in buckets) == 1
