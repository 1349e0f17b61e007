"""Commitments and their events, mapped to routing.commitments values."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from routing.commitments import Commitment, Event, State
from storage.db import run
from storage.tables import CommitmentEventRow, CommitmentRow, ConversationRow, MessageRow
from storage.upsert import insert_ignore, update_row

# Any commitment on a conversation yet: a new one is its first when there is none.
_AWAITING = select(CommitmentRow).where(
    CommitmentRow.conversation_id == bindparam("conv"), CommitmentRow.awaiting.is_(True)
)
_AWAITING_LOCKED = _AWAITING.with_for_update()
# Inline: no id wanted back (else PostgreSQL's implicit RETURNING sends it SQLAlchemy's way,
# not storage/prepared.py's).
_ADD_EVENT = insert(cast(Table, CommitmentEventRow.__table__)).inline()
_ANY_ON_CONVERSATION = (
    select(CommitmentRow.id).where(CommitmentRow.conversation_id == bindparam("conv")).limit(1)
)
# Who answered: the author of the staff message recorded at the instant of the answer (the
# reports' definition, storage/reports.py).
_ANSWERER = (
    select(MessageRow.author_id)
    .where(
        MessageRow.conversation_id == bindparam("conv"),
        MessageRow.direction == "out",
        MessageRow.created_at == bindparam("at", type_=MessageRow.created_at.type),
    )
    .order_by(MessageRow.id)
    .limit(1)
)


def _to_domain(row: Any) -> Commitment:  # an object or a row: the same names
    return Commitment(
        id=row.id,
        conversation_id=row.conversation_id,
        tier=row.tier,
        state=State(row.state),
        after_hours=row.after_hours,
        started_at=row.started_at,
        due_at=row.due_at,
        at_risk_at=row.at_risk_at,
        met_at=row.met_at,
        breached_at=row.breached_at,
        answered_at=row.answered_at,
        closed_at=row.closed_at,
    )


class CommitmentRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def start(
        self, c: Commitment, trigger_message_id: int | None, *, first: bool | None = None
    ) -> Commitment | None:
        """Insert the commitment unless one already awaits a reply on that conversation
        (a racing message made it first); None in that case. `first`: whether it is the
        conversation's first commitment, when the caller knows (else read)."""
        if first is None:
            earlier = run(self.session, _ANY_ON_CONVERSATION, {"conv": c.conversation_id})
            first = earlier.first() is None
        new_id = insert_ignore(
            self.session,
            CommitmentRow.__table__,
            {
                "conversation_id": c.conversation_id,
                "tier": c.tier,
                "state": c.state.value,
                "awaiting": True,
                "after_hours": c.after_hours,
                "started_at": c.started_at,
                "due_at": c.due_at,
                "at_risk_at": c.at_risk_at,
                "trigger_message_id": trigger_message_id,
                "first_of_conversation": first,
            },
        )
        if new_id is None:
            return None
        self.add_events(new_id, [Event(c.state, c.started_at)])
        started = replace(c, id=new_id)
        self._mirror(started)
        return started

    def _mirror(self, c: Commitment) -> None:
        update_row(
            self.session,
            ConversationRow,
            c.conversation_id,
            commitment_id=c.id,
            commitment_state=c.state.value,
            due_at=c.due_at if c.awaiting_reply else None,
        )

    def awaiting(self, conversation_id: int, *, lock: bool = False) -> Commitment | None:
        query = _AWAITING_LOCKED if lock else _AWAITING
        row = run(self.session, query, {"conv": conversation_id}).one_or_none()
        return None if row is None else _to_domain(row)

    def get(self, commitment_id: int, *, lock: bool = False) -> Commitment | None:
        query = select(CommitmentRow).where(CommitmentRow.id == commitment_id)
        if lock:
            query = query.with_for_update()
        row = self.session.execute(query).scalar_one_or_none()
        return None if row is None else _to_domain(row)

    def save(
        self, c: Commitment, events: Sequence[Event], *, business_seconds: float | None = None
    ) -> None:
        """Its new state and times; when this records its answer, who answered (for the
        reports) and `business_seconds`, the open time it waited by its tier's calendar."""
        assert c.id is not None
        row = self.session.get(CommitmentRow, c.id)
        assert row is not None
        if c.answered_at is not None and row.answered_at is None:
            self.session.flush()  # the answer's message, if the caller just added it
            row.answered_by = self.session.execute(
                _ANSWERER, {"conv": c.conversation_id, "at": c.answered_at}
            ).scalar()
            row.business_seconds = business_seconds
        elif c.answered_at is None:
            row.answered_by = row.business_seconds = None
        row.state = c.state.value
        row.awaiting = c.awaiting_reply
        row.met_at, row.breached_at = c.met_at, c.breached_at
        row.answered_at, row.closed_at = c.answered_at, c.closed_at
        self.add_events(c.id, events)
        self._mirror(c)
        self.session.flush()

    def retier(self, c: Commitment) -> None:
        """Its tier and times recomputed (an unknown sender's conversation linked to a client:
        bot/usecases/contacts.py); started_at and the trigger stay."""
        assert c.id is not None
        row = self.session.get(CommitmentRow, c.id)
        assert row is not None
        row.tier, row.state, row.after_hours = c.tier, c.state.value, c.after_hours
        row.due_at, row.at_risk_at = c.due_at, c.at_risk_at
        self._mirror(c)
        self.session.flush()

    def unmeasured(
        self, tiers: Collection[str], after_id: int, limit: int
    ) -> list[tuple[int, str, datetime, datetime]]:
        """Answered commitments of `tiers` with no business time recorded (answered before
        migration 0016), by id after `after_id`: (id, tier, started_at, answered_at)."""
        rows = self.session.execute(
            select(
                CommitmentRow.id,
                CommitmentRow.tier,
                CommitmentRow.started_at,
                CommitmentRow.answered_at,
            )
            .where(
                CommitmentRow.id > after_id,
                CommitmentRow.answered_at.is_not(None),
                CommitmentRow.business_seconds.is_(None),
                CommitmentRow.tier.in_(list(tiers)),
            )
            .order_by(CommitmentRow.id)
            .limit(limit)
        )
        return [(r.id, r.tier, r.started_at, r.answered_at) for r in rows]

    def record_business_seconds(self, seconds: Mapping[int, float]) -> None:
        """The business time each commitment (by id) waited for its answer."""
        if seconds:
            self.session.execute(
                update(CommitmentRow),
                [{"id": i, "business_seconds": s} for i, s in seconds.items()],
            )

    def add_events(self, commitment_id: int, events: Iterable[Event]) -> None:
        rows = [
            {"commitment_id": commitment_id, "state": str(event.state), "at": event.at}
            for event in events
        ]
        for row in rows:  # Core, prepared (a statement a row costs less than executemany)
            run(self.session, _ADD_EVENT, row)

    def history(self, conversation_id: int) -> list[tuple[Commitment, list[Event]]]:
        rows = (
            self.session.execute(
                select(CommitmentRow)
                .where(CommitmentRow.conversation_id == conversation_id)
                .order_by(CommitmentRow.started_at, CommitmentRow.id)
            )
            .scalars()
            .all()
        )
        events: dict[int, list[Event]] = {r.id: [] for r in rows}
        if rows:
            for ev in self.session.execute(
                select(CommitmentEventRow)
                .where(CommitmentEventRow.commitment_id.in_(list(events)))
                .order_by(CommitmentEventRow.at, CommitmentEventRow.id)
            ).scalars():
                events[ev.commitment_id].append(Event(_state(ev.state), ev.at))
        return [(_to_domain(r), events[r.id]) for r in rows]

    def latest_by_conversation(self, conversation_ids: Sequence[int]) -> dict[int, Commitment]:
        """The current commitment of each conversation: the newest one."""
        if not conversation_ids:
            return {}
        rows = self.session.execute(
            select(CommitmentRow)
            .where(CommitmentRow.conversation_id.in_(list(conversation_ids)))
            .order_by(CommitmentRow.conversation_id, CommitmentRow.started_at, CommitmentRow.id)
        ).scalars()
        latest: dict[int, Commitment] = {}
        for row in rows:
            latest[row.conversation_id] = _to_domain(row)
        return latest

    def awaiting_all(self, limit: int) -> list[Commitment]:
        """Commitments still waiting for a reply, most urgent first."""
        rows = self.session.execute(
            select(CommitmentRow)
            .where(CommitmentRow.awaiting.is_(True))
            .order_by(CommitmentRow.due_at)
            .limit(limit)
        ).scalars()
        return [_to_domain(r) for r in rows]

    def awaiting_count(self) -> int:
        return int(
            self.session.execute(
                select(func.count())
                .select_from(CommitmentRow)
                .where(CommitmentRow.awaiting.is_(True))
            ).scalar_one()
        )

    def open_due_between(self, a: datetime, b: datetime) -> list[Commitment]:
        rows = self.session.execute(
            select(CommitmentRow)
            .where(CommitmentRow.awaiting.is_(True), CommitmentRow.due_at.between(a, b))
            .order_by(CommitmentRow.due_at)
        ).scalars()
        return [_to_domain(r) for r in rows]


def _state(value: str) -> State | str:
    try:
        return State(value)
    except ValueError:
        return value
