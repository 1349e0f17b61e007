"""The router's storage port over SQLAlchemy (see routing.router.RouterStore)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from routing import edits
from routing.edits import Edit
from routing.messages import Channel, InboundMessage
from routing.router import ContactRef, ConversationRef, MessageRef
from storage.tables import ContactRow, ConversationRow, IdentityRow, InboundDeliveryRow, MessageRow
from storage.upsert import insert_ignore


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
        row = self.session.execute(
            select(IdentityRow, ContactRow)
            .join(ContactRow, ContactRow.id == IdentityRow.contact_id)
            .where(IdentityRow.channel == channel.value, IdentityRow.address == address)
        ).first()
        return None if row is None else _contact_ref(*row)

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
            error_shown=conversation.followup_error is not None
            and conversation.followup_failed_at is None,
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
        contact = ContactRow(client_id=client_id, name=name, config_key=None, created_at=at)
        self.session.add(contact)
        self.session.flush()
        identity_id = insert_ignore(
            self.session,
            IdentityRow.__table__,
            {
                "contact_id": contact.id,
                "channel": channel.value,
                "address": address,
                "opted_out": False,
                "unreachable": False,
            },
        )
        if identity_id is None:
            # A concurrent message from the same new sender made the contact first: use
            # theirs, and drop the one made here, so both messages share one conversation.
            self.session.delete(contact)
            self.session.flush()
            existing = self.find_contact(channel, address)
            assert existing is not None, "identity vanished after a conflict"
            return existing
        self._new_contacts.add(contact.id)
        return ContactRef(id=contact.id, client_id=client_id, name=name, identity_id=identity_id)

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
            select(ConversationRow).where(
                ConversationRow.contact_id == contact_id,
                ConversationRow.channel == channel.value,
                ConversationRow.chat_id == chat_id,
            )
        ).scalar_one_or_none()
        return None if row is None else conversation_ref(row)

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
        row = self.session.execute(
            select(MessageRow.id, MessageRow.conversation_id).where(
                MessageRow.channel == channel.value, MessageRow.provider_id == provider_id
            )
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
        row = MessageRow(
            conversation_id=conversation.id,
            direction="in",
            channel=msg.channel.value,
            text=msg.text,
            author_type="contact",
            author_id=str(contact.id),
            author_name=contact.name,
            provider_id=msg.edit_of if msg.edit_of is not None else msg.provider_id,
            attachments=_attachments(msg),
            edits=history,
            created_at=msg.received_at,
        )
        self.session.add(row)
        if self._opened_at.get(conversation.id) != msg.received_at:  # else made with these
            self.session.execute(
                update(ConversationRow)
                .where(ConversationRow.id == conversation.id)
                .values(updated_at=msg.received_at, last_message_at=msg.received_at)
            )
        self.session.flush()
        self.recorded.append(row.id)
        self.conversation_of[row.id] = conversation.id
        return row.id

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


def _contact_ref(identity: IdentityRow, contact: ContactRow) -> ContactRef:
    return ContactRef(
        id=contact.id,
        client_id=contact.client_id,
        name=contact.name,
        identity_id=identity.id,
        opted_out=identity.opted_out,
        unreachable=identity.unreachable,
    )


def conversation_ref(row: ConversationRow) -> ConversationRef:
    return ConversationRef(
        id=row.id,
        contact_id=row.contact_id,
        client_id=row.client_id,
        channel=Channel(row.channel),
        chat_id=row.chat_id,
        status=row.status,
        assignee=row.assignee,
    )
