"""``leadflow import``: load leads, accounts, activities or touches from CSV / JSON-lines files
into the SQLite store (the module is not named ``import``, a keyword)."""

from __future__ import annotations

import argparse
from pathlib import Path

from leadflow.cli.base import Exit, Output
from leadflow.cli.config import DEFAULT_STATE_STORE

__all__ = [
    "import_",
    "import_arguments",
]


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
