"""Checks that span sections: ids are unique, every reference names something that exists, and
no address belongs to two people (the router could not tell who wrote).

They read the plain document (a dict as tomllib returns it, or a model dump), skipping whatever
has the wrong shape: a malformed section is the models' to report, and these checks still run
over the rest, so that one `check` shows every problem at once.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from typing import Any

from bot.config.fields import Target
from bot.config.problems import Loc

Found = list[tuple[Loc, str]]


def reference_problems(data: Mapping[str, Any]) -> Found:
    found: Found = []
    staff = _ids(data, "staff", "staff", found)
    _ids(data, "rotations", "rotation", found)
    _ids(data, "clients", "client", found)
    calendars = _keys(data, "hours")
    tiers = _keys(data, "commitments")
    escalations = _named(data, "escalations")
    members: dict[str | None, Any] = {}  # the first rotation of each id, as duplicates are errors
    for _, rotation in _tables(data, "rotations"):
        members.setdefault(_text(rotation, "id"), rotation.get("members"))

    def need(loc: Loc, name: object, known: Collection[str], what: str) -> None:
        if isinstance(name, str) and name not in known:
            found.append((loc, f"no such {what} {name!r}"))

    for name, commitment in _named(data, "commitments").items():
        need(("commitments", name, "hours"), commitment.get("hours"), calendars, "calendar")

    for index, rotation in _tables(data, "rotations"):
        need(("rotations", index, "hours"), rotation.get("hours"), calendars, "calendar")
        for position, member in _strings(rotation, "members"):
            need(("rotations", index, "members", position), member, staff, "staff member")

    for name, escalation in escalations.items():
        for step_index, step in _tables(escalation, "steps"):
            for position, text in _strings(step, "notify"):
                loc: Loc = ("escalations", name, "steps", step_index, "notify", position)
                found.extend(_target_problems(loc, text, staff, members))

    for index, client in _tables(data, "clients"):
        need(("clients", index, "commitment"), client.get("commitment"), tiers, "commitment tier")
        need(("clients", index, "escalation"), client.get("escalation"), escalations, "escalation")
        for position, member in _strings(client, "account_team"):
            need(("clients", index, "account_team", position), member, staff, "staff member")
        named = _text(client, "escalation")
        policy = escalations.get(named) if named is not None else None
        team = client.get("account_team")
        if policy is not None and team == [] and _notifies_account_team(policy):
            found.append(
                (
                    ("clients", index, "account_team"),
                    f"escalation {client['escalation']!r} notifies account_team, but it is empty",
                )
            )

    unknown = data.get("unknown_senders")
    if isinstance(unknown, Mapping):
        need(("unknown_senders", "commitment"), unknown.get("commitment"), tiers, "commitment tier")
        for position, member in _strings(unknown, "account_team"):
            need(("unknown_senders", "account_team", position), member, staff, "staff member")

    found.extend(_shared_addresses(data))
    found.extend(_shared_slack_channels(data))
    return found


def _target_problems(loc: Loc, text: str, staff: set[str], members: dict[str | None, Any]) -> Found:
    try:
        target = Target.parse(text)
    except ValueError:
        return []  # the model reports the syntax
    if target.kind == "staff" and target.ref not in staff:
        return [(loc, f"no such staff member {target.ref!r}")]
    if target.kind != "rotation":
        return []
    if target.ref not in members:
        return [(loc, f"no such rotation {target.ref!r}")]
    rotation_members = members[target.ref]
    if isinstance(rotation_members, list) and rotation_members:
        count = len(rotation_members)
        if target.offset >= count:
            people = "member" if count == 1 else "members"
            return [
                (
                    loc,
                    f"rotation {target.ref!r} has only {count} {people}, so +{target.offset}"
                    " comes back round to someone already counted",
                )
            ]
    return []


def _notifies_account_team(escalation: Mapping[str, Any]) -> bool:
    return any(
        text == "account_team"
        for _, step in _tables(escalation, "steps")
        for _, text in _strings(step, "notify")
    )


def _shared_addresses(data: Mapping[str, Any]) -> Iterator[tuple[Loc, str]]:
    """The same sms number, telegram id or slack id on two people (staff or contacts)."""
    owners: dict[tuple[str, object], str] = {}
    people: list[tuple[Loc, Mapping[str, Any], str]] = []
    for index, member in _tables(data, "staff"):
        who = f"staff member {member['id']!r}" if _text(member, "id") else f"staff[{index}]"
        people.append((("staff", index), member, who))
    for index, client in _tables(data, "clients"):
        client_name = _text(client, "id") or f"clients[{index}]"
        for position, contact in _tables(client, "contacts"):
            name = _text(contact, "name") or f"contacts[{position}]"
            who = f"contact {name!r} of client {client_name!r}"
            people.append((("clients", index, "contacts", position), contact, who))
    for loc, person, who in people:
        for kind in ("sms", "telegram", "slack"):
            address = person.get(kind)
            if address is None or isinstance(address, bool | dict | list):
                continue
            if (kind, address) in owners:
                yield (*loc, kind), f"{kind} {address} is already used by {owners[kind, address]}"
            else:
                owners[kind, address] = who


def _shared_slack_channels(data: Mapping[str, Any]) -> Iterator[tuple[Loc, str]]:
    """A Slack channel must lead to one client, and the staff channel to none."""
    owners: dict[str, str] = {}
    channels = data.get("channels")
    slack = channels.get("slack") if isinstance(channels, Mapping) else None
    staff_channel = slack.get("staff_channel") if isinstance(slack, Mapping) else None
    if isinstance(staff_channel, str):
        owners[staff_channel] = "the staff channel ([channels.slack] staff_channel)"
    for index, client in _tables(data, "clients"):
        who = f"client {client['id']!r}" if _text(client, "id") else f"clients[{index}]"
        for position, channel in _strings(client, "slack_channels"):
            if channel in owners:
                loc = ("clients", index, "slack_channels", position)
                yield loc, f"slack channel {channel} is already used by {owners[channel]}"
            else:
                owners[channel] = who


# -- reading a document that may be malformed ---------------------------------------------------


def _ids(data: Mapping[str, Any], section: str, what: str, found: Found) -> set[str]:
    first: dict[str, int] = {}
    for index, table in _tables(data, section):
        ident = _text(table, "id")
        if ident is None:
            continue
        if ident in first:
            found.append(
                (
                    (section, index, "id"),
                    f"duplicate {what} id {ident!r} (also {section}[{first[ident]}])",
                )
            )
        else:
            first[ident] = index
    return set(first)


def _keys(data: Mapping[str, Any], key: str) -> set[str]:
    value = data.get(key)
    return set(value) if isinstance(value, Mapping) else set()


def _tables(data: Mapping[str, Any], key: str) -> list[tuple[int, Mapping[str, Any]]]:
    value = data.get(key)
    if not isinstance(value, list):
        return []
    return [(index, item) for index, item in enumerate(value) if isinstance(item, Mapping)]


def _named(data: Mapping[str, Any], key: str) -> dict[str, Mapping[str, Any]]:
    value = data.get(key)
    if not isinstance(value, Mapping):
        return {}
    return {name: table for name, table in value.items() if isinstance(table, Mapping)}


def _strings(data: Mapping[str, Any], key: str) -> list[tuple[int, str]]:
    value = data.get(key)
    if not isinstance(value, list):
        return []
    return [(index, item) for index, item in enumerate(value) if isinstance(item, str)]


def _text(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) else None
