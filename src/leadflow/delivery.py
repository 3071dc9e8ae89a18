"""Pushing the feedback report to both teams: e-mail over SMTP, and a chat webhook.

Scope: the seed asks for reports of volumes and SLA status *pushed* to marketing and sales, not
waiting to be pulled. This module builds the messages from a
:class:`~leadflow.analytics.report.FeedbackReport` and the SLA step results, and sends them:

* :func:`report_email` — the whole HTML report inline (a self-contained page, no scripts, so it
  reads in common mail clients), with a plain-text part carrying the headline numbers;
* :func:`owner_digests` / :func:`digest_email` — one short message per lead owner: their leads
  whose SLA steps are due, at risk, or breached, soonest first;
* :func:`webhook_payload` — a short summary as JSON in the shape of a Slack incoming webhook
  (``{"text": ..., "blocks": [...]}``), which Mattermost, Rocket.Chat and Teams' Slack-compatible
  endpoints also accept;
* :func:`send_email` (``smtplib``, STARTTLS and login when configured) and :func:`post_webhook`
  (``urllib``); both take a :class:`DeliveryConfig` whose secrets come from the environment or
  the configuration file and never appear in its ``repr``, in logs or in errors.

Building is pure; only the two ``send``/``post`` functions do I/O.

>>> from datetime import datetime, timezone
>>> from leadflow.analytics import build_report
>>> from leadflow.model import Lead
>>> now = datetime(2026, 3, 31, tzinfo=timezone.utc)
>>> report = build_report(leads=[Lead(id="L-1", created_at=now)], now=now)
>>> webhook_payload(report)["text"]
'Sales & marketing feedback report as of 2026-03-31: 1 leads, 0 rejections.'
>>> repr(SMTPSettings(host="mail.example", password="s3cret"))
"SMTPSettings(host='mail.example', port=587, starttls=True, username=None, password='***', sender='leadflow@localhost', to=(), owners={}, timeout=30.0, cafile=None)"
"""

from __future__ import annotations

import json
import os
import smtplib
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from typing import Any

import attrs

from leadflow.analytics.html import render_html
from leadflow.analytics.report import FeedbackReport
from leadflow.analytics.sla_report import OpenStep
from leadflow.errors import ConfigError, DeliveryError

__all__ = [
    "DeliveryConfig",
    "OwnerDigest",
    "SMTPSettings",
    "WebhookSettings",
    "digest_email",
    "owner_digests",
    "post_webhook",
    "report_email",
    "send_email",
    "webhook_payload",
]


def _hidden(value: str | None) -> str:
    return "None" if value is None else "'***'"


@attrs.frozen(kw_only=True)
class SMTPSettings:
    """Where and how to send e-mail. ``password`` is never shown (``repr`` masks it)."""

    host: str
    port: int = 587
    starttls: bool = True
    username: str | None = None
    password: str | None = attrs.field(default=None, repr=_hidden)
    sender: str = "leadflow@localhost"
    to: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    #: Owner id → address, for the per-owner digests.
    owners: Mapping[str, str] = attrs.field(factory=dict)
    timeout: float = 30.0
    #: A CA bundle to trust for STARTTLS (a company CA); default: the system's.
    cafile: str | None = None


@attrs.frozen(kw_only=True)
class WebhookSettings:
    """Where to post the summary. The URL of an incoming webhook is itself a secret (anyone
    holding it can post), so ``repr`` masks it too."""

    url: str = attrs.field(repr=lambda _: "'***'")
    timeout: float = 10.0


@attrs.frozen(kw_only=True)
class DeliveryConfig:
    """What ``leadflow report --send FILE`` reads: an ``[smtp]`` and/or a ``[webhook]`` table."""

    smtp: SMTPSettings | None = None
    webhook: WebhookSettings | None = None

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], *, env: Mapping[str, str] | None = None, path: str = "send"
    ) -> DeliveryConfig:
        """Build from a TOML table. Secrets: ``password_env`` / ``url_env`` name environment
        variables (preferred), or ``password`` / ``url`` hold them. Unknown keys are refused.

        >>> cfg = DeliveryConfig.from_dict(
        ...     {"smtp": {"host": "mail.example", "password_env": "PW", "to": ["m@example.com"]}},
        ...     env={"PW": "hunter2"})
        >>> cfg.smtp.password, cfg.webhook
        ('hunter2', None)
        """
        environ = os.environ if env is None else env
        unknown = sorted(set(data) - {"smtp", "webhook"})
        if unknown:
            raise ConfigError(f"{path}: {unknown[0]}", "unknown table; expected smtp or webhook")
        smtp = webhook = None
        if "smtp" in data:
            smtp = _smtp(_table(data["smtp"], f"{path}: smtp"), environ, f"{path}: smtp")
        if "webhook" in data:
            table = _table(data["webhook"], f"{path}: webhook")
            _known(table, {"url", "url_env", "timeout"}, f"{path}: webhook")
            url = _secret(table, "url", environ, f"{path}: webhook")
            if not url or not url.startswith(("https://", "http://")):
                raise ConfigError(f"{path}: webhook.url", "must be an http(s) URL")
            webhook = WebhookSettings(url=url, timeout=_number(table, "timeout", 10.0, path))
        if smtp is None and webhook is None:
            raise ConfigError(path, "has neither an [smtp] nor a [webhook] table: nothing to send")
        return cls(smtp=smtp, webhook=webhook)


def _table(value: object, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(path, f"must be a table, got {value!r}")
    return value


def _known(table: Mapping[str, Any], keys: set[str], path: str) -> None:
    unknown = sorted(set(table) - keys)
    if unknown:
        raise ConfigError(f"{path}.{unknown[0]}", f"unknown key; expected {sorted(keys)}")


def _secret(table: Mapping[str, Any], key: str, env: Mapping[str, str], path: str) -> str | None:
    if f"{key}_env" in table:
        name = table[f"{key}_env"]
        if not isinstance(name, str) or name not in env:
            raise ConfigError(f"{path}.{key}_env", f"environment variable {name!r} is not set")
        return env[name]
    value = table.get(key)
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"{path}.{key}", "must be a string")
    return value


def _number(table: Mapping[str, Any], key: str, default: float, path: str) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 3600:
        raise ConfigError(f"{path}.{key}", f"must be a number of seconds, got {value!r}")
    return float(value)


def _smtp(table: Mapping[str, Any], env: Mapping[str, str], path: str) -> SMTPSettings:
    _known(
        table,
        {"host", "port", "starttls", "username", "password", "password_env", "from", "to",
         "owners", "timeout", "cafile", "allow_plaintext_auth"},
        path,
    )  # fmt: skip
    host = table.get("host")
    if not isinstance(host, str) or not host:
        raise ConfigError(f"{path}.host", "is required (the SMTP server's name)")
    port = table.get("port", 587)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise ConfigError(f"{path}.port", f"must be a TCP port, got {port!r}")
    starttls = table.get("starttls", True)
    if not isinstance(starttls, bool):
        raise ConfigError(f"{path}.starttls", f"must be true or false, got {starttls!r}")
    to = table.get("to", [])
    if isinstance(to, str):
        to = [to]
    if not isinstance(to, list) or not all(isinstance(a, str) and "@" in a for a in to):
        raise ConfigError(f"{path}.to", f"must be a list of e-mail addresses, got {to!r}")
    owners = table.get("owners", {})
    if not isinstance(owners, Mapping) or not all(
        isinstance(v, str) and "@" in v for v in owners.values()
    ):
        raise ConfigError(f"{path}.owners", "must map owner ids to e-mail addresses")
    username = table.get("username")
    if username is not None and not isinstance(username, str):
        raise ConfigError(f"{path}.username", "must be a string")
    if username is not None and not starttls and table.get("allow_plaintext_auth") is not True:
        raise ConfigError(
            f"{path}.starttls",
            "is false while a username is set: the password would cross the network in clear "
            "(set allow_plaintext_auth = true only for a server on this machine)",
        )
    sender = table.get("from", "leadflow@localhost")
    if not isinstance(sender, str) or "@" not in sender:
        raise ConfigError(f"{path}.from", f"must be an e-mail address, got {sender!r}")
    cafile = table.get("cafile")
    if cafile is not None and not isinstance(cafile, str):
        raise ConfigError(f"{path}.cafile", "must be a file path")
    return SMTPSettings(
        cafile=cafile,
        host=host,
        port=port,
        starttls=starttls,
        username=username,
        password=_secret(table, "password", env, path),
        sender=sender,
        to=tuple(to),
        owners=dict(owners),
        timeout=_number(table, "timeout", 30.0, path),
    )


# -- building --------------------------------------------------------------------------------------


def _headline(report: FeedbackReport) -> list[str]:
    lines = [
        f"{report.title} as of {report.now.date().isoformat()}: {report.leads} leads, "
        f"{report.rejections_total} rejections."
    ]
    if report.closed_loop_headline is not None:
        lines.append(report.closed_loop_headline.sentence)
    fit = report.half_life
    if fit is not None and fit.half_life_hours is not None:
        lines.append(f"Lead half-life: {fit.half_life_hours:.1f} h ({fit.clock}).")
    met = sum(r.met for r in report.sla_by_step)
    breached = sum(r.breached for r in report.sla_by_step)
    if met + breached:
        lines.append(
            f"SLA: {met} steps met, {breached} breached ({met / (met + breached):.0%} adherence)."
        )
    return lines


def report_email(report: FeedbackReport, *, sender: str, to: Sequence[str]) -> EmailMessage:
    """The report as one e-mail: a plain-text summary and the HTML page as the HTML part."""
    if not to:
        raise ConfigError("smtp.to", "no recipients for the report")
    message = EmailMessage()
    message["Subject"] = f"{report.title} — {report.now.date().isoformat()}"
    message["From"] = sender
    message["To"] = ", ".join(to)
    message.set_content("\n".join(_headline(report)) + "\n")
    message.add_alternative(render_html(report), subtype="html")
    return message


@attrs.frozen(kw_only=True)
class OwnerDigest:
    """One owner's SLA steps to act on: ``(lead id, step, due instant as ISO text)`` triples."""

    owner: str
    breached: tuple[tuple[str, str, str], ...]
    at_risk: tuple[tuple[str, str, str], ...]
    due: tuple[tuple[str, str, str], ...]

    @property
    def empty(self) -> bool:
        """Nothing to act on."""
        return not (self.breached or self.at_risk or self.due)

    def text(self) -> str:
        """The digest as plain text."""
        out = [f"SLA digest for {self.owner}:"]
        for title, rows in (
            ("Breached", self.breached),
            ("At risk", self.at_risk),
            ("Due", self.due),
        ):
            out.append(f"{title} ({len(rows)}):")
            out.extend(f"  {lead}  {step}  due {due}" for lead, step, due in rows)
        return "\n".join(out) + "\n"


def owner_digests(report: FeedbackReport) -> list[OwnerDigest]:
    """Per owner, the report's SLA steps still to act on (:attr:`FeedbackReport.sla_open`):
    breached, at risk and due, each soonest first. Steps without an owner are left out."""
    buckets: dict[str, dict[str, list[OpenStep]]] = {}
    for r in report.sla_open:
        if r.owner is None:
            continue
        buckets.setdefault(r.owner, {"breached": [], "at_risk": [], "pending": []})[r.state].append(
            r
        )

    def rows(steps: list[OpenStep]) -> tuple[tuple[str, str, str], ...]:
        # by the instant itself: ISO text with mixed offsets (DST) does not sort in time order
        ordered = sorted(steps, key=lambda r: (r.due_at, r.lead_id, r.step))
        return tuple((r.lead_id, r.step, r.due_at.isoformat()) for r in ordered)

    return [
        OwnerDigest(
            owner=owner,
            breached=rows(b["breached"]),
            at_risk=rows(b["at_risk"]),
            due=rows(b["pending"]),
        )
        for owner, b in sorted(buckets.items())
    ]


def digest_email(digest: OwnerDigest, *, sender: str, to: str) -> EmailMessage:
    """One owner's digest as a plain-text e-mail."""
    message = EmailMessage()
    message["Subject"] = (
        f"Your leads: {len(digest.breached)} breached, {len(digest.at_risk)} at risk, "
        f"{len(digest.due)} due"
    )
    message["From"] = sender
    message["To"] = to
    message.set_content(digest.text())
    return message


def webhook_payload(report: FeedbackReport) -> dict[str, Any]:
    """A short summary in the Slack incoming-webhook shape: ``text`` (the fallback every client
    shows) and one ``section`` block per headline line."""
    lines = _headline(report)
    return {
        "text": lines[0],
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": line}} for line in lines],
    }


# -- sending ---------------------------------------------------------------------------------------


def _scrub(text: str, *secrets: str | None) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def send_email(
    settings: SMTPSettings,
    messages: Sequence[EmailMessage],
    *,
    context: ssl.SSLContext | None = None,
) -> int:
    """Send *messages* over one SMTP connection (STARTTLS first when configured, then login when
    a username is set); returns how many were sent. Failures are an
    :class:`~leadflow.errors.DeliveryError` that never contains the password."""
    if not messages:
        return 0
    try:
        with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout) as smtp:
            if settings.starttls:
                smtp.starttls(context=context or ssl.create_default_context(cafile=settings.cafile))
            if settings.username:
                smtp.login(settings.username, settings.password or "")
            for message in messages:
                smtp.send_message(message)
    except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
        raise DeliveryError(
            _scrub(f"could not send via {settings.host}:{settings.port}: {exc}", settings.password),
            adapter="smtp",
        ) from None
    return len(messages)


def post_webhook(settings: WebhookSettings, payload: Mapping[str, Any]) -> None:
    """POST *payload* as JSON; a refusal or an unreachable URL is an
    :class:`~leadflow.errors.DeliveryError` that never contains the URL (it is a secret)."""
    request = urllib.request.Request(
        settings.url,
        data=json.dumps(payload).encode("utf-8"),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=settings.timeout) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        exc.close()  # the error holds the response's socket
        raise DeliveryError(
            f"the webhook refused the post: HTTP {exc.code}", adapter="webhook"
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeliveryError(
            _scrub(f"could not post: {reason}", settings.url), adapter="webhook"
        ) from None
