"""`partnerline check [--config FILE] [--strict] [--at ISO8601]`: validate a configuration file.

Beyond the problems that make a file unusable (errors, exit 1), check lists the coverage gaps
of the next 90 days as warnings: every stretch in which a client whose tier pages would page
nobody (routing.coverage), in the agency's zone, with the clients affected. They leave the exit
status 0; `--strict` makes them errors. check reads only the file: overrides stored in the
database are not seen here (the inbox's on-call page counts them).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bot.cli.common import CliError, add_config_argument, existing_config_path

if TYPE_CHECKING:
    from bot.config import AgencyConfig
    from bot.usecases.directory import Directory
    from routing.coverage import Gap


def add_check_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument(
        "--strict", action="store_true", help="coverage gaps are errors, not warnings"
    )
    parser.add_argument(
        "--at",
        help="ISO 8601 instant the 90 days of coverage start from (default now); "
        "no offset: agency time",
    )


def cmd_check(args: argparse.Namespace) -> int:
    path = existing_config_path(args)
    # Only the configuration models: no settings, database or web framework to load.
    from bot.config import check_config, load_config

    problems = check_config(path)
    for problem in problems:
        print(problem)
    if problems:
        return 1
    config = load_config(path)
    strict = bool(args.strict)
    lines = gap_lines(path, config, _start(args.at, config), strict=strict)
    for line in lines:
        print(line)
    if lines and strict:
        return 1
    gaps = f", with {len(lines)} coverage gap(s) in the next 90 days (warnings)" if lines else ""
    print(f"{path}: ok{gaps}")
    return 0


def _start(text: str | None, config: AgencyConfig) -> datetime:
    if text is None:
        from routing.clock import SystemClock

        return SystemClock().now()
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise CliError(
            f"--at {text!r} is not an ISO 8601 date and time (2026-12-07T18:00-05:00)"
        ) from exc
    value = value if value.utcoffset() is not None else value.replace(tzinfo=config.zone)
    return value.astimezone(UTC)


def gap_lines(path: str, config: AgencyConfig, now: datetime, *, strict: bool) -> list[str]:
    """One line per coverage gap in the 90 days from `now`, in the shape of a problem line:
    `FILE:LINE: escalations.NAME: warning: coverage gap …` (`error:` under --strict)."""
    from pathlib import Path

    from bot.config.directory import build_directory
    from bot.config.locate import SourceMap
    from bot.config.problems import key_path
    from bot.usecases.coverage import gaps_ahead

    directory = build_directory(config)
    gaps = gaps_ahead(directory, now)
    if not gaps:
        return []
    where = SourceMap(Path(path).read_text(encoding="utf-8-sig"))
    index = {client.id: n for n, client in enumerate(config.clients)}
    kind = "error" if strict else "warning"
    lines = []
    for gap in gaps:
        loc: tuple[str | int, ...] = (
            ("escalations", gap.escalation)
            if gap.escalation is not None
            else ("clients", index[gap.clients[0]], "commitment")
        )
        line = where.line(loc)
        at = path if line is None else f"{path}:{line}"
        lines.append(f"{at}: {key_path(loc)}: {kind}: {describe(gap, directory, now)}")
    return lines


def describe(gap: Gap, directory: Directory, now: datetime) -> str:
    """A gap in words, in the agency's zone: when, why, and which clients."""
    from routing.plain_time import day_and_time

    zone = directory.zone
    start, end = day_and_time(gap.start, zone, now), day_and_time(gap.end, zone, now)
    clients = ", ".join(
        f"{directory.clients[c].name} ({c})" if c in directory.clients else c for c in gap.clients
    )
    return f"coverage gap from {start} to {end}: {gap.reason}; clients: {clients}"
