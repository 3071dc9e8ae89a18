"""``leadflow report --send``: a real SMTP server (aiosmtpd, STARTTLS and AUTH) and a real HTTP
webhook receiver on 127.0.0.1 receive what the report pushes; secrets never show."""

from __future__ import annotations

import email
import json
import logging
import socket
import ssl
import threading
from collections.abc import Iterator
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import attrs
import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from leadflow.cli import Exit, main
from leadflow.delivery import (
    DeliveryConfig,
    SMTPSettings,
    WebhookSettings,
    post_webhook,
    send_email,
)
from leadflow.errors import ConfigError, DeliveryError

PASSWORD = "pw-SECRET-7d1f"
HOOK_PATH = "/services/T000/B000/HOOKSECRET42"
NOW = "2026-03-02T09:00:00Z"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.logins: list[str] = []

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"

    def __call__(
        self, server: Any, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.password == PASSWORD.encode()
        if ok:
            self.logins.append(data.login.decode())
        return AuthResult(success=ok)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def smtp_server(ca: trustme.CA, tmp_path: Path) -> Iterator[tuple[int, _Inbox, Path]]:
    inbox = _Inbox()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    port = _free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        authenticator=inbox,
        auth_require_tls=True,
    )
    controller.start()
    cafile = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(cafile))
    try:
        yield port, inbox, cafile
    finally:
        controller.stop()


class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, dict[str, Any]]]] = []
    status = 200

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append((self.path, json.loads(body)))
        self.send_response(_Hook.status)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[str]:
    _Hook.received = []
    _Hook.status = 200
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{HOOK_PATH}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def demo_store(small_demo_store: Path) -> Path:
    return small_demo_store


def _send_file(tmp_path: Path, port: int, cafile: Path, url: str) -> Path:
    config = tmp_path / "send.toml"
    config.write_text(
        f"""
[smtp]
host = "127.0.0.1"
port = {port}
username = "reports@example.com"
password_env = "LEADFLOW_TEST_SMTP_PASSWORD"
from = "reports@example.com"
to = ["marketing@example.com", "sales@example.com"]
cafile = "{cafile}"
owners = {{ "u-ana" = "ana@example.com", "u-ben" = "ben@example.com" }}

[webhook]
url_env = "LEADFLOW_TEST_WEBHOOK"
""",
        encoding="utf-8",
    )
    return config


def test_report_send_emails_the_report_and_owner_digests_and_posts_the_summary(  # noqa: PLR0917
    demo_store: Path,
    smtp_server: tuple[int, _Inbox, Path],
    webhook: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    port, inbox, cafile = smtp_server
    monkeypatch.setenv("LEADFLOW_TEST_SMTP_PASSWORD", PASSWORD)
    monkeypatch.setenv("LEADFLOW_TEST_WEBHOOK", webhook)
    config = _send_file(tmp_path, port, cafile, webhook)
    caplog.set_level(logging.DEBUG)
    code = main(["report", "--json", "--store", str(demo_store), "--now", NOW,
                 "--out", str(tmp_path / "r.html"), "--send", str(config)])  # fmt: skip
    captured = capsys.readouterr()
    assert code == Exit.OK, captured.err
    sent = json.loads(captured.out)["sent"]
    assert sent["report_emails"] == 1 and sent["webhook_posts"] == 1
    assert inbox.logins == ["reports@example.com"]  # AUTH happened, over STARTTLS
    report_mail, *digests = inbox.messages
    assert report_mail["To"] == "marketing@example.com, sales@example.com"
    html = next(p for p in report_mail.walk() if p.get_content_type() == "text/html")
    page = html.get_payload(decode=True).decode()  # type: ignore[union-attr]
    assert "<script" not in page.lower() and "bought or are buying" in page
    assert sent["digests"] == len(digests) >= 1
    assert {d["To"] for d in digests} <= {"ana@example.com", "ben@example.com"}
    assert "Breached (" in digests[0].get_payload()
    ((path, payload),) = _Hook.received
    assert path == HOOK_PATH
    assert payload["text"].startswith("Sales & marketing feedback report as of 2026-03-02")
    assert all(b["type"] == "section" for b in payload["blocks"])
    everything = captured.out + captured.err + caplog.text
    assert PASSWORD not in everything and "HOOKSECRET42" not in everything


def test_wrong_password_and_refusing_webhook_fail_without_the_secrets(
    smtp_server: tuple[int, _Inbox, Path], webhook: str
) -> None:
    port, _, cafile = smtp_server
    bad = SMTPSettings(host="127.0.0.1", port=port, username="x", password="WRONG-secret-9",
                       cafile=str(cafile), to=("a@example.com",))  # fmt: skip
    from datetime import UTC, datetime

    from leadflow.analytics import build_report
    from leadflow.delivery import report_email

    msg = report_email(build_report(leads=[], now=datetime(2026, 1, 1, tzinfo=UTC)),
                       sender="r@example.com", to=["a@example.com"])  # fmt: skip
    with pytest.raises(DeliveryError) as refused:
        send_email(bad, [msg])
    assert "WRONG-secret-9" not in str(refused.value) and "WRONG-secret-9" not in repr(bad)
    _Hook.status = 403
    hook = WebhookSettings(url=webhook)
    with pytest.raises(DeliveryError, match="HTTP 403") as rejected:
        post_webhook(hook, {"text": "x"})
    assert "HOOKSECRET42" not in str(rejected.value) and "HOOKSECRET42" not in repr(hook)
    closed = WebhookSettings(url=f"http://127.0.0.1:{_free_port()}{HOOK_PATH}", timeout=2)
    with pytest.raises(DeliveryError) as unreachable:
        post_webhook(closed, {"text": "x"})
    assert "HOOKSECRET42" not in str(unreachable.value)


def test_a_bad_send_file_is_refused_before_anything_is_read(
    demo_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "send.toml"
    config.write_text('[smtp]\nhost = "x"\npassword_env = "NOT_SET_ANYWHERE_1"\n')
    out = tmp_path / "never.html"
    code = main(["report", "--store", str(demo_store), "--now", NOW, "--out", str(out),
                 "--send", str(config)])  # fmt: skip
    assert code == Exit.USAGE
    assert "NOT_SET_ANYWHERE_1" in capsys.readouterr().err
    assert not out.exists()
    with pytest.raises(ConfigError, match="nothing to send"):
        DeliveryConfig.from_dict({})
    with pytest.raises(ConfigError, match=r"smtp\.port"):
        DeliveryConfig.from_dict({"smtp": {"host": "h", "port": "25"}})


def test_report_refuses_to_judge_a_users_store_with_the_demo_rules(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "mine.sqlite"
    leads = tmp_path / "leads.csv"
    leads.write_text("id,created_at\nL-1,2026-03-01T09:00:00Z\n")
    assert main(["import", "--entity", "lead", "--store", str(store), str(leads)]) == Exit.OK
    capsys.readouterr()
    code = main(["report", "--store", str(store), "--now", NOW, "--out", str(tmp_path / "r.html")])
    assert code == Exit.USAGE
    err = capsys.readouterr().err
    assert "--policies" in err and "demo's rules" in err
    code = main(["report", "--store", str(store), "--now", NOW, "--demo-rules",
                 "--out", str(tmp_path / "r.html")])  # fmt: skip
    assert code == Exit.OK


def test_a_password_never_crosses_the_network_in_clear() -> None:
    with pytest.raises(ConfigError, match=r"smtp\.starttls"):
        DeliveryConfig.from_dict({"smtp": {"host": "h", "starttls": False, "username": "u"}})
    local = DeliveryConfig.from_dict(
        {"smtp": {"host": "h", "starttls": False, "username": "u", "allow_plaintext_auth": True}}
    )
    assert local.smtp is not None and not local.smtp.starttls


def test_digests_are_in_time_order_across_a_dst_change() -> None:
    from datetime import UTC, datetime, timedelta, timezone

    from leadflow.analytics import build_report
    from leadflow.analytics.sla_report import OpenStep
    from leadflow.delivery import owner_digests

    edt, est = timezone(timedelta(hours=-4)), timezone(timedelta(hours=-5))
    # the repeated hour of the New York fall-back: as text 01:10 sorts before 01:30, in time not
    earlier = datetime(2026, 11, 1, 1, 30, tzinfo=edt)  # 05:30 UTC
    later = datetime(2026, 11, 1, 1, 10, tzinfo=est)  # 06:10 UTC
    steps = (
        OpenStep(lead_id="B", policy="p", step="s", owner="ana", state="pending", due_at=later),
        OpenStep(lead_id="A", policy="p", step="s", owner="ana", state="pending", due_at=earlier),
    )
    report = build_report(leads=[], now=datetime(2026, 10, 29, tzinfo=UTC))
    (digest,) = owner_digests(attrs.evolve(report, sla_open=steps))
    assert [lead for lead, _, _ in digest.due] == ["A", "B"]
