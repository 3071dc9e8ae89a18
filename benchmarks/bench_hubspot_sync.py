"""Benchmark: syncing 10,000 changed contacts back to HubSpot (run on demand, not by pytest).

    python benchmarks/bench_hubspot_sync.py [--contacts 10000]

Seeds the loopback HubSpot emulator with N contacts, reads them through the adapter (as a job
would), then writes a score and summary back for every one and runs the same write again. It
prints the HTTP calls the emulator served and the seconds taken, beside two baselines measured in
the same run:

* the floor: ceil(N / 100) batch-update calls, HubSpot's batch limit;
* a bare loop over hubspot-api-client's batch update (no pre-read, no conflict or no-op
  detection, no retries) — the cheapest possible write, timed against the same emulator.
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
from leadflow.ports import ScoreWrite, WriteStatus

UPDATE = "POST /crm/v3/objects/{type}/batch/update"
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


def main() -> None:
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
    print(f"read (search + associations): {read_calls} calls, {read_seconds:.2f}s")
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


if __name__ == "__main__":
    main()
