"""Property: whatever the stamps and the page size, a HubSpot read returns every contact exactly
once, in stamp order, and resuming from any page's cursor returns exactly the rest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hubspot import HubSpot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.adapters.hubspot_fixtures import FAST_RETRY
from tests.emulators.hubspot import HubSpotEmulator

from leadflow.adapters.hubspot import HubSpotAdapter

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

# Few distinct stamps on purpose: ties across page boundaries are the hard case.
stamps = st.lists(st.integers(min_value=0, max_value=6), min_size=0, max_size=40)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(offsets=stamps, page_size=st.integers(min_value=1, max_value=9))
def test_keyset_reads_every_contact_once_and_resume_anywhere(
    offsets: list[int], page_size: int
) -> None:
    with HubSpotEmulator() as emulator:
        ids = emulator.seed(
            "contacts",
            [
                {
                    "email": f"p{i}@example.com",
                    "createdate": T0,
                    "lastmodifieddate": T0 + timedelta(seconds=offset),
                }
                for i, offset in enumerate(offsets)
            ],
        )
        stamp_of = dict(zip(ids, offsets, strict=True))
        adapter = HubSpotAdapter(
            HubSpot(access_token=emulator.token, host=emulator.url, retry=False),
            retry=FAST_RETRY,
            page_size=page_size,
            associations=False,
            sleep=lambda _: None,
        )
        try:
            pages = list(adapter.read_leads())
            read = [v.item.id for p in pages for v in p.items]
            assert sorted(read) == sorted(ids)
            assert [stamp_of[i] for i in read] == sorted(offsets)
            seen = 0
            for page in pages:
                seen += len(page.items)
                rest = [v.item.id for p in adapter.read_leads(page.cursor) for v in p.items]
                assert rest == read[seen:]
        finally:
            adapter.close()
