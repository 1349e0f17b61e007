"""`partnerline check`'s lines: every problem, as FILE:LINE: KEY.PATH: message."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import AgencyConfig, ConfigError, Problem, check_config, load_config

# A small valid configuration. Tests change one line in place (so line numbers stay as noted
# on the right) or append sections after line 29.
BASE = """\
[agency]
name = "Lakeshore"
timezone = "America/Detroit"

[hours.office]
timezone = "America/Detroit"
monday = ["09:00-12:00", "13:00-17:00"]
holidays = { country = "US", subdivision = "MI" }

[commitments.standard]
hours = "office"
business = "4h"
after_hours = "next_business_day"
page_oncall = "never"
auto_reply = "Thanks {contact_first_name}, {agency} will reply by {due_local}."

[[staff]]
id = "jim"
name = "Jim Miller"
sms = "+13135550101"
slack = "U0JIMMILLR"
notify = ["slack", "sms@5m"]

[[staff]]
id = "ana"
name = "Ana Ortiz"
telegram = 100000002

[unknown_senders]
commitment = "standard"
"""


@pytest.fixture
def check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Write a configuration as ./partnerline.toml and return `check`'s lines for it."""
    monkeypatch.chdir(tmp_path)

    def run(text: str) -> list[str]:
        Path("partnerline.toml").write_text(text, encoding="utf-8")
        return [str(problem) for problem in check_config("partnerline.toml")]

    return run


def changed(old: str, new: str, text: str = BASE) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def test_the_base_configuration_has_no_problem(check) -> None:
    assert check(BASE) == []


def test_problem_line_format_matches_the_contract() -> None:
    problem = Problem("partnerline.toml", 41, "staff[2].sms", "not an E.164 number")
    assert str(problem) == "partnerline.toml:41: staff[2].sms: not an E.164 number"


def test_reports_a_number_not_in_e164(check) -> None:
    assert check(changed('sms = "+13135550101"', 'sms = "3135550101"')) == [
        "partnerline.toml:20: staff[0].sms: not an E.164 number"
    ]


def test_reports_a_number_with_punctuation_and_how_to_write_it(check) -> None:
    assert check(changed('sms = "+13135550101"', 'sms = "+1 313-555-0101"')) == [
        "partnerline.toml:20: staff[0].sms: not an E.164 number (write it as '+13135550101')"
    ]


def test_reports_a_number_too_short_for_its_country(check) -> None:
    assert check(changed('sms = "+13135550101"', 'sms = "+1313555010"')) == [
        "partnerline.toml:20: staff[0].sms: not an E.164 number"
    ]


def test_reports_unknown_keys(check) -> None:
    text = changed('name = "Ana Ortiz"', 'name = "Ana Ortiz"\nphone = "+13135550102"')
    assert check(text) == ["partnerline.toml:27: staff[1].phone: unknown key"]


def test_reports_an_unknown_section(check) -> None:
    assert check(BASE + "\n[pager]\nurl = 'x'\n") == ["partnerline.toml:32: pager: unknown key"]


def test_reports_a_required_key_at_its_table(check) -> None:
    text = changed('timezone = "America/Detroit"\n\n[hours', "\n\n[hours")
    assert check(text) == ["partnerline.toml:1: agency.timezone: required key is missing"]


def test_reports_a_missing_section_without_a_line(check) -> None:
    text = BASE.replace('[unknown_senders]\ncommitment = "standard"\n', "")
    assert check(text) == ["partnerline.toml: unknown_senders: required key is missing"]


def test_reports_a_value_of_the_wrong_type(check) -> None:
    assert check(changed("telegram = 100000002", 'telegram = "100000002"')) == [
        "partnerline.toml:27: staff[1].telegram: must be an integer, not a string"
    ]


def test_reports_an_unknown_time_zone(check) -> None:
    text = changed('timezone = "America/Detroit"\nmonday', 'timezone = "Mars/Olympus"\nmonday')
    assert check(text) == [
        "partnerline.toml:6: hours.office.timezone: unknown time zone 'Mars/Olympus'"
    ]


def test_reports_a_bad_duration(check) -> None:
    assert check(changed('business = "4h"', 'business = "10 minutes"')) == [
        "partnerline.toml:12: commitments.standard.business: '10 minutes' is not a duration"
        ' such as "45s", "10m", "1h30m" or "2d"'
    ]


def test_reports_a_zero_duration(check) -> None:
    assert check(changed('after_hours = "next_business_day"', 'after_hours = "0s"')) == [
        "partnerline.toml:13: commitments.standard.after_hours: '0s': a duration must be"
        " longer than zero"
    ]


def test_reports_a_bad_notify_delay_at_its_element(check) -> None:
    assert check(changed('"sms@5m"', '"sms@soon"')) == [
        "partnerline.toml:22: staff[0].notify[1]: 'sms@soon': 'soon' is not a duration"
        ' such as "45s", "10m", "1h30m" or "2d"'
    ]


def test_reports_a_notify_rule_for_a_channel_the_person_lacks(check) -> None:
    text = changed("telegram = 100000002", 'telegram = 100000002\nnotify = ["telegram", "voice"]')
    assert check(text) == [
        "partnerline.toml:28: staff[1].notify[1]: 'voice' needs this person's sms number"
    ]


def test_reports_an_unknown_placeholder(check) -> None:
    text = changed("{agency} will", "{agent} will")
    assert check(text) == [
        "partnerline.toml:15: commitments.standard.auto_reply: unknown placeholder {agent};"
        " the placeholders are {contact_first_name}, {agency}, {due_local}, {oncall_first_name}"
    ]


def test_reports_a_malformed_brace(check) -> None:
    assert check(changed("{due_local}.", "{due_local.")) == [
        "partnerline.toml:15: commitments.standard.auto_reply: malformed placeholder: expected"
        " '}' before end of string (write a literal brace as {{ or }})"
    ]


def test_reports_the_on_call_placeholder_in_a_tier_that_never_pages(check) -> None:
    assert check(changed("{agency} will", "{oncall_first_name} will")) == [
        "partnerline.toml:15: commitments.standard.auto_reply: uses {oncall_first_name}, but"
        ' page_oncall is "never": nobody is on call for this tier'
    ]


def test_reports_overlapping_windows_at_the_later_one(check) -> None:
    text = changed('"13:00-17:00"', '"11:30-17:00"')
    assert check(text) == [
        "partnerline.toml:7: hours.office.monday[1]: 11:30-17:00 overlaps monday[0] (09:00-12:00)"
    ]


def test_reports_a_window_that_ends_before_it_starts(check) -> None:
    text = changed('["09:00-12:00", "13:00-17:00"]', '[\n  "09:00-12:00",\n  "17:00-09:00",\n]')
    assert check(text) == [
        "partnerline.toml:9: hours.office.monday[1]: '17:00-09:00' ends before it starts;"
        " a window over midnight is two windows, one ending at 24:00 and one the next day"
        " from 00:00"
    ]


def test_reports_an_unknown_holiday_subdivision(check) -> None:
    problems = check(changed('subdivision = "MI"', 'subdivision = "ZZ"'))
    assert len(problems) == 1
    assert problems[0].startswith(
        "partnerline.toml:8: hours.office.holidays.subdivision: unknown subdivision 'ZZ' of US"
    )


def test_reports_a_duplicate_staff_id_at_the_second(check) -> None:
    assert check(changed('id = "ana"', 'id = "jim"')) == [
        "partnerline.toml:25: staff[1].id: duplicate staff id 'jim' (also staff[0])"
    ]


def test_reports_a_commitment_whose_hours_are_not_a_calendar(check) -> None:
    assert check(changed('hours = "office"', 'hours = "ofice"')) == [
        "partnerline.toml:11: commitments.standard.hours: no such calendar 'ofice'"
    ]


def test_reports_an_unknown_tier_for_unknown_senders(check) -> None:
    text = changed('commitment = "standard"', 'commitment = "gold"')
    assert check(text) == [
        "partnerline.toml:30: unknown_senders.commitment: no such commitment tier 'gold'"
    ]


ROTATIONS = """
[[rotations]]
id = "after-hours"
members = ["jim", "ana"]
start = "2026-11-02T09:00"
shift = "1w"
hours = "office"
only = "after_hours"

[escalations.default]
steps = [
  { notify = ["rotation:after-hours"], wait = "10m" },
  { notify = ["rotation:after-hours+1", "staff:ana", "account_team"], wait = "10m" },
]
repeat = 1

[[clients]]
id = "acme"
name = "Acme Robotics"
commitment = "standard"
escalation = "default"
account_team = ["ana"]
slack_channels = ["C0ACMESHRD"]

[[clients.contacts]]
name = "Dana Reyes"
sms = "+13135550142"
telegram = 200000042

[[clients.contacts]]
name = "Omar Haddad"
slack = "U0OMARHADD"
"""
# In BASE + ROTATIONS: [[rotations]] at 32, members 34, hours 37, only 38, steps 41-44,
# clients at 47, commitment 50, escalation 51, account_team 52, contacts at 55 and 60.
FULL = BASE + ROTATIONS


def test_the_full_configuration_has_no_problem(check) -> None:
    assert check(FULL) == []


def test_reports_a_rotation_member_who_is_not_staff(check) -> None:
    assert check(changed('members = ["jim", "ana"]', 'members = ["jim", "bob"]', FULL)) == [
        "partnerline.toml:34: rotations[0].members[1]: no such staff member 'bob'"
    ]


def test_reports_an_after_hours_rotation_without_a_calendar(check) -> None:
    text = changed('hours = "office"\nonly', "only", FULL)
    assert check(text) == [
        'partnerline.toml:37: rotations[0].only: only = "after_hours" needs `hours`,'
        " the calendar it covers"
    ]


def test_reports_escalation_targets_that_do_not_exist(check) -> None:
    text = changed('"staff:ana", "account_team"', '"staff:bob", "rotation:nope"', FULL)
    assert check(text) == [
        "partnerline.toml:43: escalations.default.steps[1].notify[1]: no such staff member 'bob'",
        "partnerline.toml:43: escalations.default.steps[1].notify[2]: no such rotation 'nope'",
    ]


def test_reports_a_malformed_escalation_target(check) -> None:
    text = changed('"staff:ana", "account_team"', '"everyone"', FULL)
    assert check(text) == [
        "partnerline.toml:43: escalations.default.steps[1].notify[1]: 'everyone' is not a"
        ' target: use "rotation:ID", "rotation:ID+1", "staff:ID" or "account_team"'
    ]


def test_reports_an_offset_beyond_the_rotation(check) -> None:
    text = changed('"rotation:after-hours+1"', '"rotation:after-hours+2"', FULL)
    assert check(text) == [
        "partnerline.toml:43: escalations.default.steps[1].notify[0]: rotation 'after-hours'"
        " has only 2 members, so +2 comes back round to someone already counted"
    ]


def test_reports_client_references_that_do_not_exist(check) -> None:
    text = changed('commitment = "standard"\nescalation', 'commitment = "gold"\nescalation', FULL)
    text = changed('escalation = "default"', 'escalation = "urgent"', text)
    text = changed('account_team = ["ana"]', 'account_team = ["ana", "bob"]', text)
    assert check(text) == [
        "partnerline.toml:50: clients[0].commitment: no such commitment tier 'gold'",
        "partnerline.toml:51: clients[0].escalation: no such escalation 'urgent'",
        "partnerline.toml:52: clients[0].account_team[1]: no such staff member 'bob'",
    ]


def test_reports_an_empty_account_team_the_escalation_needs(check) -> None:
    text = changed('account_team = ["ana"]', "account_team = []", FULL)
    assert check(text) == [
        "partnerline.toml:52: clients[0].account_team: escalation 'default' notifies"
        " account_team, but it is empty"
    ]


def test_reports_a_contact_without_any_address(check) -> None:
    text = changed('slack = "U0OMARHADD"\n', "", FULL)
    assert check(text) == [
        "partnerline.toml:60: clients[0].contacts[1]: a contact needs at least one of sms,"
        " telegram or slack"
    ]


def test_reports_a_contact_using_a_staff_members_address(check) -> None:
    text = changed('sms = "+13135550142"', 'sms = "+13135550101"', FULL)
    assert check(text) == [
        "partnerline.toml:57: clients[0].contacts[0].sms: sms +13135550101 is already used by"
        " staff member 'jim'"
    ]


def test_reports_two_contacts_with_the_same_address(check) -> None:
    text = FULL + (
        '\n[[clients]]\nid = "b"\nname = "B"\ncommitment = "standard"\naccount_team = []\n'
        'contacts = [{ name = "Lucy Chen", telegram = 200000042 }]\n'
    )
    assert check(text) == [
        "partnerline.toml:69: clients[1].contacts[0].telegram: telegram 200000042 is already"
        " used by contact 'Dana Reyes' of client 'acme'"
    ]


def test_reports_a_duplicate_client_id(check) -> None:
    text = FULL + (
        '\n[[clients]]\nid = "acme"\nname = "Acme again"\ncommitment = "standard"\n'
        'account_team = []\nslack_channels = ["C0OTHERCHN"]\n'
    )
    assert check(text) == [
        "partnerline.toml:65: clients[1].id: duplicate client id 'acme' (also clients[0])"
    ]


def test_reports_every_problem_at_once_in_file_order(check) -> None:
    text = changed('"America/Detroit"\nmonday', '"Mars/Olympus"\nmonday', FULL)
    text = changed('business = "4h"', 'business = "0s"', text)
    text = changed('sms = "+13135550101"', 'sms = "313-555-0101"', text)
    text = changed('members = ["jim", "ana"]', 'members = ["jim", "bob"]', text)
    text = changed('escalation = "default"', 'escalation = "urgent"', text)
    assert check(text) == [
        "partnerline.toml:6: hours.office.timezone: unknown time zone 'Mars/Olympus'",
        "partnerline.toml:12: commitments.standard.business: '0s': a duration must be longer"
        " than zero",
        "partnerline.toml:20: staff[0].sms: not an E.164 number",
        "partnerline.toml:34: rotations[0].members[1]: no such staff member 'bob'",
        "partnerline.toml:51: clients[0].escalation: no such escalation 'urgent'",
    ]


def test_reports_a_toml_syntax_error_with_its_line(check) -> None:
    text = changed('business = "4h"', "business = 4 hours")
    assert check(text) == [
        "partnerline.toml:12: invalid TOML: Expected newline or end of document after a"
        " statement (column 14)"
    ]


def test_reports_a_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    assert [str(problem) for problem in check_config(missing)] == [f"{missing}: no such file"]


def test_load_raises_config_error_with_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "partnerline.toml"
    text = changed('sms = "+13135550101"', 'sms = "3135550101"')
    path.write_text(changed('business = "4h"', 'business = "soon"', text), encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert [problem.key for problem in raised.value.problems] == [
        "commitments.standard.business",
        "staff[0].sms",
    ]
    assert str(raised.value) == "\n".join(str(problem) for problem in raised.value.problems)
    assert str(raised.value).startswith(f"{path}:12: commitments.standard.business: ")


def test_load_raises_config_error_for_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "nowhere.toml")


def test_models_built_in_code_check_references_too() -> None:
    import tomllib

    data = tomllib.loads(changed('commitment = "standard"', 'commitment = "gold"'))
    with pytest.raises(ValueError, match="no such commitment tier 'gold'"):
        AgencyConfig.model_validate(data)


def test_reports_a_duplicate_rotation_id(check) -> None:
    text = FULL + (
        '\n[[rotations]]\nid = "after-hours"\nmembers = ["ana"]\n'
        'start = "2026-11-02T09:00"\nshift = "1d"\n'
    )
    assert check(text) == [
        "partnerline.toml:65: rotations[1].id: duplicate rotation id 'after-hours'"
        " (also rotations[0])"
    ]


def test_reports_a_client_channel_that_is_the_staff_channel(check) -> None:
    text = FULL + '\n[channels.slack]\nstaff_channel = "C0ACMESHRD"\n'
    assert check(text) == [
        "partnerline.toml:53: clients[0].slack_channels[0]: slack channel C0ACMESHRD is already"
        " used by the staff channel ([channels.slack] staff_channel)"
    ]


def test_reports_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "partnerline.toml"
    path.write_bytes(b'[agency]\nname = "Caf\xe9"\n')
    assert [str(problem) for problem in check_config(path)] == [
        f"{path}:2: not UTF-8 text (TOML files are UTF-8)"
    ]


def test_reports_durations_past_ten_years_instead_of_crashing(check) -> None:
    # Longer ones cannot be added to a date; the longest once raised OverflowError in `check`.
    text = changed(
        'business = "4h"\nafter_hours = "next_business_day"',
        ('business = "9999999999999w"\nafter_hours = "521w"'),
    )
    assert check(text) == [
        "partnerline.toml:12: commitments.standard.business: '9999999999999w': a duration may"
        " be at most 520w (ten years)",
        "partnerline.toml:13: commitments.standard.after_hours: '521w': a duration may be at"
        " most 520w (ten years)",
    ]
    assert check(changed('business = "4h"', 'business = "520w"')) == []


@pytest.mark.parametrize("start", ["0001-01-01T00:00", "1969-12-31T23:59", "3000-01-01T00:00"])
def test_reports_a_rotation_start_outside_1970_to_2999(check, start: str) -> None:
    text = changed('start = "2026-11-02T09:00"', f'start = "{start}"', FULL)
    assert check(text) == [
        f"partnerline.toml:35: rotations[0].start: {start} is not between 1970 and 2999"
    ]
