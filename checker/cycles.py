"""Each client's certification cycle as dated events, for the HTML report's timelines.

This is the layer that still has the records: it turns them into plain dated events the report
model carries, so the renderers never read a record. Audits (stage 1 and 2, surveillance,
recertification, special, transfer) span their start to end dates, decisions (suspensions and
withdrawals among them) sit on their date, certificates span their validity from effective to
expiry. `record_dates` gives every dated record of the client one date, so a finding can be
marked on the timeline where its record sits.
"""
from __future__ import annotations

from checker.dates import iso_date
from checker.records.index import RecordIndex

# The date a record of each type is placed at on a timeline: when it happened or was issued.
RECORD_DATE_FIELD = {
    "audit": "start_date", "decision": "date", "certificate": "issue_date", "nonconformity": "raised_date",
    "audit_report": "issued_date", "audit_plan": "issued_date", "audit_programme": "approved_date",
    "application": "received_date", "application_review": "date", "certification_agreement": "signed_date",
    "client_change": "received_date", "complaint": "received_date", "appeal": "received_date",
}


def record_date(record, index: RecordIndex) -> str | None:
    """A record's own date, or (a team assignment, say) the start of the audit it belongs to."""
    data = record.data
    own = iso_date(data.get(RECORD_DATE_FIELD.get(record.type, ""))) if record.type in RECORD_DATE_FIELD else None
    if own or not isinstance(data.get("audit"), str):
        return own
    audit = index.by_id.get(data["audit"])
    return iso_date(audit.data.get("start_date")) if audit is not None and audit.type == "audit" else None


def _event(record) -> dict | None:
    data = record.data
    if record.type == "audit":
        start, end = iso_date(data.get("start_date")), iso_date(data.get("end_date"))
        kind, detail = "audit", data.get("audit_type")
    elif record.type == "decision":
        start = end = iso_date(data.get("date"))
        kind, detail = "decision", data.get("decision_type")
    elif record.type == "certificate":
        start, end = iso_date(data.get("effective_date")), iso_date(data.get("expiry_date"))
        kind, detail = "certificate", data.get("status")
    else:
        return None
    if start is None or not isinstance(detail, str):
        return None
    end = end if end is not None and end >= start else start
    return {"kind": kind, "detail": detail, "start": start, "end": end, "record_id": record.id}


def client_cycles(index: RecordIndex | None) -> list[dict]:
    """[{"client", "events": [...], "record_dates": {record id: date}}] per client, sorted by
    client id; events sorted by start date, kind and record id. Records without a usable date
    are left out here (their date problem is reported by validation)."""
    if index is None:
        return []
    cycles: dict[str, dict] = {}
    for record in index.by_id.values():
        if record.type == "client" and isinstance(record.id, str):
            cycles.setdefault(record.id, {"client": record.id, "events": [], "record_dates": {}})
    for record_id, record in index.by_id.items():
        cycle = cycles.get(index.owner_client.get(record_id) or "")
        if cycle is None:
            continue
        event = _event(record)
        if event is not None:
            cycle["events"].append(event)
        date = record_date(record, index)
        if date is not None:
            cycle["record_dates"][record_id] = date
    for cycle in cycles.values():
        cycle["events"].sort(key=lambda e: (e["start"], e["kind"], e["record_id"]))
        cycle["record_dates"] = dict(sorted(cycle["record_dates"].items()))
    return [cycles[c] for c in sorted(cycles)]
