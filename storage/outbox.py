"""The outbox: messages to send, claimed by workers, retried with backoff, never lost.

Rows are written in the transaction that caused them (storage.unit_of_work). The worker
claims due rows with a lease: on PostgreSQL with FOR UPDATE SKIP LOCKED so that several
workers never take the same row; a worker that dies mid-send leaves a lease that runs out,
and the row is claimed again (at-least-once: providers give us no idempotency key).

Order: rows to one recipient on one channel leave in the order they were written, one at a
time. A row is claimed only when no earlier row to the same (channel, recipient) is still
pending or sending, so a later row waits while an earlier one is retried, also across
workers and restarts. "Earlier" is by (created_at, id): a row scheduled for later (created
with a future time) holds back nothing before its time. A row that failed for good no longer
holds back later rows; when it was a part of a message, the message's later parts fail with
it (half a message helps nobody), and the recipient's next message goes. Rows enqueued with
`ordered=False` (for rows that read the current state themselves when they are sent) neither
wait nor hold back.

Parts: a message too long for its channel is one row per part (`enqueue_parts`, same
`message_id`, `part` 0, 1, ...); the order rule sends part 2 only once part 1 was accepted.
Each part keeps its own delivery state; the message's `delivery` is the least advanced of
its parts' (failed if any part failed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, case, exists, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from routing.messages import DELIVERY_RANK, Channel, Delivery, delivery_moves_forward
from storage.db import run
from storage.tables import MessageRow, OutboxRow
from storage.upsert import insert_row, update_row

PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"
UNFINISHED = (PENDING, SENDING)


def _first_in_line() -> Any:
    """No earlier row to the same recipient is unfinished (the order rule). Served by the
    index on (channel, recipient, state, created_at): one short range per unfinished state."""
    earlier = aliased(OutboxRow, name="earlier")
    return or_(
        OutboxRow.ordered.is_(False),
        ~exists().where(
            earlier.channel == OutboxRow.channel,
            earlier.recipient == OutboxRow.recipient,
            earlier.state.in_(UNFINISHED),
            earlier.created_at <= OutboxRow.created_at,
            or_(earlier.created_at < OutboxRow.created_at, earlier.id < OutboxRow.id),
            earlier.ordered.is_(True),
        ),
    )


# Built once: a fresh alias per query would cost SQLAlchemy its statement cache, which an
# idle worker asking "what is due next?" several times a second would feel.
FIRST_IN_LINE = _first_in_line()


@dataclass(frozen=True, slots=True)
class MessagePart:
    """One provider message of a message (`index` from 0): its delivery, the provider's id
    for it once accepted, and the error when it failed."""

    index: int
    delivery: str
    provider_id: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    kind: str
    channel: Channel
    recipient: str
    payload: dict[str, Any]
    attempts: int
    message_id: int | None
    created_at: datetime
    # Claimed from a dead worker's lease: the last try may have reached the provider.
    uncertain: bool = False
    part: int = 0


class Outbox:
    def __init__(self, session: Session) -> None:
        self.session = session

    def enqueue(
        self,
        *,
        kind: str,
        channel: Channel,
        recipient: str,
        payload: dict[str, Any],
        at: datetime,
        message_id: int | None = None,
        part: int = 0,
        ordered: bool = True,
    ) -> int:
        """One row due at `at`. `ordered=False`: the row neither waits for earlier rows to
        its recipient nor holds back later ones (see the module's docstring)."""
        return insert_row(
            self.session,
            OutboxRow.__table__,
            {
                "kind": kind,
                "channel": channel.value,
                "recipient": recipient,
                "payload": payload,
                "message_id": message_id,
                "part": part,
                "ordered": ordered,
                "delivery": Delivery.QUEUED.value if message_id is not None else None,
                "state": PENDING,
                "attempts": 0,
                "next_attempt_at": at,
                "created_at": at,
            },
        )

    def enqueue_parts(
        self,
        texts: Sequence[str],
        *,
        kind: str,
        channel: Channel,
        recipient: str,
        payload: dict[str, Any],
        at: datetime,
        message_id: int,
    ) -> tuple[MessagePart, ...]:
        """A message cut into parts (adapters/text_parts.py `split_for`): one row per part, in
        order, each with `payload` and its own text. The parts, all queued, for the API."""
        texts = list(texts) or [str(payload.get("text", ""))]
        for index, text in enumerate(texts):
            self.enqueue(
                kind=kind,
                channel=channel,
                recipient=recipient,
                payload={**payload, "text": text},
                at=at,
                message_id=message_id,
                part=index,
            )
        return tuple(MessagePart(i, Delivery.QUEUED.value) for i in range(len(texts)))

    def claim(self, now: datetime, lease: timedelta, limit: int = 10) -> list[OutboxItem]:
        """Take up to `limit` due rows for this worker, at most one per recipient (the first
        in line); the caller commits at once."""
        postgres = self.session.get_bind().dialect.name == "postgresql"
        query = _CLAIM_LOCKED if postgres else _CLAIM
        rows = run(self.session, query, {"now": now, "limit": limit}).all()
        if not rows:
            return []
        ids = [row.id for row in rows]
        run(self.session, _CLAIMED, {"ids": ids, "until": now + lease})  # one for the batch
        return [
            OutboxItem(
                id=row.id,
                kind=row.kind,
                channel=Channel(row.channel),
                recipient=row.recipient,
                payload=dict(row.payload),
                attempts=row.attempts + 1,
                message_id=row.message_id,
                created_at=row.created_at,
                uncertain=row.state == SENDING,
                part=row.part,
            )
            for row in rows
        ]

    def sent_as_another(self, item: OutboxItem, provider_id: str) -> bool:
        """Whether another row was recorded as sent with this provider id: the provider's
        record of an identical text (the same reply twice, equal parts) is not this row's."""
        return (
            self.session.execute(
                select(OutboxRow.id)
                .where(
                    OutboxRow.channel == item.channel.value,
                    OutboxRow.provider_id == provider_id,
                    OutboxRow.id != item.id,
                )
                .limit(1)
            ).first()
            is not None
        )

    def renew(self, item: OutboxItem, until: datetime) -> None:
        """Keep a claimed row's lease while its worker is still at it (recording a send)."""
        self.session.execute(
            update(OutboxRow)
            .where(OutboxRow.id == item.id, OutboxRow.state == SENDING)
            .values(locked_until=until)
        )

    def mark_sent(
        self, item: OutboxItem, provider_id: str | None, now: datetime, *, row_only: bool = False
    ) -> None:
        """The provider accepted the row. `row_only`: record it on the row alone, leaving its
        message as it is (the fallback when recording it in full keeps failing)."""
        if row_only and provider_id is not None:
            provider_id = provider_id[:128]  # whatever the provider said, the row must take it
        # Forward only (a status callback may have come first): rows of a message carry its
        # delivery, the others none.
        params = {"row": item.id, "provider": provider_id, "at": now}
        if item.message_id is None or row_only:
            run(self.session, _SENT if item.message_id is None else _SENT_WITH_DELIVERY, params)
            return
        delivery, parts = run(self.session, _SENT_COUNTING_PARTS, params).one()
        if parts == 1 and item.part == 0 and delivery != Delivery.FAILED.value:
            # The message's only part: its delivery is the part's, and no other part's
            # record can race this one, so there is nothing to lock or to read.
            message = {"message": item.message_id, "provider": provider_id, "delivery": delivery}
            run(self.session, _MESSAGE_SENT, message)
            return
        if item.part == 0:  # the message's id at the provider is its first part's
            run(
                self.session,
                _MESSAGE_PROVIDER,
                {"message": item.message_id, "provider": provider_id},
            )
        self.settle_message(item.message_id)

    def mark_retry(self, item: OutboxItem, error: str, next_attempt_at: datetime) -> None:
        self.session.execute(
            update(OutboxRow)
            .where(OutboxRow.id == item.id)
            .values(
                state=PENDING,
                last_error=error[:500],
                next_attempt_at=next_attempt_at,
                locked_until=None,
            )
        )

    def mark_failed(self, item: OutboxItem, error: str) -> None:
        """Failed for good. A part's failure also fails the message's later parts, unsent."""
        failed: dict[str, Any] = {"state": FAILED, "locked_until": None}
        if item.message_id is not None:
            failed["delivery"] = Delivery.FAILED.value
        self.session.execute(
            update(OutboxRow)
            .where(OutboxRow.id == item.id)
            .values(**failed, last_error=error[:500])
        )
        if item.message_id is None:
            return
        self.session.execute(
            update(OutboxRow)
            .where(
                OutboxRow.message_id == item.message_id,
                OutboxRow.part > item.part,
                OutboxRow.state.in_(UNFINISHED),
            )
            .values(**failed, last_error=f"not sent: part {item.part + 1} failed")
        )
        self.settle_message(item.message_id)

    def apply_delivery_status(
        self, channel: Channel, provider_id: str, delivery: Delivery, error: str | None
    ) -> bool | None:
        """A provider's status callback about a part we sent: move the part's delivery
        forward, and its message's with it. True if anything changed; None if no part has
        this provider id (a message sent before parts were recorded)."""
        part = self.session.execute(
            select(OutboxRow)
            .where(
                OutboxRow.channel == channel.value,
                OutboxRow.provider_id == provider_id,
                OutboxRow.message_id.is_not(None),
            )
            .order_by(OutboxRow.id)
            .limit(1)
            .with_for_update()
        ).scalar_one_or_none()
        if part is None or part.message_id is None:
            return None
        current = Delivery(part.delivery or Delivery.SENT.value)
        if not delivery_moves_forward(current, delivery):
            return False
        part.delivery = delivery.value
        if delivery is Delivery.FAILED:
            part.last_error = (error or "undelivered")[:500]
        self.session.flush()
        self.settle_message(part.message_id)
        return True

    def settle_message(self, message_id: int) -> None:
        """Set a message's delivery from its parts': failed if any failed (with that part's
        error), else the least advanced. Parts only ever move forward, so does this."""
        # Locked first: two parts' callbacks at once each see the other's change (PostgreSQL;
        # a SQLite transaction that writes holds the database's one write lock already).
        if self.session.get_bind().dialect.name == "postgresql":
            run(self.session, _LOCK_MESSAGE, {"message": message_id})
        rows = run(self.session, _PARTS, {"message": message_id}).all()
        if not rows:
            return
        count = len(rows)
        failed = [(part, err) for part, delivery, err in rows if delivery == Delivery.FAILED.value]
        if failed:
            part, err = failed[0]
            where = f"part {part + 1} of {count}: " if count > 1 else ""
            values: dict[str, Any] = {
                "delivery": Delivery.FAILED.value,
                "error": f"{where}{err or 'failed'}"[:500],
            }
        else:
            states = [Delivery(d or Delivery.QUEUED.value) for _, d, _ in rows]
            values = {"delivery": min(states, key=DELIVERY_RANK.__getitem__).value}
        update_row(self.session, MessageRow, message_id, if_set="delivery", **values)

    def parts_of(self, message_ids: Sequence[int]) -> dict[int, tuple[MessagePart, ...]]:
        """Each message's parts, in order (messages with no outbox rows are left out)."""
        if not message_ids:
            return {}
        rows = self.session.execute(
            select(
                OutboxRow.message_id,
                OutboxRow.part,
                OutboxRow.delivery,
                OutboxRow.provider_id,
                OutboxRow.last_error,
            )
            .where(OutboxRow.message_id.in_(list(message_ids)))
            .order_by(OutboxRow.message_id, OutboxRow.part, OutboxRow.id)
        ).all()
        found: dict[int, list[MessagePart]] = {}
        for message_id, part, delivery, provider_id, error in rows:
            if message_id is None:  # not selected: the query asks for these ids
                continue
            state = delivery or Delivery.QUEUED.value
            found.setdefault(message_id, []).append(
                MessagePart(
                    part, state, provider_id, error if state == Delivery.FAILED.value else None
                )
            )
        return {k: tuple(v) for k, v in found.items()}

    def depth(self, now: datetime) -> tuple[int, float]:
        """Rows not yet sent, and the age in seconds of the oldest (for /metrics)."""
        count, oldest = self.session.execute(
            select(func.count(OutboxRow.id), func.min(OutboxRow.created_at)).where(
                OutboxRow.state.in_((PENDING, SENDING))
            )
        ).one()
        if oldest is None:
            return int(count), 0.0
        return int(count), max(0.0, (now - oldest).total_seconds())


def _forward(column: Any, to: Delivery) -> Any:
    """`column` moved forward to `to` in SQL: kept when it is already as far or further."""
    behind = [d.value for d in Delivery if DELIVERY_RANK[d] < DELIVERY_RANK[to]]
    return case((column.is_(None), to.value), (column.in_(behind), to.value), else_=column)


# What recording a send runs, once per row sent: built once (building a statement costs more
# than running it on SQLite).
_SENT = (
    update(OutboxRow)
    .where(OutboxRow.id == bindparam("row"))
    .values(
        state=SENT, provider_id=bindparam("provider"), sent_at=bindparam("at"), locked_until=None
    )
)
_SENT_WITH_DELIVERY = _SENT.values(delivery=_forward(OutboxRow.delivery, Delivery.SENT))
# The row's delivery after the change, and how many parts its message has.
_SIBLING = OutboxRow.__table__.alias("sibling")
_SENT_COUNTING_PARTS = _SENT_WITH_DELIVERY.returning(
    OutboxRow.delivery,
    select(func.count())
    .select_from(_SIBLING)
    .where(_SIBLING.c.message_id == OutboxRow.message_id)
    .scalar_subquery(),
)
# A message of one part: its id at the provider and its delivery (messages without delivery
# tracking keep none).
_MESSAGE_SENT = (
    update(MessageRow)
    .where(MessageRow.id == bindparam("message"))
    .values(
        provider_id=bindparam("provider"),
        delivery=case(
            (MessageRow.delivery.is_(None), None),
            else_=bindparam("delivery", type_=MessageRow.delivery.type),
        ),
    )
)
_MESSAGE_PROVIDER = (
    update(MessageRow)
    .where(MessageRow.id == bindparam("message"))
    .values(provider_id=bindparam("provider"))
)
# Due rows, first in line for their recipients, most overdue first (built once: a statement
# this size costs more to build than to run).
_CLAIM = (
    select(OutboxRow)
    .where(
        or_(
            (OutboxRow.state == PENDING) & (OutboxRow.next_attempt_at <= bindparam("now")),
            (OutboxRow.state == SENDING) & (OutboxRow.locked_until <= bindparam("now")),
        ),
        FIRST_IN_LINE,
    )
    .order_by(OutboxRow.next_attempt_at, OutboxRow.id)
    .limit(bindparam("limit"))
)
_CLAIM_LOCKED = _CLAIM.with_for_update(skip_locked=True)
_CLAIMED = (
    update(OutboxRow)
    .where(OutboxRow.id.in_(bindparam("ids", expanding=True)))
    .values(state=SENDING, attempts=OutboxRow.attempts + 1, locked_until=bindparam("until"))
)
_LOCK_MESSAGE = select(MessageRow.id).where(MessageRow.id == bindparam("message")).with_for_update()
_PARTS = (
    select(OutboxRow.part, OutboxRow.delivery, OutboxRow.last_error)
    .where(OutboxRow.message_id == bindparam("message"))
    .order_by(OutboxRow.part, OutboxRow.id)
)
