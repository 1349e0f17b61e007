"""`partnerline telegram set-webhook` and `partnerline telegram info`.

set-webhook registers PUBLIC_URL/webhooks/telegram with TELEGRAM_WEBHOOK_SECRET as the secret
token and the update types the bot handles; info prints what Telegram has registered.
Both talk to TELEGRAM_API_URL, so they work against the stand-in too. Their arguments are
declared in bot/cli/telegram.py, which imports this module (and the SDK) only to run one.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from datetime import datetime

from telegram import Bot, WebhookInfo
from telegram.error import TelegramError

from adapters.telegram import ALLOWED_UPDATES
from bot.settings import Settings

WEBHOOK_PATH = "/webhooks/telegram"
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")


def _fail(message: str) -> int:
    print(message, file=sys.stderr)
    return 1


def webhook_url(settings: Settings) -> str | None:
    if not settings.public_url:
        return None
    return settings.public_url.rstrip("/") + WEBHOOK_PATH


def _bot(settings: Settings) -> Bot:
    assert settings.telegram_bot_token is not None
    return Bot(settings.telegram_bot_token.get_secret_value(), base_url=settings.telegram_api_url)


def cmd_set_webhook(args: argparse.Namespace, settings: Settings | None = None) -> int:
    settings = settings or Settings()
    if settings.telegram_bot_token is None:
        return _fail("TELEGRAM_BOT_TOKEN is not set")
    if settings.telegram_webhook_secret is None:
        return _fail("TELEGRAM_WEBHOOK_SECRET is not set: the webhook would accept anyone")
    secret = settings.telegram_webhook_secret.get_secret_value()
    if not _SECRET_TOKEN.fullmatch(secret):
        return _fail(
            "TELEGRAM_WEBHOOK_SECRET must be 1-256 characters of A-Z, a-z, 0-9, _ and - "
            "(Telegram's rule for secret tokens)"
        )
    url = webhook_url(settings)
    if url is None:
        return _fail("PUBLIC_URL is not set: Telegram needs the address it should post to")

    async def register() -> None:
        async with _bot(settings) as bot:
            await bot.set_webhook(
                url=url,
                secret_token=secret,
                allowed_updates=list(ALLOWED_UPDATES),
                drop_pending_updates=bool(args.drop_pending_updates),
            )

    try:
        asyncio.run(register())
    except TelegramError as exc:
        return _fail(f"Telegram refused the webhook: {exc.message}")
    print(f"webhook set: {url}")
    print(f"updates: {', '.join(ALLOWED_UPDATES)}")
    return 0


def format_info(info: WebhookInfo, expected: str | None) -> list[str]:
    lines = [f"url: {info.url or '(none: no webhook is set)'}"]
    if expected is not None:
        lines.append(f"matches PUBLIC_URL{WEBHOOK_PATH}: {'yes' if info.url == expected else 'no'}")
    lines.append(f"pending updates: {info.pending_update_count}")
    if info.allowed_updates:
        lines.append(f"allowed updates: {', '.join(info.allowed_updates)}")
    if info.max_connections:
        lines.append(f"max connections: {info.max_connections}")
    if info.ip_address:
        lines.append(f"ip address: {info.ip_address}")
    lines.append(f"last error: {_error(info.last_error_date, info.last_error_message)}")
    if info.last_synchronization_error_date:
        lines.append(
            f"last synchronisation error: {info.last_synchronization_error_date.isoformat()}"
        )
    return lines


def _error(at: datetime | None, message: str | None) -> str:
    if at is None and not message:
        return "none"
    when = at.isoformat() if at is not None else "(no date)"
    return f"{when}: {message or '(no message)'}"


def cmd_info(args: argparse.Namespace, settings: Settings | None = None) -> int:
    settings = settings or Settings()
    if settings.telegram_bot_token is None:
        return _fail("TELEGRAM_BOT_TOKEN is not set")

    async def fetch() -> WebhookInfo:
        async with _bot(settings) as bot:
            return await bot.get_webhook_info()

    try:
        info = asyncio.run(fetch())
    except TelegramError as exc:
        return _fail(f"Telegram refused: {exc.message}")
    print("\n".join(format_info(info, webhook_url(settings))))
    return 0
