"""``leadflow adapters``: list installed adapters, where they come from, and what they can do."""

from __future__ import annotations

import argparse
from typing import Any

from leadflow.cli.base import Exit, Output

__all__ = [
    "adapters",
    "adapters_arguments",
]


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
