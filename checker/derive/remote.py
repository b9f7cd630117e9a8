"""Whether an audit plan's `remote_activities` text says there are none (IAF MD 4: the plan of
an audit held by remote means identifies the activities done remotely). The field is free text,
so a plan that answers "None", "N/A" or "On-site only" cannot be told from one that describes
remote work by any comparison the check language has; this is the one reading of that text.

A text says "none" when, lower-cased, with surrounding spaces and final punctuation dropped, it
is one of NONE_ANSWERS or begins with one of NONE_OPENINGS followed by a space, comma, colon,
full stop or dash (so "No remote activities planned" and "None - all on site" say none, while
"Nonetheless ..." does not).
"""
from __future__ import annotations

from checker.derive.model import DerivedField
from checker.records.schema_registry import FieldInfo

NONE_ANSWERS = ("none", "nil", "no", "n/a", "na", "not applicable", "-", "--", "not planned", "none planned",
                "on-site only", "onsite only", "on site only", "all on-site", "all onsite", "all on site")
NONE_OPENINGS = ("none", "no remote", "not applicable", "n/a", "nil", "on-site only", "onsite only", "all on-site",
                 "all onsite")
SEPARATORS = " ,:.;-–—("


def says_none(text: str) -> bool:
    """True when the remote-activities text states that no activity is done remotely."""
    norm = text.strip().lower().rstrip(".!; ")
    if norm in NONE_ANSWERS:
        return True
    return any(norm.startswith(opening) and len(norm) > len(opening) and norm[len(opening)] in SEPARATORS
               for opening in NONE_OPENINGS)


def _remote_none(plan: dict, _records):
    text = plan.get("remote_activities")
    return says_none(text) if isinstance(text, str) else None


REMOTE_ACTIVITIES_NONE = DerivedField(
    "remote_activities_none", "audit_plan", FieldInfo("boolean"),
    "whether the plan's remote_activities text says there are none (\"None\", \"N/A\", \"On-site only\", "
    "\"No remote activities ...\"; the word list is in checker/derive/remote.py); absent without the text", (),
    _remote_none)
