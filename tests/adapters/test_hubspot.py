"""The HubSpot adapter against the loopback emulator, through the real hubspot-api-client:
the adapter contract suite, the lifecycle-stage rules, touches, mapping overrides, secrets."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest
from tests.adapters import hubspot_fixtures as fx
from tests.emulators.hubspot import HubSpotEmulator

from leadflow import adapters
from leadflow.adapters.hubspot import HubSpotAdapter
from leadflow.adapters.testing import AdapterContract, Seeder
from leadflow.errors import AuthenticationError, ConfigError
from leadflow.lifecycle import transition
from leadflow.model import Lead
from leadflow.ports import Adapter, Entity, ScoreWrite, SLAWrite, StageWrite, WriteStatus

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

# The shared fixtures, made visible to pytest in this module.
emulator = fx.emulator
make_adapter = fx.make_adapter
slept = fx.slept


class TestHubSpotContract(AdapterContract):
    """The contract every adapter passes, with small search pages so paging is exercised."""

    unsupported_fields: ClassVar[dict[Entity, frozenset[str]]] = {
        # HubSpot has no campaign or hand-off property on contacts by default; leadflow's own
        # custom properties and HubSpot's raw stage values come back in ``properties``.
        Entity.LEAD: frozenset({"campaign", "handed_off_at", "properties"}),
        # Outcomes are engagement-type specific in HubSpot (a call has no "sent"); the mapping
        # is tested on its own below.
        Entity.TOUCH: frozenset({"outcome"}),
        # Activities are read from contact property histories (a conversion's name and when
        # it happened); the seeder records each as a conversion named after its kind.
        Entity.ACTIVITY: frozenset({"account_id", "channel", "campaign", "content", "properties"}),
    }
    #: Conversions named after the sample kinds read as those kinds.
    activities: ClassVar[dict[str, Any]] = {
        "conversion_kinds": {
            k: k for k in ("web_visit", "content_download", "webinar_attended", "demo_request")
        }
    }

    @pytest.fixture
    def adapter(self, make_adapter: Callable[..., HubSpotAdapter]) -> Adapter:
        return make_adapter(page_size=7, activities=self.activities)

    @pytest.fixture
    def reopen(self, make_adapter: Callable[..., HubSpotAdapter]) -> Callable[[], Adapter]:
        return lambda: make_adapter(page_size=7, activities=self.activities)

    @pytest.fixture
    def seed(self, emulator: HubSpotEmulator) -> Seeder:
        return fx.seed_into(emulator)

    @pytest.fixture
    def seed_unreadable(self, emulator: HubSpotEmulator) -> Callable[[Entity], str]:
        """A contact whose e-mail the model refuses, as a portal may hold one."""

        def seed(entity: Entity) -> str:
            assert entity is Entity.LEAD
            return emulator.seed("contacts", [{"email": "not-an-address"}])[0]

        return seed

    @pytest.fixture
    def config(self, emulator: HubSpotEmulator) -> dict[str, Any]:
        return {"access_token": emulator.token, "host": emulator.url}


def _contacts(emulator: HubSpotEmulator, count: int, **props: Any) -> list[str]:
    return emulator.seed(
        "contacts",
        [
            {
                "email": f"p{i}@example.com",
                "createdate": T0,
                "lifecyclestage": "lead",
                "hs_lead_status": "NEW",
                **props,
            }
            for i in range(count)
        ],
    )


def _lead(adapter: HubSpotAdapter, contact_id: str) -> tuple[Lead, str]:
    for page in adapter.read_leads():
        for item in page.items:
            if item.item.id == contact_id:
                return item.item, item.version
    raise AssertionError(f"contact {contact_id} not read")


def test_registered_under_the_entry_point() -> None:
    info = adapters.available()["hubspot"]
    assert info.target == "leadflow.adapters.hubspot:HubSpotAdapter"
    assert adapters.load_factory("hubspot") is HubSpotAdapter


def test_loaded_by_name_from_config(emulator: HubSpotEmulator) -> None:
    [cid] = _contacts(emulator, 1)
    adapter = adapters.load("hubspot", access_token=emulator.token, host=emulator.url)
    try:
        leads = [v.item for p in adapter.read_leads() for v in p.items]
    finally:
        adapter.close()
    assert [cid] == [lead.id for lead in leads]


def test_recycle_moves_lifecyclestage_backwards_by_clearing_it_first(
    emulator: HubSpotEmulator, make_adapter: Callable[..., HubSpotAdapter]
) -> None:
    [cid] = _contacts(
        emulator, 1, lifecyclestage="salesqualifiedlead", hs_lead_status="IN_PROGRESS"
    )
    adapter = make_adapter()
    lead, version = _lead(adapter, cid)
    assert lead.stage == "sql"
    recycled = transition(lead, "recycled", at=T0 + timedelta(days=3), by="u-ana")
    updates_before = emulator.calls["POST /crm/v3/objects/{type}/batch/update"]
    [result] = adapter.write(
        [StageWrite(lead_id=cid, change=recycled.history[-1], expected_version=version)]
    )
    assert result.status is WriteStatus.APPLIED, result.error
    assert {k: emulator.get("contacts", cid)[k] for k in ("lifecyclestage", "hs_lead_status")} == {
        "lifecyclestage": "lead",
        "hs_lead_status": "BAD_TIMING",
    }
    # two updates (clear, then set), reported as one result carrying the final version
    assert emulator.calls["POST /crm/v3/objects/{type}/batch/update"] - updates_before == 2
    assert result.version == emulator.get("contacts", cid)["lastmodifieddate"]
    again = _lead(adapter, cid)[0]
    assert again.stage == "recycled"
    # Read back from the property histories: one move, at leadflow's instant — the cleared
    # stage between the two updates is not a stop in "no stage" (which would read as inquiry).
    assert [(c.from_stage, c.to_stage, c.at) for c in again.history] == [
        ("sql", "recycled", T0 + timedelta(days=3))
    ]


def test_emulator_ignores_a_backwards_move_that_was_not_cleared(
    emulator: HubSpotEmulator,
) -> None:
    """The HubSpot behaviour the clear-first write exists for, shown through the real client."""
    from hubspot import HubSpot
    from hubspot.crm.objects import (
        BatchInputSimplePublicObjectBatchInput,
        SimplePublicObjectBatchInput,
    )

    [cid] = _contacts(emulator, 1, lifecyclestage="opportunity")
    client = HubSpot(access_token=emulator.token, host=emulator.url, retry=False)
    client.crm.objects.batch_api.update(
        "contacts",
        BatchInputSimplePublicObjectBatchInput(
            inputs=[SimplePublicObjectBatchInput(id=cid, properties={"lifecyclestage": "lead"})]
        ),
        _request_timeout=5,
    )
    assert emulator.get("contacts", cid)["lifecyclestage"] == "opportunity"


def test_forward_move_is_one_update(
    emulator: HubSpotEmulator, make_adapter: Callable[..., HubSpotAdapter]
) -> None:
    [cid] = _contacts(emulator, 1)
    adapter = make_adapter()
    lead, version = _lead(adapter, cid)
    moved = transition(lead, "mql", at=T0 + timedelta(days=1))
    [result] = adapter.write(
        [StageWrite(lead_id=cid, change=moved.history[-1], expected_version=version)]
    )
    assert result.status is WriteStatus.APPLIED
    assert emulator.calls["POST /crm/v3/objects/{type}/batch/update"] == 1
    assert emulator.get("contacts", cid)["lifecyclestage"] == "marketingqualifiedlead"


def test_per_record_validation_error_fails_that_write_alone(
    emulator: HubSpotEmulator, make_adapter: Callable[..., HubSpotAdapter]
) -> None:
    ids = _contacts(emulator, 3)
    emulator.reject("contacts", ids[1], 'Property "leadflow_score" must be between 0 and 100')
    adapter = make_adapter()
    writes = [ScoreWrite(lead_id=i, score=50.0, summary="fit") for i in ids]
    results = adapter.write(writes)
    assert [r.status for r in results] == [
        WriteStatus.APPLIED,
        WriteStatus.FAILED,
        WriteStatus.APPLIED,
    ]
    assert "must be between 0 and 100" in (results[1].error or "")
    assert emulator.get("contacts", ids[0])["leadflow_score"] == "50"
    assert emulator.get("contacts", ids[1]).get("leadflow_score") is None


def test_sla_write_round_trips_as_a_datetime_property(
    emulator: HubSpotEmulator, make_adapter: Callable[..., HubSpotAdapter]
) -> None:
    [cid] = _contacts(emulator, 1)
    adapter = make_adapter()
    due = datetime(2026, 3, 3, 13, 0, tzinfo=UTC)
    [first] = adapter.write([SLAWrite(lead_id=cid, due_at=due, state="pending")])
    [again] = adapter.write([SLAWrite(lead_id=cid, due_at=due, state="pending")])
    assert (first.status, again.status) == (WriteStatus.APPLIED, WriteStatus.UNCHANGED)
    lead, _ = _lead(adapter, cid)
    assert lead.properties["sla_due"] == "2026-03-03T13:00:00.000Z"
    assert lead.properties["sla_state"] == "pending"


def test_touches_map_engagement_outcomes_and_owners(
    emulator: HubSpotEmulator, make_adapter: Callable[..., HubSpotAdapter]
) -> None:
    [cid] = _contacts(emulator, 1)
    at = T0 + timedelta(hours=2)
    calls = emulator.seed(
        "calls",
        [
            {
                "hs_timestamp": at,
                "hubspot_owner_id": "42",
                "hs_call_title": "Intro",
                "hs_call_disposition": "f240bbac-87c9-4f6e-bf70-924b57d47db7",
            },
            {"hs_timestamp": at, "hubspot_owner_id": "42", "hs_call_status": "NO_ANSWER"},
        ],
    )
    emails = emulator.seed(
        "emails",
        [
            {"hs_timestamp": at, "hubspot_owner_id": "7", "hs_email_direction": "INCOMING_EMAIL"},
            {"hs_timestamp": at, "hubspot_owner_id": "7", "hs_email_status": "BOUNCED"},
        ],
    )
    [meeting] = emulator.seed(
        "meetings",
        [{"hs_timestamp": at, "hubspot_owner_id": "7", "hs_meeting_outcome": "SCHEDULED"}],
    )
    [orphan] = emulator.seed("tasks", [{"hs_timestamp": at, "hs_task_status": "COMPLETED"}])
    for object_type, ids in (("calls", calls), ("emails", emails), ("meetings", [meeting])):
        for i in ids:
            emulator.associate(object_type, i, "contacts", cid)
    touches = {v.item.id: v.item for p in make_adapter().read_touches() for v in p.items}
    assert {k: (t.kind.value, t.outcome.value, t.by) for k, t in touches.items()} == {
        f"calls/{calls[0]}/{cid}": ("call", "connected", "42"),
        f"calls/{calls[1]}/{cid}": ("call", "no_answer", "42"),
        f"emails/{emails[0]}/{cid}": ("email", "replied", "7"),
        f"emails/{emails[1]}/{cid}": ("email", "bounced", "7"),
        f"meetings/{meeting}/{cid}": ("meeting", "meeting_booked", "7"),
    }
    assert not any(k.startswith(f"tasks/{orphan}") for k in touches), (
        "an engagement on no contact is no lead's touch"
    )
    assert all(t.lead_id == cid and t.at == at for t in touches.values())


def test_leads_carry_their_primary_company(
    emulator: HubSpotEmulator, make_adapter: Callable[..., HubSpotAdapter]
) -> None:
    [company] = emulator.seed("companies", [{"name": "Example Ltd", "domain": "example.com"}])
    [cid] = _contacts(emulator, 1)
    emulator.associate("contacts", cid, "companies", company)
    lead, _ = _lead(make_adapter(), cid)
    assert lead.account_id == company


def test_field_map_override_from_config(
    emulator: HubSpotEmulator, make_adapter: Callable[..., HubSpotAdapter]
) -> None:
    emulator.define_property("contacts", "lead_grade", "persona_title")
    [cid] = _contacts(emulator, 1, persona_title="Head of Platform", jobtitle="ignored")
    adapter = make_adapter(
        fields={"writeback": {"score": "lead_grade"}, "lead": {"title": "persona_title"}}
    )
    lead, _ = _lead(adapter, cid)
    assert lead.title == "Head of Platform"
    [result] = adapter.write([ScoreWrite(lead_id=cid, score=88.0)])
    assert result.status is WriteStatus.APPLIED
    assert emulator.get("contacts", cid)["lead_grade"] == "88"
    assert emulator.get("contacts", cid).get("leadflow_score") is None


def test_unmapped_stage_fails_before_anything_is_sent(
    emulator: HubSpotEmulator, make_adapter: Callable[..., HubSpotAdapter]
) -> None:
    [cid] = _contacts(emulator, 1)
    adapter = make_adapter(stages={"mql": ""})
    lead, _ = _lead(adapter, cid)
    moved = transition(lead, "mql", at=T0 + timedelta(days=1))
    before = emulator.total_calls
    [result] = adapter.write([StageWrite(lead_id=cid, change=moved.history[-1])])
    assert result.status is WriteStatus.FAILED
    assert "stages.mql" in (result.error or "")
    assert emulator.total_calls == before


def test_config_errors_name_the_key() -> None:
    with pytest.raises(ConfigError, match="access_token"):
        HubSpotAdapter.from_config({"host": "http://127.0.0.1:9"})
    with pytest.raises(ConfigError, match="acces_token"):
        HubSpotAdapter.from_config({"acces_token": "x"})


@pytest.mark.parametrize(
    ("options", "path", "problem"),
    [
        ({"fields": {"contact": {"email": "email"}}}, "fields.contact", "unknown entity"),
        ({"fields": {"writeback": {"scroe": "x"}}}, "fields.writeback.scroe", "unknown field"),
        ({"fields": {"lead": {"Title": "jobtitle"}}}, "fields.lead.Title", "did you mean 'title'"),
        ({"fields": {"lead": {"titel": "jobtitle"}}}, "fields.lead.titel", "did you mean 'title'"),
        ({"fields": {"account": {"stage": "x"}}}, "fields.account.stage", "unknown field"),
        ({"stages": {"mql": ["x"]}}, "stages.mql", "CRM status string"),
        ({"mapping": {"fields": {}}}, "mapping", "unknown key"),
    ],
)
def test_a_bad_override_names_its_key(options: dict[str, Any], path: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem) as caught:
        HubSpotAdapter.from_config({"access_token": "x", "host": "http://127.0.0.1:9", **options})
    assert path == caught.value.path


def test_token_from_environment(monkeypatch: pytest.MonkeyPatch, emulator: HubSpotEmulator) -> None:
    monkeypatch.setenv("LEADFLOW_TEST_HUBSPOT_TOKEN", emulator.token)
    adapter = HubSpotAdapter.from_config(
        {"access_token_env": "LEADFLOW_TEST_HUBSPOT_TOKEN", "host": emulator.url}
    )
    try:
        assert list(adapter.read_leads()) == []
    finally:
        adapter.close()


def test_token_never_in_repr_logs_or_errors(
    emulator: HubSpotEmulator,
    make_adapter: Callable[..., HubSpotAdapter],
    caplog: pytest.LogCaptureFixture,
) -> None:
    _contacts(emulator, 2)
    adapter = make_adapter()
    token = emulator.token
    assert token not in repr(adapter)
    assert token not in str(vars(adapter).get("_secrets"))
    caplog.set_level(logging.DEBUG)
    emulator.fail_next("503", times=2)
    emulator.fail_next("drop")
    list(adapter.read_leads())
    emulator.expire_token()
    with pytest.raises(AuthenticationError) as info:
        list(adapter.read_leads())
    text = " ".join([str(info.value), repr(info.value), *(r.getMessage() for r in caplog.records)])
    assert "expired" in str(info.value)
    assert token not in text
    assert caplog.records, "the retries were logged"
    assert not any(token in str(getattr(r, "args", "")) for r in caplog.records)


def test_expired_token_is_an_authentication_error_not_retried(
    emulator: HubSpotEmulator, make_adapter: Callable[..., HubSpotAdapter], slept: list[float]
) -> None:
    [cid] = _contacts(emulator, 1)
    adapter = make_adapter()
    emulator.fail_next("401")
    with pytest.raises(AuthenticationError, match="EXPIRED_AUTHENTICATION"):
        adapter.write([ScoreWrite(lead_id=cid, score=1.0)])
    assert slept == []
    assert emulator.total_calls == 1


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("page_size", 500),
        ("page_size", "200"),
        ("timeout", 0),
        ("associations", "yes"),
        ("lifecycle_order", "lead,customer"),
        ("retry", {"max_atempts": 3}),
    ],
)
def test_bad_settings_are_config_errors_naming_the_key(key: str, value: Any) -> None:
    with pytest.raises(ConfigError, match=key.split("_", maxsplit=1)[0]):
        HubSpotAdapter.from_config({"access_token": "pat-x", key: value})


def test_api_objects_are_cached_so_connections_are_reused(
    emulator: HubSpotEmulator, make_adapter: Callable[..., HubSpotAdapter]
) -> None:
    """hubspot-api-client builds a new client and pool on every attribute access; the adapter
    builds each API object once, so a long read keeps one connection per API."""
    _contacts(emulator, 60)
    adapter = make_adapter(page_size=5)
    assert len(list(adapter.read_leads())) >= 12
    assert emulator.calls["POST /crm/v3/objects/{type}/search"] >= 12
    assert emulator.connections <= 3, (
        "one keep-alive connection each for search, associations and property histories"
    )


def test_without_company_associations_touches_still_find_their_contact(
    emulator: HubSpotEmulator, make_adapter: Callable[..., HubSpotAdapter]
) -> None:
    [company] = emulator.seed("companies", [{"name": "Example Ltd"}])
    [cid] = _contacts(emulator, 1)
    emulator.associate("contacts", cid, "companies", company)
    [call] = emulator.seed("calls", [{"hs_timestamp": T0, "hubspot_owner_id": "42"}])
    emulator.associate("calls", call, "contacts", cid)
    adapter = make_adapter(associations=False)
    assert _lead(adapter, cid)[0].account_id is None
    touches = [v.item for p in adapter.read_touches() for v in p.items]
    assert [(t.id, t.lead_id) for t in touches] == [(f"calls/{call}/{cid}", cid)]


def test_a_contact_the_model_refuses_is_reported_on_its_page(
    emulator: HubSpotEmulator, make_adapter: Callable[..., HubSpotAdapter]
) -> None:
    good, bad, later = emulator.seed(
        "contacts",
        [
            {"email": "good@example.com", "lifecyclestage": "lead"},
            {"email": "not-an-address", "lifecyclestage": "lead"},
            {"email": "later@example.com", "lifecyclestage": "lead"},
        ],
    )
    pages = list(make_adapter().read_leads())
    assert [v.item.id for p in pages for v in p.items] == [good, later]
    errors = [e for p in pages for e in p.errors]
    assert [(e.entity, e.record_id) for e in errors] == [(Entity.LEAD, bad)]
    assert "email" in errors[0].error and "not-an-address" in errors[0].error


def test_dropdown_and_free_text_numbers_are_read_by_their_hubspot_types(
    emulator: HubSpotEmulator, make_adapter: Callable[..., HubSpotAdapter]
) -> None:
    """``numemployees`` is a dropdown of bands and contact ``annualrevenue`` free text: a band
    reads as its lower bound, clear amounts as numbers; what is unclear is left unset and
    reported for that field alone, and the contact is still read."""
    band, plus, unclear = emulator.seed(
        "contacts",
        [
            {"email": "a@example.com", "numemployees": "25-50", "annualrevenue": "$1.2M"},
            {"email": "b@example.com", "numemployees": "1000+", "annualrevenue": "250,000"},
            {
                "email": "c@example.com",
                "numemployees": "lots",
                "annualrevenue": "between 1 and 5 million",
                "jobtitle": "CTO",
            },
        ],
    )
    pages = list(make_adapter().read_leads())
    leads = {v.item.id: v.item for p in pages for v in p.items}
    assert set(leads) == {band, plus, unclear}, "no contact is skipped for a field"
    assert (leads[band].employees, leads[band].annual_revenue) == (25, 1_200_000.0)
    assert (leads[plus].employees, leads[plus].annual_revenue) == (1000, 250_000.0)
    assert (leads[unclear].employees, leads[unclear].annual_revenue) == (None, None)
    assert leads[unclear].title == "CTO"
    assert leads[unclear].properties["hubspot_numemployees"] == "lots"
    assert leads[unclear].properties["hubspot_annualrevenue"] == "between 1 and 5 million"
    errors = sorted((e.record_id, e.error.split(":")[0]) for p in pages for e in p.errors)
    assert errors == [(unclear, "field annual_revenue"), (unclear, "field employees")]


def test_an_engagement_with_several_contacts_is_a_touch_on_each(
    emulator: HubSpotEmulator, make_adapter: Callable[..., HubSpotAdapter]
) -> None:
    people = _contacts(emulator, 3)
    [meeting] = emulator.seed(
        "meetings",
        [{"hs_timestamp": T0, "hubspot_owner_id": "7", "hs_meeting_outcome": "COMPLETED"}],
    )
    for cid in people:
        emulator.associate("meetings", meeting, "contacts", cid)
    touches = [v.item for p in make_adapter().read_touches() for v in p.items]
    assert sorted(t.lead_id for t in touches) == sorted(people)
    assert len({t.id for t in touches}) == 3
    assert {(t.kind.value, t.outcome.value, t.at) for t in touches} == {
        ("meeting", "completed", T0)
    }


def test_associations_paged_per_object_are_followed_to_the_end(
    emulator: HubSpotEmulator, make_adapter: Callable[..., HubSpotAdapter]
) -> None:
    """HubSpot pages each object's associations in a batch read (a row's ``paging.next.after``
    is sent back as the input's ``after``): a meeting with seven contacts, three a page, is a
    touch on all seven."""
    people = _contacts(emulator, 7)
    [meeting] = emulator.seed("meetings", [{"hs_timestamp": T0, "hubspot_owner_id": "7"}])
    for cid in people:
        emulator.associate("meetings", meeting, "contacts", cid)
    emulator.assoc_page_cap = 3
    touches = [v.item for p in make_adapter().read_touches() for v in p.items]
    assert sorted(t.lead_id for t in touches) == sorted(people)
    assert emulator.calls["POST /crm/v4/associations/{from}/{to}/batch/read"] == 3
