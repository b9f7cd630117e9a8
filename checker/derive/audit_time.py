"""Audit time of an application review against Table 1 of ISO/IEC 20000-6 (SM 9.1.4): the
table value for the head count, how far the planned initial audit days depart from it, and
the reductions the review lists (TIME001, TIME002, TIME005, TIME007, TIME009)."""
from __future__ import annotations

from checker.derive.model import DerivedField, Records
from checker.records.schema_registry import FieldInfo

TABLE = "sm_table1_audit_days"


def table1_days(persons: int, table: list[dict]) -> float | None:
    """Audit days for a head count from a Table 1 given as ascending `max_persons` bands."""
    for band in table:
        if band.get("max_persons") is None or persons <= band["max_persons"]:
            return band["days"]
    return None


def _audit_time(review: dict) -> dict | None:
    at = review.get("audit_time")
    return at if isinstance(at, dict) else None


def _adjustments_reduction(review: dict, _records: Records):
    at = _audit_time(review)
    if at is None:
        return None
    return round(sum(-a["percent"] for a in at.get("adjustments") or [] if a["percent"] < 0), 2) + 0.0


def _table1(review: dict, records: Records):
    at = _audit_time(review)
    if at is None or not isinstance(at.get("persons"), int):
        return None
    return table1_days(at["persons"], records.params[TABLE])


def _deviation(review: dict, _records: Records):
    at = _audit_time(review)
    if at is None or at.get("table1_days") is None:
        return None
    t1, planned = at["table1_days"], at.get("initial_audit_days")
    if not isinstance(planned, (int, float)) or t1 <= 0:
        return None
    return round((planned - t1) / t1 * 100, 2)


def _reduction(review: dict, _records: Records):
    at = _audit_time(review)
    if at is None or at.get("deviation_percent") is None:
        return None
    return max(0.0, -at["deviation_percent"])


FIELDS = (
    DerivedField("audit_time.adjustments_reduction_percent", "application_review", FieldInfo("number"),
                 "the negative adjustment percentages of audit_time.adjustments added up, as a positive number "
                 "(2 decimals); 0 when none", (), _adjustments_reduction),
    DerivedField("audit_time.table1_days", "application_review", FieldInfo("number"),
                 "Table 1 audit days for audit_time.persons; absent above the table's last band", (TABLE,), _table1),
    DerivedField("audit_time.deviation_percent", "application_review", FieldInfo("number"),
                 "(audit_time.initial_audit_days − table1_days) / table1_days × 100, 2 decimals", (TABLE,), _deviation),
    DerivedField("audit_time.reduction_percent", "application_review", FieldInfo("number"),
                 "max(0, −deviation_percent): the net reduction below Table 1", (TABLE,), _reduction),
)
