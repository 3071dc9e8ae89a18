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


changes = st.lists(
    st.tuples(st.integers(min_value=0, max_value=11), st.booleans(), st.booleans()),
    min_size=1,
    max_size=30,
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rounds=st.lists(changes, min_size=1, max_size=4), page_size=st.integers(1, 5))
def test_a_lagging_index_never_loses_a_change_nor_reads_one_twice(
    rounds: list[list[tuple[int, bool, bool]]], page_size: int
) -> None:
    """Runs interleaved with changes, some of which the search index returns late (and out of
    stamp order): every contact's last version is read, and no version is read twice."""
    with HubSpotEmulator() as emulator:
        ids = emulator.seed("contacts", [{"email": f"p{i}@example.com"} for i in range(12)])
        adapter = HubSpotAdapter(
            HubSpot(access_token=emulator.token, host=emulator.url, retry=False),
            retry=FAST_RETRY,
            page_size=page_size,
            associations=False,
            sleep=lambda _: None,
        )
        seen: list[tuple[str, str]] = []
        cursor = None

        def read() -> None:
            nonlocal cursor
            for page in adapter.read_leads(cursor):
                seen.extend((v.item.id, v.version) for v in page.items)
                cursor = page.cursor

        try:
            for number, round_ in enumerate(rounds):
                for index, lagging, _ in round_:
                    emulator.set_index_lag(timedelta(seconds=20 if lagging else 0))
                    emulator.touch("contacts", ids[index], jobtitle=f"t{number}")
                emulator.set_index_lag(timedelta(0))
                read()
                if any(late for _, _, late in round_):
                    emulator.advance(timedelta(seconds=30))
            emulator.advance(timedelta(seconds=30))
            read()
            assert len(seen) == len(set(seen)), "no version read twice"
            final = {i: emulator.get("contacts", i)["lastmodifieddate"] for i in ids}
            assert all((i, v) in set(seen) for i, v in final.items()), "no last version missed"
        finally:
            adapter.close()
