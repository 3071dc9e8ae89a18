"""One way to do each thing: validators and small helpers have one home, leadflow._validate.

Issue 16 found ``_positive``, ``_fraction``, ``_utc`` and friends defined in several modules
beside ``_validate.py``, each with its own rule and message. This test reads the source tree.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "leadflow"

#: Helpers that live in leadflow._validate only (the names other modules used for them).
SHARED = {
    "aware",
    "boolean",
    "check_aware",
    "check_keys",
    "finite",
    "fraction",
    "non_negative",
    "positive",
    "positive_int",
    "at_least_one",
    "utc",
}


def _definitions() -> dict[str, list[str]]:
    """Top-level function name (without leading underscores) -> modules defining it."""
    found: dict[str, list[str]] = defaultdict(list)
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.FunctionDef):
                found[node.name.lstrip("_")].append(str(path.relative_to(SRC)))
    return found


def _validators() -> dict[str, list[str]]:
    """attrs validators ``(instance, attribute, value)`` by name -> modules defining one."""
    found: dict[str, list[str]] = defaultdict(list)
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.FunctionDef):
                names = [a.arg.lstrip("_") for a in node.args.args]
                if len(names) == 3 and names[1] in ("attribute", "attr"):
                    found[node.name.lstrip("_")].append(str(path.relative_to(SRC)))
    return found


def test_shared_helpers_are_defined_only_in_validate() -> None:
    defined = _definitions()
    elsewhere = {name: [m for m in defined.get(name, []) if m != "_validate.py"] for name in SHARED}
    assert {name: mods for name, mods in elsewhere.items() if mods} == {}


def test_no_validator_is_defined_twice() -> None:
    twice = {name: mods for name, mods in _validators().items() if len(mods) > 1}
    assert twice == {}


def test_configuration_files_are_read_in_one_place(tmp_path: Path) -> None:
    # The command line's TOML files and the rule files (scorecards, SLA policies) were read by
    # two copies of the same reading-and-decoding code, with two wordings of the same errors.
    readers = sorted(
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if 'decode("utf-8-sig")' in path.read_text(encoding="utf-8")
    )
    assert readers == ["_files.py"]

    from leadflow.cli.base import load_toml
    from leadflow.errors import ConfigError
    from leadflow.rules import load_policies, load_scorecard

    bad = tmp_path / "bad.toml"
    bad.write_bytes(b'name = "x"\n# caf\xe9\n')
    messages = set()
    for load in (load_toml, load_scorecard, load_policies):
        try:
            load(bad)
        except ConfigError as exc:
            messages.add(str(exc))
    assert messages == {
        f"{bad}: line 2: is not UTF-8 text (byte 0xe9: invalid continuation byte); "
        "save the file as UTF-8"
    }


def test_calendar_files_are_read_there_too(tmp_path: Path) -> None:
    # load_calendars read its file by itself: a missing file raised FileNotFoundError, bytes
    # that are not UTF-8 UnicodeDecodeError, and a byte-order mark made the TOML invalid
    from leadflow.business_time import load_calendars
    from leadflow.errors import ConfigError

    bad = tmp_path / "calendars.toml"
    bad.write_bytes(b'timezone = "UTC"\n# caf\xe9\n')
    with pytest.raises(ConfigError, match=r"line 2: is not UTF-8 text \(byte 0xe9"):
        load_calendars(bad)
    with pytest.raises(ConfigError, match="no such file"):
        load_calendars(tmp_path / "missing.toml")
    marked = tmp_path / "marked.toml"
    text = (Path(__file__).resolve().parents[1] / "examples" / "calendars.toml").read_bytes()
    marked.write_bytes(b"\xef\xbb\xbf" + text)
    plain = tmp_path / "plain.toml"
    plain.write_bytes(text)
    assert load_calendars(marked) == load_calendars(plain)


def _bodies() -> dict[str, list[str]]:
    """Function bodies (docstring left out, names kept) of some size -> where each is defined."""
    found: dict[str, list[str]] = defaultdict(list)
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef):
                continue
            body = node.body
            first = body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                body = body[1:]
            code = ast.Module(body=body, type_ignores=[])
            if sum(1 for _ in ast.walk(code)) < 25:  # one-liners may well coincide
                continue
            key = ast.dump(node.args) + ast.dump(code)
            found[key].append(f"{path.relative_to(SRC)}:{node.lineno} {node.name}")
    return found


def test_no_function_is_written_twice_under_two_names() -> None:
    # The name-based checks above missed these: scorecard._at_least was _validate.positive_int,
    # engine._clamp_scalar was plan._clamp_scalar, rules.scorecard._build was rules.sla._build,
    # scorecard._conditions was scorecard._rules, and the two file-job summaries' to_dict.
    twice = [places for places in _bodies().values() if len(places) > 1]
    assert twice == []
