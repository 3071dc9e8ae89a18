"""What sales decided in Salesforce and what became of the leads, read back through the port.

Against the loopback emulator (the real simple-salesforce client): rejections from a rejected
``Status`` and the reason picklist, with who and when from ``LeadHistory``; stage history and the
hand-off time; outcomes from the opportunity a lead converted into (or whose contact it became),
with the closing instant from ``OpportunityHistory``; and reads that lose no record changed in the
same second as the cursor.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
import trustme
from tests.emulators.salesforce import EPOCH, SalesforceEmulator
from tests.emulators.salesforce_seed import make_adapter

from leadflow.adapters.salesforce import DEFAULT_MAPPING, SalesforceAdapter
from leadflow.errors import AdapterError, ConfigError
from leadflow.lifecycle import transition
from leadflow.model import Lead
from leadflow.outcomes import Outcome
from leadflow.ports import (
    Cursor,
    Entity,
    RecordError,
    ScoreWrite,
    StageWrite,
    WriteStatus,
    read_all,
)
from leadflow.reasons import Disposition

REP = "005000000000077AAA"
OTHER_REP = "005000000000078AAA"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def emu(ca: trustme.CA, tmp_path: Path) -> Iterator[SalesforceEmulator]:
    with SalesforceEmulator(ca=ca, cert_dir=tmp_path, page_size=7) as emulator:
        yield emulator


def _lead(emu: SalesforceEmulator, name: str, **fields: Any) -> str:
    values = {"LastName": name, "Company": "Acme", "Status": "Open - Not Contacted", **fields}
    return emu.insert("Lead", values)


def _pages(reader: Any, cursor: Cursor | None = None) -> tuple[list[Any], list[RecordError], Any]:
    pages = list(reader(cursor))
    items = [v.item for p in pages for v in p.items]
    errors = [e for p in pages for e in p.errors]
    return items, errors, (pages[-1].cursor if pages else cursor)


# -- rejections and stage history ---------------------------------------------------------------


def test_a_status_in_the_history_that_maps_to_no_stage_is_reported_not_skipped(
    emu: SalesforceEmulator,
) -> None:
    # A status value since retired from the map (or never mapped) in the lead's past: reading
    # past it would drop that move from the funnel and the SLA clock without a word.
    rid = _lead(emu, "Wandered")
    emu.edit("Lead", rid, {"Status": "Nurture - Partner"}, by=REP)
    emu.edit("Lead", rid, {"Status": "Working - Contacted"}, by=REP)
    ok = _lead(emu, "Straight")
    emu.edit("Lead", ok, {"Status": "Working - Contacted"}, by=REP)
    adapter = make_adapter(emu)
    items, errors, _ = _pages(adapter.read_leads)
    assert [lead.id for lead in items] == [ok]
    [error] = errors
    assert error.record_id == rid
    assert "'Nurture - Partner' in the lead's history maps to no stage" in error.error
    assert "stages.aliases" in error.error
    # Mapped, the same history reads, with the move it stands for.
    mapped = make_adapter(emu, stages={"aliases": {"Nurture - Partner": "recycled"}})
    items, errors, _ = _pages(mapped.read_leads)
    assert errors == []
    wandered = next(lead for lead in items if lead.id == rid)
    assert [(c.from_stage, c.to_stage) for c in wandered.history] == [
        ("inquiry", "recycled"),
        ("recycled", "sal"),
    ]


def test_a_reopened_lead_whose_history_starts_rejected_reads(emu: SalesforceEmulator) -> None:
    # A lead loaded as "Unqualified" (a rejected status of the standard mapping, which no stage
    # maps to) and reopened by a rep: its history starts in a rejected status. That is a
    # rejection's stage, not an unmapped status: the read reported the lead as an error.
    rid = _lead(emu, "Reopened", Status="Unqualified")
    emu.edit("Lead", rid, {"Status": "Working - Contacted"}, by=REP)
    items, errors, _ = _pages(make_adapter(emu).read_leads)
    assert errors == []
    [lead] = items
    assert [(c.from_stage, c.to_stage) for c in lead.history] == [("disqualified", "sal")]


def test_a_rep_rejecting_in_salesforce_is_a_rejection_with_who_and_when(
    emu: SalesforceEmulator,
) -> None:
    rid = _lead(emu, "Turned-down", Leadflow_Stage__c="mql")
    emu.edit(
        "Lead",
        rid,
        {"Status": "Closed - Not Converted", "Leadflow_Reject_Code__c": "No budget this cycle"},
        by=REP,
    )
    when = datetime.fromisoformat(emu.get("Lead", rid)["SystemModstamp"].replace("+0000", "+00:00"))
    adapter = make_adapter(emu)
    [rejection], errors, _ = _pages(adapter.read_rejections)
    assert errors == []
    assert (rejection.lead_id, rejection.code, rejection.disposition) == (
        rid,
        "no_budget",
        Disposition.RECYCLE,
    )
    assert (rejection.at, rejection.by, rejection.from_stage) == (when, REP, "mql")
    assert rejection.reengage_at == when + timedelta(days=180)
    [lead] = [v.item for p in adapter.read_leads() for v in p.items]
    assert lead.stage == "recycled", "the rep's Status wins over leadflow's stage field"
    assert [(c.from_stage, c.to_stage, c.by, c.reason) for c in lead.history] == [
        ("mql", "recycled", REP, "no_budget")
    ]


def test_a_rejection_made_after_the_leads_were_read_is_read_with_its_history(
    emu: SalesforceEmulator,
) -> None:
    """A rep rejects a lead between the run's lead read and its rejection read: the history
    the adapter remembered from the lead read is for the lead's older version and must not
    stand for the new one (the rejection would be reported as having no history, and the
    rejection cursor would move past it)."""
    rid = _lead(emu, "Late", Leadflow_Stage__c="mql")
    adapter = make_adapter(emu)
    [lead] = [v.item for p in adapter.read_leads() for v in p.items]
    assert lead.stage == "mql"
    emu.edit(
        "Lead",
        rid,
        {"Status": "Closed - Not Converted", "Leadflow_Reject_Code__c": "No budget this cycle"},
        by=REP,
    )
    [rejection], errors, _ = _pages(adapter.read_rejections)
    assert errors == []
    assert (rejection.lead_id, rejection.code, rejection.by) == (rid, "no_budget", REP)


def test_histories_survive_the_history_cache_filling_up_mid_read(
    emu: SalesforceEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The remembered histories are bounded; emptying them between two history queries of one
    page must not lose the rows the first query just fetched (each lead of that chunk read as
    having no history: its rejection reported, its stage history empty)."""
    import leadflow.adapters.salesforce as sf

    ids = [_lead(emu, f"Many{i}", Leadflow_Stage__c="mql") for i in range(6)]
    for rid in ids:
        emu.edit(
            "Lead",
            rid,
            {"Status": "Closed - Not Converted", "Leadflow_Reject_Code__c": "no_budget"},
            by=REP,
        )
    monkeypatch.setattr(sf, "_IDS_PER_QUERY", 2)
    monkeypatch.setattr(sf.SalesforceAdapter, "_HISTORY_CACHE_MAX", 3)
    rejections, errors, _ = _pages(make_adapter(emu).read_rejections)
    assert errors == []
    assert sorted(r.lead_id for r in rejections) == sorted(ids)


def test_an_unmapped_reason_is_reported_never_guessed(emu: SalesforceEmulator) -> None:
    rid = _lead(emu, "Odd")
    emu.edit(
        "Lead",
        rid,
        {"Status": "Closed - Not Converted", "Leadflow_Reject_Code__c": "Vibes"},
        by=REP,
    )
    adapter = make_adapter(emu)
    items, [error], _ = _pages(adapter.read_rejections)
    assert items == []
    assert (error.entity, error.record_id) == (Entity.REJECTION, rid)
    assert "'Vibes' maps to no reject code" in error.error
    assert "reject_reasons" in error.error
    # mapped as data, the same value becomes a code
    mapped = make_adapter(emu, reject_reasons={"Vibes": "no_need"})
    [rejection], errors, _ = _pages(mapped.read_rejections)
    assert (rejection.code, errors) == ("no_need", [])
    with pytest.raises(ConfigError, match="reject_reasons"):
        DEFAULT_MAPPING.override({"reject_reasons": {"Vibes": "not_a_code"}})


def test_an_unmapped_status_is_reported_never_read_as_inquiry(emu: SalesforceEmulator) -> None:
    """An org's own Status value the mapping does not know: the lead is reported on the page
    (field, value, where to map it), not read as a guessed 'inquiry' that would restart its
    funnel and SLA clock."""
    known = _lead(emu, "Known")
    odd = _lead(emu, "Odd", Status="Nurture - Partner")
    adapter = make_adapter(emu)
    leads, errors, _ = _pages(adapter.read_leads)
    assert [lead.id for lead in leads] == [known]
    [error] = errors
    assert (error.entity, error.record_id) == (Entity.LEAD, odd)
    assert "'Nurture - Partner'" in error.error and "stages.aliases" in error.error
    # mapped as data, the same value is read as the stage it names
    mapped = make_adapter(emu, stages={"aliases": {"Nurture - Partner": "recycled"}})
    leads, errors, _ = _pages(mapped.read_leads)
    assert ({lead.id: lead.stage for lead in leads}, errors) == (
        {known: "inquiry", odd: "recycled"},
        [],
    )


def test_a_rejection_without_field_history_is_reported(ca: trustme.CA, tmp_path: Path) -> None:
    with SalesforceEmulator(ca=ca, cert_dir=tmp_path, tracked=frozenset()) as emu:
        rid = _lead(emu, "Untracked")
        emu.edit(
            "Lead", rid, {"Status": "Closed - Not Converted", "Leadflow_Reject_Code__c": "student"}
        )
        adapter = make_adapter(emu)
        items, [error], _ = _pages(adapter.read_rejections)
        assert items == []
        assert "enable field history tracking" in error.error
        [lead] = [v.item for p in adapter.read_leads() for v in p.items]
        assert (lead.stage, lead.history) == ("disqualified", ())


def test_stage_history_and_handoff_come_from_the_crm(emu: SalesforceEmulator) -> None:
    rid = _lead(emu, "Worked", Leadflow_Stage__c="inquiry")
    emu.edit("Lead", rid, {"Leadflow_Stage__c": "mql"}, by=REP)  # a hand-off made in Salesforce
    emu.edit("Lead", rid, {"Status": "Working - Contacted", "Leadflow_Stage__c": "sal"}, by=REP)
    adapter = make_adapter(emu)
    [lead] = [v.item for p in adapter.read_leads() for v in p.items]
    assert [(c.from_stage, c.to_stage) for c in lead.history] == [
        ("inquiry", "mql"),
        ("mql", "sal"),
    ]
    assert lead.handed_off_at == lead.history[0].at
    assert {c.by for c in lead.history} == {REP}
    # leadflow's own hand-off keeps the instant its job decided, not the save's
    other = _lead(emu, "Scored")
    [read] = [v for p in adapter.read_leads() for v in p.items if v.item.id == other]
    decided = datetime(2026, 3, 9, 12, 0, 0, 123456, tzinfo=UTC)
    moved = transition(read.item, "mql", at=decided, by="scoring")
    write = StageWrite(
        lead_id=other,
        change=moved.history[-1],
        expected_version=read.version,
        handed_off_at=decided,
    )
    assert [r.status for r in adapter.write([write])] == [WriteStatus.APPLIED]
    [again] = [v.item for p in adapter.read_leads() for v in p.items if v.item.id == other]
    assert again.handed_off_at == decided.replace(microsecond=0)
    assert again.history[-1].to_stage == "mql"
    assert adapter.write([write])[0].status is WriteStatus.UNCHANGED


def test_a_handoff_made_again_in_salesforce_replaces_leadflows_earlier_one(
    emu: SalesforceEmulator,
) -> None:
    """leadflow handed the lead off (its hand-off field holds that instant); a rep then recycled
    it and handed it off again in Salesforce: the SLA runs from the later hand-off, the one
    the CRM's history records, not from leadflow's stale field."""
    rid = _lead(emu, "Again")
    adapter = make_adapter(emu)
    [read] = [v for p in adapter.read_leads() for v in p.items if v.item.id == rid]
    decided = emu.now()
    moved = transition(read.item, "mql", at=decided, by="scoring")
    write = StageWrite(
        lead_id=rid, change=moved.history[-1], expected_version=read.version, handed_off_at=decided
    )
    assert [r.status for r in adapter.write([write])] == [WriteStatus.APPLIED]
    emu.edit("Lead", rid, {"Leadflow_Stage__c": "recycled"}, by=REP)
    emu.edit("Lead", rid, {"Leadflow_Stage__c": "mql"}, by=REP)
    [lead] = [v.item for p in adapter.read_leads() for v in p.items if v.item.id == rid]
    assert [c.to_stage for c in lead.history] == ["mql", "recycled", "mql"]
    assert lead.handed_off_at == lead.history[-1].at > decided
    # leadflow handing it off again itself: its own (newer) instant counts again
    [read] = [v for p in adapter.read_leads() for v in p.items if v.item.id == rid]
    recycled = transition(read.item, "recycled", at=emu.now(), by="sla")
    assert adapter.write([StageWrite(lead_id=rid, change=recycled.history[-1])])[0].ok
    [read] = [v for p in adapter.read_leads() for v in p.items if v.item.id == rid]
    later = emu.now()
    again = transition(read.item, "mql", at=later, by="scoring")
    write = StageWrite(lead_id=rid, change=again.history[-1], handed_off_at=later)
    assert adapter.write([write])[0].ok
    [lead] = [v.item for p in adapter.read_leads() for v in p.items if v.item.id == rid]
    assert lead.handed_off_at == later


# -- outcomes ---------------------------------------------------------------------------------


def test_outcomes_from_converted_opportunities_and_contact_roles(emu: SalesforceEmulator) -> None:
    won_lead = _lead(emu, "Buyer", Leadflow_Stage__c="sql")
    lost_lead = _lead(emu, "Shopper", Leadflow_Stage__c="sql")
    open_lead = _lead(emu, "Thinking", Leadflow_Stage__c="sql")
    role_lead = _lead(emu, "Champion", Leadflow_Stage__c="recycled")
    t = EPOCH - timedelta(days=30)
    won = emu.convert(won_lead, {"Name": "Deal 1", "Amount": 48000.0}, at=t, by=REP)
    lost = emu.convert(lost_lead, {"Name": "Deal 2", "Amount": 9000.0}, at=t, by=REP)
    pending = emu.convert(open_lead, {"Name": "Deal 3"}, at=t, by=REP)
    closed = t + timedelta(days=12, hours=3, minutes=5)
    emu.close_opportunity(won, "Closed Won", at=closed, by=OTHER_REP, CloseDate="2026-02-12")
    emu.close_opportunity(
        lost,
        "Closed Lost",
        at=closed,
        by=REP,
        Loss_Reason__c="Lost to Competitor",
        Competitor__c="Globex Pipeline",
    )
    # The champion was converted into a contact earlier; the contact sits on the won deal.
    contact = "003000000000099AAA"
    emu.convert(role_lead, {"Name": "Old"}, at=t - timedelta(days=90), by=REP, contact_id=contact)
    emu.insert("OpportunityContactRole", {"OpportunityId": won, "ContactId": contact})
    adapter = make_adapter(emu)
    outcomes, errors, cursor = _pages(adapter.read_outcomes)
    assert errors == []
    got = {(o.lead_id, o.opportunity_id): o for o in outcomes}
    assert got[(won_lead, won)] == Outcome(
        lead_id=won_lead,
        kind="won",
        at=closed,
        amount=Decimal("48000.0"),
        currency="USD",
        opportunity_id=won,
        recorded_by=OTHER_REP,
    )
    assert got[(role_lead, won)].kind.value == "won", "a contact role counts for its lead"
    assert (got[(lost_lead, lost)].kind.value, got[(lost_lead, lost)].competitor) == (
        "competitor",
        "Globex Pipeline",
    )
    assert got[(lost_lead, lost)].at == closed
    assert got[(open_lead, pending)].kind.value == "evaluating"
    assert len(outcomes) == 5  # the champion's own old, still open opportunity too
    # incremental: nothing new, nothing read; a changed opportunity comes again
    assert _pages(adapter.read_outcomes, cursor)[0] == []
    emu.close_opportunity(pending, "Closed Lost", at=closed, by=REP, Loss_Reason__c="Price")
    [again], _, _ = _pages(adapter.read_outcomes, cursor)
    assert (again.lead_id, again.kind.value, again.reason) == (open_lead, "lost", "Price")


def test_an_unmapped_loss_reason_is_reported(emu: SalesforceEmulator) -> None:
    rid = _lead(emu, "Gone")
    opp = emu.convert(rid, {"Name": "Deal"}, at=EPOCH, by=REP)
    emu.close_opportunity(opp, "Closed Lost", at=EPOCH, by=REP, Loss_Reason__c="Astrology")
    items, [error], _ = _pages(make_adapter(emu).read_outcomes)
    assert items == []
    assert (error.entity, error.record_id) == (Entity.OUTCOME, opp)
    assert "'Astrology' maps to no outcome kind" in error.error
    with pytest.raises(ConfigError, match="loss_reasons"):
        DEFAULT_MAPPING.override({"loss_reasons": {"Astrology": "won"}})


# -- never miss, never double -------------------------------------------------------------------


def test_a_lead_edited_later_in_the_cursors_second_with_a_lower_id_is_read(
    emu: SalesforceEmulator,
) -> None:
    emu.same_second = True  # every save below lands in one SystemModstamp second
    low = _lead(emu, "Low")
    high = _lead(emu, "High")
    assert low < high
    adapter = make_adapter(emu)
    first, _, cursor = _pages(adapter.read_leads)
    assert [lead.id for lead in first] == [low, high]
    assert _pages(adapter.read_leads, cursor)[0] == [], "what was read is not read again"
    emu.edit("Lead", low, {"Title": "CFO"})  # same second, an id below the cursor's
    again, _, cursor = _pages(adapter.read_leads, cursor)
    assert [(lead.id, lead.title) for lead in again] == [(low, "CFO")]
    assert _pages(adapter.read_leads, cursor)[0] == []


def test_every_reader_declared_is_readable_through_the_port(emu: SalesforceEmulator) -> None:
    adapter: SalesforceAdapter = make_adapter(emu)
    assert {Entity.REJECTION, Entity.OUTCOME} <= adapter.capabilities.reads
    assert read_all(adapter, Entity.REJECTION) == []
    assert read_all(adapter, Entity.OUTCOME) == []
    assert adapter.capabilities.handoff_time


def test_leads_read_whole_when_their_history_is_long(emu: SalesforceEmulator) -> None:
    rid = _lead(emu, "Busy", Leadflow_Stage__c="inquiry")
    stages = ["mql", "sal", "recycled", "mql", "sal", "sql"]
    for stage in stages:
        fields: dict[str, Any] = {"Leadflow_Stage__c": stage}
        if stage == "recycled":
            fields["Leadflow_Reject_Code__c"] = "not_ready_to_buy"
        emu.edit("Lead", rid, fields, by=REP)
    [lead] = [v.item for p in make_adapter(emu).read_leads() for v in p.items]
    assert [c.to_stage for c in lead.history] == stages
    assert isinstance(lead, Lead)
    assert lead.handed_off_at == lead.history[3].at, "the latest entry into mql"
    assert [r.code for r in read_all(make_adapter(emu), Entity.REJECTION)] == ["not_ready_to_buy"]


@pytest.mark.parametrize(
    "next_url",
    [
        "@{evil}/services/data/v59.0/query/01g000000000001AAA-7",
        ".evil.example/services/data/v59.0/query/01g000000000001AAA-7",
        "https://{evil}/services/data/v59.0/query/01g000000000001AAA-7",
        "/services/data/v59.0/sobjects/User/005000000000001AAA",
        "/services/data/v59.0/query/01g000000000001AAA-7\n",
        "/services/data/v58.0/query/../../../../x-7",
    ],
)
def test_a_next_records_url_off_the_instance_is_refused_and_never_requested(
    emu: SalesforceEmulator, ca: trustme.CA, tmp_path: Path, next_url: str
) -> None:
    (tmp_path / "evil").mkdir()
    with SalesforceEmulator(ca=ca, cert_dir=tmp_path / "evil") as evil:
        for i in range(10):
            _lead(emu, f"L{i}")
        emu.next_url = next_url.format(evil=evil.url.removeprefix("https://"))
        adapter = make_adapter(emu)
        with pytest.raises(AdapterError, match="refused to follow nextRecordsUrl"):
            list(adapter.read_leads())
        assert evil.total_calls == 0, "the other host got nothing (and no token)"
        assert emu.session_id not in str(evil.log)


def test_the_transport_refuses_any_url_off_the_pinned_instance(
    emu: SalesforceEmulator, ca: trustme.CA, tmp_path: Path
) -> None:
    (tmp_path / "evil").mkdir()
    with SalesforceEmulator(ca=ca, cert_dir=tmp_path / "evil") as evil:
        _lead(emu, "A")
        adapter = make_adapter(emu)
        list(adapter.read_leads())  # logged in: pinned to the instance
        client = adapter._client()
        with pytest.raises(requests.RequestException, match="refused a request"):
            client.session.get(f"{evil.url}/services/data/v59.0/limits/")
        assert evil.total_calls == 0


@pytest.mark.parametrize("version", ["59", "v59.0", "59.0/../../x", "59.0\n", "abc", "5.0"])
def test_the_api_version_setting_is_validated(emu: SalesforceEmulator, version: str) -> None:
    with pytest.raises(ConfigError, match="version"):
        make_adapter(emu, version=version)
    assert make_adapter(emu, version=59.0) is not None


@pytest.mark.parametrize(
    "lead_id",
    ["00Q000000000001AAA\n", "00Q000000000001AA", "00Q00000000000\uff11AAA", "00Q0000000000'1AAA"],
)
def test_lead_ids_are_checked_with_a_full_match(emu: SalesforceEmulator, lead_id: str) -> None:
    [result] = make_adapter(emu).write([ScoreWrite(lead_id=lead_id, score=1.0)])
    assert result.status is WriteStatus.FAILED
    assert "is not a Salesforce record id" in (result.error or "")
    assert emu.queries == [], "it never reached a query"


def test_writes_that_failed_stay_due_until_applied_and_a_second_run_writes_nothing(
    emu: SalesforceEmulator,
) -> None:
    from tests.emulators.salesforce_seed import EmulatorSeeder

    from leadflow.adapters.sqlite import SQLiteAdapter
    from leadflow.adapters.testing import sample_leads
    from leadflow.demo import demo_calendar, demo_policies, demo_scorecard
    from leadflow.job import Job, run, scorecard_scorer

    leads = EmulatorSeeder(emu)(Entity.LEAD, sample_leads(12))
    refused = {leads[2].id, leads[7].id}
    emu.validation_errors.update(refused)
    state = SQLiteAdapter(":memory:")
    adapter = make_adapter(emu)
    # microseconds in `now`: due times are sent finer than Salesforce keeps them
    job = Job(
        name="nightly",
        now=datetime(2026, 3, 9, 12, 0, 0, 654321, tzinfo=UTC),
        scorer=scorecard_scorer(demo_scorecard()),
        policies=demo_policies(),
        calendar=demo_calendar(),
    )

    def once() -> Any:
        return run(
            job,
            adapter,
            cursors=state,
            history=state,
            mirror=state.mirror,
            record=state.write,
        )

    first = once()
    assert {p.write.lead_id for p in first.problems} == refused
    emu.validation_errors.clear()
    second = once()  # the refused leads did not change in Salesforce, yet they are due
    assert second.read["leads"] == 10, "only the leads written back are read again"
    assert second.problems == ()
    assert {k: v.get("applied", 0) for k, v in second.writes.items()}["score"] == 2
    writes = dict(emu.writes)
    third = once()
    assert third.applied == 0, third.writes
    assert dict(emu.writes) == writes, "a third run sends nothing"
    assert max(emu.writes.values()) <= 2  # the score and clock at most, never a resend


def test_pages_shorter_than_the_batch_size_are_followed_to_the_end(
    emu: SalesforceEmulator,
) -> None:
    ids = [_lead(emu, f"Short{i}", Leadflow_Stage__c="mql") for i in range(23)]
    for rid in ids:
        emu.edit(
            "Lead", rid, {"Status": "Closed - Not Converted", "Leadflow_Reject_Code__c": "student"}
        )
    emu.page_sizes = (3, 1, 5)  # every page short of the 7 asked for, done still false
    adapter = make_adapter(emu, page_size=50)
    assert sorted(v.item.id for p in adapter.read_leads() for v in p.items) == sorted(ids)
    assert sorted(r.lead_id for r in read_all(adapter, Entity.REJECTION)) == sorted(ids)
    assert emu.calls["query_more"] >= 8, "the short pages were followed"


def test_owner_history_comes_from_lead_history(emu: SalesforceEmulator) -> None:
    """SLA credit follows the owner at the time (issue 13): a lead reassigned in Salesforce
    reads with who held it when, from the id rows of LeadHistory's Owner changes (the org also
    writes a row with the users' names for each change, which is not an owner id)."""
    rid = _lead(emu, "Moved", OwnerId=REP)
    emu.edit("Lead", rid, {"OwnerId": OTHER_REP}, by=REP)
    adapter = make_adapter(emu)
    [lead] = [v.item for p in adapter.read_leads() for v in p.items if v.item.id == rid]
    assert [c.owner_id for c in lead.owner_history] == [REP, OTHER_REP]
    assert lead.owner_history[0].at == lead.created_at
    assert lead.owner_history[1].by == REP
    assert lead.owner_id == OTHER_REP
    assert lead.owner_at(lead.created_at) == REP
    names = [r for r in emu.records["LeadHistory"].values() if r["Field"] == "Owner"]
    assert len(names) == 2, "the org writes a name row and an id row per owner change"
