"""The router's storage port over SQLAlchemy (see routing.router.RouterStore)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from routing.messages import Channel, InboundMessage
from routing.router import ContactRef, ConversationRef
from storage.tables import ContactRow, ConversationRow, IdentityRow, InboundDeliveryRow, MessageRow
from storage.upsert import insert_ignore


class SqlRouterStore:
    def __init__(self, session: Session, recorded: list[int] | None = None) -> None:
        self.session = session
        self.recorded = recorded if recorded is not None else []

    def claim_delivery(self, channel: Channel, key: str, at: datetime) -> bool:
        row_id = insert_ignore(
            self.session,
            InboundDeliveryRow.__table__,  # type: ignore[arg-type]
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
        if row is None:
            return None
        identity, contact = row
        return ContactRef(
            id=contact.id,
            client_id=contact.client_id,
            name=contact.name,
            identity_id=identity.id,
            opted_out=identity.opted_out,
            unreachable=identity.unreachable,
        )

    def add_unknown_contact(self, channel: Channel, address: str, at: datetime) -> ContactRef:
        contact = ContactRow(client_id=None, name=None, config_key=None, created_at=at)
        self.session.add(contact)
        self.session.flush()
        identity_id = insert_ignore(
            self.session,
            IdentityRow.__table__,  # type: ignore[arg-type]
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
        return ContactRef(id=contact.id, client_id=None, name=None, identity_id=identity_id)

    def conversation_for(
        self, contact: ContactRef, channel: Channel, chat_id: str, at: datetime
    ) -> tuple[ConversationRef, bool]:
        new_id = insert_ignore(
            self.session,
            ConversationRow.__table__,  # type: ignore[arg-type]
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
        row = self.session.execute(
            select(ConversationRow).where(
                ConversationRow.contact_id == contact.id,
                ConversationRow.channel == channel.value,
                ConversationRow.chat_id == chat_id,
            )
        ).scalar_one()
        return conversation_ref(row), new_id is not None

    def reopen(self, conversation: ConversationRef, at: datetime) -> ConversationRef:
        self.session.execute(
            update(ConversationRow)
            .where(ConversationRow.id == conversation.id)
            .values(status="open", closed_at=None, updated_at=at)
        )
        return ConversationRef(**{**asdict(conversation), "status": "open"})

    def find_message_id(self, channel: Channel, provider_id: str) -> int | None:
        return self.session.execute(
            select(MessageRow.id).where(
                MessageRow.channel == channel.value, MessageRow.provider_id == provider_id
            )
        ).scalar_one_or_none()

    def add_client_message(
        self,
        conversation: ConversationRef,
        contact: ContactRef,
        msg: InboundMessage,
        edit_of: int | None,
    ) -> int:
        row = MessageRow(
            conversation_id=conversation.id,
            direction="in",
            channel=msg.channel.value,
            text=msg.text,
            author_type="contact",
            author_id=str(contact.id),
            author_name=contact.name,
            # An edit keeps the original's provider id on the original row only.
            provider_id=None if edit_of is not None else msg.provider_id,
            attachments=[
                {k: v for k, v in asdict(a).items() if v is not None} for a in msg.attachments
            ],
            edit_of=edit_of,
            created_at=msg.received_at,
        )
        self.session.add(row)
        self.session.execute(
            update(ConversationRow)
            .where(ConversationRow.id == conversation.id)
            .values(updated_at=msg.received_at, last_message_at=msg.received_at)
        )
        self.session.flush()
        self.recorded.append(row.id)
        return row.id

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
