"""Staff actions on a conversation: reply, note, close, reopen, assign, and an answer staff
wrote on the client's own channel. Each opens one unit of work and commits it itself."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from adapters.text_parts import split_for
from bot.usecases.attachments import OutgoingFile, enqueue_files
from bot.usecases.base import Author, UseCases
from routing.errors import Conflict, DomainError
from routing.limits import clean_text
from routing.messages import Channel, Delivery
from storage.conversations import ConversationView, MessageView
from storage.unit_of_work import UnitOfWork


class ConversationCases(UseCases):
    def reply(
        self,
        conversation_id: int,
        text: str,
        author: Author,
        files: Sequence[OutgoingFile] = (),
    ) -> MessageView:
        """Write the reply and its outbox entry in one transaction; the worker sends it.
        Run again if the database chose it as a deadlock's victim (the worker may be paging
        the same conversation): a staff member's answer is never refused for that."""

        def work() -> MessageView:
            with self.uow() as uow:
                message = self._reply(uow, conversation_id, text, author, self.clock.now(), files)
                uow.commit()
                return message

        return self._retrying(work)

    def _reply(
        self,
        uow: UnitOfWork,
        conversation_id: int,
        text: str,
        author: Author,
        now: datetime,
        files: Sequence[OutgoingFile] = (),
    ) -> MessageView:
        uow.conversations.lock(conversation_id)  # see follow_up: one after the other
        conv = self._conversation(uow, conversation_id)
        text = clean_text(text)  # a NUL cannot be stored (PostgreSQL) nor sent
        if conv.opted_out:
            raise Conflict(
                "contact_opted_out",
                f"{conv.address} has opted out of messages on {conv.channel}",
            )
        if conv.unreachable:
            raise Conflict(
                "contact_unreachable", f"{conv.address} cannot be reached on {conv.channel}"
            )
        message = uow.conversations.add_message(
            conv.id,
            direction="out",
            channel=conv.channel,
            text=text,
            author_type="staff",
            author_id=author.id,
            author_name=author.name,
            at=now,
            delivery=Delivery.QUEUED,
            attachments=[f.as_recorded() for f in files],
        )
        # One outbox row per part that fits the channel, sent in order (storage/outbox.py);
        # then one per file (a file alone has no text part).
        channel = Channel(conv.channel)
        parts = (
            uow.outbox.enqueue_parts(
                split_for(conv.channel, text),
                kind="reply",
                channel=channel,
                recipient=conv.chat_id,
                payload=self._payload(channel, text),
                at=now,
                message_id=message.id,
            )
            if text or not files
            else ()
        )
        parts += enqueue_files(
            uow,
            files,
            channel=channel,
            recipient=conv.chat_id,
            payload=self._payload(channel, ""),
            first_part=len(parts),
            at=now,
            message_id=message.id,
        )
        message = message.with_parts(parts)
        self._claim(uow, conv, author, now)
        self._answered(uow, conv.id, now)
        return message

    def record_answer_sent(
        self,
        uow: UnitOfWork,
        conversation_id: int,
        text: str,
        author: Author,
        now: datetime,
        *,
        provider_id: str,
        attachments: Sequence[dict[str, Any]] = (),
    ) -> MessageView:
        """An answer staff wrote on the client's channel itself (a shared Slack channel): the
        client has it already, so it is recorded as sent, with no outbox row; otherwise it
        counts as a reply does. In the caller's unit of work (which claimed the delivery)."""
        uow.conversations.lock(conversation_id)
        conv = self._conversation(uow, conversation_id)
        message = uow.conversations.add_message(
            conversation_id,
            direction="out",
            channel=conv.channel,
            text=clean_text(text),
            author_type="staff",
            author_id=author.id,
            author_name=author.name,
            at=now,
            delivery=Delivery.SENT,
            provider_id=provider_id,
            attachments=attachments,
        )
        self._claim(uow, conv, author, now)
        self._answered(uow, conversation_id, now)
        return message

    def _claim(
        self, uow: UnitOfWork, conv: ConversationView, author: Author, now: datetime
    ) -> None:
        """Whoever answers a conversation nobody has takes it, recorded as an assignment is;
        the admin token, or anyone not staff, takes nothing."""
        if conv.assignee is not None or author.id not in self.staff_names:
            return
        uow.conversations.assign(conv.id, author.id, now)
        uow.conversations.record_event(conv.id, "assigned", author.id, now, assignee=author.id)

    def _answered(self, uow: UnitOfWork, conversation_id: int, now: datetime) -> None:
        """The agency answered: the commitment is met, a follow-up failure no longer matters."""
        if self.availability is not None:
            self.availability.on_agency_reply(uow, conversation_id, now)
        uow.conversations.clear_followup_error(conversation_id, given_up_too=True)

    def add_note(self, conversation_id: int, text: str, author: Author) -> MessageView:
        now = self.clock.now()
        with self.uow() as uow:
            conv = self._conversation(uow, conversation_id)
            note = uow.conversations.add_message(
                conv.id,
                direction="note",
                channel=conv.channel,
                text=clean_text(text),
                author_type="staff",
                author_id=author.id,
                author_name=author.name,
                at=now,
                delivery=None,
            )
            uow.commit()
            return note

    def mark_read(self, conversation_id: int, staff_id: str, message_id: int) -> bool:
        """`staff_id` was shown the conversation up to `message_id` (for them alone); True if
        that moved their marker. Never back: an older page, or a second tab, changes nothing."""
        with self.uow() as uow:
            moved = uow.read_markers.mark_read(
                staff_id, conversation_id, message_id, self.clock.now()
            )
            uow.commit()
            return moved

    def close(self, conversation_id: int, author: Author) -> ConversationView:
        def work() -> ConversationView:
            with self.uow() as uow:
                self._conversation(uow, conversation_id)
                now = self.clock.now()
                uow.conversations.set_status(conversation_id, "closed", now)
                uow.conversations.record_event(conversation_id, "closed", author.id, now)
                if self.availability is not None:
                    self.availability.on_close(uow, conversation_id, now)
                uow.conversations.clear_followup_error(conversation_id, given_up_too=True)
                uow.commit()
                return self._conversation(uow, conversation_id)

        return self._retrying(work)

    def reopen(self, conversation_id: int, author: Author) -> ConversationView:
        with self.uow() as uow:
            self._conversation(uow, conversation_id)
            now = self.clock.now()
            uow.conversations.set_status(conversation_id, "open", now)
            uow.conversations.record_event(conversation_id, "reopened", author.id, now)
            uow.commit()
            return self._conversation(uow, conversation_id)

    def assign(
        self, conversation_id: int, staff_id: str | None, author: Author
    ) -> ConversationView:
        if staff_id is not None and staff_id not in self.staff_names:
            raise DomainError("unknown_staff", f"no staff member {staff_id!r}")
        with self.uow() as uow:
            self._conversation(uow, conversation_id)
            now = self.clock.now()
            uow.conversations.assign(conversation_id, staff_id, now)
            uow.conversations.record_event(
                conversation_id, "assigned", author.id, now, assignee=staff_id
            )
            uow.commit()
            return self._conversation(uow, conversation_id)
