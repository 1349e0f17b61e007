"""The router: files each inbound message into its contact's conversation, exactly once.

Pure logic over a `RouterStore` port; storage.router_store implements it inside one
transaction, so a message, its dedupe record and its conversation are committed together.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from routing.messages import Channel, InboundMessage, OptKeyword


@dataclass(frozen=True, slots=True)
class ContactRef:
    id: int
    client_id: str | None  # None: an unknown sender, in the triage bucket
    name: str | None
    identity_id: int
    opted_out: bool = False
    unreachable: bool = False


@dataclass(frozen=True, slots=True)
class ConversationRef:
    id: int
    contact_id: int
    client_id: str | None
    channel: Channel
    chat_id: str
    status: str
    assignee: str | None = None


class Outcome(enum.StrEnum):
    NEW = "new"  # a new client message was recorded
    EDIT = "edit"  # an edit of a message we already hold was recorded
    DUPLICATE = "duplicate"  # the provider delivered this before; nothing changed


@dataclass(frozen=True, slots=True)
class Ingested:
    outcome: Outcome
    message_id: int | None = None
    contact: ContactRef | None = None
    conversation: ConversationRef | None = None
    opened: bool = False  # a conversation was created for it
    reopened: bool = False  # a closed conversation was reopened by it

    @property
    def unknown_sender(self) -> bool:
        return self.contact is not None and self.contact.client_id is None


class RouterStore(Protocol):
    """What the router needs from storage. Every method runs in the caller's transaction."""

    def claim_delivery(self, channel: Channel, key: str, at: datetime) -> bool:
        """Record that this provider delivery was seen; False if it was seen before."""
        ...

    def find_contact(self, channel: Channel, address: str) -> ContactRef | None: ...

    def add_unknown_contact(self, channel: Channel, address: str, at: datetime) -> ContactRef:
        """Create a triage contact for an address, or return the one a racing call made."""
        ...

    def conversation_for(
        self, contact: ContactRef, channel: Channel, chat_id: str, at: datetime
    ) -> tuple[ConversationRef, bool]:
        """The one conversation of (contact, channel, chat), made if needed; True if made."""
        ...

    def reopen(self, conversation: ConversationRef, at: datetime) -> ConversationRef: ...

    def find_message_id(self, channel: Channel, provider_id: str) -> int | None: ...

    def add_client_message(
        self,
        conversation: ConversationRef,
        contact: ContactRef,
        msg: InboundMessage,
        edit_of: int | None,
    ) -> int: ...

    def set_opted_out(self, contact: ContactRef, opted_out: bool, at: datetime) -> None: ...

    def set_reachable(self, contact: ContactRef) -> None: ...


class Router:
    def __init__(self, store: RouterStore) -> None:
        self.store = store

    def ingest(
        self, msg: InboundMessage, delivery_key: str | None = None, *, claimed: bool = False
    ) -> Ingested:
        """File one message. `delivery_key` names the provider delivery (defaults to its id);
        `claimed`: the caller holds that delivery already (routing a journalled one)."""
        at = msg.received_at
        key = delivery_key or msg.provider_id
        if not claimed and not self.store.claim_delivery(msg.channel, key, at):
            return Ingested(Outcome.DUPLICATE)
        if (
            claimed
            and msg.edit_of is None
            and self.store.find_message_id(msg.channel, msg.provider_id) is not None
        ):
            return Ingested(Outcome.DUPLICATE)  # the same message came by another delivery

        contact = self.store.find_contact(msg.channel, msg.address)
        if contact is None:
            contact = self.store.add_unknown_contact(msg.channel, msg.address, at)

        if contact.unreachable:  # they wrote: whatever blocked them before is over
            self.store.set_reachable(contact)
        if msg.opt_keyword is OptKeyword.STOP and not contact.opted_out:
            self.store.set_opted_out(contact, True, at)
        elif msg.opt_keyword is OptKeyword.START and contact.opted_out:
            self.store.set_opted_out(contact, False, at)

        edit_of = None
        if msg.edit_of is not None:
            edit_of = self.store.find_message_id(msg.channel, msg.edit_of)

        chat_id = msg.chat_id or msg.address
        conversation, opened = self.store.conversation_for(contact, msg.channel, chat_id, at)
        reopened = False
        if conversation.status == "closed" and edit_of is None:
            conversation = self.store.reopen(conversation, at)
            reopened = True

        message_id = self.store.add_client_message(conversation, contact, msg, edit_of)
        return Ingested(
            Outcome.EDIT if edit_of is not None else Outcome.NEW,
            message_id=message_id,
            contact=contact,
            conversation=conversation,
            opened=opened,
            reopened=reopened,
        )
