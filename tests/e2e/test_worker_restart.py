"""The worker as a real process: killed mid-send and restarted, nothing is lost.

The first worker sends to a server that accepts the connection and never answers, so the
kill lands while the message is in flight; the second worker, pointed at the stand-in,
takes the row again once the dead worker's lease runs out.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from adapters.standins.twilio import TwilioStandIn
from bot.bootstrap import build_container, sync_config
from bot.config import load_config
from bot.usecases.services import ADMIN
from routing.clock import FrozenClock
from routing.messages import Channel, InboundMessage
from storage.tables import OutboxRow
from tests.e2e.test_sms_flow import eventually
from tests.support.app import ACCOUNT_SID, AUTH_TOKEN, EXAMPLE_CONFIG, ROOT, app_settings, free_port

DANA, LUCY, RAJ = "+13135550142", "+13135550150", "+13135550103"


class BlackHole:
    """Accepts TCP connections on loopback and never answers them."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.accepted = threading.Event()
        self._held: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self._held.append(conn)
            self.accepted.set()

    def close(self) -> None:
        for conn in self._held:
            conn.close()
        self.sock.close()


def start_worker(db_url: str, twilio_url: str, **extra: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "PARTNERLINE_CONFIG": str(EXAMPLE_CONFIG),
        "PARTNERLINE_SECRET_KEY": "test-secret-key",
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_API_URL": twilio_url,
        "PARTNERLINE_OUTBOX_LEASE": "2",
        "PARTNERLINE_SEND_TIMEOUT": "60",
        "PARTNERLINE_OUTBOX_BACKOFF": "0.1",
        **extra,
    }
    # Its log goes to a file, not a pipe: nobody reads while it runs, and a full pipe blocks.
    log = tempfile.TemporaryFile()  # noqa: SIM115 (the child process holds it open)
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "worker"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )


@pytest.fixture
def workers() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def _container(db_url: str, twilio_url: str, at: datetime):  # type: ignore[no-untyped-def]
    container = build_container(
        app_settings(db_url, twilio_url, "http://localhost:9"),
        load_config(EXAMPLE_CONFIG),
        clock=FrozenClock(at),
    )
    sync_config(container)
    return container


def test_worker_killed_mid_send_and_restarted_still_sends_the_reply(
    db_url: str, twilio: TwilioStandIn, workers: list[subprocess.Popen[bytes]]
) -> None:
    # Yesterday morning, in business hours: no after-hours acknowledgement joins the reply.
    now = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)
    container = _container(db_url, twilio.url, now)
    ingested = container.services.receive(
        InboundMessage(Channel.SMS, "SM" + "k" * 32, DANA, "hello", now)
    )
    assert ingested.conversation is not None
    container.services.reply(ingested.conversation.id, "sent despite the crash", ADMIN)

    hole = BlackHole()
    try:
        first = start_worker(db_url, hole.url)
        workers.append(first)
        assert hole.accepted.wait(30), "the first worker never tried to send"
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        hole.close()
    with container.db.session() as s:
        [row] = s.query(OutboxRow).filter_by(kind="reply").all()
        assert row.state == "sending"  # killed in flight

    workers.append(start_worker(db_url, twilio.url))
    eventually(lambda: twilio.sent_to(DANA), timeout=30)
    assert [m["body"] for m in twilio.sent_to(DANA)] == ["sent despite the crash"]

    def reply_state() -> str:
        with container.db.session() as s:  # a fresh transaction each time: on SQLite an
            return str(s.query(OutboxRow).filter_by(kind="reply").one().state)  # open one locks

    eventually(lambda: reply_state() == "sent")
    container.db.dispose()


def test_timers_due_while_no_worker_ran_fire_when_one_starts(
    db_url: str, twilio: TwilioStandIn, workers: list[subprocess.Popen[bytes]]
) -> None:
    # Lucy wrote 5 business hours ago: her commitment's at-risk and breach timers are overdue.
    then = datetime.now(UTC) - timedelta(days=3)
    container = _container(db_url, twilio.url, then)
    container.services.receive(InboundMessage(Channel.SMS, "SM" + "t" * 32, LUCY, "hi", then))
    workers.append(start_worker(db_url, twilio.url))
    eventually(lambda: twilio.sent_to(RAJ), timeout=30)
    time.sleep(0.5)  # would an at-risk notice follow? Past the due time it must not
    [breached] = [m["body"] for m in twilio.sent_to(RAJ)]
    assert breached.startswith("Breached: Brightside Bakery (Lucy Chen, sms), reply was due at")
    container.db.dispose()


def test_a_worker_process_serves_its_own_metrics(
    db_url: str, twilio: TwilioStandIn, workers: list[subprocess.Popen[bytes]]
) -> None:
    port = free_port()
    workers.append(start_worker(db_url, twilio.url, PARTNERLINE_WORKER_METRICS_PORT=str(port)))

    def scrape() -> str:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
        except httpx.HTTPError:
            return ""

    text = eventually(scrape, timeout=30)
    assert "partnerline_timer_lateness_seconds" in text and "partnerline_sends_total" in text
