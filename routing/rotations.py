"""On-call rotations: who holds the pager at an instant, until when, and who is next.

Handoffs follow the wall clock
    Handoff k happens at the local wall time ``start + k * shift`` in the rotation's zone, so a
    weekly 09:00 handoff stays at 09:00 local across daylight-saving changes (its UTC instant
    moves by an hour) and 12h shifts stay at 09:00/21:00. Shift k is the half-open range
    [handoff k, handoff k+1) and belongs to ``members[k % len(members)]``. A shift may be any
    positive length, including ones that do not divide a day ("7h").

    A wall time that does not exist, inside a spring-forward gap (02:30 on a US spring-forward
    day), is taken as the first instant after the gap: the moment the clocks jump, 03:00 local.
    A wall time that exists twice, inside the repeated fall-back hour (01:30 on a US fall-back
    day), is taken at its first occurrence (fold=0, still on daylight time). The shift that
    spans a change is therefore an hour longer or shorter in real time. A shift that lies wholly
    inside a gap (only possible for shifts no longer than the gap) lasts no time; its member's
    turn passes unused.

    Before handoff 0 nobody is on call: ``shift_at`` returns None and ``on_call`` answers
    nobody until the first handoff.

After-hours rotations
    With ``only_after_hours`` the members are on call only while ``hours`` is closed. The turn
    order is still by shift index: a handoff that falls inside business hours passes the turn on
    as usual, and the member simply starts being on call at the next closing. Nobody's turn is
    skipped. Every closed stretch counts, lunch breaks included. ``hours`` is ignored when
    ``only_after_hours`` is False.

    Whatever the calendar, there is an answer. On a calendar that never opens (no windows)
    the rotation is on call all the time, exactly like an ordinary one. On a calendar that
    never closes (00:00-24:00 every day, no closed day) nobody is ever on call through it:
    ``on_call`` answers nobody with ``until`` None and ``next`` None, and only an override puts
    someone on call. "Never" means not within the calendar's horizon
    (routing.business_hours.HORIZON_YEARS).

Until when, and who next
    ``until`` is the first instant the answer changes, None when it never does (a rotation of
    one member on an ordinary or never-open calendar, with no override ahead). ``next`` is the
    first person on call after the current one who is someone else; it is looked for up to a
    full turn of the members (plus two weeks) past ``until``. When nobody else turns up it is
    the current person if they hold the pager again (a rotation of one member) or never let
    it go, else None (an override on a rotation nobody else will ever be on call for).

Overrides
    An override makes one person on call for a range of one rotation, whatever the schedule
    says. Where two overlap, the latest created (highest id) wins; an override without an id
    (not stored yet) counts as newer than every stored one, and among those the later in the
    sequence wins. A swap is two overrides: A covers B's shift and B covers A's.
    On an after-hours rotation an override applies even while the calendar is open: the person
    asked to be on call for that range, so they are.

All instants going in must be timezone-aware; every instant coming out is in UTC.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

# How far past the last override (plus one full turn of the members) to look for a change of
# person before concluding there is none: two weeks covers any weekly calendar, holidays too.
_LOOKAHEAD = timedelta(days=15)
# How far past that `on_call` looks for the first change of person before answering "never".
_UNTIL_HORIZON = timedelta(days=366 * 10)
_END_OF_TIME = datetime.max.replace(tzinfo=UTC) - timedelta(days=366 * 20)
_TICK = timedelta(microseconds=1)


class OpeningHours(Protocol):
    """What a rotation needs from a business calendar (routing.business_hours satisfies it)."""

    def is_open(self, t: datetime) -> bool: ...

    def next_open(self, t: datetime) -> datetime | None:
        """``t`` itself if open at ``t``, else the start of the next open period; None: never."""
        ...

    def next_close(self, t: datetime) -> datetime | None:
        """The end of the open period containing ``t``, or of the next one; None: never."""
        ...


@dataclass(frozen=True, slots=True)
class Rotation:
    id: str
    members: tuple[str, ...]
    start: datetime  # naive local wall time of handoff 0, in `tz`
    tz: ZoneInfo
    shift: timedelta
    hours: OpeningHours | None = None
    only_after_hours: bool = False

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("a rotation needs an id")
        object.__setattr__(self, "members", tuple(self.members))
        if not self.members:
            raise ValueError(f"rotation {self.id!r} has no members")
        if self.start.tzinfo is not None:
            raise ValueError(f"rotation {self.id!r}: start is a local wall time, without offset")
        if self.shift <= timedelta(0):
            raise ValueError(f"rotation {self.id!r}: a shift must be longer than zero")
        if self.only_after_hours and self.hours is None:
            raise ValueError(f"rotation {self.id!r}: only after hours needs business hours")


@dataclass(frozen=True, slots=True)
class Shift:
    index: int
    staff: str
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class Override:
    id: int | None
    rotation: str
    staff: str
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", _as_utc(self.start))
        object.__setattr__(self, "end", _as_utc(self.end))
        if self.end <= self.start:
            raise ValueError("an override must end after it starts")

    def covers(self, t: datetime) -> bool:
        return self.start <= t < self.end


@dataclass(frozen=True, slots=True)
class OnCall:
    rotation: str
    staff: str | None
    until: datetime | None  # when the answer changes; None if it does not change
    next: str | None


@dataclass(frozen=True, slots=True)
class OnCallPeriod:
    """A stretch of time one person really is on call for a rotation."""

    staff: str
    start: datetime
    end: datetime
    from_override: bool
    override_id: int | None = None
    shift_index: int | None = None  # the scheduled shift it belongs to, when not an override


@dataclass(frozen=True, slots=True)
class _Piece:
    """A stretch of the timeline with one answer and one source; `end` None: for ever."""

    staff: str | None
    start: datetime
    end: datetime | None
    shift_index: int | None
    override: Override | None


def handoff_at(rotation: Rotation, index: int) -> datetime:
    """The instant (UTC) of handoff `index`, i.e. the start of shift `index`."""
    return _resolve_wall_time(rotation.start + index * rotation.shift, rotation.tz)


def shift_at(rotation: Rotation, t: datetime) -> Shift | None:
    """The scheduled shift holding `t`, ignoring calendar and overrides; None before start."""
    t = _as_utc(t)
    index = _shift_index(rotation, t)
    if index is None:
        return None
    return _shift(rotation, index)


def on_call(rotation: Rotation, t: datetime, overrides: Sequence[Override] = ()) -> OnCall:
    """Who is on call at `t`, until the answer changes, and who is on call after them.

    `next` is the first person on call after `until` who is not the current one; when nobody
    else ever is (a rotation of one member), it is the current person, or None if they are not
    on call again either. While nobody is on call, `next` is whoever will be first (None: nobody
    ever will be). See "Until when, and who next" above.
    """
    t = _as_utc(t)
    ranked = _ranked(rotation, overrides)
    # Shifts merged: only a change of person matters here, and a rotation of one member with
    # a one-minute shift must not walk through a fortnight of minutes.
    pieces = _pieces(rotation, t, ranked, merge_shifts=True)
    staff = next(pieces).staff
    until: datetime | None = None
    following: str | None = None
    again = False  # the current person is on call again after `until`
    # Every piece boundary changes the person except an override's edge (finitely many), so
    # `until` is found within a few pieces; the cap only guards against a broken calendar.
    limit = _horizon(rotation, t, ranked) + _UNTIL_HORIZON
    for piece in pieces:
        if until is None:
            if piece.start >= limit:
                break
            if piece.staff == staff:
                continue
            until = piece.start
            limit = _horizon(rotation, until, ranked)
        elif piece.start >= limit:
            break
        again = again or piece.staff == staff
        if piece.staff is not None and piece.staff != staff:
            following = piece.staff
            break
    if following is None and (until is None or again):
        following = staff  # nobody else: the same person (or nobody) for ever
    return OnCall(rotation.id, staff, until, following)


def offset_on_call(
    rotation: Rotation, t: datetime, offset: int, overrides: Sequence[Override] = ()
) -> str | None:
    """The target ``rotation:ID+N``: the member N shifts after the current scheduled shift.

    N counts shifts in member order, not the calendar: during business hours an after-hours
    rotation has nobody on call, yet +1 is still the member of the next shift. An override
    covering the start of that shift replaces its member, so after a swap +1 is the person who
    really takes the next shift. Before the rotation starts, +1 is the first member. N=0 is
    whoever is on call now (`on_call(...).staff`).
    """
    if offset < 0:
        raise ValueError("the offset of a rotation target is zero or more")
    t = _as_utc(t)
    if offset == 0:
        return on_call(rotation, t, overrides).staff
    current = _shift_index(rotation, t)
    index = (-1 if current is None else current) + offset
    at = handoff_at(rotation, index)
    winner = _winner(_ranked(rotation, overrides), at)
    if winner is not None:
        return winner[1].staff
    return rotation.members[index % len(rotation.members)]


def shifts_between(
    rotation: Rotation, a: datetime, b: datetime, overrides: Sequence[Override] = ()
) -> list[OnCallPeriod]:
    """Every period someone is on call in [a, b), clipped to it, in time order.

    Overrides are cut in and, for after-hours rotations, business hours are cut out, so each
    period is time the person really is on call. Periods touch only where the person or the
    source (a shift, an override) changes.
    """
    a, b = _as_utc(a), _as_utc(b)
    periods: list[OnCallPeriod] = []
    if b <= a:
        return periods
    for piece in _pieces(rotation, a, _ranked(rotation, overrides)):
        if piece.start >= b:
            break
        if piece.staff is None:
            continue
        period = OnCallPeriod(
            staff=piece.staff,
            start=piece.start,
            end=b if piece.end is None else min(piece.end, b),
            from_override=piece.override is not None,
            override_id=piece.override.id if piece.override is not None else None,
            shift_index=piece.shift_index,
        )
        last = periods[-1] if periods else None
        if last is not None and last.end == period.start and _same_source(last, period):
            periods[-1] = OnCallPeriod(
                last.staff,
                last.start,
                period.end,
                last.from_override,
                last.override_id,
                last.shift_index,
            )
        else:
            periods.append(period)
    return periods


def _same_source(x: OnCallPeriod, y: OnCallPeriod) -> bool:
    return (x.staff, x.from_override, x.override_id, x.shift_index) == (
        y.staff,
        y.from_override,
        y.override_id,
        y.shift_index,
    )


def _as_utc(t: datetime) -> datetime:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError("an instant must be timezone-aware")
    return t.astimezone(UTC)


def _resolve_wall_time(wall: datetime, tz: ZoneInfo) -> datetime:
    """The instant a local wall time names: the first occurrence, or the end of a gap."""
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == wall:
        return first
    # In a gap fold=0 reads the time with the offset from before the jump, which lands after
    # it, and fold=1 with the offset from after, which lands before: the jump lies in between.
    before = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    return _transition(before, first, tz)


def _transition(before: datetime, after: datetime, tz: ZoneInfo) -> datetime:
    """The first instant in (before, after] whose UTC offset differs from before's."""
    offset = before.astimezone(tz).utcoffset()
    while after - before > _TICK:
        middle = before + (after - before) / 2
        if middle.astimezone(tz).utcoffset() == offset:
            before = middle
        else:
            after = middle
    return after


def _shift_index(rotation: Rotation, t: datetime) -> int | None:
    if t < handoff_at(rotation, 0):
        return None
    # The wall-clock estimate is off by at most the size of a clock change; walk to the shift.
    local = t.astimezone(rotation.tz).replace(tzinfo=None)
    index = max(0, (local - rotation.start) // rotation.shift)
    while index > 0 and handoff_at(rotation, index) > t:
        index -= 1
    while handoff_at(rotation, index + 1) <= t:
        index += 1
    return index


def _shift(rotation: Rotation, index: int) -> Shift:
    return Shift(
        index=index,
        staff=rotation.members[index % len(rotation.members)],
        start=handoff_at(rotation, index),
        end=handoff_at(rotation, index + 1),
    )


def _ranked(rotation: Rotation, overrides: Sequence[Override]) -> list[Override]:
    """This rotation's overrides, the one that wins an overlap first."""
    mine = [(pos, o) for pos, o in enumerate(overrides) if o.rotation == rotation.id]
    mine.sort(key=lambda p: (p[1].id is None, p[1].id or 0, p[0]), reverse=True)
    return [o for _, o in mine]


def _winner(ranked: list[Override], t: datetime) -> tuple[int, Override] | None:
    for rank, override in enumerate(ranked):
        if override.covers(t):
            return rank, override
    return None


def _horizon(rotation: Rotation, t: datetime, ranked: list[Override]) -> datetime:
    """A point past which the schedule alone decides and has shown every member a turn."""
    base = max([t, handoff_at(rotation, 0), *(o.end for o in ranked)])
    try:
        return base + len(rotation.members) * rotation.shift + _LOOKAHEAD
    except OverflowError:
        return _END_OF_TIME


def _pieces(
    rotation: Rotation, t: datetime, ranked: list[Override], *, merge_shifts: bool = False
) -> Iterator[_Piece]:
    """The timeline from `t` on, as consecutive pieces; it ends only with a piece that lasts
    for ever (`end` None), so the caller stops it. With `merge_shifts`, consecutive shifts of
    one person are one piece (its `shift_index` is the first one's)."""
    while True:
        piece = _piece_at(rotation, t, ranked, merge_shifts)
        yield piece
        if piece.end is None:
            return
        t = piece.end


def _piece_at(
    rotation: Rotation, t: datetime, ranked: list[Override], merge_shifts: bool
) -> _Piece:
    won = _winner(ranked, t)
    if won is not None:
        rank, override = won
        # Only an override that outranks this one can interrupt it.
        end = min([override.end, *(o.start for o in ranked[:rank] if t < o.start)])
        return _Piece(override.staff, t, end, None, override)
    staff, until, index = _scheduled_at(rotation, t, merge_shifts)
    starts = [o.start for o in ranked if t < o.start]
    ahead: datetime | None = min([*starts, *([until] if until is not None else [])], default=None)
    return _Piece(staff, t, ahead, index, None)


def _scheduled_at(
    rotation: Rotation, t: datetime, merge_shifts: bool = False
) -> tuple[str | None, datetime | None, int | None]:
    """The schedule's answer at `t` (calendar applied), when it may change (None: never), and
    its shift. With `merge_shifts` it may change only where the person does."""
    index = _shift_index(rotation, t)
    if index is None:
        return None, handoff_at(rotation, 0), None
    staff = rotation.members[index % len(rotation.members)]
    shift_end = _next_change(rotation, index) if merge_shifts else handoff_at(rotation, index + 1)
    if not rotation.only_after_hours or rotation.hours is None:
        return staff, shift_end, index
    hours = rotation.hours
    if hours.is_open(t):
        # Open for ever (as far as the calendar looks ahead): nobody, for ever.
        return None, _later_than(t, hours.next_close(t), "next_close"), None
    # Never opening again: on call like an ordinary rotation.
    opening = _later_than(t, hours.next_open(t), "next_open")
    ends = [e for e in (shift_end, opening) if e is not None]
    return staff, min(ends, default=None), index


def _next_change(rotation: Rotation, index: int) -> datetime | None:
    """The first handoff after shift `index` to someone else; None when every member is the
    same person (or the handoff lies past what datetime can hold)."""
    members = rotation.members
    for step in range(1, len(members)):
        if members[(index + step) % len(members)] != members[index % len(members)]:
            try:
                return handoff_at(rotation, index + step)
            except OverflowError:
                return None
    return None


def _later_than(t: datetime, answer: datetime | None, what: str) -> datetime | None:
    # A calendar answering with `t` itself would stall the timeline; refuse it loudly.
    if answer is None:
        return None
    answer = _as_utc(answer)
    if answer <= t:
        raise ValueError(f"business hours {what}({t.isoformat()}) did not move forward")
    return answer
