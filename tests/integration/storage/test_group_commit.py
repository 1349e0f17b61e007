"""Short transactions asked for while one runs are done together, in one transaction and in
the order given, and one that fails fails alone (bot/jobs/group_commit.py), on a real
database of each kind."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, select

from bot.jobs.group_commit import GroupCommit
from storage.db import Database
from storage.tables import TimerRow
from storage.unit_of_work import UnitOfWork

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Recorder:
    """`work` for a GroupCommit: writes a timer row per call and notes which unit of work
    each call ran in; the call for `held` waits until `release` is set; `fails` raise after
    writing."""

    def __init__(self, held: int | None = None, fails: frozenset[int] = frozenset()) -> None:
        self.ran: list[tuple[int, int]] = []  # (arg, id of its unit of work)
        self.started = threading.Event()
        self.release = threading.Event()
        self.held = held
        self.fails = fails

    def __call__(self, uow: UnitOfWork, arg: int) -> int:
        if arg == self.held:
            self.started.set()
            assert self.release.wait(10)
        uow.timers.schedule(f"group:{arg}", "test.group", T0, T0, {})
        self.ran.append((arg, id(uow)))
        if arg in self.fails:
            raise ValueError(f"call {arg} fails")
        return arg * 10


def keys(db: Database) -> list[str]:
    with UnitOfWork(db, read_only=True) as uow:  # not behind a writer's lock on SQLite
        return sorted(uow.session.execute(select(TimerRow.key)).scalars())


async def calls_while_held(group: GroupCommit[int, int], work: Recorder, args: list[int]) -> Any:
    """Call `work.held` first and, while its transaction runs, `args`: the results (an
    exception for a call that raised)."""
    assert work.held is not None
    first = asyncio.ensure_future(group(work.held))
    await asyncio.to_thread(work.started.wait, 10)
    rest = [asyncio.ensure_future(group(arg)) for arg in args]
    await asyncio.sleep(0.05)  # they queue behind the first
    work.release.set()
    return await asyncio.gather(first, *rest, return_exceptions=True)


async def test_calls_made_while_one_runs_share_one_transaction_in_order(
    database: Database,
) -> None:
    work = Recorder(held=0)
    group = GroupCommit(lambda: UnitOfWork(database), work, order=lambda arg: arg)
    commits = 0

    def count(_conn: Any) -> None:
        nonlocal commits
        commits += 1

    event.listen(database.engine, "commit", count)
    try:
        results = await calls_while_held(group, work, [5, 3, 4, 1, 2])
    finally:
        event.remove(database.engine, "commit", count)

    assert results == [0, 50, 30, 40, 10, 20]  # each caller gets its own call's result
    assert commits == 2  # the first alone, then the five queued behind it together
    assert [arg for arg, _ in work.ran] == [0, 1, 2, 3, 4, 5]  # the group in `order`
    assert len({uow for arg, uow in work.ran if arg}) == 1
    assert keys(database) == [f"group:{n}" for n in range(6)]


async def test_a_call_that_fails_fails_alone_and_the_others_commit_once(
    database: Database,
) -> None:
    work = Recorder(held=0, fails=frozenset({2}))
    group = GroupCommit(lambda: UnitOfWork(database), work)

    results = await calls_while_held(group, work, [1, 2, 3])

    assert results[:2] == [0, 10] and results[3] == 30
    assert isinstance(results[2], ValueError) and str(results[2]) == "call 2 fails"
    # The group was rolled back and each call done again alone: what the failing call
    # wrote is gone with it, and the others' rows are there once.
    assert keys(database) == ["group:0", "group:1", "group:3"]


async def test_a_reader_commits_nothing(database: Database) -> None:
    def read(uow: UnitOfWork, key: str) -> int:
        uow.timers.schedule(key, "test.group", T0, T0, {})  # written, never committed
        return len(keys(database))

    group = GroupCommit(lambda: UnitOfWork(database), read, commits=False)

    assert await asyncio.gather(group("a"), group("b")) == [0, 0]
    assert keys(database) == []


@pytest.mark.parametrize("size", [1, 3])
async def test_a_call_alone_or_in_a_group_raises_its_own_error(
    database: Database, size: int
) -> None:
    def fail(_uow: UnitOfWork, arg: int) -> None:
        raise LookupError(f"no {arg}")

    group: GroupCommit[int, None] = GroupCommit(lambda: UnitOfWork(database), fail)
    results = await asyncio.gather(*(group(n) for n in range(size)), return_exceptions=True)
    assert all(isinstance(r, LookupError) for r in results)
    assert [str(r) for r in results] == [f"no {n}" for n in range(size)]
