"""A what-if (issue 17), asked from the inbox or by `partnerline simulate`: the configuration
in force beside a proposed one, over a period's traffic, read only. Nothing is written,
nothing is sent, nothing is applied.

The traffic is the recorded client messages of the period (read in one read-only unit of
work, with the overrides in force from its first day and the staff members' own zones),
synthetic arrivals (bot/usecases/simulation/traffic.py), or messages read from a CSV file by
`partnerline simulate`, which asks here too. The coverage gaps are the proposed directory's,
in the 90 days from now, with the same overrides.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.usecases.coverage import gaps_ahead
from bot.usecases.directory import Directory
from bot.usecases.simulation import traffic as tr
from bot.usecases.simulation.compare import compare
from bot.usecases.simulation.result import Comparison
from routing.errors import DomainError
from routing.escalation import COALESCE_WINDOW
from routing.rotations import Override
from storage.replay import RecordedTraffic
from storage.reports import ReportReader
from storage.unit_of_work import UnitOfWork

# What one request may ask for: a what-if runs in the web process, so it is bounded.
MAX_DAYS = 366
MAX_PER_DAY = 2000
MAX_SYNTHETIC = 150_000  # messages over the whole period


@dataclass(frozen=True)
class Traffic:
    """Where the messages come from: the database ("db"), `per_day` synthetic arrivals a day
    drawn with `seed` ("synthetic"), or messages read elsewhere ("given": a CSV file), said in
    `words`."""

    kind: str  # "db" | "synthetic" | "given"
    per_day: float = 0.0
    seed: int = tr.DEFAULT_SEED
    given: tuple[tr.TrafficMessage, ...] = ()
    words: str = ""


def check_request(start: date, end: date, traffic: Traffic) -> None:
    """DomainError (400) for a period or traffic the inbox does not run."""
    if end < start:
        raise DomainError("whatif_period", f"the period ends ({end}) before it starts ({start})")
    days = (end - start).days + 1
    if days > MAX_DAYS:
        raise DomainError("whatif_period", f"at most {MAX_DAYS} days at a time ({days} asked)")
    if traffic.kind == "synthetic":
        if not 0 < traffic.per_day <= MAX_PER_DAY:
            raise DomainError(
                "whatif_traffic", f"synthetic traffic: between 1 and {MAX_PER_DAY} a day"
            )
        if traffic.per_day * days > MAX_SYNTHETIC:
            raise DomainError(
                "whatif_traffic",
                f"synthetic traffic: at most {MAX_SYNTHETIC} messages in all "
                f"({traffic.per_day:g} a day for {days} days is more)",
            )
    elif traffic.kind != "db":
        raise DomainError("whatif_traffic", "traffic is the recorded messages or synthetic")


@dataclass(frozen=True)
class _Messages:
    messages: list[tr.TrafficMessage]
    words: str  # where they came from, in words
    overrides: list[Override]
    zones: dict[str, tzinfo]  # staff members' own zones, where they chose one


def what_if(
    current: Directory,
    proposed: Directory,
    start: date,
    end: date,
    traffic: Traffic,
    reader: Callable[[], UnitOfWork] | None,
    now: datetime,
    *,
    current_name: str,
    proposed_name: str,
    coalesce: timedelta = COALESCE_WINDOW,
) -> Comparison:
    """`proposed` beside `current` over the days [start, end] of the proposed agency's zone
    (`partnerline simulate` and the inbox's what-if page). `reader` is needed for recorded
    traffic only. CPU work (a second or so for a month of a busy agency): run it off the
    event loop."""
    first = zone_start(start, proposed)
    last = zone_start(end + timedelta(days=1), proposed)
    if traffic.kind == "db":
        assert reader is not None, "recorded traffic is read from the database"
        loaded = _recorded(reader, first, last)
    elif traffic.kind == "synthetic":
        messages = tr.synthetic(proposed, start, end, traffic.per_day, traffic.seed)
        words = f"synthetic {traffic.per_day:g}/day, seed {traffic.seed}"
        loaded = _Messages(messages, words, [], {})
    else:
        kept = [m for m in traffic.given if first <= m.at < last]
        loaded = _Messages(kept, traffic.words, [], {})
    return compare(
        current,
        proposed,
        loaded.messages,
        start,
        end,
        traffic=loaded.words,
        current_config=current_name,
        proposed_config=proposed_name,
        overrides=loaded.overrides,
        zones=loaded.zones,
        coalesce=coalesce,
        coverage_gaps=gaps_ahead(proposed, now, [o for o in loaded.overrides if o.end > now]),
    )


def _recorded(reader: Callable[[], UnitOfWork], first: datetime, last: datetime) -> _Messages:
    """The client messages recorded in [first, last), with the overrides in force from its
    first day and the staff members' own zones (as the promise reports read them), in one
    read-only unit of work."""
    with reader() as uow:
        messages = tr.from_recorded(RecordedTraffic(uow.session).client_messages(first, last))
        overrides = list(uow.overrides.all_active(first))
        chosen = ReportReader(uow.session).staff_zones()
    zones: dict[str, tzinfo] = {}
    for staff, name in chosen.items():
        with contextlib.suppress(ZoneInfoNotFoundError, ValueError):
            zones[staff] = ZoneInfo(name)
    return _Messages(messages, "recorded in the database", overrides, zones)


def zone_start(day: date, directory: Directory) -> datetime:
    """The first instant of `day` in the agency's zone."""
    return datetime.combine(day, time(), directory.zone).astimezone(UTC)
