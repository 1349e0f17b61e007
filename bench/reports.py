"""Promise reports over two years of history in PostgreSQL: 100,000 conversations, 1,000,000
messages, 300,000 commitments and 20,000 pages.

Run from the project root: `python -m bench.reports [--database-url URL] [--keep]`. The data is
generated here with generate_series into a fresh database (default
postgresql://postgres@127.0.0.1:5432/partnerline_bench_reports), dropped, created, migrated
and filled; `--keep` reuses one already filled (and migrates it to head first).

Through the real app over ASGI in this process (server time, no network) it requests, as an
admin: the Reports page for the last quarter, `GET /api/reports/summary` for it, and a client's
monthly report through its signed link; beside them, in the same run, a bare
`SELECT count(*)` over the tables the reports read. Then it streams the two years' CSV of
commitments straight from the ASGI app (httpx's ASGI transport would hold the whole body
until the end, so it cannot tell streaming from buffering), and prints the resident memory
when it began, the most while it ran, and the process's peak RSS before and after. Exit
status 1 when a target is missed: Reports page p95 < 500 ms, client report p95 < 300 ms.

The generated commitments are written as the SQL above says, not through the live path, so
their business time is recorded afterwards by `ReportService.backfill` (what
`partnerline report backfill` runs after migration 0016), then the tables are vacuumed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import resource
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.bootstrap import build_container, create_app
from bot.config import load_config
from bot.config.directory import build_directory
from bot.settings import Settings
from bot.usecases.accounts import StaffAccounts
from bot.usecases.reports import ReportService, report_path
from routing.clock import SystemClock
from storage.accounts import StaffAccountRepository
from storage.db import Database, normalise_url
from storage.directory import sync_directory
from storage.migrate import upgrade
from storage.unit_of_work import UnitOfWork

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "examples" / "agency.toml"
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/partnerline_bench_reports"
PAGE_TARGET_MS = 500.0
CLIENT_TARGET_MS = 300.0
PASSWORD = "bench password 1"
SECRET = "bench-secret-key-" + "x" * 20
TWO_YEARS = 730 * 86400

# Conversations of the three example clients (a tenth unknown), three commitments each,
# spread over two years; the outcomes mixed: met, answered late, closed unanswered, breached.
FILL = """
INSERT INTO contacts (id, client_id, name, config_key, created_at)
SELECT 1000 + g,
       CASE WHEN g % 10 = 0 THEN NULL
            ELSE (ARRAY['acme','brightside','thames'])[1 + g % 3] END,
       'Contact ' || g, NULL, :t0 - interval '800 days'
FROM generate_series(1, :n) AS g;

INSERT INTO conversations (id, contact_id, client_id, channel, chat_id, status, assignee,
                           created_at, updated_at, closed_at, last_message_at)
SELECT g, 1000 + g,
       CASE WHEN g % 10 = 0 THEN NULL
            ELSE (ARRAY['acme','brightside','thames'])[1 + g % 3] END,
       (ARRAY['sms','telegram','slack'])[1 + g % 3], 'chat' || g,
       CASE WHEN g % 5 = 0 THEN 'open' ELSE 'closed' END,
       (ARRAY[NULL,'jim','ana','raj','kim'])[1 + (g / 7) % 5],
       :t0 - make_interval(secs => :span), :t0, NULL, :t0
FROM generate_series(1, :n) AS g;

INSERT INTO commitments (id, conversation_id, tier, state, awaiting, after_hours, started_at,
                         due_at, at_risk_at, met_at, breached_at, answered_at, closed_at,
                         trigger_message_id)
SELECT x.id, x.conv,
       CASE WHEN x.conv % 3 = 2 THEN 'standard' ELSE 'priority' END,
       CASE x.fate WHEN 0 THEN 'met' WHEN 1 THEN 'breached' WHEN 2 THEN 'unanswered'
                   ELSE 'breached' END,
       false, x.id % 4 = 0, x.started, x.started + interval '1 hour',
       x.started + interval '45 minutes',
       CASE WHEN x.fate = 0 THEN x.started + make_interval(secs => 60 + (x.id * 37) % 3500) END,
       CASE WHEN x.fate IN (1, 3) THEN x.started + interval '1 hour' END,
       CASE WHEN x.fate = 0 THEN x.started + make_interval(secs => 60 + (x.id * 37) % 3500)
            WHEN x.fate = 1 THEN x.started + make_interval(secs => 3700 + (x.id * 53) % 20000)
       END,
       CASE WHEN x.fate = 2 THEN x.started + interval '10 minutes' END,
       NULL
FROM (
  SELECT (g - 1) * 3 + k AS id, g AS conv,
         CASE WHEN ((g - 1) * 3 + k) % 20 < 14 THEN 0
              WHEN ((g - 1) * 3 + k) % 20 < 17 THEN 1
              WHEN ((g - 1) * 3 + k) % 20 < 18 THEN 2 ELSE 3 END AS fate,
         :t0 - make_interval(secs => (((g - 1) * 3 + k) * 7919.0) % :span) AS started
  FROM generate_series(1, :n) AS g CROSS JOIN generate_series(1, 3) AS k
) AS x;

-- Each answer is a staff message at the instant its commitment was answered.
INSERT INTO messages (conversation_id, direction, channel, text, author_type, author_id,
                      author_name, delivery, attachments, created_at)
SELECT c.conversation_id, 'out', 'sms', 'Answer ' || c.id, 'staff',
       (ARRAY['jim','ana','raj','kim'])[1 + c.id % 4], 'Staff', 'delivered', '[]', c.answered_at
FROM commitments c WHERE c.answered_at IS NOT NULL;

-- After-hours acknowledgements.
INSERT INTO messages (conversation_id, direction, channel, text, author_type, author_name,
                      delivery, attachments, created_at)
SELECT c.conversation_id, 'auto', 'sms', 'Thanks, we are out of the office', 'system',
       'Partnerline', 'delivered', '[]', c.started_at
FROM commitments c WHERE c.after_hours;

-- The rest: client messages and chatter, up to :messages in all.
INSERT INTO messages (conversation_id, direction, channel, text, author_type, author_id,
                      author_name, delivery, attachments, created_at)
SELECT 1 + g % :n, CASE WHEN g % 2 = 0 THEN 'in' ELSE 'out' END, 'sms', 'Message ' || g,
       CASE WHEN g % 2 = 0 THEN 'contact' ELSE 'staff' END, NULL, 'Someone', NULL, '[]',
       :t0 - make_interval(secs => (g * 104729.0) % :span)
FROM generate_series(1, greatest(0, :messages - (SELECT count(*) FROM messages))) AS g;

-- Pages of the first after-hours commitments; a fifth never acknowledged; up to step 3.
INSERT INTO pages (id, conversation_id, commitment_id, client_id, state, step, round, policy,
                   summary, opened_at, acknowledged_at, acknowledged_by, resolved_at)
SELECT p.n, c.conversation_id, c.id, v.client_id,
       CASE WHEN p.n % 5 = 0 THEN 'resolved' ELSE 'acknowledged' END,
       1 + p.n % 3, 0, '{}', '', c.started_at,
       CASE WHEN p.n % 5 <> 0 THEN c.started_at + make_interval(secs => 60 + (p.n * 31) % 1500) END,
       CASE WHEN p.n % 5 <> 0 THEN (ARRAY['jim','ana','raj'])[1 + p.n % 3] END,
       c.started_at + interval '1 hour'
FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM commitments WHERE after_hours) AS p
JOIN commitments c ON c.id = p.id
JOIN conversations v ON v.id = c.conversation_id
WHERE p.n <= :pages;

INSERT INTO page_notifications (key, page_id, staff_id, channel, step, due_at, state, sent_at)
SELECT 'n' || p.id || '.' || s, p.id, (ARRAY['jim','ana','raj','kim'])[1 + (p.id + s) % 4],
       'sms', s, p.opened_at + make_interval(mins => (s - 1) * 5), 'sent',
       p.opened_at + make_interval(mins => (s - 1) * 5)
FROM pages p CROSS JOIN generate_series(1, 3) AS s WHERE s <= p.step
"""

COUNTS = (
    "SELECT (SELECT count(*) FROM commitments), (SELECT count(*) FROM messages), "
    "(SELECT count(*) FROM pages), (SELECT count(*) FROM page_notifications), "
    "(SELECT count(*) FROM conversations)"
)


def prepare(url: str, conversations: int, messages: int, pages: int) -> None:
    base = normalise_url(url)
    name = base.database
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    upgrade(url)
    config = load_config(CONFIG)
    engine = create_engine(base)
    t0 = datetime.now(UTC)
    started = time.perf_counter()
    values = {"n": conversations, "messages": messages, "pages": pages, "t0": t0}
    with engine.begin() as conn:
        from sqlalchemy.orm import Session

        with Session(bind=conn) as session:
            sync_directory(session, tuple(build_directory(config).clients.values()), t0)
            session.flush()
        for statement in FILL.split(";\n"):
            if statement.strip():
                conn.execute(text(statement), {**values, "span": TWO_YEARS})
        for table in ("contacts", "conversations", "commitments", "messages", "pages"):
            conn.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
            )
    db = Database(url)
    directory = build_directory(config)
    reports = ReportService(directory, lambda: UnitOfWork(db, read_only=True), SystemClock())
    recorded = reports.backfill(lambda: UnitOfWork(db))
    db.dispose()
    print(f"recorded the business time of {recorded:,} answered commitments")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
        counts = conn.execute(text(COUNTS)).one()
    engine.dispose()
    print(
        f"generated {counts[4]:,} conversations, {counts[1]:,} messages, {counts[0]:,} "
        f"commitments, {counts[2]:,} pages ({counts[3]:,} notifications) "
        f"in {time.perf_counter() - started:.1f}s"
    )


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def line(label: str, values: list[float]) -> str:
    return (
        f"{label:52} {statistics.median(values):8.1f} {percentile(values, 95):8.1f} "
        f"{max(values):8.1f}"
    )


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def rss_mb() -> float:
    """Resident memory now (Linux)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


async def stream_export(app: object, path: str, cookie: str) -> tuple[int, int, float, float]:
    """GET `path` from the ASGI app, each chunk counted and dropped as it is sent: bytes,
    lines, and the resident memory at the start and the most seen while it streamed."""
    target, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": target,
        "raw_path": target.encode(),
        "root_path": "",
        "query_string": query.encode(),
        "headers": [(b"host", b"bench"), (b"cookie", cookie.encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("bench", 80),
    }
    done = asyncio.Event()
    asked: list[bool] = []
    status: list[int] = []
    size = lines = 0
    start = most = rss_mb()

    async def receive() -> dict[str, object]:
        if not asked:  # the request once; then, as a client that stays, nothing until done
            asked.append(True)
            return {"type": "http.request", "body": b"", "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, object]) -> None:
        nonlocal size, lines, most
        if message["type"] == "http.response.start":
            status.append(int(message["status"]))  # type: ignore[call-overload]
        elif message["type"] == "http.response.body":
            body = message.get("body", b"")
            assert isinstance(body, bytes)
            size += len(body)
            lines += body.count(b"\n")
            most = max(most, rss_mb())
            if not message.get("more_body"):
                done.set()

    await app(scope, receive, send)  # type: ignore[operator]
    assert status == [200], status
    return size, lines, start, most


async def measure(url: str, requests: int) -> bool:
    settings = Settings(DATABASE_URL=url, PARTNERLINE_SECRET_KEY=SECRET)
    container = build_container(settings, load_config(CONFIG), adapters={})
    with container.db.session() as session:
        repository = StaffAccountRepository(session)
        if repository.by_login("bench") is None:
            StaffAccounts(repository).add(
                "bench", "jim", PASSWORD, is_admin=True, now=container.clock.now()
            )
            session.commit()
    app = create_app(container)
    transport = httpx.ASGITransport(app=app)
    now = container.clock.now()
    zone = container.directory.zone
    today = now.astimezone(zone).date()
    quarter = f"from={(today - timedelta(days=90)).isoformat()}&to={today.isoformat()}"
    last_month = (today.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    client_path = report_path(SECRET, "acme", last_month, now + timedelta(days=1))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://bench", timeout=600
    ) as client:
        form = await client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token is not None
        signed = await client.post(
            "/login", data={"username": "bench", "password": PASSWORD, "csrf_token": token[1]}
        )
        assert signed.status_code == 303, signed.text

        async def timed(path: str) -> float:
            started = time.perf_counter()
            response = await client.get(path)
            elapsed = (time.perf_counter() - started) * 1000
            assert response.status_code == 200, (path, response.status_code, response.text[:300])
            return elapsed

        def count_all() -> float:
            started = time.perf_counter()
            with container.db.engine.connect() as conn:
                conn.execute(text(COUNTS)).one()
            return (time.perf_counter() - started) * 1000

        paths = {
            "/inbox/reports (a quarter)": f"/inbox/reports?{quarter}",
            "/api/reports/summary (a quarter)": f"/api/reports/summary?{quarter}",
            "/reports/clients/acme (a month)": client_path,
        }
        for path in paths.values():  # warm-up: connections, templates, calendars
            await timed(path)
        results: dict[str, list[float]] = {label: [] for label in paths}
        baseline: list[float] = []
        for _ in range(requests):
            for label, path in paths.items():
                results[label].append(await timed(path))
            baseline.append(count_all())

        # The whole two years as CSV, read as it streams; the memory while it runs.
        before = peak_rss_mb()
        started = time.perf_counter()
        first, last = today - timedelta(days=729), today
        cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
        size, rows, rss_start, rss_most = await stream_export(
            app, f"/api/reports/clients?from={first}&to={last}&format=csv", cookie
        )
        export_s = time.perf_counter() - started
        after = peak_rss_mb()
    print(f"{'request':52} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for label, values in results.items():
        print(line(label, values))
    print(line("baseline: SELECT count(*) of the five tables", baseline))
    print(
        f"CSV export, two years: {rows - 1:,} rows, {size / 1e6:.1f} MB in {export_s:.1f}s; "
        f"RSS {rss_start:.0f} MB at its start, at most {rss_most:.0f} MB while it streamed; "
        f"peak RSS {before:.0f} MB before, {after:.0f} MB after"
    )
    ok = True
    for label, target in (
        ("/inbox/reports (a quarter)", PAGE_TARGET_MS),
        ("/reports/clients/acme (a month)", CLIENT_TARGET_MS),
    ):
        p95 = percentile(results[label], 95)
        verdict = "ok" if p95 < target else "MISSED"
        ok = ok and p95 < target
        print(f"{label}: p95 {p95:.1f} ms (target < {target:.0f} ms): {verdict}")
    container.db.dispose()
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--pages", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=20, help="rounds over every request")
    parser.add_argument("--keep", action="store_true", help="reuse an already filled database")
    args = parser.parse_args()
    if make_url(args.database_url).get_backend_name() != "postgresql":
        parser.error("the benchmark runs on PostgreSQL")
    if args.keep:
        upgrade(args.database_url)
    else:
        prepare(args.database_url, args.conversations, args.messages, args.pages)
    return 0 if asyncio.run(measure(args.database_url, args.requests)) else 1


if __name__ == "__main__":
    sys.exit(main())
