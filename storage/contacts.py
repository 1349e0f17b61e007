"""Contacts and their identities as staff manage them at runtime: create, edit, merge, and
an unknown sender's conversations moved to a client (bot/usecases/contacts.py has the rules).

A contact from the configuration (`config_key` set) is the file's: only the start-up sync
(storage/directory.py) changes it. Identities added here are of source "runtime", which that
sync never deletes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from storage.tables import ClientRow, ContactRow, ConversationRow, IdentityRow, MessageRow
from storage.upsert import insert_ignore

CONFIG, RUNTIME = "config", "runtime"


@dataclass(frozen=True, slots=True)
class IdentityView:
    id: int
    channel: str
    address: str
    source: str  # config | runtime
    opted_out: bool
    unreachable: bool


@dataclass(frozen=True, slots=True)
class ContactView:
    id: int
    client_id: str | None  # None: an unknown sender
    client_name: str | None
    name: str | None
    config_key: str | None
    created_at: datetime
    identities: tuple[IdentityView, ...]
    # When the contact last wrote, per channel (the channel a reply goes to by default).
    last_channel: str | None = None

    @property
    def source(self) -> str:
        """ "config": the configuration file's, read-only here; "runtime": the database's."""
        return CONFIG if self.config_key is not None else RUNTIME


class ContactRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # ------------------------------------------------------------------ reading
    def get(self, contact_id: int, *, lock: bool = False) -> ContactView | None:
        query = (
            select(ContactRow, ClientRow.name)
            .outerjoin(ClientRow, ClientRow.id == ContactRow.client_id)
            .where(ContactRow.id == contact_id)
        )
        if lock:
            query = query.with_for_update(of=ContactRow)
        row = self.session.execute(query).first()
        return None if row is None else self._views([(row[0], row[1])])[0]

    def runtime(self) -> list[ContactView]:
        """Contacts of a client made in the app (not the file's), oldest first: the export."""
        rows = self.session.execute(
            select(ContactRow, ClientRow.name)
            .join(ClientRow, ClientRow.id == ContactRow.client_id)
            .where(ContactRow.config_key.is_(None))
            .order_by(ContactRow.client_id, ContactRow.id)
        ).all()
        return self._views([(r[0], r[1]) for r in rows])

    def of_client(self, client_id: str | None, limit: int) -> list[ContactView]:
        query = select(ContactRow, ClientRow.name).outerjoin(
            ClientRow, ClientRow.id == ContactRow.client_id
        )
        if client_id is not None:
            query = query.where(ContactRow.client_id == client_id)
        else:
            query = query.where(ContactRow.client_id.is_not(None))
        rows = self.session.execute(query.order_by(ContactRow.name, ContactRow.id).limit(limit))
        return self._views([(r[0], r[1]) for r in rows.all()])

    def _views(self, rows: Sequence[tuple[ContactRow, str | None]]) -> list[ContactView]:
        ids = [contact.id for contact, _ in rows]
        identities: dict[int, list[IdentityView]] = {i: [] for i in ids}
        last: dict[int, str] = {}
        if ids:
            for identity in self.session.execute(
                select(IdentityRow).where(IdentityRow.contact_id.in_(ids)).order_by(IdentityRow.id)
            ).scalars():
                identities[identity.contact_id].append(
                    IdentityView(
                        id=identity.id,
                        channel=identity.channel,
                        address=identity.address,
                        source=identity.source,
                        opted_out=identity.opted_out,
                        unreachable=identity.unreachable,
                    )
                )
            for contact_id, channel in self.session.execute(
                select(ConversationRow.contact_id, ConversationRow.channel)
                .where(
                    ConversationRow.contact_id.in_(ids),
                    ConversationRow.last_message_at.is_not(None),
                )
                .order_by(ConversationRow.last_message_at, ConversationRow.id)
            ).all():
                last[contact_id] = channel  # the latest wins
        return [
            ContactView(
                id=contact.id,
                client_id=contact.client_id,
                client_name=client_name,
                name=contact.name,
                config_key=contact.config_key,
                created_at=contact.created_at,
                identities=tuple(identities[contact.id]),
                last_channel=last.get(contact.id),
            )
            for contact, client_name in rows
        ]

    def owner_of(self, channel: str, address: str) -> int | None:
        """The contact whose identity this address is, if any."""
        return self.session.execute(
            select(IdentityRow.contact_id).where(
                IdentityRow.channel == channel, IdentityRow.address == address
            )
        ).scalar_one_or_none()

    def conversation_ids(self, contact_id: int) -> list[int]:
        return list(
            self.session.execute(
                select(ConversationRow.id)
                .where(ConversationRow.contact_id == contact_id)
                .order_by(ConversationRow.id)
            ).scalars()
        )

    def conversation_on(self, contact_id: int, channel: str) -> int | None:
        """Their conversation on a channel where a reply would go: the latest they wrote in."""
        return self.session.execute(
            select(ConversationRow.id)
            .where(ConversationRow.contact_id == contact_id, ConversationRow.channel == channel)
            .order_by(
                ConversationRow.last_message_at.desc().nulls_last(), ConversationRow.id.desc()
            )
            .limit(1)
        ).scalar_one_or_none()

    def start_conversation(
        self, contact_id: int, client_id: str | None, channel: str, chat_id: str, at: datetime
    ) -> int:
        """A conversation staff open on a channel the contact never wrote on (no message of
        theirs yet: `last_message_at` stays empty), or the one a racing call made."""
        insert_ignore(
            self.session,
            ConversationRow.__table__,
            {
                "contact_id": contact_id,
                "client_id": client_id,
                "channel": channel,
                "chat_id": chat_id,
                "status": "open",
                "created_at": at,
                "updated_at": at,
                "last_message_at": None,
            },
        )
        return self.session.execute(
            select(ConversationRow.id).where(
                ConversationRow.contact_id == contact_id,
                ConversationRow.channel == channel,
                ConversationRow.chat_id == chat_id,
            )
        ).scalar_one()

    def clashing_chats(self, from_id: int, into_id: int) -> list[tuple[str, str]]:
        """(channel, chat) where both contacts have a conversation: one person cannot have two
        there (a group chat both wrote in), so such a merge is refused."""
        mine = select(ConversationRow.channel, ConversationRow.chat_id).where(
            ConversationRow.contact_id == from_id
        )
        theirs = {
            (r.channel, r.chat_id)
            for r in self.session.execute(
                select(ConversationRow.channel, ConversationRow.chat_id).where(
                    ConversationRow.contact_id == into_id
                )
            )
        }
        return [(r.channel, r.chat_id) for r in self.session.execute(mine) if tuple(r) in theirs]

    # ------------------------------------------------------------------ writing
    def create(self, client_id: str, name: str, at: datetime) -> int:
        row = ContactRow(client_id=client_id, name=name, config_key=None, created_at=at)
        self.session.add(row)
        self.session.flush()
        return row.id

    def add_identity(self, contact_id: int, channel: str, address: str) -> None:
        self.session.add(
            IdentityRow(
                contact_id=contact_id,
                channel=channel,
                address=address,
                opted_out=False,
                unreachable=False,
                source=RUNTIME,
            )
        )
        self.session.flush()

    def remove_identity(self, identity_id: int) -> None:
        """The address stops being theirs (its next message is an unknown sender's); what they
        wrote from it stays in their conversations."""
        self.session.execute(delete(IdentityRow).where(IdentityRow.id == identity_id))

    def rename(self, contact_id: int, name: str, old_name: str | None) -> None:
        """A new name, shown on what they wrote too (messages filed under the old one)."""
        self.session.execute(
            update(ContactRow).where(ContactRow.id == contact_id).values(name=name)
        )
        self.session.execute(
            update(MessageRow)
            .where(
                MessageRow.author_type == "contact",
                MessageRow.author_id == str(contact_id),
                or_(MessageRow.author_name.is_(None), MessageRow.author_name == old_name),
            )
            .values(author_name=name)
        )

    def set_client(self, contact_id: int, client_id: str, at: datetime) -> list[int]:
        """The contact and every conversation of theirs become the client's; the ids moved."""
        self.session.execute(
            update(ContactRow).where(ContactRow.id == contact_id).values(client_id=client_id)
        )
        moved = self.conversation_ids(contact_id)
        if moved:
            self.session.execute(
                update(ConversationRow)
                .where(ConversationRow.id.in_(moved))
                .values(client_id=client_id, updated_at=at)
            )
        return moved

    def merge(self, from_id: int, into_id: int, at: datetime) -> list[int]:
        """`from_id` becomes `into_id`: its identities, conversations and the authorship of
        what it wrote move over, and the emptied contact goes. The conversation ids moved."""
        into = self.session.get(ContactRow, into_id)
        assert into is not None
        moved = self.conversation_ids(from_id)
        self.session.execute(
            update(IdentityRow).where(IdentityRow.contact_id == from_id).values(contact_id=into_id)
        )
        if moved:
            self.session.execute(
                update(ConversationRow)
                .where(ConversationRow.id.in_(moved))
                .values(contact_id=into_id, client_id=into.client_id, updated_at=at)
            )
        # Messages name their author by contact id: every one they wrote anywhere (a shared
        # chat's conversation too) now names the one person.
        self.session.execute(
            update(MessageRow)
            .where(MessageRow.author_type == "contact", MessageRow.author_id == str(from_id))
            .values(author_id=str(into_id))
        )
        if into.name is not None:
            self.session.execute(
                update(MessageRow)
                .where(
                    MessageRow.author_type == "contact",
                    MessageRow.author_id == str(into_id),
                    MessageRow.author_name.is_(None),
                )
                .values(author_name=into.name)
            )
        self.session.execute(delete(ContactRow).where(ContactRow.id == from_id))
        self.session.flush()
        return moved
