"""Bring the clients and contacts of the configuration into the database, idempotently.

Contacts that leave the configuration keep their history but lose the addresses the file gave
them, so a later message from that number lands with the unknown senders for triage. Addresses
added in the app (identities of source "runtime": triage, merges, the contacts API) are never
deleted here; an address the file names becomes the file's, whoever had it.

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
                # A contact made at runtime and since pasted into the file (`partnerline
                # contacts export`) becomes the file's, with its history.
                row = session.execute(
                    select(ContactRow)
                    .where(
                        ContactRow.config_key.is_(None),
                        ContactRow.client_id == client.id,
                        ContactRow.name == name,
                    )
                    .order_by(ContactRow.id)
                    .limit(1)
                ).scalar_one_or_none()
                if row is not None:
                    row.config_key = key
            if row is None:
                row = ContactRow(client_id=client.id, name=name, config_key=key, created_at=at)
                session.add(row)
                session.flush()
            for channel, address in addresses:
                wanted.add((channel.value, address))
                _assign(session, row.id, channel, address)
    session.flush()
    # Addresses the file no longer gives a contact go back to triage (runtime ones stay).
    for identity in session.execute(
        select(IdentityRow).where(IdentityRow.source == "config")
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
                source="config",
            )
        )
        return
    if identity.contact_id != contact_id:
        # The address was an unknown sender's, or moved between contacts: it belongs to the
        # configured contact now (opt-out state stays with it).
        identity.contact_id = contact_id
    identity.source = "config"
