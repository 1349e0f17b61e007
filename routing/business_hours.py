"""Business-hours calendars: when the agency is open, and how much open time lies between instants.

A calendar is a time zone, weekly windows of wall-clock minutes and a `closed_day` predicate
(public holidays, extra closed days). Open time is turned into sorted UTC intervals, one local
year at a time and only when a query needs that year, with a running total of open seconds, so
every operation is a couple of `bisect` calls.

Wall-clock windows map to instants exactly: an instant is open when its local wall time lies in
a window of its local date. So a window across a spring-forward gap loses the missing hour, a
window inside the gap is empty, and an open hour that repeats at fall-back is open twice.
Intervals are half-open: a window 09:00-17:30 is open at 09:00 and closed at 17:30.

Every query has an answer, whatever the calendar. "Never" is None:
- `next_open` is None when the calendar does not open within `HORIZON_YEARS` of the instant:
  a calendar without windows (closed all the time, so every message is after hours), or one
  whose windows all fall on closed days;
- `next_close` is None when it does not close within `HORIZON_YEARS`: open 00:00-24:00 every
  day with no closed day ahead (always open);
- `add` is None when that much open time does not accrue within `HORIZON_YEARS` (never, on a
  calendar without windows). Callers decide what "never" means for them (see
  routing.commitments_policy and routing.rotations).
Ten years of nothing is taken as never: no agency plans its hours further ahead.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import overload
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MINUTES_PER_DAY = 1440
# How far ahead a search for the next opening (or closing) may look before giving up.
HORIZON_YEARS = 10

_DAY = 86400
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_ONE_US = timedelta(microseconds=1)
_US = 1_000_000
# Offsets are scanned at this step and transitions then found to the second; no real zone
# changes its offset twice within six hours.
_SCAN_STEP = 6 * 3600

Window = tuple[int, int]
# (lo, hi, starts, ends, cum, cum_end): intervals are exact for instants in [lo, hi); cum[i] is
# the open time before interval i, cum_end[i] the open time up to its end.
_Grid = tuple[float, float, list, list, list, list]


def _never_closed(_day: date) -> bool:
    return False


def _naive_epoch(day: date) -> int:
    """Seconds from 1970-01-01 to local midnight of `day`, as if the zone were UTC."""
    return (day.toordinal() - _EPOCH_ORDINAL) * _DAY


def _utc_year(ts: float) -> int:
    return datetime.fromtimestamp(ts, UTC).year


def _normalise_week(weekly: Mapping[int, Iterable[Window]]) -> tuple[tuple[Window, ...], ...]:
    days: list[tuple[Window, ...]] = []
    for weekday in weekly:
        if weekday not in range(7):
            raise ValueError(f"weekday {weekday!r} is not 0 (Monday) to 6 (Sunday)")
    for weekday in range(7):
        windows = sorted((int(start), int(end)) for start, end in weekly.get(weekday, ()))
        merged: list[Window] = []
        for start, end in windows:
            if not 0 <= start < end <= MINUTES_PER_DAY:
                raise ValueError(
                    f"window {start}-{end} on weekday {weekday}: need 0 <= start < end <= 1440"
                )
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
            else:
                merged.append((start, end))
        days.append(tuple(merged))
    return tuple(days)


class BusinessCalendar:
    """Open and closed time in one zone. Takes aware datetimes; returns UTC datetimes.

    The `*_epoch` variants take and return POSIX seconds (floats) and skip datetime
    conversions; they are what bulk replays and the benchmark use.
    """

    def __init__(
        self,
        tz: tzinfo | str,
        weekly: Mapping[int, Iterable[Window]],
        closed_day: Callable[[date], bool] | None = None,
    ) -> None:
        if isinstance(tz, str):
            try:
                tz = ZoneInfo(tz)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"unknown time zone {tz!r}") from exc
        self.tz: tzinfo = tz
        self.weekly = _normalise_week(weekly)
        self.closed_day = closed_day or _never_closed
        self.has_any_window = any(self.weekly)
        # Open 00:00-24:00 every day with no closed day: no query needs to load a year.
        self.always_open = closed_day is None and all(
            day == ((0, MINUTES_PER_DAY),) for day in self.weekly
        )
        self._year_cache: dict[int, list[tuple[int, int]]] = {}
        self._years: tuple[int, int] | None = None
        # Seconds grid (floats) for the epoch API, microsecond grid (ints) for exact datetimes.
        empty: _Grid = (0.0, 0.0, [], [], [], [])
        self._grids: tuple[_Grid, _Grid] = (empty, empty)

    def __repr__(self) -> str:
        return f"BusinessCalendar({self.tz!s}, {self.weekly!r})"

    # ------------------------------------------------------------------ datetime API

    def is_open(self, t: datetime) -> bool:
        return self._is_open(1, _to_us(t))

    def next_open(self, t: datetime) -> datetime | None:
        """`t` itself (in UTC) when open at `t`, else the start of the next open period;
        None when the calendar does not open within `HORIZON_YEARS` (never)."""
        return _from_us(self._next_open(1, _to_us(t)))

    def next_close(self, t: datetime) -> datetime | None:
        """The end of the open period containing `t`, or of the next one; None when there is
        none within `HORIZON_YEARS` (always open from `t`, or never open at all)."""
        return _from_us(self._next_close(1, _to_us(t)))

    def add(self, t: datetime, d: timedelta) -> datetime | None:
        """`t` plus `d` of open time; from a closed `t`, counting starts at the next opening.

        A result that lands exactly on the end of a window stays there (17:30, not the next
        morning); adding zero from a closed instant gives the next opening. None when `d` of
        open time does not accrue within `HORIZON_YEARS` (a calendar without windows never
        accrues any).
        """
        return _from_us(self._add(1, _to_us(t), d // _ONE_US))

    def between(self, a: datetime, b: datetime) -> timedelta:
        """Open time in [a, b); zero when b <= a."""
        return timedelta(microseconds=self._between(1, _to_us(a), _to_us(b)))

    # ------------------------------------------------------------------ epoch API

    def is_open_epoch(self, ts: float) -> bool:
        return self._is_open(0, ts)

    def next_open_epoch(self, ts: float) -> float | None:
        return self._next_open(0, ts)

    def next_close_epoch(self, ts: float) -> float | None:
        return self._next_close(0, ts)

    def add_epoch(self, ts: float, seconds: float) -> float | None:
        lo, hi, starts, ends, cum, cum_end = self._grids[0]
        # Fast path: t and the result both inside the loaded range; else the general path.
        if lo <= ts < hi and seconds > 0:
            i = bisect_right(starts, ts) - 1
            f = cum[i] + min(ts, ends[i]) - starts[i] if i >= 0 else 0
            target = f + seconds
            j = bisect_left(cum_end, target)
            if j < len(starts):
                result = starts[j] + (target - cum[j])
                if result < hi:
                    return result
        return self._add(0, ts, seconds)

    def between_epoch(self, a: float, b: float) -> float:
        return self._between(0, a, b)

    def open_add_epoch(self, ts: float, seconds: float) -> float | None:
        """`add_epoch(ts, seconds)` when open at `ts`, else None: one lookup for both.

        Open at `ts` but never accruing `seconds` (possible only when every later window falls
        on a closed day) is also None; `is_open_epoch` tells the two apart.
        """
        if self.always_open:
            return ts + max(seconds, 0)
        lo, hi, starts, ends, cum, cum_end = self._grids[0]
        if not lo <= ts < hi:
            self._cover(0, ts, ts)
            lo, hi, starts, ends, cum, cum_end = self._grids[0]
        i = bisect_right(starts, ts) - 1
        if i < 0 or ts >= ends[i]:
            return None
        if seconds <= 0:
            return ts
        target = cum[i] + ts - starts[i] + seconds
        j = bisect_left(cum_end, target)
        if j < len(starts):
            result = starts[j] + (target - cum[j])
            if result < hi:
                return result
        return self._add(0, ts, seconds)

    # ------------------------------------------------------------------ core, unit 0 = s, 1 = us

    def _is_open(self, unit: int, t: float) -> bool:
        if not self.has_any_window or self.always_open:
            return self.always_open
        self._cover(unit, t, t)
        _lo, _hi, starts, ends, _cum, _cum_end = self._grids[unit]
        i = bisect_right(starts, t) - 1
        return i >= 0 and t < ends[i]

    def _next_open(self, unit: int, t: float) -> float | None:
        if not self.has_any_window or self.always_open:
            return t if self.always_open else None
        self._cover(unit, t, t)
        limit = self._horizon(unit, t)
        while True:
            _lo, hi, starts, ends, _cum, _cum_end = self._grids[unit]
            i = bisect_right(starts, t) - 1
            if i >= 0 and t < ends[i]:
                return t
            if i + 1 < len(starts) and starts[i + 1] < hi:
                return starts[i + 1]
            if not self._extend(limit):
                return None

    def _next_close(self, unit: int, t: float) -> float | None:
        if not self.has_any_window or self.always_open:
            return None
        self._cover(unit, t, t)
        limit = self._horizon(unit, t)
        while True:
            _lo, hi, starts, ends, _cum, _cum_end = self._grids[unit]
            i = bisect_right(starts, t) - 1
            k = i if i >= 0 and t < ends[i] else i + 1
            if k < len(starts) and ends[k] < hi:
                return ends[k]
            if not self._extend(limit):
                return None

    def _add(self, unit: int, t: float, d: float) -> float | None:
        if d < 0:
            raise ValueError("cannot add a negative amount of business time")
        if d == 0 or not self.has_any_window or self.always_open:
            start = self._next_open(unit, t)
            return None if start is None else start + d
        self._cover(unit, t, t)
        limit = self._horizon(unit, t)
        while True:
            _lo, hi, starts, ends, cum, cum_end = self._grids[unit]
            target = _open_before(starts, ends, cum, t) + d
            j = bisect_left(cum_end, target)
            if j < len(starts):
                result = starts[j] + (target - cum[j])
                if result < hi:
                    return result
            if not self._extend(limit):
                return None

    def _between(self, unit: int, a: float, b: float) -> float:
        if b <= a or not self.has_any_window:
            return 0
        if self.always_open:
            return b - a
        self._cover(unit, a, b)
        _lo, _hi, starts, ends, cum, _cum_end = self._grids[unit]
        return _open_before(starts, ends, cum, b) - _open_before(starts, ends, cum, a)

    # ------------------------------------------------------------------ loading years

    def _horizon(self, unit: int, t: float) -> int:
        # The last loadable year is 9999, and the grid needs its following year's start.
        return min(_utc_year(t / _US if unit else t) + HORIZON_YEARS, 9998)

    def _cover(self, unit: int, a: float, b: float) -> None:
        lo, hi = self._grids[unit][:2]
        if lo <= a and b < hi:
            return
        scale = _US if unit else 1
        self._load(_utc_year(a / scale - _DAY), _utc_year(b / scale + _DAY))

    def _extend(self, limit_year: int) -> bool:
        """Load one more year; False when that would pass `limit_year` (the answer is never)."""
        assert self._years is not None
        first, last = self._years
        if last + 1 > limit_year:
            return False
        self._load(first, last + 1)
        return True

    def _load(self, first: int, last: int) -> None:
        """Make local years first..last loaded; a far-away range replaces the old one."""
        if self._years is not None:
            have_first, have_last = self._years
            if first <= have_last + 1 and last >= have_first - 1:
                first, last = min(first, have_first), max(last, have_last)
        intervals: list[tuple[int, int]] = []
        for year in range(first, last + 1):
            if year not in self._year_cache:
                self._year_cache[year] = self._build_year(year)
            for start, end in self._year_cache[year]:
                if intervals and start <= intervals[-1][1]:  # touching at midnight: one period
                    intervals[-1] = (intervals[-1][0], max(end, intervals[-1][1]))
                else:
                    intervals.append((start, end))
        # Exact for every instant whose local date lies in the loaded years, whatever the offset.
        lo = _naive_epoch(date(first, 1, 1)) + _DAY
        hi = _naive_epoch(date(last + 1, 1, 1)) - _DAY if last < 9999 else float("inf")
        starts = [s for s, _ in intervals]
        ends = [e for _, e in intervals]
        cum = [0] * len(intervals)
        cum_end = [0] * len(intervals)
        total = 0
        for i, (start, end) in enumerate(intervals):
            cum[i] = total
            total += end - start
            cum_end[i] = total
        seconds: _Grid = (
            float(lo),
            float(hi),
            [float(x) for x in starts],
            [float(x) for x in ends],
            [float(x) for x in cum],
            [float(x) for x in cum_end],
        )
        micros: _Grid = (
            lo * _US,
            hi * _US,
            [x * _US for x in starts],
            [x * _US for x in ends],
            [x * _US for x in cum],
            [x * _US for x in cum_end],
        )
        self._grids = (seconds, micros)  # one assignment, so a reader never sees half a rebuild
        self._years = (first, last)

    def _build_year(self, year: int) -> list[tuple[int, int]]:
        """Open intervals (UTC seconds) of every local date in `year`, sorted, unmerged."""
        if not self.has_any_window:
            return []
        first_day = date(year, 1, 1)
        pieces = _offset_pieces(
            self.tz,
            _naive_epoch(first_day) - 2 * _DAY,
            _naive_epoch(date(year + 1, 1, 1)) + 2 * _DAY if year < 9999 else 253402300799,
        )
        out: list[tuple[int, int]] = []
        day = first_day
        one_day = timedelta(days=1)
        while day.year == year:
            windows = self.weekly[day.weekday()]
            if windows and not self.closed_day(day):
                midnight = _naive_epoch(day)
                for start_minute, end_minute in windows:
                    wall_start = midnight + start_minute * 60
                    wall_end = midnight + end_minute * 60
                    # The instants whose wall time is in [wall_start, wall_end), piece by piece.
                    for piece_start, piece_end, offset in pieces:
                        start = max(wall_start - offset, piece_start)
                        end = min(wall_end - offset, piece_end)
                        if start < end:
                            out.append((start, end))
            if day == date.max:
                break
            day += one_day
        out.sort()
        return out


def _open_before(starts: list, ends: list, cum: list, t: float) -> float:
    """Open time from the start of the loaded range to `t`."""
    i = bisect_right(starts, t) - 1
    if i < 0:
        return 0
    return cum[i] + min(t, ends[i]) - starts[i]


def _offset(tz: tzinfo, ts: int) -> int:
    offset = datetime.fromtimestamp(ts, tz).utcoffset()
    assert offset is not None
    return int(offset.total_seconds())


def _offset_pieces(tz: tzinfo, lo: int, hi: int) -> list[tuple[int, int, int]]:
    """Split UTC seconds [lo, hi) into (start, end, utc_offset) pieces of constant offset."""
    lo = max(lo, -62135596800 + 2 * _DAY)  # datetime cannot go before year 1
    pieces: list[tuple[int, int, int]] = []
    piece_start = lo
    current = _offset(tz, lo)
    ts = lo
    while ts < hi:
        nxt = min(ts + _SCAN_STEP, hi)
        offset = _offset(tz, nxt) if nxt < hi else current
        if offset != current:
            before, after = ts, nxt  # offset(before) == current != offset(after)
            while after - before > 1:
                mid = (before + after) // 2
                if _offset(tz, mid) == current:
                    before = mid
                else:
                    after = mid
            pieces.append((piece_start, after, current))
            piece_start, current = after, _offset(tz, after)
            ts = after
            continue
        ts = nxt
    pieces.append((piece_start, hi, current))
    return pieces


def _to_us(t: datetime) -> int:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"{t!r} is naive: business-hours times must be timezone-aware")
    return (t - _EPOCH) // _ONE_US


@overload
def _from_us(us: float) -> datetime: ...
@overload
def _from_us(us: None) -> None: ...
def _from_us(us: float | None) -> datetime | None:
    return None if us is None else _EPOCH + timedelta(microseconds=us)
