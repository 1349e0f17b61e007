"""Where each key of a TOML document is written, since tomllib gives values but no positions.

`SourceMap(text)` scans a document that tomllib has already accepted, so it only has to follow
the structure, not judge it: table headers `[a.b]`, arrays of tables `[[a]]` (counting them to
number the elements), dotted keys, strings of every kind (a multi-line string's body is skipped),
arrays and inline tables (each element and each inline key is recorded where it starts).
"""

from __future__ import annotations

import bisect
import re
import tomllib

from bot.config.problems import Loc

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
# A number, boolean, date or time ends at the next delimiter; dates may contain a space.
_SCALAR = re.compile(r"[^,\]}\n#]*")


class SourceMap:
    """Key paths (("staff", 2, "sms")) of one document mapped to 1-based line numbers."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._pos = 0
        self._newlines = [i for i, char in enumerate(text) if char == "\n"]
        self._lines: dict[Loc, int] = {}
        self._tables_of_arrays: dict[Loc, int] = {}  # path of each [[array]] -> elements so far
        self._scan()

    def line(self, loc: Loc) -> int | None:
        """The line of `loc`, else of the nearest enclosing key written in the file, else None."""
        for end in range(len(loc), 0, -1):
            found = self._lines.get(tuple(loc[:end]))
            if found is not None:
                return found
        return None

    # -- document level -------------------------------------------------------------------

    def _scan(self) -> None:
        table: Loc = ()
        while True:
            self._skip_blank(newlines=True)
            if self._pos >= len(self._text):
                return
            start = self._pos
            if self._text.startswith("[[", start):
                self._pos += 2
                parts = self._key()
                parent = self._resolve(parts[:-1])
                array = (*parent, parts[-1])
                index = self._tables_of_arrays.get(array, 0)
                self._tables_of_arrays[array] = index + 1
                table = (*array, index)
                self._record(table, start)
                self._pos = self._text.index("]]", self._pos) + 2
            elif self._text.startswith("[", start):
                self._pos += 1
                table = self._resolve(self._key())
                self._record(table, start)
                self._pos = self._text.index("]", self._pos) + 1
            else:
                self._key_value(table)

    def _resolve(self, parts: list[str]) -> Loc:
        """A header's dotted name as a path: through an array of tables means its last element."""
        path: Loc = ()
        for part in parts:
            path = (*path, part)
            count = self._tables_of_arrays.get(path)
            if count:
                path = (*path, count - 1)
        return path

    def _record(self, loc: Loc, pos: int) -> None:
        """Note `loc` (and any table it implies) at the line of `pos`; the first mention wins."""
        line = bisect.bisect_left(self._newlines, pos) + 1
        for end in range(1, len(loc) + 1):
            self._lines.setdefault(loc[:end], line)

    # -- keys and values ------------------------------------------------------------------

    def _key_value(self, table: Loc) -> None:
        start = self._pos
        loc = (*table, *self._key())
        self._record(loc, start)
        self._skip_blank()
        self._pos += 1  # the "="
        self._skip_blank()
        self._value(loc)

    def _key(self) -> list[str]:
        parts: list[str] = []
        while True:
            self._skip_blank()
            char = self._text[self._pos]
            if char == '"':
                token = self._basic_string()
                parts.append(tomllib.loads(f"k = {token}")["k"])
            elif char == "'":
                end = self._text.index("'", self._pos + 1)
                parts.append(self._text[self._pos + 1 : end])
                self._pos = end + 1
            else:
                match = _BARE_KEY.match(self._text, self._pos)
                if match is None:  # not a key after all; tomllib accepted it, so stop quietly
                    return parts or [""]
                parts.append(match.group())
                self._pos = match.end()
            self._skip_blank()
            if self._text.startswith(".", self._pos):
                self._pos += 1
                continue
            return parts

    def _value(self, loc: Loc) -> None:
        text, pos = self._text, self._pos
        if text.startswith('"""', pos):
            self._multiline_string('"')
        elif text.startswith("'''", pos):
            self._multiline_string("'")
        elif text.startswith('"', pos):
            self._basic_string()
        elif text.startswith("'", pos):
            self._pos = text.index("'", pos + 1) + 1
        elif text.startswith("[", pos):
            self._array(loc)
        elif text.startswith("{", pos):
            self._inline_table(loc)
        else:
            match = _SCALAR.match(text, pos)
            assert match is not None  # the pattern matches the empty string
            self._pos = match.end()

    def _array(self, loc: Loc) -> None:
        self._pos += 1
        index = 0
        while True:
            self._skip_blank(newlines=True)
            if self._text.startswith("]", self._pos):
                self._pos += 1
                return
            self._record((*loc, index), self._pos)
            self._value((*loc, index))
            self._skip_blank(newlines=True)
            if self._text.startswith(",", self._pos):
                self._pos += 1
            index += 1

    def _inline_table(self, loc: Loc) -> None:
        self._pos += 1
        while True:
            self._skip_blank(newlines=True)
            if self._text.startswith("}", self._pos):
                self._pos += 1
                return
            self._key_value(loc)
            self._skip_blank(newlines=True)
            if self._text.startswith(",", self._pos):
                self._pos += 1

    def _basic_string(self) -> str:
        """Skip a "..." string and return its source text."""
        start = self._pos
        pos = start + 1
        while self._text[pos] != '"':
            pos += 2 if self._text[pos] == "\\" else 1
        self._pos = pos + 1
        return self._text[start : self._pos]

    def _multiline_string(self, quote: str) -> None:
        pos = self._pos + 3
        while not self._text.startswith(quote * 3, pos):
            pos += 2 if quote == '"' and self._text[pos] == "\\" else 1
        # The closing delimiter may follow one or two quotes that belong to the string.
        pos += 3
        for _ in range(2):
            if self._text.startswith(quote, pos):
                pos += 1
        self._pos = pos

    def _skip_blank(self, newlines: bool = False) -> None:
        """Skip spaces and tabs (and newlines and comments when `newlines`)."""
        text = self._text
        while self._pos < len(text):
            char = text[self._pos]
            if char in " \t" or (newlines and char in "\r\n"):
                self._pos += 1
            elif newlines and char == "#":
                end = text.find("\n", self._pos)
                self._pos = len(text) if end < 0 else end
            else:
                return
