"""The `partnerline` command (docs/CONTRACT.md, "Command line")."""

# One module per command (serve.py: serve, web, worker; check.py; oncall.py; users.py; db.py;
# telegram.py, whose commands live with their channel, bot/channels/telegram/cli.py); what they
# share is in common.py. Here: the parser (its description is the docstring) and `main`.
# These modules import the web framework, the database and the SDKs inside the commands that
# use them, so that `--help` and `check` answer at once (tests/e2e/test_cli_startup.py).

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from bot.cli.check import add_check_arguments, cmd_check
from bot.cli.common import CliError, add_config_argument
from bot.cli.contacts import add_contacts_arguments
from bot.cli.db import add_db_arguments
from bot.cli.oncall import add_oncall_arguments, cmd_oncall
from bot.cli.reload import cmd_reload
from bot.cli.report import add_report_arguments
from bot.cli.serve import add_web_arguments, cmd_serve, cmd_web, cmd_worker
from bot.cli.simulate import add_simulate_arguments
from bot.cli.telegram import add_telegram_arguments
from bot.cli.users import add_users_arguments
from bot.log_safety import protect_logs

# Loggers whose INFO lines repeat what `partnerline` says once itself, or say nothing an
# operator acts on: Alembic's plugins, context and steps (the migration is one line of ours),
# uvicorn's per-server lines (the stand-ins of `serve --sandbox` are servers too; "serving at"
# is ours), the python-telegram-bot Application's start and stop (the channel logs its bot),
# and the twilio client, which logs every request's headers.
QUIET_LOGGERS = (
    "alembic",
    "uvicorn.error",
    "uvicorn.access",
    "telegram.ext.Application",
    "twilio.http_client",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="partnerline", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="web and worker in one process (embedded default)")
    add_web_arguments(serve)
    serve.add_argument("--sandbox", action="store_true", help="local provider stand-ins")
    serve.set_defaults(func=cmd_serve)

    web = sub.add_parser("web", help="the web half alone")
    add_web_arguments(web)
    web.set_defaults(func=cmd_web)

    worker = sub.add_parser("worker", help="the worker half alone")
    add_config_argument(worker)
    worker.set_defaults(func=cmd_worker)

    check = sub.add_parser("check", help="validate a configuration file (and its coverage)")
    add_check_arguments(check)
    check.set_defaults(func=cmd_check)

    reload = sub.add_parser(
        "reload", help="check the configuration and apply it in every running process"
    )
    add_config_argument(reload)
    reload.set_defaults(func=cmd_reload)

    oncall = sub.add_parser("oncall", help="who is on call now (or --at), per rotation")
    add_oncall_arguments(oncall)
    oncall.set_defaults(func=cmd_oncall)

    users = sub.add_parser("users", help="web-inbox logins")
    add_users_arguments(users)

    contacts = sub.add_parser("contacts", help="contacts made at runtime (export)")
    add_contacts_arguments(contacts)

    telegram = sub.add_parser("telegram", help="Telegram webhook set-up")
    add_telegram_arguments(telegram)

    report = sub.add_parser(
        "report", help="promise reports (a client's month as HTML; backfill after 0016)"
    )
    add_report_arguments(report)

    simulate = sub.add_parser(
        "simulate", help="what-if: replay a period's messages under a proposed configuration"
    )
    add_simulate_arguments(simulate)

    db = sub.add_parser("db", help="database maintenance")
    add_db_arguments(db)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    protect_logs()  # httpx would log every Bot API URL, and the Telegram token is in it
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except CliError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
