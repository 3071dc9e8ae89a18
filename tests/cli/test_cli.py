"""The ``leadflow`` command: real runs against real stores, exit codes, errors, --json."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from leadflow.adapters.sqlite import SQLiteAdapter
from leadflow.cli import COMMANDS, Exit, main

NOW = "2026-03-02T09:00:00Z"


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One small demo store shared by the read-only tests of this module."""
    path = tmp_path_factory.mktemp("demo") / "demo.sqlite"
    assert main(["demo", "--store", str(path), "--leads", "400", "--quiet"]) == Exit.OK
    return path


def test_demo_prints_a_useful_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "d.sqlite"
    code, out, err = run_cli(capsys, "demo", "--store", str(store), "--leads", "300")
    assert code == Exit.OK, err
    for heading in (
        "Funnel by source",
        "Why sales rejected leads",
        "SLA adherence by owner",
        "Top scored leads",
        "write score",
    ):
        assert heading in out
    assert "300 leads" in out
    winnable = re.search(r"^Sales-winnable accounts: (\d+) ", out, re.MULTILINE)
    assert winnable is not None and int(winnable.group(1)) >= 1, out
    assert err == "", "no progress output when stderr is not a terminal"
    with SQLiteAdapter(store) as opened:
        counts = opened.counts()
    assert counts["leads"] == 300
    assert counts["scores"] == 300
    assert counts["rejections"] > 0
    assert counts["outcomes"] > 0


def test_demo_is_reproducible_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = run_cli(
        capsys, "demo", "--store", str(tmp_path / "a.sqlite"), "--leads", "150", "--json"
    )
    second = run_cli(
        capsys, "demo", "--store", str(tmp_path / "b.sqlite"), "--leads", "150", "--json"
    )
    one, two = json.loads(first[1]), json.loads(second[1])
    one.pop("store"), two.pop("store")
    assert one == two
    assert one["counts"]["leads"] == 150
    assert one["run"]["applied"] > 0


def test_demo_refuses_to_overwrite_a_foreign_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    precious = tmp_path / "thesis.sqlite"
    precious.write_text("not a leadflow store")
    code, _, err = run_cli(capsys, "demo", "--store", str(precious), "--leads", "10")
    assert code == Exit.USAGE
    assert "is not a leadflow store" in err
    assert precious.read_text() == "not a leadflow store"


def _config(tmp_path: Path, store: Path) -> Path:
    examples = Path(__file__).resolve().parents[2] / "examples"
    config = tmp_path / "run.toml"
    config.write_text(
        f"""
store = "{store}"
scorecard = "{examples / "scorecard.toml"}"
sla = "{examples / "sla.toml"}"

[calendar]
zone = "America/New_York"
hours = {{ "mon-fri" = "09:00-17:00" }}

[adapters.sqlite]
path = "{store}"
"""
    )
    return config


def test_run_twice_writes_nothing_new(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "s.sqlite"
    assert main(["demo", "--store", str(store), "--leads", "250", "--quiet"]) == Exit.OK
    capsys.readouterr()
    config = _config(tmp_path, store)
    args = ("run", "--adapter", "sqlite", "--config", str(config), "--now", NOW, "--json")
    code, out, err = run_cli(capsys, *args)
    assert code == Exit.OK, err
    first = json.loads(out)
    assert first["applied"] > 0
    assert first["read"]["leads"] == 250
    code, out, _ = run_cli(capsys, *args)
    second = json.loads(out)
    assert code == Exit.OK
    assert second["applied"] == 0, second["writes"]
    assert set(second["writes"]["score"]) == {"unchanged"}
    code, out, _ = run_cli(capsys, *args)
    third = json.loads(out)
    assert third["read"] == {}, "the cursors were saved: nothing is read again"
    assert third["applied"] == 0


def test_dry_run_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "s.sqlite"
    assert main(["demo", "--store", str(store), "--leads", "100", "--quiet"]) == Exit.OK
    config = _config(tmp_path, store)
    with SQLiteAdapter(store) as opened:
        before = opened.counts()
    capsys.readouterr()
    code, out, _ = run_cli(
        capsys, "run", "--config", str(config), "--now", NOW, "--dry-run", "--json"
    )
    report = json.loads(out)
    assert code == Exit.OK
    assert report["dry_run"]
    assert report["writes"]["score"] == {"planned": 100}
    with SQLiteAdapter(store) as opened:
        assert opened.counts() == before
        assert opened.load_cursor("run:sqlite", "lead") is None


def test_score_explains(demo_store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(
        capsys, "score", "--store", str(demo_store), "--now", NOW, "--top", "3", "--json"
    )
    assert code == Exit.OK
    data = json.loads(out)
    assert data["scored"] == 400
    assert len(data["scores"]) == 3
    assert data["scores"][0]["score"] >= data["scores"][1]["score"]
    lead = data["scores"][0]["lead_id"]
    code, out, _ = run_cli(
        capsys, "score", "--store", str(demo_store), "--now", NOW, "--lead", lead
    )
    assert code == Exit.OK
    assert lead in out
    assert "VP+" in out or "title" in out


def test_sla_report(demo_store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(
        capsys, "sla", "--store", str(demo_store), "--now", NOW, "--by", "owner,step", "--json"
    )
    assert code == Exit.OK
    data = json.loads(out)
    assert data["evaluated"] > 0
    assert {row["step"] for row in data["adherence"]} == {"first_touch", "follow_up_attempts"}


def test_adapters_lists_sqlite(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "adapters", "--json")
    rows = {row["name"]: row for row in json.loads(out)["adapters"]}
    assert rows["sqlite"]["distribution"] == "leadflow"
    assert rows["sqlite"]["capabilities"]["transactional_batches"] is True
    assert code in (Exit.OK, Exit.PARTIAL)


@pytest.mark.parametrize(
    "case",
    [
        (["run", "--config", "nowhere.toml"], Exit.USAGE, "nowhere.toml: no such file"),
        (["score", "--store", "missing.sqlite"], Exit.USAGE, "no such store"),
        (["sla", "--now", "2026-03-02T09:00:00"], Exit.USAGE, "has no UTC offset"),
        (["demo", "--leads", "0"], Exit.USAGE, "--leads: must be at least 1"),
        (["frobnicate"], Exit.USAGE, "invalid choice"),
    ],
)
def test_errors_are_one_line_with_an_exit_code(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    case: tuple[list[str], int, str],
) -> None:
    argv, code, message = case
    monkeypatch.chdir(tmp_path)
    got, out, err = run_cli(capsys, *argv)
    assert got == code
    assert message in err
    assert "Traceback" not in err
    assert out == ""


def test_unknown_adapter_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'store = "{tmp_path / "s.sqlite"}"\n')
    code, _, err = run_cli(capsys, "run", "--adapter", "salesfroce", "--config", str(config))
    assert code == Exit.USAGE
    assert err.count("\n") == 1
    assert "no adapter named 'salesfroce'" in err


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="no such file"):
        main(["run", "--config", str(tmp_path / "nowhere.toml"), "--debug"])


def test_console_script_and_module_agree(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    by_module = subprocess.run(
        [sys.executable, "-m", "leadflow", "sla", "--store", str(tmp_path / "none.sqlite")],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert by_module.returncode == Exit.USAGE
    assert by_module.stderr.startswith("leadflow: error: ")
    script = Path(sys.executable).with_name("leadflow")
    help_run = subprocess.run([str(script), "--help"], capture_output=True, text=True, check=False)
    assert help_run.returncode == 0
    for name in COMMANDS:
        assert name in help_run.stdout


def test_progress_draws_only_when_enabled() -> None:
    import io

    from leadflow.cli import Progress

    shown = io.StringIO()
    bar = Progress(shown, enabled=True)
    bar("storing leads", 50, 200)
    bar.done()
    assert "storing leads" in shown.getvalue()
    assert "[#######" in shown.getvalue()
    assert shown.getvalue().endswith("\r")
    hidden = io.StringIO()
    Progress(hidden, enabled=False)("storing leads", 50, 200)
    assert hidden.getvalue() == ""


class _Refusing:
    """An adapter factory whose login fails with the token in the CRM's message."""

    @classmethod
    def from_config(cls, config: dict[str, str]) -> None:
        from leadflow.errors import AuthenticationError

        raise AuthenticationError(
            f"INVALID_SESSION_ID: Bearer {config['token']} refused", adapter="refusing"
        )


def test_adapter_errors_exit_3_with_secrets_masked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from leadflow import adapters

    config = tmp_path / "c.toml"
    config.write_text(
        f'store = "{tmp_path / "s.sqlite"}"\n[adapters.refusing]\ntoken = "00Dxx!s3cr3t"\n'
    )
    adapters.register("refusing", _Refusing)
    try:
        code, _, err = run_cli(capsys, "run", "--adapter", "refusing", "--config", str(config))
    finally:
        adapters.deregister("refusing")
    assert code == Exit.ADAPTER
    assert "INVALID_SESSION_ID" in err
    assert "s3cr3t" not in err
    assert err.count("\n") == 1


def test_adapters_human_listing(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "adapters")
    assert code in (Exit.OK, Exit.PARTIAL)
    assert "leadflow.adapters.sqlite:SQLiteAdapter" in out
    assert "transactional batches: yes" in out


def test_config_paths_are_relative_to_the_config_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    assert main(["demo", "--store", str(project / "crm.sqlite"), "--leads", "50", "--quiet"]) == 0
    (project / "leadflow.toml").write_text(
        'store = "crm.sqlite"\n[adapters.sqlite]\npath = "crm.sqlite"\n'
    )
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    code, out, _ = run_cli(
        capsys, "run", "--config", "project/leadflow.toml", "--now", NOW, "--json"
    )
    assert code == Exit.OK
    assert json.loads(out)["read"]["leads"] == 50
    assert sorted(p.name for p in tmp_path.iterdir()) == ["project"], "nothing created in the cwd"
    assert not (project / "leadflow-state.sqlite").exists(), "the store is the adapter's file"


_WITHOUT = (
    "import sys\n"
    "for name in {names!r}:\n"
    "    sys.modules[name] = None  # how Python marks a module unimportable\n"
    "from leadflow.cli import main\n"
    "sys.exit(main({argv!r}))\n"
)


def _cli_without(names: list[str], *argv: str) -> subprocess.CompletedProcess[str]:
    """Run the command in a fresh interpreter in which *names* cannot be imported."""
    code = _WITHOUT.format(names=names, argv=list(argv))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)


@pytest.mark.parametrize(
    ("adapter", "missing"), [("hubspot", "urllib3"), ("salesforce", "requests")]
)
def test_missing_client_dependency_gives_the_install_hint(
    tmp_path: Path, adapter: str, missing: str
) -> None:
    config = _config(tmp_path, tmp_path / "s.sqlite")
    done = _cli_without([missing], "run", "--adapter", adapter, "--config", str(config))
    assert done.returncode == Exit.USAGE, done.stderr
    assert f'pip install "leadflow[{adapter}]"' in done.stderr
    assert "No module named" not in done.stderr


def test_adapters_lists_an_adapter_whose_extra_is_missing() -> None:
    done = _cli_without(["urllib3", "requests"], "adapters", "--json")
    assert done.returncode == Exit.OK, done.stderr
    rows = {row["name"]: row for row in json.loads(done.stdout)["adapters"]}
    for adapter in ("hubspot", "salesforce"):
        assert rows[adapter]["install_hint"] == f'pip install "leadflow[{adapter}]"'
        assert rows[adapter]["problem"] is None
        assert rows[adapter]["capabilities"] is None
    assert rows["sqlite"]["capabilities"] is not None
    text = _cli_without(["urllib3"], "adapters")
    assert text.returncode == Exit.OK, text.stderr
    assert 'not installed: pip install "leadflow[hubspot]"' in text.stdout


@pytest.mark.parametrize(("command", "option"), [("sla", "--policies"), ("score", "--scorecard")])
def test_a_missing_rule_file_is_a_usage_error(
    demo_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, option: str
) -> None:
    missing = tmp_path / "missing.toml"
    code, _, err = run_cli(
        capsys, command, "--store", str(demo_store), option, str(missing), "--now", NOW
    )
    assert code == Exit.USAGE, err
    assert err == f"leadflow: error: {missing}: no such file\n"


def test_a_run_config_naming_a_missing_rule_file_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "s.sqlite"
    assert main(["demo", "--store", str(store), "--leads", "50", "--quiet"]) == Exit.OK
    capsys.readouterr()
    config = tmp_path / "run.toml"
    config.write_text(f'store = "{store}"\nsla = "missing.toml"\n')
    code, _, err = run_cli(capsys, "run", "--config", str(config), "--now", NOW)
    assert code == Exit.USAGE, err
    assert "run.toml: sla: no such file" in err and "missing.toml" in err  # the key and the file
    assert "FileNotFoundError" not in err


def test_an_error_inside_a_rule_file_names_the_file(
    demo_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    examples = Path(__file__).resolve().parents[2] / "examples"
    policies = tmp_path / "typo.toml"
    text = (examples / "sla.toml").read_text(encoding="utf-8")
    assert "warn_hours" in text
    policies.write_text(text.replace("warn_hours", "warn_hour", 1), encoding="utf-8")
    code, _, err = run_cli(
        capsys, "sla", "--store", str(demo_store), "--policies", str(policies), "--now", NOW
    )
    assert code == Exit.USAGE, err
    assert err.startswith(f"leadflow: error: {policies}: policies[0].steps[0].warn_hour"), err


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("store = 3", "store"),
        ("sla = 3", "sla"),
        ('scorecard = ["a.toml"]', "scorecard"),
        ('sla = ""', "sla"),
        ('calendar = "UTC"', "calendar"),
        ("batch_size = 0", "batch_size"),
        ('batch_size = "10"', "batch_size"),
    ],
)
def test_a_run_config_value_of_the_wrong_type_names_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str, key: str
) -> None:
    config = tmp_path / "run.toml"
    config.write_text(line + "\n")
    code, _, err = run_cli(capsys, "run", "--config", str(config), "--now", NOW)
    assert code == Exit.USAGE, err
    assert err.startswith(f"leadflow: error: {config}: {key}: must be "), err
    assert "bug in leadflow" not in err


def test_the_demo_follow_ups_judge_the_demo_as_of_its_instant(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "d.sqlite"
    code, out, err = run_cli(capsys, "demo", "--store", str(store), "--leads", "120")
    assert code == Exit.OK, err
    (hint,) = [line for line in out.splitlines() if line.startswith("Next: ")]
    commands = [part.split() for part in hint.removeprefix("Next: ").split("   |   ")]
    follow_ups = [argv[1:] for argv in commands if argv[1] in ("sla", "score")]
    assert {argv[0] for argv in follow_ups} == {"sla", "score"}, hint
    for argv in follow_ups:
        assert argv[argv.index("--now") + 1] == NOW, hint
        code, out, err = run_cli(capsys, *argv)
        assert code == Exit.OK, err
        assert "as of 2026-03-02T09:00:00+00:00" in out, out


def test_a_closed_stdout_pipe_ends_quietly(demo_store: Path) -> None:
    """``leadflow ... | head -1``: the reader is gone; no error text, exit 141 (128 + SIGPIPE)."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader has already gone, so the first write fails: no race
    try:
        done = subprocess.run(
            [sys.executable, "-m", "leadflow", "sla", "--store", str(demo_store), "--now", NOW],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
    finally:
        os.close(write_end)
    assert done.returncode == Exit.BROKEN_PIPE == 141
    assert done.stderr == ""


def test_report_out_dash_writes_to_stdout(
    demo_store: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    base = ("report", "--store", str(demo_store), "--now", NOW, "--out", "-")
    code, out, err = run_cli(capsys, *base)
    assert code == Exit.OK, err
    assert out.lstrip().lower().startswith("<!doctype html"), out[:80]
    code, out, err = run_cli(capsys, *base, "--format", "json")
    assert code == Exit.OK, err
    assert json.loads(out)  # the report itself, nothing else on stdout
    code, out, err = run_cli(capsys, *base, "--format", "csv")
    assert code == Exit.USAGE
    assert err.startswith("leadflow: error: --out -: --format csv writes a directory"), err
    assert list(tmp_path.iterdir()) == [], "no file named '-' (or anything else) was written"


@pytest.mark.parametrize(
    ("command", "store"),
    [
        ("import", "leadflow-state.sqlite"),
        ("report", "leadflow-demo.sqlite"),
        ("sla", "leadflow-demo.sqlite"),
        ("score", "leadflow-demo.sqlite"),
    ],
)
def test_help_states_the_default_store(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: str, store: str
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # argparse would wrap the file name at its hyphen
    code, out, _ = run_cli(capsys, command, "--help")
    assert code == Exit.OK
    assert f"(default: ./{store}" in " ".join(out.split())


def test_sla_refuses_a_final_action_it_could_not_carry_out(
    demo_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = Path("examples/sla.toml").read_text(encoding="utf-8")
    assert 'reason = "not_ready_to_buy"' in text
    policies = tmp_path / "sla.toml"
    policies.write_text(text.replace('reason = "not_ready_to_buy"', 'reason = "not_ready"'))
    code, _out, err = run_cli(
        capsys, "sla", "--store", str(demo_store), "--policies", str(policies)
    )
    assert code == Exit.USAGE
    assert "policies[0].final.reason" in err and "'not_ready'" in err
