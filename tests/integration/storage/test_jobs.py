"""Jobs (storage/timers.py, "Jobs") over real SQLite and PostgreSQL: one row per key however
often it is asked for, leased to one worker at a time, run once more when asked for while it
ran, and the migration that turns the Slack mirror's queued outbox syncs into jobs."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, select, text

from storage import schedule
from storage.db import Database
from storage.migrate import upgrade
from storage.tables import OutboxRow
from storage.timers import Timer
from storage.unit_of_work import UnitOfWork
from tests.support.plans import sqlite_plan

T0 = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)
KEY, KIND = "slack.mirror:7", "slack.mirror"


def ask(db: Database, ids: list[int], at: datetime = T0, due: datetime | None = None) -> None:
    with UnitOfWork(db) as uow:
        uow.timers.request(KEY, KIND, due or at, at, {"conversation": 7, "ids": ids})
        uow.commit()


def claim(db: Database, now: datetime = T0) -> list[Timer]:
    with UnitOfWork(db) as uow:
        jobs = uow.timers.claim_jobs(now, [KIND], LEASE)
        uow.commit()
    return jobs


def the_job(db: Database) -> Timer:
    with UnitOfWork(db) as uow:
        [job] = uow.timers.pending(KEY)
    return job


def finish(db: Database, job: Timer, now: datetime = T0) -> bool:
    with UnitOfWork(db) as uow:
        done = uow.timers.finish(job, now)
        uow.commit()
    return done


def state_of(db: Database) -> str:
    with db.session() as s:
        return str(
            s.execute(text("SELECT state FROM timers WHERE key = :k"), {"k": KEY}).scalar_one()
        )


def test_asks_before_a_run_are_one_job_with_every_message_and_the_earliest_time(
    database: Database,
) -> None:
    ask(database, [1], due=T0 + timedelta(seconds=30))
    ask(database, [2, 1])
    ask(database, [3], due=T0 + timedelta(seconds=90))
    job = the_job(database)
    assert job.payload == {"conversation": 7, "ids": [1, 2, 3]}
    assert job.due_at == T0 and job.requests == 2


def test_a_claimed_job_is_leased_to_one_worker_until_its_lease_runs_out(
    database: Database,
) -> None:
    ask(database, [1])
    [job] = claim(database)
    assert job.locked_until == T0 + LEASE
    assert claim(database) == []  # another worker, at once
    assert claim(database, T0 + LEASE - timedelta(seconds=1)) == []
    # The idle worker's "what is due next" sees it at its lease's end, not before.
    with UnitOfWork(database) as uow:
        assert schedule.next_due(uow.session) == T0 + LEASE
    # A dead worker's job is taken over once its lease ran out.
    [again] = claim(database, T0 + LEASE)
    assert again.id == job.id
    # The first worker, back, holds nothing: finishing or renewing changes nothing.
    assert finish(database, job, T0 + LEASE) is False
    with UnitOfWork(database) as uow:
        assert uow.timers.renew(job, T0 + 2 * LEASE) is None
        uow.commit()
    assert state_of(database) == "pending"
    assert finish(database, again, T0 + LEASE) is True
    assert state_of(database) == "done"


def test_a_job_asked_for_while_it_runs_runs_once_more_for_what_came_since(
    database: Database,
) -> None:
    ask(database, [1, 2])
    [job] = claim(database)
    ask(database, [3], at=T0 + timedelta(seconds=5))  # a message committed mid-run
    later = T0 + timedelta(seconds=9)
    assert finish(database, job, later) is False
    rerun = the_job(database)
    assert rerun.payload["ids"] == [3] and rerun.due_at == later
    assert rerun.locked_until is None
    [job] = claim(database, later)
    assert finish(database, job, later) is True
    assert state_of(database) == "done"
    # Asked for again once done: pending with only the new ask's messages.
    ask(database, [4], at=later)
    assert the_job(database).payload["ids"] == [4]


def test_an_ask_during_a_run_for_what_the_run_was_given_runs_again(database: Database) -> None:
    """The run may have read a message before it was edited: the edit's ask for the same
    message (a repeat of what the run was given) is run once more, not dropped."""
    ask(database, [1, 2])
    [job] = claim(database)
    ask(database, [2], at=T0 + timedelta(seconds=5))  # message 2 edited mid-run
    later = T0 + timedelta(seconds=9)
    assert finish(database, job, later) is False
    rerun = the_job(database)
    assert rerun.payload["ids"] == [2] and rerun.due_at == later
    [job] = claim(database, later)
    assert finish(database, job, later) is True
    assert state_of(database) == "done"


def test_the_job_kinds_are_not_fired_as_timers(database: Database) -> None:
    ask(database, [1])
    with UnitOfWork(database) as uow:
        assert uow.timers.claim_due(T0, 10, skip_kinds=[KIND]) == []
        assert uow.timers.claim_due(T0, 10) != []


def test_a_failed_run_keeps_its_backoff_and_one_failed_for_good_is_asked_for_again(
    database: Database,
) -> None:
    ask(database, [1])
    [job] = claim(database)
    retry_at = T0 + timedelta(seconds=30)
    with UnitOfWork(database) as uow:
        uow.timers.job_failed(job, "ratelimited", retry_at)
        uow.commit()
    ask(database, [2], at=T0 + timedelta(seconds=1))  # does not cut the backoff short
    failed = the_job(database)
    assert failed.due_at == retry_at and failed.attempts == 1
    assert failed.payload["ids"] == [1, 2]
    [job] = claim(database, retry_at)
    with UnitOfWork(database) as uow:
        uow.timers.job_failed(job, "channel_not_found", None)
        uow.commit()
    assert state_of(database) == "failed"
    ask(database, [3], at=retry_at)
    revived = the_job(database)
    assert revived.due_at == retry_at and revived.attempts == 0
    assert revived.payload["ids"] == [1, 2, 3]  # still owed


def test_again_reschedules_unless_the_job_was_asked_for_meanwhile(database: Database) -> None:
    ask(database, [1])
    [job] = claim(database)
    with UnitOfWork(database) as uow:
        uow.timers.again(job, T0, T0 + timedelta(seconds=1))
        uow.commit()
    assert the_job(database).due_at == T0 + timedelta(seconds=1)
    [job] = claim(database, T0 + timedelta(seconds=1))
    ask(database, [2], at=T0 + timedelta(seconds=1))
    with UnitOfWork(database) as uow:
        uow.timers.again(job, T0 + timedelta(seconds=2), T0 + timedelta(seconds=3))
        uow.commit()
    assert the_job(database).due_at == T0 + timedelta(seconds=2)


def test_concurrent_asks_make_one_job_and_lose_no_message(database: Database) -> None:
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def run(n: int) -> None:
        barrier.wait()
        try:
            ask(database, [n])
        except BaseException as exc:  # shown below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    job = the_job(database)
    assert sorted(job.payload["ids"]) == list(range(8)) and job.requests == 7


def test_the_migration_turns_queued_mirror_syncs_into_jobs(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0007")
    engine = create_engine(url)
    rows = [  # (payload, state, due)
        ('{"text": "", "mirror": 4, "ids": [10, 11]}', "pending", "2026-12-07 15:00:05"),
        ('{"text": "", "mirror": 4, "ids": [11, 12]}', "sending", "2026-12-07 15:00:01"),
        ('{"text": "", "mirror": 5, "ids": [20]}', "sent", "2026-12-07 14:00:00"),
        (
            '{"text": "", "mirror": 4, "ids": [], "expect": {"commitment": 9, "state": "at_risk"}}',
            "pending",
            "2026-12-07 15:22:31",
        ),
    ]
    with engine.begin() as conn:
        for payload, state, due in rows:
            conn.execute(
                text(
                    "INSERT INTO outbox (kind, channel, recipient, payload, state, attempts, "
                    "next_attempt_at, created_at, part, ordered) VALUES ('slack.mirror', "
                    "'slack', 'C0INBOX000', :payload, :state, 0, :due, :due, 0, 0)"
                ),
                {"payload": payload, "state": state, "due": due},
            )
    engine.dispose()
    upgrade(url)
    db = Database(url)
    try:
        with UnitOfWork(db) as uow:
            jobs = {t.key: t for t in uow.timers.pending()}
        assert set(jobs) == {"slack.mirror:4", "slack.mirror.refresh:9:at_risk"}
        sync = jobs["slack.mirror:4"]
        assert sync.kind == "slack.mirror"
        assert sync.payload == {"conversation": 4, "ids": [10, 11, 12]}
        assert sync.due_at == datetime(2026, 12, 7, 15, 0, 1, tzinfo=UTC)
        refresh = jobs["slack.mirror.refresh:9:at_risk"]
        assert refresh.kind == "slack.mirror.refresh"
        assert refresh.payload == {
            "conversation": 4,
            "commitment": 9,
            "state": "at_risk",
            "at": "2026-12-07T15:22:31+00:00",
        }
        # The queued rows are gone; the one sent long ago stays as it was.
        with db.session() as s:
            left = s.execute(select(OutboxRow.state)).scalars().all()
        assert left == ["sent"]
    finally:
        db.dispose()


def test_the_workers_look_tells_due_jobs_from_due_timers(database: Database) -> None:
    """Told the job kinds, NextDue says when jobs and other timers are due apart: a worker
    whose job slots are full still sees its timers, and a backlog of jobs does not make the
    timers look due (an empty claim each cycle)."""
    ask(database, [1], due=T0 + timedelta(minutes=1))
    with UnitOfWork(database) as uow:
        uow.timers.schedule("commitment:1:breach", "breach", T0 + timedelta(minutes=5), T0, {})
        uow.commit()
    told, untold = schedule.NextDue(database.engine, [KIND]), schedule.NextDue(database.engine)
    try:
        each = told.each()
        assert (each.timers, each.jobs) == (T0 + timedelta(minutes=5), T0 + timedelta(minutes=1))
        assert each.earliest == T0 + timedelta(minutes=1)
        assert each.by(T0 + timedelta(minutes=2)).timers is None
        assert each.by(T0 + timedelta(minutes=2)).jobs == T0 + timedelta(minutes=1)
        # Not told: jobs are timers, as before.
        each = untold.each()
        assert (each.timers, each.jobs) == (T0 + timedelta(minutes=1), None)
    finally:
        told.close()
        untold.close()


def test_told_the_timer_kinds_the_look_probes_each_kind(database: Database) -> None:
    """Told its timer kinds too (as the worker is), the look probes each kind apart: a
    backlog of jobs due now, or many timers due later, changes nothing of what it answers,
    and a timer of a kind no handler runs is not looked for."""
    ask(database, [1], due=T0 + timedelta(minutes=1))
    with UnitOfWork(database) as uow:
        for n in range(30):  # an open commitment's at-risk and breach timers, many of them
            uow.timers.schedule(
                f"c:{n}:risk", "at_risk", T0 + timedelta(hours=1, minutes=n), T0, {}
            )
            uow.timers.schedule(f"c:{n}:breach", "breach", T0 + timedelta(hours=2), T0, {})
        uow.timers.schedule("odd", "retired.kind", T0, T0, {})
        uow.commit()
    look = schedule.NextDue(database.engine, [KIND], ["breach", "at_risk", "page.step"])
    try:
        each = look.each()
        assert each.timers == T0 + timedelta(hours=1)
        assert each.jobs == T0 + timedelta(minutes=1)
        assert each.inbound is None and each.outbox is None
        with UnitOfWork(database) as uow:  # the earliest at-risk timer is done with
            uow.timers.cancel("c:0:risk")
            uow.commit()
        assert look.each().timers == T0 + timedelta(hours=1, minutes=1)
    finally:
        look.close()


def test_a_kinds_probe_is_served_by_its_index(database: Database) -> None:
    """Each kind's probe reads ix_timers_state_kind_due (migration 0017), not the timers in
    due order past the other kinds."""
    plan = sqlite_plan(
        database,
        "SELECT due_at FROM timers WHERE state = 'pending' AND kind = 'breach' "
        "ORDER BY due_at LIMIT 1",
    )
    assert "ix_timers_state_kind_due" in plan, plan


def test_timers_scheduled_together_leave_a_key_taken_as_it_was(database: Database) -> None:
    """`schedule_all` (a commitment's at-risk and breach timers, one statement) schedules
    each key once, as `schedule` does."""
    with UnitOfWork(database) as uow:
        uow.timers.schedule("c:1:breach", "breach", T0, T0, {"first": True})
        uow.timers.schedule_all(
            [
                ("c:1:at_risk", "at_risk", T0 + timedelta(minutes=5), {"commitment_id": 1}),
                ("c:1:breach", "breach", T0 + timedelta(minutes=9), {"commitment_id": 1}),
            ],
            T0,
        )
        uow.commit()
    with UnitOfWork(database) as uow:
        [risk] = uow.timers.pending("c:1:at_risk")
        [breach] = uow.timers.pending("c:1:breach")
    assert (risk.kind, risk.due_at, risk.payload) == (
        "at_risk",
        T0 + timedelta(minutes=5),
        {"commitment_id": 1},
    )
    assert (breach.due_at, breach.payload) == (T0, {"first": True})
