"""The use cases. Each opens one unit of work and commits it itself."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from adapters.text_parts import split_for
from bot.metrics import FOLLOWUP_FAILURES, FOLLOWUP_RETRIES
from bot.usecases.availability import Availability
from bot.usecases.directory import Directory
from bot.usecases.paging import Paging
from routing.clock import Clock
from routing.errors import Conflict, DomainError, NotFound
from routing.escalation import parse_staff_text
from routing.limits import clean_text
from routing.messages import Channel, Delivery, InboundMessage
from routing.router import Ingested, Outcome, Router
from storage.conversations import ConversationView, MessageView
from storage.db import Database, retryable
from storage.inbound import message_from_payload
from storage.pages import PageRecord
from storage.timers import Timer
from storage.unit_of_work import BeforeCommit, UnitOfWork

log = logging.getLogger(__name__)
T = TypeVar("T")
# The follow-up job of a filed client message (see `Services.route_journalled`).
FOLLOWUP = "message.followup"


def followup_key(message_id: int) -> str:
    return f"message:{message_id}:followup"


@dataclass(frozen=True, slots=True)
class Author:
    """Who acts: a staff member, or `admin` for the bootstrap token."""

    id: str
    name: str
    type: str = "staff"


ADMIN = Author(id="admin", name="admin", type="staff")


class Services:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        directory: Directory | None = None,
        availability: Availability | None = None,
        on_commit: Callable[[], None] | None = None,
        before_commit: Sequence[BeforeCommit] = (),
    ) -> None:
        self.db = db
        self.availability = availability
        self.directory = directory
        # The directory's (no directory: nobody is staff).
        self.staff_names: Mapping[str, str] = directory.staff_names if directory else {}
        self.clock = clock
        self._on_commit = on_commit
        self.before_commit = list(before_commit)

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.db, on_commit=self._on_commit, before_commit=self.before_commit)

    def _retrying(self, work: Callable[[], T], attempts: int = 5) -> T:
        """Run a transaction again when a concurrent one won a race the database settled."""
        for attempt in range(attempts):
            try:
                return work()
            except Exception as exc:
                if not retryable(exc) or attempt == attempts - 1:
                    raise
                log.info("transaction retried after %s", type(exc).__name__)
                time.sleep(0.005 * (attempt + 1))
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ inbound
    def receive(self, msg: InboundMessage, delivery_key: str | None = None) -> Ingested:
        def work() -> Ingested:
            with self.uow() as uow:
                result = Router(uow.router_store).ingest(msg, delivery_key)
                if self.availability is not None:
                    self.availability.on_client_message(uow, result, msg, self.clock.now())
                uow.commit()
                return result

        return self._retrying(work)

    def route_journalled(self, uow: UnitOfWork, payload: dict[str, Any], now: datetime) -> None:
        """File one journalled message inside the worker's transaction (the journal row is
        the delivery's claim, so the router does not claim it again).

        File first: this transaction holds only what cannot fail for reasons of
        configuration or channel (contact, conversation, message) and a follow-up job due now;
        the commitment, acknowledgement, page and Slack mirror run in `follow_up`, retried
        with backoff, so that no failure there can keep a message from the inbox.
        """
        msg = message_from_payload(payload)
        paging = self.availability.paging if self.availability else None
        staff = (
            self.directory.staff_by_sms.get(msg.address)
            if paging is not None and self.directory is not None and msg.channel is Channel.SMS
            else None
        )
        if staff is not None:
            # A staff member's phone: acknowledgements and answers, never a client message.
            self._staff_sms(uow, staff.id, msg, now)
            return
        result = Router(uow.router_store).ingest(msg, claimed=True)
        uow.defer_hooks()
        if result.message_id is None or result.conversation is None:
            return  # a duplicate: nothing was filed, nothing follows
        key = followup_key(result.message_id)
        if result.outcome is Outcome.EDIT:
            key = f"{key}:{msg.provider_id}"  # each edit reaches the mirror once
        uow.timers.schedule(
            key,
            FOLLOWUP,
            now,
            now,
            {
                "message": payload,
                "message_id": result.message_id,
                "conversation_id": result.conversation.id,
                "outcome": result.outcome.value,
            },
        )

    def follow_up(self, uow: UnitOfWork, timer: Timer, now: datetime) -> None:
        """What a filed client message starts: its commitment and timers, the after-hours
        acknowledgement, the page, and the Slack mirror (the follow-up job's handler)."""
        msg = message_from_payload(timer.payload["message"])
        message_id = int(timer.payload["message_id"])
        conversation_id = int(timer.payload["conversation_id"])
        uow.conversations.lock(conversation_id)  # a staff reply now waits, or went first
        conversation = uow.router_store.conversation(conversation_id)
        if conversation is None:
            return
        ingested = Ingested(
            Outcome(timer.payload["outcome"]),
            message_id=message_id,
            contact=uow.router_store.find_contact(msg.channel, msg.address),
            conversation=conversation,
        )
        # Staff who answered before this ran (a retried follow-up) owe no new promise.
        answered = uow.conversations.answered_after(conversation.id, message_id)
        if self.availability is not None and not answered:
            self.availability.on_client_message(uow, ingested, msg, now)
        uow.conversations.clear_followup_error(conversation.id, given_up_too=False)
        uow.announce([message_id])

    def follow_up_failed(
        self, uow: UnitOfWork, timer: Timer, error: str, final: bool, now: datetime
    ) -> None:
        """Show staff that a filed message's follow-up failed (in a fresh transaction): a
        flag while it is retried; when given up, also a line in the conversation."""
        conversation_id = int(timer.payload["conversation_id"])
        uow.defer_hooks()  # recording the failure must not depend on the mirror either
        uow.conversations.set_followup_error(conversation_id, error, now if final else None)
        if not final:
            FOLLOWUP_RETRIES.inc()
            return
        FOLLOWUP_FAILURES.inc()
        log.error(
            "follow-up of message %s (conversation %s) failed for good: %s",
            timer.payload.get("message_id"),
            conversation_id,
            error,
        )
        uow.conversations.add_message(
            conversation_id,
            direction="note",
            channel=str(timer.payload["message"].get("channel", "")),
            text=(
                "Partnerline could not finish handling the message above, so no commitment, "
                "acknowledgement or page may have followed it. Please answer it yourself. "
                f"({error})"
            ),
            author_type="system",
            author_id=None,
            author_name="Partnerline",
            at=now,
            delivery=None,
        )

    def claim_delivery(self, channel: Channel, key: str) -> bool:
        """Record a provider delivery as seen, in a transaction of its own; False if it was
        seen before. For work done in the webhook itself (buttons, staff replies)."""
        with self.uow() as uow:
            claimed = uow.router_store.claim_delivery(channel, key, self.clock.now())
            uow.commit()
        return claimed

    def release_delivery(self, channel: Channel, key: str) -> None:
        """Forget a claim whose work failed, so that the provider's retry does it again."""
        with self.uow() as uow:
            uow.router_store.release_delivery(channel, key)
            uow.commit()

    def record_delivery_status(
        self,
        channel: Channel,
        provider_id: str,
        delivery: Delivery,
        error: str | None,
    ) -> bool:
        """Forward-only, so a retried or late callback is harmless without a dedupe record."""

        def work() -> bool:
            with self.uow() as uow:
                changed = uow.conversations.apply_delivery_status(
                    channel, provider_id, delivery, error
                )
                uow.commit()
                return changed

        return self._retrying(work)

    # ------------------------------------------------------------------ staff actions
    def _conversation(self, uow: UnitOfWork, conversation_id: int) -> ConversationView:
        view = uow.conversations.get(conversation_id)
        if view is None:
            raise NotFound("conversation_not_found", f"no conversation {conversation_id}")
        return view

    def reply(self, conversation_id: int, text: str, author: Author) -> MessageView:
        """Write the reply and its outbox entry in one transaction; the worker sends it.
        Run again if the database chose it as a deadlock's victim (the worker may be paging
        the same conversation): a staff member's answer is never refused for that."""

        def work() -> MessageView:
            with self.uow() as uow:
                message = self._reply(uow, conversation_id, text, author, self.clock.now())
                uow.commit()
                return message

        return self._retrying(work)

    def _reply(
        self, uow: UnitOfWork, conversation_id: int, text: str, author: Author, now: datetime
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
        )
        # One outbox row per part that fits the channel, sent in order (storage/outbox.py).
        message = message.with_parts(
            uow.outbox.enqueue_parts(
                split_for(conv.channel, text),
                kind="reply",
                channel=Channel(conv.channel),
                recipient=conv.chat_id,
                payload=self._payload(Channel(conv.channel), text),
                at=now,
                message_id=message.id,
            )
        )
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
        message = uow.conversations.add_message(
            conversation_id,
            direction="out",
            channel=self._conversation(uow, conversation_id).channel,
            text=clean_text(text),
            author_type="staff",
            author_id=author.id,
            author_name=author.name,
            at=now,
            delivery=Delivery.SENT,
            provider_id=provider_id,
            attachments=attachments,
        )
        self._answered(uow, conversation_id, now)
        return message

    def _answered(self, uow: UnitOfWork, conversation_id: int, now: datetime) -> None:
        """The agency answered: the commitment is met, a follow-up failure no longer matters."""
        if self.availability is not None:
            self.availability.on_agency_reply(uow, conversation_id, now)
        uow.conversations.clear_followup_error(conversation_id, given_up_too=True)

    # ------------------------------------------------------------------ pages
    @property
    def paging(self) -> Paging:
        if self.availability is None or self.availability.paging is None:
            raise DomainError("paging_off", "paging is not configured")
        return self.availability.paging

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

    def _payload(self, channel: Channel, text: str) -> dict[str, object]:
        if self.availability is not None:
            return self.availability.client_payload(channel, text)
        return {"text": text}

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
