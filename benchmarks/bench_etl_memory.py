"""Benchmark: peak memory of ``score_files`` at ``partitions`` = 1, 2, 8 (and a baseline).

Generates (once, cached) a Parquet pair of leads and events with
:func:`leadflow.etl.synthetic.generate` -- by default 300k leads and ~4.5M events -- then runs,
each in its own child process:

* ``baseline``: the child imports ``leadflow.etl`` (pyarrow, numpy) and compiles the card, and
  does nothing else: the fixed cost every run pays;
* ``N=1``, ``N=2``, ``N=8``: :func:`leadflow.etl.score_files` of the pair into a Parquet file
  on the Arrow plan (``engine="arrow"``: partitioning is the Arrow plan's way to bound memory);
* ``polars``: the same job on its default engine for Parquet inputs (polars, one pass), for
  comparison.

The peak RSS of the child itself is read from ``VmHWM`` in ``/proc/<pid>/status`` -- the
child's own high-water mark, read by the child as its last act before it exits, and polled by
this process while it runs as a cross-check (not ``os.wait4``/``ru_maxrss``, which for
children is the maximum over every descendant). Prints MiB, the ratio to N=1, and the share
above the baseline. Linux only. Not run by pytest::

    python benchmarks/bench_etl_memory.py                  # 300k leads, ~4.5M events
    python benchmarks/bench_etl_memory.py --leads 100000   # quicker
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

AS_OF = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parent.parent
CARD = ROOT / "examples" / "scorecard.toml"

CHILD = """
import json, sys
from datetime import datetime
from pathlib import Path
from leadflow.etl import compile_scorecard, score_files
from leadflow.rules import load_scorecard

leads, events, out, partitions = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
batch_size = int(sys.argv[7])
engine = sys.argv[8]
as_of = datetime.fromisoformat(sys.argv[5])
plan = compile_scorecard(load_scorecard(sys.argv[6]))
rows = 0
if partitions > 0:
    summary = score_files(plan, leads, events, out, as_of=as_of, partitions=partitions,
                          workdir=str(Path(out).parent), batch_size=batch_size, engine=engine)
    rows = summary.leads_scored
with open("/proc/self/status") as status:
    hwm = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
print(json.dumps({"vmhwm_kib": hwm, "rows": rows}))
"""


def _poll_hwm(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def run_child(
    leads: Path, events: Path, work: Path, partitions: int, batch_size: int,
    *, engine: str = "arrow",
) -> dict[str, float]:  # fmt: skip
    out = work / f"scores-{partitions}-{engine}.parquet"
    start = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(leads), str(events), str(out), str(partitions),
         AS_OF.isoformat(), str(CARD), str(batch_size), engine],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    polled = 0
    while child.poll() is None:
        polled = max(polled, _poll_hwm(child.pid))
        time.sleep(0.05)
    stdout, _ = child.communicate()
    if child.returncode != 0:
        raise SystemExit(f"child failed with exit {child.returncode}")
    report = json.loads(stdout.strip().splitlines()[-1])
    return {
        "mib": report["vmhwm_kib"] / 1024,
        "polled_mib": polled / 1024,
        "seconds": time.perf_counter() - start,
        "rows": report["rows"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=300_000)
    parser.add_argument("--batch-size", type=int, default=262_144, help="score_files' batch_size")
    parser.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "leadflow-bench-mem"
    )
    args = parser.parse_args()
    from leadflow.etl.synthetic import generate

    data = args.cache / str(args.leads)
    data.mkdir(parents=True, exist_ok=True)
    leads, events = data / "leads.parquet", data / "events.parquet"
    if not (leads.exists() and events.exists()):
        files = generate(data, leads=args.leads, seed=7, as_of=AS_OF)
        leads, events = files.leads, files.events
    import pyarrow.parquet as pq

    events_rows = pq.ParquetFile(events).metadata.num_rows
    print(f"{args.leads:,} leads, {events_rows:,} events, batch_size {args.batch_size:,}")
    with tempfile.TemporaryDirectory(prefix="leadflow-bench-mem-") as tmp:
        work = Path(tmp)
        base = run_child(leads, events, work, 0, args.batch_size)
        results = {f"N={n}": run_child(leads, events, work, n, args.batch_size) for n in (1, 2, 8)}
        results["polars"] = run_child(leads, events, work, 1, args.batch_size, engine="polars")
    print(f"{'run':<10}{'peak MiB':>10}{'polled':>10}{'vs N=1':>8}{'above base':>12}{'s':>7}")
    print(f"{'baseline':<10}{base['mib']:>10.0f}{base['polled_mib']:>10.0f}")
    one = results["N=1"]["mib"]
    for name, r in results.items():
        above = r["mib"] - base["mib"]
        share = above / (one - base["mib"])
        print(
            f"{name:<10}{r['mib']:>10.0f}{r['polled_mib']:>10.0f}{r['mib'] / one:>8.2f}"
            f"{above:>8.0f} MiB ({share:.2f}){r['seconds']:>7.1f}"
        )


if __name__ == "__main__":
    main()
