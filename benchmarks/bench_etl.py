"""Benchmark: leadflow's columnar scoring against hand-written DuckDB and polars pipelines.

Generates (once, cached) a Parquet pair of leads and events with
:func:`leadflow.etl.synthetic.generate` -- by default 1M leads and ~15M events -- then times,
in the same run and each in its own subprocess (so that peak RSS is per approach):

(a) ``leadflow``: :func:`leadflow.etl.compile_scorecard` on ``examples/scorecard.toml`` and
    ``plan.score`` over the files read by batches;
(b) ``duckdb``: one hand-written SQL query of the same scorecard;
(c) ``polars``: a hand-written lazy polars expression pipeline of the same scorecard;

and the per-record path (:func:`leadflow.rules.scoring.score_lead`) on a sample of leads, so
you can see when to switch. Each approach's result is checked against leadflow's (same
recommendations, scores within 1e-9) before its time is reported.

DuckDB and polars are benchmark-only dependencies::

    pip install -e ".[etl]" duckdb polars
    python benchmarks/bench_etl.py                    # 1M leads, ~15M events
    python benchmarks/bench_etl.py --leads 100000     # quicker

Prints, for each approach: wall seconds (best of ``--repeat``), leads/s, the ratio to the
fastest hand-written baseline, CPU seconds of that process (all threads; steadier than wall
time on a shared machine) and peak RSS; plus the load average. Not run by pytest.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

AS_OF = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parent.parent
CARD = ROOT / "examples" / "scorecard.toml"
LN2 = math.log(2.0)

# The seed scorecard (examples/scorecard.toml), written out by hand for the baselines.
VP_WORDS = [
    "VP", "SVP", "EVP", "Vice President", "Chief", "CEO", "CFO", "CIO", "CTO", "COO", "CMO",
    "President", "Founder", "Owner",
]  # fmt: skip
DIRECTOR_WORDS = ["Director", "Head of"]
NOT_DIRECTOR_WORDS = ["VP", "SVP", "EVP", "Vice President", "Chief"]
STUDENT_WORDS = ["Student", "Intern"]
INDUSTRIES = ["software", "financial services", "manufacturing", "healthcare"]
# (rule, kind, points, cap, half-life days)
PER_ACTIVITY = [
    ("quote_request", "quote_request", 40.0, 60.0, 30.0),
    ("demo_request", "demo_request", 35.0, 50.0, 30.0),
    ("case_study", "case_study_download", 10.0, 25.0, 30.0),
    ("webinar", "webinar_attended", 8.0, 20.0, 30.0),
    ("webinar_signup", "webinar_registration", 3.0, 6.0, 30.0),
    ("email_click", "email_click", 2.0, 10.0, 14.0),
]
INTENT = {"quote_request", "demo_request"}


def keywords_regex(words: list[str]) -> str:
    return r"(?i)\b(?:" + "|".join(w.replace(" ", r"\s") for w in words) + r")\b"


def free_mail_domains() -> list[str]:
    from leadflow.rules.scorecard import FREE_MAIL_DOMAINS

    return sorted(FREE_MAIL_DOMAINS)


# -- the approaches (each runs in its own subprocess) -----------------------------------------


def run_leadflow(leads: Path, events: Path) -> object:
    from leadflow.etl import compile_scorecard
    from leadflow.etl.files import read_batches
    from leadflow.etl.plan import EVENT_COLUMNS
    from leadflow.rules.scorecard import load_scorecard

    plan = compile_scorecard(load_scorecard(CARD))
    return plan.score(
        read_batches(leads, columns=dict(plan.lead_columns), batch_size=1 << 20),
        read_batches(events, columns=EVENT_COLUMNS, dictionary=("kind",), batch_size=1 << 20),
        as_of=AS_OF,
    )


def run_duckdb(leads: Path, events: Path) -> object:
    import duckdb

    as_of_ts = AS_OF.timestamp()
    sums = ",\n".join(
        f"sum(CASE WHEN kind = '{kind}' THEN {points} * exp(age * {-LN2 / hl!r}) END) AS {rule}"
        for rule, kind, points, _, hl in PER_ACTIVITY
    )
    capped = ",\n".join(
        f"CASE WHEN a.{rule} IS NULL THEN 0.0 ELSE least(greatest(a.{rule}, -{cap}), {cap}) END"
        f" AS {rule}"
        for rule, _, _, cap, _ in PER_ACTIVITY
    )
    kinds = ", ".join(f"'{k}'" for _, k, *_ in PER_ACTIVITY) + ", 'pricing_page_visit'"
    domains = ", ".join(f"'{d}'" for d in free_mail_domains())
    industries = ", ".join(f"'{i}'" for i in INDUSTRIES)
    behaviour = " + ".join(rule for rule, *_ in PER_ACTIVITY) + " + pricing_interest"
    interest = " + ".join(rule for rule, *_ in PER_ACTIVITY if rule not in INTENT)
    query = f"""
    WITH ev AS (
      SELECT lead_id, kind, ({as_of_ts!r} - epoch_us(occurred_at) / 1e6) / 86400.0 AS age
      FROM read_parquet('{events}')
      WHERE kind IN ({kinds})
    ), agg AS (
      SELECT lead_id,
      {sums},
      count(*) FILTER (WHERE kind = 'pricing_page_visit' AND age <= 14) AS pricing_n,
      min(age) FILTER (WHERE kind = 'pricing_page_visit' AND age <= 14) AS pricing_age
      FROM ev WHERE age >= 0 GROUP BY lead_id
    ), scored AS (
      SELECT l.id,
        (CASE WHEN regexp_matches(l.title, '{keywords_regex(VP_WORDS)}') THEN 20.0 ELSE 0.0 END)::DOUBLE
        + CASE WHEN regexp_matches(l.title, '{keywords_regex(DIRECTOR_WORDS)}')
               AND NOT regexp_matches(l.title, '{keywords_regex(NOT_DIRECTOR_WORDS)}')
               THEN 10.0 ELSE 0.0 END
        + CASE WHEN lower(trim(l.industry)) IN ({industries}) THEN 15.0 ELSE 0.0 END
        + CASE WHEN l.annual_revenue >= 500000000 THEN 15.0 ELSE 0.0 END
        + CASE WHEN regexp_matches(l.title, '{keywords_regex(STUDENT_WORDS)}')
               OR regexp_matches(l.email, '(?i)\\.edu$') THEN -30.0 ELSE 0.0 END
        + CASE WHEN regexp_replace(l.email, '^.*@', '') IN ({domains}) THEN -10.0 ELSE 0.0 END
        AS fit,
        {capped},
        CASE WHEN a.pricing_n >= 2 THEN 15.0 * exp(a.pricing_age * {-LN2 / 7.0!r}) ELSE 0.0 END
        AS pricing_interest
      FROM read_parquet('{leads}') l LEFT JOIN agg a ON a.lead_id = l.id
    )
    SELECT id, fit + {behaviour} AS score, fit, {behaviour} AS behaviour,
      {interest} AS interest, quote_request + demo_request + pricing_interest AS intent,
      CASE WHEN fit + {behaviour} >= 80 AND quote_request + demo_request + pricing_interest > 0
           THEN 'sql_ready' WHEN fit + {behaviour} >= 50 THEN 'mql' ELSE 'nurture' END
      AS recommendation
    FROM scored
    """
    return duckdb.sql(query).to_arrow_table()


def run_polars(leads: Path, events: Path) -> object:
    import polars as pl

    as_of_ts = AS_OF.timestamp()
    kinds = [k for _, k, *_ in PER_ACTIVITY] + ["pricing_page_visit"]
    ev = (
        pl.scan_parquet(events)
        .filter(pl.col("kind").is_in(kinds))
        .with_columns(
            age=(as_of_ts - pl.col("occurred_at").dt.epoch("us") / 1e6) / 86400.0,
        )
        .filter(pl.col("age") >= 0)
    )
    pricing = (pl.col("kind") == "pricing_page_visit") & (pl.col("age") <= 14)
    agg = ev.group_by("lead_id").agg(
        *[
            pl.when(pl.col("kind") == kind)
            .then(points * (pl.col("age") * (-LN2 / hl)).exp())
            .otherwise(0.0)
            .sum()
            .alias(rule)
            for rule, kind, points, _, hl in PER_ACTIVITY
        ],
        pricing.sum().alias("pricing_n"),
        pl.col("age").filter(pricing).min().alias("pricing_age"),
    )
    title, email = pl.col("title"), pl.col("email")
    fit = (
        pl.when(title.str.contains(keywords_regex(VP_WORDS))).then(20.0).otherwise(0.0)
        + pl.when(
            title.str.contains(keywords_regex(DIRECTOR_WORDS))
            & ~title.str.contains(keywords_regex(NOT_DIRECTOR_WORDS))
        )
        .then(10.0)
        .otherwise(0.0)
        + pl.when(pl.col("industry").str.strip_chars().str.to_lowercase().is_in(INDUSTRIES))
        .then(15.0)
        .otherwise(0.0)
        + pl.when(pl.col("annual_revenue") >= 5e8).then(15.0).otherwise(0.0)
        + pl.when(
            title.str.contains(keywords_regex(STUDENT_WORDS)) | email.str.contains(r"(?i)\.edu$")
        )
        .then(-30.0)
        .otherwise(0.0)
        + pl.when(email.str.replace(r"^.*@", "").is_in(free_mail_domains()))
        .then(-10.0)
        .otherwise(0.0)
    )
    capped = [
        pl.col(rule).clip(-cap, cap).fill_null(0.0).alias(rule)
        for rule, _, _, cap, _ in PER_ACTIVITY
    ]
    pricing_points = (
        pl.when(pl.col("pricing_n") >= 2)
        .then(15.0 * (pl.col("pricing_age") * (-LN2 / 7.0)).exp())
        .otherwise(0.0)
    )
    behaviour = sum(pl.col(rule) for rule, *_ in PER_ACTIVITY) + pl.col("pricing_interest")
    intent = pl.col("quote_request") + pl.col("demo_request") + pl.col("pricing_interest")
    out = (
        pl.scan_parquet(leads)
        .join(agg, left_on="id", right_on="lead_id", how="left")
        .with_columns(fit.fill_null(0.0).alias("fit"), *capped)
        .with_columns(pricing_points.alias("pricing_interest"))
        .with_columns(
            (pl.col("fit") + behaviour).alias("score"),
            behaviour.alias("behaviour"),
            sum(pl.col(r) for r, *_ in PER_ACTIVITY if r not in INTENT).alias("interest"),
            intent.alias("intent"),
        )
        .with_columns(
            pl.when((pl.col("score") >= 80) & (pl.col("intent") > 0))
            .then(pl.lit("sql_ready"))
            .when(pl.col("score") >= 50)
            .then(pl.lit("mql"))
            .otherwise(pl.lit("nurture"))
            .alias("recommendation")
        )
        .select("id", "score", "fit", "behaviour", "interest", "intent", "recommendation")
    )
    return out.collect().to_arrow()


def run_per_record(leads: Path, events: Path, sample: int) -> tuple[float, int, float]:
    """(seconds scoring, leads scored, seconds building Lead/Activity objects) on a sample."""
    from collections import defaultdict

    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from leadflow.model import Activity, Lead
    from leadflow.rules.scorecard import load_scorecard
    from leadflow.rules.scoring import score_lead

    card = load_scorecard(CARD)
    lead_rows = pq.read_table(leads).slice(0, sample)
    ids = lead_rows.column("id")
    event_rows = pq.read_table(events, filters=[("lead_id", "in", ids.to_pylist())])
    start = time.perf_counter()
    people = [Lead.from_record({k: v for k, v in r.items() if v is not None})
              for r in lead_rows.to_pylist()]  # fmt: skip
    acts: dict[str, list[Activity]] = defaultdict(list)
    for r in event_rows.filter(pc.is_in(event_rows.column("lead_id"), ids)).to_pylist():
        acts[r["lead_id"]].append(Activity.from_record(r))
    built = time.perf_counter() - start
    start = time.perf_counter()
    for lead in people:
        score_lead(card, lead, acts[lead.id], as_of=AS_OF)
    return time.perf_counter() - start, len(people), built


def child(approach: str, data: Path, sample: int, repeat: int) -> None:
    """Run one approach, write its result to data/<approach>.parquet, print timing JSON."""
    import pyarrow.parquet as pq

    leads, events = data / "leads.parquet", data / "events.parquet"
    if approach == "per_record":
        seconds, rows, built = run_per_record(leads, events, sample)
        print(json.dumps({"seconds": seconds, "rows": rows, "build_seconds": built}))
        return
    run = {"leadflow": run_leadflow, "duckdb": run_duckdb, "polars": run_polars}[approach]
    # Import each library before the clock starts: time the work, not the imports.
    {"leadflow": lambda: __import__("leadflow.etl.plan"), "duckdb": lambda: __import__("duckdb"),
     "polars": lambda: __import__("polars")}[approach]()  # fmt: skip
    seconds = cpu = math.inf
    for _ in range(repeat):  # best of *repeat*: the machine may be shared
        before = resource.getrusage(resource.RUSAGE_SELF)
        start = time.perf_counter()
        table = run(leads, events)
        seconds = min(seconds, time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_SELF)
        used = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
        cpu = min(cpu, used)  # all threads of the process: the work done, whatever the load
    pq.write_table(table, data / f"result-{approach}.parquet")
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "rows": table.num_rows}))


# -- the parent: generate, run each child, compare ----------------------------------------------


def measure(approach: str, data: Path, sample: int, repeat: int) -> dict[str, float]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", approach, "--data", str(data),
         "--sample", str(sample), "--repeat", str(repeat)],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{approach} failed with exit code {proc.returncode}")
    result: dict[str, float] = json.loads(output.strip().splitlines()[-1])
    result["peak_rss_mb"] = usage.ru_maxrss / 1024  # Linux reports KiB
    return result


def check(data: Path, approach: str) -> str:
    import pyarrow.parquet as pq

    ours = pq.read_table(data / "result-leadflow.parquet").sort_by("id")
    theirs = pq.read_table(data / f"result-{approach}.parquet").sort_by("id")
    if ours.column("id").to_pylist() != theirs.column("id").to_pylist():
        return "DIFFERENT LEAD IDS"
    worst = max(
        abs(a - b)
        for a, b in zip(
            ours.column("score").to_pylist(), theirs.column("score").to_pylist(), strict=True
        )
    )
    same = ours.column("recommendation").to_pylist() == theirs.column("recommendation").to_pylist()
    return f"max |score diff| {worst:.1e}, recommendations {'equal' if same else 'DIFFER'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--events-per-lead", type=float, default=15.0)
    parser.add_argument("--seed", type=int, default=20260302)
    parser.add_argument("--sample", type=int, default=20_000, help="leads for the per-record path")
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs per approach")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.data, args.sample, args.repeat)
        return

    from leadflow.etl.synthetic import generate

    data = args.cache / f"leadflow-bench-etl-{args.leads}-{args.events_per_lead:g}-{args.seed}"
    if not (data / "events.parquet").exists():
        start = time.perf_counter()
        files = generate(
            data, leads=args.leads, seed=args.seed, as_of=AS_OF,
            events_per_lead=args.events_per_lead,
        )  # fmt: skip
        print(f"generated {files.lead_rows:,} leads, {files.event_rows:,} events in "
              f"{time.perf_counter() - start:.1f} s -> {data}")  # fmt: skip
    import pyarrow.parquet as pq

    events = pq.read_metadata(data / "events.parquet").num_rows
    print(f"data: {args.leads:,} leads, {events:,} events ({data}); cpus: {os.cpu_count()}; "
          f"load average before: {os.getloadavg()}")  # fmt: skip
    results = {
        name: measure(name, data, args.sample, args.repeat)
        for name in ("leadflow", "duckdb", "polars")
    }
    sample = min(args.sample, args.leads)
    per_record = measure("per_record", data, sample, 1) if sample else None
    fastest = min(results["duckdb"]["seconds"], results["polars"]["seconds"])
    fastest_cpu = min(results["duckdb"]["cpu_seconds"], results["polars"]["cpu_seconds"])
    print(f"load average after the runs (1, 5, 15 min): {os.getloadavg()}")
    print()
    print("| approach | seconds | leads/s | vs fastest | CPU s | CPU vs fastest | peak RSS (MB) "
          "| check |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for name, r in results.items():
        verdict = "reference" if name == "leadflow" else check(data, name)
        print(f"| {name} | {r['seconds']:.2f} | {r['rows'] / r['seconds']:,.0f} | "
              f"{r['seconds'] / fastest:.2f}x | {r['cpu_seconds']:.2f} | "
              f"{r['cpu_seconds'] / fastest_cpu:.2f}x | {r['peak_rss_mb']:,.0f} | {verdict} |")  # fmt: skip
    if per_record is None:
        return
    rate = per_record["rows"] / per_record["seconds"]
    print(f"| per-record score_lead ({int(per_record['rows']):,} leads) | "
          f"{args.leads / rate:.2f} (extrapolated) | {rate:,.0f} | "
          f"{args.leads / rate / fastest:.1f}x | | | {per_record['peak_rss_mb']:,.0f} | "
          f"objects built in {per_record['build_seconds']:.2f} s, not counted |")  # fmt: skip


if __name__ == "__main__":
    main()
