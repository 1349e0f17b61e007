"""What is wrong with a configuration file, said so that an operator can go and fix it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

Loc = tuple[str | int, ...]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class Problem:
    """One problem at one place: `str()` is the `FILE:LINE: KEY.PATH: message` line of
    docs/CONTRACT.md.

    `line` is None when the place is not in the file (the file is missing, or a required
    top-level section is); `key` is empty when the problem is not about one key (a syntax error).
    The parts that are missing are left out of the line rather than printed as "None".
    """

    file: str
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class ConfigError(Exception):
    """The configuration cannot be used; `problems` lists everything that is wrong with it."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems: list[Problem] = list(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))

    def __str__(self) -> str:
        return "\n".join(str(problem) for problem in self.problems)


def key_path(loc: Iterable[str | int]) -> str:
    """("staff", 2, "sms") -> "staff[2].sms"; keys that are not bare TOML keys are quoted."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        name = part if _BARE_KEY.fullmatch(part) else json.dumps(part, ensure_ascii=False)
        out += f".{name}" if out else name
    return out
