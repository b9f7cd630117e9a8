"""Whose days an audit's time is made of (SM 9.1.4, TIME003): the days of team members whose
role counts as audit time (parameter audit_time_roles) against everyone else's."""
from __future__ import annotations

from checker.derive.model import DerivedField, Records
from checker.records.schema_registry import FieldInfo

ROLES = "audit_time_roles"


def _days_by_audit(records: Records) -> dict[str, tuple[list, list]]:
    """audit id -> (days of assignments in an audit-time role, days of all others)."""
    with_days = [ta for ta in records.of_type("team_assignment") if isinstance(ta.get("days"), (int, float))]
    roles = records.params[ROLES] if with_days else ()     # read only where there is something to split
    out: dict[str, tuple[list, list]] = {}
    for ta in with_days:
        counted, other = out.setdefault(ta["audit"], ([], []))
        (counted if ta.get("role") in roles else other).append(ta["days"])
    return out


def _team_days(audit: dict, records: Records) -> tuple[list, list] | None:
    return records.shared("team_days", _days_by_audit).get(audit["id"])


def _auditor_days(audit: dict, records: Records):
    days = _team_days(audit, records)
    return None if days is None else round(sum(days[0]), 2)


def _non_auditor_days(audit: dict, records: Records):
    days = _team_days(audit, records)
    return None if days is None else round(sum(days[1]), 2)


def _unbacked(audit: dict, _records: Records):
    if audit.get("auditor_days") is None or not isinstance(audit.get("audit_days"), (int, float)):
        return None
    return round(audit["audit_days"] - audit["auditor_days"], 2)


FIELDS = (
    DerivedField("auditor_days", "audit", FieldInfo("number"),
                 "days of the audit's team assignments whose role counts as audit time; present when any "
                 "assignment of the audit records days", (ROLES,), _auditor_days),
    DerivedField("non_auditor_days", "audit", FieldInfo("number"),
                 "days of the audit's other team assignments (experts, observers, interpreters, trainees)",
                 (ROLES,), _non_auditor_days),
    DerivedField("unbacked_audit_days", "audit", FieldInfo("number"),
                 "audit_days − auditor_days: reported audit time no auditor's days account for", (ROLES,), _unbacked),
)
