"""Benchmark: leadflow's scoring engines against hand-written DuckDB and polars pipelines.

Generates (once, cached) a Parquet pair of leads and events with
:func:`leadflow.etl.synthetic.generate` -- by default 1M leads and ~15M events -- then times,
each run in its own fresh process, the approaches interleaved (a, b, c, a, b, c, ...)
*--repeat* times:

(a) ``leadflow``: :func:`leadflow.etl.compile_scorecard` on ``examples/scorecard.toml`` and
    ``plan.score`` given the two files -- the default (polars) engine, every column of both
    files checked by the input contract, a repeated event (``id``, ``lead_id``) counted once;
(b) ``duckdb``: one hand-written SQL query of the same scorecard, reading the Parquet files;
(c) ``polars``: a hand-written lazy polars pipeline of the same scorecard;
(d) ``leadflow-arrow`` (for information, not a baseline): the same ``plan.score`` on the Arrow
    plan over the files read by batches, the columns the card reads (the default before the
    polars engine);

and with ``--files``, the file job of ``leadflow score --leads ... --events ... --out ...
--errors ...`` (:func:`leadflow.etl.score_files`, which also checks every row, resolves
repeated lead ids, counts orphaned, unknown and repeated events, sorts by id and writes a
Parquet file whose bytes do not depend on the engine or the partitioning):

(e) ``leadflow-files``: the job's default engine (polars, exact mode), *--repeat* times,
    interleaved with the others;
(f) ``leadflow-files-arrow`` (once, after the others: it is slow): the same job on the Arrow
    plan (``engine="arrow"``, the default before); its output file must equal (e)'s byte for
    byte;
(g) ``polars-to-file``: the file job's fair baseline, (c)'s pipeline with its result written
    to a Parquet file beside the data (``write_parquet``), as (e) writes its scores,
    interleaved with the others; the file job's ratio is printed against it as well as
    against the best in-memory baseline (the table's ratio columns);
(h) ``polars-audited`` (for information, not the target's baseline): (g) plus, written by hand,
    the two event audits the file job reports and the other pipelines skip -- the events whose
    lead is not in the leads file (an anti-join) and repeated event ids (none possible when
    the ids rise down the file -- each id compared with the one before -- else counted by a
    group-by of the keys) -- with the rows sorted by id as the file job writes them: what the
    file job's own work costs in plain polars, so its ratio to (h) is the engine's overhead
    and its ratio to (g) the audits' price;
(i) ``event-ids`` (for information; no scores): one streaming pass that only decodes every
    event's ``id`` and compares nothing -- the column a count of repeated events must read
    and the hand-written pipelines never do (statistics bound a column, they do not show
    repeats): (g) plus its time, over (g), is a floor under the file job's ratio to (g),
    whatever the engine.

(An approach with leadflow's plan on a DuckDB engine over the compiled SQL measured the same
CPU as the Arrow plan and was removed: docs/etl.md, "Engines and the benchmark".)

and reports min and median of wall and CPU seconds (the child's own ``getrusage`` around the
work, imports excluded) and peak RSS from each child's own ``VmHWM`` (``/proc/<pid>/status``
read by the child itself as it ends: ``os.wait4``'s ``ru_maxrss`` would include the parent's
high-water mark inherited across ``fork``). Each approach's result is checked against
leadflow's (same recommendations, scores within 1e-9) before its time is reported. With
``--postgres`` it also loads ``--postgres-leads`` leads into a throwaway PostgreSQL server and
times the compiled SQL there (rows/s).

    python benchmarks/bench_etl.py                    # 1M leads, ~15M events
    python benchmarks/bench_etl.py --leads 300000     # quicker
    python benchmarks/bench_etl.py --leads 0 --postgres   # only PostgreSQL, 100k leads
    python benchmarks/bench_etl.py --files --no-arrow --repeat 2   # the file job too
    python benchmarks/bench_etl.py --files --no-arrow --unordered-ids   # ids not rising

Not run by pytest.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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
    from leadflow.rules.scorecard import load_scorecard

    plan = compile_scorecard(load_scorecard(CARD))
    # the default engine, given the files: every column of both files checked against the
    # model, repeated events (id, lead_id) counted once
    return plan.score(leads, events, as_of=AS_OF)


def run_leadflow_arrow(leads: Path, events: Path) -> object:
    from leadflow.etl import compile_scorecard
    from leadflow.etl.files import read_batches
    from leadflow.etl.plan import EVENT_COLUMNS
    from leadflow.rules.scorecard import load_scorecard

    plan = compile_scorecard(load_scorecard(CARD))
    return plan.score(
        read_batches(leads, columns=dict(plan.lead_columns), batch_size=1 << 20),
        read_batches(events, columns=EVENT_COLUMNS, dictionary=("kind",), batch_size=1 << 20),
        as_of=AS_OF,
        engine="arrow",
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
    return polars_query(leads, events).collect().to_arrow()


def run_polars_to_file(leads: Path, events: Path) -> Path:
    """The same pipeline as :func:`run_polars`, its result written to a Parquet file beside
    the data, as the file job writes its scores (the file job's fair baseline)."""
    out = leads.parent / "polars-to-file.parquet"
    polars_query(leads, events).collect().write_parquet(out)
    return out


def run_polars_audited(leads: Path, events: Path) -> Path:
    """:func:`run_polars_to_file` plus the file job's two event audits, by hand (see (h)),
    each a streaming pass in bounded memory."""
    import polars as pl

    out = leads.parent / "polars-audited.parquet"
    scan = pl.scan_parquet(events)
    known = pl.scan_parquet(leads).select(pl.col("id").alias("lead_id"))
    orphans = scan.select("lead_id").join(known, on="lead_id", how="anti").select(pl.len())
    orphaned = orphans.collect(engine="streaming").item()
    rising, last = True, None
    for batch in scan.select("id").collect_batches():  # each id against the one before
        ids = batch.get_column("id")
        if ids.len() == 0:
            continue
        after = ids.slice(1) > ids.slice(0, ids.len() - 1)
        if (last is not None and not ids[0] > last) or not after.all():
            rising = False
            break
        last = ids[-1]
    repeated = 0
    if not rising:  # a repeat is the same (lead_id, id) again: copies of a key beyond one
        copies = scan.group_by("lead_id", "id").agg(pl.len()).select((pl.col("len") - 1).sum())
        repeated = int(copies.collect(engine="streaming").item())
    polars_query(leads, events).sort("id").collect().write_parquet(out)
    print(f"polars-audited: {orphaned:,} orphaned events, {repeated:,} repeated event ids",
          file=sys.stderr)  # fmt: skip
    return out


def run_event_ids(leads: Path, events: Path) -> None:
    """One streaming pass that only decodes every event's ``id`` (see (i)); no scores."""
    import polars as pl

    pl.scan_parquet(events).select(pl.col("id").str.len_bytes().sum()).collect(engine="streaming")


def polars_query(leads: Path, events: Path) -> Any:
    """The hand-written polars pipeline of the scorecard, as a lazy query."""
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
    return out


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


def run_files(leads: Path, events: Path, engine: str) -> Path:
    """``leadflow score --leads --events --out --errors``: the file job, output to a file."""
    from leadflow.etl import compile_scorecard, score_files
    from leadflow.rules.scorecard import load_scorecard

    out = leads.parent / f"files-{engine}.parquet"
    score_files(
        compile_scorecard(load_scorecard(CARD)), leads, events, out, as_of=AS_OF,
        errors=leads.parent / f"files-{engine}-errors.csv", engine=engine,
    )  # fmt: skip
    return out


APPROACHES = {
    "leadflow": run_leadflow,
    "duckdb": run_duckdb,
    "polars": run_polars,
    "leadflow-arrow": run_leadflow_arrow,
    "leadflow-files": lambda leads, events: run_files(leads, events, "auto"),
    "leadflow-files-arrow": lambda leads, events: run_files(leads, events, "arrow"),
    "polars-to-file": run_polars_to_file,
    "polars-audited": run_polars_audited,
    "event-ids": run_event_ids,
}
FILE_JOBS = ("leadflow-files", "leadflow-files-arrow")
#: approaches run only with --files, interleaved with the others
WITH_FILES = ("leadflow-files", "polars-to-file", "polars-audited", "event-ids")
IMPORTS = {
    "leadflow-files": ("leadflow.etl.pipeline", "leadflow.etl._polars_files", "polars"),
    "leadflow-files-arrow": ("leadflow.etl.pipeline",),
    "leadflow-arrow": ("leadflow.etl.plan",),
    "leadflow": ("leadflow.etl.plan", "leadflow.etl.engine", "polars"),
    "duckdb": ("duckdb",),
    "polars": ("polars",),
    "polars-to-file": ("polars",),
    "polars-audited": ("polars",),
    "event-ids": ("polars",),
}


def vm_hwm_mb() -> float:
    """This process's own peak resident set (VmHWM of /proc/<pid>/status), in MB."""
    with open(f"/proc/{os.getpid()}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return math.nan


def child(approach: str, data: Path, sample: int) -> None:
    """Run one approach once; write its result to data/result-<approach>.parquet; print JSON."""
    import importlib

    import pyarrow.parquet as pq

    leads, events = data / "leads.parquet", data / "events.parquet"
    if approach == "per_record":
        seconds, rows, built = run_per_record(leads, events, sample)
        print(json.dumps({"seconds": seconds, "rows": rows, "build_seconds": built}))
        return
    for module in IMPORTS[approach]:  # time the work, not the imports
        importlib.import_module(module)
    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    table = APPROACHES[approach](leads, events)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    peak = vm_hwm_mb()  # before the output file is read back (not part of the job)
    rows = 0
    if table is not None:  # (event-ids scores nothing)
        if isinstance(table, Path):
            table = pq.read_table(table)
        rows = table.num_rows  # type: ignore[attr-defined]
        pq.write_table(table, data / f"result-{approach}.parquet")
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "rows": rows,
                      "peak_rss_mb": peak}))  # fmt: skip


# -- the parent: generate, run each child, compare ----------------------------------------------


def measure(approach: str, data: Path, sample: int) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", approach, "--data", str(data),
         "--sample", str(sample)],
        stdout=subprocess.PIPE, text=True, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        raise SystemExit(f"{approach} failed with exit code {proc.returncode}")
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def check(data: Path, approach: str) -> str:
    import pyarrow.parquet as pq

    ours = pq.read_table(data / "result-leadflow.parquet").sort_by("id")
    theirs = pq.read_table(data / f"result-{approach}.parquet").sort_by("id")
    if ours.column("id").to_pylist() != theirs.column("id").to_pylist():
        return "DIFFERENT LEAD IDS"
    worst = max(
        (abs(a - b) for a, b in zip(
            ours.column("score").to_pylist(), theirs.column("score").to_pylist(), strict=True
        )),
        default=0.0,
    )  # fmt: skip
    same = ours.column("recommendation").to_pylist() == theirs.column("recommendation").to_pylist()
    return f"max |score diff| {worst:.1e}, recommendations {'equal' if same else 'DIFFER'}"


def postgres(data: Path, leads: int) -> None:
    """Load the first *leads* leads and their events into a throwaway PostgreSQL server and
    time the compiled SQL there."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    sys.path.insert(0, str(ROOT / "tests" / "etl"))
    import psycopg
    from postgres_server import find_binaries, running_server

    from leadflow.etl.sql import compile_scorecard_sql
    from leadflow.rules.scorecard import load_scorecard

    bin_dir = find_binaries()
    if bin_dir is None:
        print("PostgreSQL is not installed; skipped")
        return
    lead_rows = pq.read_table(data / "leads.parquet").slice(0, leads)
    ids = lead_rows.column("id")
    event_rows = pq.read_table(data / "events.parquet", columns=["lead_id", "kind", "occurred_at"])
    event_rows = event_rows.filter(pc.is_in(event_rows.column("lead_id"), ids))
    sql = compile_scorecard_sql(load_scorecard(CARD), "postgres", as_of=AS_OF, accounts=None)
    types = {"string": "text", "double": "double precision", "int64": "bigint",
             "timestamp[us, tz=UTC]": "timestamptz", "large_string": "text"}  # fmt: skip
    with (
        running_server(bin_dir) as server,
        psycopg.connect(server.conninfo, autocommit=True) as conn,
    ):
        for name, full in (("leads", lead_rows), ("events", event_rows)):
            table = full.select([f.name for f in full.schema if str(f.type) in types])
            cols = ", ".join(f'"{f.name}" {types[str(f.type)]}' for f in table.schema)
            conn.execute(f'CREATE TABLE "{name}" ({cols})')
            with conn.cursor().copy(f'COPY "{name}" FROM STDIN') as copy:
                for batch in table.to_batches(max_chunksize=50_000):
                    for row in zip(*(c.to_pylist() for c in batch.columns), strict=True):
                        copy.write_row(row)
            conn.execute(f'ANALYZE "{name}"')
        conn.execute("CREATE INDEX ON events (lead_id)")
        timings = []
        for _ in range(3):
            start = time.perf_counter()
            rows = conn.execute(sql).fetchall()
            timings.append(time.perf_counter() - start)
    best = min(timings)
    print(f"PostgreSQL compiled SQL: {len(rows):,} leads, "
          f"{event_rows.num_rows:,} events: best {best:.2f} s, median "
          f"{sorted(timings)[1]:.2f} s -> {len(rows) / best:,.0f} leads/s")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--events-per-lead", type=float, default=15.0)
    parser.add_argument("--seed", type=int, default=20260302)
    parser.add_argument("--sample", type=int, default=20_000, help="leads for the per-record path")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved runs per approach")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--postgres", action="store_true", help="also time PostgreSQL")
    parser.add_argument("--postgres-leads", type=int, default=100_000)
    parser.add_argument(
        "--no-arrow", action="store_true", help="leave out the informational Arrow-plan row"
    )
    parser.add_argument(
        "--files", action="store_true",
        help="also time the file job (leadflow score --leads/--events): polars each repeat, "
        "beside its fair baseline polars-to-file (the polars pipeline writing Parquet); "
        "the Arrow plan once",
    )  # fmt: skip
    parser.add_argument(
        "--unordered-ids", action="store_true",
        help="the events' ids permuted within each row group (an export not ordered by id: "
        "a repeated event can no longer be ruled out by rising ids; the scores are the same)",
    )  # fmt: skip
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.data, args.sample)
        return

    from leadflow.etl.synthetic import generate

    size = max(args.leads, args.postgres_leads if args.postgres else 0)
    data = args.cache / f"leadflow-bench-etl-{size}-{args.events_per_lead:g}-{args.seed}"
    if not (data / "events.parquet").exists():
        start = time.perf_counter()
        files = generate(
            data, leads=size, seed=args.seed, as_of=AS_OF, events_per_lead=args.events_per_lead,
        )  # fmt: skip
        print(f"generated {files.lead_rows:,} leads, {files.event_rows:,} events in "
              f"{time.perf_counter() - start:.1f} s -> {data}")  # fmt: skip
    import pyarrow.parquet as pq

    if args.unordered_ids:
        data = unordered_ids(data)
    if args.leads:
        events = pq.read_metadata(data / "events.parquet").num_rows
        print(f"data: {size:,} leads, {events:,} events ({data}); cpus: {os.cpu_count()}; "
              f"load average before: {os.getloadavg()}")  # fmt: skip
        names = [
            n
            for n in APPROACHES
            if not (args.no_arrow and n == "leadflow-arrow")
            and n != "leadflow-files-arrow"
            and (args.files or n not in WITH_FILES)
        ]
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in names}
        for _ in range(args.repeat):
            for name in names:
                runs[name].append(measure(name, data, args.sample))
        if args.files:  # once: it takes tens of seconds at 1M leads
            runs["leadflow-files-arrow"] = [measure("leadflow-files-arrow", data, args.sample)]
            same = (data / "files-auto.parquet").read_bytes() == (
                data / "files-arrow.parquet"
            ).read_bytes()
            print(f"file job output, polars vs Arrow plan: {'same bytes' if same else 'DIFFERENT'}")
        print(f"load average after the runs (1, 5, 15 min): {os.getloadavg()}")
        report(data, runs)
        sample = min(args.sample, args.leads)
        if sample:
            per_record = measure("per_record", data, sample)
            rate = per_record["rows"] / per_record["seconds"]
            print(f"per-record score_lead on {int(per_record['rows']):,} leads: {rate:,.0f} "
                  f"leads/s (objects built in {per_record['build_seconds']:.2f} s, not counted)")  # fmt: skip
    if args.postgres:
        postgres(data, args.postgres_leads)


def unordered_ids(data: Path) -> Path:
    """A copy of *data* (cached beside it) whose events' ids are permuted within each row
    group: the same rows, keys still unique, ids no longer rising down the file."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = data.with_name(f"{data.name}-unordered-ids")
    if (out / "events.parquet").exists():
        return out
    out.mkdir(exist_ok=True)
    (out / "leads.parquet").write_bytes((data / "leads.parquet").read_bytes())
    source = pq.ParquetFile(data / "events.parquet")
    rng = np.random.default_rng(1)
    with pq.ParquetWriter(out / "events.parquet", source.schema_arrow) as writer:
        for group in range(source.num_row_groups):
            table = source.read_row_group(group)
            ids = table.column("id").take(pa.array(rng.permutation(table.num_rows)))
            writer.write_table(table.set_column(table.schema.get_field_index("id"), "id", ids))
    print(f"events with unordered ids -> {out}")
    return out


def report(data: Path, runs: dict[str, list[dict[str, float]]]) -> None:
    def stat(name: str, key: str) -> tuple[float, float]:
        values = [r[key] for r in runs[name]]
        return min(values), statistics.median(values)

    base_wall = min(stat(n, "seconds")[0] for n in ("duckdb", "polars"))
    base_cpu = min(stat(n, "cpu_seconds")[0] for n in ("duckdb", "polars"))
    print()
    print("| approach | wall min | wall median | CPU min | CPU median | wall min / best "
          "baseline | CPU min / best baseline | peak RSS (MB, max) | check |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for name, results in runs.items():
        wall, cpu = stat(name, "seconds"), stat(name, "cpu_seconds")
        rss = max(r["peak_rss_mb"] for r in results)
        verdict = (
            "reference"
            if name == "leadflow"
            else "no scores (reads event ids only)"
            if name == "event-ids"
            else check(data, name)
        )
        print(f"| {name} | {wall[0]:.2f} | {wall[1]:.2f} | {cpu[0]:.2f} | {cpu[1]:.2f} | "
              f"{wall[0] / base_wall:.2f}x | {cpu[0] / base_cpu:.2f}x | {rss:,.0f} | {verdict} |")  # fmt: skip
    if "leadflow-files" not in runs:
        return
    files_wall, files_cpu = stat("leadflow-files", "seconds"), stat("leadflow-files", "cpu_seconds")
    if "polars-to-file" in runs:
        to_wall, to_cpu = stat("polars-to-file", "seconds"), stat("polars-to-file", "cpu_seconds")
        print()
        print(f"file job (leadflow-files), min wall / CPU: {files_wall[0] / to_wall[0]:.2f}x / "
              f"{files_cpu[0] / to_cpu[0]:.2f}x the hand-written polars pipeline writing its "
              f"Parquet file (polars-to-file); {files_wall[0] / base_wall:.2f}x / "
              f"{files_cpu[0] / base_cpu:.2f}x the best in-memory baseline")  # fmt: skip
    if "polars-audited" in runs:
        by_wall, by_cpu = stat("polars-audited", "seconds"), stat("polars-audited", "cpu_seconds")
        print(f"file job (leadflow-files), min wall / CPU: {files_wall[0] / by_wall[0]:.2f}x / "
              f"{files_cpu[0] / by_cpu[0]:.2f}x the same pipeline with the file job's event "
              f"audits written by hand (polars-audited; information, not the target)")  # fmt: skip
    if "event-ids" in runs and "polars-to-file" in runs:
        ids_wall, ids_cpu = stat("event-ids", "seconds"), stat("event-ids", "cpu_seconds")
        print(f"reading every event id (event-ids), min wall / CPU: {ids_wall[0]:.2f} / "
              f"{ids_cpu[0]:.2f} s: polars-to-file plus it is {1 + ids_wall[0] / to_wall[0]:.2f}x "
              f"/ {1 + ids_cpu[0] / to_cpu[0]:.2f}x polars-to-file, a floor for any job that "
              f"counts repeated events")  # fmt: skip


if __name__ == "__main__":
    main()
