"""Derived facts: the documented values computed in plain Python before assertion.

durable_rules matches facts exactly but cannot sum, count across facts, look up a table or
enumerate calendar years, so those values are computed here, once per partition, and added
to (copies of) the records. Both evaluators, the engine and the reference, read them; unit
tests hold each derivation to hand-worked examples.

| name | on | value |
|---|---|---|
| audit_time.table1_days | application_review | Table 1 audit days for `audit_time.persons` (parameter sm_table1_audit_days) |
| audit_time.deviation_percent | application_review | (initial_audit_days − table1_days) / table1_days × 100, 2 decimals |
| audit_time.reduction_percent | application_review | max(0, −deviation_percent): the net reduction from Table 1 |
| audit_time.adjustments_reduction_percent | application_review | sum of the negative adjustment percentages, as a positive number |
| auditor_days | audit | days of team assignments with a role that counts as audit time (leader, auditor) |
| non_auditor_days | audit | days of all other team assignments |
| unbacked_audit_days | audit | audit_days − auditor_days: reported audit time no auditor's days account for |
| team_notice_days | audit | days from team_notified_date to start_date (negative: told after the start) |
| sites_total, noncentral_sites_visited, required_sample_sites, sample_shortfall, central_site_visited | audit (stage2, surveillance, recertification of a client with 2+ sites) | the client's sites; how many non-central ones the audit's `sites` name; the IAF MD 1 sample ceil(f·√n) over the n non-central sites, f = sampling_factor_initial / _surveillance / _recertification; how many sites short of it the audit fell (0 when enough); whether a central site is among them |
| audit_time_practice | new CB-wide kind | over all clients: reviews recording audit time, reviews whose listed reductions exceed the cap (`claimed_beyond_cap`), and of those the ones whose net reduction lands on the cap, within one point (`capped`); located on the first such review |
| certified_year | new kind | one per certificate and calendar year strictly between the years of its effective and expiry dates, before the year of `--as-of`, and before the year of a withdrawal of that certificate: {year, certificate, client} |
"""
from __future__ import annotations

import copy
import math

from checker.dates import day_number, year_of
from checker.records.schema_registry import FieldInfo

AUDIT_TIME_ROLES = ("leader", "auditor")

DERIVED_FIELDS: dict[str, dict[str, FieldInfo]] = {
    "application_review": {
        "audit_time.table1_days": FieldInfo("number"),
        "audit_time.deviation_percent": FieldInfo("number"),
        "audit_time.reduction_percent": FieldInfo("number"),
        "audit_time.adjustments_reduction_percent": FieldInfo("number"),
    },
    "audit": {"auditor_days": FieldInfo("number"), "non_auditor_days": FieldInfo("number"),
              "unbacked_audit_days": FieldInfo("number"), "team_notice_days": FieldInfo("integer"),
              "sites_total": FieldInfo("integer"), "noncentral_sites_visited": FieldInfo("integer"),
              "required_sample_sites": FieldInfo("integer"), "sample_shortfall": FieldInfo("integer"),
              "central_site_visited": FieldInfo("boolean")},
}

# kind -> (fields, record type it is located in, scope)
DERIVED_KINDS: dict[str, tuple[dict[str, FieldInfo], str, str]] = {
    "audit_time_practice": ({"reviews": FieldInfo("integer"), "claimed_beyond_cap": FieldInfo("integer"),
                             "capped": FieldInfo("integer")}, "application_review", "cb"),
    "certified_year": ({"year": FieldInfo("integer"), "certificate": FieldInfo("string", ref="certificate"),
                        "client": FieldInfo("string", ref="client")}, "certificate", "client"),
}


def table1_days(persons: int, table: list[dict]) -> float | None:
    """Audit days for a head count from a Table 1 given as ascending `max_persons` bands."""
    for band in table:
        if band.get("max_persons") is None or persons <= band["max_persons"]:
            return band["days"]
    return None


def required_sample_sites(noncentral_sites: int, factor: float) -> int:
    """IAF MD 1 sample size: the square root of the number of non-central sites, scaled by the
    audit type's factor, rounded up."""
    return math.ceil(round(factor * math.sqrt(noncentral_sites), 9))


def derive(records: list[dict], params: dict, as_of_year: int) -> tuple[list[dict], list[dict]]:
    """Return enriched copies of `records` and the derived pseudo-records.

    Pseudo-records carry `id`, `type` and `_source` (id of the record a finding should name).
    """
    out = [copy.deepcopy(r) for r in records]
    by_type: dict[str, list[dict]] = {}
    for r in out:
        by_type.setdefault(r["type"], []).append(r)

    for review in by_type.get("application_review", []):
        _derive_audit_time(review.get("audit_time"), params)

    days: dict[str, list[float]] = {}
    other: dict[str, list[float]] = {}
    for ta in by_type.get("team_assignment", []):
        if isinstance(ta.get("days"), (int, float)):
            target = days if ta.get("role") in AUDIT_TIME_ROLES else other
            target.setdefault(ta["audit"], []).append(ta["days"])
    for audit in by_type.get("audit", []):
        if audit["id"] in days or audit["id"] in other:
            audit["auditor_days"] = round(sum(days.get(audit["id"], [])), 2)
            audit["non_auditor_days"] = round(sum(other.get(audit["id"], [])), 2)
            if isinstance(audit.get("audit_days"), (int, float)):
                audit["unbacked_audit_days"] = round(audit["audit_days"] - audit["auditor_days"], 2)
        if audit.get("team_notified_date") and audit.get("start_date"):
            audit["team_notice_days"] = day_number(audit["start_date"]) - day_number(audit["team_notified_date"])

    for client in by_type.get("client", []):
        sites = [site for site in client.get("sites") or [] if site.get("name")]
        if len(sites) >= 2:
            for audit in by_type.get("audit", []):
                _derive_sampling(audit, sites, params)

    withdrawn_year = {}
    for dec in by_type.get("decision", []):
        if dec.get("decision_type") == "withdraw" and dec.get("certificate") and dec.get("date"):
            y = year_of(dec["date"])
            withdrawn_year[dec["certificate"]] = min(y, withdrawn_year.get(dec["certificate"], y))
    pseudo = []
    for cert in by_type.get("certificate", []):
        if not (cert.get("effective_date") and cert.get("expiry_date")):
            continue
        first, last = year_of(cert["effective_date"]) + 1, year_of(cert["expiry_date"]) - 1
        last = min(last, as_of_year - 1, withdrawn_year.get(cert["id"], 10**6) - 1)
        for year in range(first, last + 1):
            pseudo.append({"id": f"{cert['id']}#year#{year}", "type": "certified_year", "_source": cert["id"],
                           "year": year, "certificate": cert["id"], "client": cert["client"]})
    return out, pseudo


SAMPLING_FACTOR = {"stage2": "sampling_factor_initial", "surveillance": "sampling_factor_surveillance",
                   "recertification": "sampling_factor_recertification"}


def _derive_sampling(audit: dict, sites: list[dict], params: dict):
    factor = SAMPLING_FACTOR.get(audit.get("audit_type"))
    if factor is None:
        return
    central = {s["name"] for s in sites if s.get("central")}
    others = {s["name"] for s in sites} - central
    visited = set(audit.get("sites") or [])
    audit["sites_total"] = len(sites)
    audit["noncentral_sites_visited"] = len(visited & others)
    audit["required_sample_sites"] = required_sample_sites(len(others), params[factor])
    audit["sample_shortfall"] = max(0, audit["required_sample_sites"] - audit["noncentral_sites_visited"])
    audit["central_site_visited"] = bool(visited & central)


def derive_cb_wide(records: list[dict], params: dict) -> list[dict]:
    """CB-wide pseudo-records computed over every client at once (for the CB-wide partition)."""
    cap = params["sm_max_audit_time_reduction_percent"]
    reviews, beyond, capped = 0, [], 0
    for rec in sorted((r for r in records if r.get("type") == "application_review"), key=lambda r: r["id"]):
        at = copy.deepcopy(rec.get("audit_time"))
        _derive_audit_time(at, params)
        if not isinstance(at, dict) or "deviation_percent" not in at:
            continue
        reviews += 1
        if at["adjustments_reduction_percent"] > cap:
            beyond.append(rec["id"])
            capped += abs(at["reduction_percent"] - cap) <= 1   # landed on the cap, give or take rounding
    if not beyond:
        return []
    return [{"id": "cb#audit_time_practice", "type": "audit_time_practice", "_source": beyond[0],
             "reviews": reviews, "claimed_beyond_cap": len(beyond), "capped": capped}]


def _derive_audit_time(at, params):
    if not isinstance(at, dict):
        return
    adjustments = at.get("adjustments") or []
    at["adjustments_reduction_percent"] = round(sum(-a["percent"] for a in adjustments if a["percent"] < 0), 2) + 0.0
    if isinstance(at.get("persons"), int):
        t1 = table1_days(at["persons"], params["sm_table1_audit_days"])
        if t1 is not None:
            at["table1_days"] = t1
            if isinstance(at.get("initial_audit_days"), (int, float)) and t1 > 0:
                dev = round((at["initial_audit_days"] - t1) / t1 * 100, 2)
                at["deviation_percent"] = dev
                at["reduction_percent"] = max(0.0, -dev)
