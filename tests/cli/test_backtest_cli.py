"""``leadflow backtest`` end to end on a demo store: two cards compared, a proposal written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from leadflow.cli import Exit, main
from leadflow.rules.scorecard import load_scorecard

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "scorecard.toml"


@pytest.fixture
def store(small_demo_store: Path) -> Path:
    return small_demo_store


def test_two_cards_are_compared_and_a_proposal_is_written(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lighter = tmp_path / "lighter.toml"
    lighter.write_text(EXAMPLE.read_text().replace("points = 15", "points = 5"))
    proposed = tmp_path / "proposed.toml"
    code = main(["backtest", "--json", "--store", str(store), "--card", str(EXAMPLE),
                 "--card", str(lighter), "--propose", str(proposed)])  # fmt: skip
    assert code == Exit.OK
    data = json.loads(capsys.readouterr().out)
    first, second = data["cards"]
    assert first["leads"] == second["leads"] > 0
    assert 0.5 < first["auc"] < 1
    assert len(first["deciles"]) == 10
    assert sum(c["leads"] for c in first["calibration"]) == first["leads"]
    assert data["flips"] and all(f["first"] != f["second"] for f in data["flips"])
    proposal = data["proposal"]
    assert proposal["holdout_leads"] > 0 and proposal["diff"].startswith("---")
    revised = load_scorecard(proposed)
    assert [r.id for r in revised.rules] == [r.id for r in load_scorecard(EXAMPLE).rules]


def test_a_missing_card_is_a_usage_error(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["backtest", "--store", str(store), "--card", "no-such.toml"])
    assert code == Exit.USAGE
    assert "no-such.toml" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (["--holdout", "0"], "--holdout"),
        (["--holdout", "nan"], "--holdout"),
        (["--l2", "-1"], "--l2"),
        (["--l2", "inf"], "--l2"),
        (["--flips", "-1"], "--flips"),
        (["--card", str(EXAMPLE), "--card", str(EXAMPLE)], "--card"),
        (["--propose", str(EXAMPLE)], "--propose"),
    ],
)
def test_options_are_checked_before_any_work(
    store: Path, extra: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["backtest", "--store", str(store), "--card", str(EXAMPLE), *extra])
    assert code == Exit.USAGE
    captured = capsys.readouterr()
    assert named in captured.err
    assert captured.out == "", "nothing is printed before the options are known to be good"


def test_propose_never_replaces_a_file_without_force(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    existing = tmp_path / "mine.toml"
    existing.write_text("# my notes\n")
    base = ["backtest", "--store", str(store), "--card", str(EXAMPLE), "--propose", str(existing)]
    assert main(base) == Exit.USAGE
    assert existing.read_text() == "# my notes\n"
    assert "--force" in capsys.readouterr().err
    assert main([*base, "--force"]) == Exit.OK
    assert load_scorecard(existing).name == load_scorecard(EXAMPLE).name
