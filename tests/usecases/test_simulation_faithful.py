"""The what-if simulator is faithful: a recorded week run through the live worker (SQLite, a
frozen clock moved to every due timer in turn) and the same week replayed by the simulator
under the same configuration start the same commitments (same tiers and due times), send the
same acknowledgements (same text, so the same promised time and on-call name) and the same
page notifications (same people, steps, channels and times).

The week is Christmas week 2026 of the story agency (tests/data/story_agency.toml): after
hours before Monday's opening and at Monday's lunch break, Thursday the 24th (closed), the
25th (a Michigan public holiday), the weekend, a page escalating to its third step (Kim, the
one-person leadership rotation), pages coalesced for one person, an acknowledged page, a
breach while paging, a contact writing twice into one commitment, and an unknown sender.
The example agency (examples/agency.toml) adds delayed notify rules on Slack, Telegram and
SMS, the account team as a target, and a chain run twice (`repeat = 1`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.usecases.simulation.engine import Simulator
from bot.usecases.simulation.result import Outcome
from bot.usecases.simulation.traffic import TrafficMessage
from storage.db import Database
from storage.schedule import next_due
from tests.usecases.rig import ANA_AUTHOR, DANA, DETROIT, LUCY, Rig, build_rig

OMAR, GEORGE, STRANGER = "+13135550143", "+447700900123", "+13135550199"
WHO = {
    DANA: ("acme", "Dana Reyes"),
    OMAR: ("acme", "Omar Haddad"),
    LUCY: ("brightside", "Lucy Chen"),
    GEORGE: ("thames", "George Hill"),
    STRANGER: (None, STRANGER),
}
START, END = date(2026, 12, 21), date(2026, 12, 27)
EXAMPLE_CONFIG = Path(__file__).resolve().parents[2] / "examples" / "agency.toml"


@dataclass(frozen=True)
class Recorded:
    """One client message of the week, with what staff did after it (None: nothing)."""

    at: datetime
    sender: str
    answer_after: timedelta | None = None  # a staff reply in the conversation
    ack_after: timedelta | None = None  # its page acknowledged this long after opening


def _local(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, second, tzinfo=DETROIT)


WEEK = [
    # Monday 08:30, before opening: Jim on call (the handoff to Ana is at 09:00); nobody
    # answers for ten minutes, so all three steps run: Jim, Ana (next), Kim (leadership).
    Recorded(_local(21, 8, 30), DANA, answer_after=timedelta(minutes=10)),
    # Monday 10:00, open: Brightside's standard promise, 4 business hours; no page.
    Recorded(_local(21, 10, 0), LUCY, answer_after=timedelta(minutes=30)),
    # Monday's lunch break (12:00-13:00 closed): after hours; Ana acknowledges at once.
    Recorded(
        _local(21, 12, 30), DANA, answer_after=timedelta(minutes=20), ack_after=timedelta(seconds=2)
    ),
    # Tuesday evening: two of Acme's and Thames' people a second apart, so the same people
    # are paged twice within two minutes (coalesced); George's reply comes after his 1 h
    # promise, so the breach notifies the last step again.
    Recorded(_local(22, 19, 5, 0), GEORGE, answer_after=timedelta(hours=2)),
    Recorded(_local(22, 19, 5, 1), OMAR, answer_after=timedelta(minutes=30)),
    # Thursday the 24th is closed (an extra closed day): after hours all day; Dana writes
    # twice before anyone answers, one commitment.
    Recorded(_local(24, 11, 0), DANA, answer_after=timedelta(minutes=15)),
    Recorded(_local(24, 11, 1), DANA),
    # Christmas Day (a public holiday): Lucy's standard promise counts from Monday's opening.
    Recorded(_local(25, 14, 0), LUCY, answer_after=timedelta(hours=70)),
    # Saturday 03:00: a night page.
    Recorded(_local(26, 3, 0), DANA, answer_after=timedelta(minutes=45)),
    # Sunday: someone who is nobody's contact (the unknown senders' standard terms).
    Recorded(_local(27, 16, 0), STRANGER, answer_after=timedelta(hours=1)),
]


def _traffic(week: list[Recorded]) -> list[TrafficMessage]:
    return [
        TrafficMessage(
            at=r.at,
            client=WHO[r.sender][0],
            contact=WHO[r.sender][1],
            channel="sms",
            conversation=r.sender,
            answered_after=r.answer_after,
            acked_after=r.ack_after,
            named=WHO[r.sender][0] is not None,
        )
        for r in week
    ]


def _run_until(rig: Rig, until: datetime) -> None:
    """Move the frozen clock to each due timer in turn (the worker runs at its due time, as
    it would live), then to `until`."""
    for _ in range(10_000):
        with rig.services.reader() as uow:
            due = next_due(uow.session)
        if due is None or due > until:
            break
        rig.advance_to(max(due, rig.clock.now()))
    else:
        raise AssertionError("the worker kept finding work")
    rig.advance_to(until)


def _live_week(rig: Rig, week: list[Recorded]) -> dict[str, int]:
    """Run the week live; each sender's conversation id."""
    actions: list[tuple[datetime, int, str, Recorded]] = []
    for r in week:
        actions.append((r.at, 0, "message", r))
        if r.answer_after is not None:
            actions.append((r.at + r.answer_after, 1, "answer", r))
        if r.ack_after is not None:
            actions.append((r.at + r.ack_after, 1, "ack", r))
    conversations: dict[str, int] = {}
    for at, _, what, r in sorted(actions, key=lambda a: (a[0], a[1])):
        _run_until(rig, at)
        if what == "message":
            conversations[r.sender] = rig.client_writes(r.sender, "About our account")
        elif what == "answer":
            rig.services.reply(conversations[r.sender], "On it.", ANA_AUTHOR)
            rig.run_worker()
        else:
            page = rig.page_of(conversations[r.sender])
            assert page is not None, f"{r.sender}'s message at {r.at} opened no page"
            rig.services.acknowledge(page.id, "ana", via="test")
            rig.run_worker()
    _run_until(rig, _local(28, 23, 0))
    return conversations


def _live_facts(rig: Rig, conversations: dict[str, int]) -> tuple[list[tuple[Any, ...]], ...]:
    with rig.services.reader() as uow:
        pages = list(reversed(uow.pages.listing(None, 500)))
        notes = uow.pages.notifications_of([p.id for p in pages])
        views = {conv_id: sender for sender, conv_id in conversations.items()}
        commitments: list[tuple[Any, ...]] = []
        acks: list[tuple[Any, ...]] = []
        for sender, conv_id in conversations.items():
            for c, _ in uow.commitments.history(conv_id):
                commitments.append(
                    (
                        sender,
                        c.started_at,
                        c.tier,
                        c.after_hours,
                        c.due_at,
                        c.at_risk_at,
                        c.breached_at is not None,
                    )
                )
            acks.extend(
                (sender, m.created_at, m.text)
                for m in uow.conversations.messages(conv_id)
                if m.direction == "auto"
            )
        paged: list[tuple[Any, ...]] = [
            (
                views[p.conversation_id],
                p.opened_at,
                # How it ended: the acknowledgement stands even when a reply resolved it later.
                ("acknowledged", p.acknowledged_at)
                if p.acknowledged_at is not None
                else ("answered", p.resolved_at)
                if p.resolved_at is not None
                else ("exhausted", None),
                tuple(
                    (n.staff_id, n.step, n.channel, n.sent_at)
                    for n in sorted(notes[p.id], key=lambda n: (n.sent_at or n.due_at, n.id))
                    if n.state == "sent"
                ),
            )
            for p in pages
        ]
    return sorted(commitments, key=str), sorted(acks, key=str), paged


def _simulated_facts(outcome: Outcome) -> tuple[list[tuple[Any, ...]], ...]:
    commitments: list[tuple[Any, ...]] = sorted(
        (
            (
                c.conversation,
                c.message_at,
                c.tier,
                c.after_hours,
                c.due_at,
                c.at_risk_at,
                c.breached,
            )
            for c in outcome.commitments
        ),
        key=str,
    )
    acks: list[tuple[Any, ...]] = sorted(
        ((a.conversation, a.message_at, a.text) for a in outcome.acknowledgements), key=str
    )
    pages: list[tuple[Any, ...]] = [
        (
            p.conversation,
            p.opened_at,
            (p.ended, p.ended_at),
            tuple((n.staff, n.step, n.channel, n.at) for n in p.notifications),
        )
        for p in outcome.pages
    ]
    return commitments, acks, pages


def _utc(facts: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Instants compared as instants (SQLite gives them back in UTC), rows in one order."""

    def norm(v: object) -> object:
        if isinstance(v, datetime):
            return v.timestamp()
        if isinstance(v, tuple):
            return tuple(norm(x) for x in v)
        return v

    return sorted((tuple(norm(v) for v in row) for row in facts), key=repr)


def test_the_simulator_reproduces_a_recorded_week_of_the_live_worker(rig: Rig) -> None:
    conversations = _live_week(rig, WEEK)
    live_commitments, live_acks, live_pages = _live_facts(rig, conversations)

    directory = rig.services.directory
    assert directory is not None
    outcome = Simulator(directory).run(_traffic(WEEK), START, END)
    sim_commitments, sim_acks, sim_pages = _simulated_facts(outcome)

    assert _utc(sim_commitments) == _utc(live_commitments)
    assert _utc(sim_acks) == _utc(live_acks)
    assert _utc(sim_pages) == _utc(live_pages)
    # The week holds what it says it does.
    assert len(live_commitments) == len(WEEK) - 1  # Dana's second Thursday message joined
    assert max(n[1] for p in live_pages for n in p[3]) == 3  # escalated to Kim
    assert max(p.steps_reached for p in outcome.pages) == 3
    assert any(n[0] == "kim" for p in live_pages for n in p[3])
    assert any(c[6] for c in live_commitments)  # George's breach
    assert len(live_acks) >= 6


# The example agency pages in minutes, on Slack and Telegram before SMS (`sms@5m`), with
# the account team at step 2 and the chain run twice (`repeat = 1`).
EXAMPLE_WEEK = [
    # Unanswered for two hours: both rounds run, and the 1 h breach notifies step 3 again.
    Recorded(_local(22, 19, 5), DANA, answer_after=timedelta(hours=2)),
    # Half a minute later, the same people: their Slack and Telegram messages coalesce.
    Recorded(_local(22, 19, 5, 30), OMAR, answer_after=timedelta(minutes=40)),
    # Saturday night, acknowledged during step 2 (before the delayed SMS go out).
    Recorded(
        _local(26, 3, 0), DANA, answer_after=timedelta(minutes=50), ack_after=timedelta(minutes=12)
    ),
]


def test_the_simulator_reproduces_the_example_agencys_repeats_delays_and_channels(
    database: Database,
) -> None:
    rig = build_rig(database, _local(21, 9, 0), EXAMPLE_CONFIG)
    try:
        conversations = _live_week(rig, EXAMPLE_WEEK)
        live_commitments, live_acks, live_pages = _live_facts(rig, conversations)
        directory = rig.services.directory
        assert directory is not None
        outcome = Simulator(directory).run(_traffic(EXAMPLE_WEEK), START, END)
    finally:
        rig.container.inbound.stop()
    sim_commitments, sim_acks, sim_pages = _simulated_facts(outcome)

    assert _utc(sim_commitments) == _utc(live_commitments)
    assert _utc(sim_acks) == _utc(live_acks)
    assert _utc(sim_pages) == _utc(live_pages)
    channels = {n[2] for p in live_pages for n in p[3]}
    assert {"slack", "telegram", "sms"} <= channels
    assert len(live_pages[0][3]) > len({(n[0], n[1], n[2]) for n in live_pages[0][3]})  # round 2
