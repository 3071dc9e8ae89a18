"""``leadflow import``: a file lands whole or not at all; malformed input is one line, exit 2.

Every malformed input is run through the real command (in-process ``main``) and must give a
one-line error naming the file, the line and the field, exit code 2, and no traceback.
"""

from __future__ import annotations

import codecs
import csv
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadflow.adapters.sqlite import SQLiteAdapter
from leadflow.cli import Exit, main

HEADER = "id,email,created_at\n"


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _leads(path: Path) -> int:
    if not path.exists():
        return 0
    with SQLiteAdapter(path) as store:
        return store.counts()["leads"]


def _rows(n: int, bad: int | None = None) -> str:
    return "".join(
        f"L-{i},{'broken@' if i == bad else f'p{i}@example.com'},2026-03-02T09:00:00Z\n"
        for i in range(1, n + 1)
    )


def test_a_file_with_one_bad_row_lands_not_at_all(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "leads.csv"
    source.write_text(HEADER + _rows(1000, bad=1000), encoding="utf-8")
    store = tmp_path / "s.sqlite"
    code, out, err = run_cli(
        capsys,
        "import",
        "--entity",
        "lead",
        "--store",
        str(store),
        "--batch-size",
        "100",
        str(source),
    )
    assert code == Exit.USAGE, (out, err)
    assert f"leadflow: error: {source}: line 1001: email: 'broken@'" in err
    assert "nothing imported" in out
    assert "Traceback" not in err
    assert _leads(store) == 0


def test_errors_file_keeps_the_good_rows_and_lists_every_refused_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "leads.csv"
    source.write_text(HEADER + _rows(5, bad=3) + "L-1,again@example.com,2026-03-02T09:00:00Z\n")
    errors = tmp_path / "refused.csv"
    store = tmp_path / "s.sqlite"
    code, out, _ = run_cli(
        capsys,
        "import",
        "--entity",
        "lead",
        "--store",
        str(store),
        "--errors",
        str(errors),
        str(source),
    )
    assert code == Exit.PARTIAL
    assert f"{source}: 4 lead records imported, 2 refused" in out
    with errors.open(newline="", encoding="utf-8") as handle:
        refused = list(csv.DictReader(handle))
    assert [(r["file"], r["line"], r["field"]) for r in refused] == [
        (str(source), "4", "email"),
        (str(source), "7", "id"),
    ]
    assert "duplicate of line 2" in refused[1]["reason"]
    assert _leads(store) == 4


def test_an_empty_file_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "leads.csv"
    source.write_text(HEADER, encoding="utf-8")
    code, out, _ = run_cli(
        capsys, "import", "--entity", "lead", "--store", str(tmp_path / "s.sqlite"), str(source)
    )
    assert code == Exit.OK
    assert f"{source}: empty: the file holds no records; nothing imported" in out


def test_json_output_lists_every_refused_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "leads.csv"
    source.write_text(HEADER + _rows(3, bad=2), encoding="utf-8")
    code, out, _ = run_cli(
        capsys,
        "import",
        "--entity",
        "lead",
        "--store",
        str(tmp_path / "s.sqlite"),
        "--json",
        str(source),
    )
    assert code == Exit.USAGE
    [file] = json.loads(out)["files"]
    assert (file["rows"], file["imported"], file["committed"]) == (3, 0, False)
    assert [(e["line"], e["field"]) for e in file["errors"]] == [(3, "email")]


def _malformed(tmp_path: Path) -> dict[str, tuple[Path, int, str]]:
    """name -> (file, line, field) the error must name."""
    cases: dict[str, tuple[Path, int, str]] = {}

    def add(name: str, data: bytes, line: int, field: str, suffix: str = ".csv") -> None:
        path = tmp_path / f"{name}{suffix}"
        path.write_bytes(data)
        cases[name] = (path, line, field)

    good = b"L-1,a@example.com,2026-03-02T09:00:00Z\n"
    add(
        "latin1",
        HEADER.encode() + good + "L-2,m\xfcller@x.com,2026-03-02T09:00:00Z\n".encode("latin-1"),
        3,
        "email",
    )
    add("utf16", (HEADER + "L-1,a@example.com,2026-03-02T09:00:00Z\n").encode("utf-16"), 1, "")
    big = "x" * (csv.field_size_limit() + 1)
    add(
        "huge-field",
        (HEADER.strip() + ",notes\n").encode() + good.strip() + f',"{big}"\n'.encode(),
        2,
        "notes",
    )
    add(
        "huge-csv-int",
        b"id,created_at,employees\nL-1,2026-03-02T09:00:00Z," + b"9" * 5000 + b"\n",
        2,
        "employees",
    )
    record = b'{"id": "L-1", "created_at": "2026-03-02T09:00:00Z", '
    add("5000-digits", record + b'"employees": ' + b"9" * 5000 + b"}\n", 1, "employees", ".jsonl")
    add("big-int", record + b'"employees": 123456789012345678901}\n', 1, "employees", ".jsonl")
    add(
        "nested",
        record + b'"properties": ' + b"[" * 50_000 + b"]" * 50_000 + b"}\n",
        1,
        "properties",
        ".jsonl",
    )
    add("surrogate", record + b'"title": "\\udc00"}\n', 1, "title", ".jsonl")
    add(
        "bom-mid",
        codecs.BOM_UTF8 + record + b'"title": "ok"}\n' + codecs.BOM_UTF8 + b'{"id": 1}\n',
        2,
        "",
        ".jsonl",
    )
    return cases


def test_malformed_input_is_one_line_exit_2_naming_file_line_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "s.sqlite"
    for name, (path, line, field) in _malformed(tmp_path).items():
        code, _, err = run_cli(
            capsys, "import", "--entity", "lead", "--store", str(store), str(path)
        )
        assert code == Exit.USAGE, (name, err)
        assert "Traceback" not in err and "bug" not in err, (name, err)
        [first, *_] = err.splitlines()
        assert first.startswith(f"leadflow: error: {path}: line {line}: "), (name, first)
        if field:
            assert field in first, (name, first)
    assert _leads(store) == 0


def test_events_import_from_exports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "s.sqlite"
    leads = tmp_path / "leads.csv"
    leads.write_text(HEADER + _rows(2), encoding="utf-8")
    changes = tmp_path / "changes.csv"
    changes.write_text(
        "lead_id,from_stage,to_stage,at,by\n"
        "L-1,inquiry,mql,2026-03-03T09:00:00Z,marketing\n"
        "L-2,inquiry,mql,2026-03-03T09:00:00Z,marketing\n",
        encoding="utf-8",
    )
    rejections = tmp_path / "rejections.jsonl"
    rejections.write_text(
        json.dumps({"lead_id": "L-2", "code": "no_budget", "at": "2026-03-04T09:00:00Z", "by": "u"})
        + "\n",
        encoding="utf-8",
    )
    outcomes = tmp_path / "outcomes.csv"
    outcomes.write_text(
        "lead_id,kind,at,amount,currency\nL-1,won,2026-04-01T09:00:00Z,5000,EUR\n",
        encoding="utf-8",
    )
    base = ("import", "--store", str(store), "--now", "2026-04-02T00:00:00Z")
    for kind, path in (
        ("lead", leads),
        ("stage_change", changes),
        ("rejection", rejections),
        ("outcome", outcomes),
    ):
        code, out, err = run_cli(capsys, *base, "--entity", kind, str(path))
        assert code == Exit.OK, (kind, out, err)
    assert "1 outcome records imported" in out
    code, out, _ = run_cli(capsys, *base, "--entity", "stage_change", str(changes))
    assert code == Exit.OK
    assert "0 stage_change records imported, 2 already in the store" in out
    with SQLiteAdapter(store) as adapter:
        assert [r.code for r in adapter.rejections()] == ["no_budget"]
        assert [o.kind.value for o in adapter.outcomes()] == ["won"]
        assert {r[0] for r in adapter.connection.execute("SELECT recorded_at FROM outcomes")} == {
            "2026-04-02T00:00:00+00:00"
        }


_BYTES = st.binary(max_size=300) | st.text(max_size=200).map(
    lambda t: t.encode("utf-8", "surrogatepass")
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=_BYTES,
    suffix=st.sampled_from([".csv", ".jsonl"]),
    kind=st.sampled_from(["lead", "touch", "rejection", "outcome"]),
)
def test_fuzzed_files_never_crash_or_half_land(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], body: bytes, suffix: str, kind: str
) -> None:
    source = tmp_path / f"fuzz{suffix}"
    header = b"id,email,created_at,employees,lead_id,code,at,by,kind\n" if suffix == ".csv" else b""
    source.write_bytes(header + body)
    store = tmp_path / "fuzz.sqlite"
    before = _leads(store)
    code, _, err = run_cli(capsys, "import", "--entity", kind, "--store", str(store), str(source))
    assert code in {Exit.OK, Exit.USAGE}, err
    assert "Traceback" not in err and "this is a bug" not in err, err
    for line in err.splitlines():
        assert line.startswith("leadflow: error: "), line
    if code == Exit.USAGE and kind == "lead":
        assert _leads(store) == before, "a refused file stores nothing"


@pytest.mark.parametrize("spelling", ["stage-change", "stage_changes", "--kind"])
def test_kind_spellings(tmp_path: Path, capsys: pytest.CaptureFixture[str], spelling: str) -> None:
    store = tmp_path / "s.sqlite"
    leads = tmp_path / "leads.csv"
    leads.write_text(HEADER + _rows(1), encoding="utf-8")
    assert main(["import", "--entity", "leads", "--store", str(store), str(leads)]) == Exit.OK
    changes = tmp_path / "changes.csv"
    changes.write_text(
        "lead_id,from_stage,to_stage,at\nL-1,inquiry,mql,2026-03-03T09:00:00Z\n", encoding="utf-8"
    )
    option, kind = ("--kind", "stage_change") if spelling == "--kind" else ("--entity", spelling)
    code, out, err = run_cli(capsys, "import", option, kind, "--store", str(store), str(changes))
    assert code == Exit.OK, err
    assert "1 stage_change records imported" in out
    code, _, err = run_cli(capsys, "import", "--entity", "opportunity", str(changes))
    assert code == Exit.USAGE
    assert "invalid choice" in err


def test_a_missing_file_imports_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "s.sqlite"
    good = tmp_path / "leads.csv"
    good.write_text(HEADER + _rows(2), encoding="utf-8")
    for other in (tmp_path / "missing.csv", tmp_path / "leads.xlsx"):
        code, _, err = run_cli(
            capsys, "import", "--entity", "lead", "--store", str(store), str(good), str(other)
        )
        assert code == Exit.USAGE
        assert err.startswith(f"leadflow: error: {other}: ")
        assert _leads(store) == 0


def test_the_errors_file_is_checked_before_any_row_lands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Found in review: --errors naming the input overwrote it, and an unwritable --errors was
    discovered after the good rows were committed, losing the refused ones."""
    from leadflow.cli import Exit, main

    leads = tmp_path / "leads.csv"
    leads.write_text("id,created_at\nL-1,2026-03-01T09:00:00Z\nL-2,not-a-date\n")
    store = tmp_path / "s.sqlite"
    base = ["import", "--entity", "lead", "--store", str(store), str(leads)]
    assert main([*base, "--errors", str(leads)]) == Exit.USAGE
    assert "--errors" in capsys.readouterr().err
    assert "L-2,not-a-date" in leads.read_text()
    assert main([*base, "--errors", str(tmp_path / "missing" / "e.csv")]) == Exit.USAGE
    assert "no such directory" in capsys.readouterr().err
    assert not store.exists() or "L-1" not in store.read_bytes().decode("latin-1")


def test_a_missing_demo_store_points_at_the_store_import_wrote(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from leadflow.cli import Exit, main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "leads.csv").write_text("id,created_at\nL-1,2026-03-01T09:00:00Z\n")
    assert main(["import", "--entity", "lead", "leads.csv"]) == Exit.OK
    capsys.readouterr()
    assert main(["score", "--now", "2026-03-02T09:00:00Z"]) == Exit.USAGE
    assert "pass --store leadflow-state.sqlite" in capsys.readouterr().err
