"""The Salesforce adapter against the loopback Salesforce emulator: the contract suite, the
mapping, hostile SOQL values, Bulk API 2.0 and the entry point.

The real simple-salesforce client talks HTTPS to ``tests/emulators/salesforce.py``; nothing in
the client is patched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import trustme
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest
from simple_salesforce.format import format_soql
from tests.emulators.salesforce import (
    SalesforceEmulator,
    SoqlError,
    parse_soql,
    stored_stamp,
)
from tests.emulators.salesforce_seed import EmulatorSeeder, make_adapter

from leadflow import adapters
from leadflow.adapters.salesforce import DEFAULT_MAPPING, SalesforceAdapter, _same
from leadflow.adapters.testing import T0, AdapterContract, Seeder, sample_leads
from leadflow.errors import ConfigError, ValidationError
from leadflow.lifecycle import transition
from leadflow.model import Lead
from leadflow.ports import (
    Adapter,
    Cursor,
    Entity,
    OutcomeWrite,
    ScoreWrite,
    SLAWrite,
    StageWrite,
    WriteStatus,
)

HOSTILE = [
    "O'Brien",
    "back\\slash",
    "' OR Name != '",
    "\\' OR Name != \\'",
    'double "quoted"',
    "new\nline\ttab",
    "trailing backslash \\",
]


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def emu(ca: trustme.CA, tmp_path: Path) -> Iterator[SalesforceEmulator]:
    # A small query page size, so reads cross nextRecordsUrl pages in every test.
    with SalesforceEmulator(ca=ca, cert_dir=tmp_path, page_size=7) as emulator:
        yield emulator


def _leads(adapter: SalesforceAdapter, cursor: Cursor | None = None) -> list[Any]:
    return [v for page in adapter.read_leads(cursor) for v in page.items]


class TestSalesforceContract(AdapterContract):
    unsupported_fields = {  # noqa: RUF012 - the contract's class attribute
        Entity.LEAD: frozenset({"campaign", "handed_off_at"}),
        Entity.ACTIVITY: frozenset({"account_id", "channel", "content"}),
    }

    @pytest.fixture
    def adapter(self, emu: SalesforceEmulator) -> Iterator[Adapter]:
        adapter = make_adapter(emu, page_size=5)
        yield adapter
        adapter.close()

    @pytest.fixture
    def reopen(self, emu: SalesforceEmulator) -> Callable[[], Adapter]:
        return lambda: make_adapter(emu, page_size=5)

    @pytest.fixture
    def seed(self, emu: SalesforceEmulator) -> Seeder:
        return EmulatorSeeder(emu)

    @pytest.fixture
    def seed_unreadable(self, emu: SalesforceEmulator) -> Callable[[Entity], str]:
        """A lead the model refuses, as an org may hold one: a malformed e-mail address (a
        data-loaded record; Salesforce's own validation is the org's to configure)."""

        def seed(entity: Entity) -> str:
            assert entity is Entity.LEAD
            return emu.insert(
                "Lead", {"LastName": "Unreadable", "Company": "X", "Email": "not-an-address"}
            )

        return seed

    @pytest.fixture
    def config(self, emu: SalesforceEmulator) -> dict[str, Any]:
        return {
            "instance_url": emu.url,
            "session_id": emu.session_id,
            "ca_bundle": str(emu.ca_path),
        }


class TestSalesforceContractThroughBulk(TestSalesforceContract):
    """The same contract with every write going through one Bulk API 2.0 job."""

    @pytest.fixture
    def adapter(self, emu: SalesforceEmulator) -> Iterator[Adapter]:
        adapter = make_adapter(emu, page_size=5, bulk_threshold=1)
        yield adapter
        adapter.close()

    @pytest.fixture
    def reopen(self, emu: SalesforceEmulator) -> Callable[[], Adapter]:
        return lambda: make_adapter(emu, page_size=5, bulk_threshold=1)


# -- the emulator refuses what it does not understand -----------------------------------------


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_escaped_by_format_soql_match_exactly_one_record(
    emu: SalesforceEmulator, value: str
) -> None:
    target = emu.insert("Lead", {"LastName": value, "Company": "X"})
    emu.insert("Lead", {"LastName": "Someone Else", "Company": "X"})
    session = requests.Session()
    session.verify, session.trust_env = str(emu.ca_path), False
    sf = Salesforce(instance_url=emu.url, session_id=emu.session_id, session=session)
    found = sf.query(format_soql("SELECT Id, LastName FROM Lead WHERE LastName = {}", value))
    assert [target] == [r["Id"] for r in found["records"]]
    assert value == found["records"][0]["LastName"]


def test_unescaped_hostile_value_is_refused_not_widened(emu: SalesforceEmulator) -> None:
    emu.insert("Lead", {"LastName": "A", "Company": "X"})
    session = requests.Session()
    session.verify, session.trust_env = str(emu.ca_path), False
    sf = Salesforce(instance_url=emu.url, session_id=emu.session_id, session=session)
    with pytest.raises(SalesforceMalformedRequest) as info:
        sf.query("SELECT Id FROM Lead WHERE LastName = '' OR Name != ''")
    assert "MALFORMED_QUERY" in str(info.value)
    with pytest.raises(SalesforceMalformedRequest):
        sf.query("SELECT Id FROM Lead WHERE LastName = 'it's'")


@pytest.mark.parametrize(
    "soql",
    [
        "SELECT Id FROM Lead WHERE Name = 'a\\qb'",  # unknown escape
        "SELECT Id FROM Lead WHERE LastName = 'open",  # unterminated
        "SELECT Id FROM Lead WHERE LastName IN ()",  # what format_soql makes of []
        "SELECT Id, Secret__c FROM Lead",  # unknown field
        "SELECT Id FROM Lead LIMIT 1 junk",
    ],
)
def test_emulator_parser_refuses(soql: str) -> None:
    from tests.emulators.salesforce import _STANDARD

    with pytest.raises(SoqlError):
        parse_soql(soql, _STANDARD)


# -- the adapter keeps user values out of SOQL or escapes them ---------------------------------


def test_hostile_lead_id_fails_alone_and_never_reaches_soql(emu: SalesforceEmulator) -> None:
    [good] = EmulatorSeeder(emu)(Entity.LEAD, sample_leads(1))
    adapter = make_adapter(emu)
    writes = [
        ScoreWrite(lead_id="' OR Name != '", score=1.0),
        ScoreWrite(lead_id=good.id, score=2.0),
        ScoreWrite(lead_id="00Q000000000001AA'", score=3.0),
    ]
    results = adapter.write(writes)
    assert [r.status for r in results] == [
        WriteStatus.FAILED,
        WriteStatus.APPLIED,
        WriteStatus.FAILED,
    ]
    assert "' OR Name != '" in (results[0].error or "")
    assert emu.get("Lead", good.id)["Leadflow_Score__c"] == 2.0
    assert emu.queries, "the queries were recorded"
    assert all("OR Name" not in soql for soql in emu.queries)


def test_hostile_cursor_token_is_compared_not_queried(emu: SalesforceEmulator) -> None:
    seeder = EmulatorSeeder(emu)
    seeder(Entity.LEAD, sample_leads(3))
    adapter = make_adapter(emu)
    first = _leads(adapter)
    stamp = first[0].version
    hostile = Cursor(entity=Entity.LEAD, token=f"{stamp.replace('+0000', 'Z')}|' OR Name != '")
    # An old-style "<stamp>|<id>" token is read as its whole second, so the record at that
    # stamp comes again, and the later ones too; the id never reaches a query.
    rest = _leads(adapter, hostile)
    assert [v.item.id for v in first] == [v.item.id for v in rest]
    later = Cursor(entity=Entity.LEAD, token=f"{stamp.replace('+0000', 'Z')}|~' OR Name != '")
    assert [v.item.id for v in first] == [v.item.id for v in _leads(adapter, later)]
    forged = Cursor(entity=Entity.LEAD, token=f"s1|{stamp[:19]}Z|' OR Name != ':0123456789")
    with pytest.raises(ValidationError, match=r"cursor\.token"):
        _leads(adapter, forged)
    assert emu.queries, "the queries were recorded"
    assert all("OR Name" not in soql for soql in emu.queries)
    with pytest.raises(ValidationError, match=r"cursor\.token"):
        _leads(adapter, Cursor(entity=Entity.LEAD, token="yesterday|' OR Name != '"))


def test_mapping_refuses_a_field_name_that_is_not_an_identifier() -> None:
    with pytest.raises(ConfigError, match="letters, digits"):
        DEFAULT_MAPPING.override(
            {"fields": {"writeback": {"score": "Score__c FROM Lead WHERE Name != ''"}}}
        )


def test_overrides_are_fields_and_stages_settings_like_every_adapter() -> None:
    adapter = SalesforceAdapter.from_config(
        {
            "instance_url": "https://acme.my.salesforce.com",
            "session_id": "00D000000000001!token",
            "fields": {"writeback": {"recommendation": "Next_Step__c"}},
            "stages": {"mql": "Marketing Qualified"},
            "touch_kinds": {"Video Call": "meeting"},
        }
    )
    mapping = adapter.mapping
    assert (
        mapping.fields.crm_field("writeback", "recommendation"),
        mapping.fields.stages.to_crm("mql"),
        mapping.touch_kinds["Video Call"],
    ) == ("Next_Step__c", "Marketing Qualified", "meeting")
    adapter.close()


@pytest.mark.parametrize(
    ("options", "path", "problem"),
    [
        ({"mapping": {"fields": {}}}, "mapping", "directly in the adapter's settings"),
        ({"fields": {"laed": {"email": "Email"}}}, "fields.laed", "unknown entity"),
        ({"fields": {"writeback": {"scroe": "S__c"}}}, "fields.writeback.scroe", "unknown field"),
        (
            {"fields": {"lead": {"email": {"crm": "Email", "conv": "str"}}}},
            "fields.lead.email.conv",
            "unknown key",
        ),
        ({"stages": {"mql": 3}}, "stages.mql", "CRM status string"),
        ({"touch_kinds": {"Call": ""}}, "touch_kinds.Call", "non-empty string"),
    ],
)
def test_a_bad_override_names_its_key(options: dict[str, Any], path: str, problem: str) -> None:
    config = {"instance_url": "https://acme.my.salesforce.com", "session_id": "00D!x", **options}
    with pytest.raises(ConfigError, match=problem) as caught:
        SalesforceAdapter.from_config(config)
    assert path == caught.value.path


def test_empty_write_and_empty_org_issue_no_invalid_in_list(emu: SalesforceEmulator) -> None:
    adapter = make_adapter(emu)
    assert adapter.write([]) == []
    assert _leads(adapter) == []
    assert emu.calls["collections"] == 0
    assert emu.calls["query"] == 1  # the read; the empty write queried nothing


# -- mapping -------------------------------------------------------------------------------


def test_lead_fields_map_both_ways(emu: SalesforceEmulator) -> None:
    rid = emu.insert(
        "Lead",
        {
            "FirstName": "Ada",
            "LastName": "Lovelace",
            "Email": "Ada@Example.com",
            "Company": "Analytical Engines",
            "NumberOfEmployees": 12,
            "AnnualRevenue": 1500000.0,
            "Status": "Working - Contacted",
        },
        created=T0,
    )
    [read] = _leads(make_adapter(emu))
    lead = read.item
    assert (rid, "ada@example.com", 12, 1500000.0, T0) == (
        lead.id,
        lead.email,
        lead.employees,
        lead.annual_revenue,
        lead.created_at,
    )
    assert lead.stage == "sal", "Status is read as a stage when Leadflow_Stage__c is empty"
    assert read.version == emu.get("Lead", rid)["SystemModstamp"]


def test_converted_lead_reads_as_opportunity_and_an_unknown_status_is_reported(
    emu: SalesforceEmulator,
) -> None:
    a = emu.insert("Lead", {"LastName": "A", "Company": "X", "IsConverted": True})
    b = emu.insert("Lead", {"LastName": "B", "Company": "X", "Status": "Nurture"})
    pages = list(make_adapter(emu).read_leads())
    stages = {v.item.id: v.item.stage for p in pages for v in p.items}
    assert {a: "opportunity"} == stages
    [error] = [e for p in pages for e in p.errors]
    assert error.record_id == b and "'Nurture' maps to no stage" in error.error


def test_mapping_override_renames_custom_fields(ca: trustme.CA, tmp_path: Path) -> None:
    custom = {
        "Lead_Score__c": "double",
        "Lead_Stage__c": "string",
        "Leadflow_SLA_Due__c": "datetime",
    }
    with SalesforceEmulator(ca=ca, cert_dir=tmp_path, custom_fields=custom) as emu:
        rid = emu.insert("Lead", {"LastName": "A", "Company": "X", "Lead_Stage__c": "mql"})
        fields = {
            "writeback": {
                "score": "Lead_Score__c",
                "stage": "Lead_Stage__c",
                "score_summary": "",
                "reject_code": "",
                "reject_note": "",
                "sla_state": "",
                "handoff": "",
            }
        }
        adapter = make_adapter(emu, fields=fields)
        [read] = _leads(adapter)
        assert read.item.stage == "mql"
        [result] = adapter.write([ScoreWrite(lead_id=rid, score=55.556, summary="ignored")])
        assert result.status is WriteStatus.APPLIED
        assert emu.get("Lead", rid)["Lead_Score__c"] == 55.56


def test_writing_a_field_the_org_lacks_fails_per_record_with_salesforce_error(
    ca: trustme.CA, tmp_path: Path
) -> None:
    with SalesforceEmulator(ca=ca, cert_dir=tmp_path, custom_fields={}) as emu:
        rid = emu.insert("Lead", {"LastName": "A", "Company": "X"})
        adapter = make_adapter(emu)
        with pytest.raises(Exception, match="INVALID_FIELD"):
            _leads(adapter)  # the default mapping selects Leadflow_Stage__c
        [result] = adapter.write([ScoreWrite(lead_id=rid, score=1.0)])
        assert result.status is WriteStatus.FAILED
        assert "INVALID_FIELD" in (result.error or "")


def test_stage_without_a_status_leaves_status_alone(emu: SalesforceEmulator) -> None:
    [lead] = EmulatorSeeder(emu)(Entity.LEAD, sample_leads(1))
    adapter = make_adapter(emu)
    [read] = _leads(adapter)
    at = T0 + timedelta(days=1)
    mql = transition(read.item, "mql", at=at)
    sal = transition(mql, "sal", at=at)
    assert adapter.write([StageWrite(lead_id=lead.id, change=mql.history[-1])])[0].ok
    assert emu.get("Lead", lead.id)["Status"] == "Open - Not Contacted"
    assert adapter.write([StageWrite(lead_id=lead.id, change=sal.history[-1])])[0].ok
    record = emu.get("Lead", lead.id)
    assert (record["Leadflow_Stage__c"], record["Status"]) == ("sal", "Working - Contacted")


def test_outcome_writes_are_refused_per_write(emu: SalesforceEmulator) -> None:
    from leadflow.outcomes import Outcome

    [lead] = EmulatorSeeder(emu)(Entity.LEAD, sample_leads(1))
    write = OutcomeWrite(outcome=Outcome(lead_id=lead.id, kind="evaluating", at=T0))
    [result] = make_adapter(emu).write([write])
    assert result.status is WriteStatus.FAILED
    assert "outcome" in (result.error or "")


def test_touch_kinds_and_outcomes_and_foreign_tasks(emu: SalesforceEmulator) -> None:
    [lead] = EmulatorSeeder(emu)(Entity.LEAD, sample_leads(1))
    call = emu.insert(
        "Task",
        {
            "WhoId": lead.id,
            "TaskSubtype": "Call",
            "CallDisposition": "Left Voicemail",
            "OwnerId": "005000000000001AAA",
            "Status": "Completed",
        },
    )
    email = emu.insert(
        "Task",
        {"WhoId": lead.id, "TaskSubtype": "Email", "Status": "Completed", "OwnerId": "005A"},
    )
    todo = emu.insert(
        "Task",
        {"WhoId": lead.id, "TaskSubtype": "Task", "Status": "Not Started", "OwnerId": "005A"},
    )
    emu.insert("Task", {"WhoId": "003000000000001AAA", "TaskSubtype": "Call", "OwnerId": "005A"})
    touches = {v.item.id: v.item for p in make_adapter(emu).read_touches() for v in p.items}
    assert {call, email, todo} == set(touches)
    assert (touches[call].kind, touches[call].outcome) == ("call", "left_voicemail")
    assert (touches[email].kind, touches[email].outcome) == ("email", "sent")
    assert (touches[todo].kind, touches[todo].outcome) == ("task", "attempted")


def test_campaign_members_become_activities(emu: SalesforceEmulator) -> None:
    [lead] = EmulatorSeeder(emu)(Entity.LEAD, sample_leads(1))
    attended = emu.insert("CampaignMember", {"LeadId": lead.id, "Status": "Attended"})
    responded = emu.insert(
        "CampaignMember", {"LeadId": lead.id, "Status": "Liked Post", "HasResponded": True}
    )
    emu.insert("CampaignMember", {"LeadId": lead.id, "Status": "Sent"})  # no engagement
    emu.insert("CampaignMember", {"ContactId": "003000000000001AAA", "Status": "Attended"})
    read = {v.item.id: v.item.kind for p in make_adapter(emu).read_activities() for v in p.items}
    assert {attended: "webinar_attended", responded: "campaign_response"} == read


# -- Bulk API 2.0 --------------------------------------------------------------------------


def test_bulk_path_above_threshold_reports_per_record(emu: SalesforceEmulator) -> None:
    leads = EmulatorSeeder(emu)(Entity.LEAD, sample_leads(12))
    adapter = make_adapter(emu, bulk_threshold=10)
    read = {v.item.id: v for v in _leads(adapter)}
    emu.validation_errors.add(leads[3].id)
    writes = [
        SLAWrite(
            lead_id=lead.id,
            due_at=T0 + timedelta(hours=i, milliseconds=250),
            state="pending",
            expected_version=read[lead.id].version,
        )
        for i, lead in enumerate(leads)
    ]
    emu.reset_counts()
    results = adapter.write(writes)
    assert emu.calls["bulk2_post"] == 1, "one job"
    assert emu.calls["collections"] == 0
    statuses = [r.status for r in results]
    assert statuses.count(WriteStatus.APPLIED) == 11
    assert results[3].status is WriteStatus.FAILED
    assert "FIELD_CUSTOM_VALIDATION_EXCEPTION" in (results[3].error or "")
    # A datetime field keeps whole seconds: the 250 ms are gone once stored.
    assert emu.get("Lead", leads[5].id)["Leadflow_SLA_Due__c"] == "2026-03-02T14:00:00.000+0000"
    emu.validation_errors.clear()
    again = [r.status for r in adapter.write(writes)]
    # the refused record kept its stamp, so its write now applies; the rest are in place
    assert WriteStatus.APPLIED is again.pop(3)
    assert again == [WriteStatus.UNCHANGED] * 11


# -- configuration and the entry point ---------------------------------------------------------


def test_loaded_through_the_entry_point(emu: SalesforceEmulator) -> None:
    info = adapters.available()["salesforce"]
    assert info.target == "leadflow.adapters.salesforce:SalesforceAdapter"
    assert info.capabilities() == SalesforceAdapter.capabilities
    adapter = adapters.load(
        "salesforce",
        instance_url=emu.url,
        access_token=emu.session_id,
        ca_bundle=str(emu.ca_path),
    )
    try:
        assert isinstance(adapter, Adapter)
        assert [v for p in adapter.read_accounts() for v in p.items] == []
    finally:
        adapter.close()


def test_ca_bundle_wins_over_requests_ca_bundle_in_the_environment(
    emu: SalesforceEmulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    wrong = trustme.CA()
    bad = tmp_path / "wrong-ca.pem"
    wrong.cert_pem.write_to_path(str(bad))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bad))
    assert _leads(make_adapter(emu)) == []


@pytest.mark.parametrize(
    ("config", "path"),
    [
        (
            {
                "instance_url": "https://x.my.salesforce.com",
                "session_id": "00Dx!SECRET-TOKEN",
                "page_size": 0,
            },
            "page_size",
        ),
        (
            {
                "instance_url": "https://x.my.salesforce.com",
                "session_id": "00Dx!SECRET-TOKEN",
                "timeout": -1,
            },
            "timeout",
        ),
        (
            {
                "instance_url": "https://x.my.salesforce.com",
                "session_id": "00Dx!SECRET-TOKEN",
                "colour": 1,
            },
            "colour",
        ),
        (
            {
                "instance_url": "https://x.my.salesforce.com",
                "session_id": "00Dx!SECRET-TOKEN",
                "retry": 3,
            },
            "retry",
        ),
        ({"username": "u", "password": "SECRET-TOKEN"}, "salesforce"),
    ],
)
def test_bad_configuration_names_the_option(config: dict[str, Any], path: str) -> None:
    with pytest.raises(ConfigError) as info:
        SalesforceAdapter.from_config(config)
    assert path == info.value.path
    assert "SECRET-TOKEN" not in str(info.value)


def test_reads_are_paged_through_next_records_url(emu: SalesforceEmulator) -> None:
    EmulatorSeeder(emu)(Entity.LEAD, sample_leads(20))
    emu.reset_counts()
    pages = list(make_adapter(emu, page_size=6).read_leads())
    assert [len(p.items) for p in pages] == [6, 6, 6, 2]
    lead_queries = [q for q in emu.queries if " FROM Lead " in q]
    history = [q for q in emu.queries if " FROM LeadHistory " in q]
    assert (len(lead_queries), emu.calls["query_more"]) == (1, 2)  # 20 records, 7 a page
    assert len(history) == 4, "each page's LeadHistory in one query"
    ids = [v.item.id for p in pages for v in p.items]
    assert ids == sorted(ids)


def test_lead_model_round_trip_helper_is_public(emu: SalesforceEmulator) -> None:
    adapter = make_adapter(emu)
    record = {
        "Id": "00Q000000000777AAA",
        "CreatedDate": "2026-03-02T09:00:00.000+0000",
        "Email": "x@example.com",
        "Leadflow_Stage__c": "sql",
    }
    lead = adapter.lead_from_record(record)
    assert isinstance(lead, Lead)
    assert (lead.stage, lead.created_at) == ("sql", T0)


# -- properties ------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    )
)
def test_a_datetime_written_then_stored_compares_as_unchanged(at: datetime) -> None:
    sent = DEFAULT_MAPPING.fields.to_crm("writeback", {"sla_due": at})["Leadflow_SLA_Due__c"]
    stored = stored_stamp(at)  # what Salesforce (and the emulator) keep: whole seconds
    assert _same(stored, sent)
    assert not _same(stored_stamp(at + timedelta(seconds=1)), sent)


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    count=st.integers(min_value=1, max_value=25),
    page_size=st.integers(min_value=1, max_value=7),
    server_page=st.integers(min_value=1, max_value=9),
    rewritten=st.sets(st.integers(min_value=0, max_value=24), max_size=12),
)
def test_every_page_cursor_resumes_exactly_after_its_page_even_when_stamps_are_shared(
    ca: trustme.CA,
    tmp_path: Path,
    *,
    count: int,
    page_size: int,
    server_page: int,
    rewritten: set[int],
) -> None:
    with SalesforceEmulator(ca=ca, cert_dir=tmp_path, page_size=server_page) as emu:
        leads = EmulatorSeeder(emu)(Entity.LEAD, sample_leads(count))
        adapter = make_adapter(emu, page_size=page_size)
        # one collection call: every rewritten lead gets the same SystemModstamp
        chosen = [leads[i] for i in sorted(rewritten) if i < count]
        assert all(
            r.ok for r in adapter.write([ScoreWrite(lead_id=x.id, score=1.0) for x in chosen])
        )
        pages = list(adapter.read_leads())
        items = [(v.version, v.item.id) for p in pages for v in p.items]
        assert sorted(i for _v, i in items) == sorted(lead.id for lead in leads)
        assert items == sorted(items)
        seen = 0
        for page in pages:
            seen += len(page.items)
            rest = [
                (v.version, v.item.id) for p in adapter.read_leads(page.cursor) for v in p.items
            ]
            assert rest == items[seen:]


def test_the_adapter_never_uses_the_literal_format_spec() -> None:
    import inspect

    import leadflow.adapters.salesforce as module

    source = inspect.getsource(module)
    assert ":literal}" not in source, "{:literal} bypasses format_soql's escaping"
    assert "format_soql(" in source


def test_large_batches_read_back_by_stamp_scan_and_fall_back_to_ids(
    emu: SalesforceEmulator,
) -> None:
    leads = EmulatorSeeder(emu)(Entity.LEAD, sample_leads(30))
    adapter = make_adapter(emu, scan_threshold=5)
    read = {v.item.id: v for v in _leads(adapter)}
    emu.edit("Lead", leads[2].id, {"Title": "Changed in Salesforce"})  # now the newest stamp
    writes = [
        ScoreWrite(lead_id=lead.id, score=50.0, expected_version=read[lead.id].version)
        for lead in leads[:10]
    ]
    emu.reset_counts()
    results = adapter.write(writes)
    statuses = [r.status for r in results]
    assert statuses.pop(2) is WriteStatus.CONFLICT
    assert statuses == [WriteStatus.APPLIED] * 9
    # the scan stops after 2 x 10 records (3 pages of 7); the edited lead, beyond it, is
    # looked up by id
    assert (emu.calls["query"], emu.calls["query_more"], emu.calls["collections"]) == (2, 2, 1)
    assert "WHERE SystemModstamp >= 2026-" in emu.queries[0]
    assert f"WHERE Id IN ('{leads[2].id}')" in emu.queries[1]
    again = [r.status for r in adapter.write(writes)]
    assert again.pop(2) is WriteStatus.CONFLICT
    assert again == [WriteStatus.UNCHANGED] * 9


def test_a_record_the_model_refuses_is_skipped_with_a_warning_naming_it(
    emu: SalesforceEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    good = emu.insert("Lead", {"LastName": "Good", "Company": "X"})
    bad = emu.insert("Lead", {"LastName": "Bad", "Company": "X", "NumberOfEmployees": -5})
    later = emu.insert("Lead", {"LastName": "Later", "Company": "X"})
    pages = list(make_adapter(emu).read_leads())
    assert [v.item.id for p in pages for v in p.items] == [good, later]
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any(bad in w and "employees" in w for w in warnings), warnings
    errors = [e for p in pages for e in p.errors]
    assert [(e.entity, e.record_id) for e in errors] == [(Entity.LEAD, bad)]
    assert "employees" in errors[0].error
