"""`partnerline telegram set-webhook|info`: the arguments; the commands live with their channel
(bot/channels/telegram/cli.py) and are imported only when run, with the Telegram SDK."""

from __future__ import annotations

import argparse


def cmd_set_webhook(args: argparse.Namespace) -> int:
    from bot.channels.telegram.cli import cmd_set_webhook as run

    return run(args)


def cmd_info(args: argparse.Namespace) -> int:
    from bot.channels.telegram.cli import cmd_info as run

    return run(args)


def add_telegram_arguments(parser: argparse.ArgumentParser) -> None:
    """The `telegram` command group; the caller sets nothing else."""
    sub = parser.add_subparsers(dest="telegram_command", required=True)
    set_hook = sub.add_parser(
        "set-webhook", help="register PUBLIC_URL/webhooks/telegram with the secret token"
    )
    set_hook.add_argument(
        "--drop-pending-updates",
        action="store_true",
        help="discard updates Telegram holds for the bot",
    )
    set_hook.set_defaults(func=cmd_set_webhook)
    info = sub.add_parser("info", help="show the webhook Telegram has registered")
    info.set_defaults(func=cmd_info)
