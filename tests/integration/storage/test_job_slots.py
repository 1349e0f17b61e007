"""A worker runs a bounded number of jobs (the Slack mirror's syncs) at once. While its slots
are full, its other timers (a commitment's breach, a paging step) still fire when due; the
jobs waiting for a slot are claimed once enough slots are free. While clients' messages come
in, it takes fewer jobs: their acknowledgements go first."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from bot.jobs.worker import Worker
from routing.clock import FrozenClock
from routing.messages import Channel
from storage.db import Database
from storage.inbound import JournalEntry, write_batch
from storage.timers import Timer
from storage.unit_of_work import UnitOfWork

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
JOB, TICK = "test.job", "test.tick"


async def until(check: object, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, "not in time"
        await asyncio.sleep(0.02)


class HeldJobs:
    """A job handler whose runs are held until `release` is set; `running`: their keys."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.running: list[str] = []

    async def __call__(self, timer: Timer) -> None:
        self.running.append(timer.key)
        await self.release.wait()


def ask_jobs(database: Database, count: int) -> None:
    with UnitOfWork(database) as uow:  # no wakeup: the worker finds these by looking
        for n in range(count):
            uow.timers.request(f"{JOB}:{n}", JOB, T0, T0, {})
        uow.commit()


async def test_timers_fire_while_every_job_slot_is_taken(database: Database) -> None:
    clock = FrozenClock(T0)
    job = HeldJobs()
    release, running = job.release, job.running
    fired: list[str] = []

    def tick(_uow: UnitOfWork, timer: Timer, _now: datetime) -> None:
        fired.append(timer.key)

    worker = Worker(
        database, clock, {}, timer_handlers={TICK: tick}, job_handlers={JOB: job}, batch=4
    )
    worker.max_jobs = 2
    ask_jobs(database, 3)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        await until(lambda: len(running) == 2)
        assert worker.jobs_full()
        # Due while both slots are taken, and committed where no wakeup reaches the worker.
        with UnitOfWork(database) as uow:
            uow.timers.schedule(f"{TICK}:1", TICK, T0, T0, {})
            uow.commit()
        await until(lambda: fired == [f"{TICK}:1"])
        assert len(running) == 2  # the third job still waits for a slot
        release.set()
        await until(lambda: len(running) == 3)
    finally:
        release.set()
        stop.set()
        await asyncio.wait_for(task, 10)
    assert sorted(running) == [f"{JOB}:{n}" for n in range(3)]


async def test_a_cycle_that_routes_messages_takes_no_more_than_busy_jobs(
    database: Database,
) -> None:
    clock = FrozenClock(T0)
    job = HeldJobs()
    release, running = job.release, job.running
    routed: list[str] = []

    def route(_uow: UnitOfWork, payload: dict[str, Any], _now: datetime) -> None:
        routed.append(payload["n"])

    worker = Worker(
        database,
        clock,
        {},
        inbound_handlers={"test.message": route},
        job_handlers={JOB: job},
        batch=4,
        busy_jobs=1,
    )
    ask_jobs(database, 3)
    with database.write_connection() as conn:
        write_batch(conn, [JournalEntry(Channel.SMS, "SM1", "test.message", {"n": "1"}, T0)])
    try:
        assert await worker.run_once()
        await until(lambda: running)
        assert routed == ["1"]
        await asyncio.sleep(0.1)
        assert len(running) == 1  # two jobs wait while the cycle was routing
        # Nothing to route: the next cycle fills its slots.
        assert await worker.run_once()
        await until(lambda: len(running) == 3)
    finally:
        release.set()
        await worker.finish_jobs()
