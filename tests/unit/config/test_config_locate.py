"""SourceMap: the line where each key path of a TOML document is written."""

from __future__ import annotations

import tomllib

import pytest

from bot.config.locate import SourceMap

DOCUMENT = '''\
# a comment with = and [brackets]
title = "top"                      # 2

[agency]                           # 4
name = "A [not a table]"           # 5
"quoted key" = 'its'               # 6

[hours.office]                     # 8
monday = ["09:00-12:00",           # 9
  # a comment inside an array      # 10
  "13:00-17:00",                   # 11
]
holidays = { country = "US", subdivision = "MI" }  # 13

[commitments.standard]             # 15
auto_reply = """Thanks {x}.        # 16 (inside the string)
[staff]
key = "not a key"
"""                                # 19
business = "4h"                    # 20
literal = \'\'\'
[[staff]] still text \'\'\'         # 22
after = "1h"                       # 23

[[staff]]                          # 25
id = "jim"
notify = ["slack", "sms@5m"]       # 27

[[staff]]                          # 29
id = "ana"
sms.number = "+1"                  # 31

[[clients]]                        # 33
id = "acme"

[[clients.contacts]]               # 36
name = "Dana"

[[clients.contacts]]               # 39
name = "Omar"

[[clients]]                        # 42
id = "b"

[[clients.contacts]]               # 45
name = "Lucy"

[escalations.default]              # 48
steps = [
  { notify = ["rotation:a"], wait = "10m" },          # 50
  { notify = [
      "rotation:a+1",                                  # 52
      "account_team",                                  # 53
    ], wait = "10m" },
]
when = 1979-05-27 07:32:00         # 56
nested = [[1, 2], [3,
  4]]                              # 58
'''


def test_document_is_valid_toml() -> None:
    # The map is only ever built for documents tomllib accepts; make sure this one is.
    tomllib.loads(DOCUMENT)


def test_plain_keys_and_table_headers() -> None:
    where = SourceMap(DOCUMENT)
    assert where.line(("title",)) == 2
    assert where.line(("agency",)) == 4
    assert where.line(("agency", "name")) == 5
    assert where.line(("agency", "quoted key")) == 6
    assert where.line(("hours", "office")) == 8
    assert where.line(("hours",)) == 8


def test_elements_of_arrays_spanning_lines_with_comments() -> None:
    where = SourceMap(DOCUMENT)
    assert where.line(("hours", "office", "monday")) == 9
    assert where.line(("hours", "office", "monday", 0)) == 9
    assert where.line(("hours", "office", "monday", 1)) == 11


def test_keys_of_inline_tables() -> None:
    where = SourceMap(DOCUMENT)
    assert where.line(("hours", "office", "holidays", "subdivision")) == 13


def test_multiline_string_bodies_are_skipped() -> None:
    where = SourceMap(DOCUMENT)
    assert where.line(("commitments", "standard", "auto_reply")) == 16
    assert where.line(("commitments", "standard", "business")) == 20
    assert where.line(("commitments", "standard", "after")) == 23
    assert where.line(("staff", 0)) == 25  # not the "[[staff]]" inside the literal string


def test_arrays_of_tables_are_numbered_from_zero() -> None:
    where = SourceMap(DOCUMENT)
    assert where.line(("staff", 0)) == 25
    assert where.line(("staff", 0, "notify", 1)) == 27
    assert where.line(("staff", 1)) == 29
    assert where.line(("staff", 1, "sms", "number")) == 31


def test_nested_arrays_of_tables_count_within_their_parent() -> None:
    where = SourceMap(DOCUMENT)
    assert where.line(("clients", 0, "contacts", 0)) == 36
    assert where.line(("clients", 0, "contacts", 1)) == 39
    assert where.line(("clients", 1)) == 42
    assert where.line(("clients", 1, "contacts", 0)) == 45
    assert where.line(("clients", 1, "contacts", 0, "name")) == 46


def test_inline_tables_inside_arrays_are_pinned_element_by_element() -> None:
    where = SourceMap(DOCUMENT)
    assert where.line(("escalations", "default", "steps", 0, "notify", 0)) == 50
    assert where.line(("escalations", "default", "steps", 1)) == 51
    assert where.line(("escalations", "default", "steps", 1, "notify", 0)) == 52
    assert where.line(("escalations", "default", "steps", 1, "notify", 1)) == 53
    assert where.line(("escalations", "default", "steps", 1, "wait")) == 54


def test_scalars_with_spaces_and_nested_arrays() -> None:
    where = SourceMap(DOCUMENT)
    assert where.line(("escalations", "default", "when")) == 56
    assert where.line(("escalations", "default", "nested", 1, 1)) == 58


def test_missing_keys_fall_back_to_the_nearest_enclosing_one() -> None:
    where = SourceMap(DOCUMENT)
    assert where.line(("agency", "timezone")) == 4
    assert where.line(("staff", 1, "slack")) == 29
    assert where.line(("hours", "office", "monday", 7)) == 9
    assert where.line(("unknown_senders", "commitment")) is None


@pytest.mark.parametrize(
    ("document", "loc", "line"),
    [
        ("a = 1\r\n[b]\r\nd = [\r\n 1,\r\n 2]\r\n", ("b", "d", 1), 5),
        ('a . "b.c" . d = 1\n[ x . y ]\nz = 2\n', ("x", "y", "z"), 3),
        ('a . "b.c" . d = 1\nz = 2\n', ("a", "b.c", "d"), 1),
        ('s = """a\\"""b"""\nt = 2\n', ("t",), 2),
        ('s = """a"""""\nt = 2\n', ("t",), 2),
        ("s = '''a''''\nt = 2\n", ("t",), 2),
        ('s = "a\\\\"\nt = 2\n', ("t",), 2),
        ('"q\\u0041" = 2\n', ("qA",), 1),
        ("[[a]]\n[[a]]\nx = 1\n[a.b]\ny = 2\n", ("a", 1, "b", "y"), 5),
        ("staff = [{ id = 'a' },\n  { id = 'b' }]\n", ("staff", 1, "id"), 2),
    ],
)
def test_tricky_but_valid_documents(document: str, loc: tuple[str | int, ...], line: int) -> None:
    tomllib.loads(document)
    assert SourceMap(document).line(loc) == line
