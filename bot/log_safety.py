"""No secret in the log: the Telegram bot token travels in every Bot API URL.

httpx logs each request's URL at INFO (`POST https://api.telegram.org/bot<token>/sendMessage`).
`protect_logs()` lowers httpx's and httpcore's request logging to WARNING, and, in case someone
turns them up again for debugging, redacts `/bot<token>/` in whatever they still log.
"""

from __future__ import annotations

import logging
import re

HTTP_CLIENT_LOGGERS = ("httpx", "httpcore")
_BOT_TOKEN = re.compile(r"/bot[0-9]+:[A-Za-z0-9_-]+")
REDACTED = "/bot<redacted>"


class RedactBotToken(logging.Filter):
    """Rewrites the record's message with any Bot API token replaced; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "/bot" in message:
            redacted = _BOT_TOKEN.sub(REDACTED, message)
            if redacted != message:
                record.msg, record.args = redacted, None
        return True


_FILTER = RedactBotToken()


def protect_logs() -> None:
    """Idempotent: call it wherever logging is set up and wherever the app is built."""
    for name in HTTP_CLIENT_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET or logger.level < logging.WARNING:
            logger.setLevel(logging.WARNING)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
