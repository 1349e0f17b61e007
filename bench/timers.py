"""How late durable timers fire: 10,000 timers due over one minute, on SQLite and PostgreSQL.

A real `partnerline worker` process fires them (kind "noop", so only the timer machinery is
measured); lateness is the fired time minus the due time, both as the worker recorded them.
Beside it, in the same run, the same schedule on a bare asyncio loop (`loop.call_at`): the
floor any Python scheduler on this machine can reach. Also the worker's CPU seconds: over 3 s
idle before the timers (a worker that sleeps uses next to none), and while firing them.
Prints figures; asserts nothing.

Run from the project root: `python -m bench.timers [--timers N] [--spread S] [--targets ...]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, select, text

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from storage.db import Database, normalise_url  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.tables import TimerRow  # noqa: E402

TARGET_P99_MS = 250.0
PG_BASE = os.environ.get("PARTNERLINE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")


def percentiles(values_ms: list[float]) -> tuple[float, float, float]:
    ordered = sorted(values_ms)
    q = statistics.quantiles(ordered, n=100, method="inclusive")
    return q[49], q[98], ordered[-1]


def baseline(due_offsets: list[float]) -> list[float]:
    """The same schedule on a bare event loop: how late call_at runs each callback."""

    async def run() -> list[float]:
        loop = asyncio.get_running_loop()
        start = loop.time() + 1.0
        late: list[float] = []
        done = asyncio.Event()

        def fire(due: float) -> None:
            late.append((loop.time() - due) * 1000)
            if len(late) == len(due_offsets):
                done.set()

        for offset in due_offsets:
            loop.call_at(start + offset, fire, start + offset)
        await done.wait()
        return late

    return asyncio.run(run())


def schedule(url: str, due_offsets: list[float], lead: float) -> datetime:
    """All timers in one multi-row insert, committed well before the first is due."""
    db = Database(url)
    now = datetime.now(UTC)
    start = now + timedelta(seconds=lead)
    rows = [
        {
            "key": f"bench:{i}",
            "kind": "noop",
            "due_at": start + timedelta(seconds=offset),
            "payload": {},
            "state": "pending",
            "attempts": 0,
            "created_at": now,
        }
        for i, offset in enumerate(due_offsets)
    ]
    with db.write_connection() as conn:
        conn.execute(TimerRow.__table__.insert(), rows)
    if datetime.now(UTC) >= start:
        raise RuntimeError("scheduling took longer than the lead time")
    db.dispose()
    return start


def fired_lateness(url: str) -> tuple[list[float], int]:
    db = Database(url)
    with db.session() as session:
        rows = session.execute(
            select(TimerRow.due_at, TimerRow.fired_at, TimerRow.state).where(
                TimerRow.key.like("bench:%")
            )
        ).all()
    db.dispose()
    late = [(f - d).total_seconds() * 1000 for d, f, state in rows if state == "done" and f]
    return late, sum(1 for *_, state in rows if state != "done")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (/proc/PID/stat, fields 14 and 15)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_worker(
    url: str, count: int, spread: float, log: Path
) -> tuple[list[float], int, tuple[float, float]]:
    """Lateness of each fired timer, how many did not fire, and the worker's CPU seconds
    while idle before the timers (3 s) and while firing them."""
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "PARTNERLINE_CONFIG": str(ROOT / "examples" / "agency.toml"),
        "PARTNERLINE_SECRET_KEY": "bench",
    }
    for name in (
        "TWILIO_ACCOUNT_SID",
        "TWILIO_AUTH_TOKEN",
        "TELEGRAM_BOT_TOKEN",
        "SLACK_BOT_TOKEN",
    ):
        env.pop(name, None)
    rng = random.Random(4)
    offsets = sorted(rng.uniform(0, spread) for _ in range(count))
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "worker"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            time.sleep(3)  # let it start and go idle before anything is due
            idle_from = cpu_seconds(proc.pid)
            time.sleep(3)
            busy_from = cpu_seconds(proc.pid)
            idle = busy_from - idle_from
            schedule(url, offsets, lead=3.0)
            time.sleep(3.0 + spread + 2.0)
            busy = cpu_seconds(proc.pid) - busy_from
        finally:
            proc.terminate()
            proc.wait(20)
    late, missing = fired_lateness(url)
    return late, missing, (idle, busy)


def pg_database() -> str | None:
    base = normalise_url(PG_BASE)
    name = f"partnerline_bench_timers_{os.getpid()}"
    try:
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
    except Exception as exc:
        print(f"postgres: skipped ({exc.__class__.__name__}: {exc})".splitlines()[0])
        return None
    return base.set(database=name).render_as_string(hide_password=False)


def drop_pg(url: str) -> None:
    base = normalise_url(PG_BASE)
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{normalise_url(url).database}" WITH (FORCE)'))
    admin.dispose()


def line(name: str, late: list[float], missing: int, cpu: tuple[float, float] | None = None) -> str:
    p50, p99, worst = percentiles(late)
    verdict = "met" if p99 < TARGET_P99_MS else "NOT met"
    idle, busy = (f"{c:.2f}" for c in cpu) if cpu else ("", "")
    return (
        f"{name:<22} {len(late):>7} {missing:>7} {p50:>9.1f} {p99:>9.1f} {worst:>9.1f}"
        f" {idle:>10} {busy:>10}   p99 < {TARGET_P99_MS:.0f} ms: {verdict}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timers", type=int, default=10_000)
    parser.add_argument("--spread", type=float, default=60.0, help="seconds the due times span")
    parser.add_argument("--targets", default="sqlite,postgres")
    args = parser.parse_args(argv)
    targets = args.targets.split(",")

    print(
        f"{args.timers} timers due over {args.spread:.0f} s; {os.cpu_count()} cores; "
        f"Python {sys.version.split()[0]}"
    )
    print(
        f"{'target':<22} {'fired':>7} {'missing':>7} {'p50 ms':>9} {'p99 ms':>9} {'max ms':>9}"
        f" {'idle cpu s':>10} {'busy cpu s':>10}"
    )
    rng = random.Random(4)
    offsets = sorted(rng.uniform(0, args.spread) for _ in range(args.timers))
    print(line("asyncio call_at (floor)", baseline(offsets), 0))
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        if "sqlite" in targets:
            url = f"sqlite:///{tmp}/timers.db"
            upgrade(url)
            late, missing, cpu = run_worker(url, args.timers, args.spread, Path(tmp) / "sqlite.log")
            print(line("worker on sqlite", late, missing, cpu))
            failed |= missing > 0
        if "postgres" in targets and (url := pg_database()) is not None:
            try:
                upgrade(url)
                late, missing, cpu = run_worker(url, args.timers, args.spread, Path(tmp) / "pg.log")
                print(line("worker on postgres", late, missing, cpu))
                failed |= missing > 0
            finally:
                drop_pg(url)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
