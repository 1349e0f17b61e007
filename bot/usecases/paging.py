"""Paging: escalation pages run step by step on durable timers, notifications per person's
rules, acknowledgement from any channel, and relayed answers (shift handoffs:
bot/usecases/handoffs.py).

Every step and every delayed notification is a timer fired in one transaction with what it
causes, so a crash repeats nothing and skips nothing (see bot.jobs.worker).

A step whose targets name nobody right now (an after-hours rotation while the office is open,
a rotation that has not started), or nobody with a `notify` rule, notifies nobody and passes
on at once to the next step of its round, so the page reaches whoever can be reached without
waiting for nobody. Between rounds the last step's wait still applies, so a page that finds
nobody cannot spin. When the whole chain, repeats included, has notified nobody, the
conversation gets a note saying so and a warning is logged; the commitment's at-risk and
breach notices still go out.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from bot.usecases import decisions
from bot.usecases.decisions import staff_target
from bot.usecases.directory import Directory
from routing import escalation as esc
from routing.commitments import Commitment
from routing.errors import Conflict, NotFound
from routing.messages import Channel, InboundMessage
from routing.plain_time import due_in_words
from routing.router import ConversationRef
from storage.pages import ACKNOWLEDGED, OPEN, SCHEDULED, PageRecord
from storage.timers import Timer
from storage.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

PAGE_STEP, PAGE_NOTIFY = "page.step", "page.notify"


class Paging:
    def __init__(
        self,
        directory: Directory,
        *,
        public_url: str | None = None,
        coalesce: timedelta = esc.COALESCE_WINDOW,
    ) -> None:
        self.directory = directory
        self.coalesce = coalesce
        self.staff = directory.staff
        self.clients = directory.clients
        self.rotations = directory.rotations
        self.public_url = public_url.rstrip("/") if public_url else None

    # ------------------------------------------------------------------ who
    def _on_call(self, uow: UnitOfWork, now: datetime) -> Callable[[str, int], str | None]:
        return esc.on_call_lookup(self.rotations, now, uow.overrides.all_active(now))

    def policy_for(self, client_id: str | None) -> esc.Policy | None:
        return self.directory.escalations.get(client_id or "")

    def first_oncall_name(
        self, uow: UnitOfWork, client_id: str | None, now: datetime
    ) -> str | None:
        """The first person the client's escalation would page now, by first name: the first
        of the first step that names anybody (steps with nobody are passed at once)."""
        policy = self.policy_for(client_id)
        if policy is None:
            return None
        return decisions.first_oncall_name(policy, self.staff, self._on_call(uow, now))

    # ------------------------------------------------------------------ opening and steps
    def open_page(
        self,
        uow: UnitOfWork,
        conv: ConversationRef,
        commitment: Commitment,
        msg: InboundMessage,
        now: datetime,
    ) -> int | None:
        policy = self.policy_for(conv.client_id)
        if policy is None:
            log.warning("conversation %s should page but its client has no escalation", conv.id)
            return None
        client = self.clients.get(conv.client_id or "")
        summary = {
            "client": client.name if client else "Unknown sender",
            "contact": None,
            "channel": conv.channel.value,
            "text": msg.text[:300],
            "due_at": commitment.due_at.isoformat(),
        }
        contact = uow.conversations.get(conv.id)
        if contact is not None:
            summary["contact"] = contact.contact_name or contact.address
        page_id = uow.pages.open(
            conversation_id=conv.id,
            commitment_id=commitment.id,
            client_id=conv.client_id,
            policy=policy.to_json(),
            summary=_dumps(summary),
            at=now,
        )
        if page_id is None:  # one is open already: more messages do not page again
            return None
        self._schedule_step(uow, page_id, esc.Position(1, 0), now, now)
        return page_id

    def _schedule_step(
        self, uow: UnitOfWork, page_id: int, at: esc.Position, due: datetime, now: datetime
    ) -> None:
        uow.timers.schedule(
            f"page:{page_id}:step:{at.round}:{at.step}",
            PAGE_STEP,
            due,
            now,
            {"page_id": page_id, "step": at.step, "round": at.round},
        )

    def fire_step(self, uow: UnitOfWork, timer: Timer, now: datetime) -> None:
        page = uow.pages.get(int(timer.payload["page_id"]), lock=True)
        if page is None or page.state != OPEN:
            return
        position = esc.Position(int(timer.payload["step"]), int(timer.payload["round"]))
        policy = esc.Policy.from_json(page.policy)
        step = policy.steps[position.step - 1]
        people = self._notify_step(uow, page, policy, step, position, now, tag="")
        uow.pages.set_position(page.id, position.step, position.round)
        # Nobody to wait for: the next step of this round runs at once (see the module text).
        following = decisions.after_step(policy, position, people, self.staff, now)
        if following is None:
            if not uow.pages.notifications_of([page.id])[page.id]:
                self._nobody_paged(uow, page, policy, now)
            return
        self._schedule_step(uow, page.id, following[0], following[1], now)

    def _nobody_paged(
        self, uow: UnitOfWork, page: PageRecord, policy: esc.Policy, now: datetime
    ) -> None:
        log.warning(
            "page %s (conversation %s): escalation %r found nobody to notify at any step",
            page.id,
            page.conversation_id,
            policy.name,
        )
        conv = uow.conversations.get(page.conversation_id)
        if conv is None:
            return
        uow.conversations.add_message(
            conv.id,
            direction="note",
            channel=conv.channel,
            text=(
                f"Nobody could be paged: escalation {policy.name!r} reached no one at any step "
                f"(nobody on call, or no way to notify them). Page {page.id} has stopped; "
                "please answer this conversation yourself."
            ),
            author_type="system",
            author_id=None,
            author_name="Partnerline",
            at=now,
            delivery=None,
        )

    def _notify_step(
        self,
        uow: UnitOfWork,
        page: PageRecord,
        policy: esc.Policy,
        step: esc.Step,
        position: esc.Position,
        now: datetime,
        tag: str,
    ) -> list[str]:
        people = decisions.step_people(policy, step, self._on_call(uow, now))
        if not people:
            log.warning("page %s step %s: nobody to notify", page.id, position.step)
        for staff_id, rule, due in decisions.step_notices(policy, people, self.staff, now):
            at = f"r{position.round}:s{position.step}{tag}"
            key = f"page:{page.id}:{at}:{staff_id}:{rule.channel}"
            note_id = uow.pages.schedule_notification(
                key=key,
                page_id=page.id,
                staff_id=staff_id,
                channel=rule.channel,
                step=position.step,
                due_at=due,
            )
            if note_id is not None:
                uow.timers.schedule(
                    f"page:{page.id}:note:{note_id}",
                    PAGE_NOTIFY,
                    due,
                    now,
                    {"note_id": note_id},
                )
        return people

    def fire_notify(self, uow: UnitOfWork, timer: Timer, now: datetime) -> None:
        note = uow.pages.notification(int(timer.payload["note_id"]), lock=True)
        if note is None or note.state != SCHEDULED:
            return  # cancelled, or already sent with another page's message
        page = uow.pages.get(note.page_id)
        if page is None or page.state != OPEN:
            return
        last = uow.pages.last_sent(note.staff_id, note.channel)
        hold = esc.coalesce_until(last, now, self.coalesce)
        if hold is not None:
            uow.timers.schedule(
                f"page:{page.id}:note:{note.id}:held",
                PAGE_NOTIFY,
                hold,
                now,
                {"note_id": note.id},
            )
            return
        due = uow.pages.due_notifications(note.staff_id, note.channel, now)
        staff = self.staff.get(note.staff_id)
        target = staff_target(staff, note.channel) if staff else None
        if target is None or not due:
            return
        page_ids = dict.fromkeys(n.page_id for n in due)  # in order, each once
        pages = [p for pid in page_ids if (p := uow.pages.get(pid)) is not None]
        channel, address = target
        text = self.page_text(pages, channel, now)
        outbox_id = uow.outbox.enqueue(
            kind="page",
            channel=channel,
            recipient=address,
            payload={
                "text": text,
                "page_id": pages[0].id,
                "page_ids": [p.id for p in pages],
                "staff": note.staff_id,
            },
            at=now,
        )
        uow.pages.mark_sent([n.id for n in due], outbox_id, now)

    def page_text(self, pages: list[PageRecord], channel: Channel, now: datetime) -> str:
        lines = []
        for page in pages:
            s = _loads(page.summary)
            due = due_in_words(datetime.fromisoformat(s["due_at"]), now, self.directory.zone)
            who = f"{s['contact']} ({s['client']})" if s.get("contact") else s["client"]
            lines.append(
                f'Page {page.id}: {who} wrote on {s["channel"]}: "{s["text"]}" Reply due by {due}.'
            )
        if channel in (Channel.SMS, Channel.VOICE):
            if len(pages) == 1:
                how = (
                    f"Reply ACK to acknowledge, or reply with your answer and it goes to the "
                    f'client (ACK {pages[0].id} or "{pages[0].id} your text" for this page).'
                )
            else:
                how = (
                    'Reply ACK <page> to acknowledge one, or "<page> your text" to answer '
                    "its client."
                )
            if channel is Channel.VOICE:
                how = "Press 4 to acknowledge."
            lines.append(how)
        if self.public_url:
            lines.append(f"{self.public_url}/inbox/conversations/{pages[0].conversation_id}")
        return "\n".join(lines)

    # ------------------------------------------------------------------ ending a page
    def acknowledge(
        self, uow: UnitOfWork, page_id: int | None, staff_id: str, now: datetime
    ) -> PageRecord:
        if page_id is None:
            page = uow.pages.latest_for_staff(staff_id, (OPEN,))
            if page is None:
                raise NotFound("no_open_page", "You have no open page to acknowledge.")
        else:
            page = uow.pages.get(page_id, lock=True)
            if page is None:
                raise NotFound("page_not_found", f"There is no page {page_id}.")
        if page.state != OPEN:
            by = page.acknowledged_by or "a reply"
            raise Conflict("page_not_open", f"Page {page.id} was already {page.state} ({by}).")
        if not uow.pages.acknowledge(page.id, staff_id, now):
            raise Conflict("page_not_open", f"Page {page.id} was already acknowledged.")
        self._stop(uow, page.id)
        acked = uow.pages.get(page.id)
        assert acked is not None
        return acked

    def _stop(self, uow: UnitOfWork, page_id: int) -> None:
        uow.pages.cancel_scheduled(page_id)
        uow.timers.cancel_prefix(f"page:{page_id}:")

    def resolve_for_conversation(
        self, uow: UnitOfWork, conversation_id: int, now: datetime
    ) -> None:
        page = uow.pages.unresolved_for_conversation(conversation_id)
        if page is not None:
            uow.pages.resolve(page.id, now)
            self._stop(uow, page.id)

    def on_breach(self, uow: UnitOfWork, conversation_id: int, now: datetime) -> None:
        """A breach while a page is open notifies the last step's targets again."""
        page = uow.pages.unresolved_for_conversation(conversation_id)
        if page is None or page.state != OPEN or page.step < 1:
            return
        policy = esc.Policy.from_json(page.policy)
        position = esc.Position(page.step, page.round)
        self._notify_step(
            uow, page, policy, policy.steps[page.step - 1], position, now, tag=":breach"
        )

    def page_for_relay(self, uow: UnitOfWork, staff_id: str, page_id: int | None) -> PageRecord:
        """The page whose client a paged person's answer goes to."""
        if page_id is None:
            page = uow.pages.latest_for_staff(staff_id, (OPEN, ACKNOWLEDGED))
            if page is None:
                raise NotFound("no_open_page", "You have no open page to answer.")
            return page
        page = uow.pages.get(page_id)
        if page is None or not uow.pages.was_notified(page.id, staff_id):
            raise NotFound("page_not_found", f"You were not paged for page {page_id}.")
        return page


def _dumps(value: dict[str, Any]) -> str:
    return json.dumps(value)


def _loads(value: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(value)
    return loaded
