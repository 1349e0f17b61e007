"""`partnerline reload [--config FILE]`: check the configuration and have every running
process apply it (bot/reloading.py says how); a file with problems changes nothing."""

from __future__ import annotations

import argparse
import sys

from bot.cli.common import existing_config_path, require_migrated


def cmd_reload(args: argparse.Namespace) -> int:
    path = existing_config_path(args)
    # Imported here: `--help` and the other commands need none of this.
    from bot.config.directory import build_directory
    from bot.reloading import CHECK_SECONDS, read_config, record_config
    from bot.settings import Settings
    from routing.clock import SystemClock
    from storage.db import Database
    from storage.unit_of_work import UnitOfWork

    loaded = read_config(path)
    if loaded.config is None:
        for problem in loaded.problems:
            print(problem)
        print(f"{path}: not reloaded; nothing changed", file=sys.stderr)
        return 1
    settings = Settings()
    require_migrated(settings, why=" (the running processes read the new version there)")
    db = Database(settings.database_url)
    try:
        stored, new = record_config(
            lambda: UnitOfWork(db), build_directory(loaded.config), loaded, SystemClock().now()
        )
    finally:
        db.dispose()
    if new:
        print(
            f"{path}: recorded as configuration version {stored.version}; every running "
            f"process applies it within {CHECK_SECONDS:g} s"
        )
    else:
        print(f"{path}: unchanged, configuration version {stored.version} already")
    return 0
