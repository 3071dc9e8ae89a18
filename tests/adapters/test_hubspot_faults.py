"""The HubSpot adapter under injected faults: 429 (ten-secondly and daily) with Retry-After,
502/503, dropped connections before and after the request took effect, per-record errors.

After the faults nothing is lost (every record read once, every write applied or reported), and
a second run writes nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from tests.adapters import hubspot_fixtures as fx
from tests.emulators.hubspot import HubSpotEmulator

from leadflow.adapters.hubspot import HubSpotAdapter
from leadflow.errors import RateLimitedError, TransientAdapterError
from leadflow.ports import ScoreWrite, SLAWrite, WriteStatus

emulator = fx.emulator
make_adapter = fx.make_adapter
slept = fx.slept

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
UPDATE = "POST /crm/v3/objects/{type}/batch/update"


def _seed(emulator: HubSpotEmulator, count: int) -> list[str]:
    return emulator.seed(
        "contacts",
        [
            {"email": f"p{i}@example.com", "createdate": T0, "lifecyclestage": "lead"}
            for i in range(count)
        ],
    )


def _on(fragment: str) -> Callable[[str], bool]:
    return lambda path: fragment in path


def test_reads_survive_faults_and_read_every_record_once(
    emulator: HubSpotEmulator, make_adapter: Callable[..., HubSpotAdapter], slept: list[float]
) -> None:
    ids = _seed(emulator, 60)
    emulator.fail_next("429", retry_after=2, when=_on("/search"))
    emulator.fail_next("502", when=_on("/search"))
    emulator.fail_next("drop", when=_on("/associations/"))
    emulator.fail_next("503", when=_on("/search"))
    emulator.fail_next("drop-after", when=_on("/search"))
    adapter = make_adapter(page_size=9)
    read = [v.item.id for page in adapter.read_leads() for v in page.items]
    assert emulator.pending_faults() == 0
    assert sorted(read) == sorted(ids)
    assert len(read) == len(set(read)), "no record read twice"
    assert slept[0] == 2.0, "the first wait is what Retry-After said"
    assert len(slept) == 5


def test_writes_survive_faults_and_a_second_run_writes_nothing(
    emulator: HubSpotEmulator, make_adapter: Callable[..., HubSpotAdapter], slept: list[float]
) -> None:
    ids = _seed(emulator, 250)
    emulator.reject("contacts", ids[17], "leadflow_score: value out of range")
    adapter = make_adapter()
    writes = [
        ScoreWrite(lead_id=cid, score=float(i % 90), summary=f"fit {i}")
        for i, cid in enumerate(ids)
    ] + [SLAWrite(lead_id=ids[0], due_at=T0, state="pending")]
    emulator.fail_next("429", retry_after=3, when=_on("/batch/update"))
    emulator.fail_next("drop", when=_on("/batch/read"))
    emulator.fail_next("503", when=_on("/batch/update"))
    emulator.fail_next("drop-after", when=_on("/batch/update"))
    emulator.fail_next("502", when=_on("/batch/read"))

    first = adapter.write(writes)

    assert emulator.pending_faults() == 0
    assert 3.0 in slept
    statuses = [r.status for r in first]
    assert statuses.count(WriteStatus.FAILED) == 1
    assert first[17].status is WriteStatus.FAILED
    assert "out of range" in (first[17].error or "")
    assert all(s is WriteStatus.APPLIED for i, s in enumerate(statuses) if i != 17)
    for i, cid in enumerate(ids):
        if i != 17:
            assert emulator.get("contacts", cid)["leadflow_score"] == str(i % 90)
    assert emulator.get("contacts", ids[0])["leadflow_sla_state"] == "pending"

    updates_before = emulator.calls[UPDATE]
    second = adapter.write(writes)
    assert [r.status for i, r in enumerate(second) if i != 17] == [WriteStatus.UNCHANGED] * (
        len(writes) - 1
    )
    assert second[17].status is WriteStatus.FAILED, "the refused record is refused again"
    # only the refused record is sent again; nothing else is written twice
    assert emulator.calls[UPDATE] - updates_before == 1


def test_daily_limit_is_not_retried(
    emulator: HubSpotEmulator, make_adapter: Callable[..., HubSpotAdapter], slept: list[float]
) -> None:
    _seed(emulator, 3)
    emulator.fail_next("429-daily", retry_after=3600)
    with pytest.raises(RateLimitedError, match="DAILY") as info:
        list(make_adapter().read_leads())
    assert info.value.retry_after == 3600
    assert slept == []


def test_a_lasting_outage_is_a_clear_error_for_reads_and_failed_results_for_writes(
    emulator: HubSpotEmulator, make_adapter: Callable[..., HubSpotAdapter], slept: list[float]
) -> None:
    ids = _seed(emulator, 3)
    adapter = make_adapter()
    emulator.fail_next("503", times=fx.FAST_RETRY.max_attempts)
    with pytest.raises(TransientAdapterError, match="HTTP 503"):
        list(adapter.read_leads())
    assert len(slept) == fx.FAST_RETRY.max_attempts - 1

    emulator.fail_next("drop", times=fx.FAST_RETRY.max_attempts)
    writes = [ScoreWrite(lead_id=cid, score=5.0) for cid in ids]
    results = adapter.write(writes)
    assert [r.status for r in results] == [WriteStatus.FAILED] * 3
    assert all("no answer from HubSpot" in (r.error or "") for r in results)
    # nothing was lost: the next run applies them
    assert [r.status for r in adapter.write(writes)] == [WriteStatus.APPLIED] * 3
