"""Conversations and their messages: what staff read and the changes they make."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, exists, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from routing.limits import ROW_ID_MAX
from routing.messages import Channel, Delivery, delivery_moves_forward
from storage.db import run
from storage.outbox import MessagePart, Outbox
from storage.tables import (
    ClientRow,
    ContactRow,
    ConversationEventRow,
    ConversationRow,
    IdentityRow,
    MessageRow,
)
from storage.upsert import insert_row, update_row

UNKNOWN_CLIENT_NAME = "Unknown senders"
UNKNOWN_CLIENT_FILTER = "-"  # `client=-`: the unknown senders' conversations
# A contact author with neither a name nor an address left (never expected).
UNKNOWN_AUTHOR_NAME = "Unknown sender"


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
    # Earlier texts, oldest first (routing.edits); None if never edited.
    edits: list[dict[str, Any]] | None = None
    # The provider messages an outgoing message went as, in order (storage/outbox.py).
    parts: tuple[MessagePart, ...] = ()

    def with_parts(self, parts: tuple[MessagePart, ...]) -> MessageView:
        return replace(self, parts=parts)


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
    # Follow-up work (commitment, acknowledgement, page, mirror) that failed: the error, and
    # when it was given up (None while it is still being retried).
    followup_error: str | None = None
    followup_failed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ConversationFilter:
    status: str | None = None
    state: str | None = None  # the current commitment's
    client: str | None = None
    channel: str | None = None
    assignee: str | None = None
    unassigned: bool = False
    q: str | None = None


@dataclass(frozen=True)
class ConversationEvent:
    kind: str  # closed, reopened, assigned
    actor: str  # a staff id, or "admin"
    assignee: str | None  # for "assigned": whom to (None: unassigned)
    at: datetime


@dataclass(frozen=True)
class MessageWindow:
    messages: list[MessageView]  # oldest first
    earlier: bool  # older messages remain before the first of these
    until: datetime | None = None  # when the message `before` was written, if one was given


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
    """A cursor's parts, each checked as `list` made it: an aware time (a naive one cannot be
    compared with our columns) and a row id a key can hold."""
    if len(cursor) > 500:  # far more than any cursor we make
        raise ValueError("not a valid cursor")
    values = decode_cursor(cursor)
    if len(values) != 3 or values[0] != kind:
        raise ValueError("not a valid cursor for this sort order")
    last_id = values[2]
    if type(last_id) is not int or not 0 <= last_id <= ROW_ID_MAX:
        raise ValueError("not a valid cursor")
    if values[1] is not None or kind == "updated":  # only a due time may be missing
        try:
            at = datetime.fromisoformat(values[1])
        except (TypeError, ValueError) as exc:
            raise ValueError("not a valid cursor") from exc
        if at.utcoffset() is None or not 1970 <= at.year <= 2999:
            raise ValueError("not a valid cursor")
    return values[0], values[1], last_id


# A conversation with its contact, client and the contact's identity on its channel: what
# every view of a conversation reads. Built once: building it costs more than running it.
_IDENTITY = aliased(IdentityRow)
# A contact may hold several addresses on one channel (bot/usecases/contacts.py): the
# conversation's is the one its chat is, else their first there; one row per conversation.
_ON_CHANNEL = and_(
    IdentityRow.contact_id == ConversationRow.contact_id,
    IdentityRow.channel == ConversationRow.channel,
)
_FIRST_IDENTITY = func.coalesce(
    select(func.min(IdentityRow.id))
    .where(_ON_CHANNEL, IdentityRow.address == ConversationRow.chat_id)
    .correlate(ConversationRow)
    .scalar_subquery(),
    select(func.min(IdentityRow.id))
    .where(_ON_CHANNEL)
    .correlate(ConversationRow)
    .scalar_subquery(),
)
# Columns, not rows: a view is read on every sync of the Slack mirror and for every line of
# the inbox, and loading four ORM objects for it cost several times the query.
_BASE_QUERY = (
    select(
        ConversationRow.id,
        ConversationRow.status,
        ConversationRow.channel,
        ConversationRow.chat_id,
        ConversationRow.client_id,
        ClientRow.id.label("known_client"),
        ClientRow.name.label("client_name"),
        ContactRow.id.label("contact_id"),
        ContactRow.name.label("contact_name"),
        _IDENTITY.id.label("identity_id"),
        _IDENTITY.address,
        _IDENTITY.opted_out,
        _IDENTITY.unreachable,
        ConversationRow.assignee,
        ConversationRow.created_at,
        ConversationRow.updated_at,
        ConversationRow.commitment_id,
        ConversationRow.commitment_state,
        ConversationRow.due_at,
        ConversationRow.followup_error,
        ConversationRow.followup_failed_at,
    )
    .select_from(ConversationRow)
    .join(ContactRow, ContactRow.id == ConversationRow.contact_id)
    .outerjoin(ClientRow, ClientRow.id == ConversationRow.client_id)
    .outerjoin(
        _IDENTITY,
        and_(
            _IDENTITY.contact_id == ConversationRow.contact_id,
            _IDENTITY.channel == ConversationRow.channel,
            or_(_IDENTITY.address == ConversationRow.chat_id, _IDENTITY.id == _FIRST_IDENTITY),
        ),
    )
)
# One conversation, by id (also the Slack mirror's look at it, storage/channel_refs.py).
BY_ID = _BASE_QUERY.where(ConversationRow.id == bindparam("conversation_id"))
# A conversation's messages as rows of columns (Core: read once per sync of its Slack
# thread, never as objects), built once.
_MESSAGE_COLUMNS = select(*MessageRow.__table__.c)
_MESSAGES_AFTER = (
    _MESSAGE_COLUMNS.where(
        MessageRow.conversation_id == bindparam("conv"), MessageRow.id > bindparam("after")
    )
    .order_by(MessageRow.id)
    .limit(bindparam("limit"))
)
_NEWEST_MESSAGES = (
    _MESSAGE_COLUMNS.where(MessageRow.conversation_id == bindparam("conv"))
    .order_by(MessageRow.id.desc())
    .limit(bindparam("limit"))
)


class ConversationRepository:
    def __init__(
        self,
        session: Session,
        recorded: list[int] | None = None,
        conversation_of: dict[int, int] | None = None,
    ) -> None:
        self.session = session
        self.recorded = recorded if recorded is not None else []
        # The conversation of messages recorded (or announced) by this transaction.
        self.conversation_of = conversation_of if conversation_of is not None else {}

    def _base_query(self) -> Any:
        return _BASE_QUERY, _IDENTITY

    @staticmethod
    def view(row: Any) -> ConversationView:
        """A view from a row of `_BASE_QUERY`."""
        identified = row.identity_id is not None
        return ConversationView(
            id=row.id,
            status=row.status,
            channel=row.channel,
            chat_id=row.chat_id,
            client_id=row.client_id,
            client_name=row.client_name if row.known_client is not None else UNKNOWN_CLIENT_NAME,
            contact_id=row.contact_id,
            contact_name=row.contact_name,
            address=row.address if identified else row.chat_id,
            assignee=row.assignee,
            created_at=row.created_at,
            updated_at=row.updated_at,
            opted_out=bool(identified and row.opted_out),
            unreachable=bool(identified and row.unreachable),
            commitment_id=row.commitment_id,
            commitment_state=row.commitment_state,
            due_at=row.due_at,
            followup_error=row.followup_error,
            followup_failed_at=row.followup_failed_at,
        )

    def get(self, conversation_id: int) -> ConversationView | None:
        row = run(self.session, BY_ID, {"conversation_id": conversation_id}).first()
        return None if row is None else self.view(row)

    def matching(self, filters: ConversationFilter) -> Any:
        """The ids of the conversations under `filters`, as a subquery (the inbox's counts)."""
        query, identity = self._base_query()
        return self._filtered(query.with_only_columns(ConversationRow.id), identity, filters)

    @staticmethod
    def _filtered(query: Any, identity: Any, filters: ConversationFilter) -> Any:
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
        return query

    def listing(
        self,
        filters: ConversationFilter,
        limit: int,
        cursor: str | None = None,
        sort: str = "updated",
    ) -> tuple[list[ConversationView], str | None]:
        """Newest first, or with sort="due_at" most urgent first (no due time last)."""
        query, identity = self._base_query()
        query = self._filtered(query, identity, filters)
        if sort == "due_at":
            query = self._due_order(query, cursor)
        else:
            query = self._updated_order(query, cursor)
        rows = self.session.execute(query.limit(limit + 1)).all()
        views = [self.view(r) for r in rows[:limit]]
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

    def last_messages(
        self, conversation_ids: Sequence[int], directions: Sequence[str] | None = None
    ) -> dict[int, MessageView]:
        """The newest message (by id) of each of these conversations, of one of `directions`
        if given: the inbox list's preview. (Served by ix_messages_conversation_created.)"""
        if not conversation_ids:
            return {}
        newest = select(func.max(MessageRow.id)).where(
            MessageRow.conversation_id.in_(conversation_ids)
        )
        if directions is not None:
            newest = newest.where(MessageRow.direction.in_(directions))
        newest = newest.group_by(MessageRow.conversation_id)
        rows = self.session.execute(select(MessageRow).where(MessageRow.id.in_(newest))).scalars()
        return {r.conversation_id: message_view(r) for r in rows}

    def message(self, message_id: int) -> MessageView | None:
        row = self.session.get(MessageRow, message_id)
        return None if row is None else self._with_parts(self._named([row]))[0]

    def messages(self, conversation_id: int) -> list[MessageView]:
        """Every message of the conversation, oldest first."""
        return self.message_window(conversation_id).messages

    def message_window(
        self, conversation_id: int, *, last: int | None = None, before: int | None = None
    ) -> MessageWindow:
        """The newest `last` messages (all if None) older than message id `before`, oldest
        first, and whether older ones remain: a long conversation is read a page at a time."""
        query = select(MessageRow).where(MessageRow.conversation_id == conversation_id)
        until = None
        if before is not None:
            # In the order messages are shown: (created_at, id), which ids alone need not keep.
            at = self.session.execute(
                select(MessageRow.created_at).where(
                    MessageRow.id == before, MessageRow.conversation_id == conversation_id
                )
            ).scalar_one_or_none()
            if at is None:
                return MessageWindow([], False)
            until = at
            query = query.where(
                or_(
                    MessageRow.created_at < at,
                    and_(MessageRow.created_at == at, MessageRow.id < before),
                )
            )
        newest_first = query.order_by(MessageRow.created_at.desc(), MessageRow.id.desc())
        if last is not None:
            newest_first = newest_first.limit(last + 1)
        rows = list(self.session.execute(newest_first).scalars())
        more = last is not None and len(rows) > last
        rows = rows[:last] if last is not None else rows
        rows.reverse()
        return MessageWindow(self._with_parts(self._named(rows)), more, until)

    def _with_parts(self, views: list[MessageView]) -> list[MessageView]:
        outgoing = [v.id for v in views if v.delivery is not None]
        parts = Outbox(self.session).parts_of(outgoing)
        return [v.with_parts(parts[v.id]) if v.id in parts else v for v in views]

    def _named(self, rows: list[MessageRow]) -> list[MessageView]:
        """Views of `rows` whose contact authors always have a name (docs/CONTRACT.md:
        `author.name` is a string): the contact's name as it is now, else the name recorded
        with the message, else the contact's address on the message's channel (unknown
        senders)."""
        ids = {
            int(r.author_id)
            for r in rows
            if r.author_type == "contact" and r.author_id and r.author_id.isdigit()
        }
        if not ids:
            return [message_view(r) for r in rows]
        names: dict[int, str | None] = {
            contact_id: name
            for contact_id, name in self.session.execute(
                select(ContactRow.id, ContactRow.name).where(ContactRow.id.in_(ids))
            )
        }
        addresses: dict[tuple[int, str | None], str] = {}
        for contact_id, channel, address in self.session.execute(
            select(IdentityRow.contact_id, IdentityRow.channel, IdentityRow.address)
            .where(IdentityRow.contact_id.in_(ids))
            .order_by(IdentityRow.id)
        ):
            addresses.setdefault((contact_id, channel), address)
            addresses.setdefault((contact_id, None), address)
        views = []
        for r in rows:
            name = r.author_name
            if r.author_type == "contact" and r.author_id and r.author_id.isdigit():
                contact = int(r.author_id)
                name = (
                    names.get(contact)
                    or r.author_name
                    or addresses.get((contact, r.channel))
                    or addresses.get((contact, None))
                    or UNKNOWN_AUTHOR_NAME
                )
            views.append(message_view(r, author_name=name))
        return views

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
        provider_id: str | None = None,
        attachments: Sequence[dict[str, Any]] = (),
    ) -> MessageView:
        """`provider_id`, `attachments`: for a message that is in its channel already (a staff
        member's own message in a client's shared Slack channel)."""
        view = MessageView(
            id=0,
            conversation_id=conversation_id,
            direction=direction,
            channel=channel,
            text=text,
            author_type=author_type,
            author_id=author_id,
            author_name=author_name,
            created_at=at,
            delivery=delivery.value if delivery else None,
            error=None,
            provider_id=provider_id,
            attachments=list(attachments),
        )
        message_id = insert_row(
            self.session,
            MessageRow.__table__,
            {
                "conversation_id": conversation_id,
                "direction": direction,
                "channel": channel,
                "text": text,
                "author_type": author_type,
                "author_id": author_id,
                "author_name": author_name,
                "provider_id": provider_id,
                "delivery": view.delivery,
                "attachments": view.attachments,
                "created_at": at,
            },
        )
        update_row(self.session, ConversationRow, conversation_id, updated_at=at)
        self.recorded.append(message_id)
        self.conversation_of[message_id] = conversation_id
        return replace(view, id=message_id)

    def set_status(self, conversation_id: int, status: str, at: datetime) -> None:
        self.session.execute(
            update(ConversationRow)
            .where(ConversationRow.id == conversation_id)
            .values(status=status, updated_at=at, closed_at=at if status == "closed" else None)
        )

    def record_event(
        self,
        conversation_id: int,
        kind: str,
        actor: str,
        at: datetime,
        assignee: str | None = None,
    ) -> None:
        """Who closed, reopened or assigned the conversation (`kind`), in the caller's
        transaction."""
        self.session.add(
            ConversationEventRow(
                conversation_id=conversation_id, kind=kind, actor=actor, assignee=assignee, at=at
            )
        )

    def events(self, conversation_id: int) -> Sequence[ConversationEvent]:
        """The conversation's closes, reopens and assignments, oldest first."""
        rows = self.session.execute(
            select(ConversationEventRow)
            .where(ConversationEventRow.conversation_id == conversation_id)
            .order_by(ConversationEventRow.at, ConversationEventRow.id)
        ).scalars()
        return [ConversationEvent(r.kind, r.actor, r.assignee, r.at) for r in rows]

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
        by_part = Outbox(self.session).apply_delivery_status(channel, provider_id, delivery, error)
        if by_part is not None:
            return by_part
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

    def lock(self, conversation_id: int) -> None:
        """Hold the conversation for this transaction (PostgreSQL; SQLite writes one at a
        time anyway), so that a staff reply and a message's follow-up, which each decide
        from what the other wrote, run one after the other."""
        if self.session.get_bind().dialect.name == "postgresql":
            self.session.execute(
                select(ConversationRow.id)
                .where(ConversationRow.id == conversation_id)
                .with_for_update()
            )

    def set_followup_error(
        self, conversation_id: int, error: str, failed_at: datetime | None
    ) -> None:
        """Show staff that the work after filing a message failed: still being retried
        (`failed_at` None), or given up at `failed_at`."""
        values: dict[str, Any] = {"followup_error": error[:500], "followup_failed_at": failed_at}
        if failed_at is not None:
            values["updated_at"] = failed_at  # to the top of the inbox
        self.session.execute(
            update(ConversationRow).where(ConversationRow.id == conversation_id).values(**values)
        )

    def clear_followup_error(self, conversation_id: int, *, given_up_too: bool) -> None:
        """Nothing left to show: a retried follow-up succeeded (which clears only a failure
        still being retried), or staff answered or closed the conversation (`given_up_too`:
        a failure given up on stays in the list until someone has dealt with it)."""
        query = update(ConversationRow).where(
            ConversationRow.id == conversation_id, ConversationRow.followup_error.is_not(None)
        )
        if not given_up_too:
            query = query.where(ConversationRow.followup_failed_at.is_(None))
        self.session.execute(query.values(followup_error=None, followup_failed_at=None))

    def mark_unreachable(self, channel: Channel, address: str, reason: str) -> None:
        self.session.execute(
            update(IdentityRow)
            .where(IdentityRow.channel == channel.value, IdentityRow.address == address)
            .values(unreachable=True, unreachable_reason=reason[:200])
        )

    # ------------------------------------------------------------------ chat channels' reads
    # Messages as recorded (no parts, the author's name as written): what the Slack staff
    # inbox mirrors.
    def conversations_of_messages(self, message_ids: Sequence[int]) -> Sequence[tuple[int, int]]:
        """(message id, conversation id) of each of these messages, by message id; read only
        for those this transaction does not know (`conversation_of`)."""
        known = [(m, self.conversation_of[m]) for m in message_ids if m in self.conversation_of]
        unknown = [m for m in message_ids if m not in self.conversation_of]
        rows = (
            self.session.execute(
                select(MessageRow.id, MessageRow.conversation_id).where(MessageRow.id.in_(unknown))
            ).all()
            if unknown
            else []
        )
        return sorted([*known, *((int(m), int(c)) for m, c in rows)])

    def messages_after(
        self, conversation_id: int, after_id: int, limit: int
    ) -> Sequence[MessageView]:
        """Up to `limit` of the conversation's messages with ids above `after_id`, by id."""
        rows = run(
            self.session,
            _MESSAGES_AFTER,
            {"conv": conversation_id, "after": after_id, "limit": limit},
        )
        return [message_view(r) for r in rows]

    def messages_among(
        self, conversation_id: int, message_ids: Sequence[int]
    ) -> Sequence[MessageView]:
        """Those of these messages that are the conversation's, by id."""
        if not message_ids:
            return []
        rows = self.session.execute(
            select(MessageRow)
            .where(
                MessageRow.conversation_id == conversation_id,
                MessageRow.id.in_(list(message_ids)),
            )
            .order_by(MessageRow.id)
        ).scalars()
        return [message_view(r) for r in rows]

    def newest_messages(self, conversation_id: int, limit: int) -> Sequence[MessageView]:
        """The conversation's `limit` newest messages (by id), newest first."""
        rows = run(self.session, _NEWEST_MESSAGES, {"conv": conversation_id, "limit": limit})
        return [message_view(r) for r in rows]

    def latest_on_chat(
        self, channel: Channel, chat_id: str, contact_id: int | None = None
    ) -> int | None:
        """The conversation on this chat (of this contact, if given) that heard last."""
        query = select(ConversationRow.id).where(
            ConversationRow.channel == channel.value, ConversationRow.chat_id == chat_id
        )
        if contact_id is not None:
            query = query.where(ConversationRow.contact_id == contact_id)
        newest = query.order_by(ConversationRow.last_message_at.desc(), ConversationRow.id.desc())
        found = self.session.execute(newest.limit(1)).scalar_one_or_none()
        return int(found) if found is not None else None


def message_view(row: Any, *, author_name: str | None = None) -> MessageView:
    """Of a MessageRow or a row of its columns. `author_name`: the name to show instead of
    the one recorded with the message."""
    return MessageView(
        id=row.id,
        conversation_id=row.conversation_id,
        direction=row.direction,
        channel=row.channel,
        text=row.text,
        author_type=row.author_type,
        author_id=row.author_id,
        author_name=author_name or row.author_name,
        created_at=row.created_at,
        delivery=row.delivery,
        error=row.error,
        provider_id=row.provider_id,
        attachments=list(row.attachments or []),
        edit_of=row.edit_of,
        edits=list(row.edits) if row.edits is not None else None,
    )
