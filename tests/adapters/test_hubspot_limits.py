"""The emulator keeps HubSpot's documented limits, and the adapter keeps within them.

From HubSpot's search guide (https://developers.hubspot.com/docs/api-reference/latest/crm/search-the-crm,
"Limits"): at most 200 objects per page; "a maximum of five ``filterGroups`` with up to six
``filters`` in each group, with a maximum of 18 filters in total"; 10,000 results per query
(``test_hubspot_scale.py``); "rate limited to five requests per second per account". Batch
reads take 100 inputs, 50 when property histories are asked for (the service's own message).
Each limit is checked through the real hubspot-api-client, then the adapter is read against a
portal that enforces the search rate: it paces itself and is never refused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hubspot import HubSpot
from hubspot.crm.objects import (
    BatchReadInputSimplePublicObjectId,
    Filter,
    FilterGroup,
    PublicObjectSearchRequest,
    SimplePublicObjectId,
)
from hubspot.crm.objects.exceptions import ApiException
from tests.adapters import hubspot_fixtures as fx
from tests.emulators.hubspot import (
    MAX_FILTERS,
    MAX_HISTORY_BATCH,
    MAX_SEARCH_LIMIT,
    SEARCH_RATE_LIMIT,
    HubSpotEmulator,
)

from leadflow.adapters.hubspot import DEFAULT_SEARCH_RATE, HubSpotAdapter
from leadflow.errors import RateLimitedError

emulator = fx.emulator
make_adapter = fx.make_adapter
slept = fx.slept


def _client(emulator: HubSpotEmulator) -> HubSpot:
    return HubSpot(access_token=emulator.token, host=emulator.url, retry=False)


def _search(emulator: HubSpotEmulator, **request: Any) -> Any:
    api = _client(emulator).crm.objects.search_api
    return api.do_search("contacts", PublicObjectSearchRequest(**request), _request_timeout=10)


def _groups(*sizes: int) -> list[FilterGroup]:
    return [
        FilterGroup(
            filters=[
                Filter(property_name="email", operator="NEQ", value=f"x{g}-{i}@example.com")
                for i in range(n)
            ]
        )
        for g, n in enumerate(sizes)
    ]


def _refused(call: Callable[[], Any], status: int = 400) -> str:
    with pytest.raises(ApiException) as info:
        call()
    assert info.value.status == status
    return str(info.value.body)


def test_search_pages_and_filters_are_limited_as_documented(emulator: HubSpotEmulator) -> None:
    emulator.seed("contacts", [{"email": f"p{i}@example.com"} for i in range(3)])
    assert _search(emulator, limit=MAX_SEARCH_LIMIT).total == 3
    assert "200" in _refused(lambda: _search(emulator, limit=MAX_SEARCH_LIMIT + 1))
    # five groups; six filters a group; eighteen in all
    assert _search(emulator, limit=10, filter_groups=_groups(6, 6, 6)).total == 3
    assert _search(emulator, limit=10, filter_groups=_groups(1, 1, 1, 1, 1)).total == 3
    assert "filterGroups" in _refused(
        lambda: _search(emulator, limit=10, filter_groups=_groups(1, 1, 1, 1, 1, 1))
    )
    _refused(lambda: _search(emulator, limit=10, filter_groups=_groups(7)))
    assert sum((5, 5, 5, 4)) == MAX_FILTERS + 1
    assert "18" in _refused(lambda: _search(emulator, limit=10, filter_groups=_groups(5, 5, 5, 4)))


def test_history_batch_reads_take_at_most_50(emulator: HubSpotEmulator) -> None:
    ids = emulator.seed("contacts", [{"email": f"p{i}@example.com"} for i in range(51)])
    api = _client(emulator).crm.objects.batch_api

    def read(count: int, history: list[str] | None) -> Any:
        request = BatchReadInputSimplePublicObjectId(
            inputs=[SimplePublicObjectId(id=i) for i in ids[:count]],
            properties=["email"],
            properties_with_history=history,
        )
        return api.read(
            "contacts", batch_read_input_simple_public_object_id=request, _request_timeout=10
        )

    assert len(read(51, None).results) == 51
    assert len(read(MAX_HISTORY_BATCH, ["lifecyclestage"]).results) == 50
    assert "property histories is 50" in _refused(lambda: read(51, ["lifecyclestage"]))


class _Clock:
    """A clock the adapter sleeps on and the emulator counts seconds on."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _reader(emulator: HubSpotEmulator, clock: _Clock, **options: Any) -> HubSpotAdapter:
    return HubSpotAdapter(
        _client(emulator),
        host=emulator.url,
        page_size=5,
        associations=False,
        retry=fx.FAST_RETRY,
        sleep=clock.sleep,
        clock=clock,
        **options,
    )


def test_searches_are_paced_to_hubspots_five_a_second(emulator: HubSpotEmulator) -> None:
    seeded = emulator.seed("contacts", [{"email": f"p{i}@example.com"} for i in range(60)])
    clock = _Clock()
    emulator.search_rate_limit, emulator.rate_clock = SEARCH_RATE_LIMIT, clock
    assert DEFAULT_SEARCH_RATE == SEARCH_RATE_LIMIT
    started = clock.now
    adapter = _reader(emulator, clock)
    read = [v.item.id for p in adapter.read_leads() for v in p.items]
    assert sorted(read) == sorted(seeded)
    searches = emulator.calls["POST /crm/v3/objects/{type}/search"]
    assert searches >= 12
    assert emulator.throttled == 0, "never refused"
    assert clock.now - started >= (searches - 1) / SEARCH_RATE_LIMIT - 1e-9
    adapter.close()
    # Unpaced, the same read runs into the limit: retries back off within the second and the
    # read gives up, refused.
    unpaced = _reader(emulator, clock, search_rate=0)
    with pytest.raises(RateLimitedError, match="secondly limit"):
        list(unpaced.read_leads())
    assert emulator.throttled > 0
    unpaced.close()
