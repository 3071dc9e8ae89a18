"""The HTML report opened in headless Chromium: it renders its charts, logs nothing, prints."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from leadflow.analytics import build_report, render_html
from leadflow.analytics.html import PALETTE

from .browser import chromium_missing, colour_counts, read_png, run
from .planted import generate

pytestmark = pytest.mark.skipif(chromium_missing() is not None, reason=str(chromium_missing()))


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = generate(3000, seed=11)
    report = build_report(
        leads=data.leads,
        touches=data.touches,
        outcomes=data.outcomes,
        sla_results=data.sla,
        now=data.now,
        scores={lead.id: float(int(lead.id[2:]) % 100) for lead in data.leads},
    )
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(render_html(report), encoding="utf-8")
    return path


def test_the_page_renders_its_charts_without_console_messages(page: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    _, console = run(page, tmp_path / "profile", "--window-size=1200,3200", f"--screenshot={shot}")
    assert console == []
    width, height, rows = read_png(shot)
    assert (width, height) == (1200, 3200)
    counts = colour_counts(
        rows,
        {
            "funnel bars": "#2563eb",
            "SLA met": "#16a34a",
            "SLA breached": "#dc2626",
            "decay curve": "#7c3aed",
            "reason: 4th code": PALETTE[3],
        },
    )
    # Each chart paints its own colour over a visible area (a bar is thousands of pixels).
    assert all(n > 300 for n in counts.values()), counts


def test_the_dom_holds_every_chart_with_shapes(page: Path, tmp_path: Path) -> None:
    dom, console = run(page, tmp_path / "profile", "--dump-dom")
    assert console == []
    for chart in ("funnel", "reasons", "sla", "decay", "score", "trends"):
        match = re.search(rf'<svg[^>]*id="chart-{chart}".*?</svg>', dom, re.S)
        assert match is not None, chart
        assert len(re.findall(r"<(rect|path|circle)\b", match.group(0))) >= 5, chart


def test_the_page_prints_to_pdf(page: Path, tmp_path: Path) -> None:
    pdf = tmp_path / "report.pdf"
    _, console = run(page, tmp_path / "profile", "--no-pdf-header-footer", f"--print-to-pdf={pdf}")
    assert console == []
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF")
    pages = len(re.findall(rb"/Type\s*/Page[^s]", data))
    assert 2 <= pages <= 12, pages


def test_the_console_check_catches_errors_and_network_loads(tmp_path: Path) -> None:
    # The check above must be able to fail: a page with a script error and an external image.
    bad = tmp_path / "bad.html"
    bad.write_text(
        '<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; script-src 'unsafe-inline'\"></head><body>"
        '<img src="http://192.0.2.1/x.png"><script>notDefined();</script></body></html>',
        encoding="utf-8",
    )
    _, console = run(bad, tmp_path / "profile", "--dump-dom")
    assert any("notDefined" in m for m in console), console
    assert any("Content Security Policy" in m for m in console), console
