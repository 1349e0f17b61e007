"""Who the agency's clients, contacts and staff are, as plain values (built from the
configuration)."""

from __future__ import annotations

from dataclasses import dataclass

from routing.escalation import NotifyRule
from routing.messages import Channel


@dataclass(frozen=True, slots=True)
class ContactEntry:
    name: str
    addresses: tuple[tuple[Channel, str], ...]  # (channel, E.164 / Telegram id / Slack id)


@dataclass(frozen=True, slots=True)
class ClientEntry:
    id: str
    name: str
    commitment: str
    escalation: str | None
    timezone: str | None
    account_team: tuple[str, ...]
    contacts: tuple[ContactEntry, ...]
    # Shared chats (a Slack Connect channel): each is one conversation of the client, whoever
    # of the client's people writes in it (see routing.router).
    chats: tuple[tuple[Channel, str], ...] = ()

    def contact_key(self, contact: ContactEntry) -> str:
        return f"{self.id}/{contact.name}"

    def chat_key(self, channel: Channel, chat_id: str) -> str:
        return f"{self.id}/#{channel.value}:{chat_id}"


@dataclass(frozen=True, slots=True)
class StaffEntry:
    id: str
    name: str
    sms: str | None = None  # E.164, also the number voice calls ring
    telegram: int | None = None
    slack: str | None = None  # Slack user id
    notify: tuple[NotifyRule, ...] = ()  # in the configuration's order

    @property
    def first_name(self) -> str:
        return self.name.split()[0]
