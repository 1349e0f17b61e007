"""Coverage gaps: the stretches of time in which a client's message would page nobody.

A client's message pages when its tier says so (`should_page`: `page_oncall = "always"`, or
`"after_hours"` while the tier's calendar is closed). The live worker (bot.usecases.paging) then
runs the client's escalation: a step whose targets name nobody who can be notified passes on at
once to the next, so the page reaches nobody exactly when, at that instant, *no* step of the
chain names anyone with a notify rule (in the policy's `notify`, where the directory puts every
staff member's rules). A gap is such a stretch, for one escalation and one
reason, with the clients it leaves uncovered. The targets are resolved by the very lookup the
worker uses (`routing.escalation.on_call_lookup` and `resolve_targets`).

Typical causes: a rotation step with nobody on call (an after-hours rotation whose own calendar
is open while the client's is closed, a rotation that has not started); a rotation overridden
to someone who cannot be notified; a person or an account team with no notify rule; a client
whose tier pages but who has no escalation at all.

Nothing is sampled: the answer can change only where a rotation changes hands or a period of
it starts or ends (handoffs, its calendar opening or closing, an override's edges), where a
client's calendar opens or closes, or at the ends of the range. Those instants are collected,
each stretch between two of them is judged once, and neighbouring stretches with the same
escalation, reason and clients are one gap.

All instants going in must be timezone-aware; every instant coming out is in UTC.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from routing import escalation as esc
from routing.commitments_policy import CommitmentPolicy, should_page
from routing.rotations import (
    Override,
    Rotation,
    handoff_at,
    shift_at,
    shifts_between,
)

# How far the coverage page and `partnerline check` look ahead.
HORIZON = timedelta(days=90)
# A rotation with more handoffs than this in the range is not walked handoff by handoff for
# its "+N" targets (a one-minute shift over 90 days); its on-call periods still are.
_MAX_HANDOFFS = 20_000


@dataclass(frozen=True, slots=True)
class CoveredClient:
    """A client as coverage sees it: what its tier promises (calendar, whether it pages) and
    the escalation its pages run (None: it has none)."""

    id: str
    commitment: CommitmentPolicy
    escalation: esc.Policy | None


@dataclass(frozen=True, slots=True)
class Gap:
    """[start, end) in UTC, in which a message from any of `clients` would page nobody."""

    start: datetime
    end: datetime
    reason: str  # in plain words
    escalation: str | None  # the escalation policy concerned; None: the clients have none
    rotations: tuple[str, ...]  # the rotations its steps name, in order of first mention
    clients: tuple[str, ...]  # client ids, in the order they were given


def coverage_gaps(
    clients: Iterable[CoveredClient],
    rotations: Mapping[str, Rotation],
    start: datetime,
    end: datetime,
    overrides: Sequence[Override] = (),
) -> list[Gap]:
    """Every gap in [start, end), ordered by start, then escalation, then reason."""
    start, end = _as_utc(start), _as_utc(end)
    clients = list(clients)
    if end <= start:
        return []
    # Who is uncovered, why, and when: (escalation, rotations, reason) -> client -> stretches.
    found: dict[tuple[str | None, tuple[str, ...], str], dict[str, list[_Span]]] = defaultdict(
        lambda: defaultdict(list)
    )
    judged: dict[tuple[object, ...], list[tuple[_Span, str]]] = {}
    paging: dict[int, list[_Span]] = {}
    for client in clients:
        windows = paging.get(id(client.commitment))
        if windows is None:
            windows = paging[id(client.commitment)] = _paging_windows(client.commitment, start, end)
        if not windows:
            continue
        policy = client.escalation
        if policy is None:
            key: tuple[str | None, tuple[str, ...], str] = (
                None,
                (),
                "the client's tier pages, but the client has no escalation policy",
            )
            found[key][client.id].extend(windows)
            continue
        names = _rotations_named(policy)
        policy_key = (policy.name, policy.steps, policy.account_team, id(policy.notify))
        failing = judged.get(policy_key)
        if failing is None:
            failing = judged[policy_key] = _failing(policy, names, rotations, start, end, overrides)
        for (a, b), reason in _overlaps(failing, windows):
            found[(policy.name, names, reason)][client.id].append((a, b))
    order = {client.id: n for n, client in enumerate(clients)}
    gaps: list[Gap] = []
    for (name, names, reason), by_client in found.items():
        gaps.extend(_merged(name, names, reason, by_client, order))
    gaps.sort(key=lambda g: (g.start, g.escalation or "", g.reason, g.end))
    return gaps


_Span = tuple[datetime, datetime]


def _overlaps(
    failing: Sequence[tuple[_Span, str]], windows: Sequence[_Span]
) -> list[tuple[_Span, str]]:
    """Where the failing stretches and the paging windows (both sorted, disjoint) meet."""
    out: list[tuple[_Span, str]] = []
    i = j = 0
    while i < len(failing) and j < len(windows):
        (a, b), reason = failing[i]
        c, d = windows[j]
        if max(a, c) < min(b, d):
            out.append(((max(a, c), min(b, d)), reason))
        if b <= d:
            i += 1
        else:
            j += 1
    return out


def _merged(
    escalation: str | None,
    rotations: tuple[str, ...],
    reason: str,
    by_client: Mapping[str, list[_Span]],
    order: Mapping[str, int],
) -> list[Gap]:
    """One gap per stretch with the same clients, neighbours with the same clients joined."""
    edges: dict[datetime, list[tuple[int, str]]] = defaultdict(list)
    for client, spans in by_client.items():
        for a, b in spans:
            edges[a].append((1, client))
            edges[b].append((-1, client))
    gaps: list[Gap] = []
    inside: dict[str, int] = defaultdict(int)
    instants = sorted(edges)
    for a, b in itertools.pairwise(instants):
        for change, client in edges[a]:
            inside[client] += change
        affected = tuple(sorted((c for c, n in inside.items() if n > 0), key=order.__getitem__))
        if not affected:
            continue
        last = gaps[-1] if gaps else None
        if last is not None and last.end == a and last.clients == affected:
            gaps[-1] = Gap(last.start, b, reason, escalation, rotations, affected)
        else:
            gaps.append(Gap(a, b, reason, escalation, rotations, affected))
    return gaps


def _as_utc(t: datetime) -> datetime:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError("an instant must be timezone-aware")
    return t.astimezone(UTC)


def _paging_windows(policy: CommitmentPolicy, start: datetime, end: datetime) -> list[_Span]:
    """Where in [start, end) a message of this tier pages: the calendar's closed stretches
    ("after_hours"), all of it ("always"), or none ("never")."""
    if policy.page_oncall == "never":
        return []
    if policy.page_oncall == "always":
        return [(start, end)]
    windows: list[_Span] = []
    calendar = policy.calendar
    t: datetime | None = start
    while t is not None and t < end:
        if calendar.is_open(t):
            t = calendar.next_close(t)
            continue
        opens = calendar.next_open(t)
        closed_until = end if opens is None else min(opens, end)
        # should_page is the worker's own rule; a closed calendar is "after hours".
        if should_page(policy, after_hours=True):
            windows.append((t, closed_until))
        t = opens
    return windows


def _rotations_named(policy: esc.Policy) -> tuple[str, ...]:
    names: list[str] = []
    for step in policy.steps:
        for target in step.targets:
            rotation, _ = _rotation_target(target)
            if rotation is not None and rotation not in names:
                names.append(rotation)
    return tuple(names)


def _rotation_target(target: str) -> tuple[str | None, int]:
    if not target.startswith("rotation:"):
        return None, 0
    body = target.removeprefix("rotation:")
    rotation, plus, offset = body.partition("+")
    return rotation, int(offset) if plus and offset.isdigit() else 0


def _failing(
    policy: esc.Policy,
    names: tuple[str, ...],
    rotations: Mapping[str, Rotation],
    start: datetime,
    end: datetime,
    overrides: Sequence[Override],
) -> list[tuple[_Span, str]]:
    """The stretches of [start, end) in which no step of `policy` reaches anyone, with why."""
    with_offsets = {
        name
        for step in policy.steps
        for target in step.targets
        for name, offset in [_rotation_target(target)]
        if name is not None and offset > 0
    }
    points = {start, end}
    for name in names:
        rotation = rotations.get(name)
        if rotation is not None:
            points.update(_change_points(rotation, start, end, overrides, name in with_offsets))
    instants = sorted(p for p in points if start <= p <= end)
    out: list[tuple[_Span, str]] = []
    for a, b in itertools.pairwise(instants):
        reason = _why_nobody(policy, rotations, a, overrides)
        if reason is None:
            continue
        if out and out[-1][0][1] == a and out[-1][1] == reason:
            out[-1] = ((out[-1][0][0], b), reason)
        else:
            out.append(((a, b), reason))
    return out


def _change_points(
    rotation: Rotation,
    start: datetime,
    end: datetime,
    overrides: Sequence[Override],
    with_handoffs: bool,
) -> set[datetime]:
    """Instants in [start, end] at which who `rotation` names (now, or N shifts on) may change."""
    points: set[datetime] = set()
    for period in shifts_between(rotation, start, end, overrides):
        points.update((period.start, period.end))
    mine = [o for o in overrides if o.rotation == rotation.id]
    for override in mine:
        points.update((override.start, override.end))
    points.add(handoff_at(rotation, 0))  # "has not started" ends
    if with_handoffs:  # "+N" moves on at every handoff, inside business hours too
        shift = shift_at(rotation, start)
        index = 0 if shift is None else shift.index + 1
        for _ in range(_MAX_HANDOFFS):
            at = handoff_at(rotation, index)
            if at >= end:
                break
            points.add(at)
            index += 1
    return points


def _why_nobody(
    policy: esc.Policy,
    rotations: Mapping[str, Rotation],
    t: datetime,
    overrides: Sequence[Override],
) -> str | None:
    """None when some step of `policy` reaches someone at `t`, else why none does."""
    who = esc.on_call_lookup(rotations, t, overrides)
    reasons: list[str] = []
    for step in policy.steps:
        people = esc.resolve_targets(step.targets, policy.account_team, who)
        if any(policy.notify.get(person) for person in people):
            return None
        for target in step.targets:
            for reason in _why_target(target, policy, rotations, t, overrides, who):
                if reason not in reasons:
                    reasons.append(reason)
    return "nobody to page: " + "; ".join(reasons) if reasons else "nobody to page"


def _why_target(
    target: str,
    policy: esc.Policy,
    rotations: Mapping[str, Rotation],
    t: datetime,
    overrides: Sequence[Override],
    who: Callable[[str, int], str | None],
) -> list[str]:
    if target == "account_team":
        if not policy.account_team:
            return ["the client has no account team"]
        return [_unreachable(p, policy) for p in policy.account_team]
    if target.startswith("staff:"):
        return [_unreachable(target.removeprefix("staff:"), policy)]
    name, offset = _rotation_target(target)
    if name is None:
        return []
    rotation = rotations.get(name)
    if rotation is None:
        return [f"rotation {name!r} does not exist"]
    person = who(name, offset)
    if person is None:
        if t < handoff_at(rotation, 0):
            return [f"rotation {name!r} has not started yet"]
        if rotation.only_after_hours and rotation.hours is not None and rotation.hours.is_open(t):
            return [f"rotation {name!r} is on call only after hours, and its calendar is open"]
        return [f"nobody is on call for rotation {name!r}"]
    overridden = any(o.rotation == name and o.covers(t) for o in overrides) and offset == 0
    if overridden:
        return [f"rotation {name!r} is overridden to {_unreachable(person, policy)}"]
    label = target.removeprefix("rotation:")
    return [f"on call for rotation {label!r}: {_unreachable(person, policy)}"]


def _unreachable(person: str, policy: esc.Policy) -> str:
    if person not in policy.notify:
        return f"{person!r}, who is not on the staff list"
    return f"{person!r}, who has no notify rule"
