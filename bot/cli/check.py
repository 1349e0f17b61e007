"""`partnerline check [--config FILE]`: validate a configuration file."""

from __future__ import annotations

import argparse

from bot.cli.common import existing_config_path


def cmd_check(args: argparse.Namespace) -> int:
    path = existing_config_path(args)
    # Only the configuration models: no settings, database or web framework to load.
    from bot.config import check_config

    problems = check_config(path)
    for problem in problems:
        print(problem)
    if problems:
        return 1
    print(f"{path}: ok")
    return 0
