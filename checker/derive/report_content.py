"""What a surveillance audit's report records it covered (ISO/IEC 17021-1 9.6.2.2; REP007):
the required subjects (parameter surveillance_report_subjects, names of the fields of
`audit_report.surveillance_covered`) the report does not record as covered, as one readable
list, so a report missing several draws one finding that names them all. NC follow-up is
judged on the nonconformities themselves (NC012)."""
from __future__ import annotations

from checker.derive.model import DerivedField, Records
from checker.records.schema_registry import FieldInfo

SUBJECTS = "surveillance_report_subjects"


def _surveillance_audits(records: Records) -> set[str]:
    return {a["id"] for a in records.of_type("audit") if a.get("audit_type") == "surveillance"}


def _not_covered(report: dict, records: Records):
    if report.get("audit") not in records.shared("surveillance_audits", _surveillance_audits):
        return None
    covered = report.get("surveillance_covered") or {}
    missing = [subject for subject in records.params[SUBJECTS] if covered.get(subject) is not True]
    return ", ".join(subject.replace("_", " ") for subject in missing) or None


FIELDS = (
    DerivedField("surveillance_not_covered", "audit_report", FieldInfo("string"),
                 "on the report of a surveillance audit: the subjects of surveillance_report_subjects its "
                 "`surveillance_covered` does not record as covered (true), listed with spaces for underscores; "
                 "absent when it records them all", (SUBJECTS,), _not_covered),
)
