"""The completeness view of a submission: what an accreditation body needs to see before it
trusts a gap report built on records it did not write.

A gap report says what the supplied records show; it cannot say what was left out. This view
counts the record types supplied and, client by client, rebuilds the certification cycles
and lists the records each cycle and each audit should have left behind but did not: a
certificate without a decision, a grant without stage 1 and stage 2 audits, calendar years
of validity without a surveillance audit (checker.derive.cycle: the model CYC003 uses),
audits without plan, report or team. Requirements a part of which reads a record type absent
altogether are listed as not assessed (wholly or in part), with the report's reason
(checker.catalog.evidence, checker.report.model.requirement_status).

The view tolerates invalid records (the report lists their errors): a field of the wrong
type counts as absent here. Documented by completeness.schema.json.
"""
from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from checker.catalog.evidence import alternative_types, unjudged_alternatives
from checker.catalog.parameters import Parameters
from checker.clauses import clause_sort_key
from checker.dates import date_or_none
from checker.derive.cycle import add_years, audited_years, certified_years, surveillance_years
from checker.records.reader import Record
from checker.records.schema_registry import record_types
from checker.pipeline import input_evidence
from checker.report.model import requirement_status

COMPLETENESS_FORMAT = "cbcheck-completeness/1"
DEFAULTS = {"cycle_years": 3, "audit_report_max_days": 30}
ANCHORS = ("grant", "renew")
CERTIFICATION_AUDITS = ("stage1", "stage2", "surveillance", "recertification", "transfer")
AUDIT_KINDS = ("stage1", "stage2", "transfer", "surveillance", "recertification")


def _text(value) -> str | None:
    return value if isinstance(value, str) else None


def _gap(code: str, expected_type: str, message: str, about: Record) -> dict:
    return {"code": code, "record_type": expected_type, "message": message, "record": about.id,
            "file": about.file, "line": about.line_of()}


@dataclass
class _Cycle:
    decision: Record | None
    certificates: list[Record] = field(default_factory=list)
    start: dt.date | None = None
    end: dt.date | None = None          # exclusive
    validity_end: dt.date | None = None   # exclusive, withdrawals left out
    withdrawn: list[dt.date] = field(default_factory=list)
    audits: dict[str, list[str]] = field(default_factory=lambda: {k: [] for k in AUDIT_KINDS})
    missing: list[dict] = field(default_factory=list)
    years_elapsed: int = 0

    @property
    def kind(self) -> str:
        if self.decision is None:
            return "unanchored"
        return "initial" if self.decision.data.get("decision_type") == "grant" else "recertification"

    @property
    def first_id(self) -> str:
        return self.decision.id if self.decision else min(c.id for c in self.certificates)


class _Client:
    """One client's records, grouped, with the lookups the expectations need."""

    def __init__(self, client: Record, records: list[Record]):
        self.record = client
        self.records = records
        self.by_type: dict[str, list[Record]] = defaultdict(list)
        for rec in sorted(records, key=lambda r: r.id):
            self.by_type[rec.type].append(rec)
        self.children: dict[tuple[str, str], int] = Counter()    # (type, audit id) -> count
        for type_name in ("audit_plan", "audit_report", "team_assignment", "nonconformity"):
            for rec in self.by_type[type_name]:
                if _text(rec.data.get("audit")):
                    self.children[(type_name, rec.data["audit"])] += 1

    def audits(self, kind: str) -> list[Record]:
        return [a for a in self.by_type["audit"]
                if a.data.get("audit_type") == kind and a.data.get("status") != "cancelled"]


def _build_cycles(c: _Client) -> list[_Cycle]:
    """A cycle per grant or renew decision, joined by the certificates it issued; a
    certificate that no such decision issued either revises one already placed (it names it in
    `replaces` and comes from another decision, or keeps its expiry date) or opens a cycle
    of its own whose decision is missing."""
    decisions = {d.id: d for d in c.by_type["decision"]}
    cycles = {d.id: _Cycle(d) for d in c.by_type["decision"] if d.data.get("decision_type") in ANCHORS}
    placed: dict[str, _Cycle] = {}
    pending = []
    for cert in c.by_type["certificate"]:
        cycle = cycles.get(_text(cert.data.get("decision")) or "")
        if cycle:
            cycle.certificates.append(cert)
            placed[cert.id] = cycle
        else:
            pending.append(cert)
    by_id = {cert.id: cert for cert in c.by_type["certificate"]}
    progress = True
    while progress and pending:     # revisions of revisions: place them in order of the chain
        progress = False
        for cert in list(pending):
            replaced = by_id.get(_text(cert.data.get("replaces")) or "")
            if replaced is None or replaced.id not in placed:
                continue
            from_other_decision = _text(cert.data.get("decision")) in decisions
            same_expiry = date_or_none(cert.data.get("expiry_date")) is not None and \
                cert.data.get("expiry_date") == replaced.data.get("expiry_date")
            if from_other_decision or same_expiry:
                placed[replaced.id].certificates.append(cert)
                placed[cert.id] = placed[replaced.id]
                pending.remove(cert)
                progress = True
    out = list(cycles.values()) + [_Cycle(None, [cert]) for cert in pending]
    for cycle in out:
        if cycle.decision is not None:
            cycle.start = date_or_none(cycle.decision.data.get("date"))
        if cycle.start is None:
            days = [d for cert in cycle.certificates
                    for d in (date_or_none(cert.data.get("effective_date")) or date_or_none(cert.data.get("issue_date")),) if d]
            cycle.start = min(days) if days else None
    out.sort(key=lambda cy: (cy.start or dt.date.max, cy.first_id))
    return out


def _cycle_ends(c: _Client, cycles: list[_Cycle], cycle_years: int) -> None:
    withdrawals = [(d, date_or_none(d.data.get("date"))) for d in c.by_type["decision"]
                   if d.data.get("decision_type") == "withdraw" and date_or_none(d.data.get("date"))]
    for i, cycle in enumerate(cycles):
        if cycle.start is None:
            continue
        nxt = cycles[i + 1].start if i + 1 < len(cycles) else None
        ids = {cert.id for cert in cycle.certificates}
        ends = [e + dt.timedelta(days=1) for cert in cycle.certificates
                for e in (date_or_none(cert.data.get("expiry_date")),) if e]
        ends = [max(ends)] if ends else [add_years(cycle.start, cycle_years)]
        if nxt:
            ends.append(nxt)
        later = [e for e in ends if e > cycle.start]
        cycle.validity_end = min(later) if later else None
        for decision, day in withdrawals:
            target = _text(decision.data.get("certificate"))
            if target in ids or (target is None and day >= cycle.start and (nxt is None or day < nxt)):
                cycle.withdrawn.append(day)
        later += [day for day in cycle.withdrawn if day > cycle.start]
        cycle.end = min(later) if later else None


def _preparatory(c: _Client, cycle: _Cycle, kind: str, after: dt.date | None) -> list[str]:
    """Audits of `kind` that lead to the cycle's decision: the one it names, and those held
    after the previous cycle started and no later than the decision."""
    named = _text(cycle.decision.data.get("audit"))
    out = []
    for audit in c.audits(kind):
        day = date_or_none(audit.data.get("start_date"))
        in_window = cycle.start is None or (day is not None and day <= cycle.start and (after is None or day > after))
        if audit.id == named or in_window:
            out.append(audit.id)
    return out


def _expect_cycle(c: _Client, cycle: _Cycle, previous_start: dt.date | None, as_of: dt.date) -> None:
    if cycle.decision is None:
        cert = cycle.certificates[0]
        issued_by = _text(cert.data.get("decision"))
        why = (f"was issued by decision {issued_by}, which is not a grant or renew decision"
               if issued_by else "names no decision that issued it")
        cycle.missing.append(_gap("decision_missing", "decision",
                                  f"certificate {cert.id} {why}; the grant or renew decision that started "
                                  "its cycle is not in the submission", cert))
    else:
        dec = cycle.decision
        if not cycle.certificates:
            cycle.missing.append(_gap("certificate_missing", "certificate",
                                      f"{dec.data.get('decision_type')} decision {dec.id} has no certificate "
                                      "naming it as the decision that issued it", dec))
        if cycle.kind == "initial":
            transfer = _preparatory(c, cycle, "transfer", previous_start)
            cycle.audits["transfer"] = transfer
            for kind, label in (("stage1", "stage 1"), ("stage2", "stage 2")):
                cycle.audits[kind] = _preparatory(c, cycle, kind, previous_start)
                if not cycle.audits[kind] and not transfer:
                    cycle.missing.append(_gap(f"{kind}_audit_missing", "audit",
                                              f"grant decision {dec.id} has no {label} audit before it", dec))
        else:
            cycle.audits["recertification"] = _preparatory(c, cycle, "recertification", previous_start)
            if not cycle.audits["recertification"]:
                cycle.missing.append(_gap("recertification_audit_missing", "audit",
                                          f"renew decision {dec.id} has no recertification audit before it", dec))
    _expect_surveillance(c, cycle, as_of)


def _expect_surveillance(c: _Client, cycle: _Cycle, as_of: dt.date) -> None:
    """A surveillance or recertification audit in each calendar year that needs one and ended by
    as_of: the years of the cycle's certificates, exactly as CYC003 reads them (`certified_year`,
    checker.derive.cycle), or, where no certificate gives its validity, of the cycle's own span."""
    ids = {cert.id for cert in cycle.certificates}
    found = []
    for audit in c.audits("surveillance"):
        day = date_or_none(audit.data.get("start_date"))
        within = cycle.start is not None and day is not None and day >= cycle.start \
            and (cycle.end is None or day < cycle.end)
        if within or _text(audit.data.get("certificate")) in ids:
            found.append(audit.id)
    cycle.audits["surveillance"] = found
    years = sorted({year for _cert, year in certified_years([cert.data for cert in cycle.certificates],
                                                             [d.data for d in c.by_type["decision"]], as_of.year)})
    dated = any(date_or_none(cert.data.get("effective_date")) and date_or_none(cert.data.get("expiry_date"))
                for cert in cycle.certificates)
    if not dated and cycle.start is not None and cycle.validity_end is not None:
        # No certificate says how long the cycle is valid: the same years over its own span.
        last_day = cycle.validity_end - dt.timedelta(days=1)
        years = surveillance_years(cycle.start, last_day, [as_of.year, *(day.year for day in cycle.withdrawn)])
    audited = audited_years(a.data for a in c.by_type["audit"])
    cycle.years_elapsed = len(years)
    about = cycle.decision or cycle.certificates[0]
    for year in years:
        if year not in audited:
            cycle.missing.append(_gap("surveillance_audit_missing", "audit",
                                      f"calendar year {year} of the cycle that started on {cycle.start} ended "
                                      "with no surveillance or recertification audit started in it", about))


def _audit_view(c: _Client, audit: Record, cycle_of: dict[str, int], as_of: dt.date, report_days: int) -> dict:
    data = audit.data
    start, end = date_or_none(data.get("start_date")), date_or_none(data.get("end_date"))
    counts = {t: c.children[(t, audit.id)] for t in ("audit_plan", "audit_report", "team_assignment", "nonconformity")}
    missing = []
    if data.get("status") != "cancelled":
        held = data.get("status") == "completed" or (start is not None and start <= as_of)
        last = end or start
        report_due = (last is not None and last < as_of - dt.timedelta(days=report_days)) or \
            (last is None and data.get("status") == "completed")
        kind = data.get("audit_type")
        if held and not counts["audit_plan"]:
            missing.append(_gap("audit_plan_missing", "audit_plan", f"{kind} audit {audit.id} has no audit plan", audit))
        if held and not counts["team_assignment"]:
            missing.append(_gap("team_missing", "team_assignment",
                                f"{kind} audit {audit.id} has no team assignment (who audited is not recorded)", audit))
        if report_due and not counts["audit_report"]:
            missing.append(_gap("audit_report_missing", "audit_report",
                                f"{kind} audit {audit.id} ended {last or 'on an unrecorded date'} and has no audit "
                                f"report (reports are expected within {report_days} days)", audit))
    return {"id": audit.id, "audit_type": _text(data.get("audit_type")), "start_date": _text(data.get("start_date")),
            "status": _text(data.get("status")), "cycle": cycle_of.get(audit.id),
            "audit_plans": counts["audit_plan"], "audit_reports": counts["audit_report"],
            "team_assignments": counts["team_assignment"], "nonconformities": counts["nonconformity"],
            "missing": missing}


def _client_level(c: _Client) -> list[dict]:
    missing = []
    me = c.record
    in_certification = any(a.data.get("audit_type") in CERTIFICATION_AUDITS for a in c.by_type["audit"]) \
        or c.by_type["decision"] or c.by_type["certificate"]
    if in_certification and not c.by_type["application"]:
        missing.append(_gap("application_missing", "application",
                            f"client {me.id} is being audited or certified but has no application", me))
    reviewed = {_text(r.data.get("application")) for r in c.by_type["application_review"]}
    for app in c.by_type["application"]:
        if app.id not in reviewed:
            missing.append(_gap("application_review_missing", "application_review",
                                f"application {app.id} has no application review", app))
    if any(d.data.get("decision_type") in ANCHORS for d in c.by_type["decision"]) \
            and not c.by_type["certification_agreement"]:
        missing.append(_gap("certification_agreement_missing", "certification_agreement",
                            f"client {me.id} was granted or renewed certification but has no certification agreement",
                            me))
    if any(a.data.get("audit_type") in CERTIFICATION_AUDITS for a in c.by_type["audit"]) \
            and not c.by_type["audit_programme"]:
        missing.append(_gap("audit_programme_missing", "audit_programme",
                            f"client {me.id} has certification audits but no audit programme", me))
    return missing


def _client_view(c: _Client, as_of: dt.date, cycle_years: int, report_days: int) -> dict:
    cycles = _build_cycles(c)
    _cycle_ends(c, cycles, cycle_years)
    previous = None
    for cycle in cycles:
        _expect_cycle(c, cycle, previous, as_of)
        previous = cycle.start or previous
    cycle_of: dict[str, int] = {}
    for number, cycle in enumerate(cycles, 1):
        for ids in cycle.audits.values():
            for aid in ids:
                cycle_of.setdefault(aid, number)
    audits = sorted(c.by_type["audit"], key=lambda a: (_text(a.data.get("start_date")) or "9999", a.id))
    audit_views = [_audit_view(c, a, cycle_of, as_of, report_days) for a in audits]
    client_missing = _client_level(c)
    gaps = len(client_missing) + sum(len(cy.missing) for cy in cycles) + sum(len(a["missing"]) for a in audit_views)
    return {
        "id": c.record.id, "name": _text(c.record.data.get("name")), "file": c.record.file,
        "records": len(c.records),
        "record_types": {t: len(rs) for t, rs in sorted(c.by_type.items()) if rs},
        "gaps": gaps,
        "missing": client_missing,
        "cycles": [{
            "number": n, "kind": cy.kind, "decision": cy.decision.id if cy.decision else None,
            "certificates": [cert.id for cert in cy.certificates],
            "start": cy.start.isoformat() if cy.start else None,
            "last_day": (cy.end - dt.timedelta(days=1)).isoformat() if cy.end else None,
            "audits": {k: sorted(v) for k, v in cy.audits.items()},
            "surveillance_years_elapsed": cy.years_elapsed,
            "missing": cy.missing,
        } for n, cy in enumerate(cycles, 1)],
        "audits": audit_views,
    }


def _unattributed(loaded, types) -> list[dict]:
    """Client records the index could not tie to a client (their owner reference is missing
    or dangling; the report lists why): counted nowhere else, so listed here."""
    index = loaded.index
    out = []
    for rid, owner in index.owner_client.items():
        rec = index.by_id[rid]
        rt = types[rec.type]
        if owner is None and rt.scope == "client" and rec.type != "client" and rt.owner_field and \
                (rec.data.get(rt.owner_field) is not None or rt.owner_field in rt.schema.get("required", [])):
            out.append({"id": rid, "type": rec.type, "file": rec.file, "line": rec.line_of()})
    return sorted(out, key=lambda r: r["id"])


def _not_assessed(rules, evidence, params: Parameters) -> list[dict]:
    """The requirements some part of which (an alternative of the rule) cannot be assessed
    because a record type it reads is absent, with the report's reason."""
    out = []
    for rule in sorted(rules, key=lambda r: (r.standard, clause_sort_key(r.clause), r.id)):
        if not rule.automated or rule.id in params.not_applicable:
            continue
        unjudged = unjudged_alternatives(rule, evidence)
        absent = sorted({t for alt in unjudged for t in alternative_types(rule, rule.checks[alt])
                         if not evidence.records.get(t)})
        if absent:
            _status, reason = requirement_status(rule, [], evidence, params, True, {})
            out.append({"id": rule.id, "standard": rule.standard, "clause": rule.clause, "title": rule.title,
                        "severity": rule.severity, "absent_types": absent, "reason": reason})
    return out


def completeness(loaded, rules, as_of: dt.date, *, params: Parameters | None = None) -> dict:
    """The completeness view of `loaded` (a checker.pipeline.LoadedInput, invalid records
    allowed). `params` supplies cycle_years and audit_report_max_days and the rules marked
    not applicable; without it the catalog defaults are used and no rule is marked."""
    params = params or Parameters(items={}, not_applicable={})
    values = {**DEFAULTS, **{k: v for k, v in params.values().items() if k in DEFAULTS}}
    cycle_years, report_days = int(values["cycle_years"]), int(values["audit_report_max_days"])
    types = record_types()
    counts = Counter(r.type for r in loaded.read.records if isinstance(r.type, str))
    untyped = sum(1 for r in loaded.read.records if not isinstance(r.type, str))
    index = loaded.index

    clients = []
    if index:
        owned: dict[str, list[Record]] = defaultdict(list)
        for rid, owner in index.owner_client.items():
            if owner is not None:
                owned[owner].append(index.by_id[rid])
        for cid in sorted(owned):
            clients.append(_client_view(_Client(index.by_id[cid], owned[cid]), as_of, cycle_years, report_days))
    unattributed = _unattributed(loaded, types) if index else []
    not_assessed = _not_assessed(rules, input_evidence(loaded), params)
    gap_codes = Counter(g["code"] for cl in clients
                        for g in cl["missing"] + [g for cy in cl["cycles"] for g in cy["missing"]]
                        + [g for a in cl["audits"] for g in a["missing"]])
    return {
        "completeness_format": COMPLETENESS_FORMAT,
        "as_of": as_of.isoformat(),
        "parameters": {"cycle_years": cycle_years, "audit_report_max_days": report_days},
        "summary": {
            "records": len(loaded.read.records),
            "record_types_present": sum(1 for t in types if counts.get(t)),
            "record_types_missing": sum(1 for t in types if not counts.get(t)),
            "clients": len(clients),
            "clients_with_gaps": sum(1 for cl in clients if cl["gaps"]),
            "cycles": sum(len(cl["cycles"]) for cl in clients),
            "gaps": sum(gap_codes.values()),
            "gaps_by_code": dict(sorted(gap_codes.items())),
            "requirements_not_assessed": len(not_assessed),
            "unattributed_records": len(unattributed),
            "input_problems": len(loaded.problems),
        },
        "record_types": [{"type": t, "scope": types[t].scope, "count": counts.get(t, 0)} for t in sorted(types)],
        "missing_types": [t for t in sorted(types) if not counts.get(t)],
        "unknown_types": {t: n for t, n in sorted(counts.items()) if t not in types},
        "untyped_records": untyped,
        "clients": clients,
        "unattributed": unattributed,
        "not_assessed": not_assessed,
    }
