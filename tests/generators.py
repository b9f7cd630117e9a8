"""hypothesis strategies for whole, schema-valid CB record sets with realistic mistakes in them:
dates around month ends and leap days, optional fields missing, people on several teams,
decisions by team members, consultancy near the two-year line."""
import datetime as dt

from hypothesis import strategies as st

DAY0 = dt.date(2021, 1, 1)
MONTH_ENDS = [dt.date(y, m, 1) - dt.timedelta(days=1) for y in (2022, 2023, 2024, 2025) for m in (1, 2, 3, 7)]
DATES = st.one_of(st.dates(min_value=DAY0, max_value=dt.date(2026, 6, 30)), st.sampled_from(MONTH_ENDS))
AUDIT_TYPES = ["stage1", "stage2", "surveillance", "recertification", "special", "transfer"]
ROLES = ["leader", "auditor", "auditor_in_training", "technical_expert", "observer", "interpreter"]
DECISIONS = ["grant", "refuse", "maintain", "renew", "suspend", "restore", "withdraw", "expand", "reduce"]
FUNCTIONS = ["application_review", "audit", "audit_team_leader", "certification_decision", "technical_expert"]


def iso(d):
    return d.isoformat()


@st.composite
def maybe(draw, strategy, p_missing=0.25):
    """A value or the marker None (field left out)."""
    return None if draw(st.floats(0, 1)) < p_missing else draw(strategy)


def put(record, **fields):
    record.update({k: v for k, v in fields.items() if v is not None})
    return record


@st.composite
def personnel(draw, pid, client_ids):
    comps = draw(st.lists(st.sampled_from(FUNCTIONS), max_size=3, unique=True))
    person = {"type": "personnel", "id": pid, "name": pid.upper()}
    put(person, employment=draw(maybe(st.sampled_from(["employee", "external"]))),
        agreement_signed_date=draw(maybe(DATES.map(iso), 0.5)),
        commitments_signed_date=draw(maybe(DATES.map(iso), 0.3)))
    person["competences"] = [{"function": f, "standard": "ISO/IEC 20000-1:2018"} for f in comps]
    person["consultancy"] = [put({"client": draw(st.sampled_from(client_ids))},
                                 start_date=draw(maybe(DATES.map(iso))), end_date=draw(maybe(DATES.map(iso))))
                             for _ in range(draw(st.integers(0, 2)))]
    person["internal_audits"] = [put({"client": draw(st.sampled_from(client_ids))}, end_date=draw(maybe(DATES.map(iso))))
                                 for _ in range(draw(st.integers(0, 1)))]
    person["onsite_observations"] = [{"date": iso(draw(DATES))} for _ in range(draw(st.integers(0, 2)))]
    return person


@st.composite
def client_records(draw, cid, people):
    recs = [put({"type": "client", "id": cid, "name": f"Client {cid}"}, persons=draw(maybe(st.integers(1, 900))))]
    app = put({"type": "application", "id": f"{cid}-app", "client": cid},
              received_date=draw(maybe(DATES.map(iso))), scope=draw(maybe(st.just("Managed hosting"))),
              persons=draw(maybe(st.integers(1, 900))), consultancy_used=draw(maybe(st.booleans())),
              service_provider=draw(maybe(st.just("Provider"))))
    for key in ("sites", "standards", "services", "service_locations", "outsourced_processes"):
        if draw(st.booleans()):
            app[key] = ["x"] * draw(st.integers(0, 2)) if key != "sites" else [{"name": "HQ"}] * draw(st.integers(0, 2))
    recs.append(app)
    for i in range(draw(st.integers(0, 2))):
        review = put({"type": "application_review", "id": f"{cid}-rev{i}", "application": app["id"]},
                     date=draw(maybe(DATES.map(iso))), outcome=draw(maybe(st.sampled_from(["accept", "decline"]))),
                     team_competences=draw(maybe(st.just("SMS, hosting"))),
                     decision_competences=draw(maybe(st.just("SMS"))),
                     decline_reasons=draw(maybe(st.just("out of scope"), 0.5)))
        if draw(st.booleans()):
            review["audit_time"] = put({}, persons=draw(maybe(st.integers(1, 12000))),
                                       initial_audit_days=draw(maybe(st.sampled_from([3, 4.5, 5, 7, 8.5, 12, 20]))),
                                       justification=draw(maybe(st.just("complex services"), 0.5)))
            review["audit_time"]["adjustments"] = [{"factor": "f", "percent": draw(st.sampled_from([-40, -20, -10, 10, 20]))}
                                                   for _ in range(draw(st.integers(0, 3)))]
        recs.append(review)
    if draw(st.booleans()):
        recs.append(put({"type": "certification_agreement", "id": f"{cid}-agr", "client": cid},
                        signed_date=draw(maybe(DATES.map(iso)))))
    if draw(st.booleans()):
        recs.append({"type": "audit_programme", "id": f"{cid}-prog", "client": cid})
    audits = []
    for i in range(draw(st.integers(0, 5))):
        start = draw(DATES)
        a = put({"type": "audit", "id": f"{cid}-a{i}", "client": cid, "audit_type": draw(st.sampled_from(AUDIT_TYPES))},
                start_date=iso(start) if draw(st.floats(0, 1)) > 0.1 else None,
                end_date=draw(maybe(st.integers(0, 4).map(lambda n: iso(start + dt.timedelta(days=n))), 0.15)),
                team_notified_date=draw(maybe(st.integers(-30, 3).map(lambda n: iso(start + dt.timedelta(days=n))))),
                stage1_conclusions_sent_date=draw(maybe(DATES.map(iso), 0.5)),
                status=draw(maybe(st.sampled_from(["planned", "completed", "cancelled"]), 0.5)),
                audit_days=draw(maybe(st.sampled_from([1, 2, 3, 4.5, 6]), 0.4)))
        audits.append(a)
    recs += audits
    certs = []
    for i in range(draw(st.integers(0, 2))):
        eff = draw(DATES)
        certs.append(put({"type": "certificate", "id": f"{cid}-cert{i}", "client": cid},
                         number=draw(maybe(st.just(f"CERT-{cid}-{i}"))), scope=draw(maybe(st.just("Hosting"))),
                         standard=draw(maybe(st.just("ISO/IEC 20000-1:2018"))), effective_date=iso(eff),
                         issue_date=draw(maybe(st.integers(-5, 5).map(lambda n: iso(eff + dt.timedelta(days=n))))),
                         expiry_date=draw(maybe(st.integers(900, 1200).map(lambda n: iso(eff + dt.timedelta(days=n))), 0.1)),
                         status=draw(maybe(st.sampled_from(["active", "suspended", "withdrawn", "expired"]))),
                         service_provider=draw(maybe(st.just("Provider"), 0.4))))
    for i, c in enumerate(certs):
        if i and draw(st.booleans()):
            c["replaces"] = certs[0]["id"]
    recs += certs
    person_ids = [p["id"] for p in people]
    decisions = []
    for i in range(draw(st.integers(0, 4))):
        d = put({"type": "decision", "id": f"{cid}-d{i}", "client": cid, "decision_type": draw(st.sampled_from(DECISIONS))},
                date=draw(maybe(DATES.map(iso), 0.1)),
                audit=draw(maybe(st.sampled_from([a["id"] for a in audits]))) if audits else None,
                certificate=draw(maybe(st.sampled_from([c["id"] for c in certs]))) if certs else None)
        if draw(st.floats(0, 1)) > 0.15:
            d["decided_by"] = draw(st.lists(st.sampled_from(person_ids), max_size=2, unique=True))
        decisions.append(d)
    recs += decisions
    for c in certs:
        if decisions and draw(st.booleans()):
            c["decision"] = draw(st.sampled_from([d["id"] for d in decisions]))
    for a in audits:
        for j in range(draw(st.integers(0, 3))):
            recs.append(put({"type": "team_assignment", "id": f"{a['id']}-t{j}", "audit": a["id"],
                             "person": draw(st.sampled_from(person_ids)), "role": draw(st.sampled_from(ROLES))},
                            days=draw(maybe(st.sampled_from([0.5, 1, 2, 3]))),
                            counted_as_audit_time=draw(maybe(st.booleans(), 0.5)),
                            evaluator=draw(maybe(st.sampled_from(person_ids), 0.5)),
                            accompanied_by=draw(maybe(st.sampled_from(person_ids), 0.5)),
                            client_agreed_date=draw(maybe(DATES.map(iso), 0.5))))
        for j in range(draw(st.integers(0, 2))):
            raised = draw(DATES)
            recs.append(put({"type": "nonconformity", "id": f"{a['id']}-nc{j}", "audit": a["id"]},
                            grade=draw(maybe(st.sampled_from(["major", "minor"]), 0.1)),
                            requirement=draw(maybe(st.just("8.1"), 0.2)), statement=draw(maybe(st.just("s"), 0.2)),
                            evidence=draw(maybe(st.just("e"), 0.2)), raised_date=iso(raised),
                            due_date=draw(maybe(st.integers(10, 200).map(lambda n: iso(raised + dt.timedelta(days=n))))),
                            accepted_date=draw(maybe(st.integers(0, 90).map(lambda n: iso(raised + dt.timedelta(days=n))))),
                            verified_date=draw(maybe(st.integers(0, 260).map(lambda n: iso(raised + dt.timedelta(days=n))))),
                            cause_analysis=draw(maybe(st.just("root cause"), 0.4))))
        if draw(st.booleans()):
            recs.append(put({"type": "audit_plan", "id": f"{a['id']}-plan", "audit": a["id"]},
                            issued_date=draw(maybe(DATES.map(iso), 0.2)), objectives=draw(maybe(st.just("o"), 0.2)),
                            criteria=draw(maybe(st.just("c"), 0.2)), scope=draw(maybe(st.just("s"), 0.2))))
        if draw(st.booleans()):
            recs.append(put({"type": "audit_report", "id": f"{a['id']}-rep", "audit": a["id"]},
                            issued_date=draw(maybe(DATES.map(iso), 0.2)), client_name=draw(maybe(st.just("n"), 0.2)),
                            recommendation=draw(maybe(st.sampled_from(["grant", "maintain"]), 0.2)),
                            sampling_disclaimer=draw(maybe(st.booleans(), 0.2))))
    return recs


@st.composite
def cb_record_sets(draw, max_clients=3):
    client_ids = [f"c{i}" for i in range(draw(st.integers(1, max_clients)))]
    people = [draw(personnel(f"p{i}", client_ids)) for i in range(draw(st.integers(1, 4)))]
    records = [{"type": "cb", "id": "cb", "name": "Generated CB"}] + people
    for cid in client_ids:
        records += draw(client_records(cid, people))
    return records
