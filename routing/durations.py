"""Durations as the configuration writes them: "45s", "10m", "1h30m", "2d", "1w"."""

from __future__ import annotations

import re
from datetime import timedelta

_UNIT_SECONDS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
# Ten years: longer than any promise, shift or wait an agency means, and short enough that
# adding one to any instant a rotation or message can have stays within what datetime holds.
MAX_DURATION = timedelta(weeks=520)
_PART = re.compile(r"(\d+)([wdhms])")


def parse_duration(text: str) -> timedelta:
    """Parse "1h30m" style text; units in descending order, each at most once, and
    0 < total <= MAX_DURATION."""
    if not isinstance(text, str) or not text:
        raise ValueError('a duration is a string such as "45s", "10m", "1h30m" or "2d"')
    pos = 0
    seen: list[str] = []
    total = 0
    for match in _PART.finditer(text):
        if match.start() != pos:
            break
        number, unit = match.groups()
        if seen and "wdhms".index(unit) <= "wdhms".index(seen[-1]):
            raise ValueError(f"{text!r}: units must be in order w, d, h, m, s, each once")
        seen.append(unit)
        total += int(number) * _UNIT_SECONDS[unit]
        pos = match.end()
    if pos != len(text) or not seen:
        raise ValueError(f'{text!r} is not a duration such as "45s", "10m", "1h30m" or "2d"')
    if total <= 0:
        raise ValueError(f"{text!r}: a duration must be longer than zero")
    if total > MAX_DURATION.total_seconds():
        raise ValueError(f"{text!r}: a duration may be at most 520w (ten years)")
    return timedelta(seconds=total)


def format_duration(delta: timedelta) -> str:
    """The inverse of parse_duration, for messages and logs."""
    seconds = int(delta.total_seconds())
    if seconds <= 0:
        return "0s"
    parts = []
    for unit in "wdhms":
        size = _UNIT_SECONDS[unit]
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts)
