"""`partnerline check [--config FILE]`: validate a configuration file."""

from __future__ import annotations

import argparse

from bot.cli.common import config_path
from bot.settings import Settings


def cmd_check(args: argparse.Namespace) -> int:
    from bot.config import check_config

    settings = Settings()
    path = config_path(args, settings)
    problems = check_config(path)
    for problem in problems:
        print(problem)
    if problems:
        return 1
    print(f"{path}: ok")
    return 0
