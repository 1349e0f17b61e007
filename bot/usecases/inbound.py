"""Client messages in: filed first (the journal's route), then followed up (commitment,
acknowledgement, page, mirror) by a job retried with backoff; provider deliveries claimed
for work done inside a webhook; delivery statuses recorded."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from bot.metrics import FOLLOWUP_FAILURES, FOLLOWUP_RETRIES
from bot.usecases.page_answers import PageCases
from routing.messages import Channel, Delivery, InboundMessage
from routing.router import Ingested, Outcome, Router
from storage.inbound import message_from_payload
from storage.timers import Timer
from storage.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)
# The follow-up job of a filed client message (see `Services.route_journalled`).
FOLLOWUP = "message.followup"


def followup_key(message_id: int) -> str:
    return f"message:{message_id}:followup"


class InboundCases(PageCases):
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
        configured = self.configured  # once: a reload may swap it meanwhile
        staff = (
            configured.directory.staff_by_sms.get(msg.address)
            if configured is not None
            and configured.availability.paging is not None
            and msg.channel is Channel.SMS
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
        facts = uow.router_store.for_followup(conversation_id, msg.channel, msg.address, message_id)
        if facts is None:
            return
        ingested = Ingested(
            Outcome(timer.payload["outcome"]),
            message_id=message_id,
            contact=facts.contact,
            conversation=facts.conversation,
        )
        # Staff who answered before this ran (a retried follow-up) owe no new promise.
        if self.availability is not None and not facts.answered:
            self.availability.on_client_message(uow, ingested, msg, now)
        if facts.error_shown:  # nearly never: an UPDATE only when there is a flag to clear
            uow.conversations.clear_followup_error(conversation_id, given_up_too=False)
        uow.announce([message_id], conversation_id)

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
