"""The router: files each inbound message into its conversation, exactly once.

Pure logic over a `RouterStore` port; storage.router_store implements it inside one
transaction, so a message, its dedupe record and its conversation are committed together.

Which conversation: one per contact, channel and chat, except in a shared chat. A chat that
is itself the address of a contact (a client's Slack Connect channel, synced from the
configuration as a contact of the client) is one conversation whoever writes in it: each
member's message joins it under their own name, and a member we do not know becomes a contact
of the chat's client, not an unknown sender.

Edits are edits: an edit of a message we hold changes that message's text and keeps the
earlier text in its history (routing.edits); it starts nothing and is never a second message.
An edit whose original never reached us is filed as a new message under the original's id
(it is what the client now says), marked edited with the earlier text unknown; if the
original arrives after all, its text fills that gap in the history.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from routing.edits import Edit
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


@dataclass(frozen=True, slots=True)
class MessageRef:
    id: int
    conversation_id: int


class Outcome(enum.StrEnum):
    NEW = "new"  # a new client message was recorded
    EDIT = "edit"  # a message we already hold changed (an edit, or its late original text)
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

    def add_contact(
        self,
        channel: Channel,
        address: str,
        at: datetime,
        *,
        client_id: str | None = None,
        name: str | None = None,
    ) -> ContactRef:
        """Create a contact for an address (of `client_id`, else a triage contact), or return
        the one a racing call made."""
        ...

    def adopt_contact(
        self, contact: ContactRef, client_id: str | None, name: str | None
    ) -> ContactRef:
        """A triage contact seen in a client's shared chat becomes the client's; an unnamed
        one takes `name`. Contacts with a client and a name stay as they are."""
        ...

    def conversation_for(
        self, contact: ContactRef, channel: Channel, chat_id: str, at: datetime
    ) -> tuple[ConversationRef, bool]:
        """The one conversation of (contact, channel, chat), made if needed; True if made."""
        ...

    def conversation(self, conversation_id: int) -> ConversationRef | None: ...

    def reopen(self, conversation: ConversationRef, at: datetime) -> ConversationRef: ...

    def find_message(self, channel: Channel, provider_id: str) -> MessageRef | None: ...

    def add_client_message(
        self, conversation: ConversationRef, contact: ContactRef, msg: InboundMessage
    ) -> int:
        """File `msg` as a message of `contact` in `conversation`. An edit (`msg.edit_of` set)
        filed this way is one whose original we never got: it takes the original's id."""
        ...

    def apply_edit(self, message_id: int, edit: Edit) -> bool:
        """Record an edit of a message; False if that edit was recorded before."""
        ...

    def fill_original(self, message_id: int, text: str) -> bool:
        """The original text of a message filed from its edit arrived: keep it as the first
        text of its history. False if the message's original text is known already."""
        ...

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
        if msg.edit_of is not None:
            original = self.store.find_message(msg.channel, msg.edit_of)
            if original is not None:
                return self._edit(original, msg)
            # The original never reached us: what the client says now is filed as new.
        else:
            held = self.store.find_message(msg.channel, msg.provider_id)
            if held is not None:  # the same message by another delivery, or after its edit
                if self.store.fill_original(held.id, msg.text):
                    return self._changed(held, msg)
                return Ingested(Outcome.DUPLICATE)

        chat_id = msg.chat_id or msg.address
        # A chat that is a contact's own address is a shared chat: one conversation, its owner's.
        chat = self.store.find_contact(msg.channel, chat_id) if chat_id != msg.address else None
        contact = self.store.find_contact(msg.channel, msg.address)
        if contact is None:
            contact = self.store.add_contact(
                msg.channel,
                msg.address,
                at,
                client_id=chat.client_id if chat is not None else None,
                name=msg.sender_name if chat is not None else None,
            )
        elif chat is not None and (contact.client_id is None or contact.name is None):
            contact = self.store.adopt_contact(contact, chat.client_id, msg.sender_name)

        for reached in (contact, chat):  # they wrote: whatever blocked them before is over
            if reached is not None and reached.unreachable:
                self.store.set_reachable(reached)
        if msg.opt_keyword is OptKeyword.STOP and not contact.opted_out:
            self.store.set_opted_out(contact, True, at)
        elif msg.opt_keyword is OptKeyword.START and contact.opted_out:
            self.store.set_opted_out(contact, False, at)

        owner = chat if chat is not None else contact
        conversation, opened = self.store.conversation_for(owner, msg.channel, chat_id, at)
        reopened = False
        if conversation.status == "closed":
            conversation = self.store.reopen(conversation, at)
            reopened = True

        message_id = self.store.add_client_message(conversation, contact, msg)
        return Ingested(
            Outcome.NEW,
            message_id=message_id,
            contact=contact,
            conversation=conversation,
            opened=opened,
            reopened=reopened,
        )

    def _edit(self, original: MessageRef, msg: InboundMessage) -> Ingested:
        edit = Edit(msg.provider_id, msg.text, msg.received_at, msg.edited_at)
        if not self.store.apply_edit(original.id, edit):
            return Ingested(Outcome.DUPLICATE)  # this edit came before, by another delivery
        return self._changed(original, msg)

    def _changed(self, message: MessageRef, msg: InboundMessage) -> Ingested:
        """An existing message changed: nothing starts, but what shows it follows."""
        return Ingested(
            Outcome.EDIT,
            message_id=message.id,
            contact=self.store.find_contact(msg.channel, msg.address),
            conversation=self.store.conversation(message.conversation_id),
        )
