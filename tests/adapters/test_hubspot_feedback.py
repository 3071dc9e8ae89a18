"""What sales decided in HubSpot and what became of the lead: rejections from ``hs_lead_status``
and a reason property (who/when from ``propertiesWithHistory``), stage history and hand-off from
the lifecycle date-entered properties, outcomes from associated deals, and marketing engagement
(conversions, marketing e-mail) as activities a scorecard's behaviour rules score."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tests.adapters import hubspot_fixtures as fx
from tests.emulators.hubspot import HubSpotEmulator

from leadflow.adapters.hubspot import HubSpotAdapter
from leadflow.adapters.sqlite import SQLiteAdapter
from leadflow.errors import ConfigError
from leadflow.lifecycle import transition
from leadflow.ports import Cursor, Entity, RejectionWrite, StageWrite, WriteStatus
from leadflow.reasons import Disposition, reject
from leadflow.rules.scorecard import load_scorecard
from leadflow.rules.scoring import score_lead

emulator = fx.emulator
make_adapter = fx.make_adapter
slept = fx.slept

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _contact(emulator: HubSpotEmulator, **props: Any) -> str:
    base = {
        "email": f"p{emulator.count('contacts')}@example.com",
        "createdate": T0 - 10 * DAY,
        "lifecyclestage": "marketingqualifiedlead",
        "hs_lead_status": "OPEN",
    }
    return emulator.seed("contacts", [{**base, **props}])[0]


def _rejections(adapter: HubSpotAdapter, cursor: Cursor | None = None) -> tuple[list[Any], ...]:
    pages = list(adapter.read_rejections(cursor))
    items = [v.item for p in pages for v in p.items]
    errors = [e for p in pages for e in p.errors]
    return items, errors, [pages[-1].cursor] if pages else []


# -- rejections ------------------------------------------------------------------------------


def test_a_rejection_made_in_hubspot_reads_with_code_who_and_when(
    emulator: HubSpotEmulator, make_adapter: Callable[..., HubSpotAdapter]
) -> None:
    cid = _contact(emulator)
    rejected_at = T0 - 2 * DAY
    emulator.touch(
        "contacts",
        cid,
        by_user=4242,
        at=rejected_at,
        hs_lead_status="UNQUALIFIED",
        leadflow_reject_reason="NO_BUDGET",
    )
    [rejection], errors, _ = _rejections(make_adapter())
    assert errors == []
    assert (rejection.lead_id, rejection.code, rejection.by) == (cid, "no_budget", "4242")
    assert rejection.at == rejected_at
    assert rejection.from_stage == "sal", "marketingqualifiedlead:OPEN before the rejection"
    assert rejection.disposition is Disposition.RECYCLE
    assert rejection.reengage_at is not None and rejection.reengage_at > rejected_at


def test_unmapped_or_missing_reasons_are_reported_never_guessed(
    emulator: HubSpotEmulator, make_adapter: Callable[..., HubSpotAdapter]
) -> None:
    unmapped = _contact(emulator)
    missing = _contact(emulator)
    emulator.touch(
        "contacts", unmapped, hs_lead_status="UNQUALIFIED", leadflow_reject_reason="Reseller"
    )
    emulator.touch("contacts", missing, hs_lead_status="UNQUALIFIED")
    items, errors, _ = _rejections(make_adapter())
    assert items == []
    problems = {e.record_id: e.error for e in errors}
    assert set(problems) == {unmapped, missing}
    assert "'Reseller' is not mapped" in problems[unmapped]
    assert "without a reason" in problems[missing]
    assert all(e.entity is Entity.REJECTION for e in errors)
    # a mapping table from configuration reads it
    [mapped], errors, _ = _rejections(
        make_adapter(rejections={"reasons": {"Reseller": "competitor"}})
    )
    assert (mapped.lead_id, mapped.code) == (unmapped, "competitor")


def test_a_reason_table_naming_an_unknown_code_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"rejections\.reasons\.Reseller"):
        HubSpotAdapter.from_config(
            access_token="pat-x", rejections={"reasons": {"Reseller": "resold"}}
        )


def test_a_lost_deal_is_no_rejection_and_leadflows_own_reads_with_its_code(
    emulator: HubSpotEmulator, make_adapter: Callable[..., HubSpotAdapter]
) -> None:
    """A lost deal's contact (lifecycle opportunity) with a rejected status is no rejection.
    leadflow's own rejection (its SLA rule recycled or disqualified the lead) is read back with
    leadflow's code and the stage it left, so a report over HubSpot counts it as one over
    Salesforce or the store does."""
    _contact(emulator, lifecyclestage="opportunity", hs_lead_status="UNQUALIFIED")
    cid = _contact(emulator)
    adapter = make_adapter()
    lead = next(v.item for p in adapter.read_leads() for v in p.items if v.item.id == cid)
    after, rejection = reject(lead, "spam_or_test", at=T0, by="leadflow-sla")
    [result] = adapter.write([RejectionWrite(rejection=rejection, change=after.history[-1])])
    assert result.status is WriteStatus.APPLIED
    assert emulator.get("contacts", cid)["hs_lead_status"] == "UNQUALIFIED"
    [own], errors, _ = _rejections(adapter)
    assert errors == []
    assert (own.lead_id, own.code, own.from_stage, own.disposition) == (
        cid,
        rejection.code,
        rejection.from_stage,
        rejection.disposition,
    )
    assert own.at >= rejection.at and own.note is None


def test_a_rep_rejection_without_a_reason_is_reported_after_an_old_leadflow_rejection(
    emulator: HubSpotEmulator, make_adapter: Callable[..., HubSpotAdapter]
) -> None:
    """leadflow recycled the lead long ago (its reject code stays on the contact) and handed
    it off again; a rep now turns it down with no reason. That is the rep's rejection, not
    leadflow's own: it is reported (no reason), not skipped."""
    cid = _contact(emulator)
    adapter = make_adapter()
    lead = next(v.item for p in adapter.read_leads() for v in p.items if v.item.id == cid)
    after, rejection = reject(lead, "no_budget", at=T0 - 5 * DAY, by="leadflow-sla")
    [result] = adapter.write([RejectionWrite(rejection=rejection, change=after.history[-1])])
    assert result.status is WriteStatus.APPLIED
    [own], errors, _ = _rejections(adapter)
    assert (own.code, errors) == ("no_budget", []), "leadflow's own rejection, with its code"
    emulator.advance(DAY)
    emulator.touch("contacts", cid, lifecyclestage="marketingqualifiedlead", hs_lead_status="NEW")
    emulator.advance(DAY)
    emulator.touch("contacts", cid, by_user=4242, hs_lead_status="UNQUALIFIED")
    items, errors, _ = _rejections(adapter)
    assert items == []
    assert [(e.record_id, "without a reason" in e.error) for e in errors] == [(cid, True)]


def test_leadflows_own_rejection_reads_with_its_code_not_a_reps_old_reason(
    emulator: HubSpotEmulator, make_adapter: Callable[..., HubSpotAdapter]
) -> None:
    """A rep turned the lead down with a reason long ago (the reason property keeps it); the
    lead came back and leadflow now disqualifies it itself. The status change came with
    leadflow's code: it is leadflow's own rejection, not the rep's old reason signed by the
    integration at leadflow's write."""
    cid = _contact(emulator)
    emulator.touch(
        "contacts",
        cid,
        by_user=4242,
        hs_lead_status="UNQUALIFIED",
        leadflow_reject_reason="NO_BUDGET",
    )
    adapter = make_adapter()
    [old], errors, _ = _rejections(adapter)
    assert (old.by, old.code, errors) == ("4242", "no_budget", [])
    emulator.advance(5 * DAY)
    emulator.touch("contacts", cid, lifecyclestage="marketingqualifiedlead", hs_lead_status="OPEN")
    emulator.advance(DAY)
    lead = next(v.item for p in adapter.read_leads() for v in p.items if v.item.id == cid)
    at = lead.history[-1].at + DAY
    after, rejection = reject(lead, "spam_or_test", at=at, by="leadflow-sla")
    [result] = adapter.write([RejectionWrite(rejection=rejection, change=after.history[-1])])
    assert result.status is WriteStatus.APPLIED
    [own], errors, _ = _rejections(adapter)
    assert (own.code, own.from_stage, errors) == ("spam_or_test", rejection.from_stage, [])
    assert own.by != "4242", "not the rep's old verdict signed again"
    again = next(v.item for p in adapter.read_leads() for v in p.items if v.item.id == cid)
    assert again.stage == "disqualified"
    # the stage change carries leadflow's own code, not the rep's old reason
    assert (again.history[-1].to_stage, again.history[-1].reason) == (
        "disqualified",
        "spam_or_test",
    )


def test_rejections_are_incremental_and_history_reads_go_50_at_a_time(
    emulator: HubSpotEmulator, make_adapter: Callable[..., HubSpotAdapter]
) -> None:
    ids = [_contact(emulator) for _ in range(120)]
    for cid in ids:
        emulator.touch(
            "contacts", cid, hs_lead_status="UNQUALIFIED", leadflow_reject_reason="duplicate"
        )
    adapter = make_adapter()
    items, errors, [cursor] = _rejections(adapter)
    assert sorted(r.lead_id for r in items) == sorted(ids)
    assert errors == []
    assert emulator.calls["POST /crm/v3/objects/{type}/batch/read"] >= 3
    assert _rejections(adapter, cursor)[0] == []
    late = _contact(emulator)
    emulator.touch("contacts", late, hs_lead_status="UNQUALIFIED", leadflow_reject_reason="no_need")
    assert [r.lead_id for r in _rejections(adapter, cursor)[0]] == [late]


# -- stage history and hand-off ---------------------------------------------------------------


def test_stage_history_comes_from_the_lifecycle_and_lead_status_histories(
    emulator: HubSpotEmulator, make_adapter: Callable[..., HubSpotAdapter]
) -> None:
    """Every move is read with its instant and author from the two property histories —
    also a move of ``hs_lead_status`` alone (``mql`` → ``sal``), which no date-entered
    property records."""
    cid = _contact(emulator, lifecyclestage="lead", hs_lead_status="NEW")
    workflow = ("AUTOMATION_PLATFORM", "workflow:77")
    emulator.touch(
        "contacts", cid, source=workflow, at=T0 - 6 * DAY, lifecyclestage="marketingqualifiedlead"
    )
    emulator.touch("contacts", cid, by_user=4242, at=T0 - 4 * DAY, hs_lead_status="OPEN")
    emulator.touch(
        "contacts",
        cid,
        by_user=5151,
        at=T0 - 2 * DAY,
        lifecyclestage="salesqualifiedlead",
        hs_lead_status="IN_PROGRESS",
    )
    adapter = make_adapter()
    lead = next(v.item for p in adapter.read_leads() for v in p.items if v.item.id == cid)
    assert [(c.from_stage, c.to_stage, c.at, c.by) for c in lead.history] == [
        ("inquiry", "mql", T0 - 6 * DAY, "workflow:77"),
        ("mql", "sal", T0 - 4 * DAY, "4242"),
        ("sal", "sql", T0 - 2 * DAY, "5151"),
    ]
    assert lead.handed_off_at == T0 - 6 * DAY
    # A backwards move through the API clears the lifecycle stage first: one move, no stop
    # in "no stage" (which reads as inquiry) between the two requests.
    emulator.touch("contacts", cid, by_user=4242, at=T0 - DAY, lifecyclestage="")
    emulator.touch(
        "contacts",
        cid,
        by_user=4242,
        at=T0 - DAY + timedelta(seconds=2),
        lifecyclestage="lead",
        hs_lead_status="BAD_TIMING",
    )
    lead = next(v.item for p in adapter.read_leads() for v in p.items if v.item.id == cid)
    assert [(c.to_stage, c.at) for c in lead.history[3:]] == [
        ("recycled", T0 - DAY + timedelta(seconds=2))
    ]


def test_stage_history_falls_back_to_lifecycle_dates_without_a_history(
    emulator: HubSpotEmulator, make_adapter: Callable[..., HubSpotAdapter]
) -> None:
    """A contact HubSpot answers no lifecycle history for is read from the
    ``hs_v2_date_entered_*`` stamps (status-only moves are then dated with the lifecycle's)."""
    cid = _contact(
        emulator,
        lifecyclestage="salesqualifiedlead",
        hs_lead_status="IN_PROGRESS",
        hs_v2_date_entered_lead=T0 - 10 * DAY,
        hs_v2_date_entered_marketingqualifiedlead=T0 - 6 * DAY,
        hs_v2_date_entered_salesqualifiedlead=T0 - 2 * DAY,
    )
    emulator.forget_history("contacts", cid)
    adapter = make_adapter()
    assert adapter.capabilities.handoff_time
    lead = next(v.item for p in adapter.read_leads() for v in p.items if v.item.id == cid)
    assert [(c.from_stage, c.to_stage, c.at) for c in lead.history] == [
        ("inquiry", "mql", T0 - 6 * DAY),
        ("mql", "sql", T0 - 2 * DAY),
    ]
    assert lead.handed_off_at == T0 - 6 * DAY


def test_a_handoff_leadflow_writes_is_read_back_at_its_instant(
    emulator: HubSpotEmulator, make_adapter: Callable[..., HubSpotAdapter]
) -> None:
    cid = _contact(emulator, lifecyclestage="lead", hs_lead_status="NEW")
    adapter = make_adapter()
    lead = next(v.item for p in adapter.read_leads() for v in p.items if v.item.id == cid)
    decided = T0 + timedelta(minutes=5)  # the job's now; HubSpot stamps when the write lands
    moved = transition(lead, "mql", at=decided, by="scoring")
    [result] = adapter.write(
        [StageWrite(lead_id=cid, change=moved.history[-1], handed_off_at=decided)]
    )
    assert result.status is WriteStatus.APPLIED
    again = next(v.item for p in adapter.read_leads() for v in p.items if v.item.id == cid)
    assert again.stage == "mql"
    assert again.handed_off_at == decided
    assert again.history[-1].at == decided
    # Handed back to marketing and re-qualified in HubSpot days later: HubSpot's date wins.
    emulator.advance(3 * DAY)
    emulator.touch("contacts", cid, lifecyclestage="")
    emulator.touch("contacts", cid, lifecyclestage="marketingqualifiedlead")
    later = next(v.item for p in adapter.read_leads() for v in p.items if v.item.id == cid)
    assert later.handed_off_at is not None and later.handed_off_at > decided + 2 * DAY


def test_a_handoff_made_again_in_hubspot_hours_later_is_the_handoff(
    emulator: HubSpotEmulator, make_adapter: Callable[..., HubSpotAdapter]
) -> None:
    """A rep moved the lead back and re-qualified it the same day: the lifecycle history shows
    it left the hand-off stage after leadflow's hand-off, so the later entry is the hand-off
    (a day's slack is for the date-entered stamps alone, which cannot tell)."""
    cid = _contact(emulator, lifecyclestage="lead", hs_lead_status="NEW")
    adapter = make_adapter()
    lead = next(v.item for p in adapter.read_leads() for v in p.items if v.item.id == cid)
    decided = T0 + timedelta(minutes=5)
    moved = transition(lead, "mql", at=decided, by="scoring")
    [result] = adapter.write(
        [StageWrite(lead_id=cid, change=moved.history[-1], handed_off_at=decided)]
    )
    assert result.status is WriteStatus.APPLIED
    emulator.advance(timedelta(hours=3))
    emulator.touch("contacts", cid, lifecyclestage="")
    emulator.touch("contacts", cid, lifecyclestage="lead")
    emulator.advance(timedelta(hours=1))
    emulator.touch("contacts", cid, lifecyclestage="marketingqualifiedlead")
    again = next(v.item for p in adapter.read_leads() for v in p.items if v.item.id == cid)
    assert again.handed_off_at is not None
    assert again.handed_off_at > decided + timedelta(hours=3)
    assert again.handed_off_at == again.history[-1].at
    # leadflow's own hand-off, with no move after it, still keeps the job's instant
    other = _contact(emulator, lifecyclestage="lead", hs_lead_status="NEW")
    lead = next(v.item for p in adapter.read_leads() for v in p.items if v.item.id == other)
    moved = transition(lead, "mql", at=decided, by="scoring")
    adapter.write([StageWrite(lead_id=other, change=moved.history[-1], handed_off_at=decided)])
    emulator.advance(timedelta(hours=2))
    emulator.touch("contacts", other, jobtitle="CTO")
    kept = next(v.item for p in adapter.read_leads() for v in p.items if v.item.id == other)
    assert kept.handed_off_at == decided


# -- outcomes ---------------------------------------------------------------------------------


def _deal(emulator: HubSpotEmulator, contacts: list[str], **props: Any) -> str:
    [deal] = emulator.seed("deals", [{"dealname": "Deal", "hubspot_owner_id": "77", **props}])
    for cid in contacts:
        emulator.associate("deals", deal, "contacts", cid)
    return deal


def test_outcomes_come_from_deals_associated_with_the_contact(
    emulator: HubSpotEmulator, make_adapter: Callable[..., HubSpotAdapter]
) -> None:
    a, b, c = (_contact(emulator) for _ in range(3))
    closed = T0 - DAY
    won = _deal(
        emulator,
        [a, b],
        hs_is_closed="true",
        hs_is_closed_won="true",
        amount="48000",
        deal_currency_code="EUR",
        closedate=closed,
    )
    rival = _deal(
        emulator,
        [c],
        hs_is_closed="true",
        hs_is_closed_won="false",
        closedate=closed,
        closed_lost_reason="Lost to competitor",
    )
    price = _deal(
        emulator,
        [c],
        hs_is_closed="true",
        hs_is_closed_won="false",
        closedate=closed,
        closed_lost_reason="Too expensive",
    )
    stalled = _deal(
        emulator,
        [a],
        hs_is_closed="true",
        hs_is_closed_won="false",
        closedate=closed,
        closed_lost_reason="No decision",
    )
    open_deal = _deal(emulator, [b], hs_is_closed="false", amount="1000")
    nobody = _deal(emulator, [], hs_is_closed="true", hs_is_closed_won="true", amount="5")
    pages = list(make_adapter().read_outcomes())
    got = {(o.opportunity_id, o.lead_id): o for p in pages for v in p.items for o in [v.item]}
    assert {k: v.kind.value for k, v in got.items()} == {
        (won, a): "won",
        (won, b): "won",
        (rival, c): "competitor",
        (price, c): "lost",
        (stalled, a): "no_decision",
        (open_deal, b): "evaluating",
    }
    assert (got[(won, a)].amount, got[(won, a)].currency, got[(won, a)].at) == (
        Decimal("48000"),
        "EUR",
        closed,
    )
    assert got[(price, c)].reason == "Too expensive"
    assert got[(won, a)].recorded_by == "77"
    assert all(nobody != deal for deal, _ in got)
    assert [e for p in pages for e in p.errors] == []
    # The loss reason only says "a competitor": no reason text; which one, when the portal
    # keeps it in a deal property the outcomes table names.
    assert (got[(rival, c)].reason, got[(rival, c)].competitor) == (None, None)
    emulator.define_property("deals", "competitor_name")
    emulator.touch("deals", rival, competitor_name="Globex Pipeline")
    named = make_adapter(outcomes={"competitor_property": "competitor_name"})
    [rivalled] = [
        v.item for p in named.read_outcomes() for v in p.items if v.item.opportunity_id == rival
    ]
    assert (rivalled.kind.value, rivalled.competitor) == ("competitor", "Globex Pipeline")
    with pytest.raises(ConfigError, match=r"outcomes\.competitor_property"):
        make_adapter(outcomes={"competitor_property": ""})


def test_outcomes_are_incremental_on_the_deal_stamp_and_bad_deals_are_reported(
    emulator: HubSpotEmulator, make_adapter: Callable[..., HubSpotAdapter]
) -> None:
    cid = _contact(emulator)
    deal = _deal(emulator, [cid], hs_is_closed="false")
    broken = _deal(emulator, [cid], hs_is_closed="true", hs_is_closed_won="true")
    adapter = make_adapter()
    pages = list(adapter.read_outcomes())
    assert [v.item.kind.value for p in pages for v in p.items] == ["evaluating"]
    assert [(e.record_id, "without an amount" in e.error) for p in pages for e in p.errors] == [
        (broken, True)
    ]
    cursor = pages[-1].cursor
    assert [v for p in adapter.read_outcomes(cursor) for v in p.items] == []
    emulator.touch(
        "deals",
        deal,
        hs_is_closed="true",
        hs_is_closed_won="true",
        amount="900",
        closedate=T0,
    )
    again = [v.item for p in adapter.read_outcomes(cursor) for v in p.items]
    assert [(o.kind.value, o.amount) for o in again] == [("won", Decimal("900"))]


# -- behaviour signals -----------------------------------------------------------------------


def test_conversions_and_email_engagement_are_activities_a_scorecard_scores(
    emulator: HubSpotEmulator, make_adapter: Callable[..., HubSpotAdapter]
) -> None:
    keen = _contact(emulator, jobtitle="VP Engineering")
    quiet = _contact(emulator, jobtitle="VP Engineering")
    emulator.touch("contacts", keen, at=T0 - 3 * DAY, recent_conversion_event_name="Request a demo")
    emulator.touch(
        "contacts", keen, at=T0 - 2 * DAY, recent_conversion_event_name="Case study: ACME"
    )
    emulator.touch("contacts", keen, at=T0 - DAY, recent_conversion_event_name="Newsletter signup")
    emulator.touch("contacts", keen, hs_email_last_open_date=T0 - 5 * DAY)
    emulator.touch("contacts", keen, hs_email_last_click_date=T0 - 4 * DAY)
    adapter = make_adapter()
    pages = list(adapter.read_activities())
    activities = [v.item for p in pages for v in p.items]
    assert [(a.lead_id, a.kind) for a in activities] == [
        (keen, "email_open"),
        (keen, "email_click"),
        (keen, "demo_request"),
        (keen, "case_study_download"),
        (keen, "form_submit"),
    ]
    assert activities[2].occurred_at == T0 - 3 * DAY
    assert len({a.id for a in activities}) == 5
    assert [v for p in adapter.read_activities(pages[-1].cursor) for v in p.items] == []

    card = load_scorecard(EXAMPLES / "scorecard.toml")
    leads = {v.item.id: v.item for p in adapter.read_leads() for v in p.items}
    scored = score_lead(card, leads[keen], activities, as_of=T0)
    plain = score_lead(card, leads[quiet], [], as_of=T0)
    assert scored.behaviour > 0 == plain.behaviour
    assert scored.has_intent, "a demo request is an intent signal"


# -- owner history ------------------------------------------------------------------------------


def test_owner_history_comes_from_the_owner_propertys_history(
    emulator: HubSpotEmulator, make_adapter: Callable[..., HubSpotAdapter]
) -> None:
    """SLA credit follows the owner at the time (issue 13): a contact reassigned in HubSpot
    reads with who held it when, from ``hubspot_owner_id``'s property history."""
    cid = _contact(emulator, hubspot_owner_id="111")
    moved_at = T0 - 3 * DAY
    emulator.touch("contacts", cid, by_user=4242, at=moved_at, hubspot_owner_id="222")
    [lead] = [v.item for p in make_adapter().read_leads() for v in p.items if v.item.id == cid]
    assert [c.owner_id for c in lead.owner_history] == ["111", "222"]
    assert lead.owner_history[1].at == moved_at and lead.owner_history[1].by == "4242"
    assert lead.owner_at(moved_at - DAY) == "111" and lead.owner_id == "222"
    # owner_history = false leaves the owner out of the history read
    [plain] = [
        v.item
        for p in make_adapter(owner_history=False).read_leads()
        for v in p.items
        if v.item.id == cid
    ]
    assert plain.owner_history == () and plain.owner_id == "222"


def test_the_report_says_which_records_it_left_out_and_why(
    emulator: HubSpotEmulator, make_adapter: Callable[..., HubSpotAdapter]
) -> None:
    """An unmapped reason is reported in the report itself (its notes, so ``--json`` and the
    HTML page carry it), not only in a log line: the report's numbers leave that lead out."""
    from leadflow.cli.reporting import report_from_adapter

    unmapped, mapped = _contact(emulator), _contact(emulator)
    emulator.touch(
        "contacts",
        unmapped,
        at=T0 - DAY,
        hs_lead_status="UNQUALIFIED",
        leadflow_reject_reason="Reseller",
    )
    emulator.touch(
        "contacts",
        mapped,
        at=T0 - DAY,
        hs_lead_status="UNQUALIFIED",
        leadflow_reject_reason="NO_BUDGET",
    )
    report = report_from_adapter(make_adapter(), now=T0)
    assert report.rejections_total == 1
    [note] = [n for n in report.notes if "left out" in n]
    assert "1 rejection read from hubspot" in note
    assert unmapped in note and "'Reseller' is not mapped" in note
    assert report.to_dict()["notes"] == list(report.notes)


def test_leadflows_own_recycle_is_read_back_though_its_status_is_no_rejected_one(
    emulator: HubSpotEmulator, make_adapter: Callable[..., HubSpotAdapter]
) -> None:
    """leadflow's SLA rule recycled the lead (no response): HubSpot holds ``lead:BAD_TIMING``,
    not a rejected status, and the contact carries leadflow's reject code. A report over
    HubSpot must count that rejection as one over the store does, so it is read back."""
    cid = _contact(emulator)
    adapter = make_adapter()
    lead = next(v.item for p in adapter.read_leads() for v in p.items if v.item.id == cid)
    after, rejection = reject(lead, "not_followed_up", at=T0, by="leadflow-sla")
    [result] = adapter.write([RejectionWrite(rejection=rejection, change=after.history[-1])])
    assert result.status is WriteStatus.APPLIED
    assert emulator.get("contacts", cid)["hs_lead_status"] not in ("UNQUALIFIED",)
    [own], errors, _ = _rejections(adapter)
    assert errors == []
    assert (own.lead_id, own.code, own.disposition, own.from_stage) == (
        cid,
        "not_followed_up",
        rejection.disposition,
        rejection.from_stage,
    )


@pytest.mark.parametrize("tick_ms", [1, 3000])
def test_leadflows_own_recycle_leaves_the_stage_before_its_clear_however_late_the_set_lands(
    emulator: HubSpotEmulator, make_adapter: Callable[..., HubSpotAdapter], tick_ms: int
) -> None:
    """A recycle from ``sal`` moves the lifecycle stage backwards: leadflow clears it, then sets
    it with the status and its code in a second request. When that second request lands more
    than a second after the clear (a retry, a busy portal), the stage read one second before the
    code's write was the cleared one ('' reads as inquiry): the rejection read back said it left
    ``inquiry``, and the job's state store, matching its own record by the stage left, kept it
    twice."""
    cid = _contact(emulator, hs_lead_status="OPEN")
    adapter = make_adapter()
    lead = next(v.item for p in adapter.read_leads() for v in p.items if v.item.id == cid)
    assert lead.stage == "sal"
    state = SQLiteAdapter(":memory:")  # the job's state store
    state.mirror(Entity.LEAD, [lead])
    emulator._tick_ms = tick_ms  # how long after the one before each write request lands
    after, rejection = reject(lead, "not_followed_up", at=T0, by="leadflow-sla")
    write = RejectionWrite(rejection=rejection, change=after.history[-1])
    [result] = adapter.write([write])
    assert result.status is WriteStatus.APPLIED
    assert state.write([write])[0].ok  # the job records what it wrote
    [own], errors, _ = _rejections(adapter)
    assert errors == []
    assert (own.code, own.from_stage) == ("not_followed_up", "sal")
    # the next run mirrors the contact and its rejections: the job's own is kept once
    state.mirror(Entity.LEAD, [v.item for p in adapter.read_leads() for v in p.items])
    state.mirror(Entity.REJECTION, [own])
    assert state.rejections() == [rejection]
