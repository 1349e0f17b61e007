"""What every `partnerline` command shares: the error it prints, the configuration file, the
port, and the check that the database is migrated.

Nothing heavy is imported at the top of any bot/cli module: `partnerline --help` builds every
command's parser, and should answer at once (tests/e2e/test_cli_startup.py).
"""

from __future__ import annotations

import argparse
import gc
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.config import AgencyConfig
    from bot.settings import Settings

# docs/CONTRACT.md, "Command line": `--config` defaults to $PARTNERLINE_CONFIG, then this.
DEFAULT_CONFIG = "./partnerline.toml"
# What `make run` serves; named in the missing-file message when it is at hand.
EXAMPLE_CONFIG = "examples/agency.toml"


class CliError(Exception):
    """A problem to print for the user, without a traceback, exiting 1."""


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        metavar="FILE",
        help=f"configuration file (default $PARTNERLINE_CONFIG, then {DEFAULT_CONFIG})",
    )


def config_path(args: argparse.Namespace) -> str:
    """`--config`, else $PARTNERLINE_CONFIG, else ./partnerline.toml."""
    return args.config or os.environ.get("PARTNERLINE_CONFIG") or DEFAULT_CONFIG


def existing_config_path(args: argparse.Namespace) -> str:
    """`config_path`, or a CliError saying what was looked for and how to name another file."""
    path = config_path(args)
    if os.path.lexists(path):
        return path  # a directory or an unreadable file: the loader says which
    if args.config:
        found = f"--config {path}: no such file"
    elif os.environ.get("PARTNERLINE_CONFIG"):
        found = f"PARTNERLINE_CONFIG={path}: no such file"
    else:
        found = (
            f"no configuration file: looked for {path}, the default when neither --config "
            "nor PARTNERLINE_CONFIG is given"
        )
    hint = "name one with --config FILE or PARTNERLINE_CONFIG=FILE"
    if Path(EXAMPLE_CONFIG).is_file():
        hint += f" (the example agency that `make run` serves: --config {EXAMPLE_CONFIG})"
    raise CliError(f"{found}\n{hint}")


def load_config(args: argparse.Namespace) -> AgencyConfig:
    # Imported here: loading the configuration models costs every command that needs none.
    from bot.config import ConfigError
    from bot.config import load_config as load

    try:
        return load(existing_config_path(args))
    except ConfigError as exc:
        raise CliError(str(exc)) from exc


def port(args: argparse.Namespace, settings: Settings) -> int:
    return int(args.port) if args.port is not None else settings.port


def migrated(before: str | None, after: str | None) -> str:
    """One line for what `storage.migrate.upgrade` did."""
    if before == after:
        return f"database: at migration {after}, nothing to apply"
    if before is None:
        return f"database: created, at migration {after}"
    return f"database: migrated from {before} to {after}"


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


def settle_heap() -> None:
    """Before a long-running process starts serving: what start-up built (modules, the
    app, the configuration) lives as long as the process, so the collector stops scanning
    it (`gc.freeze`); and it runs a young collection every GC_YOUNG allocations, not
    every 700, since each message allocates thousands of short-lived objects that die by
    reference count anyway (profiled: the collector took 3-4% of `serve`'s CPU under load)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG, 20, 20)


GC_YOUNG = 20_000
