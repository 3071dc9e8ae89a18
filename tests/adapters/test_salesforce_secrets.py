"""No secret of the Salesforce adapter's reaches a log record, an exception or the CLI's output.

A made-up token (one no pattern would recognise as a Salesforce session id) is used against the
loopback emulator while it answers 401, 400 (echoing the request's ``Authorization`` header back),
429, 500 (quoting it too), 503, a page that is not JSON (quoting the session) and answers slower
than the timeout. Every log record (at DEBUG, every logger), every exception (``str``, ``repr``,
the formatted traceback with its chain and notes), every write error, and the CLI's ``--json`` and
``--debug`` output are searched for the token.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from tests.emulators.salesforce import SalesforceEmulator
from tests.emulators.salesforce_seed import EmulatorSeeder, make_adapter

from leadflow.adapters.testing import sample_leads
from leadflow.errors import AdapterError
from leadflow.ports import Entity, ScoreWrite

TOKEN = "MADEUP-sess-7f3a9c41d2"
LEADFLOW = Path(sys.executable).with_name("leadflow")


@pytest.fixture
def emu(tmp_path: Path) -> Iterator[SalesforceEmulator]:
    with SalesforceEmulator(ca=trustme.CA(), cert_dir=tmp_path, page_size=5) as emulator:
        emulator._tokens.add(TOKEN)
        EmulatorSeeder(emulator)(Entity.LEAD, sample_leads(8))
        yield emulator


def _texts(exc: BaseException) -> list[str]:
    return [str(exc), repr(exc), "".join(traceback.format_exception(exc))]


@pytest.mark.parametrize(
    ("fault", "match"),
    [
        ("echo", "/query"),
        ("500", "/query"),
        ("429", "/query"),
        ("503", "/query"),
        ("badjson", "/query"),
        ("slow", "/query"),
        ("echo", "/composite/sobjects"),
        ("500", "/composite/sobjects"),
        ("badjson", "/composite/sobjects"),
        ("expire", "/query"),
    ],
)
def test_a_made_up_token_is_in_no_log_exception_or_error(
    emu: SalesforceEmulator, caplog: pytest.LogCaptureFixture, fault: str, match: str
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, every level
    adapter = make_adapter(
        emu,
        session_id=TOKEN,
        timeout=0.3,
        retry={"max_attempts": 2, "base_delay": 0.0, "jitter": 0.0},
    )
    leads = [v.item for p in adapter.read_leads() for v in p.items]
    emu.inject(fault, times=10, match=match, retry_after=1)
    texts = [repr(adapter), str(adapter.__dict__)]
    if match == "/query":
        with pytest.raises(AdapterError) as caught:
            list(adapter.read_leads())
        texts += _texts(caught.value)
    else:
        results = adapter.write([ScoreWrite(lead_id=lead.id, score=3.0) for lead in leads])
        assert all(not r.ok for r in results)
        texts += [r.error or "" for r in results]
    for record in caplog.records:
        texts.append(record.getMessage())
        if record.exc_info and record.exc_info[1] is not None:
            texts += _texts(record.exc_info[1])
    assert any(texts), "something was said"
    leaked = [t for t in texts if TOKEN in t]
    assert leaked == []


@pytest.mark.parametrize("mode", ["--json", "--debug"])
@pytest.mark.parametrize("fault", ["echo", "500", "badjson"])
def test_the_cli_output_holds_no_token(
    emu: SalesforceEmulator, tmp_path: Path, mode: str, fault: str
) -> None:
    config = tmp_path / "leadflow.toml"
    config.write_text(
        f'store = "{tmp_path / "state.sqlite"}"\n'
        "[adapters.salesforce]\n"
        f'instance_url = "{emu.url}"\n'
        f'access_token = "{TOKEN}"\n'
        f'ca_bundle = "{emu.ca_path}"\n'
        "retry = { max_attempts = 2, base_delay = 0.0 }\n"
    )
    emu.inject(fault, times=10, match="/query")
    done = subprocess.run(
        [str(LEADFLOW), "run", "--adapter", "salesforce", "--config", str(config), mode],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert "salesforce" in output
    assert TOKEN not in output
    if mode == "--json" and done.stdout.strip():
        assert TOKEN not in json.dumps(json.loads(done.stdout))
