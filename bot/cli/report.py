"""`partnerline report client ID --month YYYY-MM --out FILE.html`: the client's monthly promise
report, the same page `GET /reports/clients/{id}?month=…&token=…` answers (bot/http/web/
client_report.py), written to a file that opens and prints without a server.

It reads DATABASE_URL as the running service does, and the configuration for the client's
promise, zone and the calendars. `--out -` prints the page instead.

`partnerline report backfill` records, once after migration 0016, the business time of the
commitments answered before it (by the calendars of the configuration given), so that the
reports sum them in the database instead of computing them as they read.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

from bot.cli.common import CliError, add_config_argument, load_config, require_migrated


def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="report", required=True)
    client = sub.add_parser("client", help="a client's monthly promise report as HTML")
    client.add_argument("client", metavar="ID", help="the client's id in the configuration")
    client.add_argument("--month", required=True, help="YYYY-MM, in the client's time zone")
    client.add_argument("--out", required=True, help="the HTML file to write (- for stdout)")
    client.add_argument(
        "--at", help="ISO 8601 instant with offset the report is drawn as of (default now)"
    )
    add_config_argument(client)
    client.set_defaults(func=cmd_report_client)
    backfill = sub.add_parser(
        "backfill", help="record the business time of commitments answered before 0016"
    )
    add_config_argument(backfill)
    backfill.set_defaults(func=cmd_report_backfill)


def cmd_report_backfill(args: argparse.Namespace) -> int:
    config = load_config(args)
    from bot.config.directory import build_directory
    from bot.settings import Settings
    from bot.usecases.reports import ReportService
    from routing.clock import SystemClock
    from storage.db import Database
    from storage.unit_of_work import UnitOfWork

    settings = Settings()
    require_migrated(settings, why=" (the commitments live there)")
    db = Database(settings.database_url)
    try:
        reports = ReportService(
            build_directory(config), lambda: UnitOfWork(db, read_only=True), SystemClock()
        )
        done = reports.backfill(lambda: UnitOfWork(db))
    finally:
        db.dispose()
    print(f"recorded the business time of {done} answered commitments")
    return 0


def cmd_report_client(args: argparse.Namespace) -> int:
    config = load_config(args)  # a missing or bad file is said before the heavy imports
    from bot.config.directory import build_directory
    from bot.http.web.client_report import client_report_html
    from bot.settings import Settings
    from bot.usecases.reports import ReportService
    from routing.clock import Clock, FrozenClock, SystemClock
    from routing.errors import DomainError
    from storage.db import Database
    from storage.unit_of_work import UnitOfWork

    clock: Clock = SystemClock()
    if args.at is not None:
        try:
            clock = FrozenClock(datetime.fromisoformat(args.at))
        except ValueError as exc:
            raise CliError(f"--at {args.at!r} is not an ISO 8601 time with offset") from exc
    settings = Settings()
    require_migrated(settings, why=" (the history lives there)")
    db = Database(settings.database_url)
    try:
        directory = build_directory(config)
        reports = ReportService(directory, lambda: UnitOfWork(db, read_only=True), clock)
        html = client_report_html(directory, reports, args.client, args.month)
    except DomainError as exc:
        raise CliError(f"report client {args.client}: {exc.user_message}") from exc
    finally:
        db.dispose()
    if args.out == "-":
        sys.stdout.write(html)
        return 0
    try:
        Path(args.out).write_text(html, encoding="utf-8")
    except OSError as exc:
        raise CliError(f"--out {args.out}: {exc.strerror or exc}") from exc
    print(f"wrote {args.out}")
    return 0
