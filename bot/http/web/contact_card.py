"""The contact on a conversation's page: every channel they used, where their other
conversations are, whether the file owns them, and the channels a reply can go out on."""

from __future__ import annotations

from dataclasses import dataclass

from bot.usecases.contacts import CLIENT_CHANNELS
from routing.messages import Channel
from storage.contacts import ContactView
from storage.conversations import ConversationView
from storage.unit_of_work import UnitOfWork

# The most of one contact's conversations the card lists (they are one person's, so few).
CARD_CONVERSATIONS = 50


@dataclass(frozen=True, slots=True)
class ContactCard:
    contact: ContactView
    conversations: list[ConversationView]  # every conversation of theirs, oldest first
    reply_channels: list[str]  # where a reply can go, the conversation's own among them
    reply_default: str  # the channel they last wrote on, when a reply can go there


def contact_card(uow: UnitOfWork, conv: ConversationView) -> ContactCard | None:
    contact = uow.contacts.get(conv.contact_id)
    if contact is None:
        return None
    ids = uow.contacts.conversation_ids(contact.id)[:CARD_CONVERSATIONS]
    conversations = [c for c in (uow.conversations.get(i) for i in ids) if c is not None]
    channels = [c.value for c in CLIENT_CHANNELS if _reachable(uow, contact, conv, c)]
    default = contact.last_channel if contact.last_channel in channels else conv.channel
    return ContactCard(contact, conversations, channels, default)


def _reachable(
    uow: UnitOfWork, contact: ContactView, conv: ConversationView, channel: Channel
) -> bool:
    """The conversation's own channel always (its reply rules are the reply's); another one
    when they have a working address there, and for Slack a chat they started (a Slack reply
    goes to one, bot/usecases/contacts.py)."""
    if channel.value == conv.channel:
        return True
    if not any(
        i.channel == channel.value and not (i.opted_out or i.unreachable)
        for i in contact.identities
    ):
        return False
    return (
        channel is not Channel.SLACK
        or uow.contacts.conversation_on(contact.id, channel.value) is not None
    )
