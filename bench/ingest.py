"""Signed inbound SMS webhooks against `partnerline web` (SQLite, PostgreSQL) and bare FastAPI.

Run from the project root: `python -m bench.ingest`. Every server is its own uvicorn process,
started here with the same settings (one process, default loop and HTTP implementation); this
process is only the load generator. All requests are built and signed before the clock starts.

Options: `--requests N` (default 3000) and `--warmup N` per target, `--concurrency C` (16
keep-alive connections), `--max-seconds S` (a measured phase stops by itself after S seconds),
`--targets` (any of baseline, sqlite, postgres), `--client raw|httpx` (raw asyncio streams by
default: httpx costs ~4 ms of client CPU a request, which on two cores would cap the baseline
and flatter the ratio). The baseline is measured before and after the product and its mean is
what the ratio divides by, so drift on a busy machine shows; server CPU per request, read from
/proc, is printed too, as the steadier figure when other work shares the cores.

Prints figures; exits 1 only when a server does not start or an answered message is missing
from the `messages` table.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import os
import platform
import secrets
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

ROOT = Path(__file__).resolve().parent.parent
# The checkout's own code (run from ROOT), not whatever the environment's `partnerline`
# script imports: an A/B run of two checkouts with one virtualenv measures each.
PARTNERLINE = [sys.executable, "-m", "bot.cli"]
CONFIG = ROOT / "examples" / "agency.toml"
WEBHOOK_PATH = "/webhooks/twilio/sms"
AGENCY_NUMBER = "+13135550100"
# Contacts of examples/agency.toml (their conversations grow), then numbers it does not know
# (each opens an unknown-sender conversation).
KNOWN_SENDERS = ("+13135550142", "+13135550143", "+13135550150")
UNKNOWN_SENDERS = tuple(f"+1313555{n:04d}" for n in range(160, 176))
TEXTS = (
    "Hi, any news on the press release?",
    "Can we move Thursday's interview to 3pm?",
    "The journalist from the Free Press called again.",
    "Please send the final deck when you can. Thanks!",
)
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
PG_DATABASE = "partnerline_bench"
TARGET_RATIO = 0.4
START_TIMEOUT_S = 45.0


# ------------------------------------------------------------------ the baseline server


def baseline_app() -> FastAPI:
    """One endpoint reading the same urlencoded form and answering the same empty TwiML."""
    app = FastAPI()

    @app.get("/readyz")
    async def readyz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post(WEBHOOK_PATH)
    async def inbound(request: Request) -> Response:
        fields = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        if not fields.get("MessageSid") or not fields.get("From"):
            return JSONResponse({"detail": "MessageSid and From are required"}, 400)
        return Response(str(MessagingResponse()), media_type="application/xml")

    return app


def serve_baseline(port: int) -> int:
    import uvicorn

    # The same call `partnerline web` makes (bot/cli/serve.py), so only the application differs.
    uvicorn.run(baseline_app(), host="127.0.0.1", port=port, log_level="info", access_log=False)
    return 0


# ------------------------------------------------------------------ requests


@dataclass(frozen=True, slots=True)
class Credentials:
    account_sid: str
    auth_token: str

    @classmethod
    def fresh(cls) -> Credentials:
        return cls("AC" + secrets.token_hex(16), secrets.token_hex(16))


@dataclass(frozen=True, slots=True)
class Signed:
    sid: str
    body: bytes
    headers: dict[str, str]
    wire: bytes  # the whole HTTP/1.1 request, for the raw client


def signed_requests(count: int, public_url: str, creds: Credentials) -> list[Signed]:
    """Inbound SMS as Twilio posts them, each with a fresh MessageSid, signed for `public_url`."""
    senders = KNOWN_SENDERS + UNKNOWN_SENDERS
    texts = [(senders[i % len(senders)], f"{TEXTS[i % len(TEXTS)]} ({i})") for i in range(count)]
    return signed_sms(public_url, creds, texts)


def signed_sms(
    public_url: str,
    creds: Credentials,
    texts: list[tuple[str, str]],
    *,
    key_by_sender: bool = False,
) -> list[Signed]:
    """One inbound SMS per (sender, body), with a fresh MessageSid, signed for `public_url`
    as Twilio signs it; each is known by its sid, or by its sender with `key_by_sender`."""
    validator = RequestValidator(creds.auth_token)
    url = public_url + WEBHOOK_PATH
    host = public_url.split("://", 1)[1]
    batch = []
    for sender, text in texts:
        sid = "SM" + secrets.token_hex(16)
        params = {
            "ToCountry": "US",
            "ToState": "MI",
            "SmsMessageSid": sid,
            "NumMedia": "0",
            "ToCity": "DETROIT",
            "FromZip": "48226",
            "SmsSid": sid,
            "FromState": "MI",
            "SmsStatus": "received",
            "FromCity": "DETROIT",
            "Body": text,
            "FromCountry": "US",
            "To": AGENCY_NUMBER,
            "ToZip": "48226",
            "NumSegments": "1",
            "MessageSid": sid,
            "AccountSid": creds.account_sid,
            "From": sender,
            "ApiVersion": "2010-04-01",
        }
        body = urlencode(params).encode()
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": "TwilioProxy/1.1",
            "X-Twilio-Signature": validator.compute_signature(url, params),
        }
        head = f"POST {WEBHOOK_PATH} HTTP/1.1\r\nHost: {host}\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        head += f"Content-Length: {len(body)}\r\n\r\n"
        batch.append(Signed(sender if key_by_sender else sid, body, headers, head.encode() + body))
    return batch


# ------------------------------------------------------------------ load


class RawConnection:
    """One keep-alive HTTP/1.1 connection, one request at a time.

    The default client: httpx spends about 4 ms of CPU on each request here, so on two cores it,
    not the bare endpoint, would set the baseline's pace; this takes about 0.1 ms.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, item: Signed) -> int:
        if self.reader is None or self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            self.writer.write(item.wire)
            head = await self.reader.readuntil(b"\r\n\r\n")
            lines = head.split(b"\r\n")
            status = int(lines[0].split()[1])
            headers = {
                name.strip().lower(): value.strip()
                for name, _, value in (line.partition(b":") for line in lines[1:] if line)
            }
            if b"content-length" not in headers:  # uvicorn sends it for every plain response
                raise ValueError("a response without Content-Length")
            await self.reader.readexactly(int(headers[b"content-length"]))
        except BaseException:
            await self.aclose()
            raise
        if headers.get(b"connection", b"").lower() == b"close":
            await self.aclose()
        return status

    async def aclose(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None


class HttpxSession:
    """`--client httpx`: one shared AsyncClient, its pool sized to the concurrency."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def post(self, item: Signed) -> int:
        response = await self.client.post(WEBHOOK_PATH, content=item.body, headers=item.headers)
        return response.status_code

    async def aclose(self) -> None:
        return None


Session = RawConnection | HttpxSession
FAILURES = (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError)


@dataclass
class Phase:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    sent: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    client_cpu: float = 0.0
    server_cpu: float | None = None
    truncated: bool = False


async def _drive(sessions: list[Session], batch: list[Signed], max_seconds: float) -> Phase:
    phase = Phase()
    items: Iterator[Signed] = iter(batch)
    deadline = time.perf_counter() + max_seconds

    async def worker(session: Session) -> None:
        for item in items:  # one shared iterator: each request is taken exactly once
            if time.perf_counter() > deadline:
                phase.truncated = True
                return
            phase.sent.append(item.sid)
            started = time.perf_counter()
            try:
                status = await session.post(item)
            except (*FAILURES, httpx.HTTPError) as exc:
                phase.statuses[type(exc).__name__] += 1
                continue
            phase.latencies.append(time.perf_counter() - started)
            phase.statuses[str(status)] += 1

    cpu0, t0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker(session) for session in sessions))
    phase.elapsed = time.perf_counter() - t0
    phase.client_cpu = time.process_time() - cpu0
    return phase


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU of a process, all its threads, from /proc (Linux only)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def load(
    port: int, pid: int, warmup: list[Signed], batch: list[Signed], args: argparse.Namespace
) -> tuple[Phase, Phase]:
    """The warm-up, then the measured phase on the same (already open) connections."""
    async with contextlib.AsyncExitStack() as stack:
        if args.client == "httpx":
            limits = httpx.Limits(
                max_connections=args.concurrency, max_keepalive_connections=args.concurrency
            )
            client = httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=30.0
            )
            await stack.enter_async_context(client)
            sessions: list[Session] = [HttpxSession(client) for _ in range(args.concurrency)]
        else:
            sessions = [RawConnection(port) for _ in range(args.concurrency)]
        for session in sessions:
            stack.push_async_callback(session.aclose)
        warm = await _drive(sessions, warmup, args.max_seconds)
        before = _cpu_seconds(pid)
        measured = await _drive(sessions, batch, args.max_seconds)
        after = _cpu_seconds(pid)
    if before is not None and after is not None:
        measured.server_cpu = after - before
    return warm, measured


# ------------------------------------------------------------------ servers


class StartFailed(Exception):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@contextlib.contextmanager
def running(cmd: list[str], env: dict[str, str], port: int, log: Path) -> Iterator[int]:
    """Start a server, wait for GET /readyz to answer 200, yield its pid, then stop it."""
    try:
        with log.open("wb") as out:
            proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    except OSError as exc:
        raise StartFailed(f"cannot run {cmd[0]}: {exc}") from exc
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                raise StartFailed(f"exited with {proc.returncode}:\n{_tail(log)}")
            if time.monotonic() > deadline:
                raise StartFailed(f"not ready after {START_TIMEOUT_S:.0f} s:\n{_tail(log)}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1.0).status_code == 200:
                    break
            time.sleep(0.1)
        yield proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def product_env(database_url: str, public_url: str, creds: Credentials) -> dict[str, str]:
    """The environment for `partnerline`: SMS on, every provider URL at a closed loopback port."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "TELEGRAM_", "TWILIO_", "PARTNERLINE_"))
        and k not in ("DATABASE_URL", "PUBLIC_URL", "PORT")
    }
    nowhere = f"http://127.0.0.1:{free_port()}"
    env.update(
        DATABASE_URL=database_url,
        PUBLIC_URL=public_url,
        PARTNERLINE_CONFIG=str(CONFIG),
        PARTNERLINE_SECRET_KEY=secrets.token_urlsafe(32),
        TWILIO_ACCOUNT_SID=creds.account_sid,
        TWILIO_AUTH_TOKEN=creds.auth_token,
        TWILIO_API_URL=nowhere,
        SLACK_API_URL=nowhere + "/slack/",
        TELEGRAM_API_URL=nowhere + "/bot",
    )
    return env


def migrate(env: dict[str, str]) -> None:
    try:
        done = subprocess.run(
            [*PARTNERLINE, "db", "upgrade"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise StartFailed(f"`partnerline db upgrade` did not run: {exc}") from exc
    if done.returncode != 0:
        raise StartFailed(f"`partnerline db upgrade` failed:\n{done.stdout}{done.stderr}")


# ------------------------------------------------------------------ what was committed

# `partnerline web` journals each delivery durably before it answers; the worker (not
# running here) files it into a conversation later. A journalled row is the commitment.
INBOUND_SIDS = "SELECT delivery_key FROM inbound_deliveries WHERE channel = 'sms'"


def sqlite_sids(path: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        return [row[0] for row in conn.execute(INBOUND_SIDS)]


def postgres_sids(url: str) -> list[str]:
    import psycopg

    with psycopg.connect(url) as conn:
        return [row[0] for row in conn.execute(INBOUND_SIDS)]


def postgres_durability(url: str) -> str:
    import psycopg

    with psycopg.connect(url) as conn:
        settings = [
            f"{name}={conn.execute(f'SHOW {name}').fetchone()[0]}"  # type: ignore[index]
            for name in ("fsync", "synchronous_commit")
        ]
    return ", ".join(settings)


# ------------------------------------------------------------------ one target


@dataclass
class Result:
    name: str
    phase: Phase
    committed: str = "-"
    missing: int = 0

    @property
    def rate(self) -> float:
        return len(self.phase.latencies) / self.phase.elapsed if self.phase.elapsed else 0.0

    def percentile_ms(self, q: float) -> float:
        ordered = sorted(self.phase.latencies)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    @property
    def non_200(self) -> int:
        return sum(n for status, n in self.phase.statuses.items() if status != "200")

    @property
    def client_cpu_ms(self) -> float:
        return self.phase.client_cpu / max(1, len(self.phase.latencies)) * 1000

    @property
    def server_cpu_ms(self) -> float | None:
        if self.phase.server_cpu is None or not self.phase.latencies:
            return None
        return self.phase.server_cpu / len(self.phase.latencies) * 1000


def measure(
    name: str,
    cmd: list[str],
    env: dict[str, str],
    port: int,
    creds: Credentials,
    args: argparse.Namespace,
    logs: Path,
    stored: Callable[[], list[str]] | None,
) -> Result:
    public_url = f"http://127.0.0.1:{port}"
    warmup = signed_requests(args.warmup, public_url, creds)
    batch = signed_requests(args.requests, public_url, creds)
    log = logs / (name.replace(" ", "_").replace("(", "").replace(")", "") + ".log")
    with running(cmd, env, port, log) as pid:
        warm, phase = asyncio.run(load(port, pid, warmup, batch, args))
        result = Result(name, phase)
        if stored is not None:  # read while the server still runs: a 200 means committed
            rows = stored()
            sent = set(warm.sent) | set(phase.sent)
            result.missing = len(sent - set(rows))
            duplicates = len(rows) - len(set(rows))
            result.committed = f"{len(sent & set(rows))}/{len(sent)}"
            if duplicates:
                result.committed += f" ({duplicates} dup)"
    if warm.statuses.get("200", 0) != len(warm.sent):
        print(f"  {name}: warm-up answers {dict(warm.statuses)}")
    if phase.truncated:
        print(f"  {name}: stopped at --max-seconds after {len(phase.sent)} requests")
    return result


# ------------------------------------------------------------------ report


def print_table(results: list[Result], base_rate: float | None) -> None:
    header = (
        f"{'target':<22}{'requests':>9}{'non-200':>9}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'ratio':>7}{'cpu ms/req srv':>16}{'client':>8}  committed"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        ratio = f"{r.rate / base_rate:.2f}" if base_rate else "-"
        if r.name.startswith("baseline"):
            ratio = "1"
        cpu = f"{r.server_cpu_ms:.2f}" if r.server_cpu_ms is not None else "-"
        print(
            f"{r.name:<22}{len(r.phase.sent):>9}{r.non_200:>9}{r.rate:>9.0f}"
            f"{r.percentile_ms(0.50):>9.1f}{r.percentile_ms(0.99):>9.1f}{ratio:>7}"
            f"{cpu:>16}{r.client_cpu_ms:>8.2f}  {r.committed}"
        )


def _machine_line(args: argparse.Namespace) -> str:
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    return (
        f"machine: {os.cpu_count()} cores, Python {platform.python_version()}; uvicorn loop={loop}"
        f" http={http}; client: {args.client}, {args.concurrency} keep-alive connections,"
        " one process"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="measured requests per target")
    parser.add_argument("--warmup", type=int, default=200, help="unmeasured requests first")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--max-seconds", type=float, default=25.0, help="per measured phase")
    parser.add_argument("--targets", default="baseline,sqlite,postgres")
    parser.add_argument(
        "--client", choices=("raw", "httpx"), default="raw", help="raw: asyncio streams"
    )
    parser.add_argument("--serve-baseline", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_baseline:
        return serve_baseline(args.port or 8000)

    targets = {t.strip() for t in args.targets.split(",") if t.strip()}
    creds = Credentials.fresh()
    results: list[Result] = []
    failures: list[str] = []
    notes: list[str] = []
    print(_machine_line(args))

    def baseline(name: str) -> None:
        port = free_port()
        cmd = [sys.executable, "-m", "bench.ingest", "--serve-baseline", "--port", str(port)]
        try:
            results.append(measure(name, cmd, dict(os.environ), port, creds, args, logs, None))
        except StartFailed as exc:
            failures.append(f"{name}: {exc}")

    def product(name: str, database_url: str, stored: Callable[[], list[str]]) -> None:
        port = free_port()
        env = product_env(database_url, f"http://127.0.0.1:{port}", creds)
        cmd = [*PARTNERLINE, "web", "--config", str(CONFIG), "--port", str(port)]
        try:
            migrate(env)
            result = measure(name, cmd, env, port, creds, args, logs, stored)
        except StartFailed as exc:
            failures.append(f"{name}: {exc}")
            return
        results.append(result)
        if result.missing:
            failures.append(
                f"{name}: {result.missing} answered messages missing from the inbound journal"
            )

    with tempfile.TemporaryDirectory(prefix="partnerline-bench-") as tmp:
        logs = Path(tmp)
        if "baseline" in targets:
            baseline("baseline (before)")
        if "sqlite" in targets:
            db_path = logs / "bench.db"
            product("partnerline sqlite", f"sqlite:///{db_path}", lambda: sqlite_sids(db_path))
            notes.append("sqlite: WAL, synchronous=FULL (storage/db.py)")
        if "postgres" in targets:
            run_postgres(product, notes)
        if "baseline" in targets:
            baseline("baseline (after)")

    bases = [r.rate for r in results if r.name.startswith("baseline")]
    base_rate = sum(bases) / len(bases) if bases else None
    base_cpus = [
        r.server_cpu_ms
        for r in results
        if r.name.startswith("baseline") and r.server_cpu_ms is not None
    ]
    base_cpu = sum(base_cpus) / len(base_cpus) if base_cpus else None
    print()
    print_table(results, base_rate)
    print()
    for note in notes:
        print(note)
    for r in results:
        if r.name.startswith("baseline") or not base_rate:
            continue
        ratio = r.rate / base_rate
        verdict = "met" if ratio >= TARGET_RATIO and not r.missing else "NOT met"
        print(
            f"{r.name}: {ratio:.2f} of the baseline's {base_rate:.0f} req/s (mean of"
            f" {len(bases)}), target {TARGET_RATIO}: {verdict}; committed {r.committed}"
        )
        if base_cpu and r.server_cpu_ms:
            # Less noisy than req/s when other work shares the cores.
            print(f"  by server CPU per request: {base_cpu / r.server_cpu_ms:.2f} of the baseline")
    for failure in failures:
        print(f"FAILED {failure}")
    return 1 if failures else 0


def run_postgres(
    product: Callable[[str, str, Callable[[], list[str]]], None], notes: list[str]
) -> None:
    """A throwaway database beside `test`, dropped afterwards; skipped if the server is away."""
    import psycopg

    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.Error as exc:
        print(f"postgres: skipped, {PG_ADMIN_URL} unreachable ({str(exc).strip()})")
        return
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + PG_DATABASE
    with admin:
        admin.execute(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {PG_DATABASE}")
        try:
            notes.append(f"postgres: {postgres_durability(url)}")
            product("partnerline postgres", url, lambda: postgres_sids(url))
        finally:
            admin.execute(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")


if __name__ == "__main__":
    raise SystemExit(main())
