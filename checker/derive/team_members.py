"""How a finding names a team member: the CB's own people by their personnel id, and someone
who is not the CB's personnel (an accreditation body's witness, the client's consultant or
interpreter, recorded with `external_name` instead of `person`) by name and organisation."""
from __future__ import annotations

from checker.derive.model import DerivedField
from checker.records.schema_registry import FieldInfo


def member_label(assignment: dict) -> str | None:
    """`person`, else "NAME (ORGANISATION, not CB personnel)", else None."""
    if assignment.get("person"):
        return assignment["person"]
    name = assignment.get("external_name")
    if not name:
        return None
    organisation = assignment.get("external_organisation")
    return f"{name} ({organisation}, not CB personnel)" if organisation else f"{name} (not CB personnel)"


MEMBER = DerivedField("member", "team_assignment", FieldInfo("string"),
                      "who the assignment names: the person id, or for someone who is not the CB's personnel "
                      "\"external_name (external_organisation, not CB personnel)\"", (),
                      lambda assignment, _records: member_label(assignment))
