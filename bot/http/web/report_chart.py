"""The Reports page's weekly trend, drawn on the server as SVG: no script, no network.

Bars are each week's attainment (0-100 %, left scale); the line is the week's p90 first
response in hours (right scale). Only presentation attributes are used (the inbox's CSP
allows no inline style), and the drawing scales to its container's width (viewBox), so it
reads at 375 px as on a desktop.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
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
            parts.append(
                f'<text x="{x + slot / 2:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" '
                f'font-size="12" fill="{INK}">{p.week.strftime("%b %d")}</text>'
            )
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


def _nice(hours: float) -> int:
    for step in (1, 2, 4, 8, 12, 24, 48, 72, 168):
        if hours <= step:
            return step
    return int(hours) + 1


def _hours_label(hours: float) -> str:
    return f"{hours:g}h"
