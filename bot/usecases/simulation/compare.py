"""Two configurations side by side: the same traffic replayed under each, and every kind of
difference between what they decide, counted, with examples.

Both sides replay the same messages with the same recorded answer times, so their
commitments start on the same messages: commitments, acknowledgements and pages of the two
outcomes are matched by their conversation and first message.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta, tzinfo
from typing import TypeVar

from bot.usecases.directory import Directory
from bot.usecases.simulation.engine import Simulator, cyclic_gc_paused
from bot.usecases.simulation.result import (
    AckResult,
    CommitmentResult,
    Comparison,
    Difference,
    Example,
    Outcome,
    PageResult,
)
from bot.usecases.simulation.traffic import TrafficMessage
from routing import escalation as esc
from routing.coverage import Gap
from routing.plain_time import day_and_time
from routing.rotations import Override

EXAMPLES = 5
T = TypeVar("T", CommitmentResult, AckResult, PageResult)
Key = tuple[str, datetime]


def compare(
    current_directory: Directory,
    proposed_directory: Directory,
    messages: Sequence[TrafficMessage],
    start: date,
    end: date,
    *,
    traffic: str,
    current_config: str = "",
    proposed_config: str = "",
    overrides: Sequence[Override] = (),
    coverage_gaps: Sequence[Gap] = (),
    coalesce: timedelta = esc.COALESCE_WINDOW,
    zones: Mapping[str, tzinfo] | None = None,
) -> Comparison:
    """Both sides replayed; `zones`: staff members' own zones, for their nights."""
    current = Simulator(current_directory, overrides=overrides, coalesce=coalesce, zones=zones)
    proposed = Simulator(proposed_directory, overrides=overrides, coalesce=coalesce, zones=zones)
    with cyclic_gc_paused():
        before = current.run(messages, start, end, label="current", config=current_config)
        after = proposed.run(messages, start, end, label="proposed", config=proposed_config)
        found = differences(before, after, proposed_directory.zone)
    zone = proposed_directory.zone
    return Comparison(
        period_from=start,
        period_to=end,
        zone=str(zone),
        traffic=traffic,
        messages=len(messages),
        current=before,
        proposed=after,
        differences=found,
        coverage_gaps=tuple(coverage_gaps),
    )


def differences(current: Outcome, proposed: Outcome, zone: tzinfo) -> tuple[Difference, ...]:
    def when(t: datetime | None) -> str:
        return "-" if t is None else day_and_time(t, zone)

    found: list[Difference] = []
    pairs = _pairs(current.commitments, proposed.commitments)

    def add(
        kind: str,
        matches: Sequence[tuple[T, T]],
        summary: Callable[[int], str],
        words: Callable[[T], str],
        proposed_words: Callable[[T], str] | None = None,
    ) -> None:
        other = proposed_words or words
        if matches:
            found.append(
                Difference(
                    kind,
                    summary(len(matches)),
                    len(matches),
                    tuple(
                        Example(x.message_at, x.client, x.contact, words(x), other(y))
                        for x, y in matches[:EXAMPLES]
                    ),
                )
            )

    tier = [(x, y) for x, y in pairs if x.tier != y.tier]
    add("tier", tier, lambda n: f"{n} commitments change tier", lambda c: c.tier)

    moved = [(x, y) for x, y in pairs if x.due_at != y.due_at]
    if moved:
        shift = statistics.median((y.due_at - x.due_at).total_seconds() for x, y in moved)
        later = sum(1 for x, y in moved if y.due_at > x.due_at)
        add(
            "due_at",
            moved,
            lambda n: (
                f"{n} commitments fall due at another time ({later} later, {n - later} "
                f"earlier; median {_signed(shift)})"
            ),
            lambda c: f"due {when(c.due_at)}",
        )

    acks_a, acks_b = _by_key(current.acknowledgements), _by_key(proposed.acknowledgements)
    only: list[tuple[CommitmentResult, CommitmentResult]] = [
        (x, y) for x, y in pairs if (_key(x) in acks_a) != (_key(x) in acks_b)
    ]
    add(
        "acknowledgement",
        only,
        lambda n: f"{n} messages are acknowledged under one configuration only",
        lambda c: "acknowledged" if _key(c) in acks_a else "none",
        lambda c: "acknowledged" if _key(c) in acks_b else "none",
    )
    promised = [
        (acks_a[k], acks_b[k])
        for k in acks_a
        if k in acks_b and acks_a[k].promised_at != acks_b[k].promised_at
    ]
    add(
        "promised_at",
        promised,
        lambda n: f"{n} acknowledgements promise another time",
        lambda ack: f"promises {when(ack.promised_at)}",
    )

    paged = [(x, y) for x, y in pairs if x.paged != y.paged]
    add(
        "paged",
        paged,
        lambda n: f"{n} commitments page under one configuration only",
        lambda c: "pages" if c.paged else "no page",
    )

    pages_a, pages_b = _by_key(current.pages), _by_key(proposed.pages)
    both = [(pages_a[k], pages_b[k]) for k in pages_a if k in pages_b]
    people = [(x, y) for x, y in both if _people(x) != _people(y)]
    add(
        "paged_people",
        people,
        lambda n: f"{n} pages reach other people",
        lambda p: ", ".join(_people(p)) or "nobody",
    )
    steps = [(x, y) for x, y in both if x.steps_reached != y.steps_reached]
    add(
        "steps",
        steps,
        lambda n: f"{n} pages run to another step",
        lambda p: f"step {p.steps_reached} ({p.ended})",
    )

    breach = [(x, y) for x, y in pairs if x.breached != y.breached]
    if breach:
        newly = sum(1 for _, y in breach if y.breached)
        add(
            "breach",
            breach,
            lambda n: (
                f"{n} commitments change outcome ({newly} breach only as proposed, "
                f"{n - newly} only as now)"
            ),
            lambda c: "breached" if c.breached else "met",
        )

    found.extend(_people_differences(current, proposed))
    return tuple(found)


def _people_differences(current: Outcome, proposed: Outcome) -> Iterable[Difference]:
    a = {p.staff: p for p in current.people}
    b = {p.staff: p for p in proposed.people}
    staff = sorted(set(a) | set(b))
    for kind, attr, noun in (
        ("nights", "nights_woken", "nights woken"),
        ("notifications", "notifications", "notifications"),
    ):
        changed = [s for s in staff if getattr(a.get(s), attr, 0) != getattr(b.get(s), attr, 0)]
        if changed:
            yield Difference(
                kind,
                f"{len(changed)} people get another number of {noun}",
                len(changed),
                tuple(
                    Example(
                        None,
                        None,
                        s,
                        f"{getattr(a.get(s), attr, 0)} {noun}",
                        f"{getattr(b.get(s), attr, 0)} {noun}",
                    )
                    for s in changed[:EXAMPLES]
                ),
            )


def _pairs(
    a: Sequence[CommitmentResult], b: Sequence[CommitmentResult]
) -> list[tuple[CommitmentResult, CommitmentResult]]:
    """The commitments of the two sides, matched. Replays of the same traffic start their
    commitments on the same messages, in the same order: matched in turn, unless they differ
    (then by key)."""
    if len(a) == len(b) and all(
        x.conversation == y.conversation
        and (x.message_at is y.message_at or x.message_at == y.message_at)
        for x, y in zip(a, b, strict=True)
    ):
        return list(zip(a, b, strict=True))
    by_key = _by_key(b)
    return [(x, by_key[_key(x)]) for x in a if _key(x) in by_key]


def _key(item: CommitmentResult | AckResult | PageResult) -> Key:
    return item.conversation, item.message_at


def _by_key(items: Iterable[T]) -> dict[Key, T]:
    return {_key(i): i for i in items}


def _people(page: PageResult) -> tuple[str, ...]:
    return tuple(dict.fromkeys(n.staff for n in page.notifications))


def _signed(seconds: float) -> str:
    sign = "+" if seconds >= 0 else "-"
    minutes = round(abs(seconds) / 60)
    hours, rest = divmod(minutes, 60)
    return f"{sign}{hours} h {rest:02d} min" if hours else f"{sign}{rest} min"
