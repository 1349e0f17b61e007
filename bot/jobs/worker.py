"""The worker: fires durable timers, drains the outbox and runs jobs, waking for the next
due item.

Each timer fires in one transaction with everything it causes (state changes, outbox rows),
so a crash before commit leaves it pending and a crash after leaves it done: exactly once.
Sending is at-least-once: a claimed outbox row has a lease that a dead worker cannot renew.
A job (storage/timers.py, "Jobs": the Slack mirror's syncs) is a timer whose handler is a
coroutine calling a provider, run outside any transaction: leased like an outbox row and
renewed while it runs, so one worker at a time runs a job's key; retried with backoff when
it fails; run again when it was asked for again while it ran.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from adapters.base import FindsSent, HoldsConnections, Sender
from bot.jobs.group_commit import GroupCommit
from bot.jobs.wakeup import Wakeup
from bot.metrics import INBOUND_FAILURES, JOBS, SENDS, TIMER_LATENESS
from routing.clock import Clock
from routing.errors import SendFailed
from routing.messages import Channel, OutboundMessage
from storage.db import Database
from storage.inbound import PendingInbound
from storage.outbox import OutboxItem
from storage.schedule import Due, NextDue
from storage.timers import Timer
from storage.unit_of_work import Undo, UnitOfWork

log = logging.getLogger(__name__)
_Item = TypeVar("_Item", PendingInbound, Timer)

TimerHandler = Callable[[UnitOfWork, Timer, datetime], None]


@dataclass(frozen=True, slots=True)
class Finish:
    """A job's last writes, committed with its finish (one transaction, not two); also on
    their own if the job's lease was lost meanwhile, since what they record happened."""

    write: Callable[[UnitOfWork], None]


# Runs one job outside any transaction (it opens its own units of work): None (or a Finish)
# when done, or how long to wait before running it again when it found nothing to do yet
# (not a failure). An exception is a failure, retried with backoff (after a SendFailed's
# retry_after at the soonest; a SendFailed that is not retryable gives up at once).
JobHandler = Callable[[Timer], Awaitable[timedelta | Finish | None]]
# Routes one journalled delivery of a kind ("message", "telegram.callback", ...).
InboundHandler = Callable[[UnitOfWork, dict[str, Any], datetime], None]
# Journalled kinds that are retried until they succeed: a client's message is never dropped.
NEVER_GIVE_UP = frozenset({"message", "slack.message"})
# Shows a timer's failure to staff, in a fresh transaction: (uow, timer, error, final, now).
TimerFailureHandler = Callable[[UnitOfWork, Timer, str, bool, datetime], None]
# Run once as the worker starts, in a transaction (e.g. scheduling the next handoffs).
StartupHook = Callable[[UnitOfWork, datetime], None]
# Recording a send the provider took is retried until the database takes it: first at this
# pace (seconds, doubling up to the cap); after RECORD_FULL_TRIES, on the outbox row alone
# if the message's own record keeps failing.
RECORD_BACKOFF_FIRST, RECORD_BACKOFF_CAP, RECORD_FULL_TRIES = 0.05, 1.0, 20


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
        adapters: Mapping[Channel, Sender],
        *,
        timer_handlers: Mapping[str, TimerHandler] | None = None,
        inbound_handlers: Mapping[str, InboundHandler] | None = None,
        timer_failure_handlers: Mapping[str, TimerFailureHandler] | None = None,
        job_handlers: Mapping[str, JobHandler] | None = None,
        retry: RetryPolicy | None = None,
        wakeup: Wakeup | None = None,
        max_sleep: float = 0.25,
        send_timeout: float = 15.0,
        job_timeout: float = 300.0,
        uow_factory: Callable[[], UnitOfWork] | None = None,
        startup: StartupHook | None = None,
        batch: int = 20,
        busy_jobs: int = 4,
    ) -> None:
        self.db = db
        self._uow_factory = uow_factory or (lambda: UnitOfWork(db))
        self._startup = startup
        self.clock = clock
        self.adapters = dict(adapters)
        self.timer_handlers = dict(timer_handlers or {})
        self.timer_failure_handlers = dict(timer_failure_handlers or {})
        self.job_handlers = dict(job_handlers or {})
        # Not copied: channels register their kinds on the container's dict as they start.
        self.inbound_handlers = inbound_handlers if inbound_handlers is not None else {}
        self.retry = retry or RetryPolicy()
        self.wakeup = wakeup or Wakeup()
        self.max_sleep = max_sleep
        self.send_timeout = send_timeout
        # Deliveries routed, or timers fired, per transaction: one commit (one fsync) for
        # many, each still undone alone if it fails (UnitOfWork.part).
        self.batch = batch
        # A whole job (a sync may post many messages, each within the adapter's own timeout);
        # it saves its progress as it goes, so one cut short goes on where it stopped.
        self.job_timeout = job_timeout
        # Sends the provider took whose recording the database refused so far, by outbox id.
        self._recording: dict[int, asyncio.Task[None]] = {}
        # Jobs running (the Slack mirror's syncs): in tasks of their own, so that routing and
        # sending never wait for a mirror's posts; at most `max_jobs` at once.
        self._jobs: set[asyncio.Task[None]] = set()
        self.max_jobs = 2 * batch
        # ... and at most `busy_jobs` claimed by a cycle that routed messages: while clients'
        # messages come in, their acknowledgements and pages go first. The mirror's syncs
        # (their posts, and their database work on threads of their own) held up the routing
        # of a batch and its sends: at 200 messages a second on PostgreSQL, p99 went from
        # 0.8-0.9 s to 0.4-0.5 s at 4 (README, "Benchmarks"). The mirror catches up when
        # the messages pause, with every slot.
        self.busy_jobs = min(busy_jobs, self.max_jobs)
        # Sends the provider took, and jobs' ends, recorded a transaction for all those that
        # come together (bot/jobs/group_commit.py). Ends in their jobs' keys' order: the
        # order in which routing asks for jobs (Slack mirror `request_sync`), so that the
        # rows both lock are locked in one order.
        self._sent: GroupCommit[tuple[OutboxItem, str | None], None] = GroupCommit(
            self.uow, self._write_one_sent
        )
        self._ends: GroupCommit[_Ended, None] = GroupCommit(
            self._redoable, self._write_end, order=lambda ended: ended[0]
        )
        # What is due next, asked at least every max_sleep while idle: kept cheap.
        self._next_due = NextDue(db.engine, self.job_handlers, self.timer_handlers)

    def uow(self) -> UnitOfWork:
        return self._uow_factory()

    def _redoable(self) -> UnitOfWork:
        """A unit of work for a job's lease and end: a job lost is run again (its commit is
        not synced to disk on SQLite, `Database.session`). Its commit wakes no cycle: a job
        asked for again while it ran is due at once, and the slot its end frees wakes one
        (`_job_ended`)."""
        uow = self._uow_factory()
        uow.durable = False
        uow.wakes = False
        return uow

    async def run(self, stop: asyncio.Event) -> None:
        self.wakeup.bind()
        if self._startup is not None:
            await asyncio.to_thread(self.start_up)
        log.info("worker started")
        while not stop.is_set():
            # Whatever was committed before this cycle looks is seen by it: the notices of
            # it (this worker's own commits among them) need no cycle of their own.
            self.wakeup.clear()
            try:
                if not await self.run_once():
                    await self._idle(stop)
            except Exception:
                log.exception("worker cycle failed; trying again shortly")
                await asyncio.sleep(1.0)
        await self.finish_jobs()  # the running syncs end and record how far they got
        await self.finish_recording(self.retry.lease_seconds)
        for adapter in self.adapters.values():
            if isinstance(adapter, HoldsConnections):
                await adapter.aclose()
        await asyncio.to_thread(self._next_due.close)
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
        """One cycle: each queue with something due, in turn. One read (no transaction)
        says which were due as the cycle began, so that a busy queue costs the idle ones no
        claim; a queue runs too when an earlier step of the cycle did work, which may have
        made it due (a routed message's follow-up, a fired timer's notice)."""
        running = len(self._jobs)
        # The database steps in one thread hop, not four: each hop is a handoff of the GIL
        # and two context switches, which a cycle of one message paid several times over.
        routed, fired, items, leased = await asyncio.to_thread(self._cycle, running)
        # Jobs (the Slack mirror) run on their own: an acknowledgement does not wait for the
        # mirror's posts, nor the mirror for a slow provider.
        for job in leased:
            self._start_job(job)
        sent = await self._rounds(self.drain_outbox, items) if items else 0
        return routed > 0 or fired > 0 or sent > 0 or bool(leased)

    def _cycle(self, running_jobs: int) -> tuple[int, int, list[OutboxItem], list[Timer]]:
        """A cycle's database steps: route, fire, then claim the first round of sends and
        jobs (both in one transaction: one commit, not two)."""
        due = self._due_now()
        routed = self.route_inbound() if due.inbound else 0
        fired = self.fire_due_timers() if due.timers or routed else 0
        sends = self.batch if due.outbox or routed or fired else 0
        wanted = self.job_handlers and (due.jobs or routed or fired)
        # A cycle that routed messages holds its jobs to `busy_jobs` (see there), and claims
        # one as soon as a slot is free: it claims its sends anyway.
        most, refill = (self.busy_jobs, 1) if routed else (self.max_jobs, self._refill)
        free_jobs = most - running_jobs
        jobs = min(self.batch, free_jobs) if wanted and free_jobs >= refill else 0
        items, leased = self._claim_work(sends, jobs)
        return routed, fired, items, leased

    def _start_job(self, job: Timer) -> None:
        task = asyncio.create_task(self._run_job(job), name=f"job {job.key}")
        self._jobs.add(task)
        task.add_done_callback(self._job_ended)

    def _job_ended(self, task: asyncio.Task[None]) -> None:
        self._jobs.discard(task)
        if not task.cancelled() and task.exception() is not None:  # its lease runs out
            log.error(
                "job task %s: recording its outcome failed",
                task.get_name(),
                exc_info=task.exception(),
            )
        if not self.jobs_full():  # enough free slots: jobs that waited for one may run now
            self.wakeup.notify()

    async def finish_jobs(self) -> bool:
        """Wait for the jobs running now to end; False if none was running."""
        if not self._jobs:
            return False
        await asyncio.wait(set(self._jobs))
        return True

    @property
    def _refill(self) -> int:
        """Jobs are claimed when at least this many slots are free: when the mirror fell
        behind, a claim each time one job ended made a worker cycle a conversation."""
        return max(1, min(self.batch // 4, self.max_jobs))

    def jobs_full(self) -> bool:
        """Fewer slots free than a claim waits for (`_refill`)."""
        return self.max_jobs - len(self._jobs) < self._refill

    async def _rounds(
        self, run: Callable[[int, Any], Awaitable[int]], first: list[Any], limit: int = 200
    ) -> int:
        """Run-and-claim rounds of `self.batch`, the first on what was claimed already
        (`first`), while each finds a full batch, up to `limit`: a backlog is worked off in
        this cycle, not a batch a cycle."""
        done = 0
        claimed: list[Any] | None = first
        while done < limit:
            count = await run(self.batch, claimed)
            claimed = None
            done += count
            if count < self.batch:
                break
        return done

    def _claim_work(self, sends: int, jobs: int) -> tuple[list[OutboxItem], list[Timer]]:
        """Claim up to `sends` outbox rows and `jobs` jobs, in one transaction, leased."""
        with self.uow() as uow:
            now = self.clock.now()
            lease = timedelta(seconds=self.retry.lease_seconds)
            items = uow.outbox.claim(now, lease, sends) if sends else []
            leased = uow.timers.claim_jobs(now, self.job_handlers, lease, jobs) if jobs else []
            # Nothing claimed, nothing to commit: a commit notifies the wakeup, and an idle
            # worker that woke itself on every empty claim would never sleep.
            if items or leased:
                uow.commit()
        return items, leased

    def _due_now(self) -> Due:
        now = self.clock.now()
        try:
            return self._next_due.each().by(now)
        except Exception:  # the look failed: look in every queue, as the claims will say
            log.warning("reading what is due failed; looking in every queue", exc_info=True)
            return Due(now, now, now, now)

    async def _idle(self, stop: asyncio.Event) -> None:
        """Sleep until the next row is due or this process commits new work (the wakeup).
        Work committed by another process (`partnerline web` beside a worker) cannot wake
        this one, so every `max_sleep` it looks: one short read of what is due next, and a
        whole cycle only when something is. Nothing here commits, so nothing wakes itself."""
        while not stop.is_set():
            delay = await asyncio.to_thread(self._sleep_for)
            if delay <= 0 or await self.wakeup.wait(delay) or delay < self.max_sleep:
                return

    def _sleep_for(self) -> float:
        each = self._next_due.each()
        if self.jobs_full():
            # Due jobs wait for slots: the end of enough jobs wakes the loop.
            each = Due(each.inbound, each.timers, each.outbox, None)
        due = each.earliest
        if due is None:
            return self.max_sleep
        return min(self.max_sleep, max(0.0, (due - self.clock.now()).total_seconds()))

    # ------------------------------------------------------------------ inbound
    def route_inbound(self, limit: int = 500) -> int:
        """Route journalled deliveries, a batch to a transaction, each delivery in a part of
        its own with all it causes (`_in_parts`): one that fails is undone alone.

        A delivery whose routing fails is tried again with backoff, so it holds up no other.
        A client message ("message" kind) is never given up: filing it depends on nothing but
        the database, so it is retried, at most every `cap_seconds`, until it is filed; other
        kinds (buttons, commands) give up after `max_attempts`.

        Another batch only after a full one: after one that was not, what arrives meanwhile
        is for the next cycle, whose look at what is due costs less than an empty claim (a
        write transaction on SQLite).
        """
        routed = 0
        # Without savepoints (`_in_parts`), a batch succeeds whole: its deliveries are marked
        # routed together, as it commits (cleared at each claim).
        done: list[tuple[PendingInbound, int | None]] = []
        while routed < limit:
            now = self.clock.now()
            size = min(self.batch, limit - routed)

            def claim(
                uow: UnitOfWork, now: datetime = now, size: int = size
            ) -> list[PendingInbound]:
                done.clear()
                return uow.inbound.claim(now, size)

            def route(uow: UnitOfWork, entry: PendingInbound, now: datetime = now) -> None:
                handler = self.inbound_handlers.get(entry.kind)
                if handler is None:
                    raise LookupError(f"no handler for inbound kind {entry.kind!r}")
                handler(uow, entry.payload, now)
                message_id = uow.new_messages[0] if uow.new_messages else None
                if uow.optimistic:
                    done.append((entry, message_id))
                else:
                    uow.inbound.mark_routed(entry, message_id)

            def mark(uow: UnitOfWork) -> None:
                uow.inbound.mark_routed_many(done)

            entries, failures = self._in_parts(claim, route, "routing inbound", mark)
            if not entries:
                return routed
            routed += len(entries)
            for entry, error in failures:
                self._inbound_failed(entry, error, now)
            if len(entries) < size:
                break
        return routed

    def _in_parts(
        self,
        claim: Callable[[UnitOfWork], list[_Item]],
        handle: Callable[[UnitOfWork, _Item], None],
        doing: str,
        before_commit: Callable[[UnitOfWork], None] | None = None,
    ) -> tuple[list[_Item], list[tuple[_Item, Exception]]]:
        """Claim a batch and handle each item in a part of one transaction, then commit; the
        items claimed, and those that failed (undone alone, the others committed).
        `before_commit`: the batch's last writes, after its parts.

        First without savepoints (`UnitOfWork.optimistic`), since nearly every batch succeeds
        whole and a savepoint costs more than the statements of a message's follow-up. When
        a part fails, that transaction is rolled back and the batch claimed and done again
        with a savepoint a part: what the others did is done once, in the commit that counts.
        """
        for optimistic in (True, False):
            failures: list[tuple[_Item, Exception]] = []
            try:
                with self.uow() as uow:
                    uow.optimistic = optimistic
                    items = claim(uow)
                    if not items:
                        return [], []
                    for item in items:
                        try:
                            with uow.part():
                                handle(uow, item)
                        except Exception as exc:
                            if optimistic:
                                raise Undo() from exc
                            log.exception("%s %s failed", doing, _name(item))
                            failures.append((item, exc))
                    if before_commit is not None:
                        before_commit(uow)
                    uow.commit()
                return items, failures
            except Undo:
                if not optimistic:
                    raise
        raise AssertionError("unreachable: the second round takes no shortcut")

    def _inbound_failed(self, entry: PendingInbound, exc: Exception, now: datetime) -> None:
        INBOUND_FAILURES.labels(entry.kind).inc()
        attempts = entry.attempts + 1
        retry_at = None
        if entry.kind in NEVER_GIVE_UP or attempts < self.retry.max_attempts:
            retry_at = now + timedelta(seconds=self.retry.delay(attempts))
        with self.uow() as uow:
            uow.inbound.mark_error(entry, f"{type(exc).__name__}: {exc}", retry_at)
            uow.commit()

    # ------------------------------------------------------------------ timers
    def fire_due_timers(self, limit: int = 200) -> int:
        """Fire due timers, a batch to a transaction, each timer in a part of its own with
        everything it causes (`_in_parts`): one that fails is undone alone. Until none is
        due: a timer can make one due at once (a paging step that names nobody passes to the
        next in the same cycle)."""
        fired = 0
        while fired < limit:
            now = self.clock.now()
            size = min(self.batch, limit - fired)

            def claim(uow: UnitOfWork, now: datetime = now, size: int = size) -> list[Timer]:
                return uow.timers.claim_due(now, size, skip_kinds=self.job_handlers)

            def fire(uow: UnitOfWork, timer: Timer, now: datetime = now) -> None:
                handler = self.timer_handlers.get(timer.kind)
                if handler is None:
                    raise LookupError(f"no handler for timer kind {timer.kind!r}")
                handler(uow, timer, now)
                uow.timers.mark_done(timer, now)

            timers, failures = self._in_parts(claim, fire, "timer")
            if not timers:
                return fired
            fired += len(timers)
            failed = {t.id for t, _ in failures}
            for timer in timers:
                if timer.id not in failed:
                    TIMER_LATENESS.observe(max(0.0, (now - timer.due_at).total_seconds()))
            for timer, error in failures:
                self._timer_failed(timer, error, now)
        return fired

    def _timer_failed(self, timer: Timer, exc: Exception, now: datetime) -> None:
        retry_at = None
        if timer.attempts + 1 < self.retry.max_attempts:
            retry_at = now + timedelta(seconds=self.retry.delay(timer.attempts + 1))
        error = f"{type(exc).__name__}: {exc}"
        with self.uow() as uow:
            uow.timers.mark_error(timer, error, retry_at)
            uow.commit()
        self._show_failure(timer, error, retry_at is None, now)

    def _show_failure(self, timer: Timer, error: str, final: bool, now: datetime) -> None:
        shown = self.timer_failure_handlers.get(timer.kind)
        if shown is None:
            return
        try:  # apart from mark_error, so that a failure here cannot undo the backoff
            with self.uow() as uow:
                shown(uow, timer, error, final, now)
                uow.commit()
        except Exception:
            log.exception("showing the failure of timer %s (%s) failed", timer.id, timer.key)

    # ------------------------------------------------------------------ jobs
    async def _run_job(self, job: Timer) -> None:
        handler = self.job_handlers[job.kind]
        held = _Held(job)
        run = asyncio.create_task(asyncio.wait_for(handler(job), timeout=self.job_timeout))
        over = asyncio.Event()
        keeper = asyncio.create_task(self._keep_lease(held, run, over))
        again: timedelta | Finish | None = None
        failure: Exception | None = None
        try:
            again = await run
        except asyncio.CancelledError:
            if not held.lost:
                raise
        except Exception as exc:
            failure = exc
        finally:
            # Not cancelled: a renewal under way must land in `held` before the outcome
            # below is recorded against the lease it holds.
            over.set()
            await keeper
        finish = again if isinstance(again, Finish) else None
        if held.lost:  # another worker may run it now: what happens next is its own
            JOBS.labels(job.kind, "lost").inc()
            log.warning("job %s (%s): its lease was lost; left to its new holder", job.id, job.key)
            if finish is not None:
                await self._ends((job.key, None, finish))
        elif failure is not None:
            await asyncio.to_thread(self._job_failed, held.job, failure)
        elif isinstance(again, timedelta):
            JOBS.labels(job.kind, "again").inc()
            await asyncio.to_thread(self._job_again, held.job, again)
        else:
            try:
                await self._ends((job.key, held.job, finish))
            except Exception as exc:  # its last writes failed: as if the job had
                await asyncio.to_thread(self._job_failed, held.job, exc)
                return
            JOBS.labels(job.kind, "done").inc()

    async def _keep_lease(
        self, held: _Held, run: asyncio.Task[timedelta | Finish | None], over: asyncio.Event
    ) -> None:
        """Renew the job's lease while it runs (a third of the lease apart) until `over`; if
        the lease was lost, stop the run: another worker may have taken the job."""
        every = self.retry.lease_seconds / 3
        while not over.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(over.wait(), timeout=every)
            if over.is_set():
                return
            try:
                renewed = await asyncio.to_thread(self._renew_job, held.job)
            except Exception:
                log.warning("job %s: renewing its lease failed", held.job.id, exc_info=True)
                continue
            if renewed is None:
                held.lost = True
                run.cancel()
                return
            held.job = renewed

    def _renew_job(self, job: Timer) -> Timer | None:
        with self._redoable() as uow:
            until = self.clock.now() + timedelta(seconds=self.retry.lease_seconds)
            renewed = uow.timers.renew(job, until)
            uow.commit()
        return renewed

    def _write_end(self, uow: UnitOfWork, ended: _Ended) -> None:
        """A job is done (None: its lease was lost), with its last writes if any."""
        _, job, finish = ended
        if finish is not None:
            finish.write(uow)
        if job is not None:
            uow.timers.finish(job, self.clock.now())

    def _job_again(self, job: Timer, after: timedelta) -> None:
        now = self.clock.now()
        with self._redoable() as uow:
            uow.timers.again(job, now, now + after)
            uow.commit()

    def _job_failed(self, job: Timer, exc: Exception) -> None:
        now = self.clock.now()
        attempts = job.attempts + 1
        if isinstance(exc, SendFailed):
            error = f"{exc.code}: {exc.reason}" if exc.code else exc.reason
            retryable, retry_after = exc.retryable, exc.retry_after
        else:
            error, retryable, retry_after = f"{type(exc).__name__}: {exc}", True, None
            log.error("job %s (%s) failed", job.id, job.key, exc_info=exc)
        retry_at = None
        if retryable and attempts < self.retry.max_attempts:
            delay = self.retry.delay(attempts, retry_after)
            retry_at = now + timedelta(seconds=delay)
            JOBS.labels(job.kind, "retry").inc()
            log.warning(
                "job %s (%s): %s; retry %d in %.1fs", job.id, job.key, error, attempts, delay
            )
        else:
            JOBS.labels(job.kind, "failed").inc()
            log.warning("job %s (%s) failed for good: %s", job.id, job.key, error)
        with self.uow() as uow:
            uow.timers.job_failed(job, error, retry_at)
            uow.commit()
        self._show_failure(job, error, retry_at is None, now)

    # ------------------------------------------------------------------ outbox
    async def drain_outbox(self, batch: int = 10, claimed: list[OutboxItem] | None = None) -> int:
        """Send what is due (`claimed` already, else claimed here): different recipients at
        once, each recipient's rows one at a time and in order (the claim takes only the
        first in line, storage/outbox.py)."""
        items = claimed if claimed is not None else await asyncio.to_thread(self._claim, batch)
        if not items:
            return 0
        results = await asyncio.gather(
            *(self._send(item) for item in items), return_exceptions=True
        )
        for item, result in zip(items, results, strict=True):
            if isinstance(result, BaseException):  # its lease runs out; it is tried again
                log.error("outbox %s: sending or recording failed", item.id, exc_info=result)
        return len(items)

    def _claim(self, batch: int) -> list[OutboxItem]:
        return self._claim_work(batch, 0)[0]

    async def _send(self, item: OutboxItem) -> None:
        if item.id in self._recording:
            # Sent already: its lease ran out while this worker kept trying to record that,
            # and the recording task will. Sending it again would send it twice.
            return
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
        # The claim that led here was committed before this call: the row is "sending" with
        # a lease, the record of this attempt. Only a crash (or a database outage longer
        # than the lease) between the provider's acceptance and `_record_sent` leaves it
        # claimable again; then Twilio is asked first (`_already_sent`), while Telegram and
        # Slack, which cannot be asked, get it a second time: the one window for a duplicate.
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
        await self._record_sent(item, result.provider_id)

    async def _already_sent(self, adapter: Sender, item: OutboxItem, msg: OutboundMessage) -> bool:
        """After a crash mid-send, ask the provider (where it can say) before sending again,
        so that a message is not sent twice."""
        if not isinstance(adapter, FindsSent):
            # At least once: losing a client's answer is worse than repeating it.
            log.warning(
                "outbox %s: a worker stopped while sending it and %s cannot say whether it "
                "went; sending it again",
                item.id,
                item.channel.value,
            )
            SENDS.labels(item.channel.value, "resent").inc()
            return False
        try:
            provider_id = await asyncio.wait_for(
                adapter.find_sent(msg, item.created_at), timeout=self.send_timeout
            )
        except Exception:
            log.warning("outbox %s: could not ask the provider; sending again", item.id)
            return False
        if provider_id is None or await asyncio.to_thread(self._sent_as_another, item, provider_id):
            return False
        log.info(
            "outbox %s: the provider had it already (%s); not sent again", item.id, provider_id
        )
        SENDS.labels(item.channel.value, "recovered").inc()
        await self._record_sent(item, provider_id)
        return True

    async def _record_sent(self, item: OutboxItem, provider_id: str | None) -> None:
        """Record that the provider took the row. This must not fail in a way that sends it
        again: if the database refuses, a task of its own keeps trying with a short backoff,
        renewing the row's lease meanwhile so that no worker claims it again, while the
        rest of the outbox goes on (only this recipient's later rows wait, by the order
        rule). Sends that finish together are recorded in one transaction (each alone if
        that fails)."""
        try:
            await self._sent((item, provider_id))
        except Exception:
            log.exception("outbox %s was sent, but recording that failed; retrying", item.id)
            task = asyncio.create_task(self._keep_recording(item, provider_id))
            self._recording[item.id] = task
            task.add_done_callback(lambda _: self._recording.pop(item.id, None))

    def _write_one_sent(self, uow: UnitOfWork, sent: tuple[OutboxItem, str | None]) -> None:
        item, provider_id = sent
        uow.outbox.mark_sent(item, provider_id, self.clock.now(), row_only=False)

    async def _keep_recording(self, item: OutboxItem, provider_id: str | None) -> None:
        delay = RECORD_BACKOFF_FIRST
        cap = min(RECORD_BACKOFF_CAP, self.retry.lease_seconds / 3)  # renewed well in time
        for tries in itertools.count(2):
            await asyncio.sleep(delay)
            delay = min(cap, delay * 2)
            error = await _attempt(self._write_sent, item, provider_id, False)
            if error is None:
                log.info("outbox %s: recorded as sent after %d tries", item.id, tries)
                return
            # Whatever the message's own record trips on, the row itself must say "sent".
            if tries > RECORD_FULL_TRIES and not await _attempt(
                self._write_sent, item, provider_id, True
            ):
                log.error("outbox %s: recorded as sent on its row only (%r)", item.id, error)
                return
            log.warning(
                "outbox %s: recording the send failed (%d tries): %r", item.id, tries, error
            )
            # Fails too while the database is down, when no worker can claim the row either.
            await _attempt(self._renew_lease, item)

    def _sent_as_another(self, item: OutboxItem, provider_id: str) -> bool:
        with self.uow() as uow:
            return uow.outbox.sent_as_another(item, provider_id)

    def _write_sent(self, item: OutboxItem, provider_id: str | None, row_only: bool) -> None:
        with self.uow() as uow:
            uow.outbox.mark_sent(item, provider_id, self.clock.now(), row_only=row_only)
            uow.commit()

    def _renew_lease(self, item: OutboxItem) -> None:
        with self.uow() as uow:
            until = self.clock.now() + timedelta(seconds=self.retry.lease_seconds)
            uow.outbox.renew(item, until)
            uow.commit()

    async def finish_recording(self, timeout: float) -> None:
        """Wait (up to `timeout`) for sends still being recorded, as the worker stops."""
        pending = list(self._recording.values())
        if not pending:
            return
        _, late = await asyncio.wait(pending, timeout=timeout)
        for task in late:
            log.error("stopping with a send still unrecorded; its lease will run out")
            task.cancel()

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


# A job's end to record: its key (the order of the rows locked), the job (None: its lease
# was lost) and its last writes.
_Ended = tuple[str, Timer | None, Finish | None]


@dataclass(slots=True)
class _Held:
    """A running job as its worker holds it: the lease renewed since the claim, or lost."""

    job: Timer
    lost: bool = False


async def _attempt(work: Callable[..., None], *args: Any) -> Exception | None:
    """Run blocking `work` in a thread; the exception it raised, or None."""
    try:
        await asyncio.to_thread(work, *args)
    except Exception as exc:
        return exc
    return None


def _name(item: PendingInbound | Timer) -> str:
    """How a log line names a journalled delivery or a timer: its id and key."""
    return f"{item.id} ({item.key})"


def _opt_str(value: object) -> str | None:
    return None if value is None else str(value)
