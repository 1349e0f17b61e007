"""Escalation rules: chain positions, targets, staff commands, coalescing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from routing.escalation import (
    COALESCE_WINDOW,
    NotifyRule,
    Policy,
    Position,
    Step,
    coalesce_until,
    next_position,
    parse_staff_text,
    resolve_targets,
)

T = datetime(2026, 12, 8, 0, 5, tzinfo=UTC)
POLICY = Policy(
    name="default",
    steps=(
        Step(("rotation:after-hours",), timedelta(minutes=10)),
        Step(("rotation:after-hours+1", "account_team"), timedelta(minutes=10)),
        Step(("rotation:leadership",), timedelta(minutes=15)),
    ),
    repeat=1,
    account_team=("ana", "jim"),
    notify={"jim": (NotifyRule("slack", timedelta(0)), NotifyRule("sms", timedelta(minutes=5)))},
)


def test_chain_runs_its_steps_then_repeats_then_ends() -> None:
    seen = [Position(1, 0)]
    while (following := next_position(POLICY, seen[-1])) is not None:
        seen.append(following)
    assert seen == [Position(s, r) for r in (0, 1) for s in (1, 2, 3)]


def test_policy_snapshot_round_trips_through_json() -> None:
    assert Policy.from_json(POLICY.to_json()) == POLICY


def test_targets_resolve_in_order_each_person_once() -> None:
    on_call = {("after-hours", 0): "raj", ("after-hours", 1): "jim", ("leadership", 0): "kim"}
    people = resolve_targets(
        ("rotation:after-hours+1", "account_team", "staff:kim", "rotation:after-hours"),
        POLICY.account_team,
        lambda rotation, offset: on_call.get((rotation, offset)),
    )
    assert people == ["jim", "ana", "kim", "raj"]


def test_a_rotation_with_nobody_on_call_adds_nobody() -> None:
    assert resolve_targets(("rotation:after-hours",), (), lambda r, o: None) == []


def test_unknown_target_is_refused() -> None:
    with pytest.raises(ValueError):
        resolve_targets(("team:everyone",), (), lambda r, o: None)


@pytest.mark.parametrize(
    ("text", "kind", "page", "rest"),
    [
        ("ACK", "ack", None, ""),
        ("ack", "ack", None, ""),
        (" Ack. ", "ack", None, ""),
        ("ACK 12", "ack", 12, ""),
        ("ack #7", "ack", 7, ""),
        ("acknowledge 3", "ack", 3, ""),
        ("12 on my way", "relay", 12, "on my way"),
        ("#12 on my way", "relay", 12, "on my way"),
        ("On it, calling you now", "relay", None, "On it, calling you now"),
        ("ACKNOWLEDGED the typo, fixing", "relay", None, "ACKNOWLEDGED the typo, fixing"),
        ("2024 numbers attached?", "relay", 2024, "numbers attached?"),
    ],
)
def test_staff_text_means_ack_or_an_answer(
    text: str, kind: str, page: int | None, rest: str
) -> None:
    command = parse_staff_text(text)
    assert (command.kind, command.page_id, command.text) == (kind, page, rest)


def test_coalescing_holds_a_second_page_until_the_window_closes() -> None:
    assert coalesce_until(None, T) is None
    assert coalesce_until(T, T + timedelta(seconds=30)) == T + COALESCE_WINDOW
    assert coalesce_until(T, T + COALESCE_WINDOW) is None
    assert coalesce_until(T, T + timedelta(seconds=2), timedelta(seconds=3)) == T + timedelta(
        seconds=3
    )
