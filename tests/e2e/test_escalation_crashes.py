"""Escalation survives everything: workers killed with SIGKILL at random moments of running
escalations, and two workers at once on PostgreSQL. Afterwards every step has run exactly
once, in order, and every notification went out exactly once.

The chain (tests/data/chaos_agency.toml) runs Raj, Jim (SMS, then a call a second later) and
Kim, one second apart, 13 times over, for three pages at once; coalescing folds repeats for
one person into one message per two minutes, so the check is exact bookkeeping, not counts
of texts: each timer done once, each notification sent once, and each message Twilio
received matching exactly one outbox row.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from adapters.standins.twilio import TwilioStandIn
from bot.bootstrap import build_container, sync_config
from bot.config import load_config
from routing.clock import SystemClock
from routing.messages import Channel, InboundMessage
from storage.db import Database
from storage.tables import OutboxRow, PageNotificationRow, PageRow, TimerRow
from tests.e2e.test_worker_restart import start_worker
from tests.support.app import app_settings

pytestmark = pytest.mark.slow

CHAOS_CONFIG = Path(__file__).resolve().parents[1] / "data" / "chaos_agency.toml"
CLIENTS = ["+13135550142", "+447700900123", "+13135550143"]  # Dana, George, Omar
STAFF_NUMBERS = {"+13135550101", "+13135550103", "+13135550104"}
STEPS_PER_PAGE = 3 * 13
# 20 kills on PostgreSQL (the production database), 8 on SQLite: enough to land kills in
# every phase of a page, short enough for the suite; PARTNERLINE_CRASH_TRIALS asks for more.
TRIALS = {"postgresql": 20, "sqlite": 8}
TRIALS_OVERRIDE = os.environ.get("PARTNERLINE_CRASH_TRIALS")


def open_pages(db_url: str, twilio: TwilioStandIn) -> Database:
    container = build_container(
        app_settings(db_url, twilio.url, "http://localhost:9", PARTNERLINE_PAGE_COALESCE=3),
        load_config(CHAOS_CONFIG),
        clock=SystemClock(),
    )
    sync_config(container)
    now = datetime.now(UTC)
    for i, number in enumerate(CLIENTS):
        container.services.receive(
            InboundMessage(Channel.SMS, f"SMchaos{i:026d}", number, "we need you", now)
        )
    return container.db


def worker_env(db_url: str, twilio: TwilioStandIn) -> dict[str, str]:
    # A coalescing window of seconds, not minutes, so that the held messages go out in time.
    return {
        "PARTNERLINE_CONFIG": str(CHAOS_CONFIG),
        "PUBLIC_URL": "http://localhost:9",
        "PARTNERLINE_PAGE_COALESCE": "3",
    }


def run_to_the_end(db: Database, workers: list[subprocess.Popen[bytes]], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with db.session() as s:
            pending_timers = s.execute(
                select(TimerRow.id).where(TimerRow.state == "pending", TimerRow.kind.like("page.%"))
            ).first()
            unsent = s.execute(
                select(OutboxRow.id).where(
                    OutboxRow.state.in_(("pending", "sending")), OutboxRow.kind == "page"
                )
            ).first()
        if pending_timers is None and unsent is None:
            return
        time.sleep(0.25)
    raise AssertionError("the escalations did not finish in time")


def check_bookkeeping(db: Database, twilio: TwilioStandIn) -> None:
    with db.session() as s:
        pages = s.execute(select(PageRow)).scalars().all()
        assert len(pages) == len(CLIENTS)
        timers = s.execute(select(TimerRow).where(TimerRow.kind == "page.step")).scalars().all()
        notes = s.execute(select(PageNotificationRow)).scalars().all()
        outbox = s.execute(select(OutboxRow).where(OutboxRow.kind == "page")).scalars().all()

    # No step skipped, none run twice: every step of every round, each timer done once, in order.
    for page in pages:
        mine = sorted(
            (t for t in timers if t.payload["page_id"] == page.id), key=lambda t: t.due_at
        )
        assert [t.state for t in mine] == ["done"] * STEPS_PER_PAGE, page.id
        positions = [(t.payload["round"], t.payload["step"]) for t in mine]
        assert positions == [(r, s) for r in range(13) for s in (1, 2, 3)]
        assert (page.step, page.round) == (3, 12)
    # Each person was scheduled once per step of theirs, and every notification went out.
    assert Counter(n.staff_id for n in notes) == {"raj": 13 * 3, "jim": 2 * 13 * 3, "kim": 13 * 3}
    assert {n.state for n in notes} == {"sent"}
    assert all(n.outbox_id is not None for n in notes)
    # None notified twice: what Twilio holds matches the sent outbox rows one to one.
    assert {o.state for o in outbox} == {"sent"}
    received = {m["sid"] for number in STAFF_NUMBERS for m in twilio.sent_to(number)}
    received |= {c["sid"] for number in STAFF_NUMBERS for c in twilio.calls_to(number)}
    assert sorted(o.provider_id for o in outbox) == sorted(received)
    assert len(received) == len(outbox)


def test_workers_killed_at_random_moments_skip_nothing_and_repeat_nothing(
    db_url: str, twilio: TwilioStandIn
) -> None:
    db = open_pages(db_url, twilio)
    rng = random.Random(int(os.environ.get("PARTNERLINE_CRASH_SEED", "20261204")))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        trials = int(TRIALS_OVERRIDE or TRIALS[db_url.split(":")[0].split("+")[0]])
        for _ in range(trials):
            proc = start_worker(db_url, twilio.url, **worker_env(db_url, twilio))
            procs.append(proc)
            time.sleep(rng.uniform(0.1, 1.6))  # start-up, mid-step, mid-send: anywhere
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        final = start_worker(db_url, twilio.url, **worker_env(db_url, twilio))
        procs.append(final)
        run_to_the_end(db, procs, timeout=120)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(10)
    check_bookkeeping(db, twilio)
    db.dispose()


def test_two_workers_at_once_notify_nobody_twice(db_url: str, twilio: TwilioStandIn) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("several workers at once is a PostgreSQL deployment")
    db = open_pages(db_url, twilio)
    procs = [start_worker(db_url, twilio.url, **worker_env(db_url, twilio)) for _ in range(2)]
    try:
        run_to_the_end(db, procs, timeout=120)
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)
    check_bookkeeping(db, twilio)
    db.dispose()
