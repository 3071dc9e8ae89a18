"""The opt-in pytest plugin, run in a throw-away project with pytester."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sla.toml"


def test_plugin_fixtures_load_the_users_policies_and_calendar(pytester: pytest.Pytester) -> None:
    pytester.makeini(
        """
        [pytest]
        leadflow_sla_policies = sla.toml
        leadflow_calendar = calendar.toml
        """
    )
    (pytester.path / "sla.toml").write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    (pytester.path / "calendar.toml").write_text(
        'zone = "Australia/Sydney"\nname = "apac"\nholidays = ["2026-03-03"]\n'
        '[hours]\nmon-fri = ["08:30-12:00", "13:00-17:30"]\n',
        encoding="utf-8",
    )
    pytester.makeconftest('pytest_plugins = ["leadflow.testing.plugin"]')
    pytester.makepyfile(
        """
        from datetime import timedelta
        from leadflow import Lead

        def test_seed(leadflow_evaluate, leadflow_now, leadflow_calendar, leadflow_policies):
            assert leadflow_calendar.name == "apac"
            assert [p.name for p in leadflow_policies] == ["handoff_follow_up"]
            lead = Lead(id="L-1", created_at=leadflow_now, owner_id="u-1",
                        handed_off_at=leadflow_now)
            result = leadflow_evaluate(lead, [], now=leadflow_now + timedelta(hours=1))
            assert result.step("first_touch").state == "pending"
            assert result.calendar == "apac"
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["leadflow: sla policies sla.toml; calendar calendar.toml"])


def test_a_bad_policy_file_fails_with_the_key_path(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nleadflow_sla_policies = sla.toml\n")
    (pytester.path / "sla.toml").write_text(
        '[[policies]]\nname = "p"\ntrigger = "handoff"\n'
        '[[policies.steps]]\nname = "first"\nwithin_hours = 4\nby = "boss"\n',
        encoding="utf-8",
    )
    pytester.makeconftest('pytest_plugins = ["leadflow.testing.plugin"]')
    pytester.makepyfile("def test_it(leadflow_policies):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*ConfigError: policies[[]0[]].steps[[]0[]].by: 'boss' is not one of*"]
    )


def test_policies_fixture_without_the_ini_option_says_what_to_set(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest('pytest_plugins = ["leadflow.testing.plugin"]')
    pytester.makepyfile("def test_it(leadflow_policies):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*needs the 'leadflow_sla_policies' ini option*"])


def test_the_plugin_is_import_light() -> None:
    # Only pytest and leadflow's pure core: no hypothesis, no strategies, no extras.
    code = (
        "import sys, leadflow.testing.plugin; "
        "print(sorted(m for m in sys.modules if m.startswith(('hypothesis', 'holidays', "
        "'leadflow.testing.strategies', 'leadflow.adapters.'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_plugin_is_not_auto_registered() -> None:
    from importlib.metadata import entry_points

    assert [ep for ep in entry_points(group="pytest11") if ep.value.startswith("leadflow")] == []
