"""The Reports page's weekly trend, drawn on the server as SVG: no script, no network.

Bars are each week's attainment (0-100 %, left scale); the line is the week's p90 first
response in hours (right scale). Only presentation attributes are used (the inbox's CSP
allows no inline style), and the drawing scales to its container's width (viewBox), so it
reads at 375 px as on a desktop.

`grouped_bars_svg` draws counts the same way, a group of bars per week (the what-if report:
pages and breaches under two configurations, bot/http/web/simulation_report.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from html import escape

from markupsafe import Markup

from routing.reports import WeekPoint

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 44, 52, 16, 40
BAR = "#3d7fd9"
LINE = "#c2410c"
GRID = "#d4d4d8"
INK = "#27272a"


def hours_text(value: timedelta | None) -> str:
    if value is None:
        return "no answer"
    minutes = round(value.total_seconds() / 60)
    return f"{minutes // 60}h {minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"


def trend_svg(points: Sequence[WeekPoint], title: str = "Weekly trend") -> Markup:
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    n = max(len(points), 1)
    slot = plot_w / n
    worst = max((p.first_p90 for p in points if p.first_p90 is not None), default=None)
    top_hours = max(1.0, (worst.total_seconds() / 3600) if worst else 1.0)
    top_hours = float(_nice(top_hours))
    parts = [
        f'<svg class="trend" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'xmlns="http://www.w3.org/2000/svg" aria-labelledby="trend-title trend-desc">',
        f'<title id="trend-title">{escape(title)}</title>',
        '<desc id="trend-desc">'
        + escape(
            "; ".join(
                f"week of {p.week.isoformat()}: attainment "
                f"{'n/a' if p.attainment is None else f'{p.attainment:.0%}'}, "
                f"p90 first response {hours_text(p.first_p90)}"
                for p in points
            )
        )
        + "</desc>",
    ]
    for share in (0, 0.5, 1):
        y = TOP + plot_h * (1 - share)
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{GRID}" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="12" '
            f'fill="{BAR}">{share:.0%}</text>'
        )
        parts.append(
            f'<text x="{WIDTH - RIGHT + 6}" y="{y + 4:.1f}" font-size="12" '
            f'fill="{LINE}">{_hours_label(top_hours * share)}</text>'
        )
    line: list[str] = []
    every = max(1, round(n / 8))  # at most about eight date labels
    for i, p in enumerate(points):
        x = LEFT + slot * i
        if p.attainment is not None:
            h = plot_h * p.attainment
            parts.append(
                f'<rect class="bar" x="{x + slot * 0.15:.1f}" y="{TOP + plot_h - h:.1f}" '
                f'width="{slot * 0.7:.1f}" height="{h:.1f}" fill="{BAR}">'
                f"<title>{escape(p.week.isoformat())}: {p.attainment:.0%} kept "
                f"of {p.started}</title></rect>"
            )
        if p.first_p90 is not None:
            y = TOP + plot_h * (1 - min(1.0, p.first_p90.total_seconds() / 3600 / top_hours))
            line.append(f"{x + slot / 2:.1f},{y:.1f}")
            parts.append(
                f'<circle cx="{x + slot / 2:.1f}" cy="{y:.1f}" r="3.5" fill="{LINE}">'
                f"<title>{escape(p.week.isoformat())}: p90 first response "
                f"{hours_text(p.first_p90)}</title></circle>"
            )
        if i % every == 0:
            parts.append(_week_label(p.week, x + slot / 2))
    if len(line) > 1:
        parts.append(
            f'<polyline points="{" ".join(line)}" fill="none" stroke="{LINE}" stroke-width="2"/>'
        )
    parts.append(
        f'<text x="{LEFT}" y="{HEIGHT - 6}" font-size="12" fill="{BAR}">■ attainment</text>'
        f'<text x="{LEFT + 110}" y="{HEIGHT - 6}" font-size="12" fill="{LINE}">'
        "● p90 first response</text>"
    )
    parts.append("</svg>")
    return Markup("".join(parts))  # every text in it was escaped above


def grouped_bars_svg(
    weeks: Sequence[date],
    series: Sequence[tuple[str, str, Sequence[int]]],
    title: str,
    ident: str,
) -> Markup:
    """One group of bars per week, one bar per series (`(name, colour, counts)`, the counts
    one per week); a count scale on the left, the names in a legend under the plot. `ident`
    keeps the title's id apart from another chart's on the same page. No namespace
    attribute: the drawing is meant to sit inside an HTML page, which needs none (and the
    standalone what-if report names no URL at all)."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    n = max(len(weeks), 1)
    slot = plot_w / n
    top = _nice_count(max((v for _, _, values in series for v in values), default=0))
    ident = escape(ident)
    described = "; ".join(
        f"week of {week.isoformat()}: "
        + ", ".join(f"{name} {values[i]}" for name, _, values in series)
        for i, week in enumerate(weeks)
    )
    parts = [
        f'<svg class="trend" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'aria-labelledby="{ident}-title {ident}-desc">',
        f'<title id="{ident}-title">{escape(title)}</title>',
        f'<desc id="{ident}-desc">{escape(described)}</desc>',
    ]
    for share in (0, 0.5, 1):
        y = TOP + plot_h * (1 - share)
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{GRID}" stroke-width="1"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="12" '
            f'fill="{INK}">{top * share:g}</text>'
        )
    bar = slot * 0.8 / max(len(series), 1)
    every = max(1, round(n / 8))
    for i, week in enumerate(weeks):
        x = LEFT + slot * i
        for j, (name, colour, values) in enumerate(series):
            h = plot_h * values[i] / top
            parts.append(
                f'<rect class="bar" x="{x + slot * 0.1 + bar * j:.1f}" '
                f'y="{TOP + plot_h - h:.1f}" width="{bar * 0.9:.1f}" height="{h:.1f}" '
                f'fill="{colour}"><title>week of {escape(week.isoformat())}: '
                f"{escape(name)} {values[i]}</title></rect>"
            )
        if i % every == 0:
            parts.append(_week_label(week, x + slot / 2))
    x = LEFT
    for name, colour, _ in series:
        parts.append(
            f'<rect x="{x}" y="{HEIGHT - 16}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{x + 14}" y="{HEIGHT - 6}" font-size="12" fill="{INK}">'
            f"{escape(name)}</text>"
        )
        x += 14 + 7 * len(name) + 18
    parts.append("</svg>")
    return Markup("".join(parts))  # every text in it was escaped above


def _week_label(week: date, x: float) -> str:
    return (
        f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" '
        f'font-size="12" fill="{INK}">{week.strftime("%b %d")}</text>'
    )


def _nice_count(most: int) -> int:
    """A round top for a count scale: 1, 2, 5, 10, 20, 50, ... at least `most`."""
    top = 1
    while top < most:
        for factor in (2, 5 / 2, 2):
            top = round(top * factor)
            if top >= most:
                break
    return top


def _nice(hours: float) -> int:
    for step in (1, 2, 4, 8, 12, 24, 48, 72, 168):
        if hours <= step:
            return step
    return int(hours) + 1


def _hours_label(hours: float) -> str:
    return f"{hours:g}h"
