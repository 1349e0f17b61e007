"""Durable timers: rows with a due time, fired by the worker in the same transaction as
what they cause, so firing is exactly-once for everything the database holds.

Keys make scheduling idempotent: scheduling "commitment:7:breach" twice keeps one timer.

Jobs are timers of the kinds the worker runs outside a transaction, because they call a
provider (the Slack mirror's syncs, bot/jobs/worker.py). One row per key, asked for again and
again (`request`): a job done is made pending again, a pending one is run no later than
asked, and one running is run once more when it ends (`requests` counts the asks; a run
that began before the last ask does not finish the job). A worker takes a due job with a
lease (`claim_jobs`, FOR UPDATE SKIP LOCKED on PostgreSQL): `locked_until` is set and
`due_at` moves with it, so a job is run by one worker at a time, is due again when a dead
worker's lease runs out, and the worker's "what is due next" needs no rule of its own. The
lease's end is also the worker's token: renewing, finishing or failing a job it no longer
holds changes nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, case, func, select, update
from sqlalchemy.orm import Session

from storage.db import run
from storage.tables import TimerRow
from storage.upsert import insert_ignore, insert_new_many, update_row

PENDING, DONE, CANCELLED, FAILED = "pending", "done", "cancelled", "failed"


@dataclass(frozen=True, slots=True)
class Timer:
    id: int
    key: str
    kind: str
    due_at: datetime
    payload: dict[str, Any]
    attempts: int
    # Jobs only: asks counted when the job was claimed, and the lease held on it since.
    requests: int = 0
    locked_until: datetime | None = None


def _timer(row: Any) -> Timer:
    return Timer(
        row.id,
        row.key,
        row.kind,
        row.due_at,
        dict(row.payload),
        row.attempts,
        row.requests,
        row.locked_until,
    )


def merged(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """A job's payload asked for twice: lists are joined (in order, without repeats); any
    other value is the newest."""
    out = dict(old)
    for name, value in new.items():
        before = out.get(name)
        if isinstance(before, list) and isinstance(value, list):
            out[name] = before + [v for v in value if v not in before]
        else:
            out[name] = value
    return out


# A running job's payload key: the asks made while it ran (`request`), which its next run
# is given whole (a list item asked again after the run read its state is not done yet).
SINCE = "asked_while_running"


def _without(payload: dict[str, Any], seen: dict[str, Any]) -> dict[str, Any]:
    """`payload` less the list items a finished run was given (the rest came later)."""
    out = dict(payload)
    for name, done in seen.items():
        if isinstance(done, list) and isinstance(out.get(name), list):
            out[name] = [v for v in out[name] if v not in done]
    return out


# Statements of every message's jobs, built once (storage/upsert.py says why); Core: no object
# of the table is ever loaded.
_BY_KEY = select(
    TimerRow.id,
    TimerRow.state,
    TimerRow.due_at,
    TimerRow.payload,
    TimerRow.attempts,
    TimerRow.requests,
    TimerRow.locked_until,
).where(TimerRow.key == bindparam("key"))
_BY_KEY_LOCKED = _BY_KEY.with_for_update()
# Due timers, most overdue first, built once (the worker claims every cycle): all but the
# `skip` kinds (the jobs), or jobs of the `kinds` given.
_PENDING_DUE = (
    select(TimerRow)
    .where(TimerRow.state == PENDING, TimerRow.due_at <= bindparam("now"))
    .order_by(TimerRow.due_at, TimerRow.id)
    .limit(bindparam("limit"))
)
_DUE = _PENDING_DUE.where(TimerRow.kind.not_in(bindparam("skip", expanding=True)))
_DUE_LOCKED = _DUE.with_for_update(skip_locked=True)
_DUE_JOBS = _PENDING_DUE.where(TimerRow.kind.in_(bindparam("kinds", expanding=True)))
_DUE_JOBS_LOCKED = _DUE_JOBS.with_for_update(skip_locked=True)
_LEASED = (
    update(TimerRow)
    .where(TimerRow.id.in_(bindparam("ids", expanding=True)))
    .values(locked_until=bindparam("until"), due_at=bindparam("until"))
)
_DONE = (
    update(TimerRow)
    .where(TimerRow.id == bindparam("timer"))
    .values(state=DONE, fired_at=bindparam("now"))
)
_TIMERS = cast(Table, TimerRow.__table__)
_FINISH = (
    update(_TIMERS)
    .where(
        _TIMERS.c.id == bindparam("job"),
        _TIMERS.c.locked_until == bindparam("lease"),
        _TIMERS.c.requests == bindparam("asked"),
    )
    .values(state=DONE, fired_at=bindparam("now"), locked_until=None, attempts=0)
)


def _new_row(
    key: str,
    kind: str,
    due_at: datetime,
    at: datetime,
    payload: dict[str, Any],
    failed_with: str | None = None,
) -> dict[str, Any]:
    """A pending timer's row (`failed_with`: its work was tried once, and failed so)."""
    return {
        "key": key,
        "kind": kind,
        "due_at": due_at,
        "payload": payload,
        "state": PENDING,
        "attempts": 0 if failed_with is None else 1,
        "last_error": None if failed_with is None else failed_with[:500],
        "created_at": at,
    }


class Timers:
    def __init__(self, session: Session) -> None:
        self.session = session

    def schedule(
        self,
        key: str,
        kind: str,
        due_at: datetime,
        at: datetime,
        payload: dict[str, Any],
        *,
        failed_with: str | None = None,
    ) -> bool:
        """Schedule once per key; False if a timer with that key exists already.
        `failed_with`: its work was tried once already, and failed with this error."""
        row = _new_row(key, kind, due_at, at, payload, failed_with)
        row_id = insert_ignore(self.session, TimerRow.__table__, row)
        return row_id is not None

    def schedule_all(
        self, timers: Sequence[tuple[str, str, datetime, dict[str, Any]]], at: datetime
    ) -> None:
        """`schedule` of several (key, kind, due_at, payload), in one statement; a key that
        exists is left as it is."""
        rows = [_new_row(key, kind, due_at, at, payload) for key, kind, due_at, payload in timers]
        insert_new_many(self.session, TimerRow.__table__, rows)

    def cancel(self, key: str) -> None:
        self.session.execute(
            update(TimerRow)
            .where(TimerRow.key == key, TimerRow.state == PENDING)
            .values(state=CANCELLED)
        )

    def cancel_prefix(self, prefix: str) -> None:
        self.session.execute(
            update(TimerRow)
            .where(TimerRow.key.startswith(prefix, autoescape=True), TimerRow.state == PENDING)
            .values(state=CANCELLED)
        )

    def claim_due(self, now: datetime, limit: int, skip_kinds: Collection[str] = ()) -> list[Timer]:
        """Lock the most overdue pending timers for this transaction, most overdue first
        (SKIP LOCKED on PostgreSQL); `skip_kinds`: the job kinds, which `claim_jobs` takes."""
        query = _DUE_LOCKED if self._postgres else _DUE
        # An empty list excludes nothing (an expanding NOT IN of no values is true).
        params = {"now": now, "limit": limit, "skip": list(skip_kinds)}
        return [_timer(row) for row in run(self.session, query, params)]

    @property
    def _postgres(self) -> bool:
        return self.session.get_bind().dialect.name == "postgresql"

    def mark_done(self, timer: Timer, now: datetime) -> None:
        run(self.session, _DONE, {"timer": timer.id, "now": now})

    # ------------------------------------------------------------------ jobs
    def request(
        self,
        key: str,
        kind: str,
        due_at: datetime,
        at: datetime,
        payload: dict[str, Any],
        *,
        likely_new: bool = False,
    ) -> None:
        """Ask for the job `key` to run by `due_at` (see the module's docstring); `payload`
        is joined to what earlier asks not yet run gave (`merged`). `likely_new`: no job of
        that key is expected (its subject was made in this transaction), so it is inserted
        without a read first; one found all the same is read and updated as usual."""
        row = None if likely_new else self._locked(key)
        if row is None:
            if self.schedule(key, kind, due_at, at, payload):
                return
            row = self._locked(key)  # a concurrent ask inserted it first
            assert row is not None
        values: dict[str, Any] = {"requests": row.requests + 1}
        if row.state == PENDING:
            values["payload"] = merged(row.payload, payload)
            running = row.locked_until is not None and row.locked_until > at
            if running:  # the run may have read its state before this ask: run it again
                values["payload"][SINCE] = merged(row.payload.get(SINCE) or {}, payload)
            # Running: its due time is its lease. After a failure: its backoff, which the
            # retry keeps (it runs everything asked meanwhile).
            if not running and row.attempts == 0 and due_at < row.due_at:
                values["due_at"] = due_at
        else:  # done, failed for good or cancelled: asked again
            keep = row.state == FAILED  # what the failed runs were given is still owed
            values.update(
                state=PENDING,
                due_at=due_at,
                attempts=0,
                locked_until=None,
                payload=merged(row.payload, payload) if keep else payload,
            )
        update_row(self.session, TimerRow, row.id, **values)

    def _locked(self, key: str) -> Any:
        # SQLite: the transaction holds the write lock already.
        query = _BY_KEY_LOCKED if self._postgres else _BY_KEY
        return run(self.session, query, {"key": key}).one_or_none()

    def claim_jobs(
        self, now: datetime, kinds: Collection[str], lease: timedelta, limit: int = 10
    ) -> list[Timer]:
        """Lease up to `limit` due jobs of these kinds to this worker; the caller commits at
        once and runs them outside the transaction."""
        query = _DUE_JOBS_LOCKED if self._postgres else _DUE_JOBS
        params = {"now": now, "limit": limit, "kinds": list(kinds)}
        rows = run(self.session, query, params).all()
        if not rows:
            return []
        until = now + lease
        ids = [row.id for row in rows]
        run(self.session, _LEASED, {"ids": ids, "until": until})  # one for the batch
        return [replace(_timer(row), locked_until=until) for row in rows]

    def _held(self, job: Timer) -> Any:
        """The job's row while this worker's lease on it is the one recorded."""
        return (TimerRow.id == job.id) & (TimerRow.locked_until == job.locked_until)

    def renew(self, job: Timer, until: datetime) -> Timer | None:
        """Extend a running job's lease; None if the lease was lost (another worker may run
        the job now)."""
        done = run(
            self.session,
            update(TimerRow)
            .where(self._held(job), TimerRow.state == PENDING)
            .values(locked_until=until, due_at=until),
        )
        return replace(job, locked_until=until) if _count(done) else None

    def finish(self, job: Timer, now: datetime) -> bool:
        """A run succeeded: the job is done, unless it was asked for again since it was
        claimed: then it is due at once with what those asks gave. False then, or when the
        lease was lost."""
        if job.locked_until is None:  # never leased (a bindparameter cannot say IS NULL)
            done = self.session.execute(
                update(TimerRow)
                .where(self._held(job), TimerRow.requests == job.requests)
                .values(state=DONE, fired_at=now, locked_until=None, attempts=0)
            )
        else:
            done = run(
                self.session,
                _FINISH,
                {"job": job.id, "lease": job.locked_until, "asked": job.requests, "now": now},
            )
        if _count(done):
            return True
        query = select(TimerRow.payload).where(self._held(job))
        if self._postgres:  # an ask commits its payload under this lock too
            query = query.with_for_update()
        row = self.session.execute(query).one_or_none()
        if row is not None:
            current = dict(row.payload)
            since = current.pop(SINCE, None)
            self.session.execute(
                update(TimerRow)
                .where(self._held(job))
                .values(
                    due_at=now,
                    locked_until=None,
                    attempts=0,
                    # What was asked during the run, even what repeats what it was given.
                    payload=since if isinstance(since, dict) else _without(current, job.payload),
                )
            )
        return False

    def again(self, job: Timer, now: datetime, at: datetime) -> None:
        """The job found nothing to do yet: run it again at `at` (no failure; at once if it
        was asked for again meanwhile)."""
        self.session.execute(
            update(TimerRow)
            .where(self._held(job))
            .values(
                due_at=case((TimerRow.requests == job.requests, at), else_=now),
                locked_until=None,
            )
        )

    def job_failed(self, job: Timer, error: str, retry_at: datetime | None) -> None:
        """A run failed: try again at `retry_at` (the backoff), or give up (None)."""
        values: dict[str, Any] = {
            "attempts": job.attempts + 1,
            "last_error": error[:500],
            "locked_until": None,
        }
        if retry_at is None:
            values["state"] = FAILED
        else:
            values["due_at"] = retry_at
        self.session.execute(update(TimerRow).where(self._held(job)).values(**values))

    # ------------------------------------------------------------------ after a failure
    def mark_error(self, timer: Timer, error: str, retry_at: datetime | None) -> None:
        """After a handler failed (in a fresh transaction): try later, or give up."""
        values: dict[str, Any] = {"attempts": timer.attempts + 1, "last_error": error[:500]}
        if retry_at is None:
            values["state"] = FAILED
        else:
            values["due_at"] = retry_at
        self.session.execute(update(TimerRow).where(TimerRow.id == timer.id).values(**values))

    def next_due_at(self) -> datetime | None:
        value = self.session.execute(
            select(func.min(TimerRow.due_at)).where(TimerRow.state == PENDING)
        ).scalar_one_or_none()
        return value

    def pending(self, prefix: str = "") -> list[Timer]:
        rows = self.session.execute(
            select(TimerRow)
            .where(TimerRow.state == PENDING, TimerRow.key.startswith(prefix, autoescape=True))
            .order_by(TimerRow.due_at)
        ).scalars()
        return [_timer(r) for r in rows]


def _count(result: Any) -> int:
    """Rows an UPDATE matched (CursorResult.rowcount; Session.execute is typed Result)."""
    return int(result.rowcount)
