"""An idle Partnerline sleeps: real `partnerline serve`, `web` and `worker` processes, after a
little traffic and with an inbox page's live stream open, each use under 2% of a core over
30 seconds, on SQLite and on PostgreSQL.

`serve` (web and worker in one process) and the `web` + `worker` pair run at once, each on a
database of its own, so that one test per database measures all three processes.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from adapters.standins.twilio import TwilioStandIn
from bot.usecases.accounts import StaffAccounts
from routing.clock import SystemClock
from storage.accounts import StaffAccountRepository
from storage.db import Database, normalise_url
from storage.migrate import upgrade
from tests.browser.inbox_support import PASSWORD, csrf_from
from tests.conftest import PG_URL
from tests.e2e.test_sms_flow import eventually
from tests.support.app import (
    ACCOUNT_SID,
    ADMIN_TOKEN,
    AGENCY_NUMBER,
    AUTH_TOKEN,
    EXAMPLE_CONFIG,
    ROOT,
    free_port,
)
from tests.support.twilio_signing import signed_form_post_headers

pytestmark = pytest.mark.slow

WINDOW = 30.0  # seconds measured: long enough to catch a loop that wakes once a second
MOST = 0.02  # of one core
TICKS = os.sysconf("SC_CLK_TCK")
CLIENTS = ("+13135550142", "+13135550150")  # Dana (Acme), Lucy (Brightside)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (/proc/PID/stat, fields 14 and 15)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


@dataclass
class Process:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path


@dataclass
class Site:
    """One Partnerline deployment under test: its database, processes and web address."""

    db_url: str
    port: int
    processes: list[Process] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, command: str, env: dict[str, str], log_dir: Path) -> None:
        log = log_dir / f"{command}-{self.port}.log"
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", command, "--port", str(self.port)]
            if command != "worker"
            else [sys.executable, "-m", "bot.cli", command],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log.open("wb"),
        )
        self.processes.append(Process(command, proc, log))

    def stop(self) -> None:
        for p in self.processes:
            if p.proc.poll() is None:
                p.proc.send_signal(signal.SIGTERM)
        for p in self.processes:
            try:
                p.proc.wait(15)
            except subprocess.TimeoutExpired:
                p.proc.kill()


def environment(db_url: str, port: int, twilio: TwilioStandIn) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TWILIO_", "TELEGRAM_", "SLACK_", "PARTNERLINE_", "DATABASE_"))
    }
    return {
        **env,
        "DATABASE_URL": db_url,
        "PARTNERLINE_CONFIG": str(EXAMPLE_CONFIG),
        "PARTNERLINE_SECRET_KEY": "test-secret-key",
        "PARTNERLINE_ADMIN_TOKEN": ADMIN_TOKEN,
        "PUBLIC_URL": f"http://localhost:{port}",
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_API_URL": twilio.url,
    }


@contextlib.contextmanager
def second_database(db_url: str, tmp: Path) -> Iterator[str]:
    """Another migrated, empty database on the same backend, dropped afterwards."""
    if make_url(db_url).get_backend_name() == "sqlite":
        url = f"sqlite:///{tmp / 'second.db'}"
        upgrade(url)
        yield url
        return
    assert PG_URL is not None
    base = normalise_url(db_url)
    name = f"{base.database}_idle"
    admin = create_engine(normalise_url(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def add_login(db_url: str, login: str) -> None:
    db = Database(db_url)
    try:
        with db.session() as session:
            StaffAccounts(StaffAccountRepository(session)).add(
                login, "ana", PASSWORD, is_admin=False, now=SystemClock().now()
            )
            session.commit()
    finally:
        db.dispose()


def wait_ready(site: Site) -> None:
    def ready() -> bool:
        for p in site.processes:
            if p.proc.poll() is not None:
                raise AssertionError(f"{p.name} exited:\n{p.log.read_text()[-3000:]}")
        try:
            return httpx.get(site.url + "/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    eventually(ready, timeout=60)


def traffic(site: Site, twilio: TwilioStandIn, tag: str) -> None:
    """Two clients write, staff answer one: messages filed, timers set, a reply sent."""
    public = f"http://localhost:{site.port}/webhooks/twilio/sms"
    for n, sender in enumerate(CLIENTS):
        sid = f"SM{tag}{n}".ljust(34, "0")
        params = {
            "MessageSid": sid,
            "SmsSid": sid,
            "AccountSid": ACCOUNT_SID,
            "From": sender,
            "To": AGENCY_NUMBER,
            "Body": f"Hello {n}",
            "NumMedia": "0",
        }
        headers, body = signed_form_post_headers(AUTH_TOKEN, public, params)
        response = httpx.post(
            site.url + "/webhooks/twilio/sms", content=body, headers=headers, timeout=10
        )
        assert response.status_code == 200, response.text
    api = httpx.Client(
        base_url=site.url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=10
    )
    with api:
        items = eventually(
            lambda: len(found := api.get("/api/conversations").json()["items"]) == 2 and found,
            timeout=30,
        )
        reply = api.post(f"/api/conversations/{items[0]['id']}/reply", json={"text": "On it."})
        assert reply.status_code == 202, reply.text
        conv_id = items[0]["id"]

        def sent() -> bool:
            messages = api.get(f"/api/conversations/{conv_id}").json()["messages"]
            return any(m["direction"] == "out" and m["delivery"] == "sent" for m in messages)

        eventually(sent, timeout=30)


class LiveStream:
    """An inbox page's live stream (/inbox/events), reconnected as EventSource does."""

    def __init__(self, site: Site, login: str) -> None:
        self.client = httpx.Client(base_url=site.url, timeout=httpx.Timeout(10, read=60))
        form = self.client.get("/login")
        response = self.client.post(
            "/login",
            data={"username": login, "password": PASSWORD, "csrf_token": csrf_from(form.text)},
        )
        assert response.status_code == 303, response.text
        self.events = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._listen, daemon=True)

    def _listen(self) -> None:
        while not self._stop.is_set():
            with (
                contextlib.suppress(httpx.HTTPError),
                self.client.stream("GET", "/inbox/events") as response,
            ):
                assert response.status_code == 200
                for line in response.iter_lines():
                    if line.startswith("event:"):
                        self.events += 1
                    if self._stop.is_set():
                        return

    def __enter__(self) -> LiveStream:
        self._thread.start()
        eventually(lambda: self.events > 0, timeout=15)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.client.close()
        self._thread.join(5)


def transactions(db_urls: list[str]) -> int:
    """Transactions PostgreSQL counted so far in these databases (committed and rolled back)."""
    names = [make_url(u).database for u in db_urls]
    assert PG_URL is not None
    engine = create_engine(normalise_url(PG_URL))
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    text(
                        "SELECT sum(xact_commit + xact_rollback) FROM pg_stat_database "
                        "WHERE datname = ANY(:names)"
                    ),
                    {"names": names},
                ).scalar_one()
            )
    finally:
        engine.dispose()


def pg_stats_flushed() -> None:
    # Backends report their counters to the statistics system about once a second.
    time.sleep(1.5)


def test_an_idle_partnerline_sleeps(
    db_url: str, twilio: TwilioStandIn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    on_pg = make_url(db_url).get_backend_name() != "sqlite"
    with (
        second_database(db_url, tmp_path) as split_url,
        tempfile.TemporaryDirectory() as logs,
    ):
        serve = Site(db_url, free_port())
        split = Site(split_url, free_port())
        try:
            serve.start("serve", environment(db_url, serve.port, twilio), Path(logs))
            split.start("web", environment(split_url, split.port, twilio), Path(logs))
            split.start("worker", environment(split_url, split.port, twilio), Path(logs))
            for site, tag in ((serve, "S"), (split, "W")):
                wait_ready(site)
                add_login(site.db_url, f"ana-{tag}")
                traffic(site, twilio, tag)
            with LiveStream(serve, "ana-S"), LiveStream(split, "ana-W"):
                time.sleep(2.0)  # let the replies' status callbacks and wakeups settle
                processes = [p for site in (serve, split) for p in site.processes]
                before = [cpu_seconds(p.proc.pid) for p in processes]
                if on_pg:
                    pg_stats_flushed()
                    xacts_before = transactions([db_url, split_url])
                started = time.monotonic()
                time.sleep(WINDOW)
                elapsed = time.monotonic() - started
                used = [cpu_seconds(p.proc.pid) - b for p, b in zip(processes, before, strict=True)]
                if on_pg:
                    pg_stats_flushed()
                    per_second = (transactions([db_url, split_url]) - xacts_before) / elapsed
            shares = {p.name: u / elapsed for p, u in zip(processes, used, strict=True)}
            with capsys.disabled():
                figures = ", ".join(f"{name} {share:.2%}" for name, share in shares.items())
                extra = f"; PostgreSQL {per_second:.0f} transactions/s" if on_pg else ""
                print(f"\nidle CPU over {elapsed:.0f} s ({db_url.split(':')[0]}): {figures}{extra}")
            assert all(share < MOST for share in shares.values()), shares
            if on_pg:
                # serve and worker each look for work once a second (PARTNERLINE_WORKER_MAX_SLEEP)
                # and each live stream polls once a second: one short read each.
                assert per_second < 15, per_second
        finally:
            serve.stop()
            split.stop()
