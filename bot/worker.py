"""The worker: fires durable timers and drains the outbox, waking for the next due item.

Each timer fires in one transaction with everything it causes (state changes, outbox rows),
so a crash before commit leaves it pending and a crash after leaves it done: exactly once.
Sending is at-least-once: a claimed outbox row has a lease that a dead worker cannot renew.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from adapters.base import ChannelAdapter
from bot.metrics import SENDS, TIMER_LATENESS
from bot.wakeup import Wakeup
from routing.clock import Clock
from routing.errors import SendFailed
from routing.messages import Channel, OutboundMessage
from storage.db import Database
from storage.outbox import OutboxItem
from storage.timers import Timer
from storage.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

TimerHandler = Callable[[UnitOfWork, Timer, datetime], None]
# Routes one journalled delivery of a kind ("message", "telegram.callback", ...).
InboundHandler = Callable[[UnitOfWork, dict[str, Any], datetime], None]
INBOUND_MAX_ATTEMPTS = 5
# Run once as the worker starts, in a transaction (e.g. scheduling the next handoffs).
StartupHook = Callable[[UnitOfWork, datetime], None]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 8
    base_seconds: float = 2.0
    cap_seconds: float = 300.0
    lease_seconds: float = 60.0

    def delay(self, attempts: int, retry_after: float | None = None) -> float:
        """Exponential backoff with jitter ("equal jitter"), never shorter than Retry-After."""
        ceiling = min(self.cap_seconds, self.base_seconds * 2 ** max(0, attempts - 1))
        wait = ceiling / 2 + random.uniform(0, ceiling / 2)
        return max(wait, retry_after or 0.0)


class Worker:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        adapters: Mapping[Channel, ChannelAdapter],
        *,
        timer_handlers: Mapping[str, TimerHandler] | None = None,
        inbound_handlers: Mapping[str, InboundHandler] | None = None,
        retry: RetryPolicy | None = None,
        wakeup: Wakeup | None = None,
        max_sleep: float = 0.25,
        send_timeout: float = 15.0,
        uow_factory: Callable[[], UnitOfWork] | None = None,
        startup: StartupHook | None = None,
    ) -> None:
        self.db = db
        self._uow_factory = uow_factory or (lambda: UnitOfWork(db))
        self._startup = startup
        self.clock = clock
        self.adapters = dict(adapters)
        self.timer_handlers = dict(timer_handlers or {})
        # Not copied: channels register their kinds on the container's dict as they start.
        self.inbound_handlers = inbound_handlers if inbound_handlers is not None else {}
        self.retry = retry or RetryPolicy()
        self.wakeup = wakeup or Wakeup()
        self.max_sleep = max_sleep
        self.send_timeout = send_timeout

    def uow(self) -> UnitOfWork:
        return self._uow_factory()

    async def run(self, stop: asyncio.Event) -> None:
        self.wakeup.bind()
        if self._startup is not None:
            await asyncio.to_thread(self.start_up)
        log.info("worker started")
        while not stop.is_set():
            try:
                busy = await self.run_once()
            except Exception:
                log.exception("worker cycle failed; trying again shortly")
                busy = False
                await asyncio.sleep(1.0)
            if busy:
                continue
            await self.wakeup.wait(await asyncio.to_thread(self._sleep_for))
        log.info("worker stopped")

    def start_up(self) -> None:
        assert self._startup is not None
        try:
            with self.uow() as uow:
                self._startup(uow, self.clock.now())
                uow.commit()
        except Exception:  # e.g. a second worker scheduling the same timers at once
            log.exception("worker start-up step failed; carrying on")

    async def run_once(self) -> bool:
        routed = await asyncio.to_thread(self.route_inbound)
        fired = await asyncio.to_thread(self.fire_due_timers)
        sent = await self.drain_outbox()
        return routed > 0 or fired > 0 or sent > 0

    def _sleep_for(self) -> float:
        with self.uow() as uow:
            if uow.inbound.pending_count():
                return 0.0
            due = [t for t in (uow.timers.next_due_at(), uow.outbox.next_due_at()) if t]
        if not due:
            return self.max_sleep
        return min(self.max_sleep, max(0.0, (min(due) - self.clock.now()).total_seconds()))

    # ------------------------------------------------------------------ inbound
    def route_inbound(self, limit: int = 500) -> int:
        """Route journalled deliveries, each in one transaction with all it causes."""
        routed = 0
        while routed < limit:
            now = self.clock.now()
            failure: Exception | None = None
            with self.uow() as uow:
                entry = uow.inbound.claim_one()
                if entry is None:
                    return routed
                try:
                    handler = self.inbound_handlers.get(entry.kind)
                    if handler is None:
                        raise LookupError(f"no handler for inbound kind {entry.kind!r}")
                    handler(uow, entry.payload, now)
                    uow.inbound.mark_routed(
                        entry, uow.new_messages[0] if uow.new_messages else None
                    )
                    uow.commit()
                except Exception as exc:
                    log.exception("routing inbound %s (%s) failed", entry.id, entry.key)
                    failure = exc
            routed += 1
            if failure is not None:
                with self.uow() as uow:
                    uow.inbound.mark_error(
                        entry,
                        f"{type(failure).__name__}: {failure}",
                        give_up=entry.attempts + 1 >= INBOUND_MAX_ATTEMPTS,
                    )
                    uow.commit()
        return routed

    # ------------------------------------------------------------------ timers
    def fire_due_timers(self, limit: int = 200) -> int:
        fired = 0
        while fired < limit:
            now = self.clock.now()
            failure: Exception | None = None
            with self.uow() as uow:
                timer = uow.timers.claim_due(now)
                if timer is None:
                    return fired
                try:
                    handler = self.timer_handlers.get(timer.kind)
                    if handler is None:
                        raise LookupError(f"no handler for timer kind {timer.kind!r}")
                    handler(uow, timer, now)
                    uow.timers.mark_done(timer, now)
                    uow.commit()
                except Exception as exc:
                    log.exception("timer %s (%s) failed", timer.id, timer.key)
                    failure = exc  # the unit of work rolls back as it closes
            fired += 1
            if failure is not None:
                self._timer_failed(timer, failure, now)
                continue
            TIMER_LATENESS.observe(max(0.0, (now - timer.due_at).total_seconds()))
        return fired

    def _timer_failed(self, timer: Timer, exc: Exception, now: datetime) -> None:
        retry_at = None
        if timer.attempts + 1 < self.retry.max_attempts:
            retry_at = now + timedelta(seconds=self.retry.delay(timer.attempts + 1))
        with self.uow() as uow:
            uow.timers.mark_error(timer, f"{type(exc).__name__}: {exc}", retry_at)
            uow.commit()

    # ------------------------------------------------------------------ outbox
    async def drain_outbox(self, batch: int = 10) -> int:
        items = await asyncio.to_thread(self._claim, batch)
        if not items:
            return 0
        await asyncio.gather(*(self._send(item) for item in items))
        return len(items)

    def _claim(self, batch: int) -> list[OutboxItem]:
        with self.uow() as uow:
            items = uow.outbox.claim(
                self.clock.now(), timedelta(seconds=self.retry.lease_seconds), batch
            )
            uow.commit()
        return items

    async def _send(self, item: OutboxItem) -> None:
        adapter = self.adapters.get(item.channel)
        if adapter is None:
            SENDS.labels(item.channel.value, "no_channel").inc()
            await asyncio.to_thread(
                self._record_failure, item, f"the {item.channel.value} channel is not configured"
            )
            return
        msg = OutboundMessage(
            channel=item.channel,
            to=item.recipient,
            text=str(item.payload.get("text", "")),
            outbox_id=item.id,
            thread_id=_opt_str(item.payload.get("thread_id")),
            status_callback=_opt_str(item.payload.get("status_callback")),
            extra={k: v for k, v in item.payload.items() if k not in ("text",)},
        )
        if item.uncertain and await self._already_sent(adapter, item, msg):
            return
        try:
            result = await asyncio.wait_for(adapter.send(msg), timeout=self.send_timeout)
        except SendFailed as exc:
            await asyncio.to_thread(self._record_send_failed, item, exc)
            return
        except Exception as exc:  # a timeout or a bug: retry, the provider may be fine later
            log.exception("sending outbox %s failed unexpectedly", item.id)
            failure = SendFailed(f"{type(exc).__name__}: {exc}", retryable=True)
            await asyncio.to_thread(self._record_send_failed, item, failure)
            return
        SENDS.labels(item.channel.value, "sent").inc()
        await asyncio.to_thread(self._record_sent, item, result.provider_id)

    async def _already_sent(
        self, adapter: ChannelAdapter, item: OutboxItem, msg: OutboundMessage
    ) -> bool:
        """After a crash mid-send, ask the provider (where it can say) before sending again,
        so that a message is not sent twice."""
        find_sent = getattr(adapter, "find_sent", None)
        if find_sent is None:
            return False
        try:
            provider_id = await asyncio.wait_for(
                find_sent(msg, item.created_at), timeout=self.send_timeout
            )
        except Exception:
            log.warning("outbox %s: could not ask the provider; sending again", item.id)
            return False
        if provider_id is None:
            return False
        log.info(
            "outbox %s: the provider had it already (%s); not sent again", item.id, provider_id
        )
        SENDS.labels(item.channel.value, "recovered").inc()
        await asyncio.to_thread(self._record_sent, item, provider_id)
        return True

    def _record_sent(self, item: OutboxItem, provider_id: str | None) -> None:
        with self.uow() as uow:
            uow.outbox.mark_sent(item, provider_id, self.clock.now())
            uow.commit()

    def _record_send_failed(self, item: OutboxItem, exc: SendFailed) -> None:
        reason = f"{exc.code}: {exc.reason}" if exc.code else exc.reason
        if exc.retryable and item.attempts < self.retry.max_attempts:
            SENDS.labels(item.channel.value, "retry").inc()
            delay = self.retry.delay(item.attempts, exc.retry_after)
            with self.uow() as uow:
                uow.outbox.mark_retry(item, reason, self.clock.now() + timedelta(seconds=delay))
                uow.commit()
            log.warning("outbox %s: %s; retry %d in %.1fs", item.id, reason, item.attempts, delay)
            return
        SENDS.labels(item.channel.value, "failed").inc()
        self._record_failure(item, reason, unreachable=exc.unreachable)

    def _record_failure(self, item: OutboxItem, reason: str, unreachable: bool = False) -> None:
        with self.uow() as uow:
            uow.outbox.mark_failed(item, reason)
            if unreachable:
                uow.conversations.mark_unreachable(item.channel, item.recipient, reason)
            uow.commit()
        log.warning("outbox %s failed for good: %s", item.id, reason)


def _opt_str(value: object) -> str | None:
    return None if value is None else str(value)
