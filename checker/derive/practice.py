"""How the CB applies the SM 9.1.4 reduction cap across all its clients (TIME006): reviews
that list reductions beyond the cap and then land on it. Computed once over every client's
records, for the CB-wide partition. The fact exists whenever some review has a derivable
deviation, so a CB none of whose reviews claims beyond the cap has a practice that was judged
(and is clean), not nothing to judge (checker/catalog/evidence.py: what a rule applies to)."""
from __future__ import annotations

from checker.derive import audit_time
from checker.derive.model import DerivedKind, Records, with_fields
from checker.records.schema_registry import FieldInfo

CAP = "sm_max_audit_time_reduction_percent"
TOLERANCE = "sm_cap_landing_tolerance_points"


def _practice(records: Records) -> list[dict]:
    judged, beyond, capped = [], [], 0
    for rec in sorted(records.of_type("application_review"), key=lambda r: r["id"]):
        at = with_fields(rec, audit_time.FIELDS, records).get("audit_time")
        if not isinstance(at, dict) or "deviation_percent" not in at:
            continue
        judged.append(rec["id"])
        if at["adjustments_reduction_percent"] > records.params[CAP]:
            beyond.append(rec["id"])
            capped += abs(at["reduction_percent"] - records.params[CAP]) <= records.params[TOLERANCE]
    if not judged:
        return []
    return [{"id": "cb#audit_time_practice", "type": "audit_time_practice", "_source": (beyond or judged)[0],
             "reviews": len(judged), "claimed_beyond_cap": len(beyond), "capped": capped}]


AUDIT_TIME_PRACTICE = DerivedKind(
    "audit_time_practice", "application_review", "cb",
    {"reviews": FieldInfo("integer"), "claimed_beyond_cap": FieldInfo("integer"), "capped": FieldInfo("integer")},
    "over all clients: reviews with a derivable deviation from Table 1 (`reviews`), those whose listed reductions "
    "exceed the cap (`claimed_beyond_cap`), and of those the ones whose net reduction lands on the cap within the "
    "tolerance (`capped`); one fact, located on the first review claiming beyond the cap (else the first review "
    "counted), when some review has a derivable deviation",
    (audit_time.TABLE, CAP, TOLERANCE), _practice)
