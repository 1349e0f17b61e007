"""The directory: everything the configuration names (staff, clients, business calendars,
commitment tiers, escalation policies, rotations) as plain values, with the lookup tables the
application needs, built once per configuration (bot/config/directory.py builds it;
bot/reloading.py once per file, at start and at each reload, with the parts that read it:
bot/usecases/configured.py) and read by everything else, so that nothing builds a second table
or a second rotation that could disagree with the first."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TypeVar
from zoneinfo import ZoneInfo

from routing import escalation as esc
from routing.business_hours import BusinessCalendar
from routing.commitments_policy import CommitmentPolicy
from routing.directory import ClientEntry, StaffEntry
from routing.messages import Channel
from routing.rotations import Rotation

K = TypeVar("K")
V = TypeVar("V")


def _frozen(mapping: Mapping[K, V]) -> Mapping[K, V]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True, slots=True)
class ClientTerms:
    """What a conversation's client is promised, and who answers for it."""

    tier: str
    zone: ZoneInfo
    account_team: tuple[str, ...]
    escalation: str | None


@dataclass(frozen=True, eq=False)
class Directory:
    """Read-only: its mappings are views that cannot be changed, in the configuration's order.
    The fields set in `__post_init__` are indexes of the ones given."""

    agency: str  # the agency's name
    zone: ZoneInfo  # the agency's time zone
    staff: Mapping[str, StaffEntry]  # by id
    clients: Mapping[str, ClientEntry]  # by id
    calendars: Mapping[str, BusinessCalendar]  # by `[hours.NAME]`
    commitments: Mapping[str, CommitmentPolicy]  # by tier
    auto_replies: Mapping[str, str | None]  # each tier's after-hours acknowledgement
    unknown_senders: ClientTerms  # the terms of a sender who is no client's contact
    escalations: Mapping[str, esc.Policy]  # each client's escalation policy, by client id
    rotations: Mapping[str, Rotation]  # by id; handoffs in the agency's zone

    staff_names: Mapping[str, str] = field(init=False)
    staff_by_sms: Mapping[str, StaffEntry] = field(init=False)
    staff_by_telegram: Mapping[int, StaffEntry] = field(init=False)
    staff_by_slack: Mapping[str, StaffEntry] = field(init=False)
    terms: Mapping[str, ClientTerms] = field(init=False)  # by client id
    # A shared chat (a Slack channel): the client whose conversation it is.
    chat_clients: Mapping[tuple[Channel, str], str] = field(init=False)
    # Every address a client's contact writes from.
    contact_addresses: frozenset[tuple[Channel, str]] = field(init=False)

    def __post_init__(self) -> None:
        def put(name: str, value: object) -> None:
            object.__setattr__(self, name, value)

        for name in (
            "staff",
            "clients",
            "calendars",
            "commitments",
            "auto_replies",
            "escalations",
            "rotations",
        ):
            put(name, _frozen(getattr(self, name)))
        people = self.staff.values()
        put("staff_names", _frozen({s.id: s.name for s in people}))
        put("staff_by_sms", _frozen({s.sms: s for s in people if s.sms}))
        put("staff_by_telegram", _frozen({s.telegram: s for s in people if s.telegram is not None}))
        put("staff_by_slack", _frozen({s.slack: s for s in people if s.slack}))
        put(
            "terms",
            _frozen(
                {
                    c.id: ClientTerms(
                        c.commitment,
                        ZoneInfo(c.timezone) if c.timezone else self.zone,
                        c.account_team,
                        c.escalation,
                    )
                    for c in self.clients.values()
                }
            ),
        )
        put(
            "chat_clients",
            _frozen({chat: c.id for c in self.clients.values() for chat in c.chats}),
        )
        put(
            "contact_addresses",
            frozenset(
                address
                for c in self.clients.values()
                for contact in c.contacts
                for address in contact.addresses
            ),
        )

    def terms_of(self, client_id: str | None) -> ClientTerms:
        """A client's terms; an unknown (or no) client gets the unknown senders' terms."""
        found = self.terms.get(client_id) if client_id else None
        return found if found is not None else self.unknown_senders
