"""Never miss a record, never write twice, against HubSpot as documented: a search index that
lags writes, servers that cap pages below the limit asked for, whole-batch 400s, answers lost
after the update was applied, links off the configured host, ids that only look numeric."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from tests.adapters import hubspot_fixtures as fx
from tests.emulators.hubspot import HubSpotEmulator

from leadflow.adapters.hubspot import HubSpotAdapter
from leadflow.errors import AdapterError, ConfigError, ValidationError
from leadflow.lifecycle import transition
from leadflow.ports import Cursor, Entity, ScoreWrite, SLAWrite, StageWrite, WriteStatus

emulator = fx.emulator
make_adapter = fx.make_adapter
slept = fx.slept

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
UPDATE = "POST /crm/v3/objects/{type}/batch/update"
SEARCH = "POST /crm/v3/objects/{type}/search"


def _seed(emulator: HubSpotEmulator, count: int, **props: object) -> list[str]:
    return emulator.seed(
        "contacts",
        [
            {"email": f"p{i}@example.com", "createdate": T0, "lifecyclestage": "lead", **props}
            for i in range(count)
        ],
    )


def _read(adapter: HubSpotAdapter, cursor: Cursor | None = None) -> tuple[list[str], Cursor | None]:
    pages = list(adapter.read_leads(cursor))
    return [v.item.id for p in pages for v in p.items], (pages[-1].cursor if pages else cursor)


def _on(fragment: str) -> Callable[[str], bool]:
    return lambda path: fragment in path


# -- search index lag -----------------------------------------------------------------------


def _lagging_change(emulator: HubSpotEmulator) -> tuple[str, str]:
    """Two contacts changed one after the other; the index has the later change, not the
    earlier one (HubSpot indexes asynchronously, not in stamp order)."""
    early, late = _seed(emulator, 2)
    emulator.set_index_lag(timedelta(seconds=20))
    emulator.touch("contacts", early, jobtitle="CTO")
    emulator.set_index_lag(timedelta(0))
    emulator.touch("contacts", late, jobtitle="CFO")
    return early, late


def test_a_contact_the_search_index_returned_late_is_read_on_the_next_run(
    emulator: HubSpotEmulator, make_adapter: Callable[..., HubSpotAdapter]
) -> None:
    adapter = make_adapter()
    everyone, cursor = _read(adapter)
    assert len(everyone) == 0
    early, late = _lagging_change(emulator)

    first, cursor = _read(adapter, cursor)
    assert first == [late], "the index does not have the earlier change yet"

    emulator.advance(timedelta(seconds=30))  # the index catches up
    second, cursor = _read(adapter, cursor)
    assert second == [early], "read now, and the contact read last run is not read again"
    third, _ = _read(adapter, cursor)
    assert third == []


def test_without_the_recheck_window_the_lagging_contact_is_lost(
    emulator: HubSpotEmulator, make_adapter: Callable[..., HubSpotAdapter]
) -> None:
    """What the window is for: reading strictly after the cursor never sees it again."""
    adapter = make_adapter(recheck_window=0)
    _early, late = _lagging_change(emulator)
    first, cursor = _read(adapter)
    assert first == [late]
    emulator.advance(timedelta(seconds=30))
    assert _read(adapter, cursor)[0] == []


def test_recheck_window_skips_by_version_and_reads_a_newer_version(
    emulator: HubSpotEmulator, make_adapter: Callable[..., HubSpotAdapter]
) -> None:
    ids = _seed(emulator, 5)
    adapter = make_adapter(page_size=2)
    read, cursor = _read(adapter)
    assert read == ids
    emulator.touch("contacts", ids[1], jobtitle="VP")  # a new version inside the window
    again, cursor = _read(adapter, cursor)
    assert again == [ids[1]]
    assert _read(adapter, cursor)[0] == []
    # A cursor written by leadflow 0.1 (a bare keyset token) still resumes: it remembers
    # nothing, so its window is read again, and nothing after it is missed.
    old = Cursor(entity=Entity.LEAD, token="2026-03-02T09:00:00.003000Z|*")
    assert {ids[1], ids[3], ids[4]} <= set(_read(adapter, old)[0])


def test_the_remembered_set_is_bounded_and_overflow_rereads_never_loses(
    emulator: HubSpotEmulator, make_adapter: Callable[..., HubSpotAdapter]
) -> None:
    ids = _seed(emulator, 30)
    adapter = make_adapter(page_size=7, recheck_max_seen=10)
    read, cursor = _read(adapter)
    assert read == ids
    assert cursor is not None and cursor.token is not None
    again, _ = _read(adapter, cursor)
    assert set(again) <= set(ids[:20]), "only records the cursor forgot are read again"
    assert len(again) == 20


@pytest.mark.parametrize(
    "token",
    [
        "{not json",
        '{"at": null, "seen": {"1": "x"}}',
        "2026-03-02T09:00:00Z|٣",
        # ids and stamps in the remembered set are ASCII digits too (int() takes all of these)
        '{"at": null, "seen": {"1772442000000": "١٢٣"}}',
        '{"at": null, "seen": {"\u0661\u0667\u0667": "101"}}',
        '{"at": null, "seen": {"1772442000000": "1_01"}}',
        '{"at": null, "seen": {"1772442000000": "101,-1"}}',
        '{"at": null, "seen": {"1772442000000": " 101"}}',
    ],
)
def test_a_malformed_cursor_is_refused_before_any_call(
    emulator: HubSpotEmulator, make_adapter: Callable[..., HubSpotAdapter], token: str
) -> None:
    adapter = make_adapter()
    with pytest.raises(ValidationError, match=r"cursor\.token"):
        list(adapter.read_leads(Cursor(entity=Entity.LEAD, token=token)))
    assert emulator.total_calls == 0


# -- page caps --------------------------------------------------------------------------------


def test_a_server_capping_pages_at_100_loses_nothing(
    emulator: HubSpotEmulator, make_adapter: Callable[..., HubSpotAdapter]
) -> None:
    spread = _seed(emulator, 330)
    bulk = emulator.seed(
        "contacts", [{"email": f"b{i}@example.com"} for i in range(260)], modified=T0
    )
    tail = _seed(emulator, 45)
    emulator.page_cap = 100
    adapter = make_adapter(page_size=200)
    read, cursor = _read(adapter)
    assert sorted(read) == sorted(spread + bulk + tail)
    assert len(read) == len(set(read))
    assert _read(adapter, cursor)[0] == []


# -- whole-batch 400s --------------------------------------------------------------------------


def test_a_batch_refused_as_a_whole_fails_only_the_bad_record(
    emulator: HubSpotEmulator, make_adapter: Callable[..., HubSpotAdapter]
) -> None:
    ids = _seed(emulator, 230)
    bad = {ids[17], ids[150]}
    for i in bad:
        emulator.reject("contacts", i, 'leadflow_score: "-3" is not a valid number')
    emulator.whole_batch_errors = True
    adapter = make_adapter()
    writes = [ScoreWrite(lead_id=i, score=40.0, summary="fit") for i in ids]
    results = adapter.write(writes)
    failed = {r.write.lead_id for r in results if r.status is WriteStatus.FAILED}
    assert failed == bad
    assert all("not a valid number" in (r.error or "") for r in results if r.write.lead_id in bad)
    applied = [r for r in results if r.status is WriteStatus.APPLIED]
    assert len(applied) == len(ids) - 2
    assert all(emulator.get("contacts", i)["leadflow_score"] == "40" for i in set(ids) - bad)
    # bisection, not one call per contact: 3 batches, two of them split down to one record
    assert emulator.calls[UPDATE] < 3 + 2 * 2 * 8
    # the next run sends only the refused records again, and they fail alone again
    before = emulator.calls[UPDATE]
    again = adapter.write(writes)
    assert {r.write.lead_id for r in again if r.status is WriteStatus.FAILED} == bad
    assert emulator.calls[UPDATE] - before == 2, "one call per refused record, nothing else"


# -- lost answers ----------------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["drop-after", "502-after", "429", "503", "drop", "bad-json"])
def test_a_lost_answer_is_rejudged_and_nothing_is_written_twice(
    emulator: HubSpotEmulator,
    make_adapter: Callable[..., HubSpotAdapter],
    slept: list[float],
    fault: str,
) -> None:
    ids = _seed(emulator, 150)
    adapter = make_adapter()
    writes = [ScoreWrite(lead_id=i, score=float(n % 50), summary="fit") for n, i in enumerate(ids)]
    writes.append(SLAWrite(lead_id=ids[3], due_at=T0 + timedelta(hours=4), state="pending"))
    emulator.fail_next(fault, times=2, retry_after=0, when=_on("/batch/update"))
    results = adapter.write(writes)
    assert [r.status for r in results] == [WriteStatus.APPLIED] * len(writes)
    assert emulator.pending_faults() == 0
    assert sum(emulator.duplicate_writes.values()) == 0
    assert set(emulator.writes.values()) == {1}, "each contact updated exactly once"
    assert len(emulator.writes) == len(ids)
    assert all(r.version for r in results)
    assert emulator.get("contacts", ids[3])["leadflow_sla_state"] == "pending"


def test_a_recycle_whose_clear_answer_was_lost_is_not_cleared_twice(
    emulator: HubSpotEmulator, make_adapter: Callable[..., HubSpotAdapter]
) -> None:
    [cid] = _seed(emulator, 1, lifecyclestage="salesqualifiedlead", hs_lead_status="IN_PROGRESS")
    adapter = make_adapter()
    lead = next(v.item for p in adapter.read_leads() for v in p.items)
    recycled = transition(lead, "recycled", at=T0 + timedelta(days=2))
    emulator.fail_next("drop-after", when=_on("/batch/update"))
    emulator.fail_next("drop-after", when=_on("/batch/update"))
    [result] = adapter.write([StageWrite(lead_id=cid, change=recycled.history[-1])])
    assert result.status is WriteStatus.APPLIED, result.error
    assert emulator.get("contacts", cid)["lifecyclestage"] == "lead"
    assert emulator.writes[("contacts", cid)] == 2, "one clear, one set"
    assert sum(emulator.duplicate_writes.values()) == 0


def test_a_lasting_outage_fails_the_writes_and_a_rerun_applies_each_once(
    emulator: HubSpotEmulator, make_adapter: Callable[..., HubSpotAdapter]
) -> None:
    ids = _seed(emulator, 12)
    adapter = make_adapter()
    writes = [ScoreWrite(lead_id=i, score=8.0) for i in ids]
    emulator.fail_next("503", times=fx.FAST_RETRY.max_attempts, when=_on("/batch/update"))
    failed = adapter.write(writes)
    assert [r.status for r in failed] == [WriteStatus.FAILED] * len(ids)
    assert all("HTTP 503" in (r.error or "") for r in failed)
    assert emulator.pending_faults() == 0
    assert [r.status for r in adapter.write(writes)] == [WriteStatus.APPLIED] * len(ids)
    assert set(emulator.writes.values()) == {1}
    assert sum(emulator.duplicate_writes.values()) == 0


# -- URLs and ids ------------------------------------------------------------------------------


def test_a_link_off_the_configured_host_is_refused(
    emulator: HubSpotEmulator, make_adapter: Callable[..., HubSpotAdapter]
) -> None:
    _seed(emulator, 12)
    emulator.foreign_links = "https://api.hubapi.com.attacker.example"
    with pytest.raises(AdapterError, match="off the configured host"):
        list(make_adapter(page_size=5).read_leads())


@pytest.mark.parametrize("climb", ["/crm/v3/..", "/crm/v3/%2e%2e", "/crm/./v3"])
def test_a_link_with_dot_segments_is_refused(
    emulator: HubSpotEmulator, make_adapter: Callable[..., HubSpotAdapter], climb: str
) -> None:
    """On the configured host, but with ``..`` (plain or percent-encoded) or ``.`` segments: once
    resolved such a path may leave the configured base path, which the prefix check cannot see."""
    _seed(emulator, 12)
    emulator.foreign_links = emulator.url + climb
    with pytest.raises(AdapterError, match="off the configured host"):
        list(make_adapter(page_size=5).read_leads())


@pytest.mark.parametrize(
    "host",
    [
        "ftp://api.hubapi.com",
        "https://user:pat-na1-secret@api.hubapi.com",
        "https://api.hubapi.com?x=1",
        "https://api.hubapi.com/#frag",
        "api.hubapi.com",
        "https://",
    ],
)
def test_a_host_that_is_not_a_plain_base_url_is_a_config_error(host: str) -> None:
    with pytest.raises(ConfigError, match="host") as info:
        HubSpotAdapter.from_config({"access_token": "pat-na1-x", "host": host})
    assert "pat-na1-secret" not in str(info.value)


@pytest.mark.parametrize("bad", ["١٢٣", "12\n", "1e3", "+12", "0x1f", "12 ", "²"])
def test_contact_ids_are_ascii_digits_only(
    emulator: HubSpotEmulator, make_adapter: Callable[..., HubSpotAdapter], bad: str
) -> None:
    adapter = make_adapter()
    [result] = adapter.write([ScoreWrite(lead_id=bad, score=1.0)])
    assert result.status is WriteStatus.FAILED
    assert "ASCII digits" in (result.error or "")
    assert emulator.total_calls == 0


@pytest.mark.parametrize(
    "stamp", ["\u0661\u0667\u0667\u0662\u0664\u0664\u0662" + "\u0660" * 6, "²", "1_772_442"]
)
def test_history_stamps_in_epoch_ms_are_ascii_digits_only(stamp: str) -> None:
    """A property-history timestamp is ISO text or epoch milliseconds in ASCII digits;
    ``str.isdigit`` also took Arabic-Indic digits as milliseconds and crashed on "²"."""
    from leadflow.adapters.hubspot_feedback import HistoryEntry

    with pytest.raises(ValidationError, match="timestamp"):
        HistoryEntry.parse({"value": "lead", "timestamp": stamp})
    assert HistoryEntry.parse({"value": "lead", "timestamp": "1772442000000"}).at == datetime(
        2026, 3, 2, 9, 0, tzinfo=UTC
    )
