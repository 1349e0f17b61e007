"""The web inbox under a large history: 100,000 conversations and 1,000,000 messages in PostgreSQL.

Run from the project root: `python -m bench.inbox [--database-url URL]`. The data is generated
here, in the database, with generate_series (never committed to the repository): a fresh
database named by the URL (default postgresql://postgres@127.0.0.1:5432/partnerline_bench) is
dropped, created, migrated and filled; `--keep` reuses one already filled.

It then signs in as a staff member and requests the inbox list (each filter view) and
conversation pages through the real app (create_app + the inbox) in this process over ASGI, so
that the time measured is the server's: routing, queries, templates, no network. Prints p50,
p95 and max per page and whether the p95 of the list and of the conversation view is under the
target (100 ms). Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.bootstrap import build_container, create_app
from bot.config import load_config
from bot.config.directory import build_directory
from bot.http.web import install_web
from bot.settings import Settings
from bot.usecases.accounts import StaffAccounts
from storage.accounts import StaffAccountRepository
from storage.db import normalise_url
from storage.directory import sync_directory
from storage.migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "examples" / "agency.toml"
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/partnerline_bench"
TARGET_MS = 100.0
PASSWORD = "bench password 1"

# One conversation per contact; contacts of the three example clients, a tenth unknown.
FILL = """
INSERT INTO contacts (id, client_id, name, config_key, created_at)
SELECT 1000 + g,
       CASE WHEN g % 10 = 0 THEN NULL
            ELSE (ARRAY['acme','brightside','thames'])[1 + g % 3] END,
       'Contact ' || g, NULL, :t0 - make_interval(days => 90)
FROM generate_series(1, :n) AS g;

INSERT INTO channel_identities (contact_id, channel, address, opted_out, unreachable)
SELECT 1000 + g, (ARRAY['sms','telegram','slack'])[1 + g % 3],
       CASE g % 3 WHEN 0 THEN '+1555' || lpad(g::text, 7, '0')
                  WHEN 1 THEN (300000000 + g)::text ELSE 'U' || lpad(g::text, 9, '0') END,
       false, false
FROM generate_series(1, :n) AS g;

-- A fifth open (with a running promise), the rest closed; updated over the last 90 days.
INSERT INTO conversations (id, contact_id, client_id, channel, chat_id, status, assignee,
                           created_at, updated_at, closed_at, last_message_at,
                           commitment_id, commitment_state, due_at)
SELECT g, 1000 + g,
       CASE WHEN g % 10 = 0 THEN NULL
            ELSE (ARRAY['acme','brightside','thames'])[1 + g % 3] END,
       (ARRAY['sms','telegram','slack'])[1 + g % 3],
       CASE g % 3 WHEN 0 THEN '+1555' || lpad(g::text, 7, '0')
                  WHEN 1 THEN (300000000 + g)::text ELSE 'C' || lpad(g::text, 9, '0') END,
       CASE WHEN g % 5 = 0 THEN 'open' ELSE 'closed' END,
       (ARRAY[NULL,'jim','ana','raj','kim'])[1 + (g / 7) % 5],
       :t0 - make_interval(secs => (g * 77.0) % 7776000) - interval '1 hour',
       :t0 - make_interval(secs => (g * 77.0) % 7776000),
       CASE WHEN g % 5 = 0 THEN NULL ELSE :t0 - make_interval(secs => (g * 77.0) % 7776000) END,
       :t0 - make_interval(secs => (g * 77.0) % 7776000),
       g,
       CASE WHEN g % 5 <> 0 THEN 'met'
            ELSE (ARRAY['pending','pending','at_risk','breached'])[1 + (g / 5) % 4] END,
       CASE WHEN g % 5 = 0 THEN :t0 + make_interval(secs => (g % 7200) - 1800) ELSE NULL END
FROM generate_series(1, :n) AS g;

INSERT INTO commitments (id, conversation_id, tier, state, awaiting, after_hours, started_at,
                         due_at, at_risk_at, met_at, breached_at, answered_at, closed_at,
                         trigger_message_id)
SELECT c.id, c.id, 'standard', c.commitment_state, c.status = 'open', false,
       c.updated_at - interval '30 minutes', coalesce(c.due_at, c.updated_at),
       coalesce(c.due_at, c.updated_at) - interval '15 minutes',
       CASE WHEN c.status = 'closed' THEN c.updated_at END, NULL,
       CASE WHEN c.status = 'closed' THEN c.updated_at END, NULL, NULL
FROM conversations c;

INSERT INTO commitment_events (commitment_id, state, at)
SELECT id, 'pending', started_at FROM commitments;

-- :per messages per conversation, alternating client and staff, the last at updated_at.
INSERT INTO messages (conversation_id, direction, channel, text, author_type, author_id,
                      author_name, provider_id, delivery, error, attachments, edit_of, created_at)
SELECT c.id,
       CASE WHEN k % 2 = 1 THEN 'in' ELSE 'out' END,
       c.channel,
       (ARRAY['Hi, any news on the press release?', 'Can we move Thursday''s call to 3pm?',
              'The invoice looks doubled, can you check?', 'Thanks, that works for us.',
              'Looking into it now.', 'Sent the updated deck, see attached.'])[1 + (c.id + k) % 6]
         || ' #' || c.id || '.' || k,
       CASE WHEN k % 2 = 1 THEN 'contact' ELSE 'staff' END,
       CASE WHEN k % 2 = 1 THEN c.contact_id::text ELSE 'jim' END,
       CASE WHEN k % 2 = 1 THEN 'Contact ' || (c.contact_id - 1000) ELSE 'Jim Miller' END,
       NULL,
       CASE WHEN k % 2 = 1 THEN NULL ELSE 'delivered' END,
       NULL, '[]', NULL,
       c.updated_at - make_interval(mins => (:per - k) * 3)
FROM conversations c CROSS JOIN generate_series(1, :per) AS k;
"""


def prepare(url: str, conversations: int, messages: int) -> None:
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
    with engine.begin() as conn:
        from sqlalchemy.orm import Session

        with Session(bind=conn) as session:
            sync_directory(session, tuple(build_directory(config).clients.values()), t0)
            session.flush()
        for statement in FILL.split(";\n"):
            if statement.strip():
                conn.execute(
                    text(statement),
                    {"n": conversations, "per": max(1, messages // conversations), "t0": t0},
                )
        for table in ("contacts", "conversations", "commitments", "messages"):
            conn.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
            )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
        counts = conn.execute(
            text("SELECT (SELECT count(*) FROM conversations), (SELECT count(*) FROM messages)")
        ).one()
    engine.dispose()
    print(
        f"generated {counts[0]:,} conversations and {counts[1]:,} messages "
        f"in {time.perf_counter() - started:.1f}s"
    )


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def measure(url: str, requests: int, conversations: int) -> bool:
    settings = Settings(DATABASE_URL=url, PARTNERLINE_SECRET_KEY="bench-secret-key-" + "x" * 20)
    container = build_container(settings, load_config(CONFIG), adapters={})
    with container.db.session() as session:
        repository = StaffAccountRepository(session)
        if repository.by_login("bench") is None:
            StaffAccounts(repository).add(
                "bench", "jim", PASSWORD, is_admin=False, now=container.clock.now()
            )
            session.commit()
    app = create_app(container)
    if not any(getattr(r, "path", None) == "/login" for r in app.routes):
        install_web(app)
    transport = httpx.ASGITransport(app=app)
    rng = random.Random(7)
    ok = True
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
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
            assert response.status_code == 200, (path, response.status_code)
            return elapsed

        lists = [
            "/inbox",
            "/inbox?view=mine",
            "/inbox?view=unassigned",
            "/inbox?view=at_risk",
            "/inbox?view=breached",
            "/inbox?view=closed",
            "/inbox?view=open&client=acme&channel=sms",
        ]
        for path in [*lists, "/inbox/conversations/5"]:  # warm-up: connections, templates
            await timed(path)
        results: dict[str, list[float]] = {}
        for _ in range(requests):
            for path in lists:
                results.setdefault(path, []).append(await timed(path))
            conv = rng.randint(1, conversations)
            results.setdefault("/inbox/conversations/{id}", []).append(
                await timed(f"/inbox/conversations/{conv}")
            )
        search = [
            await timed("/inbox?view=all&q=Contact%2012345") for _ in range(max(5, requests // 20))
        ]
    print(f"{'page':48} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    every_list: list[float] = []
    for path, values in results.items():
        if path.startswith("/inbox/conversations"):
            continue
        every_list.extend(values)
        print(
            f"{path:48} {statistics.median(values):8.1f} {percentile(values, 95):8.1f} "
            f"{max(values):8.1f}"
        )
    views = results["/inbox/conversations/{id}"]
    print(
        f"{'/inbox/conversations/{id} (random)':48} {statistics.median(views):8.1f} "
        f"{percentile(views, 95):8.1f} {max(views):8.1f}"
    )
    print(
        f"{'/inbox?view=all&q=... (search, no target)':48} {statistics.median(search):8.1f} "
        f"{percentile(search, 95):8.1f} {max(search):8.1f}"
    )
    for label, values in (("inbox list (all views)", every_list), ("conversation view", views)):
        p95 = percentile(values, 95)
        verdict = "ok" if p95 < TARGET_MS else "MISSED"
        ok = ok and p95 < TARGET_MS
        print(f"{label}: p95 {p95:.1f} ms (target < {TARGET_MS:.0f} ms): {verdict}")
    container.db.dispose()
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=100, help="rounds over every page")
    parser.add_argument("--keep", action="store_true", help="reuse an already filled database")
    args = parser.parse_args()
    if make_url(args.database_url).get_backend_name() != "postgresql":
        parser.error("the benchmark runs on PostgreSQL")
    if not args.keep:
        prepare(args.database_url, args.conversations, args.messages)
    return 0 if asyncio.run(measure(args.database_url, args.requests, args.conversations)) else 1


if __name__ == "__main__":
    sys.exit(main())
