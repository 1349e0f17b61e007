"""`partnerline db upgrade`: run the migrations to head."""

from __future__ import annotations

import argparse

from bot.cli.common import CliError, migrated


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from bot.settings import Settings
    from storage.migrate import upgrade

    settings = Settings()
    try:
        before, after = upgrade(settings.database_url)
    except Exception as exc:
        raise CliError(f"migration failed: {exc}") from exc
    print(migrated(before, after))
    return 0


def add_db_arguments(db: argparse.ArgumentParser) -> None:
    """The `db` command group; the caller sets nothing else."""
    sub = db.add_subparsers(dest="db_command", required=True)
    up = sub.add_parser("upgrade", help="run migrations to head")
    up.set_defaults(func=cmd_db_upgrade)
