"""The built-in subcommands of ``leadflow``: demo, import, sla, run, adapters, and the helpers
``report`` shares with them (the run configuration, the adapter loader, the rule files).

Scope: each subcommand is a pair — ``<name>_arguments(parser)`` adds its options, ``<name>(args,
out)`` runs it and returns an exit code — listed in :data:`leadflow.cli.COMMANDS`. They load
configuration, call the library, and print through :class:`leadflow.cli.Output`.
"""

from __future__ import annotations

import argparse
import sqlite3
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from leadflow.cli import Exit, Output, load_toml, parse_now, wall_clock
from leadflow.errors import ConfigError
from leadflow.job import check_final_actions

__all__ = [
    "DEFAULT_DEMO_STORE",
    "DEFAULT_STATE_STORE",
    "adapters",
    "adapters_arguments",
    "demo",
    "demo_arguments",
    "import_",
    "import_arguments",
    "load_adapter",
    "load_calendar",
    "open_store",
    "policies_and_calendar",
    "rule_arguments",
    "run",
    "run_arguments",
    "run_calendar",
    "run_config",
    "score",
    "score_arguments",
    "scorecard_or_demo",
    "sla",
    "sla_arguments",
]

#: Where ``leadflow demo`` creates its store, and where ``sla``/``score``/``report`` read by default.
DEFAULT_DEMO_STORE = "leadflow-demo.sqlite"
#: Where ``leadflow run`` keeps its state (cursors, scores, SLA clocks) unless configured.
DEFAULT_STATE_STORE = "leadflow-state.sqlite"


# -- adapters -----------------------------------------------------------------------------------


def adapters_arguments(parser: argparse.ArgumentParser) -> None:
    """``leadflow adapters`` takes no options beyond the common ones."""
    del parser


def adapters(args: argparse.Namespace, out: Output) -> int:
    """List installed adapters, where they come from, and what they can do."""
    from leadflow import adapters as registry
    from leadflow.errors import AdapterError, MissingExtraError

    rows: list[dict[str, Any]] = []
    for name, info in registry.available().items():
        row: dict[str, Any] = {
            "name": name,
            "distribution": info.distribution,
            "version": info.version,
            "target": info.target,
            "capabilities": None,
            "install_hint": None,
            "problem": None,
        }
        if info.duplicated:
            row["problem"] = (
                f"registered by more than one distribution: {', '.join(info.providers)}"
            )
        else:
            try:
                caps = info.capabilities()
                row["capabilities"] = caps.to_dict() if caps is not None else None
            except MissingExtraError as exc:
                # Not a fault: an optional adapter whose extra is not installed.
                row["install_hint"] = f'pip install "leadflow[{exc.extra}]"'
            except AdapterError as exc:
                row["problem"] = str(exc)
        rows.append(row)
    out.data({"adapters": rows})
    for row in rows:
        origin = f"{row['distribution']} {row['version'] or ''}".strip()
        out.text(f"{row['name']:<12} {origin:<28} {row['target']}")
        caps = row["capabilities"]
        if caps:
            out.text(f"{'':<12} reads: {', '.join(caps['reads'])}")
            out.text(
                f"{'':<12} writes: {', '.join(caps['writes']) or '-'}; max batch "
                f"{caps['max_batch']}; conflict detection: "
                f"{'yes' if caps['conflict_detection'] else 'no'}; transactional batches: "
                f"{'yes' if caps['transactional_batches'] else 'no'}"
            )
        if row["install_hint"]:
            out.text(f"{'':<12} not installed: {row['install_hint']}")
        if row["problem"]:
            out.text(f"{'':<12} unavailable: {row['problem']}")
    return Exit.OK if not any(r["problem"] for r in rows) else Exit.PARTIAL


# -- import -------------------------------------------------------------------------------------


def import_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``leadflow import``."""
    parser.add_argument("files", nargs="+", type=Path, help=".csv, .jsonl or .ndjson files")
    parser.add_argument(
        "--entity",
        required=True,
        choices=("lead", "account", "activity", "touch"),
        help="what the files hold",
    )
    parser.add_argument(
        "--store",
        type=Path,
        default=Path(DEFAULT_STATE_STORE),
        help=f"the store to import into (default: ./{DEFAULT_STATE_STORE})",
    )
    parser.add_argument("--batch-size", type=int, default=500, help="rows per transaction")


def import_(args: argparse.Namespace, out: Output) -> int:
    """Import files into the store; bad rows are reported and the good ones kept."""
    from leadflow.adapters.sqlite import SQLiteAdapter

    reports = []
    with SQLiteAdapter(args.store) as store:
        for file in args.files:
            report = store.import_file(args.entity, file, batch_size=args.batch_size)
            reports.append((file, report))
            out.text(
                f"{file}: {report.imported} {args.entity} records imported, "
                f"{len(report.errors)} refused"
            )
            for error in report.errors[:20]:
                out.text(f"  {error}")
            if len(report.errors) > 20:
                out.text(f"  ... and {len(report.errors) - 20} more (use --json for all)")
    out.data(
        {
            "store": str(args.store),
            "files": [
                {
                    "file": str(file),
                    "entity": report.entity.value,
                    "imported": report.imported,
                    "errors": [
                        {"line": e.line, "field": e.field, "value": e.value, "message": e.message}
                        for e in report.errors
                    ],
                }
                for file, report in reports
            ],
        }
    )
    return Exit.OK if all(r.ok for _, r in reports) else Exit.PARTIAL


# -- sla ----------------------------------------------------------------------------------------


def sla_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``leadflow sla``."""
    parser.add_argument(
        "--store",
        type=Path,
        default=Path(DEFAULT_DEMO_STORE),
        help=f"the store to read (default: ./{DEFAULT_DEMO_STORE})",
    )
    rule_arguments(parser, "policies", "calendar")
    parser.add_argument("--now", help="evaluate as of this ISO-8601 instant (default: now)")
    parser.add_argument(
        "--by",
        default="owner",
        help="comma-separated adherence dimensions (owner, team, source, step, policy)",
    )
    from leadflow.cli_etl import sla_file_mode_arguments  # ETL: leadflow sla --leads/--touches

    sla_file_mode_arguments(parser)


_RULE_FILES = {
    "policies": ("SLA policies TOML", "the demo policy"),
    "calendar": ("business calendar TOML", "weekdays, New York"),
    "scorecard": ("scorecard TOML", "the demo scorecard"),
}


def rule_arguments(parser: argparse.ArgumentParser, *names: str, otherwise: str = "") -> None:
    """Add the rule-file options *names* (``policies``, ``calendar``, ``scorecard``) that
    ``sla``, ``score`` and ``report`` share; *otherwise* is appended to each default's help."""
    for name in names:
        what, default = _RULE_FILES[name]
        parser.add_argument(f"--{name}", type=Path, help=f"{what} (default: {default}{otherwise})")


def load_calendar(path: Path) -> Any:
    """A business calendar from a TOML file (``--calendar``)."""
    from leadflow.calendar import BusinessCalendar

    return BusinessCalendar.from_dict(load_toml(path), path=str(path))


def policies_and_calendar(
    policies: Path | None, calendar: Path | None
) -> tuple[tuple[Any, ...], Any]:
    """``--policies`` and ``--calendar`` loaded, the demo's where one is not given."""
    from leadflow.demo import demo_calendar, demo_policies
    from leadflow.rules.sla import load_policies

    loaded = load_policies(policies) if policies is not None else demo_policies()
    check_final_actions(loaded)  # the same check `run` makes: a final action must be doable
    return loaded, load_calendar(calendar) if calendar is not None else demo_calendar()


def scorecard_or_demo(path: Path | None) -> Any:
    """``--scorecard`` loaded, or the demo's scorecard."""
    from leadflow.demo import demo_scorecard
    from leadflow.rules.scorecard import load_scorecard

    return load_scorecard(path) if path is not None else demo_scorecard()


def open_store(path: Path) -> Any:
    """The SQLite store at *path*, which must exist (a :class:`ConfigError` says how to make
    one)."""
    from leadflow.adapters.sqlite import SQLiteAdapter

    if not path.exists():
        raise ConfigError(str(path), "no such store; create one with 'leadflow demo' or 'import'")
    return SQLiteAdapter(path)


def _all(store: Any, reader: str) -> list[Any]:
    return [v.item for page in getattr(store, reader)() for v in page.items]


def sla(args: argparse.Namespace, out: Output) -> int:
    """Evaluate SLA policies for every lead in a store and print adherence."""
    if getattr(args, "leads", None) is not None:  # file mode (leadflow[etl]): see cli_etl
        from leadflow.cli_etl import sla_files_command

        return sla_files_command(args, out)
    from leadflow.rules.sla import adherence, evaluate_many

    now = parse_now(args.now) or wall_clock()
    policies, calendar = policies_and_calendar(args.policies, args.calendar)
    by = tuple(part.strip() for part in args.by.split(",") if part.strip())
    with open_store(args.store) as store:
        leads = _all(store, "read_leads")
        out.progress("reading touches", len(leads))
        touches = _all(store, "read_touches")
        evaluations = evaluate_many(leads, touches, now=now, policies=policies, calendar=calendar)
    rows = adherence(evaluations, by=by)
    states = Counter(e.state for e in evaluations)
    out.data(
        {
            "now": now.isoformat(),
            "evaluated": len(evaluations),
            "states": dict(states),
            "adherence": rows,
        }
    )
    out.text(
        f"SLA as of {now.isoformat()}: {len(evaluations)} leads under a policy "
        f"({', '.join(f'{k} {v}' for k, v in sorted(states.items()))})"
    )
    _adherence_table(out, rows, by)
    return Exit.OK


def _adherence_table(out: Output, rows: Sequence[dict[str, Any]], by: Sequence[str]) -> None:
    # The column names and definitions are those of the HTML report (AdherenceFigures).
    head = " / ".join(by)
    out.text(
        f"  {head:<28} {'steps':>6} {'met':>6} {'breached':>9} {'pending':>8} "
        f"{'share met':>10} {'adherence':>10} {'median h':>9}"
    )
    for row in rows:
        label = " / ".join(str(row.get(dim) or "-") for dim in by)
        median = row.get("median_response_hours")
        out.text(
            f"  {label:<28} {row['steps']:>6} {row['met']:>6} {row['breached']:>9} "
            f"{row['pending']:>8} {_share(row['share_met']):>10} {_share(row['adherence']):>10} "
            f"{(f'{median:.1f}' if median is not None else '-'):>9}"
        )
    out.text(
        "  share met = met / (met + breached + pending); "
        "adherence = met / (met + breached), as in the HTML report"
    )


def _share(value: float | None) -> str:
    """A share as the HTML report prints it (one decimal), ``-`` when there is none."""
    return "-" if value is None else f"{value:.1%}"


# -- score --------------------------------------------------------------------------------------


def score_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``leadflow score`` (file-mode options for ETL are added here too)."""
    parser.add_argument(
        "--store",
        type=Path,
        default=Path(DEFAULT_DEMO_STORE),
        help=f"the store to read (default: ./{DEFAULT_DEMO_STORE})",
    )
    rule_arguments(parser, "scorecard")
    parser.add_argument("--now", help="score as of this ISO-8601 instant (default: now)")
    parser.add_argument("--lead", action="append", default=[], help="score only this lead id")
    parser.add_argument("--top", type=int, default=10, help="how many top leads to print")
    from leadflow.cli_etl import file_mode_arguments  # ETL: leadflow score --leads/--events/--out

    file_mode_arguments(parser)


def score(args: argparse.Namespace, out: Output) -> int:
    """Score the leads in a store (read-only) and print the distribution and the top leads."""
    if getattr(args, "leads", None) is not None:  # file mode (leadflow[etl]): see cli_etl
        from leadflow.cli_etl import score_files_command

        return score_files_command(args, out)
    from leadflow.rules.scoring import score_many

    card = scorecard_or_demo(args.scorecard)
    now = parse_now(args.now) or wall_clock()
    with open_store(args.store) as store:
        leads = (
            list(store.leads_by_id(args.lead).values()) if args.lead else _all(store, "read_leads")
        )
        missing = sorted(set(args.lead) - {lead.id for lead in leads})
        if missing:
            raise ConfigError("--lead", f"no lead {missing[0]!r} in {args.store}")
        ids = [lead.id for lead in leads]
        activities = store.activities_for(ids)
        accounts = store.accounts_by_id({lead.account_id for lead in leads if lead.account_id})
    by_lead: dict[str, list[Any]] = {}
    for activity in activities:
        by_lead.setdefault(activity.lead_id, []).append(activity)
    results = []
    for i, result in enumerate(
        score_many(
            card, ((lead, by_lead.get(lead.id, [])) for lead in leads), as_of=now, accounts=accounts
        )
    ):
        results.append(result)
        if i % 500 == 0:
            out.progress("scoring", i, len(leads))
    out.progress.done()
    recs = Counter(r.recommendation.value for r in results)
    top = sorted(results, key=lambda r: (-r.total, r.lead_id))[: max(0, args.top)]
    out.data(
        {
            "scorecard": card.name,
            "as_of": now.isoformat(),
            "scored": len(results),
            "recommendations": dict(recs),
            "scores": [
                {
                    "lead_id": r.lead_id,
                    "score": r.total,
                    "fit": r.fit,
                    "interest": r.interest,
                    "intent": r.intent,
                    "recommendation": r.recommendation.value,
                    "explanation": r.explain(),
                }
                for r in (results if args.lead else top)
            ],
        }
    )
    out.text(f"Scorecard {card.name!r} as of {now.isoformat()}: {len(results)} leads scored")
    out.text("  " + ", ".join(f"{k} {v}" for k, v in sorted(recs.items())))
    for r in results if args.lead else top:
        out.text(f"  {r.lead_id:<10} {r.total:>6.1f}  {r.recommendation.value:<14} {r.explain()}")
    return Exit.OK


# -- run ----------------------------------------------------------------------------------------


def run_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``leadflow run``."""
    parser.add_argument("--adapter", default="sqlite", help="installed adapter name")
    parser.add_argument(
        "--config",
        type=Path,
        required=True,
        help="TOML: store, sla, scorecard, [calendar], [adapters.<name>] settings",
    )
    parser.add_argument("--now", help="run as of this ISO-8601 instant (default: now)")
    parser.add_argument("--job", help="job name, the key its cursors are saved under")
    parser.add_argument(
        "--dry-run", action="store_true", help="decide and report, but write nothing"
    )


_RUN_KEYS = {"store", "sla", "scorecard", "calendar", "adapters", "batch_size"}


def run_config(path: Path, adapter: str) -> dict[str, Any]:
    """The ``--config`` file of ``leadflow run`` (and ``leadflow report``), resolved.

    Returns ``store``, ``sla`` and ``scorecard`` (paths relative to the file, or ``None``),
    ``calendar`` (a table or ``None``), ``batch_size``, and ``settings``: the
    ``[adapters.<adapter>]`` table, an adapter ``path`` made relative to the file too.
    """
    config = load_toml(path)
    unknown = sorted(set(config) - _RUN_KEYS)
    if unknown:
        raise ConfigError(f"{path}: {unknown[0]}", f"unknown key; expected {sorted(_RUN_KEYS)}")
    for key in ("store", "sla", "scorecard"):
        if key in config and (not isinstance(config[key], str) or not config[key].strip()):
            raise ConfigError(
                f"{path}: {key}", f"must be a file path (a string), got {config[key]!r}"
            )
    if "calendar" in config and not isinstance(config["calendar"], dict):
        raise ConfigError(
            f"{path}: calendar", f"must be a [calendar] table, got {config['calendar']!r}"
        )
    batch_size = config.get("batch_size", 500)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"{path}: batch_size", f"must be a positive integer, got {batch_size!r}")
    base = path.parent
    resolved: dict[str, Any] = {
        "store": base / config.get("store", DEFAULT_STATE_STORE),
        "sla": base / config["sla"] if "sla" in config else None,
        "scorecard": base / config["scorecard"] if "scorecard" in config else None,
        "calendar": config.get("calendar"),
        "batch_size": batch_size,
    }
    tables = config.get("adapters", {})
    settings = tables.get(adapter, {}) if isinstance(tables, dict) else None
    if not isinstance(settings, dict):
        raise ConfigError(f"{path}: adapters.{adapter}", "must be a table of adapter settings")
    settings = dict(settings)
    where = settings.get("path")
    if isinstance(where, str) and where != ":memory:" and not Path(where).is_absolute():
        settings["path"] = str(base / where)  # like the store: relative to the config file
    resolved["settings"] = settings
    return resolved


def run_calendar(config: dict[str, Any]) -> Any:
    """The business calendar of a :func:`run_config`: its ``[calendar]`` table, else weekdays
    in UTC."""
    from leadflow.calendar import BusinessCalendar

    if config["calendar"] is None:
        return BusinessCalendar.weekdays("UTC")
    return BusinessCalendar.from_dict(config["calendar"], path="calendar")


def load_adapter(name: str, settings: dict[str, Any], *, source: Path | None = None) -> Any:
    """Build the installed adapter *name* from *settings* (the ``[adapters.<name>]`` table of
    the configuration file *source*).

    A :class:`ConfigError` from the adapter is raised again with a path that says where the
    setting is: ``leadflow.toml: adapters.hubspot.fields.leads: unknown entity; ...``.
    """
    from leadflow import adapters as registry

    try:
        return registry.load(name, **settings)
    except ConfigError as exc:
        table = f"{source}: adapters.{name}" if source is not None else f"adapters.{name}"
        inner = exc.path if exc.path and exc.path != name else ""
        raise ConfigError(f"{table}.{inner}" if inner else table, exc.problem) from None


def _same_file(a: Any, b: Path) -> bool:
    try:
        return a is not None and str(a) != ":memory:" and Path(a).resolve() == b.resolve()
    except OSError:
        return False


def _run_job(
    *,
    adapter_name: str,
    settings: dict[str, Any],
    store_path: Path,
    job_name: str,
    now: datetime,
    policies: tuple[Any, ...],
    calendar: Any,
    scorer: Any,
    batch_size: int,
    dry_run: bool,
    out: Output,
    source: Path | None = None,
) -> Any:
    """Load the adapter (settings from the configuration file *source*), open the state store,
    run the job; returns the :class:`RunReport`."""
    from leadflow.adapters.sqlite import SQLiteAdapter
    from leadflow.job import Job
    from leadflow.job import run as run_the_job

    job = Job(
        name=job_name,
        now=now,
        scorer=scorer,
        policies=policies,
        calendar=calendar,
        batch_size=batch_size,
        dry_run=dry_run,
    )
    shared = adapter_name == "sqlite" and _same_file(settings.get("path"), store_path)
    store = SQLiteAdapter(store_path)
    try:
        if shared:
            return run_the_job(job, store, cursors=store, history=store, progress=out.progress)
        adapter = load_adapter(adapter_name, settings, source=source)
        try:
            return run_the_job(
                job,
                adapter,
                cursors=store,
                history=store,
                mirror=store.mirror,
                record=store.write,
                progress=out.progress,
            )
        finally:
            adapter.close()
    finally:
        store.close()


def _print_report(out: Output, report: Any) -> None:
    out.text(
        f"Job {report.job!r} as of {report.now.isoformat()}"
        f"{' (dry run: nothing written)' if report.dry_run else ''}"
    )
    read = ", ".join(f"{n} {k}" for k, n in report.read.items()) or "nothing new"
    out.text(f"  read:      {read}")
    out.text(f"  judged:    {report.judged} leads")
    if report.scores:
        recs = ", ".join(f"{n} to {k}" for k, n in sorted(report.recommendations.items()))
        out.text(
            f"  scored:    {report.scores.get('scored', 0)} leads; stage moves: {recs or 'none'}; "
            f"sales-winnable accounts: {report.scores.get('sales_winnable_accounts', 0)}"
        )
    if report.sla:
        out.text("  SLA:       " + ", ".join(f"{k} {v}" for k, v in sorted(report.sla.items())))
    for kind, statuses in report.writes.items():
        out.text(
            f"  write {kind:<10} " + ", ".join(f"{s} {n}" for s, n in sorted(statuses.items()))
        )
    if not report.writes:
        out.text("  writes:    none")
    out.text(f"  applied:   {report.applied} changes")
    for problem in report.problems[:20]:
        out.text(
            f"  ! {problem.write.kind.value} for {problem.write.lead_id}: "
            f"{problem.status.value}: {problem.error}"
        )
    if len(report.problems) > 20:
        out.text(f"  ... and {len(report.problems) - 20} more problems (use --json for all)")
    for skipped in report.skipped[:20]:
        out.text(f"  ! {skipped.step} not done for {skipped.record_id}: {skipped.error}")
    if len(report.skipped) > 20:
        out.text(f"  ... and {len(report.skipped) - 20} more not done (use --json for all)")


def run(args: argparse.Namespace, out: Output) -> int:
    """Read → score → recommend stages → evaluate SLAs → write back, against any adapter."""
    from leadflow.rules.sla import load_policies

    config = run_config(args.config, args.adapter)
    now = parse_now(args.now) or wall_clock()
    policies = load_policies(config["sla"]) if config["sla"] is not None else ()
    calendar = run_calendar(config)
    scorer = _scorer(config["scorecard"])
    report = _run_job(
        adapter_name=args.adapter,
        settings=config["settings"],
        store_path=config["store"],
        job_name=args.job or f"run:{args.adapter}",
        now=now,
        policies=policies,
        calendar=calendar,
        scorer=scorer,
        batch_size=config["batch_size"],
        dry_run=args.dry_run,
        out=out,
        source=args.config,
    )
    out.progress.done()
    out.data(report.to_dict())
    _print_report(out, report)
    return Exit.OK if report.ok else Exit.PARTIAL


def _scorer(path: Path | None) -> Any:
    from leadflow.job import scorecard_scorer
    from leadflow.rules.scorecard import load_scorecard

    return scorecard_scorer(load_scorecard(path)) if path is not None else None


# -- demo ---------------------------------------------------------------------------------------


def demo_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``leadflow demo``."""
    parser.add_argument(
        "--store",
        type=Path,
        default=Path(DEFAULT_DEMO_STORE),
        help=f"where to create the demo store (default: ./{DEFAULT_DEMO_STORE})",
    )
    parser.add_argument("--leads", type=int, default=3000, help="how many leads (default 3000)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (same seed, same data)")
    parser.add_argument(
        "--report", type=Path, default=Path("leadflow-report.html"), help="feedback report file"
    )


def _is_leadflow_store(path: Path) -> bool:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        finally:
            conn.close()
    except sqlite3.Error:
        return False
    return {"leads", "counters", "sync_cursors"} <= names


def _fresh_store(path: Path, out: Output) -> None:
    if not path.exists():
        return
    if not _is_leadflow_store(path):
        raise ConfigError(str(path), "exists and is not a leadflow store; pass another --store")
    out.text(f"Replacing the demo store {path}")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def demo(args: argparse.Namespace, out: Output) -> int:
    """Create a seeded sample store and run the whole job on it, then summarise."""
    from leadflow.adapters.sqlite import SQLiteAdapter
    from leadflow.demo import demo_calendar, demo_policies, demo_scorecard, generate
    from leadflow.job import scorecard_scorer
    from leadflow.ports import Entity, Write

    if args.leads < 1:
        raise ConfigError("--leads", f"must be at least 1, got {args.leads}")
    _fresh_store(args.store, out)
    data = generate(leads=args.leads, seed=args.seed)
    with SQLiteAdapter(args.store) as store:
        for entity, name, items in (
            (Entity.ACCOUNT, "accounts", data.accounts),
            (Entity.LEAD, "leads", data.leads),
            (Entity.ACTIVITY, "activities", data.activities),
            (Entity.TOUCH, "touches", data.touches),
        ):
            for start in range(0, len(items), 1000):
                store.upsert(entity, items[start : start + 1000])
                out.progress(f"storing {name}", min(start + 1000, len(items)), len(items))
        history: list[Write] = [*data.rejections, *data.outcomes]
        recorded = store.write(history)
        refused = [r for r in recorded if not r.ok]
        if refused:
            raise ConfigError("demo", f"the generated history was refused: {refused[0].error}")
    report = _run_job(
        adapter_name="sqlite",
        settings={"path": str(args.store)},
        store_path=args.store,
        job_name="demo",
        now=data.now,
        policies=demo_policies(),
        calendar=demo_calendar(),
        scorer=scorecard_scorer(demo_scorecard()),
        batch_size=1000,
        dry_run=False,
        out=out,
    )
    out.progress.done()
    summary = _demo_summary(args.store, data, report)
    from leadflow.cli_report import write_demo_report

    summary["report"] = str(write_demo_report(args.store, args.report, now=data.now))
    out.data(summary)
    _print_demo(out, args.store, summary, report)
    out.text(f"Feedback report: {summary['report']} (open it in a browser)")
    return Exit.OK if report.ok else Exit.PARTIAL


def _demo_summary(path: Path, data: Any, report: Any) -> dict[str, Any]:
    from leadflow.adapters.sqlite import SQLiteAdapter
    from leadflow.demo import demo_calendar, demo_policies
    from leadflow.rules.sla import adherence, evaluate_many

    with SQLiteAdapter(path) as store:
        counts = store.counts()
        leads = _all(store, "read_leads")
        touches = _all(store, "read_touches")
        rejections = store.rejections()
        outcomes = store.outcomes()
        scores = sorted(store.current_scores().values(), key=lambda s: (-s.score, s.lead_id))
    evaluations = evaluate_many(
        leads, touches, now=data.now, policies=demo_policies(), calendar=demo_calendar()
    )
    by_source: dict[str, Counter[str]] = {}
    for lead in leads:
        by_source.setdefault(lead.source or "-", Counter())[lead.stage] += 1
    rejected_ids = {r.lead_id for r in rejections}
    won = [o for o in outcomes if o.kind.value == "won"]
    return {
        "store": str(path),
        "as_of": data.now.isoformat(),
        "counts": counts,
        "stages": dict(Counter(lead.stage for lead in leads).most_common()),
        "sources": {
            s: {
                "leads": sum(c.values()),
                "won": c.get("won", 0),
                "rejected": c.get("recycled", 0) + c.get("disqualified", 0),
            }
            for s, c in sorted(by_source.items(), key=lambda kv: -sum(kv[1].values()))
        },
        "reject_reasons": dict(Counter(r.code for r in rejections).most_common()),
        "rejected_then_bought_elsewhere": sum(
            1 for o in outcomes if o.kind.value == "competitor" and o.lead_id in rejected_ids
        ),
        "rejected_then_bought_from_us": sum(
            1 for o in outcomes if o.kind.value == "won" and o.lead_id in rejected_ids
        ),
        "won": {"deals": len(won), "amount": str(sum((o.amount or 0) for o in won))},
        "sla_by_owner": adherence(evaluations, by=("owner",)),
        "sales_winnable_accounts": report.scores.get("sales_winnable_accounts", 0),
        "top_scores": [
            {
                "lead_id": s.lead_id,
                "score": s.score,
                "recommendation": s.recommendation,
                "explanation": s.summary,
            }
            for s in scores[:5]
        ],
        "run": report.to_dict(),
    }


def _print_demo(out: Output, path: Path, summary: dict[str, Any], report: Any) -> None:
    counts = summary["counts"]
    out.text(f"leadflow demo: a seeded sample company, as of {summary['as_of']}")
    out.text(
        f"  store: {path}  ({counts['leads']} leads, {counts['accounts']} accounts, "
        f"{counts['activities']} activities, {counts['touches']} touches, "
        f"{counts['rejections']} rejections, {counts['outcomes']} outcomes)"
    )
    out.text()
    out.text("Funnel by source (leads / won / rejected):")
    for source, row in summary["sources"].items():
        out.text(f"  {source:<22} {row['leads']:>6} {row['won']:>6} {row['rejected']:>9}")
    out.text()
    out.text("Why sales rejected leads:")
    for code, n in summary["reject_reasons"].items():
        out.text(f"  {code:<22} {n:>6}")
    out.text(
        f"  rejected leads that later bought: {summary['rejected_then_bought_from_us']} from us, "
        f"{summary['rejected_then_bought_elsewhere']} from a competitor"
    )
    amount = f"{float(summary['won']['amount']):,.0f}"
    out.text(f"  won: {summary['won']['deals']} deals, {amount} USD")
    out.text()
    out.text("SLA adherence by owner (first touch within 24 business hours, 3 attempts in 8 days):")
    _adherence_table(out, summary["sla_by_owner"], ("owner",))
    out.text()
    out.text(
        f"Sales-winnable accounts: {summary['sales_winnable_accounts']} (target-fit accounts where "
        "several people engage and engagement is not cooling; their leads go to sales now)"
    )
    out.text()
    out.text("Top scored leads, with the scorecard's explanation:")
    for row in summary["top_scores"]:
        out.text(
            f"  {row['lead_id']}  {row['score']:>5.1f}  {row['recommendation']:<10} "
            f"{row['explanation']}"
        )
    out.text()
    _print_report(out, report)
    out.text()
    # The follow-ups judge the data as of the demo's instant, not today's clock (on which every
    # demo lead would have decayed to nurture and every open SLA clock breached).
    as_of = datetime.fromisoformat(summary["as_of"]).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    out.text(
        f"Next: leadflow sla --store {path} --now {as_of} --by owner,step   |   "
        f"leadflow score --store {path} --now {as_of}   |   leadflow adapters"
    )
