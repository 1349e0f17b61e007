"""The what-if and coverage tests' proposal: the example agency with Sam, who has no way to be
paged (no notify rule), and an escalation whose only step is the after-hours rotation."""

from __future__ import annotations

from tests.support.app import EXAMPLE_CONFIG

SAM = """
[[staff]]
id = "sam"
name = "Sam Stone"
sms = "+13135550109"

[[rotations]]"""
ONE_STEP = """[escalations.default]
steps = [
  { notify = ["rotation:after-hours"], wait = "10m" },
]"""


def with_sam() -> str:
    """The example agency, Sam added, one step: every closed hour still reaches someone."""
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    steps = text[text.index("[escalations.default]") : text.index("repeat = 1")]
    return text.replace("\n[[rotations]]", SAM, 1).replace(steps, ONE_STEP + "\n")


def proposed_text() -> str:
    """`with_sam`, the nights handed to Sam: pages reach nobody, every closed hour is a gap."""
    return with_sam().replace('members = ["jim", "ana", "raj"]', 'members = ["sam"]', 1)
