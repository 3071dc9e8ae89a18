"""Benchmark: syncing 10,000 changed contacts back to HubSpot (run on demand, not by pytest).

    python benchmarks/bench_hubspot_sync.py [--contacts 10000]

Seeds the loopback HubSpot emulator with N contacts, reads them through the adapter (as a job
would), then writes a score and summary back for every one and runs the same write again. It
prints the HTTP calls the emulator served and the seconds taken, beside two baselines measured in
the same run:

* the floor: ceil(N / 100) batch-update calls, HubSpot's batch limit;
* a bare loop over hubspot-api-client's batch update (no pre-read, no conflict or no-op
  detection, no retries) — the cheapest possible write, timed against the same emulator.

Then the API-call cost of everything ``leadflow run`` reads per N leads — accounts, leads (with
stage history and hand-off), marketing activities, touches, rejections and outcomes — on a portal
where a tenth of the contacts converted on a form, a tenth were rejected with a reason, a tenth
have a deal and each has a call, printed per entity next to the read floor ceil(N / 200) (one
search page of 200 per 200 contacts), for a first read and for a second read with nothing changed
(the recheck window's cost). Searches are paced at HubSpot's five a second (``search_rate``), so
a read takes at least searches / 5 seconds; the seconds each first read took are printed beside
that floor.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hubspot import HubSpot
from hubspot.crm.objects import (
    BatchInputSimplePublicObjectBatchInput,
    SimplePublicObjectBatchInput,
)
from tests.emulators.hubspot import HubSpotEmulator

from leadflow.adapters.hubspot import HubSpotAdapter
from leadflow.adapters.sync import chunked
from leadflow.ports import READERS, Cursor, Entity, ScoreWrite, WriteStatus

UPDATE = "POST /crm/v3/objects/{type}/batch/update"
SEARCH = "POST /crm/v3/objects/{type}/search"
READ = "POST /crm/v3/objects/{type}/batch/read"


def _seed(emulator: HubSpotEmulator, count: int) -> list[str]:
    emulator.define_property("contacts", "leadflow_score", "leadflow_score_summary")
    return emulator.seed(
        "contacts",
        [
            {
                "email": f"p{i}@example.com",
                "createdate": "2026-03-01T00:00:00Z",
                "lifecyclestage": "lead",
            }
            for i in range(count)
        ],
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--contacts", type=int, default=10_000)
    count = parser.parse_args().contacts
    floor = math.ceil(count / 100)

    with HubSpotEmulator() as emulator:
        _seed(emulator, count)
        adapter = HubSpotAdapter.from_config({"access_token": emulator.token, "host": emulator.url})
        started = time.perf_counter()
        read = [v for page in adapter.read_leads() for v in page.items]
        read_seconds = time.perf_counter() - started
        read_calls = emulator.total_calls
        writes = [
            ScoreWrite(
                lead_id=v.item.id,
                score=float(i % 100),
                summary=f"fit {i % 40}; intent {i % 60}",
                expected_version=v.version,
            )
            for i, v in enumerate(read)
        ]

        def run() -> tuple[int, int, int, float, dict[WriteStatus, int]]:
            before = emulator.calls.copy()
            started = time.perf_counter()
            results = adapter.write(writes)
            seconds = time.perf_counter() - started
            served = emulator.calls - before
            tally: dict[WriteStatus, int] = {}
            for r in results:
                tally[r.status] = tally.get(r.status, 0) + 1
            return sum(served.values()), served[UPDATE], served[READ], seconds, tally

        first = run()
        second = run()
        adapter.close()

    # Baseline: the bare client, batch updates only, on a fresh portal.
    with HubSpotEmulator() as emulator:
        ids = _seed(emulator, count)
        client = HubSpot(access_token=emulator.token, host=emulator.url, retry=False)
        api = client.crm.objects.batch_api
        started = time.perf_counter()
        for chunk in chunked(ids, 100):
            api.update(
                "contacts",
                BatchInputSimplePublicObjectBatchInput(
                    inputs=[
                        SimplePublicObjectBatchInput(
                            id=i, properties={"leadflow_score": "1", "leadflow_score_summary": "x"}
                        )
                        for i in chunk
                    ]
                ),
                _request_timeout=30,
            )
        bare_seconds = time.perf_counter() - started
        bare_calls = emulator.total_calls

    print(f"contacts: {count}   floor: ceil({count}/100) = {floor} batch-update calls")
    print(f"read (search + associations + histories): {read_calls} calls, {read_seconds:.2f}s")
    print(
        f"{'run':<28}{'calls':>7}{'updates':>9}{'reads':>7}{'vs floor':>10}{'seconds':>9}{'vs bare':>9}"
    )
    print(
        f"{'bare client, updates only':<28}{bare_calls:>7}{bare_calls:>9}{0:>7}"
        f"{bare_calls / floor:>9.2f}x{bare_seconds:>9.2f}{1.0:>8.2f}x"
    )
    for label, (calls, updates, reads, seconds, tally) in (
        ("adapter, first run", first),
        ("adapter, second run", second),
    ):
        print(
            f"{label:<28}{calls:>7}{updates:>9}{reads:>7}{calls / floor:>9.2f}x"
            f"{seconds:>9.2f}{seconds / bare_seconds:>8.2f}x   "
            + ", ".join(f"{k.value} {v}" for k, v in sorted(tally.items()))
        )
    return count


def _feedback_portal(emulator: HubSpotEmulator, count: int) -> None:
    """N contacts at 100 companies; a tenth converted, rejected, with a deal; a call each."""
    emulator.define_property("contacts", "leadflow_reject_reason", "leadflow_stage_change")
    emulator.define_property("contacts", "leadflow_handoff_at")
    companies = emulator.seed("companies", [{"name": f"Co {i}"} for i in range(100)])
    ids = emulator.seed(
        "contacts",
        [
            {
                "email": f"p{i}@example.com",
                "createdate": "2026-02-01T00:00:00Z",
                "lifecyclestage": "marketingqualifiedlead",
                "hs_lead_status": "OPEN",
                "hs_v2_date_entered_lead": "2026-02-01T00:00:00Z",
            }
            for i in range(count)
        ],
    )
    calls = emulator.seed("calls", [{"hs_timestamp": "2026-02-03T10:00:00Z"} for _ in ids])
    for i, (cid, call) in enumerate(zip(ids, calls, strict=True)):
        emulator.associate("contacts", cid, "companies", companies[i % 100])
        emulator.associate("calls", call, "contacts", cid)
    for cid in ids[::10]:
        emulator.touch("contacts", cid, recent_conversion_event_name="Request a demo")
    for cid in ids[5::10]:
        emulator.touch(
            "contacts",
            cid,
            by_user=7,
            hs_lead_status="UNQUALIFIED",
            leadflow_reject_reason="no_budget",
        )
    deals = emulator.seed(
        "deals",
        [
            {"hs_is_closed": "true", "hs_is_closed_won": "true", "amount": "1000"}
            for _ in ids[3::10]
        ],
    )
    for cid, deal in zip(ids[3::10], deals, strict=True):
        emulator.associate("deals", deal, "contacts", cid)


def read_cost(count: int) -> None:
    """API calls to read every entity ``leadflow run`` reads, first and with nothing changed."""
    floor = math.ceil(count / 200)
    order = (
        Entity.ACCOUNT,
        Entity.LEAD,
        Entity.ACTIVITY,
        Entity.TOUCH,
        Entity.REJECTION,
        Entity.OUTCOME,
    )
    with HubSpotEmulator() as emulator:
        _feedback_portal(emulator, count)
        adapter = HubSpotAdapter.from_config({"access_token": emulator.token, "host": emulator.url})
        cursors: dict[Entity, Cursor | None] = dict.fromkeys(order)
        print(f"\nread cost per {count} leads   read floor: ceil({count}/200) = {floor} searches")
        print(
            f"{'entity':<12}{'records':>9}{'1st calls':>11}{'vs floor':>10}{'2nd calls':>11}"
            f"{'searches':>10}{'seconds':>9}{'>= s/5':>8}"
        )
        totals = [0, 0]
        searched = 0
        spent = 0.0
        for entity in order:
            runs = []
            for _ in range(2):
                before, searches_before = emulator.total_calls, emulator.calls[SEARCH]
                started = time.perf_counter()
                reader = getattr(adapter, READERS[entity])
                records = 0
                for page in reader(cursors[entity]):
                    records += len(page.items)
                    cursors[entity] = page.cursor
                runs.append(
                    (
                        records,
                        emulator.total_calls - before,
                        emulator.calls[SEARCH] - searches_before,
                        time.perf_counter() - started,
                    )
                )
            totals[0] += runs[0][1]
            totals[1] += runs[1][1]
            searched += runs[0][2]
            spent += runs[0][3]
            print(
                f"{entity.value:<12}{runs[0][0]:>9}{runs[0][1]:>11}{runs[0][1] / floor:>9.2f}x"
                f"{runs[1][1]:>11}{runs[0][2]:>10}{runs[0][3]:>9.1f}{runs[0][2] / 5:>8.1f}"
            )
        print(
            f"{'all reads':<12}{'':>9}{totals[0]:>11}{totals[0] / floor:>9.2f}x{totals[1]:>11}"
            f"{searched:>10}{spent:>9.1f}{searched / 5:>8.1f}"
        )
        adapter.close()


if __name__ == "__main__":
    read_cost(main())
