"""Contacts at runtime: staff create and edit a client's contacts, merge two contacts into one
person, and link an unknown sender's conversation to a client (triage). Each opens one unit
of work and commits it itself.

The configuration file is the source of truth where it speaks: a contact from it is read-only
here (409, "edit the file"), and the start-up sync never deletes what is added here
(storage/directory.py). Moving a conversation to a client moves its open commitment too
(Availability.on_client_changed): that client's tier, from the original message time.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import phonenumbers

from bot.usecases.attachments import OutgoingFile
from bot.usecases.base import Author
from bot.usecases.inbound import InboundCases
from routing.errors import Conflict, DomainError, NotFound
from routing.limits import PERSON_NAME, clean_text
from routing.messages import Channel
from storage.contacts import ContactView
from storage.conversations import ConversationView, MessageView
from storage.unit_of_work import UnitOfWork

# The channels a client writes on (voice is for paging staff only).
CLIENT_CHANNELS = (Channel.SMS, Channel.TELEGRAM, Channel.SLACK)
_TELEGRAM_USER = re.compile(r"[1-9][0-9]{0,19}")
_SLACK_USER = re.compile(r"[UW][A-Z0-9]{2,}")
FILE_ONLY = (
    "contact {id} comes from the configuration file: edit it there "
    "(its [[clients.contacts]]) and restart or reload"
)


@dataclass(frozen=True, slots=True)
class Identity:
    """An address to give a contact, as staff typed it (checked by `checked_identity`)."""

    channel: str
    address: str


def checked_identity(identity: Identity) -> tuple[Channel, str]:
    """The channel and the address as the router sees it, or a DomainError saying why not."""
    channel = next((c for c in CLIENT_CHANNELS if c.value == identity.channel), None)
    if channel is None:
        raise DomainError(
            "bad_channel", f"unknown channel {identity.channel!r}: use sms, telegram or slack"
        )
    address = identity.address.strip()
    if channel is Channel.SMS:
        try:
            number = phonenumbers.parse(address, None)
        except phonenumbers.NumberParseException:
            number = None
        if number is None or not phonenumbers.is_possible_number(number):
            raise DomainError("bad_address", f"{address!r} is not an E.164 phone number")
        return channel, phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if channel is Channel.TELEGRAM and not _TELEGRAM_USER.fullmatch(address):
        raise DomainError("bad_address", f"{address!r} is not a Telegram user id (digits)")
    if channel is Channel.SLACK and not _SLACK_USER.fullmatch(address):
        raise DomainError("bad_address", f"{address!r} is not a Slack user id (U... or W...)")
    return channel, address


class ContactCases(InboundCases):
    # ------------------------------------------------------------------ reading
    def contact(self, contact_id: int) -> ContactView:
        with self.reader() as uow:
            return self._contact(uow, contact_id)

    def contacts(self, client_id: str | None, limit: int) -> list[ContactView]:
        with self.reader() as uow:
            return uow.contacts.of_client(client_id, limit)

    def runtime_contacts(self) -> list[ContactView]:
        """What `partnerline contacts export` prints."""
        with self.reader() as uow:
            return uow.contacts.runtime()

    # ------------------------------------------------------------------ writing
    def create_contact(
        self, client_id: str, name: str, identities: Sequence[Identity], author: Author
    ) -> ContactView:
        self._client(client_id)
        name = self._name(name)
        addresses = self._addresses(identities)

        def work() -> ContactView:
            with self.uow() as uow:
                for channel, address in addresses:
                    self._free(uow, channel, address, None)
                contact_id = uow.contacts.create(client_id, name, self.clock.now())
                for channel, address in addresses:
                    uow.contacts.add_identity(contact_id, channel.value, address)
                uow.commit()
                return self._contact(uow, contact_id)

        return self._retrying(work)

    def update_contact(
        self,
        contact_id: int,
        author: Author,
        *,
        client_id: str | None = None,
        name: str | None = None,
        identities: Sequence[Identity] | None = None,
    ) -> ContactView:
        """Change what is given: the client (their conversations and open commitments move
        with them), the name, or the whole list of identities (an address left out stops
        being theirs; what they wrote from it stays)."""
        if client_id is not None:
            self._client(client_id)
        new_name = self._name(name) if name is not None else None
        addresses = self._addresses(identities) if identities is not None else None
        with self.uow() as uow:
            now = self.clock.now()
            contact = self._editable(uow, contact_id)
            if new_name is not None and new_name != contact.name:
                uow.contacts.rename(contact.id, new_name, contact.name)
            if addresses is not None:
                wanted = set(addresses)
                for identity in contact.identities:
                    if (Channel(identity.channel), identity.address) not in wanted:
                        uow.contacts.remove_identity(identity.id)
                held = {(i.channel, i.address) for i in contact.identities}
                for channel, address in addresses:
                    if (channel.value, address) not in held:
                        self._free(uow, channel, address, contact.id)
                        uow.contacts.add_identity(contact.id, channel.value, address)
            if client_id is not None and client_id != contact.client_id:
                moved = uow.contacts.set_client(contact.id, client_id, now)
                self._moved(uow, moved, "linked", author, now)
            uow.commit()
            return self._contact(uow, contact.id)

    def merge_contacts(self, from_id: int, into_id: int, author: Author) -> ContactView:
        """`from_id` becomes part of `into_id`: every identity and conversation, and every
        message they wrote, is the one person's; `from_id` is no more."""
        if from_id == into_id:
            raise DomainError("merge_into_itself", f"contact {from_id} cannot merge into itself")
        with self.uow() as uow:
            now = self.clock.now()
            source = self._editable(uow, from_id)
            target = self._contact(uow, into_id, lock=True)
            if target.client_id is None and source.client_id is not None:
                raise Conflict(
                    "merge_into_unknown",
                    f"contact {into_id} is an unknown sender: merge it into contact {from_id} "
                    "instead, or link its conversation to a client",
                )
            if source.client_id is not None and source.client_id != target.client_id:
                raise Conflict(
                    "merge_other_client",
                    f"contact {from_id} is {source.client_name}'s and contact {into_id} "
                    f"{target.client_name}'s: one person is one client's",
                )
            self._merge(uow, source, target, "merged", author, now)
            uow.commit()
            return self._contact(uow, into_id)

    def link(
        self,
        conversation_id: int,
        author: Author,
        *,
        client_id: str | None = None,
        name: str | None = None,
        contact_id: int | None = None,
    ) -> ConversationView:
        """An unknown sender's conversation moves to a client: its contact becomes that
        client's new contact (`client_id` and `name`), or another identity of an existing
        contact (`contact_id`). Every conversation of that sender moves with it, messages and
        open commitment included; a second link finds no unknown sender (409)."""
        if (contact_id is None) == (client_id is None):
            raise DomainError(
                "bad_link", "link to a client (client and name) or to a contact, not both"
            )
        if client_id is not None:
            self._client(client_id)
            if name is None:
                raise DomainError("bad_link", "a new contact of the client needs a name")
            name = self._name(name)

        def work() -> ConversationView:
            with self.uow() as uow:
                now = self.clock.now()
                uow.conversations.lock(conversation_id)
                conv = self._conversation(uow, conversation_id)
                sender = self._contact(uow, conv.contact_id, lock=True)
                if conv.client_id is not None or sender.client_id is not None:
                    raise Conflict(
                        "not_unknown_sender",
                        f"conversation {conversation_id} is {conv.client_name}'s already: only "
                        "an unknown sender's conversation can be linked",
                    )
                if contact_id is not None:
                    target = self._contact(uow, contact_id, lock=True)
                    if target.client_id is None:
                        raise Conflict(
                            "link_to_unknown",
                            f"contact {contact_id} is an unknown sender too: link to a "
                            "client's contact",
                        )
                    self._merge(uow, sender, target, "linked", author, now)
                else:
                    assert client_id is not None and name is not None
                    uow.contacts.rename(sender.id, name, sender.name)
                    moved = uow.contacts.set_client(sender.id, client_id, now)
                    self._moved(uow, moved, "linked", author, now)
                uow.commit()
                return self._conversation(uow, conversation_id)

        return self._retrying(work)

    def reply_on(
        self,
        conversation_id: int,
        text: str,
        author: Author,
        channel: str | None,
        files: Sequence[OutgoingFile] = (),
    ) -> MessageView:
        """A reply to the conversation's contact on `channel` (None: the conversation's own):
        in their conversation there (the one they last wrote in, else a new one on their
        address; Slack needs one they started), and this conversation counts as answered."""
        if channel is None:
            return self.reply(conversation_id, text, author, files)

        def work() -> MessageView:
            with self.uow() as uow:
                now = self.clock.now()
                conv = self._conversation(uow, conversation_id)
                if channel == conv.channel:
                    message = self._reply(uow, conv.id, text, author, now, files)
                else:
                    target = self._conversation_on(uow, conv, channel, now)
                    message = self._reply(uow, target, text, author, now, files)
                    self._answered(uow, conv.id, now)
                uow.commit()
                return message

        return self._retrying(work)

    def _conversation_on(
        self, uow: UnitOfWork, conv: ConversationView, channel: str, now: datetime
    ) -> int:
        contact = self._contact(uow, conv.contact_id)
        who = contact.name or conv.address
        addresses = [i for i in contact.identities if i.channel == channel]
        if channel not in {c.value for c in CLIENT_CHANNELS}:
            raise DomainError(
                "bad_channel", f"unknown channel {channel!r}: use sms, telegram or slack"
            )
        if not addresses:
            raise Conflict("not_on_channel", f"{who} has no {channel} address to reply to")
        found = uow.contacts.conversation_on(contact.id, channel)
        if found is not None:
            return found
        if channel == Channel.SLACK.value:
            raise Conflict(
                "no_slack_chat",
                f"{who} has not written on Slack yet: a Slack reply goes to a chat they started",
            )
        # SMS and Telegram private chats are the address itself.
        return uow.contacts.start_conversation(
            contact.id, contact.client_id, channel, addresses[0].address, now
        )

    # ------------------------------------------------------------------ shared
    def _merge(
        self,
        uow: UnitOfWork,
        source: ContactView,
        target: ContactView,
        kind: str,
        author: Author,
        now: datetime,
    ) -> None:
        clashes = uow.contacts.clashing_chats(source.id, target.id)
        if clashes:
            where = ", ".join(f"{channel} chat {chat}" for channel, chat in clashes)
            raise Conflict(
                "merge_clash",
                f"contacts {source.id} and {target.id} both have a conversation in {where}",
            )
        moved = uow.contacts.merge(source.id, target.id, now)
        self._moved(uow, moved, kind, author, now)

    def _moved(
        self, uow: UnitOfWork, moved: Sequence[int], kind: str, author: Author, now: datetime
    ) -> None:
        """Conversations that changed hands: a line in each timeline, and the open
        commitment under the client's tier."""
        for conversation_id in moved:
            uow.conversations.record_event(conversation_id, kind, author.id, now)
            uow.conversation_changed(conversation_id)
            if self.availability is not None:
                self.availability.on_client_changed(uow, conversation_id, now)

    def _contact(self, uow: UnitOfWork, contact_id: int, *, lock: bool = False) -> ContactView:
        found = uow.contacts.get(contact_id, lock=lock)
        if found is None:
            raise NotFound("contact_not_found", f"no contact {contact_id}")
        return found

    def _editable(self, uow: UnitOfWork, contact_id: int) -> ContactView:
        contact = self._contact(uow, contact_id, lock=True)
        if contact.config_key is not None:
            raise Conflict("contact_from_config", FILE_ONLY.format(id=contact_id))
        return contact

    def _client(self, client_id: str) -> None:
        clients = self.directory.clients if self.directory is not None else {}
        if client_id not in clients:
            known = ", ".join(sorted(clients)) or "none"
            raise DomainError("unknown_client", f"no client {client_id!r} (clients: {known})")

    @staticmethod
    def _name(name: str) -> str:
        cleaned = " ".join(clean_text(name).split())
        if not cleaned or len(cleaned) > PERSON_NAME:
            raise DomainError("bad_name", f"a contact's name has 1 to {PERSON_NAME} characters")
        return cleaned

    @staticmethod
    def _addresses(identities: Sequence[Identity]) -> list[tuple[Channel, str]]:
        if not identities:
            raise DomainError("no_address", "a contact needs at least one identity (address)")
        addresses: list[tuple[Channel, str]] = []
        for identity in identities:
            checked = checked_identity(identity)
            if checked not in addresses:
                addresses.append(checked)
        return addresses

    @staticmethod
    def _free(uow: UnitOfWork, channel: Channel, address: str, contact_id: int | None) -> None:
        owner = uow.contacts.owner_of(channel.value, address)
        if owner is None or owner == contact_id:
            return
        found = uow.contacts.get(owner)
        if found is not None and found.client_id is None:
            raise Conflict(
                "address_of_unknown_sender",
                f"{channel.value} {address} is an unknown sender's (contact {owner}): link "
                "their conversation to this client instead",
            )
        raise Conflict(
            "address_taken", f"{channel.value} {address} is already contact {owner}'s address"
        )
