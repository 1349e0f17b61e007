"""A client's message end to end: signed SMS webhook in, acknowledgement out at a Twilio stand-in.

Run from the project root: `python -m bench.e2e`. The product runs as real processes, as in
production: `partnerline serve` on SQLite (a temporary file), and `partnerline web` plus
`--workers` N `partnerline worker`s on a fresh PostgreSQL database beside
postgresql://postgres@127.0.0.1:5432/test (skipped when that server is away). Twilio and Slack
are the loopback stand-ins of adapters/standins, in this process; Slack is on, so every
conversation is mirrored into the staff channel, as in a real deployment.

The configuration is examples/agency.toml with its office calendar emptied: a calendar that
never opens (README, "Configurations nobody planned for") makes every message after hours, so
every message from a new number (an unknown sender, standard tier) is acknowledged by SMS.

Load is open loop: at each `--rates` (default "20,40" messages a second) a message from a new
number is posted on schedule for `--seconds` (default 20), whether or not earlier ones were
answered, each on an idle keep-alive connection or a new one. Each acknowledgement is
timestamped as the Twilio stand-in creates the Message and matched to its webhook by the
recipient (the sender's new number). After the schedule, the run waits up to `--drain` seconds
for the rest. Printed per setup and rate: offered and acknowledged rate (acknowledgements over
the time from the first webhook to the last acknowledgement, at least `--seconds`), latency
from webhook sent to acknowledgement at the stand-in (p50/p90/p99/max), unacknowledged after
the drain, duplicates, Slack mirror calls, and CPU per message (user + system of the
product's processes, from /proc, over the rate's window, divided by acknowledged messages).
The mirror runs beside the acknowledgements and may lag them: the run then waits (up to
`--mirror-drain` s) until it has made no Slack call for 1.5 s, and prints how long after the
last acknowledgement its last call came, and CPU a message and Slack calls up to then.
For scale it then runs `bench.ingest` (bare FastAPI endpoint and `partnerline web` on SQLite)
and prints its table.

The stand-ins and the load generator share this process (and the machine's cores) with nothing
else of the product; their CPU is not counted. Exits 1 only when a setup does not start or its
warm-up messages are not acknowledged.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from starlette.responses import Response

from adapters.standins.recording import CapturedRequest
from adapters.standins.slack import SlackStandIn
from adapters.standins.twilio import TwilioStandIn
from bench import ingest
from bench.ingest import (
    CONFIG,
    FAILURES,
    PARTNERLINE,
    PG_ADMIN_URL,
    ROOT,
    Credentials,
    RawConnection,
    Signed,
    StartFailed,
    _cpu_seconds,
    _tail,
    free_port,
    migrate,
    product_env,
    running,
)

PG_DATABASE = "partnerline_bench_e2e"
SLACK_TOKEN = "xoxb-bench-e2e"
SLACK_SECRET = "bench-e2e-signing-secret"
WARMUP = 10  # messages at 5/s, each waited for, before anything is measured
WARMUP_TIMEOUT_S = 60.0
QUIET_S = 1.5  # no Slack call for this long: the mirror caught up
MAX_CONNECTIONS = 512  # open loop: a new connection whenever none is idle, up to this
KEEP_ALIVE_REUSE = 4.0  # seconds an idle connection is reused for: under uvicorn's 5 s


# ------------------------------------------------------------------ the stand-in's clock


class TimedTwilio(TwilioStandIn):
    """The Twilio stand-in, noting when each Message is created, by recipient, first only."""

    def __init__(self, account_sid: str, auth_token: str) -> None:
        super().__init__(account_sid, auth_token)
        self.arrivals: dict[str, float] = {}
        self.duplicates = 0
        self._times = threading.Lock()

    def _create_message(self, request: CapturedRequest, match: re.Match[str]) -> Response:
        at = time.monotonic()
        response = super()._create_message(request, match)
        to = request.field("To")
        if response.status_code == 201 and to:
            with self._times:
                if to in self.arrivals:
                    self.duplicates += 1
                else:
                    self.arrivals[to] = at
        return response


# ------------------------------------------------------------------ configuration


def never_open_config(directory: Path) -> Path:
    """examples/agency.toml with `[hours.office]` reduced to its time zone: always closed."""
    text = CONFIG.read_text()
    # The table's lines up to the next table (a line that starts with "["); day lines hold
    # "[" too, so the rule is about the line's start.
    emptied, count = re.subn(
        r"(\[hours\.office\]\ntimezone = [^\n]+\n)(?:(?!\[)[^\n]*\n)*", r"\1\n", text
    )
    if count != 1:
        raise StartFailed("examples/agency.toml has no [hours.office] table to empty")
    office = emptied.split("[hours.office]\n", 1)[1].split("\n[", 1)[0]
    if "\n" in office.strip():  # its time zone only
        raise StartFailed("the office calendar of examples/agency.toml was not emptied")
    path = directory / "never_open.toml"
    path.write_text(emptied)
    return path


def e2e_env(
    database_url: str,
    public_url: str,
    config: Path,
    creds: Credentials,
    twilio: TwilioStandIn,
    slack: SlackStandIn,
) -> dict[str, str]:
    """bench.ingest's environment (other providers at a closed port), with Twilio and Slack
    pointed at the stand-ins."""
    env = product_env(database_url, public_url, creds)
    env.update(
        PARTNERLINE_CONFIG=str(config),
        TWILIO_API_URL=twilio.url,
        SLACK_BOT_TOKEN=SLACK_TOKEN,
        SLACK_SIGNING_SECRET=SLACK_SECRET,
        SLACK_API_URL=slack.api_url,
    )
    return env


# ------------------------------------------------------------------ requests


class Numbers:
    """New sender numbers, never repeated within a run (+1 212 then seven digits)."""

    def __init__(self) -> None:
        self._next = 0

    def take(self, count: int) -> list[str]:
        start, self._next = self._next, self._next + count
        return [f"+1212{n:07d}" for n in range(start, start + count)]


def signed_sms(public_url: str, creds: Credentials, senders: list[str]) -> list[Signed]:
    """One inbound SMS per sender, signed as Twilio signs it, known by its sender."""
    texts = [(sender, f"Hello, is anyone there? ({i})") for i, sender in enumerate(senders)]
    return ingest.signed_sms(public_url, creds, texts, key_by_sender=True)


# ------------------------------------------------------------------ open-loop load


@dataclass
class Run:
    rate: float
    seconds: float
    senders: list[str]
    sent_at: dict[str, float] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)
    late_starts: int = 0  # sends that left more than 10 ms after their slot
    connections: int = 0


async def offer(port: int, batch: list[Signed], rate: float, run: Run) -> None:
    """Post `batch` at `rate` a second on schedule, never waiting for an answer to send."""
    idle: list[tuple[RawConnection, float]] = []  # with the time each went idle
    tasks: set[asyncio.Task[None]] = set()

    async def send(item: Signed) -> None:
        conn: RawConnection | None = None
        while idle and conn is None:
            conn, since = idle.pop()
            # The server may have closed it (uvicorn: 5 s idle), and a POST on a connection
            # it closed fails unanswered: drop it, as an HTTP client's pool expires its own.
            if time.monotonic() - since > KEEP_ALIVE_REUSE:
                await conn.aclose()
                conn = None
        if conn is None:
            run.connections += 1
            conn = RawConnection(port)
        run.sent_at[item.sid] = time.monotonic()
        try:
            status = str(await conn.post(item))
        except FAILURES as exc:
            status = type(exc).__name__
        else:
            idle.append((conn, time.monotonic()))
        run.statuses[status] = run.statuses.get(status, 0) + 1

    start = time.monotonic()
    for i, item in enumerate(batch):
        slot = start + i / rate
        delay = slot - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -0.01:
            run.late_starts += 1
        if len(tasks) >= MAX_CONNECTIONS:
            run.statuses["no connection"] = run.statuses.get("no connection", 0) + 1
            continue
        task = asyncio.create_task(send(item))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.gather(*tasks)
    for conn, _ in idle:
        await conn.aclose()


def wait_quiet(slack: SlackStandIn, timeout: float, quiet: float = QUIET_S) -> float:
    """Wait until the mirror has made no Slack call for `quiet` seconds (it caught up), or
    `timeout` seconds; the time of its last call seen."""
    deadline = time.monotonic() + timeout
    count, last = len(slack.requests), time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - last < quiet:
        time.sleep(0.05)
        if len(slack.requests) != count:
            count, last = len(slack.requests), time.monotonic()
    return last


def wait_acks(twilio: TimedTwilio, senders: list[str], timeout: float) -> None:
    """Return once every sender has its acknowledgement, or after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    pending = set(senders)
    while pending and time.monotonic() < deadline:
        pending = {s for s in pending if s not in twilio.arrivals}
        if pending:
            time.sleep(0.05)


# ------------------------------------------------------------------ figures


@dataclass
class Figures:
    setup: str
    offered: float
    acked_rate: float
    latencies: list[float]
    unacked: int
    duplicates: int
    cpu_ms: float | None
    slack_calls: int
    note: str
    acked: int = 0
    slack_all: int = 0  # Slack calls until the mirror went quiet
    mirror_after: float | None = None  # its last call, seconds after the last acknowledgement
    cpu_all_ms: float | None = None  # CPU a message until then: the mirror's catch-up too

    def pct(self, q: float) -> str:
        if not self.latencies:
            return "-"
        ordered = sorted(self.latencies)
        return _ms(ordered[min(len(ordered) - 1, int(q * len(ordered)))])


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


def figures(
    setup: str, run: Run, twilio: TimedTwilio, cpu: float | None, slack_calls: int, dup: int
) -> Figures:
    latencies = [
        twilio.arrivals[s] - run.sent_at[s]
        for s in run.senders
        if s in twilio.arrivals and s in run.sent_at
    ]
    acked = [twilio.arrivals[s] for s in run.senders if s in twilio.arrivals]
    first = min(run.sent_at.values(), default=0.0)
    span = max(acked) - first if acked else 0.0
    notes = []
    bad = {k: v for k, v in run.statuses.items() if k != "200"}
    if bad:
        notes.append(f"answers {bad}")
    if run.late_starts:
        notes.append(f"{run.late_starts} sent >10 ms late")
    notes.append(f"{run.connections} conns")
    return Figures(
        setup=setup,
        offered=len(run.sent_at) / run.seconds,
        acked_rate=len(acked) / max(span, run.seconds) if acked else 0.0,
        latencies=latencies,
        unacked=len(run.senders) - len(acked),
        duplicates=dup,
        cpu_ms=cpu / len(acked) * 1000 if cpu is not None and acked else None,
        slack_calls=slack_calls,
        note=", ".join(notes),
        acked=len(acked),
    )


def print_table(rows: list[Figures]) -> None:
    header = (
        f"{'setup':<28}{'offered/s':>10}{'acked/s':>9}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}"
        f"{'max ms':>9}{'unacked':>9}{'dup':>5}{'cpu ms/msg':>12}{'slack':>7}"
        f"{'mirror +s':>10}{'cpu all':>9}{'slack all':>10}  notes"
    )
    print(header)
    print("-" * len(header))
    for f in rows:
        cpu = f"{f.cpu_ms:.1f}" if f.cpu_ms is not None else "-"
        print(
            f"{f.setup:<28}{f.offered:>10.1f}{f.acked_rate:>9.1f}{f.pct(0.5):>9}{f.pct(0.9):>9}"
            f"{f.pct(0.99):>9}{f.pct(1.0):>9}{f.unacked:>9}{f.duplicates:>5}{cpu:>12}"
            f"{f.slack_calls:>7}{_opt(f.mirror_after, '.1f'):>10}{_opt(f.cpu_all_ms, '.1f'):>9}"
            f"{f.slack_all:>10}  {f.note}"
        )


def _opt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


# ------------------------------------------------------------------ one setup


@contextlib.contextmanager
def started(
    commands: list[list[str]], env: dict[str, str], port: int, logs: Path, name: str
) -> Iterator[list[int]]:
    """Start the first command as the web server (waited for on /readyz), then the others
    (workers, which answer nothing); yield every pid; stop them all."""
    procs: list[subprocess.Popen[bytes]] = []
    try:
        with running(commands[0], env, port, logs / f"{name}-web.log") as web_pid:
            for i, cmd in enumerate(commands[1:], 1):
                with (logs / f"{name}-worker{i}.log").open("wb") as out:
                    procs.append(
                        subprocess.Popen(
                            cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
                        )
                    )
            yield [web_pid, *(p.pid for p in procs)]
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def cpu_of(pids: list[int]) -> float | None:
    readings = [_cpu_seconds(pid) for pid in pids]
    return None if any(r is None for r in readings) else sum(r for r in readings if r)


def measure_setup(
    setup: str,
    commands: list[list[str]],
    env: dict[str, str],
    port: int,
    creds: Credentials,
    twilio: TimedTwilio,
    slack: SlackStandIn,
    numbers: Numbers,
    args: argparse.Namespace,
    logs: Path,
) -> list[Figures]:
    public_url = env["PUBLIC_URL"]
    name = setup.split()[0].replace("+", "")
    rows = []
    with started(commands, env, port, logs, name) as pids:
        warm = numbers.take(WARMUP)
        asyncio.run(offer(port, signed_sms(public_url, creds, warm), 5.0, Run(5.0, 2.0, warm)))
        wait_acks(twilio, warm, WARMUP_TIMEOUT_S)
        missing = [s for s in warm if s not in twilio.arrivals]
        if missing:
            tails = "\n".join(_tail(p) for p in sorted(logs.glob(f"{name}-*.log")))
            raise StartFailed(f"{len(missing)}/{WARMUP} warm-up messages unacknowledged:\n{tails}")
        for rate in args.rates:
            senders = numbers.take(round(rate * args.seconds))
            batch = signed_sms(public_url, creds, senders)
            run = Run(rate, args.seconds, senders)
            slack_before, dup_before = len(slack.requests), twilio.duplicates
            cpu0 = cpu_of(pids)
            asyncio.run(offer(port, batch, rate, run))
            wait_acks(twilio, senders, args.drain)
            cpu1 = cpu_of(pids)
            acked_at = max((twilio.arrivals[s] for s in senders if s in twilio.arrivals), default=0)
            slack_acked = len(slack.requests) - slack_before
            quiet_at = wait_quiet(slack, args.mirror_drain)
            cpu2 = cpu_of(pids)
            cpu = cpu1 - cpu0 if cpu0 is not None and cpu1 is not None else None
            row = figures(
                setup,
                run,
                twilio,
                cpu,
                slack_acked,
                twilio.duplicates - dup_before,
            )
            row.slack_all = len(slack.requests) - slack_before
            row.mirror_after = max(0.0, quiet_at - acked_at) if acked_at else None
            if cpu0 is not None and cpu2 is not None and row.acked:
                row.cpu_all_ms = (cpu2 - cpu0) / row.acked * 1000
            rows.append(row)
            print(f"  {setup} at {rate:g}/s: acked {row.acked_rate:.1f}/s, p99 {row.pct(0.99)} ms")
    return rows


def postgres_database() -> str | None:
    """A fresh database beside `test`; None when the server is away."""
    import psycopg

    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.Error as exc:
        print(f"postgres: skipped, {PG_ADMIN_URL} unreachable ({str(exc).strip()})")
        return None
    with admin:
        admin.execute(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {PG_DATABASE}")
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + PG_DATABASE


def drop_postgres_database() -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")


# ------------------------------------------------------------------ for scale


def ingest_for_scale(requests: int) -> list[str]:
    """`bench.ingest` on the bare endpoint and SQLite `web`, in this run: its table lines."""
    cmd = [sys.executable, "-m", "bench.ingest", "--targets", "baseline,sqlite"]
    cmd += ["--requests", str(requests), "--warmup", "100"]
    try:
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=180)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return [f"bench.ingest did not run: {exc}"]
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    keep = [
        line
        for line in lines
        if line.startswith(("target", "-", "baseline", "partnerline", "  by server", "FAILED"))
    ]
    return keep or lines[-10:] or [done.stderr.strip()[-500:]]


# ------------------------------------------------------------------ main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="20,40", help="offered messages a second, comma list")
    parser.add_argument("--seconds", type=float, default=20.0, help="offered for, per rate")
    parser.add_argument("--drain", type=float, default=10.0, help="wait for the rest, at most")
    parser.add_argument(
        "--mirror-drain", type=float, default=60.0, help="then for the mirror, at most"
    )
    parser.add_argument("--workers", type=int, default=2, help="`partnerline worker`s on postgres")
    parser.add_argument("--setups", default="sqlite,postgres", help="any of sqlite, postgres")
    parser.add_argument("--ingest-requests", type=int, default=1000, help="0: skip bench.ingest")
    args = parser.parse_args(argv)
    args.rates = [float(r) for r in args.rates.split(",") if r.strip()]
    setups = {s.strip() for s in args.setups.split(",") if s.strip()}

    creds = Credentials.fresh()
    numbers = Numbers()
    rows: list[Figures] = []
    failures: list[str] = []
    print(
        f"machine: {os.cpu_count()} cores; open loop, {args.seconds:g} s per rate, drain up to"
        f" {args.drain:g} s; new numbers after hours (calendar never open), Slack mirror on"
    )
    with (
        tempfile.TemporaryDirectory(prefix="partnerline-e2e-") as tmp,
        TimedTwilio(creds.account_sid, creds.auth_token) as twilio,
        SlackStandIn(SLACK_TOKEN, SLACK_SECRET) as slack,
    ):
        logs = Path(tmp)
        config = never_open_config(logs)

        def setup(name: str, database_url: str, workers: int) -> None:
            port = free_port()
            env = e2e_env(database_url, f"http://127.0.0.1:{port}", config, creds, twilio, slack)
            base = ["--config", str(config)]
            if workers == 0:
                commands = [[*PARTNERLINE, "serve", *base, "--port", str(port)]]
            else:
                commands = [[*PARTNERLINE, "web", *base, "--port", str(port)]]
                commands += [[*PARTNERLINE, "worker", *base]] * workers
            try:
                migrate(env)
                rows.extend(
                    measure_setup(
                        name, commands, env, port, creds, twilio, slack, numbers, args, logs
                    )
                )
            except StartFailed as exc:
                failures.append(f"{name}: {exc}")

        if "sqlite" in setups:
            setup("serve, SQLite", f"sqlite:///{logs / 'e2e.db'}", 0)
        if "postgres" in setups:
            url = postgres_database()
            if url is not None:
                try:
                    setup(f"web + {args.workers} worker, PostgreSQL", url, args.workers)
                finally:
                    drop_postgres_database()

    print()
    print_table(rows)
    print(
        "latency: webhook sent -> acknowledgement created at the Twilio stand-in; acked/s:"
        " acknowledgements / (first webhook -> last acknowledgement, at least the offered"
        " seconds); cpu: product processes only, per acknowledged message; slack: Web API"
        " calls the mirror made in the window; mirror +s: its last call, after the last"
        " acknowledgement; cpu all, slack all: until the mirror went quiet (1.5 s without a call)"
    )
    if args.ingest_requests > 0:
        print()
        print(
            f"for scale, bench.ingest --targets baseline,sqlite --requests {args.ingest_requests}"
        )
        for line in ingest_for_scale(args.ingest_requests):
            print("  " + line)
    for failure in failures:
        print(f"FAILED {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
