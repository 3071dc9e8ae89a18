"""``leadflow import``: load records (leads, accounts, activities, touches) or events (stage
changes, rejections, outcomes) from CSV / JSON-lines files into the SQLite store (the module
is not named ``import``, a keyword).

Each file is one transaction. By default a file lands whole or not at all: one refused row
and nothing from that file is stored, and the command exits 2 naming every refused row (file,
line, field, reason). With ``--errors FILE`` the good rows are stored, every refused row is
written to FILE, and the command exits 1 if any row was refused. A file that cannot be read
(UTF-16, NUL bytes, a CSV field over the size limit...) is refused whole in both modes.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from leadflow.cli.base import Exit, Output, parse_now, wall_clock
from leadflow.cli.config import DEFAULT_STATE_STORE, check_output

__all__ = [
    "KINDS",
    "import_",
    "import_arguments",
]

#: What ``--entity`` accepts (:class:`leadflow.adapters.sqlite.ImportKind`'s values).
KINDS = ("lead", "account", "activity", "touch", "stage_change", "rejection", "outcome")

#: How many refused rows the human summary shows per file (``--errors`` / ``--json`` have all).
_SHOWN = 20


#: Other spellings ``--entity`` accepts: plurals, and ``-`` for ``_``.
_ALIASES = {
    "leads": "lead",
    "accounts": "account",
    "activities": "activity",
    "touches": "touch",
    "stage": "stage_change",
    "stages": "stage_change",
    "stage_changes": "stage_change",
    "rejections": "rejection",
    "outcomes": "outcome",
}


def _kind(text: str) -> str:
    name = text.strip().lower().replace("-", "_")
    return _ALIASES.get(name, name)


def import_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``leadflow import``."""
    parser.add_argument("files", nargs="+", type=Path, help=".csv, .jsonl or .ndjson files")
    parser.add_argument(
        "--entity",
        "--kind",
        dest="entity",
        required=True,
        type=_kind,
        choices=KINDS,
        help="what the files hold: records (lead, account, activity, touch) or events "
        "(stage_change, rejection, outcome)",
    )
    parser.add_argument(
        "--store",
        type=Path,
        default=Path(DEFAULT_STATE_STORE),
        help=f"the store to import into (default: ./{DEFAULT_STATE_STORE})",
    )
    parser.add_argument(
        "--errors",
        type=Path,
        metavar="FILE",
        help="keep the good rows and write every refused row to FILE (CSV, or JSON lines for "
        ".jsonl): file, line, field, reason, value. Without it a file lands whole or not at all",
    )
    parser.add_argument(
        "--now", help="stamp the events recorded with this ISO-8601 instant (default: now)"
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=500,
        help="records stored per step inside a file's single transaction",
    )


def import_(args: argparse.Namespace, out: Output) -> int:
    """Import each file in its own transaction; report what landed and every refused row."""
    from leadflow.adapters.sqlite import SQLiteAdapter
    from leadflow.adapters.sqlite.importer import write_refused
    from leadflow.errors import ConfigError

    if args.batch_size < 1:
        raise ConfigError("--batch-size", f"must be at least 1, got {args.batch_size}")
    for file in args.files:  # every file named must be there before any is imported
        if file.suffix.lower() not in {".csv", ".jsonl", ".ndjson"}:
            raise ConfigError(str(file), "unknown file type; expected .csv, .jsonl or .ndjson")
        if not file.is_file():
            raise ConfigError(str(file), "cannot read: no such file")
    if args.errors is not None:  # checked now: once rows are committed, refusals must land
        check_output("--errors", args.errors, inputs=[*args.files, args.store])
    now = parse_now(args.now) or wall_clock()
    keep_good = args.errors is not None
    reports = []
    with SQLiteAdapter(args.store, now=now) as store:
        for file in args.files:
            report = store.import_file(
                args.entity, file, keep_good=keep_good, batch_size=args.batch_size
            )
            reports.append(report)
            _print_file(out, file, report, keep_good=keep_good)
    refused = [error for report in reports for error in report.errors]
    if keep_good:
        write_refused(args.errors, refused)
        if refused:
            out.text(f"{len(refused)} refused rows written to {args.errors}")
    out.data(
        {
            "store": str(args.store),
            "errors_file": str(args.errors) if keep_good else None,
            "files": [_file_data(report) for report in reports],
        }
    )
    if any(not r.committed for r in reports):
        return Exit.USAGE
    return Exit.PARTIAL if refused else Exit.OK


def _print_file(out: Output, file: Path, report: Any, *, keep_good: bool) -> None:
    what = f"{report.kind.value} records"
    if report.unreadable:
        out.warn(f"error: {report.errors[0]}")
        out.text(f"{file}: refused: the file could not be read; nothing imported")
        return
    if report.empty:
        out.text(f"{file}: empty: the file holds no records; nothing imported")
        return
    held = f", {report.unchanged} already in the store" if report.unchanged else ""
    if not report.committed:
        for error in report.errors[:_SHOWN]:
            out.warn(f"error: {error}")
        more = len(report.errors) - _SHOWN
        if more > 0:
            out.warn(f"error: {file}: ... and {more} more refused rows (--json lists them all)")
        out.text(
            f"{file}: refused: {report.refused} of {report.rows} rows are bad; nothing imported "
            "(a file lands whole: fix it, or pass --errors FILE to keep the good rows)"
        )
        return
    refused = f", {report.refused} refused" if report.refused else ""
    out.text(f"{file}: {report.imported} {what} imported{held}{refused}")
    if not keep_good:
        return
    for error in report.errors[:_SHOWN]:
        out.text(f"  {error}")


def _file_data(report: Any) -> dict[str, Any]:
    return {
        "file": report.file,
        "entity": report.kind.value,
        "rows": report.rows,
        "imported": report.imported,
        "unchanged": report.unchanged,
        "committed": report.committed,
        "empty": report.empty,
        "unreadable": report.unreadable,
        "errors": [
            {
                "line": e.line,
                "field": e.field,
                "value": e.value,
                "message": e.message,
                "file": e.file,
            }
            for e in report.errors
        ],
    }
