"""The replay: client messages run under one configuration with a simulated clock, through
the decisions the live worker takes (bot/usecases/decisions.py, routing/), over an in-memory
model of commitments, pages and notifications instead of a database.

What the live path does and where the replay takes it from:
- a client message starts a commitment unless one of its conversation still awaits a reply
  (Availability.on_client_message); tier, due and at-risk times, acknowledgement and paging:
  `decisions.promise_for`;
- the after-hours acknowledgement: `decisions.acknowledgement`, its on-call name
  `decisions.first_oncall_name`;
- a page opens unless its conversation has one open (storage: one open page a conversation);
  each step resolves its targets (`decisions.step_people`, `esc.on_call_lookup` at the step's
  instant), schedules each person's notify rules (`decisions.step_notices`; one notification
  per page, position, person and channel), and the next step (`decisions.after_step`);
- a notification due goes out unless one went to that person on that channel within the
  coalescing window (`esc.coalesce_until`; the hold is scheduled once per notification), and
  takes every due notification of that person and channel of open pages with it, in page
  order; a person with no address for the channel gets nothing (`decisions.staff_target`);
- the commitment falling due while its page is open notifies the last step's targets again;
- the recorded answer meets (or, after the due time, answers) the commitment and resolves
  the page, cancelling what it still had scheduled; the recorded acknowledgement stops it.

Timers at the same instant run in the order they were scheduled, client messages first, as
the worker runs them (by due time, then id) after routing what came in.
"""

from __future__ import annotations

import bisect
import contextlib
import gc
import heapq
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from itertools import count
from typing import Any, TypeVar

from bot.usecases import decisions
from bot.usecases.directory import ClientTerms, Directory
from bot.usecases.simulation.result import (
    AckResult,
    CommitmentResult,
    Notification,
    Outcome,
    PageResult,
    PersonLoad,
    WeekCount,
)
from bot.usecases.simulation.traffic import TrafficMessage
from routing import escalation as esc
from routing.reports import night_of
from routing.rotations import Override, Rotation, handoff_at, on_call, shift_at
from routing.router import ContactRef

T = TypeVar("T")
# Kinds of timer (client messages are not timers: see `_Run._loop`).
_ANSWER, _ACK, _STEP, _NOTIFY, _BREACH = range(1, 6)


@dataclass(slots=True)
class _Commitment:
    message: TrafficMessage
    tier: str
    after_hours: bool
    due_at: datetime
    at_risk_at: datetime
    answered_at: datetime | None
    paged: bool = False
    messages: int = 1
    answered: bool = False


@dataclass(slots=True)
class _Note:
    id: int
    page: _Page
    staff: str
    channel: str
    step: int
    round: int
    due_at: datetime
    breach: bool
    where: tuple[str, str]  # (staff, channel): what coalesces
    state: str = "scheduled"  # scheduled | sent | cancelled
    held: bool = False


@dataclass(slots=True)
class _Page:
    id: int
    message: TrafficMessage
    policy: esc.Policy
    opened_at: datetime
    state: str = "open"  # open | acknowledged | resolved
    step: int = 0
    round: int = 0
    steps_reached: int = 0
    keys: set[tuple[int, int, bool, str, str]] = field(default_factory=set)
    notes: list[_Note] = field(default_factory=list)
    sent: list[Notification] = field(default_factory=list)
    ended: str = "exhausted"
    ended_at: datetime | None = None


@dataclass(slots=True)
class _Conversation:
    awaiting: _Commitment | None = None
    page: _Page | None = None  # the latest page not resolved


class Simulator:
    """Replays traffic under one configuration (its directory). Holds no state between runs."""

    def __init__(
        self,
        directory: Directory,
        *,
        overrides: Sequence[Override] = (),
        coalesce: timedelta = esc.COALESCE_WINDOW,
        zones: Mapping[str, tzinfo] | None = None,
    ) -> None:
        """`zones`: each staff member's zone, for their nights (the agency's by default)."""
        self.directory = directory
        self.overrides = tuple(overrides)
        self.coalesce = coalesce
        self.zones: Mapping[str, tzinfo] = dict(zones or {})

    def run(
        self,
        messages: Sequence[TrafficMessage],
        start: date,
        end: date,
        *,
        label: str = "proposed",
        config: str = "",
    ) -> Outcome:
        """Replay `messages` (of the days [start, end] in the agency's zone, in time order)."""
        with cyclic_gc_paused():
            return _Run(self, messages, start, end).outcome(label, config)


@contextlib.contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused while a replay runs, as it was after. A
    replay makes millions of small objects that all live to its end, which the collector
    would scan again and again for nothing (a third of a year's replay); reference counting
    still frees what dies, and whatever cycles are left are collected once it resumes."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _Run:
    def __init__(
        self, sim: Simulator, messages: Sequence[TrafficMessage], start: date, end: date
    ) -> None:
        self.sim = sim
        self.directory = sim.directory
        self.staff = sim.directory.staff
        self.zone: tzinfo = sim.directory.zone
        self.zones = sim.zones  # each person's own, where known
        self.coalesce = sim.coalesce
        self.start, self.end = start, end
        self.end_at = datetime.combine(end + timedelta(days=1), time(), self.zone).astimezone(UTC)
        self.events: list[tuple[datetime, int, int, object]] = []
        self.seq = count()
        self.note_ids = count(1)
        self.conversations: dict[str, _Conversation] = defaultdict(_Conversation)
        self.commitments: list[_Commitment] = []
        self.acks: list[AckResult] = []
        self.pages: list[_Page] = []
        self.queued: dict[tuple[str, str], list[_Note]] = defaultdict(list)
        self.last_sent: dict[tuple[str, str], datetime] = {}
        self.messages = messages
        self.on_call = _OnCallMemo(self.directory.rotations, sim.overrides)
        self.reachable: dict[tuple[str, str], bool] = {}
        self._loop()

    # ------------------------------------------------------------------ the clock
    def _at(self, when: datetime, kind: int, item: object) -> None:
        heapq.heappush(self.events, (when, next(self.seq), kind, item))

    def _loop(self) -> None:
        """Messages in time order, and before them every timer due earlier (a timer due at
        the very instant of a message runs after it, as the worker routes first)."""
        handlers: list[Callable[[Any, datetime], None]] = [
            self._message,
            self._answer,
            self._ack,
            self._step,
            self._notify,
            self._breach,
        ]
        events, pop = self.events, heapq.heappop
        for message in self.messages:
            at = message.at
            while events and events[0][0] < at:
                now, _, kind, item = pop(events)
                handlers[kind](item, now)
            self._message(message, at)
        while events:
            now, _, kind, item = pop(events)
            handlers[kind](item, now)

    # ------------------------------------------------------------------ client messages
    def _message(self, m: TrafficMessage, now: datetime) -> None:
        conv = self.conversations[m.conversation]
        current = conv.awaiting
        # Still awaiting a reply: the message joins it. (A reply at the very instant of the
        # message comes after it: messages run first.)
        if current is not None and (current.answered_at is None or current.answered_at >= m.at):
            current.messages += 1
            return
        promise = decisions.promise_for(self.directory, m.client, m.at)
        due = promise.due
        answered_at = m.at + m.answered_after if m.answered_after is not None else None
        c = _Commitment(m, promise.tier, due.after_hours, due.due_at, due.at_risk_at, answered_at)
        self.commitments.append(c)
        conv.awaiting = c
        if promise.acknowledge:
            self._acknowledge(m, promise.terms, c, now)
        if promise.page:
            c.paged = True
            self._open_page(conv, m, now)
            # The answer and the breach change nothing but a page: the breach is worked out
            # from the recorded answer (`_commitment`), joining from its time (above).
            if answered_at is not None:
                self._at(answered_at, _ANSWER, c)
            self._at(due.due_at, _BREACH, c)

    def _acknowledge(
        self, m: TrafficMessage, terms: ClientTerms, c: _Commitment, now: datetime
    ) -> None:
        if not self.directory.auto_replies[terms.tier]:
            return
        contact = ContactRef(
            id=0,
            client_id=m.client,
            name=m.contact if m.named else None,
            identity_id=0,
            opted_out=m.opted_out,
        )
        policy = self.directory.escalations.get(m.client or "")
        name = self.on_call.derived(
            ("first", id(policy)),
            now,
            lambda who: decisions.first_oncall_name(policy, self.staff, who),
        )
        text = decisions.acknowledgement(self.directory, terms, contact, c.due_at, now, name)
        if text is not None:
            self.acks.append(
                AckResult(
                    message_at=m.at,
                    client=m.client,
                    contact=m.contact,
                    channel=m.channel,
                    promised_at=c.due_at,
                    oncall_name=name or decisions.ONCALL_FALLBACK,
                    text=text,
                    conversation=m.conversation,
                )
            )

    # ------------------------------------------------------------------ pages
    def _open_page(self, conv: _Conversation, m: TrafficMessage, now: datetime) -> None:
        policy = self.directory.escalations.get(m.client or "")
        if policy is None:
            return  # the live worker logs a warning: nobody to page
        if conv.page is not None and conv.page.state == "open":
            return  # one is open already: more messages do not page again
        page = _Page(len(self.pages) + 1, m, policy, now)
        self.pages.append(page)
        conv.page = page
        self._at(now, _STEP, (page, esc.Position(1, 0)))
        if m.acked_after is not None:
            self._at(now + m.acked_after, _ACK, page)

    def _step(self, item: tuple[_Page, esc.Position], now: datetime) -> None:
        page, position = item
        if page.state != "open":
            return
        policy = page.policy
        step = policy.steps[position.step - 1]
        people = self._notify_step(page, step, position, now, breach=False)
        page.step, page.round = position.step, position.round
        page.steps_reached = max(page.steps_reached, position.step)
        following = decisions.after_step(policy, position, people, self.staff, now)
        if following is not None:
            self._at(following[1], _STEP, (page, following[0]))

    def _notify_step(
        self, page: _Page, step: esc.Step, position: esc.Position, now: datetime, *, breach: bool
    ) -> list[str]:
        people = self.on_call.derived(
            ("step", id(page.policy), position.step),
            now,
            lambda who: decisions.step_people(page.policy, step, who),
        )
        for staff_id, rule, due in decisions.step_notices(page.policy, people, self.staff, now):
            key = (position.round, position.step, breach, staff_id, rule.channel)
            if key in page.keys:
                continue
            page.keys.add(key)
            note = _Note(
                next(self.note_ids),
                page,
                staff_id,
                rule.channel,
                position.step,
                position.round,
                due,
                breach,
                (staff_id, rule.channel),
            )
            page.notes.append(note)
            self.queued[note.where].append(note)
            self._at(due, _NOTIFY, note)
        return people

    def _notify(self, note: _Note, now: datetime) -> None:
        if note.state != "scheduled" or note.page.state != "open":
            return
        where = note.where
        hold = esc.coalesce_until(self.last_sent.get(where), now, self.coalesce)
        if hold is not None:
            if not note.held:  # the live hold is a timer keyed by the notification: once
                note.held = True
                self._at(hold, _NOTIFY, note)
            return
        queue = self.queued[where]
        if len(queue) == 1:  # the usual case: this one alone
            due = [note]
        else:
            due = [
                n
                for n in queue
                if n.state == "scheduled" and n.page.state == "open" and n.due_at <= now
            ]
            if len(due) > 1:
                due.sort(key=lambda n: (n.page.id, n.id))
        person = self.staff.get(note.staff)
        if person is None or not due:
            return
        reachable = self.reachable.get(where)
        if reachable is None:
            reachable = self.reachable[where] = (
                decisions.staff_target(person, note.channel) is not None
            )
        if not reachable:
            return
        night = night_of(now, self.zones.get(note.staff, self.zone)) is not None
        for i, n in enumerate(due):
            n.state = "sent"
            n.page.sent.append(
                # staff, name, step, round, channel, at, night, breach, coalesced
                Notification(
                    n.staff, person.name, n.step, n.round, n.channel, now, night, n.breach, i > 0
                )
            )
        self.last_sent[where] = now
        self.queued[where] = [n for n in queue if n.state == "scheduled"] if len(queue) > 1 else []

    def _stop(self, page: _Page) -> None:
        for note in page.notes:
            if note.state == "scheduled":
                note.state = "cancelled"

    def _ack(self, page: _Page, now: datetime) -> None:
        if page.state != "open":
            return
        page.state, page.ended, page.ended_at = "acknowledged", "acknowledged", now
        self._stop(page)

    # ------------------------------------------------------------------ the commitment ends
    def _answer(self, c: _Commitment, now: datetime) -> None:
        c.answered = True
        conv = self.conversations[c.message.conversation]
        page = conv.page
        if page is not None and page.state != "resolved":
            if page.state == "open":
                page.ended, page.ended_at = "answered", now
            page.state = "resolved"
            self._stop(page)
            conv.page = None

    def _breach(self, c: _Commitment, now: datetime) -> None:
        if c.answered:
            return
        page = self.conversations[c.message.conversation].page
        if page is None or page.state != "open" or page.step < 1:
            return
        position = esc.Position(page.step, page.round)
        self._notify_step(page, page.policy.steps[page.step - 1], position, now, breach=True)

    # ------------------------------------------------------------------ the outcome
    def outcome(self, label: str, config: str) -> Outcome:
        commitments = tuple(self._commitment(c) for c in self.commitments)
        pages = tuple(self._page(p) for p in self.pages)
        return Outcome(
            label=label,
            config=config,
            commitments=commitments,
            acknowledgements=tuple(self.acks),
            pages=pages,
            people=self._people(pages),
            weeks=self._weeks(commitments, pages),
        )

    def _commitment(self, c: _Commitment) -> CommitmentResult:
        m = c.message
        # No recorded answer: breached once its due time passed within the period replayed.
        answered = c.answered_at
        breached = answered > c.due_at if answered is not None else c.due_at < self.end_at
        return CommitmentResult(  # in the order of its fields: one per commitment, many
            m.at,
            m.client,
            m.contact,
            m.channel,
            c.tier,
            c.after_hours,
            c.due_at,
            c.at_risk_at,
            c.answered_at,
            breached,
            c.paged,
            c.messages,
            m.conversation,
        )

    def _page(self, p: _Page) -> PageResult:
        m = p.message
        return PageResult(
            message_at=m.at,
            client=m.client,
            contact=m.contact,
            opened_at=p.opened_at,
            notifications=tuple(sorted(p.sent, key=lambda n: n.at)),
            steps_reached=p.steps_reached,
            ended=p.ended,
            ended_at=p.ended_at,
            nobody_paged=not p.notes,
            conversation=m.conversation,
        )

    def _people(self, pages: Sequence[PageResult]) -> tuple[PersonLoad, ...]:
        sent: dict[str, int] = defaultdict(int)
        paged: dict[str, set[int]] = defaultdict(set)
        by_step: dict[str, dict[int, set[int]]] = defaultdict(lambda: defaultdict(set))
        nights: dict[str, set[date]] = defaultdict(set)
        names: dict[str, str] = {}
        for index, page in enumerate(pages):
            for n in page.notifications:
                names[n.staff] = n.name
                paged[n.staff].add(index)
                by_step[n.staff][n.step].add(index)
                if not n.coalesced:
                    sent[n.staff] += 1
                    woken = night_of(n.at, self.zones.get(n.staff, self.zone)) if n.night else None
                    if woken is not None:
                        nights[n.staff].add(woken)
        return tuple(
            PersonLoad(
                staff=staff,
                name=names[staff],
                notifications=sent[staff],
                pages=len(paged[staff]),
                by_step=tuple(sorted((s, len(ids)) for s, ids in by_step[staff].items())),
                nights_woken=len(nights[staff]),
                nights=tuple(sorted(nights[staff])),
            )
            for staff in sorted(names)
        )

    def _weeks(
        self, commitments: Sequence[CommitmentResult], pages: Sequence[PageResult]
    ) -> tuple[WeekCount, ...]:
        mondays: list[date] = []
        week = _monday(self.start)
        while week <= _monday(self.end):
            mondays.append(week)
            week += timedelta(days=7)
        # Each week's first instant (local midnight of its Monday) as POSIX seconds.
        edges = [
            datetime.combine(day, time(), self.zone).timestamp()
            for day in [*mondays, mondays[-1] + timedelta(days=7)]
        ]
        counts = [[0, 0, 0, 0, 0, 0] for _ in mondays]

        def add(at: datetime, column: int) -> None:
            i = bisect.bisect_right(edges, at.timestamp()) - 1
            if 0 <= i < len(counts):
                counts[i][column] += 1

        for m in self.messages:
            add(m.at, 0)
        for c in commitments:
            add(c.message_at, 1)
            if c.breached:
                add(c.message_at, 3)
        for p in pages:
            add(p.opened_at, 2)
            for n in p.notifications:
                if not n.coalesced:
                    add(n.at, 4)
                    if n.night:
                        add(n.at, 5)
        return tuple(WeekCount(day, *row) for day, row in zip(mondays, counts, strict=True))


class _OnCallMemo:
    """`esc.on_call_lookup` at the replay's instants, each answer kept for as long as it is
    sure to hold: a rotation's current person until `on_call(...).until` (the first instant
    the answer changes, overrides included), a `+N` target for the scheduled shift it was
    asked in (it counts shifts from the current one). Only the window is computed here; every
    answer is the lookup's own."""

    def __init__(self, rotations: Mapping[str, Rotation], overrides: Sequence[Override]) -> None:
        self.rotations = rotations
        self.overrides = tuple(overrides)
        self.kept: dict[tuple[str, int], tuple[datetime, datetime | None, str | None]] = {}
        self.derived_kept: dict[Hashable, tuple[datetime, datetime | None, Any]] = {}

    def derived(self, key: Hashable, now: datetime, compute: Callable[[decisions.OnCall], T]) -> T:
        """What `compute` makes of the lookup at `now` (whom a step names, the on-call name of
        an acknowledgement), kept while every answer it asked for holds: from `now` to the
        first of their windows' ends. It asks the same questions as long as the answers it
        got stay the same, so it decides the same."""
        kept = self.derived_kept.get(key)
        if kept is not None and kept[0] <= now and (kept[1] is None or now < kept[1]):
            found: T = kept[2]
            return found
        end: datetime | None = None

        def who(rotation_id: str, offset: int) -> str | None:
            nonlocal end
            answer = self(rotation_id, offset, now)
            until = self.kept[(rotation_id, offset)][1]
            if until is not None and (end is None or until < end):
                end = until
            return answer

        value = compute(who)
        self.derived_kept[key] = (now, end, value)
        return value

    def __call__(self, rotation_id: str, offset: int, now: datetime) -> str | None:
        key = (rotation_id, offset)
        kept = self.kept.get(key)
        if kept is not None and kept[0] <= now and (kept[1] is None or now < kept[1]):
            return kept[2]
        overrides = [o for o in self.overrides if o.end > now]
        answer = esc.on_call_lookup(self.rotations, now, overrides)(rotation_id, offset)
        rotation = self.rotations.get(rotation_id)
        if rotation is None:
            self.kept[key] = (now, None, answer)
        elif offset == 0:
            self.kept[key] = (now, on_call(rotation, now, overrides).until, answer)
        else:
            shift = shift_at(rotation, now)
            if shift is None:  # before the first handoff: until it
                self.kept[key] = (now, handoff_at(rotation, 0), answer)
            else:
                self.kept[key] = (shift.start, shift.end, answer)
        return answer


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())
