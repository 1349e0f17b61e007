"""A job's last writes (a `Finish`, as the Slack mirror's sync returns the record of its last
posts) are committed with the job's finish, in one transaction; if they fail, the job has
failed: nothing of them is kept, and it is retried with backoff like any failed run. That
commit makes no work for the worker, so it wakes no cycle of its own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, select

from bot.jobs.worker import Finish, Worker
from routing.clock import FrozenClock
from storage.db import Database
from storage.tables import TimerRow
from storage.timers import Timer
from storage.unit_of_work import UnitOfWork

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
KIND = "test.job"


def marker(key: str) -> Finish:
    """Last writes that leave a trace: a timer of their own."""
    return Finish(
        lambda uow: uow.timers.schedule(key, "test.marker", T0 + timedelta(days=1), T0, {})
    )


def ask(db: Database) -> None:
    with UnitOfWork(db) as uow:
        uow.timers.request(f"{KIND}:1", KIND, T0, T0, {"n": 1})
        uow.commit()


def rows(db: Database) -> dict[str, tuple[str, int, str | None]]:
    with UnitOfWork(db) as uow:
        found = uow.session.execute(
            select(TimerRow.key, TimerRow.state, TimerRow.attempts, TimerRow.last_error)
        ).all()
    return {key: (state, attempts, error) for key, state, attempts, error in found}


async def run_job(db: Database, handler: Any) -> int:
    """One worker cycle and the job it starts; the commits made after the handler returned."""
    commits = 0
    returned = False

    def count(_conn: Any) -> None:
        nonlocal commits
        commits += returned

    async def job(timer: Timer) -> Finish | None:
        nonlocal returned
        result: Finish | None = await handler(timer)
        returned = True
        return result

    worker = Worker(db, FrozenClock(T0), {}, job_handlers={KIND: job})
    event.listen(db.engine, "commit", count)
    try:
        await worker.run_once()
        assert await worker.finish_jobs(), "the job ran"
    finally:
        event.remove(db.engine, "commit", count)
    return commits


async def test_the_last_writes_commit_with_the_finish_in_one_transaction(
    database: Database,
) -> None:
    ask(database)

    async def done(_timer: Timer) -> Finish:
        return marker("written")

    commits = await run_job(database, done)

    assert rows(database) == {
        f"{KIND}:1": ("done", 0, None),
        "written": ("pending", 0, None),
    }
    assert commits == 1


async def test_last_writes_that_fail_fail_the_job_and_leave_nothing(database: Database) -> None:
    ask(database)

    def fails(uow: UnitOfWork) -> None:
        uow.timers.schedule("half-written", "test.marker", T0, T0, {})
        raise LookupError("no thread saved")

    async def done(_timer: Timer) -> Finish:
        return Finish(fails)

    await run_job(database, done)

    state, attempts, error = rows(database)[f"{KIND}:1"]
    assert (state, attempts) == ("pending", 1), "retried with backoff, not done"
    assert error is not None and "no thread saved" in error
    assert "half-written" not in rows(database)


async def test_a_jobs_end_wakes_no_cycle_but_one_asked_for_again_runs_again(
    database: Database,
) -> None:
    ask(database)
    woken: list[str] = []
    runs: list[str] = []

    async def handler(timer: Timer) -> Finish:
        runs.append(timer.key)
        if len(runs) == 1:
            ask(database)  # asked for while it runs: it runs once more
        return marker(f"written {len(runs)}")

    def uow() -> UnitOfWork:
        return UnitOfWork(database, on_commit=lambda: woken.append("commit"))

    worker = Worker(database, FrozenClock(T0), {}, job_handlers={KIND: handler}, uow_factory=uow)
    await worker.run_once()
    woken.clear()  # the claim's commit
    assert await worker.finish_jobs()
    assert woken == []  # the finish, with its last writes, committed without waking
    assert rows(database)[f"{KIND}:1"][0] == "pending"  # due again at once
    await worker.run_once()
    assert await worker.finish_jobs()
    assert runs == [f"{KIND}:1", f"{KIND}:1"]
    assert rows(database)[f"{KIND}:1"][0] == "done"
