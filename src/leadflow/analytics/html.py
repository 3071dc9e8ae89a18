"""A self-contained HTML page for the feedback report: inline CSS, inline SVG charts, no script.

Scope: :func:`render_html` draws a :class:`~leadflow.analytics.report.FeedbackReport` as one HTML
document that needs nothing else — no CDN, no web font, no JavaScript, no network (a Content
Security Policy forbids every external load) — opens in any browser and prints cleanly (an
``@media print`` sheet, charts kept whole on a page). The charts are drawn here, in a few small
functions that turn rows into SVG shapes:

* the **funnel**: leads reaching each stage, with the stage-to-stage conversion;
* **reasons by source**: each source's rejections split by reject code (100 % bars);
* **SLA adherence over time**: met / breached / pending per period, adherence on top;
* the **response-time decay curve**: observed conversion per delay bucket (dots) and the fitted
  exponential with its half-life;
* **conversion by score band**, when scores were given.

Every number on the page is a field of a row of the report (or a count of its rows), and each chart
is followed by the table it was drawn from.

>>> from datetime import datetime, timezone
>>> from leadflow.analytics.report import build_report
>>> from leadflow.model import Lead
>>> now = datetime(2026, 3, 31, tzinfo=timezone.utc)
>>> page = render_html(build_report(leads=[Lead(id="L-1", created_at=now)], now=now))
>>> page.startswith("<!DOCTYPE html>"), "http" in page.split("<body", 1)[1]
(True, False)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from html import escape

from leadflow.analytics.closed_loop import ClosedLoopRow
from leadflow.analytics.funnel import ConversionRow
from leadflow.analytics.meeting import PipelineRow, RejectionRate, TrendRow
from leadflow.analytics.rejections import RejectionCount
from leadflow.analytics.report import FeedbackReport
from leadflow.analytics.response import DecayPoint, DelayBucket, HalfLife
from leadflow.analytics.sla_report import SLAAdherence
from leadflow.analytics.validity import ScoreBand

__all__ = ["PALETTE", "render_html"]

#: Colours of the charts, in order (reject codes take them in order of first appearance).
PALETTE = (
    "#2563eb",
    "#dc2626",
    "#16a34a",
    "#d97706",
    "#7c3aed",
    "#0891b2",
    "#db2777",
    "#65a30d",
    "#ea580c",
    "#4f46e5",
    "#0d9488",
    "#b91c1c",
    "#a16207",
    "#475569",
)
_MET, _BREACHED, _PENDING = "#16a34a", "#dc2626", "#94a3b8"
_FUNNEL = "#2563eb"
_CURVE = "#7c3aed"
_FONT = "font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif"

_CSS = """
:root { --ink:#0f172a; --muted:#64748b; --line:#e2e8f0; --bg:#f8fafc; }
* { box-sizing:border-box; }
body { margin:0; color:var(--ink); background:var(--bg);
       font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif; }
header { background:#0f172a; color:#f8fafc; padding:20px 32px; }
header h1 { margin:0 0 4px; font-size:22px; }
header p { margin:0; color:#cbd5e1; }
main { max-width:1100px; margin:0 auto; padding:20px 32px 40px; }
.kpis { display:flex; flex-wrap:wrap; gap:12px; margin:0 0 16px; }
.kpi { flex:1 1 150px; background:#fff; border:1px solid var(--line); border-radius:8px;
       padding:10px 14px; }
.kpi b { display:block; font-size:22px; }
.kpi span { color:var(--muted); font-size:12px; }
section { background:#fff; border:1px solid var(--line); border-radius:8px; padding:16px 20px;
          margin:0 0 16px; }
section h2 { margin:0 0 4px; font-size:17px; }
section p.how { margin:0 0 10px; color:var(--muted); font-size:12.5px; }
svg.chart { display:block; width:100%; height:auto; max-width:980px; margin:6px 0 10px; }
table { border-collapse:collapse; width:100%; font-size:12.5px; margin:6px 0 0; }
th, td { text-align:right; padding:3px 8px; border-bottom:1px solid var(--line); }
th:first-child, td:first-child, th.l, td.l { text-align:left; }
th { color:var(--muted); font-weight:600; }
details summary { cursor:pointer; color:var(--muted); font-size:12.5px; }
.note { color:#92400e; background:#fffbeb; border:1px solid #fde68a; border-radius:6px;
        padding:6px 10px; margin:6px 0; }
.suggest { border-left:4px solid #d97706; padding-left:10px; }
footer { color:var(--muted); font-size:12px; text-align:center; padding:0 0 24px; }
@media print {
  @page { size:A4; margin:12mm; }
  body { background:#fff; font-size:10.5pt; }
  header { background:#fff; color:#000; padding:0 0 8px; border-bottom:2px solid #000; }
  header p { color:#333; }
  main { max-width:none; padding:8px 0 0; }
  section, .kpi { border-color:#999; break-inside:avoid; page-break-inside:avoid; }
  details { display:block; }
  details > summary { display:none; }
  details > * { display:block; }
  svg.chart { max-width:100%; }
}
"""

_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


# -- formatting ----------------------------------------------------------------------------------


def _pct(x: float | None) -> str:
    return "\u2013" if x is None else f"{x * 100:.1f}%"


def _num(x: float | None, digits: int = 1) -> str:
    if x is None:
        return "\u2013"
    if isinstance(x, int) or float(x).is_integer():
        return f"{int(x):,}"
    return f"{x:,.{digits}f}"


def _interval(low: float | None, high: float | None) -> str:
    if high is None:
        return f"over {_num(low)} h, no upper bound"
    return f"{_num(low)}\u2013{_num(high)} h"


def _nice_step(top: float) -> float:
    """A round tick step (1, 2 or 5 times a power of ten) giving at most five steps up to *top*."""
    power = 10.0 ** math.floor(math.log10(max(top, 1)))
    for factor in (0.1, 0.2, 0.5, 1, 2, 5, 10):
        if top / (factor * power) <= 5:
            return max(factor * power, 1)
    return 10 * power


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _table(headers: Sequence[str], rows: Iterable[Sequence[object]], *, left: int = 1) -> str:
    head = "".join(
        f'<th class="l">{_e(h)}</th>' if i < left else f"<th>{_e(h)}</th>"
        for i, h in enumerate(headers)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="l">{_e(c)}</td>' if i < left else f"<td>{_e(c)}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _svg(chart_id: str, width: int, height: int, label: str, body: str) -> str:
    return (
        f'<svg class="chart" id="chart-{chart_id}" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{_e(label)}" style="{_FONT}">{body}</svg>'
    )


def _text(
    x: float,
    y: float,
    text: object,
    *,
    size: int = 12,
    anchor: str = "start",
    fill: str = "#0f172a",
    weight: str = "normal",
) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
        f'fill="{fill}" font-weight="{weight}">{_e(text)}</text>'
    )


def _rect(x: float, y: float, w: float, h: float, fill: str, *, title: str = "") -> str:
    tip = f"<title>{_e(title)}</title>" if title else ""
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" height="{max(h, 0):.1f}" '
        f'fill="{fill}">{tip}</rect>'
    )


def _empty(chart_id: str, message: str) -> str:
    return _svg(
        chart_id, 980, 60, message, _text(490, 36, message, anchor="middle", fill="#64748b")
    )


# -- charts --------------------------------------------------------------------------------------


def _funnel_chart(conversion: Sequence[ConversionRow]) -> str:
    """Centred bars, one per stage of the path, width ∝ leads that reached it."""
    if not conversion:
        return _empty("funnel", "No funnel data")
    stages: list[tuple[str, int, float | None]] = [
        (r.from_stage, r.reached_from, conversion[i - 1].rate if i else None)
        for i, r in enumerate(conversion)
    ]
    stages.append((conversion[-1].to_stage, conversion[-1].reached_to, conversion[-1].rate))
    top = max((c for _, c, _ in stages), default=0) or 1
    width, row, x0, bar_w = 980, 44, 150, 600
    parts = []
    for i, (stage, count, rate) in enumerate(stages):
        y = 10 + i * row
        w = max(bar_w * count / top, 2)
        parts.append(_text(x0 - 12, y + 24, stage, anchor="end", size=13, weight="600"))
        parts.append(
            _rect(x0 + (bar_w - w) / 2, y, w, row - 10, _FUNNEL, title=f"{stage}: {count}")
        )
        if w >= 60:
            parts.append(
                _text(x0 + bar_w / 2, y + 23, _num(count), anchor="middle", fill="#fff", size=13)
            )
        else:
            parts.append(_text(x0 + (bar_w + w) / 2 + 6, y + 23, _num(count), size=13))
        if rate is not None:
            parts.append(
                _text(x0 + bar_w + 16, y + 23, f"{_pct(rate)} of previous", fill="#475569")
            )
    return _svg(
        "funnel", width, 20 + len(stages) * row, "Funnel: leads reaching each stage", "".join(parts)
    )


def _reasons_chart(counts: Sequence[RejectionCount]) -> str:
    """One 100 % bar per source, split by reject code; legend below."""
    if not counts:
        return _empty("reasons", "No rejections recorded")
    totals: dict[str, int] = {}
    codes: list[str] = []
    for r in counts:
        totals[r.source or ""] = totals.get(r.source or "", 0) + r.count
        if r.code and r.code not in codes:
            codes.append(r.code)
    codes.sort(key=lambda c: -sum(r.count for r in counts if r.code == c))
    colour = {c: PALETTE[i % len(PALETTE)] for i, c in enumerate(codes)}
    sources = sorted(totals, key=lambda s: (-totals[s], s))
    width, row, x0, bar_w = 980, 30, 150, 700
    parts = []
    for i, source in enumerate(sources):
        y = 8 + i * row
        parts.append(_text(x0 - 10, y + 16, source, anchor="end", weight="600"))
        x = float(x0)
        for code in codes:
            cell = next((r for r in counts if r.source == source and r.code == code), None)
            if cell is None or not cell.share:
                continue
            w = bar_w * cell.share
            parts.append(
                _rect(
                    x,
                    y,
                    w,
                    row - 8,
                    colour[code],
                    title=f"{source} \u00b7 {code}: {cell.count} ({_pct(cell.share)})",
                )
            )
            if w > 34:
                parts.append(
                    _text(
                        x + w / 2, y + 16, _pct(cell.share), anchor="middle", fill="#fff", size=10
                    )
                )
            x += w
        parts.append(_text(x0 + bar_w + 10, y + 16, f"n = {_num(totals[source])}", fill="#475569"))
    legend_y = 8 + len(sources) * row + 12
    per_line = 4
    for i, code in enumerate(codes):
        lx = x0 + (i % per_line) * 180
        ly = legend_y + (i // per_line) * 20
        parts.append(_rect(lx, ly, 12, 12, colour[code]))
        parts.append(_text(lx + 17, ly + 10, code, size=11))
    height = legend_y + math.ceil(len(codes) / per_line) * 20 + 6
    return _svg("reasons", width, height, "Reject reasons by source", "".join(parts))


def _sla_chart(by_period: Sequence[SLAAdherence]) -> str:
    """Stacked columns met / breached / pending per period, adherence above each column."""
    if not by_period:
        return _empty("sla", "No SLA results given")
    width, height, x0, y0, plot_h = 980, 300, 60, 30, 210
    most = max(r.met + r.breached + r.pending for r in by_period) or 1
    tick_step = _nice_step(most)
    ticks = math.ceil(most / tick_step)
    top = ticks * tick_step
    slot = (width - x0 - 20) / len(by_period)
    bar = min(slot * 0.6, 60)
    parts = [
        f'<line x1="{x0}" y1="{y0 + plot_h}" x2="{width - 20}" y2="{y0 + plot_h}" stroke="#94a3b8"/>'
    ]
    for tick in range(ticks + 1):
        value = tick * tick_step
        y = y0 + plot_h - plot_h * value / top
        parts.append(
            _text(x0 - 8, y + 4, _num(round(value)), anchor="end", size=10, fill="#64748b")
        )
        parts.append(
            f'<line x1="{x0}" y1="{y:.1f}" x2="{width - 20}" y2="{y:.1f}" stroke="#e2e8f0"/>'
        )
    for i, r in enumerate(by_period):
        cx = x0 + slot * (i + 0.5)
        y = y0 + plot_h
        for n, colour, name in (
            (r.met, _MET, "met"),
            (r.breached, _BREACHED, "breached"),
            (r.pending, _PENDING, "pending"),
        ):
            h = plot_h * n / top
            y -= h
            parts.append(_rect(cx - bar / 2, y, bar, h, colour, title=f"{r.key} {name}: {n}"))
        parts.append(_text(cx, y - 6, _pct(r.adherence), anchor="middle", size=11, weight="600"))
        parts.append(_text(cx, y0 + plot_h + 16, r.key, anchor="middle", size=11))
    for j, (colour, name) in enumerate(
        ((_MET, "met"), (_BREACHED, "breached"), (_PENDING, "pending"))
    ):
        parts.append(_rect(x0 + j * 110, height - 22, 12, 12, colour))
        parts.append(_text(x0 + j * 110 + 17, height - 12, name, size=11))
    return _svg("sla", width, height, "SLA adherence over time", "".join(parts))


def _decay_chart(
    observed: Sequence[DelayBucket], curve: Sequence[DecayPoint], fit: HalfLife | None
) -> str:
    """Observed conversion per delay bucket (dots, area ∝ leads) and the fitted curve."""
    points = [
        b for b in observed if b.lower_hours is not None and b.upper_hours is not None and b.leads
    ]
    if not points and not curve:
        return _empty("decay", "No answered leads to plot")
    width, height, x0, y0, plot_w, plot_h = 980, 320, 60, 20, 880, 250
    max_x = max([p.hours for p in curve] + [b.upper_hours or 0 for b in points] + [1.0])
    top = max([p.rate for p in curve] + [b.rate or 0 for b in points] + [0.01]) * 1.1
    tick_step = next(t for t in (0.01, 0.02, 0.05, 0.1, 0.2, 0.25) if top / t <= 6)
    ticks = math.ceil(top / tick_step)
    max_y = ticks * tick_step

    def sx(h: float) -> float:
        return x0 + plot_w * h / max_x

    def sy(r: float) -> float:
        return y0 + plot_h - plot_h * r / max_y

    parts = []
    for tick in range(ticks + 1):
        r = tick_step * tick
        parts.append(
            f'<line x1="{x0}" y1="{sy(r):.1f}" x2="{x0 + plot_w}" y2="{sy(r):.1f}" stroke="#e2e8f0"/>'
        )
        parts.append(_text(x0 - 8, sy(r) + 4, _pct(r), anchor="end", size=10, fill="#64748b"))
    step = 12 if max_x <= 96 else 24
    h = 0.0
    while h <= max_x + 1e-9:
        parts.append(
            _text(sx(h), y0 + plot_h + 16, f"{h:g}h", anchor="middle", size=10, fill="#64748b")
        )
        h += step
    parts.append(
        f'<line x1="{x0}" y1="{y0 + plot_h}" x2="{x0 + plot_w}" y2="{y0 + plot_h}" stroke="#94a3b8"/>'
    )
    if curve:
        path = " ".join(
            f"{'M' if i == 0 else 'L'}{sx(p.hours):.1f},{sy(p.rate):.1f}"
            for i, p in enumerate(curve)
        )
        parts.append(f'<path d="{path}" fill="none" stroke="{_CURVE}" stroke-width="2.5"/>')
    if fit is not None and fit.half_life_hours is not None and fit.half_life_hours <= max_x:
        hx = sx(fit.half_life_hours)
        parts.append(
            f'<line x1="{hx:.1f}" y1="{y0}" x2="{hx:.1f}" y2="{y0 + plot_h}" stroke="{_CURVE}" stroke-dasharray="5 4"/>'
        )
        parts.append(
            _text(
                hx + 6,
                y0 + 14,
                f"half-life {_num(fit.half_life_hours)} h",
                fill=_CURVE,
                size=12,
                weight="600",
            )
        )
    biggest = max((b.leads for b in points), default=1)
    for b in points:
        mid = ((b.lower_hours or 0) + (b.upper_hours or 0)) / 2
        radius = 3 + 6 * math.sqrt(b.leads / biggest)
        parts.append(
            f'<circle cx="{sx(mid):.1f}" cy="{sy(b.rate or 0):.1f}" r="{radius:.1f}" fill="{_FUNNEL}" '
            f'fill-opacity="0.75"><title>{_e(b.bucket)}: {_pct(b.rate)} of {b.leads}</title></circle>'
        )
    parts.append(
        _text(
            x0 + plot_w,
            height - 6,
            f"{fit.clock if fit is not None else 'hours'} from hand-off to first touch",
            anchor="end",
            size=11,
            fill="#64748b",
        )
    )
    return _svg(
        "decay",
        width,
        height,
        "Conversion by first-response delay, with the fitted decay",
        "".join(parts),
    )


def _score_chart(bands: Sequence[ScoreBand]) -> str:
    """Columns of conversion rate per score band."""
    if not bands:
        return _empty("score", "No scores given")
    width, height, x0, y0, plot_h = 980, 240, 60, 24, 170
    top = max((b.rate or 0) for b in bands) * 1.15 or 1
    slot = (width - x0 - 20) / len(bands)
    parts = [
        f'<line x1="{x0}" y1="{y0 + plot_h}" x2="{width - 20}" y2="{y0 + plot_h}" stroke="#94a3b8"/>'
    ]
    for i, b in enumerate(bands):
        cx = x0 + slot * (i + 0.5)
        h = plot_h * (b.rate or 0) / top
        parts.append(
            _rect(cx - 30, y0 + plot_h - h, 60, h, PALETTE[4], title=f"{b.band}: {_pct(b.rate)}")
        )
        parts.append(
            _text(cx, y0 + plot_h - h - 6, _pct(b.rate), anchor="middle", size=11, weight="600")
        )
        parts.append(_text(cx, y0 + plot_h + 16, f"score {b.band}", anchor="middle", size=11))
        parts.append(
            _text(
                cx,
                y0 + plot_h + 32,
                f"n = {_num(b.leads)}",
                anchor="middle",
                size=10,
                fill="#64748b",
            )
        )
    return _svg("score", width, height, "Conversion by score band", "".join(parts))


def _trend_chart(rows: Sequence[TrendRow]) -> str:
    """Per period: hand-offs as columns, rejection rate and SLA adherence as lines (0-100%)."""
    if len(rows) < 2:
        return _empty("trends", "Trends need at least two periods")
    width, height, x0, y0, plot_h = 980, 260, 60, 30, 170
    slot = (width - x0 - 60) / len(rows)
    top = max(r.handed_off for r in rows) * 1.15 or 1
    parts = [
        f'<line x1="{x0}" y1="{y0 + plot_h}" x2="{width - 60}" y2="{y0 + plot_h}" stroke="#94a3b8"/>'
    ]
    for i, r in enumerate(rows):
        cx = x0 + slot * (i + 0.5)
        h = plot_h * r.handed_off / top
        parts.append(
            _rect(cx - slot * 0.3, y0 + plot_h - h, slot * 0.6, h, "#cbd5e1",
                  title=f"{r.period}: {r.handed_off} handed off")
        )  # fmt: skip
        parts.append(_text(cx, y0 + plot_h + 16, r.period, anchor="middle", size=10))
    for field, colour in (("rejection_rate", PALETTE[1]), ("sla_adherence", PALETTE[2])):
        points = [
            (x0 + slot * (i + 0.5), y0 + plot_h * (1 - value))
            for i, r in enumerate(rows)
            if (value := getattr(r, field)) is not None
        ]
        if len(points) >= 2:
            path = " ".join(
                f"{'M' if j == 0 else 'L'}{x:.1f},{y:.1f}" for j, (x, y) in enumerate(points)
            )
            parts.append(f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="2.5"/>')
        for x, y in points:
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{colour}"/>')
    parts.append(_text(width - 56, y0 + 12, "rejection rate", size=11, fill=PALETTE[1]))
    parts.append(_text(width - 56, y0 + 28, "SLA adherence", size=11, fill=PALETTE[2]))
    parts.append(_text(width - 56, y0 + 44, "hand-offs", size=11, fill="#64748b"))
    return _svg(
        "trends",
        width,
        height,
        "Hand-offs, rejection rate and SLA adherence per period",
        "".join(parts),
    )


def _rate_table(rows: Sequence[RejectionRate], name: str) -> str:
    return _table(
        [name, "handed off", "rejected", "rejection rate", "SLA met", "SLA breached", "adherence"],
        [
            (
                r.key,
                _num(r.handed_off),
                _num(r.rejected),
                _pct(r.rate),
                _num(r.sla_met),
                _num(r.sla_breached),
                _pct(r.sla_adherence),
            )
            for r in rows
        ],
    )


def _pipeline_table(rows: Sequence[PipelineRow], name: str) -> str:
    return _table(
        [name, "leads", "opportunities", "won", "revenue won", "lost", "lost to competitor"],
        [
            (
                r.key,
                _num(r.leads),
                _num(r.opportunities),
                _num(r.won),
                r.revenue_won or "-",
                _num(r.lost),
                _num(r.lost_to_competitor),
            )
            for r in rows
        ],
    )


def _meeting(report: FeedbackReport) -> str:
    shown = report.reengage_due[:25]
    due = (
        _table(
            ["lead", "reject code", "rejected", "re-engage from", "owner", "source"],
            [
                (
                    r.lead_id,
                    r.code,
                    r.rejected_at.date().isoformat(),
                    r.reengage_at.date().isoformat(),
                    r.owner,
                    r.source,
                )
                for r in shown
            ],
            left=2,
        )
        + (
            f'<p class="how">and {len(report.reengage_due) - len(shown)} more (CSV/JSON has all)</p>'
            if len(report.reengage_due) > len(shown)
            else ""
        )
        if report.reengage_due
        else '<p class="how">No recycled lead is due to re-engage.</p>'
    )
    return (
        _trend_chart(report.trends)
        + "<h3>Rejection rate and SLA adherence by source</h3>"
        + _rate_table(report.rejection_rate_by_source, "source")
        + "<h3>By rep</h3>"
        + _rate_table(report.rejection_rate_by_owner, "owner")
        + "<h3>Pipeline and revenue by source</h3>"
        + _pipeline_table(report.pipeline_by_source, "source")
        + "<details><summary>By campaign</summary>"
        + _pipeline_table(report.pipeline_by_campaign, "campaign")
        + "</details>"
        + f"<h3>Nurtured leads due to re-engage now ({len(report.reengage_due)})</h3>"
        + due
    )


# -- page ----------------------------------------------------------------------------------------


def _section(title: str, how: str, body: str, anchor: str) -> str:
    return (
        f'<section id="{anchor}"><h2>{_e(title)}</h2><p class="how">{_e(how)}</p>{body}</section>'
    )


def _closed_loop_table(rows: Sequence[ClosedLoopRow], first: str = "reject code") -> str:
    return _table(
        [
            first,
            "rejected",
            "won (us)",
            "our pipeline",
            "bought elsewhere",
            "buying elsewhere",
            "expects to buy",
            "re-engaged",
            "no decision",
            "not in market",
            "nothing yet",
            "bought or buying",
            "revenue to others",
        ],
        [
            (
                (r.code if first == "reject code" else r.source) or "-",
                _num(r.rejected),
                _num(r.won),
                _num(r.opportunity),
                _num(r.competitor),
                _num(r.evaluating_others),
                _num(r.expects_to_buy),
                _num(r.reengaged),
                _num(r.no_decision),
                _num(r.not_in_market),
                _num(r.nothing_yet),
                f"{_num(r.real_buyers)} ({_pct(r.real_buyer_share)})",
                (r.revenue_lost or "-")
                + (f" (+{r.revenue_lost_unknown} unknown)" if r.revenue_lost_unknown else ""),
            )
            for r in rows
        ],
    )


def _sla_table(rows: Sequence[SLAAdherence], name: str) -> str:
    return _table(
        [name, "met", "breached", "pending", "share met", "adherence", "median h", "p90 h"],
        [
            (
                r.key,
                _num(r.met),
                _num(r.breached),
                _num(r.pending),
                _pct(r.share_met),
                _pct(r.adherence),
                _num(r.median_hours),
                _num(r.p90_hours),
            )
            for r in rows
        ],
    )


def _adjusted_kpi(report: FeedbackReport) -> list[tuple[str, str]]:
    adj = report.half_life_adjusted
    if adj is None:
        return []
    value = f"{_num(adj.half_life_hours)} h" if adj.half_life_hours is not None else "no decay"
    return [
        (
            value,
            f"half-life adjusted for {', '.join(adj.adjusted_for)} in {adj.clock} "
            f"({adj.confidence:.0%} CI {_interval(adj.ci_low_hours, adj.ci_high_hours)})",
        )
    ]


def _adjusted_sentence(report: FeedbackReport) -> str:
    adj, cmp_ = report.half_life_adjusted, report.half_life_comparison
    if adj is None or cmp_ is None:
        return ""
    verdict = (
        " They disagree beyond their intervals: the pooled figure is confounded; read the adjusted one."
        if cmp_.disagree
        else " They agree within their intervals."
    )
    hl = f"{_num(adj.half_life_hours)} h" if adj.half_life_hours is not None else "no decay"
    return (
        f" Adjusted for {', '.join(adj.adjusted_for)} (shared decay, a baseline per each of "
        f"{adj.strata} strata): {hl}.{verdict}"
    )


def _too_rare(report: FeedbackReport) -> str:
    rare = [s for s in report.point_suggestions if s.status.startswith("too rare")]
    if not rare:
        return ""
    items = ", ".join(f"{s.rule} (fired for {s.fired})" for s in rare)
    return f'<p class="how">Too rare to judge: {_e(items)}.</p>'


def _segment_table(report: FeedbackReport) -> str:
    if not report.validity_by_segment:
        return ""
    return (
        "<h3>Within segments</h3>"
        '<p class="how">AUC: the chance that a converted lead outscored one that did not (0.5 is a coin toss). A score valid pooled can be flat in a segment, and one that looks useless pooled can predict within every segment (Simpson\u2019s paradox).</p>'
        + _table(
            [
                "segment",
                "value",
                "leads",
                "converted",
                "AUC",
                "bands rise",
                "conversion by band",
                "warning",
            ],
            [
                (
                    r.segment,
                    r.value,
                    _num(r.leads),
                    _num(r.converted),
                    _num(r.auc, 2),
                    "-" if r.rising is None else ("yes" if r.rising else "no"),
                    r.rates,
                    r.warning or "",
                )
                for r in report.validity_by_segment
            ],
            left=2,
        )
    )


def render_html(report: FeedbackReport) -> str:
    """The report as one self-contained HTML document (UTF-8 text)."""
    fit = report.half_life
    all_other = next((r for r in report.other_share if r.source == "(all)"), None)
    kpis = [
        (_num(report.leads), "leads in the report"),
        (_num(report.rejections_total), "rejections"),
        (_pct(all_other.share) if all_other else "\u2013", "rejections coded only “other”"),
        (
            f"{_num(fit.half_life_hours)} h"
            if fit and fit.half_life_hours is not None
            else "\u2013",
            (
                f"lead half-life in {fit.clock} ({fit.confidence:.0%} CI {_interval(fit.ci_low_hours, fit.ci_high_hours)})"
                if fit
                else "lead half-life"
            ),
        ),
        *_adjusted_kpi(report),
        (_num(len(report.stuck)), f"leads stuck over {_num(report.stuck_after_hours)} h"),
    ]
    head = report.closed_loop_headline
    if head is not None:
        kpis.insert(
            2,
            (
                _pct(head.buying_share),
                f"of rejected leads bought or are buying within {head.window_months} months "
                f"({_pct(head.from_competitor_share)} from a competitor, "
                f"{_pct(head.from_us_share)} from us)",
            ),
        )
    kpi_html = (
        '<div class="kpis">'
        + "".join(f'<div class="kpi"><b>{_e(v)}</b><span>{_e(k)}</span></div>' for v, k in kpis)
        + "</div>"
        + (f'<p class="headline">{_e(head.sentence)}</p>' if head is not None else "")
    )
    notes = "".join(f'<p class="note">{_e(n)}</p>' for n in report.notes)
    sections = [
        _section(
            "Funnel",
            "Leads that ever reached each stage of the path; the percentage is conversion from the previous stage (leads that reached both / leads that reached the previous one).",
            _funnel_chart(report.conversion)
            + _table(
                ["from", "to", "reached from", "reached both", "conversion"],
                [
                    (
                        r.from_stage,
                        r.to_stage,
                        _num(r.reached_from),
                        _num(r.reached_to),
                        _pct(r.rate),
                    )
                    for r in report.conversion
                ],
                left=2,
            )
            + "<details><summary>Time in stage (completed visits)</summary>"
            + _table(
                ["stage", "visits", "median h", "p90 h"],
                [
                    (r.stage, _num(r.visits), _num(r.median_hours), _num(r.p90_hours))
                    for r in report.time_in_stage
                ],
            )
            + "</details>"
            + "<details><summary>Cohorts by hand-off period</summary>"
            + _table(
                ["cohort", "stage", "handed off", "reached", "share"],
                [
                    (r.cohort, r.stage, _num(r.handed_off), _num(r.reached), _pct(r.share))
                    for r in report.cohorts
                ],
                left=2,
            )
            + "</details>"
            + "<details><summary>Entries per stage and period</summary>"
            + _table(
                ["period", "stage", "entries"],
                [(r.period, r.stage, _num(r.entries)) for r in report.stage_entries],
                left=2,
            )
            + "</details>",
            "funnel",
        ),
        _section(
            "Why leads are rejected, by source",
            "Share of each source's rejections per reject code; n is the source's rejections.",
            _reasons_chart(report.rejections)
            + _table(
                ["source", "rank", "top reason", "rejections", "share"],
                [
                    (r.source, r.rank, r.label, _num(r.count), _pct(r.share))
                    for r in report.top_reasons
                ],
                left=3,
            )
            + "<details><summary>By period, by owner, by campaign</summary>"
            + _table(
                ["period", "rejections", "share of all"],
                [(r.period, _num(r.count), _pct(r.share)) for r in report.rejections_by_period],
            )
            + _table(
                ["owner (who rejected)", "rejections", "share of all"],
                [(r.owner, _num(r.count), _pct(r.share)) for r in report.rejections_by_owner],
            )
            + _table(
                ["campaign", "reject code", "rejections", "share of campaign"],
                [
                    (r.campaign, r.code, _num(r.count), _pct(r.share))
                    for r in report.rejections_by_campaign
                ],
                left=2,
            )
            + "</details>"
            + _table(
                ["source", "rejections", "only “other”", "share"],
                [
                    (r.source, _num(r.rejections), _num(r.other), _pct(r.share))
                    for r in report.other_share
                ],
            ),
            "reasons",
        ),
        _section(
            "What became of rejected leads",
            "For each rejection, the furthest the lead got afterwards (won > bought from a competitor > opportunity > re-engaged > no decision > nothing yet). Real buyers = won + competitor + opportunity.",
            _closed_loop_table(report.closed_loop)
            + _closed_loop_table(report.closed_loop_by_source, first="source"),
            "closed-loop",
        ),
        _section(
            "SLA adherence",
            "Share met = met / (met + breached + pending), of all judged steps; adherence = met / (met + breached), of the decided steps (pending steps may still be met). Response hours are business hours to the closing action.",
            _sla_chart(report.sla_by_period)
            + _sla_table(report.sla_by_step, "policy step")
            + "<details><summary>By owner, team and source</summary>"
            + _sla_table(report.sla_by_owner, "owner")
            + _sla_table(report.sla_by_team, "team")
            + _sla_table(report.sla_by_source, "source")
            + "</details>",
            "sla",
        ),
        _section(
            "The monthly meeting",
            "Rejection rate = leads sales rejected / leads handed off (a count alone rewards whoever got fewer leads), beside the SLA adherence of the same source or rep, so \u201cthe leads are rubbish\u201d and \u201cnobody called them\u201d are read together.",
            _meeting(report),
            "meeting",
        ),
        _section(
            "Response time vs conversion",
            (
                f"Conversion by hours ({fit.clock}) from hand-off to first touch. Curve: {fit.initial_rate:.1%} \u00d7 2^(\u2212hours / {_num(fit.half_life_hours)} h), fitted by "
                f"{fit.method} over {fit.leads:,} answered leads." + _adjusted_sentence(report)
                if fit and fit.half_life_hours is not None
                else "Conversion by hours from hand-off to first touch."
            ),
            _decay_chart(report.decay_observed, report.decay_curve, fit)
            + _table(
                ["first response", "leads", "converted", "conversion"],
                [
                    (b.bucket, _num(b.leads), _num(b.converted), _pct(b.rate))
                    for b in report.delay_buckets
                ],
            ),
            "response",
        ),
    ]
    if report.score_bands:
        suggestion = ""
        if report.point_suggestions:
            suggestion = (
                '<div class="suggest"><h3>Suggested point changes (a suggestion, not a fit to apply blindly)</h3>'
                '<p class="how">Per rule: lift = logit(win rate when the rule fired) \u2212 logit(win rate when it did not), each smoothed by +0.5; '
                "points per log-odd = slope of a logistic regression of win on total score; suggested points = lift / slope. "
                "Marginal lifts: rules that fire together share credit. Rules that fired (or did not fire) for fewer than 20 closed leads are too rare to judge and are listed below the table without a number.</p>"
                + _table(
                    [
                        "rule",
                        "current",
                        "fired (won)",
                        "not fired (won)",
                        "lift (log-odds)",
                        "suggested",
                        "change",
                        "status",
                    ],
                    [
                        (
                            s.rule,
                            _num(s.current_points),
                            f"{s.fired} ({s.fired_won})",
                            f"{s.not_fired} ({s.not_fired_won})",
                            _num(s.lift_log_odds, 3),
                            _num(s.suggested_points),
                            _num(s.change),
                            s.status,
                        )
                        for s in report.point_suggestions
                        if not s.status.startswith("too rare")
                    ],
                )
                + _too_rare(report)
                + "</div>"
            )
        sections.append(
            _section(
                "Does the score predict conversion?",
                "Conversion rate per score band; a useful scorecard shows rates rising band by band.",
                _score_chart(report.score_bands)
                + _table(
                    ["band", "leads", "converted", "conversion"],
                    [
                        (b.band, _num(b.leads), _num(b.converted), _pct(b.rate))
                        for b in report.score_bands
                    ],
                )
                + _segment_table(report)
                + suggestion,
                "score",
            )
        )
    if report.stuck:
        shown = report.stuck[:25]
        sections.append(
            _section(
                "Stuck leads",
                f"Leads whose current stage has lasted over {_num(report.stuck_after_hours)} h; longest first"
                + (
                    f" (first {len(shown)} of {len(report.stuck)})."
                    if len(report.stuck) > len(shown)
                    else "."
                ),
                _table(
                    ["lead", "stage", "since", "hours", "owner", "source"],
                    [
                        (
                            r.lead_id,
                            r.stage,
                            r.since.isoformat(timespec="minutes"),
                            _num(r.hours),
                            r.owner,
                            r.source,
                        )
                        for r in shown
                    ],
                    left=3,
                ),
                "stuck",
            )
        )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(report.title)}</title><style>{_CSS}</style></head>"
        f"<body><header><h1>{_e(report.title)}</h1>"
        f"<p>As of {_e(report.now.isoformat(timespec='minutes'))} · periods: {_e(report.period)}</p></header>"
        f"<main>{kpi_html}{notes}{''.join(sections)}</main>"
        "<footer>Generated by leadflow — every figure is a row of leadflow.analytics.build_report().</footer>"
        "</body></html>\n"
    )
