"""Real Partnerline processes, a private PostgreSQL cluster and bursts of signed webhooks, for
the fault tests (tests/e2e/test_faults.py).

Processes are started as an operator starts them (`python -m bot.cli web|worker|serve`,
configured by environment only); their logs go to files, which an assertion can quote.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.app import (
    ACCOUNT_SID,
    ADMIN_TOKEN,
    AGENCY_NUMBER,
    AUTH_TOKEN,
    EXAMPLE_CONFIG,
    LOOPBACK_TLS,
    ROOT,
    free_port,
)
from tests.support.twilio_signing import signed_form_post_headers

SMS_PATH = "/webhooks/twilio/sms"


def partnerline_env(db_url: str, twilio_url: str, public_url: str, **extra: str) -> dict[str, str]:
    """The environment of a Partnerline process: nothing inherited from the test's own
    PARTNERLINE_*, DATABASE_*, provider variables, only what is given here."""
    inherited = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TWILIO_", "TELEGRAM_", "SLACK_", "PARTNERLINE_", "DATABASE_"))
    }
    return {
        **inherited,
        "DATABASE_URL": db_url,
        "PARTNERLINE_CONFIG": str(EXAMPLE_CONFIG),
        "PARTNERLINE_SECRET_KEY": "test-secret-key",
        "PARTNERLINE_ADMIN_TOKEN": ADMIN_TOKEN,
        "PUBLIC_URL": public_url,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_API_URL": twilio_url,
        **extra,
    }


def run_cli(args: Sequence[str], env: dict[str, str], timeout: float = 120) -> None:
    """Run one `partnerline` command to its end; fail with its output if it fails."""
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, f"partnerline {' '.join(args)}: {done.stdout}{done.stderr}"


@dataclass
class Partnerline:
    """One `partnerline web|worker|serve` process, restartable (on the same port)."""

    command: str
    env: dict[str, str]
    log_dir: Path
    port: int | None = None
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        assert self.port is not None, f"`partnerline {self.command}` serves no HTTP"
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.log_dir / f"{self.command}-{self.starts}.log"

    def start(self) -> Partnerline:
        self.starts += 1
        args = [sys.executable, "-m", "bot.cli", self.command]
        if self.port is not None:
            args += ["--port", str(self.port)]
        # A file, not a pipe: nobody reads while it runs, and a full pipe would block it.
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                args, cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=log
            )
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except FileNotFoundError:
            return ""

    def check_alive(self) -> None:
        assert self.alive(), f"`partnerline {self.command}` exited:\n{self.log_tail()}"

    def wait_ready(self, timeout: float = 90) -> None:
        """Until /readyz answers 200 (web and serve), or the log says the worker runs."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            if self.port is None:
                if "worker started" in self.log_tail(100_000):
                    return
            else:
                try:
                    ready = httpx.get(self.url + "/readyz", timeout=2, verify=LOOPBACK_TLS)
                    if ready.status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
            time.sleep(0.1)
        raise AssertionError(f"`partnerline {self.command}` not ready:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flushing, as when the machine or the OOM killer takes it."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


def partnerline_process(
    command: str, env: dict[str, str], log_dir: Path, *, port: int | None = None
) -> Partnerline:
    if command != "worker" and port is None:
        port = free_port()
    return Partnerline(command, env, log_dir, port)


# --- a private PostgreSQL cluster ------------------------------------------------------------


def postgres_bindir() -> Path | None:
    """The newest Debian PostgreSQL server binaries (initdb, pg_ctl), if installed."""
    found = sorted(
        (p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "pg_ctl").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    return found[-1] if found and (found[-1] / "initdb").exists() else None


class PrivateCluster:
    """A throwaway PostgreSQL cluster on a free loopback port, which a test may stop and start
    without touching the machine's shared server. As root, it runs as the `postgres` user
    (PostgreSQL refuses to run as root)."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.port = free_port()
        # Not under pytest's tmp_path: its 0700 parents would keep the postgres user out, and
        # the socket path must stay short.
        self.dir = Path(tempfile.mkdtemp(prefix="partnerline-pg-"))
        self.data = self.dir / "data"
        self.server_log = self.dir / "server.log"
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
            self._as = ["runuser", "-u", "postgres", "--"]
        else:
            self._as = []

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 60) -> None:
        done = subprocess.run(
            [*self._as, *args], capture_output=True, text=True, timeout=timeout, cwd=self.dir
        )
        assert done.returncode == 0, f"{' '.join(args)}: {done.stdout}{done.stderr}"

    def create(self) -> PrivateCluster:
        self._run(
            str(self.bindir / "initdb"),
            "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync",
        )  # fmt: skip
        return self.start()

    def start(self) -> PrivateCluster:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir}"
        self._run(
            str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.server_log),
            "-o", options, "-w", "-t", "60", "start",
        )  # fmt: skip
        return self

    def stop(self, mode: str = "fast") -> None:
        """`fast` aborts open transactions and closes every connection, as a restart does."""
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run(
                [*self._as, str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m",
                 "immediate", "-w", "stop"],
                capture_output=True, timeout=60, check=False,
            )  # fmt: skip
        shutil.rmtree(self.dir, ignore_errors=True)


# --- bursts of inbound SMS webhooks ----------------------------------------------------------


def sms_form(sid: str, sender: str, body: str) -> dict[str, str]:
    """An inbound SMS webhook's form, as Twilio posts it."""
    return {
        "MessageSid": sid,
        "SmsSid": sid,
        "AccountSid": ACCOUNT_SID,
        "From": sender,
        "To": AGENCY_NUMBER,
        "Body": body,
        "NumMedia": "0",
        "ApiVersion": "2010-04-01",
    }


DROPPED = 0  # the status recorded for a request that got no HTTP answer at all


@dataclass
class Burst:
    """What each webhook of a burst was answered: its last HTTP status, or DROPPED."""

    answers: dict[str, int] = field(default_factory=dict)
    # When each answer (or its absence) came, on the monotonic clock.
    times: dict[str, float] = field(default_factory=dict)
    # Why requests got no answer (httpx's exception names), over every attempt.
    drops: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, sid: str, answer: tuple[int, str | None]) -> None:
        status, error = answer
        with self.lock:
            self.answers[sid] = status
            self.times[sid] = time.monotonic()
            if error is not None:
                self.drops[error] += 1

    def answered(self) -> int:
        with self.lock:
            return sum(1 for status in self.answers.values() if status != DROPPED)

    def with_status(self, accept: Callable[[int], bool]) -> list[str]:
        with self.lock:
            return [sid for sid, status in self.answers.items() if accept(status)]

    def accepted(self) -> list[str]:
        return self.with_status(lambda s: 200 <= s < 300)

    def not_accepted(self) -> list[str]:
        return self.with_status(lambda s: not 200 <= s < 300)

    def tally(self, since: float = 0.0, until: float = float("inf")) -> Counter[str]:
        """Answers by class (2xx, 4xx, 5xx, dropped), of those that came between the two
        monotonic instants (all of them by default)."""
        with self.lock:
            return Counter(
                "dropped" if status == DROPPED else f"{status // 100}xx"
                for sid, status in self.answers.items()
                if since <= self.times[sid] < until
            )


def post_signed_sms(
    client: httpx.Client, base_url: str, public_url: str, form: dict[str, str]
) -> tuple[int, str | None]:
    """POST one webhook signed as Twilio signs it (over the public URL): its status, or DROPPED
    and why when no answer came (connection refused or reset, or none within Twilio's 15 s)."""
    headers, body = signed_form_post_headers(AUTH_TOKEN, public_url + SMS_PATH, form)
    try:
        return client.post(base_url + SMS_PATH, content=body, headers=headers).status_code, None
    except httpx.HTTPError as exc:
        return DROPPED, type(exc).__name__


def send_burst(
    base_url: str,
    public_url: str,
    forms: Iterable[dict[str, str]],
    burst: Burst,
    *,
    threads: int = 4,
    pace: float = 0.0,
) -> None:
    """Send `forms` from `threads` senders at once, each pausing `pace` seconds between its
    requests."""
    todo = list(forms)
    chunks = [todo[i::threads] for i in range(threads)]

    def sender(chunk: list[dict[str, str]]) -> None:
        # One client per sender: Twilio keeps connections alive too.
        with httpx.Client(timeout=15) as client:
            for form in chunk:
                burst.record(
                    form["MessageSid"], post_signed_sms(client, base_url, public_url, form)
                )
                if pace:
                    time.sleep(pace)

    workers = [threading.Thread(target=sender, args=(c,), daemon=True) for c in chunks]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(300)


def redeliver(
    base_url: str,
    public_url: str,
    forms: dict[str, dict[str, str]],
    burst: Burst,
    timeout: float = 60,
) -> int:
    """Deliver again, as Twilio retries, every webhook of `burst` not yet answered 2xx, round
    after round until each is; returns how many requests that took."""
    sent = 0
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=15) as client:
        while todo := burst.not_accepted():
            assert time.monotonic() < deadline, f"still refused after {timeout}s: {burst.tally()}"
            for sid in todo:
                burst.record(sid, post_signed_sms(client, base_url, public_url, forms[sid]))
                sent += 1
            if burst.not_accepted():
                time.sleep(0.5)
    return sent
