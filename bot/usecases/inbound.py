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
from storage.router_store import FollowupFacts
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
        message_id, conversation_id = result.message_id, result.conversation.id
        # The follow-up at once, in a savepoint of its own (`UnitOfWork.after_filing`): one
        # commit for the message and all it starts. If it fails, only it is undone, and the
        # follow-up job below (retried with backoff, shown to staff) takes it over.
        try:
            with uow.after_filing():
                facts = uow.router_store.filed_facts(
                    result.conversation, result.contact, opened=result.opened
                )
                self._follow(uow, msg, message_id, conversation_id, result.outcome, now, facts)
            return
        except Exception as exc:
            log.exception("follow-up of message %s failed; its job retries it", message_id)
            error = f"{type(exc).__name__}: {exc}"
        key = followup_key(message_id)
        if result.outcome is Outcome.EDIT:
            key = f"{key}:{msg.provider_id}"  # each edit reaches the mirror once
        job = {
            "message": payload,
            "message_id": message_id,
            "conversation_id": conversation_id,
            "outcome": result.outcome.value,
        }
        # Its first try failed: the job counts it, and staff see it as of now.
        uow.timers.schedule(key, FOLLOWUP, now, now, job, failed_with=error)
        self._show_failure(uow, job, error, final=False, now=now)

    def follow_up(self, uow: UnitOfWork, timer: Timer, now: datetime) -> None:
        """The follow-up job's handler: the follow-up of a filed client message whose first
        attempt, in the transaction that filed it, failed."""
        self._follow(
            uow,
            message_from_payload(timer.payload["message"]),
            int(timer.payload["message_id"]),
            int(timer.payload["conversation_id"]),
            Outcome(timer.payload["outcome"]),
            now,
        )

    def _follow(
        self,
        uow: UnitOfWork,
        msg: InboundMessage,
        message_id: int,
        conversation_id: int,
        outcome: Outcome,
        now: datetime,
        facts: FollowupFacts | None = None,
    ) -> None:
        """What a filed client message starts: its commitment and timers, the after-hours
        acknowledgement, the page, and the Slack mirror. `facts`: known already (the
        transaction that filed it), else read."""
        if facts is None:
            uow.conversations.lock(conversation_id)  # a staff reply now waits, or went first
            facts = uow.router_store.for_followup(
                conversation_id, msg.channel, msg.address, message_id
            )
        if facts is None:
            return
        ingested = Ingested(
            outcome,
            message_id=message_id,
            contact=facts.contact,
            conversation=facts.conversation,
            opened=facts.opened,
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
        """Show staff that a filed message's follow-up failed (in a fresh transaction)."""
        self._show_failure(uow, timer.payload, error, final=final, now=now)

    def _show_failure(
        self, uow: UnitOfWork, job: dict[str, Any], error: str, *, final: bool, now: datetime
    ) -> None:
        """A flag while the follow-up is retried; when given up, also a line in the
        conversation."""
        conversation_id = int(job["conversation_id"])
        uow.defer_hooks()  # recording the failure must not depend on the mirror either
        uow.conversations.set_followup_error(conversation_id, error, now if final else None)
        if not final:
            FOLLOWUP_RETRIES.inc()
            return
        FOLLOWUP_FAILURES.inc()
        log.error(
            "follow-up of message %s (conversation %s) failed for good: %s",
            job.get("message_id"),
            conversation_id,
            error,
        )
        uow.conversations.add_message(
            conversation_id,
            direction="note",
            channel=str(job["message"].get("channel", "")),
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
