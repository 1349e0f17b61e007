"""How a commitment ends: met, breached then answered, unanswered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from routing.commitments import (
    Commitment,
    State,
    answer,
    becomes_at_risk,
    close_unanswered,
    falls_due,
)

T = datetime(2026, 12, 8, 15, 0, tzinfo=UTC)
PENDING = Commitment(
    id=1,
    conversation_id=7,
    tier="priority",
    state=State.PENDING,
    after_hours=False,
    started_at=T,
    due_at=T + timedelta(minutes=30),
    at_risk_at=T + timedelta(minutes=22),
)


def test_pending_then_at_risk_then_met() -> None:
    at_risk, events = becomes_at_risk(PENDING, T + timedelta(minutes=22))
    assert at_risk.state is State.AT_RISK and [e.state for e in events] == [State.AT_RISK]
    met, events = answer(at_risk, T + timedelta(minutes=25))
    assert met.state is State.MET and met.met_at == met.answered_at == T + timedelta(minutes=25)
    assert not met.awaiting_reply


def test_breach_stands_after_a_late_answer() -> None:
    breached, _ = falls_due(PENDING, PENDING.due_at)
    assert breached.state is State.BREACHED and breached.awaiting_reply
    late, events = answer(breached, T + timedelta(hours=2))
    assert late.state is State.BREACHED and late.met_at is None
    assert late.answered_at == T + timedelta(hours=2) and [e.state for e in events] == ["answered"]


def test_transitions_that_no_longer_apply_change_nothing() -> None:
    met, _ = answer(PENDING, T)
    for step in (becomes_at_risk, falls_due, close_unanswered, answer):
        assert step(met, T + timedelta(hours=1)) == (met, [])
    breached, _ = falls_due(PENDING, PENDING.due_at)
    assert becomes_at_risk(breached, T) == (breached, [])


def test_closing_without_a_reply_is_unanswered_not_met() -> None:
    closed, events = close_unanswered(PENDING, T + timedelta(minutes=5))
    assert closed.state is State.UNANSWERED and closed.met_at is None
    assert not closed.awaiting_reply and [e.state for e in events] == [State.UNANSWERED]
