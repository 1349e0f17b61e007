"""The inbound journal: what providers delivered, stored before they are answered.

A webhook writes one row per delivery (unique per channel and provider key, so a retry is
a no-op) and answers; the worker routes pending rows, one transaction each. Many concurrent
webhooks share one transaction (`write_batch`), so durability costs one commit per batch.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Integer, Table, bindparam, case, func, or_, select, update
from sqlalchemy.orm import Session

from routing.messages import Attachment, Channel, InboundMessage, OptKeyword
from storage.db import execute, run
from storage.tables import InboundDeliveryRow
from storage.types import UTCDateTime
from storage.upsert import ROWS_PER_INSERT, ignoring_rows, update_row

PENDING, ROUTED, FAILED = "pending", "routed", "failed"


def inbound_payload(msg: InboundMessage) -> dict[str, Any]:
    return {
        "channel": msg.channel.value,
        "provider_id": msg.provider_id,
        "address": msg.address,
        "text": msg.text,
        "received_at": msg.received_at.isoformat(),
        "attachments": [
            {k: v for k, v in asdict(a).items() if v is not None} for a in msg.attachments
        ],
        "opt_keyword": msg.opt_keyword.value if msg.opt_keyword else None,
        "chat_id": msg.chat_id,
        "thread_id": msg.thread_id,
        "edit_of": msg.edit_of,
        "edited_at": msg.edited_at.isoformat() if msg.edited_at else None,
        "sender_name": msg.sender_name,
        "raw": msg.raw,
    }


def message_from_payload(payload: dict[str, Any]) -> InboundMessage:
    return InboundMessage(
        channel=Channel(payload["channel"]),
        provider_id=payload["provider_id"],
        address=payload["address"],
        text=payload.get("text") or "",
        received_at=datetime.fromisoformat(payload["received_at"]),
        attachments=tuple(Attachment(**a) for a in payload.get("attachments") or ()),
        opt_keyword=OptKeyword(payload["opt_keyword"]) if payload.get("opt_keyword") else None,
        chat_id=payload.get("chat_id"),
        thread_id=payload.get("thread_id"),
        edit_of=payload.get("edit_of"),
        edited_at=_time(payload.get("edited_at")),
        sender_name=payload.get("sender_name"),
        raw=payload.get("raw") or {},
    )


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass(frozen=True, slots=True)
class JournalEntry:
    channel: Channel
    key: str
    kind: str
    payload: dict[str, Any]
    received_at: datetime


@dataclass(frozen=True, slots=True)
class PendingInbound:
    id: int
    channel: Channel
    key: str
    kind: str
    payload: dict[str, Any]
    received_at: datetime
    attempts: int


def write_batch(conn: Connection, entries: list[JournalEntry]) -> None:
    """Journal deliveries in the caller's transaction (on an autocommit connection, each
    statement its own); ones seen before are left as they are. Up to ROWS_PER_INSERT a
    statement: one round trip to PostgreSQL for a batch that small."""
    table = cast(Table, InboundDeliveryRow.__table__)
    for start in range(0, len(entries), ROWS_PER_INSERT):
        chunk = entries[start : start + ROWS_PER_INSERT]
        rows = [
            {
                "channel": e.channel.value,
                "delivery_key": e.key,
                "kind": e.kind,
                "payload": e.payload,
                "state": PENDING,
                "attempts": 0,
                "received_at": e.received_at,
            }
            for e in chunk
        ]
        stmt, params = ignoring_rows(conn.dialect.name, table, rows)
        execute(conn, stmt, params)


class InboundQueue:
    def __init__(self, session: Session) -> None:
        self.session = session

    def claim(self, now: datetime, limit: int) -> list[PendingInbound]:
        """Lock the oldest pending deliveries that are due for this transaction, in order
        (SKIP LOCKED on PostgreSQL). One that failed waits for its retry time, so it holds
        up no other."""
        postgres = self.session.get_bind().dialect.name == "postgresql"
        query = _CLAIM_LOCKED if postgres else _CLAIM
        return [
            PendingInbound(
                row.id,
                Channel(row.channel),
                row.delivery_key,
                row.kind,
                dict(row.payload or {}),
                row.received_at,
                row.attempts,
            )
            for row in run(self.session, query, {"now": now, "limit": limit})
        ]

    def mark_routed(self, entry: PendingInbound, message_id: int | None) -> None:
        update_row(self.session, InboundDeliveryRow, entry.id, state=ROUTED, message_id=message_id)

    def mark_routed_many(self, routed: Sequence[tuple[PendingInbound, int | None]]) -> None:
        """`mark_routed` of several deliveries, up to ROWS_PER_INSERT in one statement: a
        batch's routing on PostgreSQL then pays a round trip for these, not one a delivery."""
        for start in range(0, len(routed), ROWS_PER_INSERT):
            chunk = routed[start : start + ROWS_PER_INSERT]
            params: dict[str, Any] = {"state": ROUTED}
            for i, (entry, message_id) in enumerate(chunk):
                params[f"id_{i}"], params[f"message_{i}"] = entry.id, message_id
            run(self.session, _routed_rows(len(chunk)), params)

    def mark_error(self, entry: PendingInbound, error: str, retry_at: datetime | None) -> None:
        """After routing failed (in a fresh transaction): try again at `retry_at`, or give up."""
        self.session.execute(
            update(InboundDeliveryRow)
            .where(InboundDeliveryRow.id == entry.id)
            .values(
                attempts=entry.attempts + 1,
                last_error=error[:500],
                state=FAILED if retry_at is None else PENDING,
                next_attempt_at=retry_at,
            )
        )

    def pending_count(self) -> int:
        return int(
            self.session.execute(
                select(func.count())
                .select_from(InboundDeliveryRow)
                .where(InboundDeliveryRow.state == PENDING)
            ).scalar_one()
        )

    def next_due_at(self) -> datetime | None:
        """When the soonest pending delivery may be routed (its retry time, else at once)."""
        value = self.session.execute(
            select(
                func.min(
                    func.coalesce(
                        InboundDeliveryRow.next_attempt_at, InboundDeliveryRow.received_at
                    ),
                    type_=UTCDateTime(),
                )
            ).where(InboundDeliveryRow.state == PENDING)
        ).scalar_one_or_none()
        return value


# The oldest pending deliveries that are due (built once, as the worker claims each cycle).
_CLAIM = (
    select(InboundDeliveryRow)
    .where(
        InboundDeliveryRow.state == PENDING,
        or_(
            InboundDeliveryRow.next_attempt_at.is_(None),
            InboundDeliveryRow.next_attempt_at <= bindparam("now"),
        ),
    )
    .order_by(InboundDeliveryRow.id)
    .limit(bindparam("limit"))
)
_CLAIM_LOCKED = _CLAIM.with_for_update(skip_locked=True)


@functools.lru_cache(maxsize=ROWS_PER_INSERT)
def _routed_rows(count: int) -> Any:
    """UPDATE of `count` deliveries to routed, each with its message (`id_<i>`, `message_<i>`),
    built once a count."""
    ids = [bindparam(f"id_{i}", type_=Integer) for i in range(count)]
    message = case(
        *(
            (InboundDeliveryRow.id == ids[i], bindparam(f"message_{i}", type_=Integer))
            for i in range(count)
        )
    )
    return (
        update(InboundDeliveryRow)
        .where(InboundDeliveryRow.id.in_(ids))
        .values(state=bindparam("state"), message_id=message)
    )
