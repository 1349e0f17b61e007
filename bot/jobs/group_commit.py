"""Short transactions asked for at once, done as one (a group commit).

Under load the worker runs dozens of the Slack mirror's syncs at once, and each sync's look
at its conversation, record of its thread's root and finish were transactions of their own:
beginning and committing them (a connection, BEGIN, COMMIT, a thread hop each) cost more
than their statements (README, "Benchmarks"). A `GroupCommit` runs on one thread at a time;
the calls made while it runs wait and are then done together, in one transaction, in the
order `order` gives (groups that lock rows in one order cannot deadlock each other). If the
group's transaction fails, each of its calls is done again alone, in a transaction of its
own, so that only the one at fault fails. A call made while none runs waits for nothing.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from storage.unit_of_work import UnitOfWork

A = TypeVar("A")
R = TypeVar("R")

MOST = 32  # calls in one transaction, at most


@dataclass(slots=True)
class _Queue(Generic[A, R]):
    """One event loop's waiting calls, and the task that runs them."""

    waiting: list[tuple[A, asyncio.Future[R]]] = field(default_factory=list)
    runner: asyncio.Task[None] | None = None


@dataclass(frozen=True, slots=True)
class _Failed:
    error: Exception


class GroupCommit(Generic[A, R]):
    """`await group(arg)` runs `work(uow, arg)` in a unit of work from `open_uow`, shared with
    the calls made meanwhile, and commits it (unless `commits` is False: a reader's); its
    result, or the exception its call raised alone."""

    def __init__(
        self,
        open_uow: Callable[[], UnitOfWork],
        work: Callable[[UnitOfWork, A], R],
        *,
        order: Callable[[A], Any] | None = None,
        executor: Executor | None = None,
        commits: bool = True,
        most: int = MOST,
    ) -> None:
        self._open = open_uow
        self._work = work
        self._order = order
        self._executor = executor
        self._commits = commits
        self._most = most
        # Per event loop: a worker's loop, or in tests one loop a test.
        self._queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Queue[A, R]] = (
            weakref.WeakKeyDictionary()
        )

    async def __call__(self, arg: A) -> R:
        loop = asyncio.get_running_loop()
        queue = self._queues.get(loop)
        if queue is None:
            queue = self._queues[loop] = _Queue()
        done: asyncio.Future[R] = loop.create_future()
        queue.waiting.append((arg, done))
        if queue.runner is None or queue.runner.done():
            queue.runner = loop.create_task(self._run_queued(queue))
        return await done

    async def _run_queued(self, queue: _Queue[A, R]) -> None:
        loop = asyncio.get_running_loop()
        while queue.waiting:
            group, queue.waiting = queue.waiting[: self._most], queue.waiting[self._most :]
            try:
                results = await loop.run_in_executor(
                    self._executor, self._run_group, [arg for arg, _ in group]
                )
            except BaseException as exc:  # cancelled with its loop, say: tell every waiter
                for _, done in group:
                    if done.done():
                        continue
                    if isinstance(exc, asyncio.CancelledError):
                        done.cancel()
                    else:
                        done.set_exception(exc)
                raise
            for (_, done), result in zip(group, results, strict=True):
                if done.done():  # its caller was cancelled meanwhile
                    continue
                if isinstance(result, _Failed):
                    done.set_exception(result.error)
                else:
                    done.set_result(result)

    def _run_group(self, args: list[A]) -> list[R | _Failed]:
        if len(args) == 1:
            return [self._alone(args[0])]
        order = self._order
        ranks: Sequence[int] = range(len(args))
        if order is not None:
            ranks = sorted(ranks, key=lambda i: order(args[i]))
        try:
            with self._open() as uow:
                results: dict[int, R] = {}
                for index in ranks:
                    results[index] = self._work(uow, args[index])
                if self._commits:
                    uow.commit()
            return [results[i] for i in range(len(args))]
        except Exception:
            # One of them failed, or the commit did: each alone, so that only the one at
            # fault fails (none of the group's writes was committed).
            return [self._alone(arg) for arg in args]

    def _alone(self, arg: A) -> R | _Failed:
        try:
            with self._open() as uow:
                result = self._work(uow, arg)
                if self._commits:
                    uow.commit()
            return result
        except Exception as exc:
            return _Failed(exc)
