"""Canned replies: the list admins keep (/inbox/canned), and each one filled in for a
conversation, for the composer's `/` picker.

Placeholders (written `{name}` in a reply's text):

    {contact_first_name}  the contact's first name ("there" for a sender with no name)
    {contact_name}        the contact's whole name (their address if unnamed)
    {client_name}         the client's name
    {my_first_name}       the first name of the staff member inserting the reply
    {due_time}            when the open commitment is due, in the client's zone, as the
                          after-hours acknowledgement says it ("2:11 PM", "Monday 9:30 AM");
                          "soon" with no open commitment

Anything else in braces (a typo, `{tracking_no}`, a lone `{`) is left as written, for the
person sending to see and fix: filling never fails.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from bot.usecases.directory import Directory
from routing.clock import Clock
from routing.errors import Conflict, DomainError, NotFound
from routing.limits import clean_text
from routing.plain_time import due_in_words
from storage.canned import CannedReply, CannedReplyRepository
from storage.conversations import ConversationView
from storage.unit_of_work import UnitOfWork

MAX_TITLE = 100
MAX_TEXT = 10_000  # as a reply (bot/http/web/conversation.py)
PLACEHOLDERS = (
    "contact_first_name",
    "contact_name",
    "client_name",
    "my_first_name",
    "due_time",
)
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
_OPEN = ("pending", "at_risk", "breached")


@dataclass(frozen=True, slots=True)
class FilledReply:
    """A canned reply as the picker offers it in one conversation."""

    id: int
    title: str
    text: str


def fill(text: str, values: Mapping[str, str]) -> str:
    """`text` with each known `{name}` replaced; unknown ones stay as they are."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


class CannedReplies:
    """Each method opens one unit of work. Who may edit is the caller's check (admins)."""

    def __init__(self, uow: Callable[[], UnitOfWork], directory: Directory, clock: Clock) -> None:
        self._uow = uow
        self.directory = directory
        self.clock = clock

    def all(self) -> list[CannedReply]:
        with self._uow() as uow:
            return CannedReplyRepository(uow.session).all()

    def add(self, title: str, text: str, by: str) -> CannedReply:
        title, text = _checked(title, text)
        with self._uow() as uow:
            repo = CannedReplyRepository(uow.session)
            if repo.titled(title) is not None:
                raise Conflict("canned_title_taken", f"A canned reply is already titled {title!r}.")
            reply = repo.add(title, text, by=by, at=self.clock.now())
            uow.commit()
            return reply

    def edit(self, reply_id: int, title: str, text: str) -> CannedReply:
        title, text = _checked(title, text)
        with self._uow() as uow:
            repo = CannedReplyRepository(uow.session)
            same = repo.titled(title)
            if same is not None and same.id != reply_id:
                raise Conflict("canned_title_taken", f"A canned reply is already titled {title!r}.")
            reply = repo.update(reply_id, title, text, at=self.clock.now())
            if reply is None:
                raise _missing(reply_id)
            uow.commit()
            return reply

    def delete(self, reply_id: int) -> None:
        with self._uow() as uow:
            if not CannedReplyRepository(uow.session).delete(reply_id):
                raise _missing(reply_id)
            uow.commit()

    def values(self, conv: ConversationView, staff_id: str) -> dict[str, str]:
        """What each placeholder stands for in `conv`, for `staff_id` writing."""
        staff = self.directory.staff.get(staff_id)
        due = "soon"
        if conv.due_at is not None and conv.commitment_state in _OPEN:
            zone = self.directory.terms_of(conv.client_id).zone
            due = due_in_words(conv.due_at, self.clock.now(), zone)
        name = (conv.contact_name or "").strip()
        return {
            "contact_first_name": name.split()[0] if name else "there",
            "contact_name": name or conv.address,
            "client_name": conv.client_name,
            "my_first_name": staff.first_name if staff is not None else "",
            "due_time": due,
        }

    def for_conversation(self, conv: ConversationView, staff_id: str) -> list[FilledReply]:
        values = self.values(conv, staff_id)
        return [FilledReply(r.id, r.title, fill(r.text, values)) for r in self.all()]


def _checked(title: str, text: str) -> tuple[str, str]:
    title, text = clean_text(title).strip(), clean_text(text).strip()
    if not title or not text:
        raise DomainError("canned_empty", "Give the canned reply a title and a text.")
    if len(title) > MAX_TITLE:
        raise DomainError("canned_title_long", f"A title has at most {MAX_TITLE} characters.")
    if len(text) > MAX_TEXT:
        raise DomainError("canned_text_long", f"A text has at most {MAX_TEXT} characters.")
    return title, text


def _missing(reply_id: int) -> NotFound:
    return NotFound("canned_not_found", f"No canned reply {reply_id} (deleted meanwhile?).")
