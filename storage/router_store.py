"""The router's storage port over SQLAlchemy (see routing.router.RouterStore)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session

from routing import edits
from routing.edits import Edit
from routing.messages import Channel, InboundMessage
from routing.router import ContactRef, ConversationRef, MessageRef
from storage.db import run
from storage.tables import ContactRow, ConversationRow, IdentityRow, InboundDeliveryRow, MessageRow
from storage.upsert import insert_ignore, insert_row, update_row


class SqlRouterStore:
    def __init__(
        self,
        session: Session,
        recorded: list[int] | None = None,
        conversation_of: dict[int, int] | None = None,
    ) -> None:
        self.session = session
        self.recorded = recorded if recorded is not None else []
        # The conversation of messages recorded by this transaction (UnitOfWork's).
        self.conversation_of = conversation_of if conversation_of is not None else {}
        # Made by this transaction, so known without reading them back: contacts (which can
        # have no conversation yet) and conversations with the time they were stamped at.
        self._new_contacts: set[int] = set()
        self._opened_at: dict[int, datetime] = {}
        # Whether a retried follow-up's failure is shown, of each conversation this
        # transaction found or made (`filed_facts`).
        self._error_shown: dict[int, bool] = {}

    def claim_delivery(self, channel: Channel, key: str, at: datetime) -> bool:
        row_id = insert_ignore(
            self.session,
            InboundDeliveryRow.__table__,
            {"channel": channel.value, "delivery_key": key, "received_at": at},
        )
        return row_id is not None

    def release_delivery(self, channel: Channel, key: str) -> None:
        """Drop a claim (never a journalled delivery, which carries its payload)."""
        self.session.execute(
            delete(InboundDeliveryRow).where(
                InboundDeliveryRow.channel == channel.value,
                InboundDeliveryRow.delivery_key == key,
                InboundDeliveryRow.payload.is_(None),
            )
        )

    def find_contact(self, channel: Channel, address: str) -> ContactRef | None:
        row = run(
            self.session, _CONTACT_BY_ADDRESS, {"channel": channel.value, "address": address}
        ).first()
        if row is None:
            return None
        return ContactRef(
            id=row.id,
            client_id=row.client_id,
            name=row.name,
            identity_id=row.identity_id,
            opted_out=row.opted_out,
            unreachable=row.unreachable,
        )

    def for_followup(
        self, conversation_id: int, channel: Channel, address: str, message_id: int
    ) -> FollowupFacts | None:
        """What a filed message's follow-up decides from, in one read: its conversation, its
        sender, whether staff answered after it, whether a follow-up failure is shown (None:
        the conversation is gone). On PostgreSQL, lock the conversation first (a statement
        of its own, so that this read sees what the lock waited for)."""
        answered = (
            select(MessageRow.id)
            .where(
                MessageRow.conversation_id == ConversationRow.id,
                MessageRow.direction == "out",
                MessageRow.id > message_id,
            )
            .exists()
        )
        row = self.session.execute(
            select(ConversationRow, IdentityRow, ContactRow, answered)
            .select_from(ConversationRow)
            .outerjoin(
                IdentityRow,
                (IdentityRow.channel == channel.value) & (IdentityRow.address == address),
            )
            .outerjoin(ContactRow, ContactRow.id == IdentityRow.contact_id)
            .where(ConversationRow.id == conversation_id)
        ).first()
        if row is None:
            return None
        conversation, identity, contact, was_answered = row
        return FollowupFacts(
            conversation=conversation_ref(conversation),
            contact=None if identity is None else _contact_ref(identity, contact),
            answered=bool(was_answered),
            error_shown=_error_shown(conversation),
        )

    def add_contact(
        self,
        channel: Channel,
        address: str,
        at: datetime,
        *,
        client_id: str | None = None,
        name: str | None = None,
    ) -> ContactRef:
        name = _name(name)
        contact_id = insert_row(
            self.session,
            ContactRow.__table__,
            {"client_id": client_id, "name": name, "config_key": None, "created_at": at},
        )
        identity_id = insert_ignore(
            self.session,
            IdentityRow.__table__,
            {
                "contact_id": contact_id,
                "channel": channel.value,
                "address": address,
                "opted_out": False,
                "unreachable": False,
            },
        )
        if identity_id is None:
            # A concurrent message from the same new sender made the contact first: use
            # theirs, and drop the one made here, so both messages share one conversation.
            self.session.execute(delete(ContactRow).where(ContactRow.id == contact_id))
            existing = self.find_contact(channel, address)
            assert existing is not None, "identity vanished after a conflict"
            return existing
        self._new_contacts.add(contact_id)
        return ContactRef(id=contact_id, client_id=client_id, name=name, identity_id=identity_id)

    def adopt_contact(
        self, contact: ContactRef, client_id: str | None, name: str | None
    ) -> ContactRef:
        values: dict[str, object] = {}
        if contact.client_id is None and client_id is not None:
            values["client_id"] = client_id
        if contact.name is None and _name(name) is not None:
            values["name"] = _name(name)
        if not values:
            return contact
        self.session.execute(update(ContactRow).where(ContactRow.id == contact.id).values(**values))
        if "name" in values:  # what they wrote before we knew their name shows it too
            self.session.execute(
                update(MessageRow)
                .where(
                    MessageRow.author_type == "contact",
                    MessageRow.author_id == str(contact.id),
                    MessageRow.author_name.is_(None),
                )
                .values(author_name=values["name"])
            )
        return replace(contact, **values)  # type: ignore[arg-type]  # values are the contact's own fields

    def conversation_for(
        self, contact: ContactRef, channel: Channel, chat_id: str, at: datetime
    ) -> tuple[ConversationRef, bool]:
        # Read first (the common case: it exists); a contact made by this transaction has
        # none yet, and a conversation made here is known without reading it back.
        if contact.id not in self._new_contacts:
            found = self._find_conversation(contact.id, channel, chat_id)
            if found is not None:
                return found, False
        new_id = insert_ignore(
            self.session,
            ConversationRow.__table__,
            {
                "contact_id": contact.id,
                "client_id": contact.client_id,
                "channel": channel.value,
                "chat_id": chat_id,
                "status": "open",
                "created_at": at,
                "updated_at": at,
                "last_message_at": at,
            },
        )
        if new_id is None:  # a concurrent message of the same chat made it first
            found = self._find_conversation(contact.id, channel, chat_id)
            assert found is not None, "conversation vanished after a conflict"
            return found, False
        self._opened_at[new_id] = at
        self._error_shown[new_id] = False
        made = ConversationRef(
            id=new_id,
            contact_id=contact.id,
            client_id=contact.client_id,
            channel=channel,
            chat_id=chat_id,
            status="open",
            assignee=None,
        )
        return made, True

    def _find_conversation(
        self, contact_id: int, channel: Channel, chat_id: str
    ) -> ConversationRef | None:
        row = self.session.execute(
            _CONVERSATION_OF_CHAT,
            {"contact_id": contact_id, "channel": channel.value, "chat_id": chat_id},
        ).one_or_none()
        if row is None:
            return None
        self._error_shown[row.id] = _error_shown(row)
        return conversation_ref(row)

    def filed_facts(
        self, conversation: ConversationRef, contact: ContactRef | None, *, opened: bool
    ) -> FollowupFacts | None:
        """`for_followup` of a message this transaction filed, from what filing it read: its
        conversation is written (so locked) here, and no staff reply can follow it yet.
        `opened`: filing the message opened the conversation. None when filing did not read
        the conversation."""
        shown = self._error_shown.get(conversation.id)
        if shown is None:
            return None
        return FollowupFacts(
            conversation, contact, answered=False, error_shown=shown, opened=opened
        )

    def opened_here(self, conversation_id: int) -> bool:
        """Whether this transaction opened the conversation (so nothing refers to it yet)."""
        return conversation_id in self._opened_at

    def conversation(self, conversation_id: int) -> ConversationRef | None:
        row = self.session.get(ConversationRow, conversation_id)
        return None if row is None else conversation_ref(row)

    def reopen(self, conversation: ConversationRef, at: datetime) -> ConversationRef:
        self.session.execute(
            update(ConversationRow)
            .where(ConversationRow.id == conversation.id)
            .values(status="open", closed_at=None, updated_at=at)
        )
        return ConversationRef(**{**asdict(conversation), "status": "open"})

    def find_message_id(self, channel: Channel, provider_id: str) -> int | None:
        found = self.find_message(channel, provider_id)
        return found.id if found is not None else None

    def find_message(self, channel: Channel, provider_id: str) -> MessageRef | None:
        row = run(
            self.session,
            _MESSAGE_BY_PROVIDER_ID,
            {"channel": channel.value, "provider_id": provider_id},
        ).first()
        return MessageRef(id=row.id, conversation_id=row.conversation_id) if row else None

    def add_client_message(
        self, conversation: ConversationRef, contact: ContactRef, msg: InboundMessage
    ) -> int:
        history = None
        if msg.edit_of is not None:  # an edit of something we never got: it is the message
            history = edits.unknown_original(
                Edit(msg.provider_id, msg.text, msg.received_at, msg.edited_at)
            )
        message_id = insert_row(
            self.session,
            MessageRow.__table__,
            {
                "conversation_id": conversation.id,
                "direction": "in",
                "channel": msg.channel.value,
                "text": msg.text,
                "author_type": "contact",
                "author_id": str(contact.id),
                "author_name": contact.name,
                "provider_id": msg.edit_of if msg.edit_of is not None else msg.provider_id,
                "attachments": _attachments(msg),
                "edits": history,
                "created_at": msg.received_at,
            },
        )
        if self._opened_at.get(conversation.id) != msg.received_at:  # else made with these
            update_row(
                self.session,
                ConversationRow,
                conversation.id,
                updated_at=msg.received_at,
                last_message_at=msg.received_at,
            )
        self.recorded.append(message_id)
        self.conversation_of[message_id] = conversation.id
        return message_id

    def apply_edit(self, message_id: int, edit: Edit) -> bool:
        row = self._locked_message(message_id)
        changed = edits.apply_edit(row.text, row.edits or [], edit)
        if changed is None:
            return False
        row.text, row.edits = changed  # a new list: the JSON column sees the change
        self._touch(row.conversation_id, edit.at)
        self.session.flush()
        self.recorded.append(row.id)  # what shows messages (the Slack mirror) shows the edit
        self.conversation_of[row.id] = row.conversation_id
        return True

    def fill_original(self, message_id: int, text: str) -> bool:
        row = self._locked_message(message_id)
        history = edits.fill_original(row.edits or [], text)
        if history is None:
            return False
        row.edits = history
        self.session.flush()
        return True

    def _locked_message(self, message_id: int) -> MessageRow:
        """The message, locked until commit: concurrent edits of it apply one after the other."""
        return self.session.execute(
            select(MessageRow).where(MessageRow.id == message_id).with_for_update()
        ).scalar_one()

    def _touch(self, conversation_id: int, at: datetime) -> None:
        """The conversation changed at `at` (never moved back by a late edit)."""
        current = self.session.execute(
            select(ConversationRow.updated_at).where(ConversationRow.id == conversation_id)
        ).scalar_one()
        if current is None or at > current:
            self.session.execute(
                update(ConversationRow)
                .where(ConversationRow.id == conversation_id)
                .values(updated_at=at)
            )

    def set_reachable(self, contact: ContactRef) -> None:
        self.session.execute(
            update(IdentityRow)
            .where(IdentityRow.id == contact.identity_id)
            .values(unreachable=False, unreachable_reason=None)
        )

    def set_opted_out(self, contact: ContactRef, opted_out: bool, at: datetime) -> None:
        self.session.execute(
            update(IdentityRow)
            .where(IdentityRow.id == contact.identity_id)
            .values(opted_out=opted_out, opted_out_at=at if opted_out else None)
        )


def _name(name: str | None) -> str | None:
    """A provider's display name as a contact name: printable, within the column."""
    if name is None:
        return None
    cleaned = "".join(ch for ch in name if ch.isprintable()).strip()[:200]
    return cleaned or None


def _attachments(msg: InboundMessage) -> list[dict[str, object]]:
    return [{k: v for k, v in asdict(a).items() if v is not None} for a in msg.attachments]


@dataclass(frozen=True, slots=True)
class FollowupFacts:
    conversation: ConversationRef
    contact: ContactRef | None
    answered: bool  # staff replied after the message
    error_shown: bool  # a failure of a follow-up still being retried is shown to staff
    opened: bool = False  # filing this message opened the conversation: nothing else is on it


def _contact_ref(identity: IdentityRow, contact: ContactRow) -> ContactRef:
    return ContactRef(
        id=contact.id,
        client_id=contact.client_id,
        name=contact.name,
        identity_id=identity.id,
        opted_out=identity.opted_out,
        unreachable=identity.unreachable,
    )


# The reads of every client message, built once (storage/upsert.py says why).
_CONTACT_BY_ADDRESS = (
    select(
        ContactRow.id,
        ContactRow.client_id,
        ContactRow.name,
        IdentityRow.id.label("identity_id"),
        IdentityRow.opted_out,
        IdentityRow.unreachable,
    )
    .join(ContactRow, ContactRow.id == IdentityRow.contact_id)
    .where(IdentityRow.channel == bindparam("channel"), IdentityRow.address == bindparam("address"))
)
_MESSAGE_BY_PROVIDER_ID = select(MessageRow.id, MessageRow.conversation_id).where(
    MessageRow.channel == bindparam("channel"), MessageRow.provider_id == bindparam("provider_id")
)
_CONVERSATION_OF_CHAT = select(
    ConversationRow.id,
    ConversationRow.contact_id,
    ConversationRow.client_id,
    ConversationRow.channel,
    ConversationRow.chat_id,
    ConversationRow.status,
    ConversationRow.assignee,
    ConversationRow.followup_error,
    ConversationRow.followup_failed_at,
).where(
    ConversationRow.contact_id == bindparam("contact_id"),
    ConversationRow.channel == bindparam("channel"),
    ConversationRow.chat_id == bindparam("chat_id"),
)


def _error_shown(row: Any) -> bool:
    return row.followup_error is not None and row.followup_failed_at is None


def conversation_ref(row: Any) -> ConversationRef:
    """Of a ConversationRow, or a row of its columns."""
    return ConversationRef(
        id=row.id,
        contact_id=row.contact_id,
        client_id=row.client_id,
        channel=Channel(row.channel),
        chat_id=row.chat_id,
        status=row.status,
        assignee=row.assignee,
    )
