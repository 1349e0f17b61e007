"""Reading a configuration file: every problem in it at once, each at its file, line and key."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot.config.fields import PROBLEM
from bot.config.locate import SourceMap
from bot.config.models import REFERENCES_CHECKED, AgencyConfig
from bot.config.problems import ConfigError, Loc, Problem, key_path
from bot.config.references import reference_problems


def load_config(path: str | Path) -> AgencyConfig:
    """The configuration in `path`; raises ConfigError listing every problem if there is any."""
    config, found = _read(path)
    if found or config is None:
        raise ConfigError(found)
    return config


def check_config(path: str | Path) -> list[Problem]:
    """Every problem in the configuration at `path`, in file order; empty when it is usable."""
    return _read(path)[1]


def check_text(text: str, file: str) -> tuple[AgencyConfig | None, list[Problem]]:
    """Check configuration `text` as if read from `file` (the name used in problems)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        return None, [_syntax_problem(file, text, error)]
    config: AgencyConfig | None = None
    located: list[tuple[Loc, str]] = []
    # The cross-section checks read the raw document, so they run even when a section is
    # malformed; the model is told they ran, so it does not report them twice.
    try:
        config = AgencyConfig.model_validate(data, context={REFERENCES_CHECKED: True})
    except ValidationError as error:
        located.extend(_plain_errors(error))
    located.extend(reference_problems(data))
    if located:
        where = SourceMap(text)
        found = [(where.line(loc), loc, message) for loc, message in located]
        return None, _in_file_order(file, found)
    assert config is not None
    config._source_path = file
    return config, []


def _read(path: str | Path) -> tuple[AgencyConfig | None, list[Problem]]:
    file = str(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        return None, [Problem(file, None, "", "no such file")]
    except IsADirectoryError:
        return None, [Problem(file, None, "", "is a directory, not a file")]
    except OSError as error:
        return None, [Problem(file, None, "", f"cannot read: {error.strerror}")]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        return None, [Problem(file, line, "", "not UTF-8 text (TOML files are UTF-8)")]
    return check_text(text, file)


def _in_file_order(file: str, found: list[tuple[int | None, Loc, str]]) -> list[Problem]:
    """Sorted by line, then key (list indices in number order); duplicates dropped."""

    def order(item: tuple[int | None, Loc, str]) -> tuple[int, list[tuple[bool, str | int]]]:
        line, loc, _ = item
        return line or 0, [(isinstance(part, str), part) for part in loc]

    problems = [
        Problem(file, line, key_path(loc), message)
        for line, loc, message in sorted(found, key=order)
    ]
    return list(dict.fromkeys(problems))


# -- pydantic's errors in plain words -----------------------------------------------------------

_EXPECTED = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "an array",
    "dict_type": "a table",
    "model_type": "a table",
    "model_attributes_type": "a table",
}


def _plain_errors(error: ValidationError) -> Iterator[tuple[Loc, str]]:
    for item in error.errors(include_url=False):
        loc = tuple(item["loc"])
        ctx = item.get("ctx") or {}
        kind = item["type"]
        if kind == PROBLEM and "problems" in ctx:
            for at, message in ctx["problems"]:
                yield (*loc, *at), message
        elif kind == PROBLEM:
            yield (*loc, *ctx.get("at", ())), ctx["message"]
        else:
            yield loc, _plain_message(kind, item["input"], ctx, item["msg"])


def _plain_message(kind: str, value: Any, ctx: dict[str, Any], fallback: str) -> str:
    if kind == "missing":
        return "required key is missing"
    if kind == "extra_forbidden":
        return "unknown key"
    if kind in _EXPECTED:
        return f"must be {_EXPECTED[kind]}, not {_toml_kind(value)}"
    if kind == "literal_error":
        return f"{value!r} is not allowed: use {ctx['expected']}"
    if kind == "too_short":
        minimum = ctx.get("min_length", 1)
        return "must not be empty" if minimum == 1 else f"must have at least {minimum} entries"
    if kind == "greater_than_equal":
        return f"must be at least {ctx['ge']}"
    if kind == "greater_than":
        return f"must be more than {ctx['gt']}"
    if kind == "less_than_equal":
        return f"must be at most {ctx['le']}"
    if kind == "less_than":
        return f"must be less than {ctx['lt']}"
    if kind == "value_error" and "error" in ctx:
        return str(ctx["error"])
    return fallback


def _toml_kind(value: Any) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}
    for python_type, name in names.items():
        if isinstance(value, python_type):
            return name
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return "a date or time"


# -- syntax errors ------------------------------------------------------------------------------

_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")
_AT_END = re.compile(r"\s*\(at end of document\)$")


def _syntax_problem(file: str, text: str, error: tomllib.TOMLDecodeError) -> Problem:
    message = str(error)
    match = _AT.search(message)
    if match:
        line, column = int(match[1]), int(match[2])
        return Problem(
            file, line, "", f"invalid TOML: {message[: match.start()]} (column {column})"
        )
    match = _AT_END.search(message)
    if match:
        line = text.count("\n") + 1
        return Problem(file, line, "", f"invalid TOML: {message[: match.start()]} (at the end)")
    return Problem(file, None, "", f"invalid TOML: {message}")
