"""Benchmark: sync 10,000 changed leads back to Salesforce (the loopback emulator).

Run on demand, not by pytest:

    .venv/bin/python benchmarks/bench_salesforce_sync.py [--leads 10000]

Seeds the emulator with N leads, reads them through the adapter (so every write carries the
version it was read at), then writes a score back to every lead twice — once through sObject
Collections, once through Bulk API 2.0 — and prints the HTTP calls the emulator served and the
seconds taken, beside the floor: ceil(N / 200) collection calls, or the fixed calls of one Bulk
API 2.0 job (create, upload, close, one status poll, successful results, failed results). The
conflict check's read-back (current stamps and values of the batch's leads) is counted and shown
separately. A second, identical write (every record already in place) is timed too: it must
write nothing.

Then the reads of a ``leadflow run`` / ``leadflow report`` over an org of N leads, each with three
stage changes in ``LeadHistory`` and one in ten converted into an opportunity that closed: leads
with their history, rejections (from the same history), outcomes (opportunities, the leads
converted into them, contact roles, the closing instants) — calls beside the floor, the query
pages the records themselves fill at 2,000 records a page.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import trustme

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.emulators.salesforce import SalesforceEmulator
from tests.emulators.salesforce_seed import EmulatorSeeder, make_adapter

from leadflow.adapters.testing import sample_leads
from leadflow.ports import Entity, ScoreWrite, WriteStatus

BULK_FLOOR = 6  # create job, upload CSV, UploadComplete, one poll, successfulResults, failedResults
QUERY_PAGE = 2000  # records a Salesforce query page holds at most


def _calls(emu: SalesforceEmulator) -> dict[str, int]:
    return {k: v for k, v in sorted(emu.calls.items()) if k != "login"}


def run(n: int) -> None:
    ca = trustme.CA()
    with tempfile.TemporaryDirectory() as tmp, SalesforceEmulator(ca=ca, cert_dir=Path(tmp)) as emu:
        EmulatorSeeder(emu)(Entity.LEAD, sample_leads(n))
        floor = math.ceil(n / 200)
        read_back = math.ceil(n / QUERY_PAGE)
        print(
            f"leads: {n}; floors: {floor} collection calls, or {BULK_FLOOR} Bulk API 2.0 calls; "
            f"reading {n} records back for conflict detection takes at least {read_back} more"
        )
        print(
            f"{'mode':<26} {'calls':>6} {'floor':>6} {'ratio':>6} "
            f"{'floor+rb':>8} {'ratio':>6} {'secs':>6}  breakdown"
        )
        for mode, options, base in (
            ("sObject Collections", {"bulk_threshold": n + 1}, floor),
            ("Bulk API 2.0", {"bulk_threshold": 1}, BULK_FLOOR),
        ):
            adapter = make_adapter(emu, **options)
            read = [v for page in adapter.read_leads() for v in page.items]
            assert len(read) == n
            offset = 0.5 if mode.startswith("Bulk") else 0.25
            writes = [
                ScoreWrite(
                    lead_id=v.item.id,
                    score=float(i % 100) + offset,
                    summary=f"fit {i % 7}",
                    expected_version=v.version,
                )
                for i, v in enumerate(read)
            ]
            for label, expect in (
                (mode, WriteStatus.APPLIED),
                (f"{mode}, again", WriteStatus.UNCHANGED),
            ):
                emu.reset_counts()
                start = time.perf_counter()
                results = adapter.write(writes)
                seconds = time.perf_counter() - start
                wrong = [r for r in results if r.status is not expect]
                assert not wrong, wrong[:3]
                calls = _calls(emu)
                reads = calls.get("query", 0) + calls.get("query_more", 0)
                writes_made = sum(v for k, v in calls.items() if k not in {"query", "query_more"})
                total = reads + writes_made
                shown_floor = base if expect is WriteStatus.APPLIED else 0
                ratio = f"{total / shown_floor:.2f}" if shown_floor else "-"
                with_rb = shown_floor + read_back
                print(
                    f"{label:<26} {total:>6} {shown_floor:>6} {ratio:>6} "
                    f"{with_rb:>8} {total / with_rb:>6.2f} {seconds:>6.2f}  "
                    f"write calls {writes_made}, conflict read-back {reads}: {calls}"
                )
            adapter.close()


def run_reads(n: int) -> None:
    """The API calls reading N leads, their history, rejections and outcomes cost."""
    from datetime import timedelta

    from tests.emulators.salesforce import EPOCH

    ca = trustme.CA()
    with tempfile.TemporaryDirectory() as tmp, SalesforceEmulator(ca=ca, cert_dir=Path(tmp)) as emu:
        leads = EmulatorSeeder(emu)(Entity.LEAD, sample_leads(n))
        rep = "005000000000077AAA"
        for i, lead in enumerate(leads):
            at = EPOCH - timedelta(days=60, minutes=i)
            for old, new in (("inquiry", "mql"), ("mql", "sal"), ("sal", "sql")):
                at += timedelta(hours=5)
                emu.add_history(lead.id, "Leadflow_Stage__c", old, new, at=at, by=rep)
            emu.records["Lead"][lead.id]["Leadflow_Stage__c"] = "sql"
            if i % 10 == 0:
                opp = emu.convert(lead.id, {"Name": f"D{i}"}, at=at, by=rep)
                emu.close_opportunity(
                    opp, "Closed Won", at=at + timedelta(days=9), by=rep, Amount=1000.0
                )
        rows = len(emu.records["LeadHistory"])
        opps = len(emu.records["Opportunity"])
        print(
            f"\nreads: {n} leads, {rows} LeadHistory rows, {opps} opportunities "
            f"({len(emu.records['OpportunityHistory'])} OpportunityHistory rows)"
        )
        print(f"{'read':<34} {'calls':>6} {'floor':>6} {'ratio':>6} {'secs':>6}  breakdown")
        adapter = make_adapter(emu)
        floors = {
            "leads + LeadHistory": math.ceil(n / QUERY_PAGE) + math.ceil(rows / QUERY_PAGE),
            "rejections (history remembered)": math.ceil(n / QUERY_PAGE),
            "outcomes": math.ceil(opps / QUERY_PAGE)
            + math.ceil(opps / QUERY_PAGE)  # the leads converted into them
            + math.ceil(len(emu.records["OpportunityHistory"]) / QUERY_PAGE),
        }
        total = 0
        for label, read in (
            ("leads + LeadHistory", adapter.read_leads),
            ("rejections (history remembered)", adapter.read_rejections),
            ("outcomes", adapter.read_outcomes),
        ):
            emu.reset_counts()
            start = time.perf_counter()
            count = sum(len(page.items) for page in read())
            seconds = time.perf_counter() - start
            calls = _calls(emu)
            made = sum(calls.values())
            total += made
            floor = floors[label]
            objects: dict[str, int] = {}
            for soql in emu.queries:
                name = soql.split(" FROM ")[1].split()[0]
                objects[name] = objects.get(name, 0) + 1
            print(
                f"{label:<34} {made:>6} {floor:>6} {made / floor:>6.2f} {seconds:>6.2f}  "
                f"{count} read; {calls}; queries by object {objects}"
            )
        print(
            f"{'all reads':<34} {total:>6} {sum(floors.values()):>6} "
            f"{total / sum(floors.values()):>6.2f}"
        )
        adapter.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument("--reads-only", action="store_true", help="skip the write benchmark")
    args = parser.parse_args()
    if not args.reads_only:
        run(args.leads)
    run_reads(args.leads)


if __name__ == "__main__":
    main()
