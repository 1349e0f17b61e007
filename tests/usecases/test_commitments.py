"""A commitment's timers: at risk, then breached, each telling the responders
(bot.usecases.availability, fired by the worker at the frozen clock's time)."""

from __future__ import annotations

from datetime import datetime, timedelta

from routing.messages import Channel
from tests.usecases.rig import ANA_AUTHOR, DETROIT, LUCY, RAJ, Rig


def test_past_its_due_time_an_unanswered_commitment_is_breached_and_stays_so(
    rig: Rig,
) -> None:
    conv = rig.client_writes(LUCY, "Where is our invoice?")  # Wednesday 10:00, due 14:00
    [(commitment, _)] = rig.commitments(conv)

    rig.advance_to(commitment.due_at - timedelta(seconds=1))
    assert rig.commitments(conv)[0][0].state == "at_risk"  # from 13:00, 75% of the window
    [at_risk] = rig.sent.texts(Channel.SMS, RAJ)  # Brightside's account team
    assert at_risk.startswith("At risk: Brightside Bakery (Lucy Chen, sms), reply due by")

    rig.advance_to(commitment.due_at)

    [(breached, events)] = rig.commitments(conv)
    assert breached.state == "breached" and breached.breached_at == commitment.due_at
    assert events == ["pending", "at_risk", "breached"]
    assert rig.conversation(conv).commitment_state == "breached"
    assert rig.sent.texts(Channel.SMS, RAJ)[-1] == (
        "Breached: Brightside Bakery (Lucy Chen, sms), reply was due at 2:00 PM EST."
    )

    # A late reply is recorded as answered; the breach stands.
    rig.clock.set(datetime(2026, 12, 9, 14, 30, tzinfo=DETROIT))
    rig.services.reply(conv, "Sorry, sending it now.", ANA_AUTHOR)
    [(answered, events)] = rig.commitments(conv)
    assert answered.state == "breached" and answered.answered_at == rig.clock.now()
    assert events[-1] == "answered"
