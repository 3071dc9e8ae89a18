"""The import-linter contract covers every core module and forbids what test_import_purity does.

``lint-imports`` (run by CI) only checks the modules the contract names; a core module left out
of ``source_modules`` is not checked at all. This test finds such gaps from the source tree.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "leadflow"

#: Not core: optional modules with their own dependencies, and the entry points.
NOT_CORE = ("leadflow.adapters", "leadflow.testing", "leadflow.etl", "leadflow.cli")
NOT_CORE_EXACT = ("leadflow.__main__", "leadflow._version")


#: What ``import leadflow`` must never pull in (tests/test_import_purity.py checks it at run time).
FORBIDDEN = {
    "simple_salesforce",
    "hubspot",
    "requests",
    "urllib3",
    "hypothesis",
    "pytest",
    "pyarrow",
    "pyspark",
    "numpy",
    "sqlite3",
    "leadflow.adapters",
    "leadflow.cli",
}


def contracts() -> list[dict[str, Any]]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    found: list[dict[str, Any]] = data["tool"]["importlinter"]["contracts"]
    return found


def core_modules() -> list[str]:
    names = []
    for path in SRC.rglob("*.py"):
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if name.startswith(NOT_CORE) or name in NOT_CORE_EXACT:
            continue
        names.append(name)
    return sorted(names)


def covered(module: str, contract: dict[str, Any]) -> bool:
    as_packages = contract.get("as_packages", True)
    return any(
        module == source or (as_packages and module.startswith(source + "."))
        for source in contract["source_modules"]
    )


def test_every_core_module_is_a_source_of_a_forbidden_contract() -> None:
    forbidding = [c for c in contracts() if c["type"] == "forbidden"]
    missing = [m for m in core_modules() if not any(covered(m, c) for c in forbidding)]
    assert "leadflow" in core_modules() and "leadflow.rules.scoring" in core_modules()
    assert missing == []


def test_every_contract_forbids_what_import_purity_forbids() -> None:
    for contract in (c for c in contracts() if c["type"] == "forbidden"):
        forbidden = set(contract["forbidden_modules"])
        assert forbidden >= FORBIDDEN, contract["name"]


def test_every_cli_module_sits_in_a_layer_of_the_cli_contract() -> None:
    """A command module left out of the layers contract could import another command (the
    circle ``cli_commands`` <-> ``cli_report`` that 0.1 had) without lint-imports noticing."""
    (layers,) = [
        c for c in contracts() if c["type"] == "layers" and c["containers"] == ["leadflow.cli"]
    ]
    named = {part.strip() for layer in layers["layers"] for part in layer.split("|")}
    modules = {p.stem for p in (SRC / "cli").glob("*.py") if p.stem != "__init__"}
    assert modules == named


def test_rules_never_import_the_port_or_the_job() -> None:
    """Rules return decisions; the job builds every write (rules/sla.py once built SLAWrite)."""
    (rules,) = [c for c in contracts() if c.get("source_modules") == ["leadflow.rules"]]
    assert rules["type"] == "forbidden"
    assert {"leadflow.ports", "leadflow.job"} <= set(rules["forbidden_modules"])
    assert not rules.get("allow_indirect_imports", False)


def test_importing_every_rule_module_loads_neither_the_port_nor_the_job() -> None:
    import subprocess
    import sys

    code = (
        "import sys, leadflow.rules, leadflow.rules.sla, leadflow.rules.scoring, "
        "leadflow.rules.scorecard; "
        "print(sorted(m for m in ('leadflow.ports', 'leadflow.job') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
