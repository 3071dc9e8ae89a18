"""End to end: a hostile-but-realistic warehouse export through ``leadflow score`` and
``leadflow sla``.

Duplicates, ragged lines, locale-formatted numbers, NaN/inf, a BOM, renamed and re-cased
columns, gzipped part files in a directory: the jobs exit 0 with every bad row in the errors
file and every good row equal to the per-record API (the same rows refused by
``Lead.from_record``/``Activity.from_record``/``Touch.from_record``), or fail with one clear
line when a threshold or a missing column says so; the same input gives the same bytes twice
and with any ``--partitions``.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from leadflow.business_time import load_calendars
from leadflow.cli import main
from leadflow.errors import LeadflowError
from leadflow.model import Activity, Lead, Touch
from leadflow.rules.scorecard import load_scorecard
from leadflow.rules.scoring import score_lead
from leadflow.rules.sla import evaluate_many, load_policies

from .sla_helpers import expected_rows, utc_rows
from .test_sla import NOW, random_data

CARD = "examples/scorecard.toml"
AS_OF = datetime(2026, 3, 2, 12, tzinfo=UTC)
HEADER = ["ID", "Created_At", "job_title", "Industry", "annual_revenue", "email", "employees",
          "tenant", "_loaded_at"]  # fmt: skip
#: the contract's name for each header column (what --columns and case-folding resolve)
CANONICAL = {"ID": "id", "Created_At": "created_at", "job_title": "title", "Industry": "industry"}


def write_part(path: Path, header: Sequence[str], lines: Sequence[str | Sequence[str]]) -> None:
    """A gzipped CSV part with a UTF-8 BOM; a str line is written as it is (a ragged line)."""
    text = io.StringIO()
    text.write("\ufeff")
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    for line in lines:
        if isinstance(line, str):
            text.write(line + "\n")
        else:
            writer.writerow(line)
    path.write_bytes(gzip.compress(text.getvalue().encode("utf-8"), mtime=0))


def lead_rows() -> tuple[list[list[str]], list[list[str | list[str]]]]:
    """Two parts of lead lines: good ones, and every kind of bad one (marked in the id)."""
    rnd = random.Random(17)
    titles = ["VP Sales", "Director of IT", "Intern", "Chief Revenue Officer", "", "Head of Ops"]
    industries = ["Software", "Retail", "Healthcare", "", "software "]
    good = []
    for i in range(40):
        created = AS_OF - timedelta(days=rnd.uniform(1, 90))
        good.append(
            [f"L-{i:03d}", created.isoformat(), rnd.choice(titles), rnd.choice(industries),
             rnd.choice(["", "750000000", "5e8", "1200000000.50", "12"]),
             rnd.choice(["", f"p{i}@example.com", f"p{i}@gmail.com"]),
             rnd.choice(["", "250", "12", "0"]), rnd.choice(["acme", "globex"]),
             "2026-03-01T00:00:00Z"]
        )  # fmt: skip
    good[7][1] = "2026-02-01T10:00:00.123456789+01:00"  # nanoseconds: accepted
    good[8][1] = "2026-02-01 10:00Z"  # another ISO-8601 shape: accepted
    bad = [
        ["BAD-comma", "2026-02-01T10:00:00Z", "VP", "Software", "", "", "1,5", "acme", ""],
        ["BAD-locale", "2026-02-01T10:00:00Z", "VP", "Software", "5,000,000,00", "", "", "a", ""],
        ["BAD-nan", "2026-02-01T10:00:00Z", "VP", "Software", "NaN", "", "", "acme", ""],
        ["BAD-inf", "2026-02-01T10:00:00Z", "VP", "Software", "inf", "", "", "acme", ""],
        ["BAD-negative", "2026-02-01T10:00:00Z", "VP", "Software", "", "", "-3", "acme", ""],
        ["BAD-naive", "2026-02-01T10:00:00", "VP", "Software", "", "", "", "acme", ""],
        ["BAD-email", "2026-02-01T10:00:00Z", "VP", "Software", "", "not-an-email", "", "a", ""],
        ["", "2026-02-01T10:00:00Z", "VP", "Software", "", "", "", "acme", ""],
    ]
    part1: list[list[str] | str] = [*good[:20], *bad[:4]]
    part2: list[list[str] | str] = [*good[20:], "BAD-ragged,2026-02-01T10:00:00Z", *bad[4:]]
    part2.append([*good[5][:2], "CEO", *good[5][3:]])  # L-005 exported twice: refused
    return part1, part2  # type: ignore[return-value]


def event_lines(lead_ids: Sequence[str]) -> list[list[str] | str]:
    rnd = random.Random(5)
    kinds = ["quote_request", "demo_request", "webinar_attended", "case_study_download",
             "pricing_page_visit", "carrier_pigeon"]  # fmt: skip
    lines: list[list[str] | str] = []
    for i in range(300):
        at = AS_OF - timedelta(days=rnd.uniform(-3, 120))  # some after as_of: ignored
        lines.append([f"E-{i}", rnd.choice(lead_ids), rnd.choice(kinds), at.isoformat()])
    lines += [lines[3], lines[10], lines[11]]  # exported twice: counted once
    lines.append(["E-orphan", "L-999", "quote_request", "2026-03-01T00:00:00Z"])
    lines.append("E-ragged,L-001")
    lines.append(["E-naive", "L-001", "quote_request", "2026-03-01T00:00:00"])
    lines.append(["E-kind", "L-001", "Quote Request", "2026-03-01T00:00:00Z"])
    return lines


@pytest.fixture
def export(tmp_path: Path) -> dict[str, Any]:
    leads_dir = tmp_path / "leads"
    leads_dir.mkdir()
    part1, part2 = lead_rows()
    write_part(leads_dir / "part-00000.csv.gz", HEADER, part1)
    write_part(leads_dir / "part-00001.csv.gz", HEADER, part2)
    (leads_dir / "_SUCCESS").write_text("")
    ids = [line[0] for line in part1 + part2 if not isinstance(line, str)]
    events = tmp_path / "events.csv.gz"
    write_part(events, ["id", "lead_id", "kind", "occurred_at"], event_lines(ids))
    return {"leads": leads_dir, "events": events, "parts": (part1, part2), "tmp": tmp_path}


def run(*args: str) -> int:
    return main([str(a) for a in args])


def score_args(export: dict[str, Any], out: Path, *extra: str) -> list[str]:
    return ["score", "--json", "--leads", export["leads"], "--events", export["events"],
            "--out", out, "--errors", export["tmp"] / "errors.csv", "--card", CARD,
            "--as-of", AS_OF.isoformat(), "--columns", "title=job_title", *extra]  # fmt: skip


def per_record(export: dict[str, Any]) -> tuple[dict[str, Any], set[str], int]:
    """The per-record API on the same rows: scores of the leads it accepts, ids it refuses."""
    leads: dict[str, Lead] = {}
    refused: set[str] = set()
    for part in export["parts"]:
        for line in part:
            if isinstance(line, str):
                refused.add(line.split(",")[0])
                continue
            record = {CANONICAL.get(k, k): v for k, v in zip(HEADER, line, strict=True)}
            try:
                lead = Lead.from_record(record)
            except LeadflowError:
                refused.add(line[0])
                continue
            if lead.id in leads:
                refused.add(f"{lead.id} (again)")
                continue
            leads[lead.id] = lead
    activities: dict[str, list[Activity]] = {}
    seen: set[tuple[str, str]] = set()
    orphaned = 0
    with gzip.open(export["events"], "rt", encoding="utf-8-sig", newline="") as handle:
        for record in csv.DictReader(handle):
            try:
                activity = Activity.from_record({k: v for k, v in record.items() if v})
            except (LeadflowError, AttributeError):
                continue
            if (activity.lead_id, activity.id) not in seen:
                seen.add((activity.lead_id, activity.id))
                orphaned += activity.lead_id not in leads
            activities.setdefault(activity.lead_id, []).append(activity)
    card = load_scorecard(CARD)
    scores = {
        lead.id: score_lead(card, lead, activities.get(lead.id, []), as_of=AS_OF)
        for lead in leads.values()
    }
    return scores, refused, orphaned


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_score_a_hostile_export(export: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    out = export["tmp"] / "scores.csv"
    assert run(*score_args(export, out, "--keep", "tenant,_loaded_at", "--provenance")) == 0
    summary = json.loads(capsys.readouterr().out)
    expected, refused, orphaned = per_record(export)

    rows = list(csv.DictReader(out.read_text(encoding="utf-8").splitlines()))
    assert [r["id"] for r in rows] == sorted(expected)  # every good row, by id, once
    for row in rows:
        want = expected[row["id"]]
        assert float(row["score"]) == pytest.approx(want.total, abs=1e-9), row["id"]
        assert float(row["fit"]) == pytest.approx(want.fit, abs=1e-9)
        assert row["recommendation"] == want.recommendation.value
        assert row["tenant"] in {"acme", "globex"} and row["_loaded_at"]
        assert row["scorecard"] == "seed" and len(row["scorecard_sha256"]) == 64

    errors = list(csv.DictReader((export["tmp"] / "errors.csv").read_text().splitlines()))
    lead_errors = [e for e in errors if "events" not in e["source"]]
    reported = {
        e["value"].split(",")[0]
        if e["field"] == "(line)"
        else f"{e['id']} (again)"
        if "duplicates" in e["reason"]
        else e["id"]
        for e in lead_errors
    }
    assert len(reported) == len(lead_errors)
    assert reported == refused  # the same rows as Lead.from_record refuses, each reported
    again = next(e for e in lead_errors if "duplicates" in e["reason"])
    part2 = export["parts"][1]
    assert (again["source"], again["row"]) == ("part-00001.csv.gz", str(len(part2) - 1))
    ragged = next(e for e in lead_errors if e["field"] == "(line)")
    assert ragged["source"] == "part-00001.csv.gz"
    assert ragged["row"] == str(part2.index("BAD-ragged,2026-02-01T10:00:00Z"))
    assert "line" in ragged["reason"] and ragged["value"].startswith("BAD-ragged")
    assert {e["field"] for e in errors if "events" in e["source"]} >= {
        "(line)",
        "occurred_at",
        "kind",
    }
    assert summary["rows_refused"] == len(errors)
    assert summary["rows_out"] == len(expected)
    # events of leads that are not scored: absent from the export (L-999) or refused
    assert summary["events_orphaned"] == orphaned > 1
    assert summary["events_duplicate"] == 3
    assert summary["events_unknown_kind"] > 0
    assert summary["rows_in"] == summary["leads_read"] + summary["events_read"]
    assert summary["leads_read"] == sum(len(p) for p in export["parts"])


def test_same_bytes_twice_and_with_any_partitions(
    export: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    digests, error_digests = set(), set()
    for i, extra in enumerate([(), (), ("--partitions", "3"), ("--partitions", "8")]):
        out = export["tmp"] / f"scores-{i}.parquet"
        assert run(*score_args(export, out, "--provenance", *extra)) == 0
        digests.add(digest(out))
        error_digests.add(digest(export["tmp"] / "errors.csv"))
    assert len(digests) == 1 and len(error_digests) == 1
    capsys.readouterr()


def test_a_missing_column_is_one_clear_line(
    export: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    args = score_args(export, export["tmp"] / "s.csv")
    args = args[: args.index("--columns")]
    assert run(*args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "missing column 'title'" in err and "did you mean 'job_title'" in err
    assert "--columns title=job_title" in err


def test_too_many_refused_rows_fail_with_exit_5(
    export: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    out = export["tmp"] / "s.csv"
    assert run(*score_args(export, out, "--max-errors", "2")) == 5
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--max-errors 2" in err
    assert not out.exists()  # no half-trusted output
    assert len((export["tmp"] / "errors.csv").read_text().splitlines()) > 3  # but the errors
    assert run(*score_args(export, out, "--max-errors", "50%")) == 0


def test_file_mode_needs_the_time(
    export: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    args = score_args(export, export["tmp"] / "s.csv")
    at = args.index("--as-of")
    assert run(*args[:at], *args[at + 2 :]) == 2
    assert "--as-of: is required" in capsys.readouterr().err
    assert run(*args[:at], "--as-of", "2026-03-02T12:00:00", *args[at + 2 :]) == 2
    assert "--as-of: '2026-03-02T12:00:00' has no UTC offset" in capsys.readouterr().err


def test_dedupe_latest_keeps_the_newest_row(
    export: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    out = export["tmp"] / "s.csv"
    assert run(*score_args(export, out, "--dedupe", "latest:Created_At")) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["duplicates_resolved"] == 1
    errors = (export["tmp"] / "errors.csv").read_text()
    assert "duplicates an earlier row" not in errors


# -- SLA -----------------------------------------------------------------------------------------


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value.isoformat() if isinstance(value, datetime) else str(getattr(value, "value", value))


def test_sla_on_a_hostile_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    leads, touches = random_data(21, n=60)
    lead_header = ["Id", "CREATED_AT", "owner_id", "handed_off_at", "source", "country", "team",
                   "employees"]  # fmt: skip
    lead_lines: list[list[str] | str] = [
        [lead.id, _text(lead.created_at), _text(lead.owner_id), _text(lead.handed_off_at),
         _text(lead.source), _text(lead.country), _text(lead.properties.get("team")), ""]
        for lead in leads
    ]  # fmt: skip
    lead_lines[4][7] = "-2"  # type: ignore[index]  # a negative head count: refused
    lead_lines[9][3] = "2026-03-02T10:00:00"  # type: ignore[index]  # naive: refused
    lead_lines.append(lead_lines[12])  # exported twice: refused, first kept
    lead_lines.append("L-ragged,2026")
    touch_header = ["id", "lead_id", "kind", "at", "by", "outcome"]
    touch_lines: list[list[str] | str] = [
        [t.id, t.lead_id, t.kind.value, _text(t.at), t.by, t.outcome.value] for t in touches
    ]
    touch_lines += [touch_lines[0], touch_lines[1]]  # repeated: counted once
    touch_lines.append(["T-x", "L-999", "call", "2026-03-05T10:00:00Z", "u-ana", "connected"])
    touch_lines.append(["T-y", "L-1", "carrier_pigeon", "2026-03-05T10:00:00Z", "u-ana", ""])
    touch_lines.append("T-z,L-1")
    (tmp_path / "leads").mkdir()
    write_part(tmp_path / "leads" / "part-0.csv.gz", lead_header, lead_lines[:30])
    write_part(tmp_path / "leads" / "part-1.csv.gz", lead_header, lead_lines[30:])
    write_part(tmp_path / "touches.csv.gz", touch_header, touch_lines)

    outs, summaries = [], []
    for i in range(2):
        out = tmp_path / f"sla-{i}.parquet"
        code = run("sla", "--json", "--leads", tmp_path / "leads", "--touches",
                   tmp_path / "touches.csv.gz", "--out", out, "--errors", tmp_path / "e.csv",
                   "--policies", "examples/sla.toml", "--calendar", "examples/calendars.toml",
                   "--as-of", NOW.isoformat())  # fmt: skip
        assert code == 0
        outs.append(out)
        summaries.append(json.loads(capsys.readouterr().out))
    assert digest(outs[0]) == digest(outs[1])

    good_leads = [lead for i, lead in enumerate(leads) if i not in (4, 9)]
    plan_policies = load_policies("examples/sla.toml")
    evaluations = evaluate_many(
        good_leads, touches, now=NOW, policies=plan_policies,
        calendar=load_calendars("examples/calendars.toml"),
    )  # fmt: skip
    expected = sorted(expected_rows(evaluations), key=lambda r: r["lead_id"])
    written = utc_rows(pq.read_table(outs[0]).to_pylist())
    for got_row, want_row in zip(written, expected, strict=True):
        diff = {k: (got_row[k], want_row[k]) for k in want_row if got_row[k] != want_row[k]}
        assert diff == {}, (want_row["lead_id"], want_row["step"])
    assert len({(r["lead_id"], r["step"]) for r in written}) == len(written)  # no repeats

    errors = list(csv.DictReader((tmp_path / "e.csv").read_text().splitlines()))
    got = sorted((e["field"], e["id"] or e["value"][:8]) for e in errors)
    assert got == sorted(
        [("employees", leads[4].id), ("handed_off_at", leads[9].id), ("id", leads[12].id),
         ("(line)", "L-ragged"), ("kind", "L-1"), ("(line)", "T-z,L-1")]
    )  # fmt: skip
    for line in touch_lines[-3:-1]:
        record = dict(zip(touch_header, line, strict=True))
        if record["lead_id"] == "L-999":
            Touch.from_record(record)  # valid per record: an orphan, counted, not refused
        else:
            with pytest.raises(LeadflowError):
                Touch.from_record(record)
    summary = summaries[0]
    good_ids = {lead.id for lead in good_leads}
    orphaned = sum(t.lead_id not in good_ids for t in touches) + 1  # + the one for L-999
    assert (summary["touches_orphaned"], summary["touches_duplicate"]) == (orphaned, 2)
    assert summary["rows_refused"] == len(errors) == 6
    assert summary["rows_out"] == len(expected)
