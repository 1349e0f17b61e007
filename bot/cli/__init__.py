"""The `partnerline` command (docs/CONTRACT.md, "Command line")."""

# One module per command (serve.py: serve, web, worker; check.py; oncall.py; users.py; db.py;
# the telegram commands live with their channel, bot/channels/telegram/cli.py); what they
# share is in common.py. Here: the parser (its description is the docstring) and `main`.

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from bot.channels.telegram.cli import add_telegram_arguments
from bot.cli.check import cmd_check
from bot.cli.common import CliError
from bot.cli.db import add_db_arguments
from bot.cli.oncall import add_oncall_arguments, cmd_oncall
from bot.cli.serve import add_web_arguments, cmd_serve, cmd_web, cmd_worker
from bot.cli.users import add_users_arguments
from bot.log_safety import protect_logs


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
    worker.add_argument("--config")
    worker.set_defaults(func=cmd_worker)

    check = sub.add_parser("check", help="validate a configuration file")
    check.add_argument("--config")
    check.set_defaults(func=cmd_check)

    oncall = sub.add_parser("oncall", help="who is on call now (or --at), per rotation")
    add_oncall_arguments(oncall)
    oncall.set_defaults(func=cmd_oncall)

    users = sub.add_parser("users", help="web-inbox logins")
    add_users_arguments(users)

    telegram = sub.add_parser("telegram", help="Telegram webhook set-up")
    add_telegram_arguments(telegram)

    db = sub.add_parser("db", help="database maintenance")
    add_db_arguments(db)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # The twilio client logs every request's headers at INFO: noise, and no use to operators.
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
    protect_logs()  # httpx would log every Bot API URL, and the Telegram token is in it
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except CliError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
