"""`partnerline oncall [--at ISO8601] [--config FILE] [--json]`: who is on call, and until when.

It asks the same OnCallService as `GET /api/oncall`, over the overrides in DATABASE_URL, so the
two give the same answer. `--at` without an offset is read in the agency's time zone.

"Next" is the next *other* person on call, and from when: `next` in docs/CONTRACT.md is the first
person on call after `until` who is not the current one, who need not take over at `until`
(an after-hours rotation has nobody on call while the office is open, and the same person may
have several nights before the handover). `--json` prints the API's object unchanged.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bot.cli.common import CliError, add_config_argument, load_config, require_migrated

if TYPE_CHECKING:
    from routing.rotations import Override, Rotation

# Changes of person walked through to find when `next` takes over; each is a change of who is
# on call (nobody counts), so a real calendar needs a handful. The cap guards a broken one.
_MAX_CHANGES = 1000


def add_oncall_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--at", help="ISO 8601 instant (default now); no offset: agency time")
    add_config_argument(parser)
    parser.add_argument("--json", action="store_true", help="print the API's JSON instead")


def _instant(text: str | None, zone: ZoneInfo) -> datetime | None:
    if text is None:
        return None
    value = datetime.fromisoformat(text)
    return value if value.utcoffset() is not None else value.replace(tzinfo=zone)


def _local(when: str | datetime | None, zone: ZoneInfo) -> str:
    if when is None:
        return "-"
    value = datetime.fromisoformat(when) if isinstance(when, str) else when
    return value.astimezone(zone).strftime("%a %Y-%m-%d %H:%M %Z")


def takes_over(
    rotation: Rotation, until: datetime | None, person: str, overrides: Sequence[Override]
) -> datetime | None:
    """When `person` is next on call for `rotation` from `until` on; None if never found."""
    from routing.rotations import on_call

    at = until
    for _ in range(_MAX_CHANGES):
        if at is None:
            return None
        answer = on_call(rotation, at, overrides)
        if answer.staff == person:
            return at
        at = answer.until
    return None


def format_answer(
    answer: dict[str, Any], zone: ZoneInfo, takeovers: dict[str, datetime | None] | None = None
) -> list[str]:
    """Two lines per rotation, times in the agency's zone: who is on call and until when; who
    is the next other person on call, and from when (`takeovers`: rotation id -> instant)."""
    takeovers = takeovers or {}
    lines = [f"on call at {_local(answer['at'], zone)} ({answer['at']})"]
    width = max((len(r["rotation"]) for r in answer["rotations"]), default=0)
    for r in answer["rotations"]:
        who = f"{r['name']} ({r['staff']})" if r["staff"] else "nobody"
        if r.get("override"):
            who += f" [override {r['override']}]"
        until = f"until {_local(r['until'], zone)}" if r["until"] else "with no change ahead"
        lines.append(f"  {r['rotation']:<{width}}  {who}, {until}")
        label = "next other person on call" if r["staff"] else "next on call"
        if r["next"] is None or r["next"] == r["staff"]:
            following = "nobody else" if r["staff"] else "nobody"
        else:
            following = f"{r['next_name'] or r['next']} ({r['next']})"
            start = takeovers.get(r["rotation"])
            if start is not None:
                following += f", from {_local(start, zone)}"
        lines.append(f"  {'':<{width}}  {label}: {following}")
    if not answer["rotations"]:
        lines.append("  (no rotations are configured)")
    return lines


def cmd_oncall(args: argparse.Namespace) -> int:
    config = load_config(args)  # a missing or bad file is said before the heavy imports
    from bot.config.directory import build_directory
    from bot.settings import Settings
    from bot.usecases.oncall import OnCallService
    from routing.clock import SystemClock
    from routing.errors import DomainError
    from storage.db import Database
    from storage.unit_of_work import UnitOfWork

    settings = Settings()
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
        takeovers: dict[str, datetime | None] = {}
        if not args.json:
            _, overrides = service.answers(datetime.fromisoformat(answer["at"]))
            for r in answer["rotations"]:
                if r["next"] is not None and r["next"] != r["staff"]:
                    until = datetime.fromisoformat(r["until"]) if r["until"] else None
                    rotation = service.rotations[r["rotation"]]
                    takeovers[r["rotation"]] = takes_over(rotation, until, r["next"], overrides)
    except DomainError as exc:
        raise CliError(f"--at: {exc.user_message}") from exc
    finally:
        db.dispose()
    if args.json:
        print(json.dumps(answer, indent=2))
    else:
        print("\n".join(format_answer(answer, config.zone, takeovers)))
    return 0
