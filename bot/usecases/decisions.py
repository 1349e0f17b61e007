"""What the configuration decides about a client message and its page, as pure functions of
the directory and the clock: the one place the live use cases (availability.py, paging.py)
and the what-if simulator (bot/usecases/simulation/) take these decisions from, so that a
replay decides exactly what the worker would.

- `promise_for`: the tier of a message's client, its due and at-risk times, and whether it is
  acknowledged (after hours) and pages (the tier's `page_oncall`).
- `acknowledgement`: the text of the after-hours acknowledgement (None: none is sent), with
  `first_oncall_name` for its `{oncall_first_name}`.
- `step_people`, `step_notices`, `after_step`: whom a page's step notifies, on which
  channels and when, and when the next step runs (at once when the step reached nobody).
- `staff_target`, `first_reachable`: where a person is reached on a channel.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.usecases.directory import ClientTerms, Directory
from routing import escalation as esc
from routing.commitments_policy import CommitmentPolicy, DueTimes, due_for, should_page
from routing.directory import StaffEntry
from routing.messages import Channel
from routing.plain_time import due_in_words
from routing.router import ContactRef

# Who holds rotation ID now (offset 0), or N places after; None: nobody (what
# routing.escalation.on_call_lookup gives).
OnCall = Callable[[str, int], str | None]
# `{oncall_first_name}` when the escalation would page nobody now.
ONCALL_FALLBACK = "our on-call lead"


@dataclass(frozen=True, slots=True)
class Promise:
    """What a client message that starts a commitment is promised."""

    terms: ClientTerms
    policy: CommitmentPolicy
    due: DueTimes
    acknowledge: bool  # an after-hours acknowledgement is due (if the tier has a text)
    page: bool  # the tier pages the on-call person for it

    @property
    def tier(self) -> str:
        return self.terms.tier


def promise_for(directory: Directory, client_id: str | None, received_at: datetime) -> Promise:
    terms = directory.terms_of(client_id)
    policy = directory.commitments[terms.tier]
    due = due_for(policy, received_at)
    return Promise(terms, policy, due, due.after_hours, should_page(policy, due.after_hours))


def first_oncall_name(
    policy: esc.Policy | None, staff: Mapping[str, StaffEntry], who: OnCall
) -> str | None:
    """The first person the escalation would page now, by first name: the first of the first
    step that names anybody (steps with nobody are passed at once)."""
    if policy is None:
        return None
    for step in policy.steps:
        people = esc.resolve_targets(step.targets, policy.account_team, who)
        person = staff.get(people[0]) if people else None
        if person is not None:
            return person.first_name
    return None


def acknowledgement(
    directory: Directory,
    terms: ClientTerms,
    contact: ContactRef | None,
    due_at: datetime,
    now: datetime,
    oncall_name: str | None,
) -> str | None:
    """The after-hours acknowledgement's text; None when none goes out (the tier has no
    text, or the contact cannot be written to)."""
    template = directory.auto_replies[terms.tier]
    if not template or contact is None or contact.opted_out or contact.unreachable:
        return None
    return template.format(
        contact_first_name=(contact.name or "there").split()[0],
        agency=directory.agency,
        due_local=due_in_words(due_at, now, terms.zone),
        oncall_first_name=oncall_name or ONCALL_FALLBACK,
    )


def notify_rules(
    policy: esc.Policy, staff: Mapping[str, StaffEntry], staff_id: str
) -> tuple[esc.NotifyRule, ...]:
    """How to reach a person a page's step found on call: as the page copied it when it
    opened; someone it never knew (added by a reload since, and on call now) the way the
    configuration says now, rather than nobody."""
    if staff_id in policy.notify:
        return tuple(policy.notify[staff_id])
    person = staff.get(staff_id)
    return tuple(person.notify) if person is not None else ()


def step_people(policy: esc.Policy, step: esc.Step, who: OnCall) -> list[str]:
    return esc.resolve_targets(step.targets, policy.account_team, who)


def step_notices(
    policy: esc.Policy, people: Sequence[str], staff: Mapping[str, StaffEntry], now: datetime
) -> list[tuple[str, esc.NotifyRule, datetime]]:
    """Each notification a step sends: (person, rule, when it is due), in order."""
    return [
        (staff_id, rule, now + rule.delay)
        for staff_id in people
        for rule in notify_rules(policy, staff, staff_id)
    ]


def after_step(
    policy: esc.Policy,
    position: esc.Position,
    people: Sequence[str],
    staff: Mapping[str, StaffEntry],
    now: datetime,
) -> tuple[esc.Position, datetime] | None:
    """The step after `position` and when it runs; None when the chain is done. A step that
    reached nobody passes on at once within its round; between rounds its wait still
    applies, so a page that finds nobody cannot spin."""
    following = esc.next_position(policy, position)
    if following is None:
        return None
    reached = any(notify_rules(policy, staff, person) for person in people)
    at_once = not reached and following.round == position.round
    wait: timedelta = policy.steps[position.step - 1].wait
    return following, now if at_once else now + wait


def staff_target(staff: StaffEntry, channel: str) -> tuple[Channel, str] | None:
    """Where to reach a person on one of their notify channels."""
    if channel == "voice" and staff.sms:
        return Channel.VOICE, staff.sms
    if channel == "sms" and staff.sms:
        return Channel.SMS, staff.sms
    if channel == "telegram" and staff.telegram is not None:
        return Channel.TELEGRAM, str(staff.telegram)
    if channel == "slack" and staff.slack:
        return Channel.SLACK, staff.slack
    return None


def first_reachable(staff: StaffEntry) -> tuple[Channel, str] | None:
    for rule in staff.notify:
        found = staff_target(staff, "sms" if rule.channel == "voice" else rule.channel)
        if found is not None:
            return found
    return None
