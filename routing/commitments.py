"""Response-time commitments: a promise per client message, and how it ends.

A commitment starts with the first client message that finds none open on its conversation,
passes through pending and (at the tier's share of its window) at risk, and ends met (an agency
reply in time), breached (the due time passed; a later reply is recorded as `answered_at`), or
unanswered (the conversation was closed with no reply). Every change is an event with its time.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime


class State(enum.StrEnum):
    PENDING = "pending"
    AT_RISK = "at_risk"
    MET = "met"
    BREACHED = "breached"
    UNANSWERED = "unanswered"


OPEN_STATES = frozenset({State.PENDING, State.AT_RISK})


@dataclass(frozen=True, slots=True)
class Commitment:
    id: int | None
    conversation_id: int
    tier: str
    state: State
    after_hours: bool
    started_at: datetime
    due_at: datetime
    at_risk_at: datetime
    met_at: datetime | None = None
    breached_at: datetime | None = None
    answered_at: datetime | None = None  # the first agency reply, in time or not
    closed_at: datetime | None = None

    @property
    def awaiting_reply(self) -> bool:
        """No agency reply yet and not closed: a client message joins this commitment."""
        return self.answered_at is None and self.state is not State.UNANSWERED


@dataclass(frozen=True, slots=True)
class Event:
    state: State | str  # a State, or "answered" for a reply after a breach
    at: datetime


def answer(c: Commitment, now: datetime) -> tuple[Commitment, list[Event]]:
    """The agency replied. In time: met. After a breach: the breach stands, answered recorded."""
    if not c.awaiting_reply:
        return c, []
    if c.state in OPEN_STATES:
        return replace(c, state=State.MET, met_at=now, answered_at=now), [Event(State.MET, now)]
    return replace(c, answered_at=now), [Event("answered", now)]


def becomes_at_risk(c: Commitment, now: datetime) -> tuple[Commitment, list[Event]]:
    if c.state is not State.PENDING:
        return c, []
    return replace(c, state=State.AT_RISK), [Event(State.AT_RISK, now)]


def falls_due(c: Commitment, now: datetime) -> tuple[Commitment, list[Event]]:
    if c.state not in OPEN_STATES:
        return c, []
    return replace(c, state=State.BREACHED, breached_at=now), [Event(State.BREACHED, now)]


def close_unanswered(c: Commitment, now: datetime) -> tuple[Commitment, list[Event]]:
    """Closing with no reply is its own outcome, not a silent met (a breach stays a breach)."""
    if not c.awaiting_reply:
        return c, []
    if c.state is State.BREACHED:
        return replace(c, closed_at=now, answered_at=None), [Event("closed", now)]
    return (
        replace(c, state=State.UNANSWERED, closed_at=now),
        [Event(State.UNANSWERED, now)],
    )
