"""Importing leadflow imports the core only: no CRM client, no adapter, no test tool."""

from __future__ import annotations

import subprocess
import sys

FORBIDDEN = (
    "simple_salesforce",
    "hubspot",
    "requests",
    "urllib3",
    "hypothesis",
    "pytest",
    "pyarrow",
    "sqlite3",
    "leadflow.adapters.",
    "leadflow.cli",
)


def test_import_leadflow_is_light() -> None:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import leadflow"],
        capture_output=True,
        text=True,
        check=True,
    )
    imported = [
        line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if "|" in line
    ]
    assert "leadflow" in imported
    leaked = sorted(
        {
            name
            for name in imported
            for bad in FORBIDDEN
            if name == bad
            or name.startswith(bad + ".")
            or (bad.endswith(".") and name.startswith(bad))
        }
    )
    assert leaked == []
