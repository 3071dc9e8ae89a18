"""``leadflow report``'s options for the analyses of issue 14, end to end on a demo store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from leadflow.cli import Exit, main

NOW = "2026-03-02T09:00:00Z"


@pytest.fixture
def demo_store(small_demo_store: Path) -> Path:
    return small_demo_store


def test_json_and_text_carry_the_clock_the_headline_and_the_adjusted_half_life(
    demo_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["report", "--store", str(demo_store), "--now", NOW, "--out", str(tmp_path / "r.json"),
            "--format", "json", "--half-life-strata", "source", "--segments", "industry"]  # fmt: skip
    assert main([*args, "--json"]) == Exit.OK
    data = json.loads(capsys.readouterr().out)
    assert data["half_life"]["clock"] == "wall-clock hours"
    assert data["half_life_adjusted"]["adjusted_for"] == ["source"]
    assert data["closed_loop_headline"]["window_months"] == 12
    written = json.loads((tmp_path / "r.json").read_text())
    assert {r["segment"] for r in written["validity_by_segment"]} == {"industry"}
    assert written["rejection_rate_by_source"] and written["trends"]
    assert main(args) == Exit.OK
    text = capsys.readouterr().out
    assert "bought or are buying within 12 months" in text
    assert "(wall-clock hours)" in text and "adjusted for source" in text


def test_business_hours_are_named_on_the_terminal(
    demo_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["report", "--store", str(demo_store), "--now", NOW, "--business-hours",
                 "--out", str(tmp_path / "r.html")])  # fmt: skip
    assert code == Exit.OK
    assert "business hours (" in capsys.readouterr().out


def test_window_and_period_options_are_checked(
    demo_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["report", "--store", str(demo_store), "--now", NOW, "--out", str(tmp_path / "r.html")]
    assert main([*base, "--window-months", "0"]) == Exit.USAGE
    assert "--window-months" in capsys.readouterr().err
    assert main([*base, "--rejected-between", "2026-02-01T00:00:00Z,2026-01-01"]) == Exit.USAGE
    assert "--rejected-between" in capsys.readouterr().err
    code = main(
        [*base, "--json", "--rejected-between", "2025-01-01T00:00:00Z,2025-01-02T00:00:00Z"]
    )
    assert code == Exit.OK
    assert json.loads(capsys.readouterr().out)["closed_loop_headline"]["rejected"] == 0


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (["--half-life-strata", "email"], "--half-life-strata"),
        (["--half-life-strata", "history"], "--half-life-strata"),
        (["--segments", "properties"], "--segments"),
        (["--segments", "account.shoe_size"], "--segments"),
    ],
)
def test_strata_and_segments_name_the_option(
    demo_store: Path,
    tmp_path: Path,
    extra: list[str],
    named: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "r.html"
    assert (
        main(["report", "--store", str(demo_store), "--now", NOW, "--out", str(out), *extra]) == 2
    )
    assert named in capsys.readouterr().err
    assert not out.exists()


def test_out_paths_are_checked_before_anything_is_read(
    demo_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = demo_store.read_bytes()
    base = ["report", "--store", str(demo_store), "--now", NOW]
    assert main([*base, "--out", str(demo_store)]) == Exit.USAGE  # would replace the store
    assert "--out" in capsys.readouterr().err and demo_store.read_bytes() == before
    assert main([*base, "--out", str(tmp_path / "no" / "such" / "r.html")]) == Exit.USAGE
    assert "no such directory" in capsys.readouterr().err
    assert main([*base, "--out", str(tmp_path)]) == Exit.USAGE  # a directory, not a file
    assert "is a directory" in capsys.readouterr().err
    page = tmp_path / "page.html"
    page.write_text("x")
    assert main([*base, "--format", "csv", "--out", str(page)]) == Exit.USAGE
    assert "not a directory" in capsys.readouterr().err


def test_a_config_without_rules_says_which_sections_are_empty(
    demo_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "run.toml"
    config.write_text(f'[adapters.sqlite]\npath = "{demo_store}"\n')
    code = main(["report", "--json", "--config", str(config), "--now", NOW,
                 "--out", str(tmp_path / "r.html")])  # fmt: skip
    assert code == Exit.OK
    notes = json.loads(capsys.readouterr().out)["notes"]
    assert any("no SLA policies were given" in n for n in notes)
    assert any("no scorecard was given" in n for n in notes)
