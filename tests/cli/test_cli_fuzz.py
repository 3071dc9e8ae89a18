"""Every malformed input file gets a one-line error naming the file and exit 2 — never exit 4
("a bug") and never a traceback (issue 13). Hypothesis mutates valid SLA policy, calendar and
run configuration files — values of the wrong type or size, keys dropped or misspelt, bytes
that are not UTF-8, UTF-16, a byte-order mark — and runs the real command on each.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadflow.cli import main
from leadflow.cli.base import Exit

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NOW = "2026-03-02T09:00:00Z"
SETTINGS = settings(
    max_examples=int(os.environ.get("LEADFLOW_FUZZ_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

POLICY = tomllib.loads((EXAMPLES / "sla.toml").read_text(encoding="utf-8"))
CALENDAR = {"zone": "America/New_York", "hours": {"mon-fri": "09:00-17:00"}, "holidays": []}
RUN = {
    "store": "state.sqlite",
    "sla": "sla.toml",
    "batch_size": 100,
    "calendar": dict(CALENDAR),
    "adapters": {"sqlite": {"path": "state.sqlite"}},
}


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # lone surrogates become \\ud800 escapes TOML refuses
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return "{ " + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"


def _dump(data: dict[str, Any]) -> str:
    """TOML text for *data*: every value inline, so any shape can be written."""
    return "".join(f"{json.dumps(k)} = {_toml_value(v)}\n" for k, v in data.items())


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(data, dict):
        for key, value in data.items():
            out.extend(_paths(value, (*prefix, key)))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            out.extend(_paths(value, (*prefix, index)))
    return out


_SCALARS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 7, 1e20, -1e20, 1e300, math.inf, math.nan, 0.5, 2**63, 10**4000]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=12),
    st.sampled_from(["", " ", "1 business day", "3 weeks", "Mars/Olympus", "25:00-26:00", "é"]),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


def _set(data: Any, path: tuple[Any, ...], value: Any) -> None:
    for key in path[:-1]:
        data = data[key]
    data[path[-1]] = value


def _drop(data: Any, path: tuple[Any, ...]) -> None:
    for key in path[:-1]:
        data = data[key]
    if isinstance(data, dict):
        del data[path[-1]]


@st.composite
def mutated(draw: st.DrawFn, base: dict[str, Any]) -> bytes:
    """*base* as TOML with a few values replaced, keys dropped or renamed, then perhaps
    mangled as bytes."""
    data = json.loads(json.dumps(base))
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(data)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["set", "set", "drop", "rename"]))
        if action == "set":
            _set(data, path, draw(_VALUES))
        elif action == "drop":
            _drop(data, path)
        elif isinstance(path[-1], str):
            holder = data
            for key in path[:-1]:
                holder = holder[key]
            holder[path[-1] + draw(st.sampled_from(["s", "_", "x"]))] = holder.pop(path[-1])
    text = _dump(data)
    how = draw(st.sampled_from(["utf-8", "utf-8", "utf-8", "bom", "utf-16", "latin-1", "bytes"]))
    if how == "bom":
        return b"\xef\xbb\xbf" + text.encode("utf-8", "surrogatepass")
    if how == "utf-16":
        return text.encode("utf-16")
    if how == "latin-1":
        return (text + "# caf\xe9 r\xe9sum\xe9\n").encode("latin-1", "replace")
    raw = bytearray(text.encode("utf-8", "surrogatepass"))
    at = draw(st.integers(0, len(raw)))
    raw[at:at] = draw(st.binary(min_size=1, max_size=4))
    return bytes(raw)


def _cli(*argv: str) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(list(argv))
    return code, err.getvalue()


def _check(code: int, err: str, file: Path) -> None:
    assert code != Exit.INTERNAL, err
    assert "Traceback" not in err, err
    if code == Exit.USAGE:
        lines = err.strip().splitlines()
        assert len(lines) == 1, err
        assert lines[0].startswith("leadflow: error: "), err
        assert str(file) in lines[0] or file.name in lines[0], err
    else:
        assert code in (Exit.OK, Exit.PARTIAL), (code, err)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fuzz") / "state.sqlite"
    assert main(["demo", "--store", str(path), "--leads", "60", "--quiet"]) == Exit.OK
    return path


@SETTINGS
@given(text=mutated(POLICY))
def test_a_malformed_policy_file_is_one_line_and_exit_2(
    text: bytes, store: Path, tmp_path: Path
) -> None:
    file = tmp_path / "sla.toml"
    file.write_bytes(text)
    code, err = _cli("sla", "--store", str(store), "--policies", str(file), "--now", NOW)
    _check(code, err, file)


@SETTINGS
@given(text=mutated(CALENDAR))
def test_a_malformed_calendar_file_is_one_line_and_exit_2(
    text: bytes, store: Path, tmp_path: Path
) -> None:
    file = tmp_path / "calendar.toml"
    file.write_bytes(text)
    code, err = _cli("sla", "--store", str(store), "--calendar", str(file), "--now", NOW)
    _check(code, err, file)


@SETTINGS
@given(text=mutated(RUN))
def test_a_malformed_run_config_is_one_line_and_exit_2(
    text: bytes, store: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "run"
    folder.mkdir(exist_ok=True)
    (folder / "sla.toml").write_bytes((EXAMPLES / "sla.toml").read_bytes())
    (folder / "state.sqlite").write_bytes(store.read_bytes())
    file = folder / "leadflow.toml"
    file.write_bytes(text)
    code, err = _cli("run", "--adapter", "sqlite", "--config", str(file), "--now", NOW, "--dry-run")
    _check(code, err, file)


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        (
            "big.toml",
            b'[[policies]]\nname = "p"\ntrigger = "handoff"\n[[policies.steps]]\nname = "a"\n'
            b"within_hours = 1e20\n",
            "big.toml: policies[0].steps[0].within_hours",
        ),
        ("path.toml", b"[adapters.sqlite]\npath = 7\n", "path.toml: adapters.sqlite.path"),
        (
            "zone.toml",
            b'[calendar]\nzone = "Mars/Olympus"\nhours = {mon-fri = "09:00-17:00"}\n',
            "zone.toml: calendar.zone",
        ),
        ("latin.toml", b'store = "s.db"\n# caf\xe9\n', "latin.toml: line 2: is not UTF-8"),
        ("wide.toml", "store = 's.db'\n".encode("utf-16"), "wide.toml: is UTF-16 text"),
    ],
)
def test_the_issue_s_examples_name_file_line_and_field(
    name: str, content: bytes, expected: str, store: Path, tmp_path: Path
) -> None:
    file = tmp_path / name
    file.write_bytes(content)
    if name == "big.toml":
        argv = ["sla", "--store", str(store), "--policies", str(file), "--now", NOW]
    else:
        argv = ["run", "--adapter", "sqlite", "--config", str(file), "--now", NOW, "--dry-run"]
    code, err = _cli(*argv)
    assert code == Exit.USAGE, err
    assert err.count("\n") == 1, err
    assert err.startswith(f"leadflow: error: {tmp_path / expected}"), err
