"""The HTML page without a browser: self-contained, escaped, and drawn from the report's rows."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from leadflow.analytics import build_report, render_html
from leadflow.analytics.html import _num, _pct
from leadflow.lifecycle import transition
from leadflow.model import Lead, Touch
from leadflow.reasons import reject

from .planted import generate

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_user_values_are_escaped_and_nothing_is_loaded() -> None:
    lead = Lead(id="L-1", created_at=T0, source='<img src="http://x/y">', handed_off_at=T0)
    lead = transition(lead, "mql", at=T0)
    lead, _ = reject(lead, "other", at=T0, by="u-<b>", note="n")
    page = render_html(build_report(leads=[lead], now=T0 + timedelta(days=1), title="Q1 & <Q2>"))
    assert '<img src="http://x/y">' not in page
    assert "&lt;img src=&quot;http://x/y&quot;&gt;" in page
    assert "<title>Q1 &amp; &lt;Q2&gt;</title>" in page
    stripped = page.replace("&quot;http://x/y&quot;", "")
    # No CDN, font, script or image address anywhere, and no url() in the CSS.
    assert not re.search(r"https?:|//[a-z]|url\(", stripped)
    assert "<script" not in page
    assert "Content-Security-Policy" in page


def test_every_funnel_and_bucket_number_comes_from_the_rows() -> None:
    data = generate(2000, seed=3)
    report = build_report(
        leads=data.leads, touches=data.touches, outcomes=data.outcomes, now=data.now
    )
    page = render_html(report)
    for row in report.conversion:
        cells = [
            row.from_stage,
            row.to_stage,
            _num(row.reached_from),
            _num(row.reached_to),
            _pct(row.rate),
        ]
        assert re.search(
            r"<tr>" + "".join(rf"<td[^>]*>{re.escape(c)}</td>" for c in cells) + "</tr>", page
        )
    for bucket in report.delay_buckets:
        cells = [bucket.bucket, _num(bucket.leads), _num(bucket.converted), _pct(bucket.rate)]
        assert re.search(
            "".join(
                rf"<td[^>]*>{re.escape(c.replace('<', '&lt;').replace('>', '&gt;'))}</td>"
                for c in cells
            ),
            page,
        )
    fit = report.half_life
    assert fit is not None
    assert f"{_num(fit.half_life_hours)} h</b>" in page


def test_an_unbounded_interval_says_so() -> None:
    leads, touches = [], []
    for i in range(40):
        lead = transition(Lead(id=f"L{i}", created_at=T0, handed_off_at=T0), "mql", at=T0)
        if i % 4 == 0:
            lead = transition(
                transition(lead, "sal", at=T0 + timedelta(hours=1)),
                "sql",
                at=T0 + timedelta(hours=2),
            )
        leads.append(lead)
        touches.append(
            Touch(id=f"T{i}", lead_id=lead.id, kind="call", at=T0 + timedelta(hours=i % 10), by="u")
        )
    report = build_report(leads=leads, touches=touches, now=T0 + timedelta(days=3))
    assert report.half_life is not None and report.half_life.ci_high_hours is None
    assert "no upper bound" in render_html(report)
