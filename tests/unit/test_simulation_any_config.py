"""The what-if simulator on any configuration `partnerline check` accepts (the generated
configurations of tests/e2e/test_any_config.py: calendars that never open or never close,
one-person and after-hours rotations, escalations naming nobody, DST edges) and any traffic:
it never raises, every message is covered by exactly one commitment under its client's tier,
every page belongs to a commitment whose tier pages, and the comparison's JSON is plain JSON.
"""

from __future__ import annotations

import json
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config import check_text
from bot.config.directory import build_directory
from bot.usecases.simulation.compare import compare
from bot.usecases.simulation.engine import Simulator
from bot.usecases.simulation.traffic import TrafficMessage
from routing.commitments_policy import due_for
from tests.e2e.test_any_config import Generated, configurations, instants

UNKNOWN = "+13135550999"


@st.composite
def traffic(draw: st.DrawFn, generated: Generated) -> list[TrafficMessage]:
    senders = [*generated.contacts, UNKNOWN]
    messages: list[TrafficMessage] = []
    for _ in range(draw(st.integers(1, 4))):
        for at in draw(instants()):
            sender = draw(st.sampled_from(senders))
            index = generated.contacts.index(sender) if sender in generated.contacts else None
            client = None if index is None else ["acme", "zenith"][index]
            delays = st.none() | st.integers(0, 3 * 86400).map(lambda s: timedelta(seconds=s))
            messages.append(
                TrafficMessage(
                    at=at,
                    client=client,
                    contact=f"Client {index} Contact" if index is not None else sender,
                    channel="sms",
                    conversation=sender,
                    answered_after=draw(delays),
                    acked_after=draw(delays),
                    opted_out=draw(st.booleans()),
                    named=client is not None,
                )
            )
    return sorted(messages, key=lambda m: m.at)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data(), generated=configurations())
def test_any_configuration_and_traffic_replays_with_a_commitment_for_every_message(
    data: st.DataObject, generated: Generated
) -> None:
    config, problems = check_text(generated.text, "any.toml")
    assert config is not None, problems
    directory = build_directory(config)
    messages = data.draw(traffic(generated))
    zone = directory.zone
    start = min(m.at for m in messages).astimezone(zone).date()
    end = max(m.at for m in messages).astimezone(zone).date()

    outcome = Simulator(directory).run(messages, start, end)

    assert sum(c.messages for c in outcome.commitments) == len(messages)
    by_message = {(m.conversation, m.at): m for m in messages}
    for c in outcome.commitments:
        m = by_message[(c.conversation, c.message_at)]
        tier = directory.terms_of(m.client).tier
        due = due_for(directory.commitments[tier], m.at)
        assert (c.tier, c.due_at, c.after_hours) == (tier, due.due_at, due.after_hours)
    paged = {(c.conversation, c.message_at) for c in outcome.commitments if c.paged}
    for page in outcome.pages:
        assert (page.conversation, page.message_at) in paged
        assert all(n.staff in directory.staff for n in page.notifications)
        assert page.steps_reached >= 1 or page.ended != "exhausted"
    assert sum(p.notifications for p in outcome.people) == sum(
        1 for p in outcome.pages for n in p.notifications if not n.coalesced
    )
    assert sum(w.messages for w in outcome.weeks) == len(messages)

    result = compare(directory, directory, messages, start, end, traffic="generated")
    assert result.differences == ()
    json.dumps(result.to_json())


def test_a_night_is_counted_in_the_persons_own_zone() -> None:
    """20:30 in Detroit is 01:30 in London: Raj, paged then, is woken only if he lives there."""
    from datetime import date, datetime
    from zoneinfo import ZoneInfo

    from bot.config import load_config
    from tests.usecases.rig import STORY_CONFIG

    directory = build_directory(load_config(STORY_CONFIG))
    evening = datetime(2026, 12, 8, 20, 30, tzinfo=ZoneInfo("America/Detroit"))
    dana = TrafficMessage(evening, "acme", "Dana Reyes", "sms", "dana", timedelta(minutes=10))
    day = date(2026, 12, 8)

    def raj(zones: dict[str, ZoneInfo]) -> tuple[int, tuple[date, ...]]:
        outcome = Simulator(directory, zones=zones).run([dana], day, day)
        [load] = [p for p in outcome.people if p.staff == "raj"]
        return load.nights_woken, load.nights

    assert raj({}) == (0, ())
    assert raj({"raj": ZoneInfo("Europe/London")}) == (1, (date(2026, 12, 8),))
