"""`partnerline oncall [--at ISO8601] [--config FILE] [--json]`: who is on call, and until when.

It asks the same OnCallService as `GET /api/oncall`, over the overrides in DATABASE_URL, so the
two give the same answer. `--at` without an offset is read in the agency's time zone.
"""

from __future__ import annotations

import argparse
import json
import logging
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.cli.common import CliError, load_config, require_migrated
from bot.settings import Settings


def add_oncall_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--at", help="ISO 8601 instant (default now); no offset: agency time")
    parser.add_argument("--config", help="configuration file (default $PARTNERLINE_CONFIG)")
    parser.add_argument("--json", action="store_true", help="print the API's JSON instead")


def _instant(text: str | None, zone: ZoneInfo) -> datetime | None:
    if text is None:
        return None
    value = datetime.fromisoformat(text)
    return value if value.utcoffset() is not None else value.replace(tzinfo=zone)


def _local(iso: str | None, zone: ZoneInfo) -> str:
    if iso is None:
        return "-"
    return datetime.fromisoformat(iso).astimezone(zone).strftime("%a %Y-%m-%d %H:%M %Z")


def format_answer(answer: dict[str, Any], zone: ZoneInfo) -> list[str]:
    """One line per rotation, times in the agency's zone."""
    lines = [f"on call at {_local(answer['at'], zone)} ({answer['at']})"]
    width = max((len(r["rotation"]) for r in answer["rotations"]), default=0)
    for r in answer["rotations"]:
        who = f"{r['name']} ({r['staff']})" if r["staff"] else "nobody"
        if r.get("override"):
            who += f" [override {r['override']}]"
        until = f"until {_local(r['until'], zone)}" if r["until"] else "with no change ahead"
        following = f"next: {r['next_name'] or r['next']}" if r["next"] else "next: -"
        lines.append(f"  {r['rotation']:<{width}}  {who}, {until}; {following}")
    if not answer["rotations"]:
        lines.append("  (no rotations are configured)")
    return lines


def cmd_oncall(args: argparse.Namespace) -> int:
    # Alembic logs as it loads and reads the migration state; this command's output is the answer.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    from bot.config.directory import build_directory
    from bot.usecases.oncall import OnCallService
    from routing.clock import SystemClock
    from routing.errors import DomainError
    from storage.db import Database
    from storage.unit_of_work import UnitOfWork

    settings = Settings()
    config = load_config(args, settings)
    try:
        at = _instant(args.at, config.zone)
    except ValueError as exc:
        raise CliError(
            f"--at {args.at!r} is not an ISO 8601 date and time (2026-12-07T18:00-05:00)"
        ) from exc
    require_migrated(settings, why=" (overrides live there)")
    db = Database(settings.database_url)
    try:
        service = OnCallService(build_directory(config), lambda: UnitOfWork(db), SystemClock())
        answer = service.who(at)
    except DomainError as exc:
        raise CliError(f"--at: {exc.user_message}") from exc
    finally:
        db.dispose()
    if args.json:
        print(json.dumps(answer, indent=2))
    else:
        print("\n".join(format_answer(answer, config.zone)))
    return 0
