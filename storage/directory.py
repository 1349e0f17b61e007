"""Bring the clients and contacts of the configuration into the database, idempotently.

Contacts that leave the configuration keep their history but lose their addresses, so a
later message from that number lands with the unknown senders for triage.

A client's shared chat (a Slack Connect channel) is a contact of the client too, whose address
is the chat: the router files every member's message there into that contact's one
conversation. Its config_key is "client-id/#channel:chat-id".
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from routing.directory import ClientEntry
from routing.messages import Channel
from storage.tables import ClientRow, ContactRow, IdentityRow
from storage.upsert import upsert

CHAT_NAMES = {Channel.SLACK: "Shared Slack channel"}


def sync_directory(session: Session, clients: Sequence[ClientEntry], at: datetime) -> None:
    wanted: set[tuple[str, str]] = set()
    for client in clients:
        upsert(
            session,
            ClientRow.__table__,
            {
                "id": client.id,
                "name": client.name,
                "commitment": client.commitment,
                "escalation": client.escalation,
                "timezone": client.timezone,
                "account_team": list(client.account_team),
                "active": True,
            },
            keys=["id"],
        )
    session.execute(
        update(ClientRow).where(ClientRow.id.not_in([c.id for c in clients])).values(active=False)
    )
    session.flush()
    for client in clients:
        entries = [
            (client.contact_key(contact), contact.name, contact.addresses)
            for contact in client.contacts
        ]
        entries += [
            (
                client.chat_key(channel, chat),
                CHAT_NAMES.get(channel, "Shared chat"),
                ((channel, chat),),
            )
            for channel, chat in client.chats
        ]
        for key, name, addresses in entries:
            row = session.execute(
                select(ContactRow).where(ContactRow.config_key == key)
            ).scalar_one_or_none()
            if row is None:
                row = ContactRow(client_id=client.id, name=name, config_key=key, created_at=at)
                session.add(row)
                session.flush()
            for channel, address in addresses:
                wanted.add((channel.value, address))
                _assign(session, row.id, channel, address)
    session.flush()
    # Addresses that configured contacts no longer have go back to triage.
    configured = select(ContactRow.id).where(ContactRow.config_key.is_not(None))
    for identity in session.execute(
        select(IdentityRow).where(IdentityRow.contact_id.in_(configured))
    ).scalars():
        if (identity.channel, identity.address) not in wanted:
            session.execute(delete(IdentityRow).where(IdentityRow.id == identity.id))
    session.flush()


def _assign(session: Session, contact_id: int, channel: Channel, address: str) -> None:
    identity = session.execute(
        select(IdentityRow).where(
            IdentityRow.channel == channel.value, IdentityRow.address == address
        )
    ).scalar_one_or_none()
    if identity is None:
        session.add(
            IdentityRow(
                contact_id=contact_id,
                channel=channel.value,
                address=address,
                opted_out=False,
                unreachable=False,
            )
        )
    elif identity.contact_id != contact_id:
        # The address was an unknown sender's, or moved between contacts: it belongs to the
        # configured contact now (opt-out state stays with it).
        identity.contact_id = contact_id
