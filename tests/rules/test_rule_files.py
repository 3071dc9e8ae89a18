"""Rule files: a missing file is a ConfigError, and every error from a file's content names it."""

from __future__ import annotations

from pathlib import Path

import pytest

from leadflow.errors import ConfigError
from leadflow.rules import load_policies, load_scorecard, loads_policies, loads_scorecard


@pytest.mark.parametrize("load", [load_policies, load_scorecard])
def test_a_missing_file_is_a_config_error(tmp_path: Path, load: object) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as raised:
        load(missing)  # type: ignore[operator]
    assert (raised.value.path, raised.value.problem) == (str(missing), "no such file")


@pytest.mark.parametrize("load", [load_policies, load_scorecard])
def test_a_directory_is_a_config_error(tmp_path: Path, load: object) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        load(tmp_path)  # type: ignore[operator]


def test_a_policy_error_names_the_file(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "sla.toml"
    file = tmp_path / "sla.toml"
    file.write_text(example.read_text().replace("warn_hours", "warn_hour", 1))
    with pytest.raises(ConfigError) as raised:
        load_policies(file)
    assert raised.value.path.startswith(f"{file}: policies[0].steps[0]"), raised.value


def test_a_scorecard_error_names_the_file(tmp_path: Path) -> None:
    file = tmp_path / "card.toml"
    file.write_text('name = "c"\n[[rules]]\nid = "r"\ncategory = "fit"\npoins = 3\n')
    with pytest.raises(ConfigError) as raised:
        load_scorecard(file)
    assert raised.value.path == f"{file}: rules[0].poins", raised.value


def test_text_without_a_source_keeps_the_bare_location() -> None:
    with pytest.raises(ConfigError) as raised:
        loads_scorecard('name = "c"\n[[rules]]\nid = "r"\ncategory = "fit"\npoins = 3\n')
    assert raised.value.path == "rules[0].poins"
    with pytest.raises(ConfigError) as raised:
        loads_policies("[[policies]]\nname = 3\n", source="inline.toml")
    assert raised.value.path.startswith("inline.toml: policies[0]"), raised.value
