"""The feedback loop: reports that tell marketing and sales what happened to the leads.

Scope: pure functions over leads (with their stage histories), rejections, touches, outcomes,
scores and SLA results, one module per report; each returns plain rows — frozen records with a
``to_dict()`` — that :mod:`~leadflow.analytics.export` writes as CSV or JSON and
:mod:`~leadflow.analytics.html` draws as a self-contained HTML page.

* :mod:`~leadflow.analytics.rejections` — why leads are rejected, by code, source, campaign, owner, period;
* :mod:`~leadflow.analytics.funnel` — stage entries, conversion, time in stage, stuck leads, cohorts;
* :mod:`~leadflow.analytics.closed_loop` — what became of rejected and recycled leads;
* :mod:`~leadflow.analytics.response` — conversion by first-response delay, lead half-life;
* :mod:`~leadflow.analytics.validity` — conversion by score band, suggested point changes;
* :mod:`~leadflow.analytics.sla_report` — SLA adherence (met / breached / pending);
* :mod:`~leadflow.analytics.report` — all of them at once (:func:`build_report`);
* :mod:`~leadflow.analytics.export`, :mod:`~leadflow.analytics.html` — CSV, JSON, HTML.

Nothing here does I/O except the ``write_*`` helpers of :mod:`~leadflow.analytics.export`, which
write where they are told. ``import leadflow`` does not import this package.
"""

from leadflow.analytics._common import Period, quantile
from leadflow.analytics.closed_loop import Fate, closed_loop, rejection_fates
from leadflow.analytics.export import rows_to_csv, rows_to_json, write_csv, write_json
from leadflow.analytics.funnel import (
    FUNNEL_PATH,
    cohorts,
    stage_conversion,
    stage_entries,
    stuck_leads,
    time_in_stage_stats,
)
from leadflow.analytics.html import render_html
from leadflow.analytics.rejections import (
    other_share,
    rejection_counts,
    rejections_from_leads,
    top_reasons_by_source,
)
from leadflow.analytics.report import FeedbackReport, build_report
from leadflow.analytics.response import (
    business_hours,
    conversion_by_delay,
    decay_curve,
    estimate_half_life,
    first_responses,
    fit_decay,
)
from leadflow.analytics.sla_report import sla_adherence
from leadflow.analytics.validity import (
    conversion_by_score_band,
    scores_at_handoff,
    suggest_points,
)

__all__ = [
    "FUNNEL_PATH",
    "FeedbackReport",
    "Fate",
    "Period",
    "build_report",
    "business_hours",
    "closed_loop",
    "cohorts",
    "conversion_by_delay",
    "conversion_by_score_band",
    "decay_curve",
    "estimate_half_life",
    "first_responses",
    "fit_decay",
    "other_share",
    "quantile",
    "rejection_counts",
    "rejection_fates",
    "rejections_from_leads",
    "render_html",
    "rows_to_csv",
    "rows_to_json",
    "scores_at_handoff",
    "sla_adherence",
    "stage_conversion",
    "stage_entries",
    "stuck_leads",
    "suggest_points",
    "time_in_stage_stats",
    "top_reasons_by_source",
    "write_csv",
    "write_json",
]
