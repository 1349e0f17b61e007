"""Who the agency's clients and contacts are, as plain values (built from the configuration)."""

from __future__ import annotations

from dataclasses import dataclass

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

    def contact_key(self, contact: ContactEntry) -> str:
        return f"{self.id}/{contact.name}"
