"""Answers to pages: acknowledge, the text read out on a call, and a paged person's answer
relayed to the client as the agency's reply (from any channel, including their phone)."""

from __future__ import annotations

import logging
from datetime import datetime

from bot.usecases.base import Author
from bot.usecases.conversations import ConversationCases
from routing.errors import DomainError
from routing.escalation import parse_staff_text
from routing.messages import Channel, InboundMessage
from storage.conversations import MessageView
from storage.pages import PageRecord
from storage.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


class PageCases(ConversationCases):
    def acknowledge(self, page_id: int | None, staff_id: str, via: str) -> PageRecord:
        """The one acknowledgement every channel calls (API, SMS, voice, Telegram, Slack)."""

        def work() -> PageRecord:
            with self.uow() as uow:
                page = self.paging.acknowledge(uow, page_id, staff_id, self.clock.now())
                uow.commit()
                return page

        page = self._retrying(work)
        log.info("page %s acknowledged by %s via %s", page.id, staff_id, via)
        return page

    def page_call_text(self, page_id: int) -> str:
        with self.uow() as uow:
            page = uow.pages.get(page_id)
            if page is None:
                return "This page no longer exists."
            if page.state != "open":
                return f"Page {page.id} is already {page.state}. Nothing to do."
            return self.paging.page_text([page], Channel.VOICE, self.clock.now())

    def relay(self, staff_id: str, text: str, page_id: int | None, via: str) -> MessageView:
        """A paged person's answer, sent to the page's client as the agency's reply."""

        def work() -> tuple[PageRecord, MessageView]:
            with self.uow() as uow:
                result = self._relay(uow, staff_id, text, page_id, self.clock.now())
                uow.commit()
                return result

        page, message = self._retrying(work)
        log.info("page %s answered by %s via %s", page.id, staff_id, via)
        return message

    def _relay(
        self, uow: UnitOfWork, staff_id: str, text: str, page_id: int | None, now: datetime
    ) -> tuple[PageRecord, MessageView]:
        page = self.paging.page_for_relay(uow, staff_id, page_id)
        author = Author(id=staff_id, name=self.staff_names.get(staff_id, staff_id))
        return page, self._reply(uow, page.conversation_id, text, author, now)

    def _staff_sms(
        self, uow: UnitOfWork, staff_id: str, msg: InboundMessage, now: datetime
    ) -> None:
        """ACK, ACK 12, "12 text" or plain text from a paged person's phone."""
        command = parse_staff_text(msg.text)
        try:
            if command.kind == "ack":
                page = self.paging.acknowledge(uow, command.page_id, staff_id, now)
                answer = (
                    f"Acknowledged page {page.id}. Reply with your answer and it goes "
                    "to the client."
                )
            else:
                page, _ = self._relay(uow, staff_id, command.text, command.page_id, now)
                answer = f"Sent to the client of page {page.id}."
        except DomainError as exc:
            answer = exc.user_message
        uow.outbox.enqueue(
            kind="notice",
            channel=Channel.SMS,
            recipient=msg.address,
            payload={"text": answer},
            at=now,
        )
