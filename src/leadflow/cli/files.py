"""The input-contract options shared by the file modes of ``leadflow score`` and ``leadflow
sla`` (``--leads ...``): the time, column mapping, duplicates, pass-through columns,
provenance and the refused-rows threshold; and the summary both print."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from leadflow.cli.base import Output, parse_now
from leadflow.errors import ConfigError

__all__ = ["as_of", "contract_arguments", "contract_options", "report_summary"]


def contract_arguments(group: Any, *, scoring: bool) -> None:
    """Add the input-contract options to a file-mode argument group."""
    group.add_argument(
        "--as-of", dest="as_of", help="the instant to judge at (ISO-8601 with an offset); "
        "file mode needs it (or --now): no wall clock, so re-runs give the same bytes",
    )  # fmt: skip
    group.add_argument(
        "--columns", action="append", default=[], metavar="NAME=COLUMN",
        help="read contract field NAME from file column COLUMN (e.g. title=job_title); "
        "repeat or comma-separate. Headers otherwise match exactly, then ignoring case",
    )  # fmt: skip
    group.add_argument(
        "--dedupe", metavar="latest:COLUMN",
        help="keep each lead id's row with the greatest COLUMN (default: a repeated lead id is "
        "refused to the errors file, the first row kept)",
    )  # fmt: skip
    group.add_argument(
        "--max-errors", metavar="N|P%",
        help="fail (exit 5, no output) when more than N rows, or P%% of the rows read, are "
        "refused",
    )  # fmt: skip
    if scoring:
        group.add_argument(
            "--keep", default="", metavar="COL,COL",
            help="leads columns copied to the output as they are (e.g. tenant,_loaded_at)",
        )  # fmt: skip
        group.add_argument(
            "--provenance", action="store_true",
            help="add as_of, scorecard, scorecard_sha256 and leadflow_version columns",
        )  # fmt: skip


def as_of(args: argparse.Namespace) -> datetime:
    """``--as-of`` (or ``--now``), required in file mode; a naive value names the flag given."""
    if getattr(args, "as_of", None) is not None:
        value = parse_now(args.as_of, "--as-of")
    else:
        value = parse_now(args.now, "--now")
    if value is None:
        raise ConfigError(
            "--as-of", "is required with --leads (or --now): file mode does not read the clock"
        )
    return value


def contract_options(args: argparse.Namespace) -> dict[str, Any]:
    """Keyword arguments for :func:`leadflow.etl.score_files` / ``evaluate_sla_files``."""
    mapping: dict[str, str] = {}
    for item in args.columns:
        for pair in filter(None, (p.strip() for p in item.split(","))):
            name, sep, column = pair.partition("=")
            if not sep or not name.strip() or not column.strip():
                raise ConfigError("--columns", f"{pair!r} is not NAME=COLUMN")
            mapping[name.strip()] = column.strip()
    options: dict[str, Any] = {
        "columns": mapping or None,
        "dedupe": args.dedupe,
        "max_errors": args.max_errors,
    }
    if hasattr(args, "keep"):
        options["keep"] = [c.strip() for c in args.keep.split(",") if c.strip()]
        options["provenance"] = args.provenance
    return options


def report_summary(out: Output, data: dict[str, Any], text: str) -> None:
    """Print a file-mode summary: rows in / out / refused / orphaned, then where errors went."""
    out.data(data)
    out.text(text)
    orphaned = data.get("events_orphaned", data.get("touches_orphaned", 0))
    out.text(
        f"  rows in {data['rows_in']:,}, out {data['rows_out']:,}, refused "
        f"{data['rows_refused']:,}, orphaned {orphaned:,}"
    )
    if data["rows_refused"]:
        out.warn(f"{data['rows_refused']:,} rows refused; see {data['errors']}")
