"""Generates a realistic CB database export: N clients over a full certification cycle, with
people shared across clients and a few gaps per hundred clients. Deterministic for a seed.

    python benchmarks/generate_cb.py OUT_DIR --clients 1000 [--seed 7] [--layout jsonl|folders]
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import random
from pathlib import Path

import yaml

# What each generated surveillance report records it covered (17021-1 9.6.2.2; REP007).
SURVEILLANCE_SUBJECTS = ("internal_audits_and_management_review", "nc_follow_up", "complaints", "use_of_marks", "changes")


def _d(day: dt.date) -> str:
    return day.isoformat()


def people(rng: random.Random, n: int) -> list[dict]:
    out = []
    for i in range(n):
        functions = ["audit", "application_review"] + (["audit_team_leader"] if i % 2 == 0 else []) \
            + (["certification_decision"] if i % 5 == 0 else [])
        out.append({
            "type": "personnel", "id": f"p{i:03d}", "name": f"Person {i}",
            "employment": "external" if i % 7 == 0 else "employee",
            "agreement_signed_date": "2019-01-15", "commitments_signed_date": "2019-01-15",
            "competences": [{"standard": "ISO/IEC 20000-1:2018", "function": f, "evaluated_date": "2019-03-01"}
                            for f in functions],
            "consultancy": [], "internal_audits": [],
            "onsite_observations": [{"date": _d(dt.date(2024, 1, 1) + dt.timedelta(days=rng.randint(0, 600)))}],
            "qualifications": ["BSc Computing", "ISO/IEC 20000-1 lead auditor course"], "affiliations": [],
            "training": [{"course": "SMS auditor update", "date": "2025-03-10", "subject": "ISO/IEC 20000-1:2018"}],
            "it_experience_years": 12, "sm_experience_years": 6, "supervised_audits": 6,
            "supervised_audits_as_leader": 4, "last_performance_evaluation_date": "2025-09-01",
            "record_reviewed_date": "2025-09-01",
        })
    return out


def client(rng: random.Random, i: int, staff: list[dict]) -> list[dict]:
    cid = f"cl{i:05d}"
    start = dt.date(2021, 1, 4) + dt.timedelta(days=rng.randint(0, 700))
    leaders = [p["id"] for p in staff if any(c["function"] == "audit_team_leader" for c in p["competences"])]
    auditors = [p["id"] for p in staff if p["id"] not in leaders]
    deciders = [p["id"] for p in staff if any(c["function"] == "certification_decision" for c in p["competences"])]
    persons = rng.choice([8, 20, 40, 120, 300])
    recs = [
        {"type": "client", "id": cid, "name": f"Client {i}", "address": f"{i} Service Road", "persons": persons},
        {"type": "application", "id": f"{cid}-app", "client": cid, "received_date": _d(start - dt.timedelta(days=60)),
         "standards": ["ISO/IEC 20000-1:2018"], "scope": "Managed IT services", "sites": [{"name": "HQ", "address": f"{i} Service Road", "central": True}],
         "persons": persons, "processes": "Service desk, change, incident", "outsourced_processes": [],
         "consultancy_used": False, "service_provider": f"Client {i}", "services": ["Hosting"],
         "service_locations": ["HQ"], "other_parties": []},
        {"type": "application_review", "id": f"{cid}-rev", "application": f"{cid}-app", "date": _d(start - dt.timedelta(days=40)),
         "reviewed_by": leaders[0], "outcome": "accept", "team_competences": "SMS", "decision_competences": "SMS",
         "information_sufficient": True, "differences_resolved": True, "competence_available": True,
         "considered": {k: True for k in ("scope", "sites", "audit_time", "language", "safety", "impartiality")},
         "audit_time": {"persons": persons, "adjustments": [], "initial_audit_days": {8: 5, 20: 7, 40: 8.5, 120: 12, 300: 15}[persons]}},
        {"type": "certification_agreement", "id": f"{cid}-agr", "client": cid, "signed_date": _d(start - dt.timedelta(days=30))},
        {"type": "audit_programme", "id": f"{cid}-prog", "client": cid, "cycle": 1, "start_date": _d(start)},
    ]
    plan = [("stage1", 0), ("stage2", 35), ("surveillance", 35 + 330), ("surveillance", 35 + 690), ("recertification", 35 + 1000)]
    decision_day = start + dt.timedelta(days=70)
    for k, (kind, offset) in enumerate(plan):
        a_start = start + dt.timedelta(days=offset)
        aid = f"{cid}-a{k}"
        leader, auditor = rng.choice(leaders), rng.choice([p for p in auditors if p not in deciders])
        meeting = {"attendance_recorded": True}
        recs.append({"type": "audit", "id": aid, "client": cid, "audit_type": kind, "start_date": _d(a_start),
                     "end_date": _d(a_start + dt.timedelta(days=1)), "status": "completed", "audit_days": 4,
                     "opening_meeting": {"date": _d(a_start), **meeting},
                     "closing_meeting": {"date": _d(a_start + dt.timedelta(days=1)), **meeting,
                                         "recommendation_presented": True, "nc_timeframe_agreed": True,
                                         "sampling_explained": True, "appeals_explained": True},
                     "team_notified_date": _d(a_start - dt.timedelta(days=21)),
                     **({"stage1_conclusions_sent_date": _d(a_start + dt.timedelta(days=5))} if kind == "stage1" else {})})
        recs.append({"type": "audit_plan", "id": f"{aid}-plan", "audit": aid, "issued_date": _d(a_start - dt.timedelta(days=14)),
                     "objectives": "o", "criteria": "ISO/IEC 20000-1:2018", "scope": "s", "dates": "d", "sites": "HQ", "roles": "r"})
        recs.append({"type": "team_assignment", "id": f"{aid}-t1", "audit": aid, "person": leader, "role": "leader", "days": 2})
        recs.append({"type": "team_assignment", "id": f"{aid}-t2", "audit": aid, "person": auditor, "role": "auditor", "days": 2})
        recs.append({"type": "audit_report", "id": f"{aid}-rep", "audit": aid, "author": leader,
                     "issued_date": _d(a_start + dt.timedelta(days=10)),
                     "cb_name": "Bench CB", "client_name": f"Client {i}", "client_address": "a", "audit_type": kind,
                     "criteria": "c", "objectives": "o", "scope": "s", "team": "t", "dates_and_places": "d",
                     "findings_summary": "f", "sampling_disclaimer": True, "recommendation": "maintain",
                     "conformity_statement": "c", "scope_appropriate": True, "objectives_met": True,
                     **({"surveillance_covered": {k: True for k in SURVEILLANCE_SUBJECTS}} if kind == "surveillance" else {})})
        for j in range(rng.randint(0, 2)):
            raised = a_start + dt.timedelta(days=1)
            recs.append({"type": "nonconformity", "id": f"{aid}-nc{j}", "audit": aid,
                         "grade": rng.choice(["minor", "minor", "major"]),
                         "requirement": "8.5.1", "statement": "s", "evidence": "e", "raised_date": _d(raised),
                         "due_date": _d(raised + dt.timedelta(days=60)), "cause_analysis": "c",
                         "correction": "fixed", "corrective_action": "process changed", "verified_by": leader,
                         "accepted_date": _d(raised + dt.timedelta(days=10)), "verified_date": _d(raised + dt.timedelta(days=20))})
    team = {r["person"] for r in recs if r["type"] == "team_assignment"}
    free = [p for p in deciders if p not in team] or deciders
    reviewed = {k: True for k in ("audit_reports", "nc_actions", "application_confirmed", "objectives_met", "recommendation")}
    for k, (kind, offset) in enumerate(plan):
        if kind == "surveillance":   # each surveillance ends in a decision to maintain
            recs.append({"type": "decision", "id": f"{cid}-dm{k}", "client": cid, "decision_type": "maintain",
                         "date": _d(start + dt.timedelta(days=offset + 25)), "decided_by": [free[0]],
                         "audit": f"{cid}-a{k}", "certificate": f"{cid}-cert1", "information_reviewed": reviewed})
    if i % 50 == 13:   # a second kind of planted gap: the stage 2 plan issued after the audit began
        (plan2,) = [r for r in recs if r["id"] == f"{cid}-a1-plan"]
        plan2["issued_date"] = _d(start + dt.timedelta(days=36))
    expiry = decision_day + dt.timedelta(days=3 * 365 - 1)
    renew_day = start + dt.timedelta(days=35 + 1000 + 30)
    cert = {"client": cid, "standard": "ISO/IEC 20000-1:2018", "scope": "Managed IT services", "sites": ["HQ"],
            "client_name": f"Client {i}", "client_address": f"{i} Service Road", "cb_name": "Bench CB",
            "service_provider": f"Client {i}", "services": ["Hosting"], "service_locations": ["HQ"]}
    recs += [
        {"type": "decision", "id": f"{cid}-d0", "client": cid, "decision_type": "grant", "date": _d(decision_day),
         "decided_by": [rng.choice(free)], "audit": f"{cid}-a1", "information_reviewed": reviewed},
        {"type": "certificate", "id": f"{cid}-cert1", "number": f"SMS-{i:05d}-1", "decision": f"{cid}-d0",
         "issue_date": _d(decision_day), "effective_date": _d(decision_day), "expiry_date": _d(expiry),
         "status": "superseded", **cert},
        {"type": "decision", "id": f"{cid}-d1", "client": cid, "decision_type": "renew", "date": _d(renew_day),
         "decided_by": [rng.choice(free)], "audit": f"{cid}-a4", "certificate": f"{cid}-cert1",
         "information_reviewed": reviewed},
        {"type": "certificate", "id": f"{cid}-cert2", "number": f"SMS-{i:05d}-2", "decision": f"{cid}-d1",
         "replaces": f"{cid}-cert1", "issue_date": _d(renew_day), "effective_date": _d(renew_day),
         "expiry_date": _d(expiry + dt.timedelta(days=3 * 365)), "status": "active", **cert},
    ]
    if i % 50 == 7:   # a planted gap now and then, as in a real export
        recs[-1]["effective_date"] = _d(renew_day - dt.timedelta(days=10))
    return recs


CLIENTS_PER_FILE = 10_000


def generate(out: Path, clients: int, seed: int = 7, layout: str = "jsonl") -> int:
    rng = random.Random(seed)
    staff = people(rng, 60)
    out.mkdir(parents=True, exist_ok=True)
    total = len(staff) + 1
    cb = {"type": "cb", "id": "bench-cb", "name": "Bench CB"}
    if layout == "jsonl":
        with open(out / "people.jsonl", "w", encoding="utf-8") as f:
            for rec in [cb] + staff:
                f.write(json.dumps(rec) + "\n")
        # At most CLIENTS_PER_FILE clients a file (clients.jsonl, clients2.jsonl, ...): 25,000
        # clients in one file would pass the size a record file may have (reader.MAX_FILE_MIB).
        for first in range(0, clients, CLIENTS_PER_FILE):
            with open(out / f"clients{first // CLIENTS_PER_FILE + 1 if first else ''}.jsonl", "w", encoding="utf-8") as f:
                for i in range(first, min(clients, first + CLIENTS_PER_FILE)):
                    for rec in client(rng, i, staff):
                        f.write(json.dumps(rec) + "\n")
                        total += 1
    else:
        (out / "cb.yaml").write_text(yaml.safe_dump([cb] + staff, sort_keys=False), encoding="utf-8")
        for i in range(clients):
            recs = client(rng, i, staff)
            folder = out / "clients" / recs[0]["id"]
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "records.yaml").write_text(yaml.safe_dump(recs, sort_keys=False), encoding="utf-8")
            total += len(recs)
    return total


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--clients", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--layout", choices=["jsonl", "folders"], default="jsonl")
    a = ap.parse_args()
    print(f"{generate(a.out, a.clients, a.seed, a.layout)} records written to {a.out}")
