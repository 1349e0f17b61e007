"""The what-if report (bot/http/web/simulation_report.py) on comparisons the simulator built:
one self-contained HTML file that names the period, the traffic and both configurations, puts
the headline figures side by side, draws the weeks as inline SVG, lists every person, the
coverage gaps (clients by name, agency time) and the differences with their examples, and
refers to no URL at all.

The proposed configuration hands the example agency's nights to Sam, who has no way to be
paged, with a one-step escalation: pages reach nobody, and every closed hour is a gap.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from html import unescape
from html.parser import HTMLParser

import pytest

from bot.config import check_text
from bot.config.directory import build_directory
from bot.http.web.simulation_report import render_simulation_report
from bot.usecases.coverage import gaps_ahead
from bot.usecases.directory import Directory
from bot.usecases.simulation import traffic as tr
from bot.usecases.simulation.compare import compare
from bot.usecases.simulation.result import Comparison
from tests.support.app import EXAMPLE_CONFIG
from tests.support.proposals import proposed_text

START, END = date(2026, 11, 9), date(2026, 12, 6)  # four whole weeks, Monday to Sunday
NOW = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)  # Monday 10:00 in Detroit


def directory(text: str, name: str) -> Directory:
    config, problems = check_text(text, name)
    assert config is not None, problems
    return build_directory(config)


@pytest.fixture(scope="module")
def comparison() -> Comparison:
    current = directory(EXAMPLE_CONFIG.read_text(encoding="utf-8"), "agency.toml")
    proposed = directory(proposed_text(), "nights-to-sam.toml")
    messages = tr.synthetic(proposed, START, END, 12, seed=5)
    return compare(
        current,
        proposed,
        messages,
        START,
        END,
        traffic="synthetic 12/day, seed 5",
        current_config="examples/agency.toml",
        proposed_config="nights-to-sam.toml",
        coverage_gaps=gaps_ahead(proposed, NOW),
    )


@pytest.fixture(scope="module")
def html(comparison: Comparison) -> str:
    names = {"acme": "Acme Robotics", "thames": "Thames Analytics"}
    return render_simulation_report(comparison, names)


def text_of(fragment: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", fragment))).strip()


def section(html: str, heading_id: str) -> str:
    start = html.index(f'id="{heading_id}"')
    end = html.find("</section>", start)
    return html[start:end]


def rows(fragment: str) -> list[list[str]]:
    found = []
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", fragment, re.DOTALL):
        cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.DOTALL)
        found.append([text_of(cell) for cell in cells])
    return found


def test_it_is_one_html_document_that_parses(html: str) -> None:
    class Tags(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.tags: list[str] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            self.tags.append(tag)

    parser = Tags()
    parser.feed(html)
    assert html.startswith("<!doctype html>")
    assert parser.tags.count("html") == 1 and parser.tags.count("style") == 1
    assert "script" not in parser.tags and "link" not in parser.tags
    assert "img" not in parser.tags and "iframe" not in parser.tags


def test_it_refers_to_no_url_of_any_kind(html: str) -> None:
    lowered = html.lower()
    for reference in ("http://", "https://", "//", "url(", "@import", " src=", " href="):
        assert reference not in lowered, reference


def test_the_period_traffic_and_both_configurations_are_named(
    html: str, comparison: Comparison
) -> None:
    setup = text_of(html[html.index('class="setup"') : html.index("</dl>")])
    assert "Period Mon Nov 9, 2026 to Sun Dec 6, 2026, both included (America/Detroit)" in setup
    assert f"Traffic {comparison.messages} client messages, synthetic 12/day, seed 5" in setup
    assert "Current examples/agency.toml" in setup
    assert "Proposed nights-to-sam.toml" in setup
    assert comparison.messages > 200


def test_the_headline_figures_stand_side_by_side(html: str, comparison: Comparison) -> None:
    table = rows(section(html, "whatif-headline"))
    shown = {row[0].replace("\u00ad", ""): row[1:] for row in table[1:]}
    a, b = comparison.current.totals(), comparison.proposed.totals()

    def expected(key: str) -> list[str]:
        change = b[key] - a[key]
        return [str(a[key]), str(b[key]), f"{change:+d}" if change else ""]

    assert shown == {
        "Commitments started": expected("commitments_started"),
        "Acknowledgements sent": expected("acknowledgements_sent"),
        "Pages opened": expected("pages_opened"),
        "Page notifications": expected("notifications_sent"),
        "Breaches": expected("breaches"),
        "Nights woken": expected("nights_woken"),
    }
    # Nobody can be paged under the proposal: no notification, no night woken.
    assert b["notifications_sent"] == 0 and b["nights_woken"] == 0
    assert a["notifications_sent"] > 0 and a["nights_woken"] > 0


def test_each_week_is_drawn_for_pages_and_breaches_under_both(
    html: str, comparison: Comparison
) -> None:
    weeks = section(html, "whatif-weeks")
    charts = re.findall(r"<svg.*?</svg>", weeks, re.DOTALL)
    assert len(charts) == 2
    assert [w.week_start for w in comparison.current.weeks] == [
        date(2026, 11, 9),
        date(2026, 11, 16),
        date(2026, 11, 23),
        date(2026, 11, 30),
    ]
    for chart, what in zip(charts, ("pages", "breaches"), strict=True):
        bars = re.findall(r'<rect class="bar"[^>]*><title>(.*?)</title>', chart)
        expected = [
            f"week of {x.week_start}: {side} {getattr(x, what)}"
            for a, b in zip(comparison.current.weeks, comparison.proposed.weeks, strict=True)
            for side, x in (("current", a), ("proposed", b))
        ]
        assert bars == expected
        assert 'role="img"' in chart and "<title id=" in chart


def test_every_person_is_listed_under_both_configurations(
    html: str, comparison: Comparison
) -> None:
    table = rows(section(html, "whatif-people"))
    assert table[0][:3] == ["Person", "", "Pages"]
    by_row = {}
    person = ""
    for row in table[1:]:
        if len(row) in (6, 3):  # the first of a person's two rows carries their name
            person, row = row[0], row[1:]
        by_row[(person, row[0])] = row[1:]
    for p in comparison.current.people:
        steps = " · ".join(f"{s}: {n}" for s, n in p.by_step)
        assert by_row[(f"{p.name} ({p.staff})", "current")] == [
            str(p.pages),
            str(p.notifications),
            steps,
            str(p.nights_woken),
        ]
        assert by_row[(f"{p.name} ({p.staff})", "proposed")] == ["never notified"]
    assert len(by_row) == 2 * len(comparison.current.people)


def test_coverage_gaps_name_their_clients_in_the_agencys_zone(
    html: str, comparison: Comparison
) -> None:
    assert comparison.coverage_gaps
    items = re.findall(r"<li>(.*?)</li>", section(html, "whatif-gaps"), re.DOTALL)
    assert len(items) == len(comparison.coverage_gaps)
    first = text_of(items[0])
    assert first.startswith(
        "Dec 7, 12:00 PM EST to Dec 7, 1:00 PM EST, escalation default: nobody to page: "
    ), first  # the office closes for lunch on Monday
    assert first.endswith("Clients: Acme Robotics (acme), Thames Analytics (thames).")


def test_every_difference_is_given_with_its_examples(html: str, comparison: Comparison) -> None:
    part = section(html, "whatif-differences")
    items = re.findall(r'<li data-kind="([^"]+)">(.*?)</table>', part, re.DOTALL)
    assert [kind for kind, _ in items] == [d.kind for d in comparison.differences]
    assert "paged_people" in [kind for kind, _ in items]
    for (_, item), difference in zip(items, comparison.differences, strict=True):
        assert difference.summary in text_of(item)
        examples = rows(item)[1:]
        assert len(examples) == len(difference.examples) > 0
        for shown, example in zip(examples, difference.examples, strict=True):
            assert shown[1:] == [example.current, example.proposed]


def test_two_alike_configurations_say_so(comparison: Comparison) -> None:
    same = compare(
        build_directory_of_example(),
        build_directory_of_example(),
        [],
        START,
        END,
        traffic="synthetic 0/day",
    )
    html = render_simulation_report(same)
    assert 'id="whatif-no-differences"' in html and 'id="whatif-no-gaps"' in html
    assert "Nobody is notified under either configuration." in html
    assert len(re.findall(r'<rect class="bar"', html)) == 2 * 2 * 4


def build_directory_of_example() -> Directory:
    return directory(EXAMPLE_CONFIG.read_text(encoding="utf-8"), "agency.toml")


def test_client_text_is_escaped() -> None:
    hostile = tr.TrafficMessage(
        at=datetime(2026, 11, 10, 4, 0, tzinfo=UTC),
        client="acme",
        contact="<script>alert(1)</script>",
        channel="sms",
        conversation="x",
    )
    current = build_directory_of_example()
    proposed = directory(proposed_text(), "p.toml")
    html = render_simulation_report(
        compare(current, proposed, [hostile], START, END, traffic="file <b>x</b>.csv")
    )
    assert "<script>" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
