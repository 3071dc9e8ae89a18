"""Every public name is in its module's ``__all__`` and documented; helpers are ``_private``."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import leadflow


def modules() -> list[str]:
    found = [leadflow.__name__]
    for info in pkgutil.walk_packages(leadflow.__path__, prefix="leadflow."):
        if info.name != "leadflow.__main__":
            found.append(info.name)
    return sorted(found)


def optional_dependency(module: str, exc: ImportError) -> bool:
    """Whether *exc*, raised importing *module*, is an optional dependency that is not installed
    (an extra's package, pyspark, or a third-party import of an adapter that needs an extra),
    rather than an import bug in leadflow."""
    from leadflow.adapters import ADAPTER_EXTRAS, INSTALL_HINTS

    missing = exc.name or getattr(exc, "missing", None) or ""
    top = missing.split(".")[0]
    if top in INSTALL_HINTS or top == "pyspark":
        return True
    adapter = module.removeprefix("leadflow.adapters.").split(".")[0]
    in_adapter = module.startswith("leadflow.adapters.") and adapter in ADAPTER_EXTRAS
    return in_adapter and top not in ("", "leadflow")


def load(name: str) -> object:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        if not optional_dependency(name, exc):
            raise  # a real import bug must fail, not hide as a skip
        pytest.skip(f"{name}: {exc}")


@pytest.mark.parametrize(
    ("module", "missing", "optional"),
    [
        ("leadflow.etl", "pyarrow", True),
        ("leadflow.etl.spark", "pyspark.sql", True),
        ("leadflow.adapters.hubspot", "urllib3", True),
        ("leadflow.adapters.salesforce", "simple_salesforce", True),
        ("leadflow.rules.sla", "leadflow.rules._gone", False),
        ("leadflow.adapters.hubspot", "leadflow.adapters._gone", False),
        ("leadflow.analytics", "urllib3", False),
        ("leadflow.model", None, False),
    ],
)
def test_only_optional_dependencies_are_skipped(
    module: str, missing: str | None, optional: bool
) -> None:
    assert optional_dependency(module, ImportError("x", name=missing)) is optional


@pytest.mark.parametrize("name", modules())
def test_public_functions_and_classes_are_listed_and_documented(name: str) -> None:
    module = load(name)
    exported = set(getattr(module, "__all__", ()))
    defined_here = {
        attr: obj
        for attr, obj in vars(module).items()
        if (inspect.isfunction(obj) or inspect.isclass(obj))
        and getattr(obj, "__module__", None) == name
        and not attr.startswith("_")
    }
    unlisted = sorted(set(defined_here) - exported)
    assert unlisted == [], f"{name}: public but not in __all__ (make them _private or list them)"
    undocumented = sorted(attr for attr, obj in defined_here.items() if not inspect.getdoc(obj))
    assert undocumented == []


def test_the_top_level_exports_what_the_docs_use_from_it() -> None:
    """The scoring pair sits beside the SLA pair at the top level, as the docs use them."""
    from leadflow.rules.scorecard import load_scorecard
    from leadflow.rules.scoring import score_many
    from leadflow.rules.sla import evaluate_many, load_policies

    exported = {name: getattr(leadflow, name) for name in leadflow.__all__}
    assert exported["load_scorecard"] is load_scorecard
    assert exported["score_many"] is score_many
    assert exported["load_policies"] is load_policies
    assert exported["evaluate_many"] is evaluate_many


def test_every_name_the_docs_import_from_leadflow_is_exported() -> None:
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    used: set[str] = set()
    for page in [root / "README.md", *sorted((root / "docs").glob("*.md"))]:
        for names in re.findall(r"from leadflow import ([\w, ]+)", page.read_text("utf-8")):
            used.update(n.strip() for n in names.split(",") if n.strip())
    used -= {"adapters"}  # a subpackage, imported as such
    assert {"load_scorecard", "score_many"} <= used
    assert sorted(used - set(leadflow.__all__)) == []
