"""Availability: the commitment each client message starts, the after-hours acknowledgement,
and what happens when a commitment becomes at risk or falls due.

Everything here runs inside the caller's unit of work, so a message, its commitment, its
timers and its acknowledgement are committed together, or not at all.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from adapters.text_parts import split_for
from bot.usecases import decisions
from bot.usecases.decisions import first_reachable
from bot.usecases.directory import ClientTerms, Directory
from bot.usecases.paging import Paging
from routing import commitments as cm
from routing.commitments_policy import DueTimes, due_for, should_page
from routing.messages import Channel, Delivery, InboundMessage
from routing.plain_time import due_in_words
from routing.reports import business_seconds
from routing.router import Ingested, Outcome
from storage.conversations import ConversationView
from storage.timers import Timer
from storage.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

AT_RISK, BREACH = "commitment.at_risk", "commitment.breach"


class Availability:
    def __init__(
        self,
        directory: Directory,
        *,
        public_url: str | None = None,
        paging: Paging | None = None,
    ) -> None:
        self.directory = directory
        self.policies = directory.commitments
        self.staff = directory.staff
        self.public_url = public_url.rstrip("/") if public_url else None
        self.paging = paging

    def terms(self, client_id: str | None) -> ClientTerms:
        return self.directory.terms_of(client_id)

    # ------------------------------------------------------------------ client messages
    def on_client_message(
        self, uow: UnitOfWork, ingested: Ingested, msg: InboundMessage, now: datetime
    ) -> cm.Commitment | None:
        """Start a commitment unless one already waits for a reply; acknowledge after hours."""
        if ingested.outcome is not Outcome.NEW or ingested.conversation is None:
            return None
        if msg.opt_keyword is not None:  # STOP/START/HELP are carrier keywords, not requests
            return None
        conv = ingested.conversation
        repo = uow.commitments
        # A conversation this transaction opened has no commitment yet: nothing to read.
        if not ingested.opened and repo.awaiting(conv.id) is not None:
            return None
        promise = decisions.promise_for(self.directory, conv.client_id, msg.received_at)
        terms, due = promise.terms, promise.due
        started = repo.start(
            cm.Commitment(
                id=None,
                conversation_id=conv.id,
                tier=terms.tier,
                state=cm.State.PENDING,
                after_hours=due.after_hours,
                started_at=msg.received_at,
                due_at=due.due_at,
                at_risk_at=due.at_risk_at,
            ),
            trigger_message_id=ingested.message_id,
            first=True if ingested.opened else None,
        )
        if started is None:  # a racing message of the same conversation started it
            return None
        _schedule_deadlines(uow, f"commitment:{started.id}", started, due, now)
        if promise.acknowledge:
            self._acknowledge(uow, ingested, terms, started, now)
        if self.paging is not None and promise.page:
            self.paging.open_page(uow, conv, started, msg, now)
        return started

    def on_client_changed(self, uow: UnitOfWork, conversation_id: int, now: datetime) -> None:
        """The conversation now belongs to another client (an unknown sender linked to one):
        its open commitment takes that client's tier, its times recomputed from when the
        client wrote (`started_at`), and the new tier's rules apply from now on: its
        after-hours acknowledgement and its page, once each. A breach stands as it was."""
        repo = uow.commitments
        current = repo.awaiting(conversation_id, lock=True)
        conv = uow.router_store.conversation(conversation_id)
        if current is None or conv is None or current.state not in cm.OPEN_STATES:
            return
        terms = self.terms(conv.client_id)
        if terms.tier == current.tier:
            return  # the same promise: nothing to recompute, nothing to send again
        policy = self.policies[terms.tier]
        due = due_for(policy, current.started_at)
        retiered = replace(
            current,
            tier=terms.tier,
            after_hours=due.after_hours,
            due_at=due.due_at,
            at_risk_at=due.at_risk_at,
            # At risk under the old window but not the new one: pending again (the at-risk
            # timer below says so again when it is).
            state=cm.State.PENDING,
        )
        repo.retier(retiered)
        uow.timers.cancel_prefix(f"commitment:{current.id}:")
        # New keys (a timer key is scheduled once); fired late, they fire at once.
        _schedule_deadlines(uow, f"commitment:{current.id}:{terms.tier}", current, due, now)
        uow.conversation_changed(conversation_id)
        view = uow.conversations.get(conversation_id)
        contact = (
            uow.router_store.find_contact(conv.channel, view.address) if view is not None else None
        )
        ingested = Ingested(Outcome.NEW, contact=contact, conversation=conv)
        if due.after_hours and due.due_at > now:  # never promise a time already past
            self._acknowledge(uow, ingested, terms, retiered, now)
        if self.paging is not None and should_page(policy, due.after_hours):
            latest = [
                m
                for m in uow.conversations.message_window(conversation_id, last=50).messages
                if m.direction == "in"
            ]
            msg = InboundMessage(
                channel=conv.channel,
                provider_id=latest[-1].provider_id or "" if latest else "",
                address=view.address if view is not None else conv.chat_id,
                text=latest[-1].text if latest else "",
                received_at=current.started_at,
            )
            self.paging.open_page(uow, conv, retiered, msg, now)

    def _acknowledge(
        self,
        uow: UnitOfWork,
        ingested: Ingested,
        terms: ClientTerms,
        c: cm.Commitment,
        now: datetime,
    ) -> None:
        conv = ingested.conversation
        assert conv is not None
        if not self.directory.auto_replies[terms.tier]:
            return
        text = decisions.acknowledgement(
            self.directory,
            terms,
            ingested.contact,
            c.due_at,
            now,
            self._oncall_name(uow, conv.client_id, now),
        )
        if text is None:
            return
        message = uow.conversations.add_message(
            conv.id,
            direction="auto",
            channel=conv.channel.value,
            text=text,
            author_type="system",
            author_id=None,
            author_name="Partnerline",
            at=now,
            delivery=Delivery.QUEUED,
        )
        uow.outbox.enqueue_parts(
            split_for(conv.channel, text),
            kind="auto_reply",
            channel=conv.channel,
            recipient=conv.chat_id,
            payload=self.client_payload(conv.channel, text),
            at=now,
            message_id=message.id,
        )

    def _oncall_name(self, uow: UnitOfWork, client_id: str | None, now: datetime) -> str | None:
        return self.paging.first_oncall_name(uow, client_id, now) if self.paging else None

    def client_payload(self, channel: Channel, text: str) -> dict[str, object]:
        payload: dict[str, object] = {"text": text}
        if channel is Channel.SMS and self.public_url:
            payload["status_callback"] = f"{self.public_url}/webhooks/twilio/status"
        return payload

    # ------------------------------------------------------------------ agency side
    def on_agency_reply(self, uow: UnitOfWork, conversation_id: int, now: datetime) -> None:
        repo = uow.commitments
        current = repo.awaiting(conversation_id, lock=True)
        if current is None:
            return
        answered, events = cm.answer(current, now)
        repo.save(answered, events, business_seconds=self.business_seconds(answered))
        uow.timers.cancel_prefix(f"commitment:{current.id}:")
        if self.paging is not None:
            self.paging.resolve_for_conversation(uow, conversation_id, now)

    def business_seconds(self, c: cm.Commitment) -> float | None:
        """The open seconds of its tier's calendar from its start to its answer (the
        reports' business response time); None when unanswered or the tier is unknown."""
        policy = self.policies.get(c.tier)
        if c.answered_at is None or policy is None:
            return None
        return business_seconds(policy.calendar, c.started_at, c.answered_at)

    def on_close(self, uow: UnitOfWork, conversation_id: int, now: datetime) -> None:
        repo = uow.commitments
        current = repo.awaiting(conversation_id, lock=True)
        if current is None:
            return
        closed, events = cm.close_unanswered(current, now)
        repo.save(closed, events)
        uow.timers.cancel_prefix(f"commitment:{current.id}:")

    # ------------------------------------------------------------------ timers
    def fire_at_risk(self, uow: UnitOfWork, timer: Timer, now: datetime) -> None:
        def step(c: cm.Commitment, at: datetime) -> tuple[cm.Commitment, list[cm.Event]]:
            # Fired late, past the due time (no worker ran): the breach says it all.
            return (c, []) if at >= c.due_at else cm.becomes_at_risk(c, at)

        self._advance(uow, timer, now, step, "At risk")

    def fire_breach(self, uow: UnitOfWork, timer: Timer, now: datetime) -> None:
        breached = self._advance(uow, timer, now, cm.falls_due, "Breached")
        if breached is not None and self.paging is not None:
            self.paging.on_breach(uow, breached.conversation_id, now)

    def _advance(
        self,
        uow: UnitOfWork,
        timer: Timer,
        now: datetime,
        step: Callable[[cm.Commitment, datetime], tuple[cm.Commitment, list[cm.Event]]],
        label: str,
    ) -> cm.Commitment | None:
        """Apply a timer's step; the changed commitment, or None if nothing changed."""
        repo = uow.commitments
        current = repo.get(int(timer.payload["commitment_id"]), lock=True)
        if current is None:
            return None
        changed, events = step(current, now)
        if not events:
            return None  # answered or closed meanwhile: nothing to say
        repo.save(changed, events)
        uow.conversation_changed(current.conversation_id)  # e.g. the Slack thread's root
        conv = uow.conversations.get(current.conversation_id)
        if conv is not None:
            self._notify_responders(uow, conv, changed, label, now)
        return changed

    def _notify_responders(
        self,
        uow: UnitOfWork,
        conv: ConversationView,
        c: cm.Commitment,
        label: str,
        now: datetime,
    ) -> None:
        """The assignee, else the account team, each on their first notify channel."""
        terms = self.terms(conv.client_id)
        people = [conv.assignee] if conv.assignee else list(terms.account_team)
        due = due_in_words(c.due_at, now, self.directory.zone)
        who = conv.contact_name or conv.address
        when = f"reply was due at {due}" if now >= c.due_at else f"reply due by {due}"
        text = f"{label}: {conv.client_name} ({who}, {conv.channel}), {when}."
        if self.public_url:
            text += f" {self.public_url}/inbox/conversations/{conv.id}"
        for staff_id in people:
            staff = self.staff.get(staff_id or "")
            target = first_reachable(staff) if staff is not None else None
            if target is not None:
                channel, address = target
                uow.outbox.enqueue(
                    kind="notice",
                    channel=channel,
                    recipient=address,
                    payload={"text": text},
                    at=now,
                )


def _schedule_deadlines(
    uow: UnitOfWork, prefix: str, commitment: cm.Commitment, due: DueTimes, now: datetime
) -> None:
    """A commitment's at-risk and breach timers (`<prefix>:at_risk`, `<prefix>:breach`), in
    one statement."""
    assert commitment.id is not None  # stored
    payload = {"commitment_id": commitment.id}
    uow.timers.schedule_all(
        [
            (f"{prefix}:at_risk", AT_RISK, due.at_risk_at, payload),
            (f"{prefix}:breach", BREACH, due.due_at, payload),
        ],
        now,
    )
