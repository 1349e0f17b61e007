"""What every `partnerline` command shares: the error it prints, the configuration file, the
port, and the check that the database is migrated."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

from bot.settings import Settings

if TYPE_CHECKING:
    from bot.config import AgencyConfig


class CliError(Exception):
    """A problem to print for the user, without a traceback, exiting 1."""


def config_path(args: argparse.Namespace, settings: Settings) -> str:
    """`--config`, else $PARTNERLINE_CONFIG, else the settings' default."""
    return args.config or os.environ.get("PARTNERLINE_CONFIG") or settings.config_path


def load_config(args: argparse.Namespace, settings: Settings) -> AgencyConfig:
    # Imported here: loading the configuration models costs every command that needs none.
    from bot.config import ConfigError
    from bot.config import load_config as load

    try:
        return load(config_path(args, settings))
    except ConfigError as exc:
        raise CliError(str(exc)) from exc


def port(args: argparse.Namespace, settings: Settings) -> int:
    return int(args.port) if args.port is not None else settings.port


def require_migrated(settings: Settings, *, why: str = "") -> None:
    """CliError unless DATABASE_URL is reachable and at the head migration; `why` follows
    "DATABASE_URL" in the unreachable message (what the command needs there)."""
    from storage.migrate import current_revision, head_revision

    try:
        current = current_revision(settings.database_url)
    except Exception as exc:
        raise CliError(f"cannot reach the database at DATABASE_URL{why}: {exc}") from exc
    if current != head_revision():
        raise CliError(
            f"the database is at migration {current or 'none'}, not {head_revision()}: "
            "run `partnerline db upgrade` first"
        )
