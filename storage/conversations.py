"""Conversations and their messages: what staff read and the changes they make."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.orm import Session, aliased

from routing.messages import Channel, Delivery, delivery_moves_forward
from storage.tables import ClientRow, ContactRow, ConversationRow, IdentityRow, MessageRow

UNKNOWN_CLIENT_NAME = "Unknown senders"
UNKNOWN_CLIENT_FILTER = "-"  # `client=-`: the unknown senders' conversations


@dataclass(frozen=True, slots=True)
class MessageView:
    id: int
    conversation_id: int
    direction: str
    channel: str
    text: str
    author_type: str
    author_id: str | None
    author_name: str | None
    created_at: datetime
    delivery: str | None
    error: str | None
    provider_id: str | None
    attachments: list[dict[str, Any]] = field(default_factory=list)
    edit_of: int | None = None


@dataclass(frozen=True, slots=True)
class ConversationView:
    id: int
    status: str
    channel: str
    chat_id: str
    client_id: str | None
    client_name: str
    contact_id: int
    contact_name: str | None
    address: str
    assignee: str | None
    created_at: datetime
    updated_at: datetime
    opted_out: bool
    unreachable: bool
    commitment_id: int | None = None
    commitment_state: str | None = None
    due_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ConversationFilter:
    status: str | None = None
    state: str | None = None  # the current commitment's
    client: str | None = None
    channel: str | None = None
    assignee: str | None = None
    unassigned: bool = False
    q: str | None = None


def encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[Any]:
    """Raises ValueError for anything that is not a cursor we made."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except Exception as exc:  # any garbage is the same answer to the caller
        raise ValueError("not a valid cursor") from exc
    if not isinstance(values, list):
        raise ValueError("not a valid cursor")
    return values


def _cursor_parts(cursor: str, kind: str) -> tuple[str, Any, int]:
    values = decode_cursor(cursor)
    if len(values) != 3 or values[0] != kind or not isinstance(values[2], int):
        raise ValueError("not a valid cursor for this sort order")
    if values[1] is not None:
        try:
            datetime.fromisoformat(values[1])
        except (TypeError, ValueError) as exc:
            raise ValueError("not a valid cursor") from exc
    return values[0], values[1], values[2]


class ConversationRepository:
    def __init__(self, session: Session, recorded: list[int] | None = None) -> None:
        self.session = session
        self.recorded = recorded if recorded is not None else []

    def _base_query(self) -> Any:
        identity = aliased(IdentityRow)
        return (
            select(ConversationRow, ContactRow, ClientRow, identity)
            .join(ContactRow, ContactRow.id == ConversationRow.contact_id)
            .outerjoin(ClientRow, ClientRow.id == ConversationRow.client_id)
            .outerjoin(
                identity,
                and_(
                    identity.contact_id == ConversationRow.contact_id,
                    identity.channel == ConversationRow.channel,
                ),
            )
        ), identity

    @staticmethod
    def _view(row: Any) -> ConversationView:
        conv, contact, client, identity = row
        return ConversationView(
            id=conv.id,
            status=conv.status,
            channel=conv.channel,
            chat_id=conv.chat_id,
            client_id=conv.client_id,
            client_name=client.name if client is not None else UNKNOWN_CLIENT_NAME,
            contact_id=contact.id,
            contact_name=contact.name,
            address=identity.address if identity is not None else conv.chat_id,
            assignee=conv.assignee,
            created_at=conv.created_at,
            updated_at=conv.updated_at,
            opted_out=bool(identity is not None and identity.opted_out),
            unreachable=bool(identity is not None and identity.unreachable),
            commitment_id=conv.commitment_id,
            commitment_state=conv.commitment_state,
            due_at=conv.due_at,
        )

    def get(self, conversation_id: int) -> ConversationView | None:
        query, _ = self._base_query()
        row = self.session.execute(query.where(ConversationRow.id == conversation_id)).first()
        return None if row is None else self._view(row)

    def list(
        self,
        filters: ConversationFilter,
        limit: int,
        cursor: str | None = None,
        sort: str = "updated",
    ) -> tuple[list[ConversationView], str | None]:
        """Newest first, or with sort="due_at" most urgent first (no due time last)."""
        query, identity = self._base_query()
        if filters.state:
            query = query.where(ConversationRow.commitment_state == filters.state)
        if filters.status:
            query = query.where(ConversationRow.status == filters.status)
        if filters.client == UNKNOWN_CLIENT_FILTER:
            query = query.where(ConversationRow.client_id.is_(None))
        elif filters.client:
            query = query.where(ConversationRow.client_id == filters.client)
        if filters.channel:
            query = query.where(ConversationRow.channel == filters.channel)
        if filters.assignee:
            query = query.where(ConversationRow.assignee == filters.assignee)
        if filters.unassigned:
            query = query.where(ConversationRow.assignee.is_(None))
        if filters.q:
            # The words as typed: % and _ match themselves.
            escaped = filters.q.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")
            pattern = f"%{escaped}%"
            query = query.where(
                or_(
                    ClientRow.name.ilike(pattern, escape="\\"),
                    ContactRow.name.ilike(pattern, escape="\\"),
                    identity.address.ilike(pattern, escape="\\"),
                    exists().where(
                        MessageRow.conversation_id == ConversationRow.id,
                        MessageRow.text.ilike(pattern, escape="\\"),
                    ),
                )
            )
        if sort == "due_at":
            query = self._due_order(query, cursor)
        else:
            query = self._updated_order(query, cursor)
        rows = self.session.execute(query.limit(limit + 1)).all()
        views = [self._view(r) for r in rows[:limit]]
        next_cursor = None
        if len(rows) > limit:
            last = views[-1]
            if sort == "due_at":
                due = last.due_at.isoformat() if last.due_at else None
                next_cursor = encode_cursor(["due", due, last.id])
            else:
                next_cursor = encode_cursor(["updated", last.updated_at.isoformat(), last.id])
        return views, next_cursor

    @staticmethod
    def _updated_order(query: Any, cursor: str | None) -> Any:
        if cursor:
            _, updated_iso, last_id = _cursor_parts(cursor, "updated")
            updated = datetime.fromisoformat(updated_iso)
            query = query.where(
                or_(
                    ConversationRow.updated_at < updated,
                    and_(ConversationRow.updated_at == updated, ConversationRow.id < last_id),
                )
            )
        return query.order_by(ConversationRow.updated_at.desc(), ConversationRow.id.desc())

    @staticmethod
    def _due_order(query: Any, cursor: str | None) -> Any:
        due_col = ConversationRow.due_at
        if cursor:
            _, due_iso, last_id = _cursor_parts(cursor, "due")
            if due_iso is None:  # already among the conversations with no due time
                query = query.where(due_col.is_(None), ConversationRow.id > last_id)
            else:
                due = datetime.fromisoformat(due_iso)
                query = query.where(
                    or_(
                        due_col > due,
                        and_(due_col == due, ConversationRow.id > last_id),
                        due_col.is_(None),
                    )
                )
        # Written NULLS LAST so that the index on (status, due_at, id) can serve it.
        return query.order_by(due_col.asc().nulls_last(), ConversationRow.id)

    def message(self, message_id: int) -> MessageView | None:
        row = self.session.get(MessageRow, message_id)
        return None if row is None else message_view(row)

    def messages(self, conversation_id: int) -> list[MessageView]:
        rows = self.session.execute(
            select(MessageRow)
            .where(MessageRow.conversation_id == conversation_id)
            .order_by(MessageRow.created_at, MessageRow.id)
        ).scalars()
        return [message_view(r) for r in rows]

    def add_message(
        self,
        conversation_id: int,
        *,
        direction: str,
        channel: str,
        text: str,
        author_type: str,
        author_id: str | None,
        author_name: str | None,
        at: datetime,
        delivery: Delivery | None,
    ) -> MessageView:
        row = MessageRow(
            conversation_id=conversation_id,
            direction=direction,
            channel=channel,
            text=text,
            author_type=author_type,
            author_id=author_id,
            author_name=author_name,
            delivery=delivery.value if delivery else None,
            attachments=[],
            created_at=at,
        )
        self.session.add(row)
        self.session.execute(
            update(ConversationRow)
            .where(ConversationRow.id == conversation_id)
            .values(updated_at=at)
        )
        self.session.flush()
        self.recorded.append(row.id)
        return message_view(row)

    def set_status(self, conversation_id: int, status: str, at: datetime) -> None:
        self.session.execute(
            update(ConversationRow)
            .where(ConversationRow.id == conversation_id)
            .values(status=status, updated_at=at, closed_at=at if status == "closed" else None)
        )

    def assign(self, conversation_id: int, staff_id: str | None, at: datetime) -> None:
        self.session.execute(
            update(ConversationRow)
            .where(ConversationRow.id == conversation_id)
            .values(assignee=staff_id, updated_at=at)
        )

    def apply_delivery_status(
        self, channel: Channel, provider_id: str, delivery: Delivery, error: str | None
    ) -> bool:
        """Move a sent message's delivery state forward only; True if anything changed."""
        row = self.session.execute(
            select(MessageRow)
            .where(MessageRow.channel == channel.value, MessageRow.provider_id == provider_id)
            .with_for_update()
        ).scalar_one_or_none()
        if row is None or row.delivery is None:
            return False
        if not delivery_moves_forward(Delivery(row.delivery), delivery):
            return False
        row.delivery = delivery.value
        if delivery is Delivery.FAILED:
            row.error = error or "undelivered"
        return True

    def mark_unreachable(self, channel: Channel, address: str, reason: str) -> None:
        self.session.execute(
            update(IdentityRow)
            .where(IdentityRow.channel == channel.value, IdentityRow.address == address)
            .values(unreachable=True, unreachable_reason=reason[:200])
        )


def message_view(row: MessageRow) -> MessageView:
    return MessageView(
        id=row.id,
        conversation_id=row.conversation_id,
        direction=row.direction,
        channel=row.channel,
        text=row.text,
        author_type=row.author_type,
        author_id=row.author_id,
        author_name=row.author_name,
        created_at=row.created_at,
        delivery=row.delivery,
        error=row.error,
        provider_id=row.provider_id,
        attachments=list(row.attachments or []),
        edit_of=row.edit_of,
    )
