"""When a certification ends early (17021-1 9.6.5): a withdrawal closes the audit programme, so
the audits it cancels are not judged as audits that should have happened (this module), and
the certificate needs no surveillance in the years after it (cycle.py reads withdrawals the
same way).

A withdraw decision names the certificate it withdraws, or names none: then it ends the
client's certification as a whole and covers every certificate and audit of the client. An
audit that names no certificate is taken as part of the client's certification as a whole.
"""
from __future__ import annotations

from checker.derive.model import DerivedField, Records
from checker.records.schema_registry import FieldInfo


def _withdrawals(records: Records) -> list[dict]:
    return [d for d in records.of_type("decision") if d.get("decision_type") == "withdraw" and d.get("date")]


def _covers(withdrawal: dict, certificate: str | None) -> bool:
    """Whether `withdrawal` ends the certification of `certificate` (None: the client's as a whole)."""
    named = withdrawal.get("certificate")
    return not named or not certificate or named == certificate


def _after_withdrawal(audit: dict, records: Records):
    """True when the audit starts after a withdrawal that covers it; None (absent) otherwise."""
    start = audit.get("start_date")
    if start and any(w.get("client") == audit.get("client") and w["date"] < start
                     and _covers(w, audit.get("certificate")) for w in records.shared("withdrawals", _withdrawals)):
        return True
    return None


AFTER_WITHDRAWAL = DerivedField(
    "after_certification_withdrawn", "audit", FieldInfo("boolean"),
    "true when the audit starts after a withdraw decision of its client that covers it (names the audit's "
    "certificate, or names none, or the audit names none): an audit the early ending cancelled; absent otherwise",
    (), _after_withdrawal)
