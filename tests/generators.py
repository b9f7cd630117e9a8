"""Whole, schema-valid CB record sets with realistic mistakes in them: dates around month ends
and leap days, optional fields missing, people on several teams, decisions by team members,
consultancy near the two-year line.

The generator draws every choice through a `pick` object, so one description serves two
drivers: `cb_record_sets()`, a hypothesis strategy (random exploration and shrinking, for the
differential test), and `seeded_record_sets(seed)`, a plain `random.Random` (the same sets for
a seed whatever the hypothesis version or the modules loaded, for a check that must not
drift)."""
import datetime as dt
import random

from hypothesis import strategies as st

DAY0 = dt.date(2021, 1, 1)
LAST_DAY = dt.date(2026, 6, 30)
MONTH_ENDS = [dt.date(y, m, 1) - dt.timedelta(days=1) for y in (2022, 2023, 2024, 2025) for m in (1, 2, 3, 7)]
AUDIT_TYPES = ["stage1", "stage2", "surveillance", "recertification", "special", "transfer"]
ROLES = ["leader", "auditor", "auditor_in_training", "technical_expert", "observer", "interpreter"]
DECISIONS = ["grant", "refuse", "maintain", "renew", "suspend", "restore", "withdraw", "expand", "reduce"]
FUNCTIONS = ["application_review", "audit", "audit_team_leader", "certification_decision", "technical_expert"]
STANDARDS = ["ISO/IEC 20000-1:2018", "ISO 9001:2015"]
SITE_NAMES = ["HQ", "S1", "S2"]
SURVEILLANCE_SUBJECTS = ["internal_audits_and_management_review", "complaints", "use_of_marks", "changes"]


class HypothesisPick:
    """Choices drawn by hypothesis, which explores their edges and shrinks a failing set."""

    def __init__(self, draw):
        self.draw = draw

    def integer(self, low, high):
        return self.draw(st.integers(low, high))

    def fraction(self):
        return self.draw(st.floats(0, 1))

    def boolean(self):
        return self.draw(st.booleans())

    def choice(self, options):
        return self.draw(st.sampled_from(options))

    def subset(self, options, max_size):
        return self.draw(st.lists(st.sampled_from(options), max_size=max_size, unique=True))

    def day(self, first, last):
        return self.draw(st.dates(min_value=first, max_value=last))


class SeededPick:
    """The same choices from a seeded `random.Random`: reproducible anywhere."""

    def __init__(self, seed):
        self.rng = random.Random(seed)

    def integer(self, low, high):
        return self.rng.randint(low, high)

    def fraction(self):
        return self.rng.random()

    def boolean(self):
        return self.rng.random() < 0.5

    def choice(self, options):
        return self.rng.choice(options)

    def subset(self, options, max_size):
        return self.rng.sample(options, self.rng.randint(0, min(max_size, len(options))))

    def day(self, first, last):
        return first + dt.timedelta(days=self.rng.randint(0, (last - first).days))


def iso(d):
    return d.isoformat()


def any_date(pick):
    """Any day of the generated years, or often a month's last day (where month arithmetic errs)."""
    return pick.day(DAY0, LAST_DAY) if pick.boolean() else pick.choice(MONTH_ENDS)


def any_iso(pick):
    return iso(any_date(pick))


def maybe(pick, make, p_missing=0.25):
    """`make(pick)`, or the marker None (field left out)."""
    return None if pick.fraction() < p_missing else make(pick)


def days_after(start, low, high):
    """A maker of the ISO date `low`..`high` days after `start`."""
    return lambda pick: iso(start + dt.timedelta(days=pick.integer(low, high)))


def one_of(options):
    return lambda pick: pick.choice(options)


def put(record, **fields):
    record.update({k: v for k, v in fields.items() if v is not None})
    return record


def personnel(pick, pid, client_ids):
    comps = pick.subset(FUNCTIONS, 3)
    person = {"type": "personnel", "id": pid, "name": pid.upper()}
    put(person, employment=maybe(pick, one_of(["employee", "external"])),
        agreement_signed_date=maybe(pick, any_iso, 0.5), commitments_signed_date=maybe(pick, any_iso, 0.3))
    person["competences"] = [{"function": f, "standard": "ISO/IEC 20000-1:2018"} for f in comps]
    person["consultancy"] = [put({"client": pick.choice(client_ids)},
                                 start_date=maybe(pick, any_iso), end_date=maybe(pick, any_iso))
                             for _ in range(pick.integer(0, 2))]
    person["internal_audits"] = [put({"client": pick.choice(client_ids)}, end_date=maybe(pick, any_iso))
                                 for _ in range(pick.integer(0, 1))]
    person["onsite_observations"] = [{"date": any_iso(pick)} for _ in range(pick.integer(0, 2))]
    return person


def application(pick, cid):
    app = put({"type": "application", "id": f"{cid}-app", "client": cid},
              received_date=maybe(pick, any_iso), scope=maybe(pick, one_of(["Managed hosting"])),
              persons=maybe(pick, lambda p: p.integer(1, 900)), consultancy_used=maybe(pick, lambda p: p.boolean()),
              service_provider=maybe(pick, one_of(["Provider"])))
    for key in ("sites", "standards", "services", "service_locations", "outsourced_processes"):
        if pick.boolean():
            app[key] = ["x"] * pick.integer(0, 2) if key != "sites" else [{"name": "HQ"}] * pick.integer(0, 2)
    return app


def application_review(pick, cid, i, app):
    review = put({"type": "application_review", "id": f"{cid}-rev{i}", "application": app["id"]},
                 date=maybe(pick, any_iso), outcome=maybe(pick, one_of(["accept", "decline"])),
                 team_competences=maybe(pick, one_of(["SMS, hosting"])),
                 decision_competences=maybe(pick, one_of(["SMS"])),
                 decline_reasons=maybe(pick, one_of(["out of scope"]), 0.5))
    if pick.boolean():
        review["audit_time"] = put({}, persons=maybe(pick, lambda p: p.integer(1, 12000)),
                                   initial_audit_days=maybe(pick, one_of([3, 4.5, 5, 7, 8.5, 12, 20])),
                                   justification=maybe(pick, one_of(["complex services"]), 0.5))
        review["audit_time"]["adjustments"] = [{"factor": "f", "percent": pick.choice([-40, -20, -10, 10, 20])}
                                               for _ in range(pick.integer(0, 3))]
    return review


def audit(pick, cid, i):
    start = any_date(pick)
    return put({"type": "audit", "id": f"{cid}-a{i}", "client": cid, "audit_type": pick.choice(AUDIT_TYPES)},
               start_date=iso(start) if pick.fraction() > 0.1 else None,
               end_date=maybe(pick, days_after(start, 0, 4), 0.15),
               team_notified_date=maybe(pick, days_after(start, -30, 3)),
               stage1_conclusions_sent_date=maybe(pick, any_iso, 0.5),
               status=maybe(pick, one_of(["planned", "completed", "cancelled"]), 0.5),
               audit_days=maybe(pick, one_of([1, 2, 3, 4.5, 6]), 0.4))


def certificate(pick, cid, i):
    eff = any_date(pick)
    return put({"type": "certificate", "id": f"{cid}-cert{i}", "client": cid},
               number=maybe(pick, one_of([f"CERT-{cid}-{i}"])), scope=maybe(pick, one_of(["Hosting"])),
               standard=maybe(pick, one_of(["ISO/IEC 20000-1:2018"])), effective_date=iso(eff),
               issue_date=maybe(pick, days_after(eff, -5, 5)),
               expiry_date=maybe(pick, days_after(eff, 900, 1200), 0.1),
               status=maybe(pick, one_of(["active", "suspended", "withdrawn", "expired"])),
               service_provider=maybe(pick, one_of(["Provider"]), 0.4))


def decision(pick, cid, i, audits, certs, person_ids):
    d = put({"type": "decision", "id": f"{cid}-d{i}", "client": cid, "decision_type": pick.choice(DECISIONS)},
            date=maybe(pick, any_iso, 0.1),
            audit=maybe(pick, one_of([a["id"] for a in audits])) if audits else None,
            certificate=maybe(pick, one_of([c["id"] for c in certs])) if certs else None)
    if pick.fraction() > 0.15:
        d["decided_by"] = pick.subset(person_ids, 2)
    return d


def team_assignment(pick, a, j, person_ids):
    return put({"type": "team_assignment", "id": f"{a['id']}-t{j}", "audit": a["id"],
                "person": pick.choice(person_ids), "role": pick.choice(ROLES)},
               days=maybe(pick, one_of([0.5, 1, 2, 3])),
               counted_as_audit_time=maybe(pick, lambda p: p.boolean(), 0.5),
               evaluator=maybe(pick, one_of(person_ids), 0.5),
               accompanied_by=maybe(pick, one_of(person_ids), 0.5),
               client_agreed_date=maybe(pick, any_iso, 0.5))


def nonconformity(pick, a, j):
    raised = any_date(pick)
    return put({"type": "nonconformity", "id": f"{a['id']}-nc{j}", "audit": a["id"]},
               grade=maybe(pick, one_of(["major", "minor"]), 0.1),
               requirement=maybe(pick, one_of(["8.1"]), 0.2), statement=maybe(pick, one_of(["s"]), 0.2),
               evidence=maybe(pick, one_of(["e"]), 0.2), raised_date=iso(raised),
               due_date=maybe(pick, days_after(raised, 10, 200)),
               accepted_date=maybe(pick, days_after(raised, 0, 90)),
               verified_date=maybe(pick, days_after(raised, 0, 260)),
               cause_analysis=maybe(pick, one_of(["root cause"]), 0.4))


def audit_records(pick, a, person_ids):
    """An audit's team, nonconformities, plan and report."""
    recs = [team_assignment(pick, a, j, person_ids) for j in range(pick.integer(0, 3))]
    recs += [nonconformity(pick, a, j) for j in range(pick.integer(0, 2))]
    if pick.boolean():
        recs.append(put({"type": "audit_plan", "id": f"{a['id']}-plan", "audit": a["id"]},
                        issued_date=maybe(pick, any_iso, 0.2), objectives=maybe(pick, one_of(["o"]), 0.2),
                        criteria=maybe(pick, one_of(["c"]), 0.2), scope=maybe(pick, one_of(["s"]), 0.2)))
    if pick.boolean():
        recs.append(put({"type": "audit_report", "id": f"{a['id']}-rep", "audit": a["id"]},
                        issued_date=maybe(pick, any_iso, 0.2), client_name=maybe(pick, one_of(["n"]), 0.2),
                        recommendation=maybe(pick, one_of(["grant", "maintain"]), 0.2),
                        sampling_disclaimer=maybe(pick, lambda p: p.boolean(), 0.2)))
    return recs


def client_records(pick, cid, people):
    recs = [put({"type": "client", "id": cid, "name": f"Client {cid}"}, persons=maybe(pick, lambda p: p.integer(1, 900)))]
    app = application(pick, cid)
    recs.append(app)
    recs += [application_review(pick, cid, i, app) for i in range(pick.integer(0, 2))]
    if pick.boolean():
        recs.append(put({"type": "certification_agreement", "id": f"{cid}-agr", "client": cid},
                        signed_date=maybe(pick, any_iso)))
    if pick.boolean():
        recs.append({"type": "audit_programme", "id": f"{cid}-prog", "client": cid})
    audits = [audit(pick, cid, i) for i in range(pick.integer(0, 5))]
    recs += audits
    certs = [certificate(pick, cid, i) for i in range(pick.integer(0, 2))]
    for i, c in enumerate(certs):
        if i and pick.boolean():
            c["replaces"] = certs[0]["id"]
    recs += certs
    person_ids = [p["id"] for p in people]
    decisions = [decision(pick, cid, i, audits, certs, person_ids) for i in range(pick.integer(0, 4))]
    recs += decisions
    for c in certs:
        if decisions and pick.boolean():
            c["decision"] = pick.choice([d["id"] for d in decisions])
    for a in audits:
        recs += audit_records(pick, a, person_ids)
    return recs


def cb_records(pick, max_clients=3):
    client_ids = [f"c{i}" for i in range(pick.integer(1, max_clients))]
    people = [personnel(pick, f"p{i}", client_ids) for i in range(pick.integer(1, 4))]
    records = [{"type": "cb", "id": "cb", "name": "Generated CB"}] + people
    for cid in client_ids:
        records += client_records(pick, cid, people)
    for record in records:
        ADD_LATER.get(record["type"], lambda _p, _r: None)(pick, record)
    return records


# Fields added after the rest of a set is drawn, so the draws before them (and the seeded sets
# the fired-rules check relies on) stay as they were: sites and site sampling (SAM, TIME010),
# integration (TIME011), per-standard monitoring (PERS019), stage 1 confirmation (STG001),
# surveillance coverage (REP007).
def _later_personnel(pick, person):
    if pick.boolean():      # an auditor of a second standard
        person["competences"].append({"function": "audit", "standard": STANDARDS[1], "evaluated_date": any_iso(pick)})
    person["monitoring"] = [{"date": any_iso(pick), "standard": pick.choice(STANDARDS)} for _ in range(pick.integer(0, 2))]


def _later_client(pick, client):
    put(client, site_sampling=maybe(pick, one_of(["sampled", "not_appropriate"]), 0.5))
    if pick.boolean():
        client["sites"] = [{"name": SITE_NAMES[0], "central": True}] + [{"name": n} for n in SITE_NAMES[1:]]


def _later_review(pick, review):
    if "audit_time" in review:
        review["audit_time"]["sites"] = [{"site": pick.choice(SITE_NAMES), "reduction_percent": pick.choice([0, 30, 50, 60])}
                                         for _ in range(pick.integer(0, 2))]
        put(review["audit_time"], integration_reduction_percent=maybe(pick, one_of([10, 20, 25]), 0.6))


def _later_audit(pick, audit_record):
    put(audit_record, sites=maybe(pick, lambda p: p.subset(SITE_NAMES, 3), 0.4),
        stage1_results_confirmed_date=maybe(pick, any_iso, 0.7))


def _later_report(pick, report):
    put(report, surveillance_covered=maybe(pick, lambda p: {k: p.boolean() for k in SURVEILLANCE_SUBJECTS}, 0.3))


ADD_LATER = {"personnel": _later_personnel, "client": _later_client, "application_review": _later_review,
             "audit": _later_audit, "audit_report": _later_report}


@st.composite
def cb_record_sets(draw, max_clients=3):
    return cb_records(HypothesisPick(draw), max_clients)


def seeded_record_sets(seeds, max_clients=3):
    return [cb_records(SeededPick(seed), max_clients) for seed in seeds]
