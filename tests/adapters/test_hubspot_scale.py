"""Reading past HubSpot's 10,000-results search cap: 25,000 contacts changed at one instant
(a bulk import) are each read exactly once, and a naive ``after`` pager hits the cap."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from hubspot import HubSpot
from hubspot.crm.objects import PublicObjectSearchRequest
from hubspot.crm.objects.exceptions import ApiException
from tests.adapters import hubspot_fixtures as fx
from tests.emulators.hubspot import SEARCH_CAP, HubSpotEmulator

from leadflow.adapters.hubspot import HubSpotAdapter
from leadflow.ports import Cursor

emulator = fx.emulator
make_adapter = fx.make_adapter
slept = fx.slept

IMPORTED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
COUNT = 25_000


@pytest.fixture
def imported(emulator: HubSpotEmulator) -> list[str]:
    before = [
        {"email": f"early{i}@example.com", "lastmodifieddate": "2026-03-01T08:00:00.000Z"}
        for i in range(300)
    ]
    bulk = [{"email": f"p{i}@example.com", "lifecyclestage": "lead"} for i in range(COUNT)]
    after = [
        {"email": f"late{i}@example.com", "lastmodifieddate": f"2026-03-03T08:00:00.{i:03d}Z"}
        for i in range(250)
    ]
    ids = emulator.seed("contacts", before)
    ids += emulator.seed("contacts", bulk, modified=IMPORTED)
    ids += emulator.seed("contacts", after)
    return ids


def test_25000_contacts_sharing_one_stamp_are_each_read_once(
    emulator: HubSpotEmulator,
    make_adapter: Callable[..., HubSpotAdapter],
    imported: list[str],
) -> None:
    adapter = make_adapter()
    seen: list[str] = []
    cursor: Cursor | None = None
    # Read in two sittings, resuming from a saved cursor in the middle of the shared stamp.
    for page in adapter.read_leads():
        seen.extend(v.item.id for v in page.items)
        cursor = page.cursor
        if len(seen) >= 12_345:
            break
    assert cursor is not None
    resumed = make_adapter()
    for page in resumed.read_leads(Cursor.from_json(cursor.to_json())):
        seen.extend(v.item.id for v in page.items)
    assert len(seen) == len(imported) == COUNT + 550
    assert len(set(seen)) == len(seen), "no contact read twice"
    assert set(seen) == set(imported), "no contact missed"
    # Every query stayed a first page: never past the cap, never an `after`. The resumed read
    # looks again at the re-check window behind its cursor (the part of the bulk stamp read
    # before the break), skipping what it remembers: one more search per 200 of those.
    searches = emulator.calls["POST /crm/v3/objects/{type}/search"]
    assert searches < (COUNT + 550) / 200 + 12_345 / 200 + 10


def test_after_paging_alone_stops_at_the_cap(
    emulator: HubSpotEmulator, imported: list[str]
) -> None:
    client = HubSpot(access_token=emulator.token, host=emulator.url, retry=False)
    api = client.crm.objects.search_api
    after = str(SEARCH_CAP - 100)
    page = api.do_search(
        "contacts", PublicObjectSearchRequest(limit=100, after=after), _request_timeout=10
    )
    assert page.total == len(imported)
    assert page.paging.next.after == str(SEARCH_CAP)
    with pytest.raises(ApiException) as info:
        api.do_search(
            "contacts",
            PublicObjectSearchRequest(limit=100, after=page.paging.next.after),
            _request_timeout=10,
        )
    assert info.value.status == 400
    assert "10000" in info.value.body
