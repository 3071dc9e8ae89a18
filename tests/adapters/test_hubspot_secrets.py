"""The access token never leaks: HubSpot is made to fail every way it can (401, 400, 429, 5xx,
a body that is not JSON, timeouts) while its error messages echo the request's Authorization
header, and the token is searched for in every log record, exception (with its notes and
chain), write result, and the CLI's ``--json`` and ``--debug`` output."""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hubspot import HubSpot
from hubspot.crm.objects import PublicObjectSearchRequest
from hubspot.crm.objects.exceptions import ApiException
from tests.adapters import hubspot_fixtures as fx
from tests.emulators.hubspot import HubSpotEmulator

from leadflow.adapters.hubspot import HubSpotAdapter
from leadflow.cli import main
from leadflow.errors import LeadflowError
from leadflow.ports import ScoreWrite

#: Made up for this test; the shape of a HubSpot private-app token.
TOKEN = "pat-eu1-0f3c9e2a-5b7d-4e21-9a6c-d15ea5e5ca1e"
FAULTS = ("401", "400", "429", "503", "502-after", "bad-json", "slow", "drop")

make_adapter = fx.make_adapter
slept = fx.slept


@pytest.fixture
def emulator() -> Iterator[HubSpotEmulator]:
    with HubSpotEmulator(token=TOKEN) as emu:
        emu.define_property("contacts", *fx.CUSTOM)
        emu.echo_token = True
        yield emu


def _texts(exc: BaseException) -> list[str]:
    """Everything an exception can show: message, repr, notes, chain, formatted traceback."""
    out = ["".join(traceback.format_exception(exc))]
    seen: BaseException | None = exc
    while seen is not None:
        out += [str(seen), repr(seen), *getattr(seen, "__notes__", [])]
        out += [str(getattr(seen, a, "")) for a in ("body", "headers", "reason")]
        seen = seen.__cause__ or seen.__context__
    return out


def test_the_emulator_really_echoes_the_token(emulator: HubSpotEmulator) -> None:
    """Without this the test below could pass by accident."""
    emulator.fail_next("400")
    client = HubSpot(access_token=TOKEN, host=emulator.url, retry=False)
    with pytest.raises(ApiException) as info:
        client.crm.objects.search_api.do_search("contacts", PublicObjectSearchRequest(limit=1))
    assert TOKEN in str(info.value)


@pytest.mark.parametrize("fault", FAULTS)
def test_no_fault_shows_the_token_in_logs_errors_or_results(
    emulator: HubSpotEmulator,
    make_adapter: Callable[..., HubSpotAdapter],
    caplog: pytest.LogCaptureFixture,
    fault: str,
) -> None:
    ids = emulator.seed("contacts", [{"email": f"p{i}@example.com"} for i in range(3)])
    caplog.set_level(logging.DEBUG)
    adapter = make_adapter(timeout=0.2)
    shown: list[str] = [repr(adapter)]
    times = 1 if fault == "401" else fx.FAST_RETRY.max_attempts
    emulator.fail_next(fault, times=times, retry_after=0, delay=0.5)
    try:
        list(adapter.read_leads())
    except LeadflowError as exc:
        shown += _texts(exc)
    emulator.fail_next(fault, times=times, retry_after=0, delay=0.5)
    try:
        results = adapter.write([ScoreWrite(lead_id=i, score=3.0) for i in ids])
        shown += [r.error or "" for r in results]
    except LeadflowError as exc:
        shown += _texts(exc)
    for record in caplog.records:
        shown.append(record.getMessage())
        if record.exc_info and record.exc_info[1] is not None:
            shown += _texts(record.exc_info[1])
    assert len(shown) > 2, "the faults produced errors or logs to search"
    leaks = [text for text in shown if TOKEN in text]
    assert leaks == []


@pytest.mark.parametrize("flag", ["--json", "--debug"])
@pytest.mark.parametrize("fault", ["401", "400", "429", "503", "bad-json"])
def test_the_cli_never_prints_the_token(  # noqa: PLR0917 (pytest fixtures)
    emulator: HubSpotEmulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    flag: str,
    fault: str,
) -> None:
    emulator.seed("contacts", [{"email": "p@example.com", "lifecyclestage": "lead"}])
    monkeypatch.setenv("LEADFLOW_SECRET_TEST_TOKEN", TOKEN)
    config = tmp_path / "run.toml"
    config.write_text(
        f'store = "{tmp_path / "state.sqlite"}"\n'
        f"[adapters.hubspot]\n"
        f'access_token_env = "LEADFLOW_SECRET_TEST_TOKEN"\nhost = "{emulator.url}"\n'
        "retry = { max_attempts = 2, base_delay = 0.0, max_delay = 0.0, max_elapsed = 5 }\n"
    )
    caplog.set_level(logging.DEBUG)
    emulator.fail_next(fault, times=2, retry_after=0)
    argv = ["run", "--adapter", "hubspot", "--config", str(config), flag]
    shown: list[str] = []
    try:
        code = main(argv)
    except Exception as exc:  # --debug lets it through: what the user would see is the traceback
        assert flag == "--debug"
        shown += _texts(exc)
    else:
        assert code != 0
    captured = capsys.readouterr()
    shown += [captured.out, captured.err, *(r.getMessage() for r in caplog.records)]
    assert any(shown), "the failure was reported somewhere"
    assert [t for t in shown if TOKEN in t] == []
    if flag == "--json" and captured.out.strip():
        json.loads(captured.out)


#: A credential in an unusual format: a quote and a backslash, which HubSpot's JSON error body
#: escapes when it echoes the header, and non-ASCII, which it may escape as ``\u00f6``.
ODD_TOKEN = 'pat-"odd"\\t\u00f6ken&<1>'


@pytest.mark.parametrize("fault", ["400", "401", "429", "503"])
def test_a_token_the_error_body_escapes_is_scrubbed_too(fault: str) -> None:
    with HubSpotEmulator(token=ODD_TOKEN) as emu:
        emu.define_property("contacts", *fx.CUSTOM)
        emu.echo_token = True
        emu.seed("contacts", [{"email": "p@example.com"}])
        adapter = HubSpotAdapter.from_config(
            access_token=ODD_TOKEN,
            host=emu.url,
            search_rate=0,
            retry={"max_attempts": 1, "base_delay": 0, "max_delay": 0, "max_elapsed": 5},
        )
        emu.fail_next(fault, retry_after=0)
        with pytest.raises(LeadflowError) as info:
            list(adapter.read_leads())
        adapter.close()
    shown = "\n".join(_texts(info.value))
    assert "Authorization" in shown, "the echo reached the error"
    pieces = ['"odd"', "odd\\", "\\\\t", "ken&<1>", "\\u00f6ken"]
    assert [p for p in pieces if p in shown] == []
