"""A client's message routed in (Services.route_journalled, then its follow-up): the commitment
it starts, and after hours the acknowledgement and the page (bot.usecases.availability)."""

from __future__ import annotations

from datetime import datetime

from routing.messages import Channel
from tests.usecases.rig import DANA, DETROIT, LUCY, RAJ, TUESDAY_EVENING, Rig


def test_in_business_hours_a_commitment_starts_due_per_tier_with_no_ack_and_no_page(
    rig: Rig,
) -> None:
    # Wednesday 10:00 in Detroit, the office open.
    priority = rig.client_writes(DANA, "Can we move the interview?")
    standard = rig.client_writes(LUCY, "New menu photos attached.")

    [(acme, events)] = rig.commitments(priority)
    assert (acme.tier, acme.state, acme.after_hours) == ("priority", "pending", False)
    assert acme.due_at == datetime(2026, 12, 9, 10, 30, tzinfo=DETROIT)  # 30 business minutes
    assert acme.at_risk_at == datetime(2026, 12, 9, 10, 22, 30, tzinfo=DETROIT)  # at 75%
    assert events == ["pending"]
    [(bakery, _)] = rig.commitments(standard)
    assert (bakery.tier, bakery.after_hours) == ("standard", False)
    assert bakery.due_at == datetime(2026, 12, 9, 14, 0, tzinfo=DETROIT)  # 4 business hours

    assert rig.conversation(priority).due_at == acme.due_at  # the inbox sorts by it
    assert [m.direction for m in rig.messages(priority)] == ["in"]  # no acknowledgement
    assert rig.page_of(priority) is None  # the priority tier pages after hours only
    assert rig.sent.all() == []


def test_after_hours_the_client_hears_who_is_on_call_and_by_when_and_a_page_opens(
    rig: Rig,
) -> None:
    rig.clock.set(TUESDAY_EVENING)  # 19:05: Raj is on call

    conv = rig.client_writes(DANA, "Our statement has a typo!")

    [(commitment, _)] = rig.commitments(conv)
    assert commitment.after_hours
    assert commitment.due_at == datetime(2026, 12, 8, 20, 5, tzinfo=DETROIT)  # 1 h, wall clock
    [_, ack] = rig.messages(conv)
    assert (ack.direction, ack.author_type, ack.author_name) == ("auto", "system", "Partnerline")
    assert ack.text == (
        "Thanks Dana. It's after hours at Lakeshore Communications, and Raj is on call: "
        "you'll hear back by 8:05 PM EST."
    )
    assert rig.sent.texts(Channel.SMS, DANA) == [ack.text]
    page = rig.page_of(conv)
    assert page is not None and (page.state, page.step) == ("open", 1)
    assert page.commitment_id == commitment.id
    [paged] = rig.sent.texts(Channel.SMS, RAJ)
    assert paged.startswith(f'Page {page.id}: Dana Reyes (Acme Robotics) wrote on sms: "Our')
    assert "Reply due by 8:05 PM EST." in paged


def test_after_hours_a_tier_that_never_pages_acknowledges_with_the_next_business_day(
    rig: Rig,
) -> None:
    rig.clock.set(TUESDAY_EVENING)

    conv = rig.client_writes(LUCY, "Order for Friday?")

    [(commitment, _)] = rig.commitments(conv)
    # The standard tier's 4 business hours start when the office opens, Wednesday 09:00.
    assert commitment.due_at == datetime(2026, 12, 9, 13, 0, tzinfo=DETROIT)
    assert rig.sent.texts(Channel.SMS, LUCY) == [
        "Thanks Lucy, your message reached Lakeshore Communications. We're out of the office "
        "right now; you'll hear from us by Wednesday 1:00 PM EST."
    ]
    assert rig.page_of(conv) is None
    assert [m.channel for m in rig.sent.all()] == [Channel.SMS]  # nobody else was told
