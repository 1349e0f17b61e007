"""The what-if report (issue 17): one self-contained HTML page of a `Comparison`
(bot/usecases/simulation/result.py), the configuration in force beside a proposed one.

`render_simulation_report(comparison)` writes the standalone file `partnerline simulate --out`
saves: its style inlined, its charts inline SVG drawn here on the server
(bot/http/web/report_chart.py, as the Reports page's), no script and no reference to any URL,
so that it opens from a file, mails as an attachment and prints. The inbox's what-if page
(bot/http/web/simulate_page.py) shows the same body (`_simulation_report.html`, the context
`report_context` builds) inside the inbox, with the same style linked from /static.

Times are written in the agency's zone (`Comparison.zone`), which the report names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from markupsafe import Markup

from bot.http.web.report_chart import grouped_bars_svg, hours_text
from bot.http.web.templating import TEMPLATES
from bot.usecases.simulation.result import Comparison, Outcome, PersonLoad
from routing.plain_time import day_and_time

CSS = (Path(__file__).parent / "static" / "simulation-report.css").read_text(encoding="utf-8")
CURRENT_COLOUR = "#a1a1aa"  # as .swatch.current in the stylesheet
PROPOSED_COLOUR = "#3d7fd9"
# Gaps listed in full; the rest (90 days of nightly gaps is ninety) behind a <details>.
GAPS_SHOWN = 10

# The headline figures, in the order the report lists them: (Outcome.totals() key, label,
# whether more of it is plainly worse). Only breaches are: fewer notifications or nights woken
# may as well mean that pages reach nobody.
HEADLINE: tuple[tuple[str, str, bool], ...] = (
    ("commitments_started", "Commitments started", False),
    ("acknowledgements_sent", "Acknowledge\u00adments sent", False),  # may break there
    ("pages_opened", "Pages opened", False),
    ("notifications_sent", "Page notifications", False),
    ("breaches", "Breaches", True),
    ("nights_woken", "Nights woken", False),
)


@dataclass(frozen=True)
class Figure:
    label: str
    current: int
    proposed: int
    worse_if_more: bool

    @property
    def change(self) -> str:
        return f"{self.proposed - self.current:+d}" if self.proposed != self.current else ""

    @property
    def tone(self) -> str:
        """ "up" (worse), "down" (better) or "" for the change column's colour."""
        if not self.worse_if_more or self.proposed == self.current:
            return ""
        return "up" if self.proposed > self.current else "down"


@dataclass(frozen=True)
class PersonRow:
    staff: str
    name: str
    current: PersonLoad | None
    proposed: PersonLoad | None


def render_simulation_report(
    comparison: Comparison, client_names: Mapping[str, str] | None = None
) -> str:
    """The whole report as one HTML document. `client_names`: client id -> name, to name the
    clients of the coverage gaps and examples (ids alone without it)."""
    return TEMPLATES.env.get_template("simulation_report.html").render(
        r=report_context(comparison, client_names), css=Markup(CSS)
    )


def report_context(
    comparison: Comparison, client_names: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """What `_simulation_report.html` reads, under the name `r`."""
    zone = ZoneInfo(comparison.zone)
    # The years of instants are written only when they are not the period's last year.
    reference = datetime.combine(comparison.period_to, time(12), zone)
    names = dict(client_names or {})
    a, b = comparison.current, comparison.proposed

    def local(t: datetime | None) -> str:
        return "" if t is None else day_and_time(t, zone, reference)

    def client(client_id: str | None) -> str:
        if client_id is None:
            return "unknown sender"
        name = names.get(client_id)
        return f"{name} ({client_id})" if name and name != client_id else client_id

    weeks, current_weeks, proposed_weeks = _weeks(a, b)
    return {
        "c": comparison,
        "local": local,
        "client": client,
        "day": lambda d: f"{d:%a} {d:%b} {d.day}, {d.year}",
        "figures": [
            Figure(label, a.totals()[key], b.totals()[key], worse) for key, label, worse in HEADLINE
        ],
        "pages_chart": grouped_bars_svg(
            weeks,
            [
                ("current", CURRENT_COLOUR, [w.pages for w in current_weeks]),
                ("proposed", PROPOSED_COLOUR, [w.pages for w in proposed_weeks]),
            ],
            "Pages opened per week, current and proposed",
            "whatif-pages",
        ),
        "breaches_chart": grouped_bars_svg(
            weeks,
            [
                ("current", CURRENT_COLOUR, [w.breaches for w in current_weeks]),
                ("proposed", PROPOSED_COLOUR, [w.breaches for w in proposed_weeks]),
            ],
            "Breaches per week, current and proposed",
            "whatif-breaches",
        ),
        "people": _people(a, b),
        "gaps_shown": GAPS_SHOWN,
        "gap_hours": _total_time(comparison),
        "steps": lambda load: [f"{s}: {n}" for s, n in load.by_step],
    }


@dataclass(frozen=True)
class _Week:
    pages: int = 0
    breaches: int = 0


def _weeks(a: Outcome, b: Outcome) -> tuple[list[date], list[_Week], list[_Week]]:
    """The weeks of either outcome, in order, with each side's counts (0 where it has none)."""
    days = sorted({w.week_start for w in a.weeks} | {w.week_start for w in b.weeks})
    counts = [
        {w.week_start: _Week(w.pages, w.breaches) for w in outcome.weeks} for outcome in (a, b)
    ]
    return (
        days,
        [counts[0].get(d, _Week()) for d in days],
        [counts[1].get(d, _Week()) for d in days],
    )


def _people(a: Outcome, b: Outcome) -> list[PersonRow]:
    """Everyone notified under either configuration, by name."""
    current = {p.staff: p for p in a.people}
    proposed = {p.staff: p for p in b.people}
    rows = [
        PersonRow(
            staff,
            (proposed.get(staff) or current[staff]).name,
            current.get(staff),
            proposed.get(staff),
        )
        for staff in current.keys() | proposed.keys()
    ]
    return sorted(rows, key=lambda row: (row.name.casefold(), row.staff))


def _total_time(comparison: Comparison) -> str:
    """How long the coverage gaps last together: "3h 20m", or "412 hours" past a day."""
    total = sum((g.end - g.start for g in comparison.coverage_gaps), timedelta())
    if total < timedelta(days=1):
        return hours_text(total)
    return f"{total / timedelta(hours=1):,.0f} hours"
