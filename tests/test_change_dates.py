"""The change-date mechanism on hand-computed cases: each flip date below is worked out from
the condition's meaning (the day the date crosses FIELD - OFFSET), not from the code."""
import dataclasses
import datetime as dt

from checker.catalog.as_of_terms import AsOfTerm, DateSensitivity, date_sensitivity
from checker.derive import AS_OF_YEAR_DEPENDENT, REGISTRY, derive
from checker.derive.model import AS_OF
from checker.engine.change_dates import change_dates, first_date_at, flip_dates
from checker.pipeline import load_input
from tests.helpers import make_rule, shipped_rules

D = dt.date


def term(op, unit="days", amount=0, kind="audit", field="start_date"):
    return AsOfTerm(kind, field, op, unit, amount)


def test_day_offsets_flip_on_the_day_the_date_crosses_the_field():
    # start_date < $as_of: false on 2026-03-10 itself, true from 2026-03-11.
    assert flip_dates(term("<"), "2026-03-10") == [D(2026, 3, 11)]
    # start_date <= $as_of: true from the day itself.
    assert flip_dates(term("<="), "2026-03-10") == [D(2026, 3, 10)]
    # due_date > $as_of - days(30) on 2026-01-15: true while as_of <= 2026-02-13, false from 02-14.
    assert flip_dates(term(">", amount=-30), "2026-01-15") == [D(2026, 2, 14)]
    # date >= $as_of + days(10) on 2026-01-15: true while as_of <= 01-05, false from 01-06.
    assert flip_dates(term(">=", amount=10), "2026-01-15") == [D(2026, 1, 6)]
    # date == $as_of holds on one day only: it starts and it ends.
    assert flip_dates(term("=="), "2026-12-31") == [D(2026, 12, 31), D(2027, 1, 1)]
    assert flip_dates(term("!="), "2026-12-31") == [D(2026, 12, 31), D(2027, 1, 1)]


def test_month_offsets_follow_the_calendar_and_month_ends():
    # date < $as_of - months(12) on 2025-01-31: as_of 2026-01-31 gives 2025-01-31 (false),
    # 2026-02-01 gives 2025-02-01 (true).
    assert flip_dates(term("<", "months", -12, field="date"), "2025-01-31") == [D(2026, 2, 1)]
    # date < $as_of + months(6) on 2026-08-31: as_of 2026-02-28 gives 2026-08-28 (false); the
    # next day 2026-03-01 gives 2026-09-01 (true). "2026-02-31" does not exist.
    assert flip_dates(term("<", "months", 6, field="date"), "2026-08-31") == [D(2026, 3, 1)]
    assert flip_dates(term("<=", "months", 6, field="date"), "2026-08-31") == [D(2026, 3, 1)]
    # A leap year's February has a 29th: 2024-08-29 - 6 months is 2024-02-29 itself.
    assert flip_dates(term("<=", "months", 6, field="date"), "2024-08-29") == [D(2024, 2, 29)]
    # Across a year end: 2027-01-15 - 1 month is 2026-12-15; `>` turns false on that day.
    assert flip_dates(term(">", "months", 1, field="date"), "2027-01-15") == [D(2026, 12, 15)]


def test_first_date_at_a_slot_past_a_month_end_is_the_next_month():
    assert first_date_at("months", (2026 * 12 + 11) * 31 + 30) == D(2026, 12, 31)
    assert first_date_at("months", (2026 * 12 + 10) * 31 + 30) == D(2026, 12, 1)   # "30 November + 1"
    assert first_date_at("days", D(2026, 1, 1).toordinal()) == D(2026, 1, 1)


AUDIT = {"type": "audit", "id": "a1", "client": "c1", "audit_type": "surveillance", "start_date": "2026-03-10"}


def test_change_dates_are_the_flips_inside_the_window_only():
    sensitivity = DateSensitivity(frozenset({term("<"), term(">", amount=-30)}), frozenset({"audit"}))
    # Flips: 2026-03-11 (<) and 2026-04-09 (> with -30: 03-10 + 30).
    assert change_dates([AUDIT], sensitivity, {}, D(2026, 3, 1), D(2026, 4, 30)) == [D(2026, 3, 11), D(2026, 4, 9)]
    # The window is (start, end]: a flip on the start date is not a change since the start.
    assert change_dates([AUDIT], sensitivity, {}, D(2026, 3, 11), D(2026, 4, 9)) == [D(2026, 4, 9)]
    assert change_dates([AUDIT], sensitivity, {}, D(2026, 4, 9), D(2026, 12, 31)) == []
    # A fact without the field, or of another kind, changes nothing.
    other = {**AUDIT, "type": "audit", "id": "a2"}
    del other["start_date"]
    assert change_dates([other], sensitivity, {}, D(2026, 1, 1), D(2026, 12, 31)) == []


def test_array_items_are_facts_of_their_own():
    person = {"type": "personnel", "id": "p1", "name": "A", "evaluations": [{"date": "2026-05-20"}]}
    sensitivity = DateSensitivity(frozenset({term("<", "months", -12, "personnel.evaluations", "date")}),
                                  frozenset({"personnel.evaluations"}))
    # evaluation 2026-05-20 < as_of - 12 months: false on 2027-05-20, true from 2027-05-21.
    assert change_dates([person], sensitivity, {}, D(2027, 1, 1), D(2027, 12, 31)) == [D(2027, 5, 21)]


CERT = {"type": "certificate", "id": "k1", "client": "c1", "effective_date": "2023-03-01",
        "expiry_date": "2026-02-28"}


def test_year_dependent_derived_values_change_on_the_first_of_january():
    # certified_year: the years strictly between 2023 and 2026 before the as-of year, so
    # {} in 2024, {2024} in 2025, {2024, 2025} in 2026 and after: changes on 2025-01-01 and
    # 2026-01-01, none on 2027-01-01.
    reads = DateSensitivity(frozenset(), frozenset({"certified_year"}))
    assert change_dates([CERT], reads, {}, D(2024, 6, 1), D(2027, 6, 1)) == [D(2025, 1, 1), D(2026, 1, 1)]
    # Rules that do not read it: no change.
    assert change_dates([CERT], DateSensitivity(frozenset(), frozenset({"certificate"})), {},
                        D(2024, 6, 1), D(2027, 6, 1)) == []


def test_the_catalog_knows_its_as_of_comparisons():
    rule = make_rule("T1", {"match": [{"bind": "d", "kind": "decision",
                                       "where": ["date < $as_of - months(15)", "decision_type == 'grant'"]}],
                            "absent": [{"kind": "audit", "where": ["start_date >= d.date", "start_date <= $as_of"]}]})
    sensitivity = date_sensitivity([rule], ("client",))
    assert {dataclasses.replace(t, guard=(), partners=()) for t in sensitivity.terms} == {
        AsOfTerm("decision", "date", "<", "months", -15), AsOfTerm("audit", "start_date", "<=", "days", 0)}
    # Each term's guard: its clause's conditions on the fact alone, and what later clauses read of it.
    guards = {t.kind: [(c.field, getattr(c, "present", None), c.source) for c in t.guard] for t in sensitivity.terms}
    assert guards == {"decision": [("decision_type", None, "decision_type == 'grant'"), ("date", True, "")], "audit": []}
    assert sensitivity.kinds == {"decision", "audit"}
    assert date_sensitivity([rule], ("cb",)).terms == frozenset()


# The first surveillance (CYC002's shape): a grant decided over 12 months ago with no
# surveillance audit, not cancelled, started after it.
SURVEILLANCE = make_rule("T2", {"match": [{"bind": "d", "kind": "decision",
                                           "where": ["decision_type == 'grant'", "date < $as_of - months(12)"]}],
                                "absent": [{"kind": "audit", "where": ["audit_type in ['surveillance']",
                                                                       "status is not 'cancelled'",
                                                                       "start_date >= d.date",
                                                                       "start_date <= $as_of"]}]})


def test_a_fact_another_condition_of_its_clause_excludes_has_no_change_dates():
    reads = date_sensitivity([SURVEILLANCE], ("client",))
    year = D(2026, 1, 1), D(2026, 12, 31)
    grant = {"type": "decision", "id": "d1", "client": "c1", "decision_type": "grant", "date": "2025-05-20"}
    # The grant's deadline passes on 2026-05-21; a suspension of the same date never fills the
    # binding (on any date), so its deadline is no change date.
    assert change_dates([grant], reads, {}, *year) == [D(2026, 5, 21)]
    assert change_dates([{**grant, "decision_type": "suspend"}], reads, {}, *year) == []
    # An audit starting on 2026-09-01 fills the absent clause from that day on, unless it is
    # cancelled or of another type; one without a status is not cancelled.
    audit = {"type": "audit", "id": "a1", "client": "c1", "audit_type": "surveillance", "start_date": "2026-09-01",
             "status": "planned"}
    both = [D(2026, 5, 21), D(2026, 9, 1)]
    assert change_dates([grant, audit], reads, {}, *year) == both
    assert change_dates([grant, {k: v for k, v in audit.items() if k != "status"}], reads, {}, *year) == both
    assert change_dates([grant, {**audit, "status": "cancelled"}], reads, {}, *year) == [D(2026, 5, 21)]
    assert change_dates([grant, {**audit, "audit_type": "stage2"}], reads, {}, *year) == [D(2026, 5, 21)]
    # Nor does it matter without a grant it could follow (the absent clause reads d.date).
    assert change_dates([audit], reads, {}, *year) == []
    assert change_dates([{**grant, "decision_type": "suspend"}, audit], reads, {}, *year) == []


def test_a_fact_the_other_clauses_leave_nothing_to_do_has_no_change_dates():
    # An audit's report is due 30 days after it ends (9.4.8.1's shape): an audit with its
    # report can never be found without one, whatever the date.
    report_due = make_rule("T4", {"match": [{"bind": "a", "kind": "audit", "where": ["end_date < $as_of - days(30)"]}],
                                  "absent": [{"kind": "audit_report", "where": ["audit == a.id"]}]})
    reads, year = date_sensitivity([report_due], ("client",)), (D(2026, 1, 1), D(2026, 12, 31))
    audit = {"type": "audit", "id": "a1", "client": "c1", "audit_type": "stage2", "end_date": "2026-03-10"}
    report = {"type": "audit_report", "id": "r1", "client": "c1", "audit": "a1", "issued_date": "2026-03-20"}
    assert change_dates([audit], reads, {}, *year) == [D(2026, 4, 10)]
    assert change_dates([audit, report], reads, {}, *year) == []
    assert change_dates([audit, {**report, "audit": "a2"}], reads, {}, *year) == [D(2026, 4, 10)]
    # A replacing certificate in effect matters only beside an active certificate it replaces.
    replaced = make_rule("T5", {"match": [{"bind": "n", "kind": "certificate",
                                           "where": ["present(replaces)", "effective_date <= $as_of"]},
                                          {"bind": "o", "kind": "certificate",
                                           "where": ["id == n.replaces", "status == 'active'"]}]})
    reads = date_sensitivity([replaced], ("client",))
    new = {"type": "certificate", "id": "k2", "client": "c1", "replaces": "k1", "effective_date": "2026-06-01"}
    old = {"type": "certificate", "id": "k1", "client": "c1", "status": "active"}
    assert change_dates([new, old], reads, {}, *year) == [D(2026, 6, 1)]
    assert change_dates([new, {**old, "status": "withdrawn"}], reads, {}, *year) == []
    assert change_dates([new, {**old, "id": "k0"}], reads, {}, *year) == []


def test_a_guard_excludes_only_where_the_engine_test_certainly_fails():
    rule = make_rule("T3", {"match": [{"bind": "n", "kind": "nonconformity",
                                       "where": ["due_date < $as_of", "verified_date > self.raised_date + days(60)"]},
                                      {"bind": "a", "kind": "audit", "where": ["id == n.audit", "audit_days > 1"]}]})
    reads = date_sensitivity([rule], ("client",))
    year = D(2026, 1, 1), D(2026, 12, 31)
    nc = {"type": "nonconformity", "id": "n1", "client": "c1", "audit": "a1", "due_date": "2026-04-01",
          "raised_date": "2026-01-01", "verified_date": "2026-03-15"}
    audit = {"type": "audit", "id": "a1", "client": "c1", "audit_type": "stage2", "audit_days": 2}
    # verified 73 days after it was raised: the binding may match; 40 days: never; without the
    # audit the join reads (a later clause's field), never either.
    assert change_dates([nc, audit], reads, {}, *year) == [D(2026, 4, 2)]
    assert change_dates([{**nc, "verified_date": "2026-02-10"}, audit], reads, {}, *year) == []
    assert change_dates([{k: v for k, v in nc.items() if k != "audit"}, audit], reads, {}, *year) == []
    # The audit it joins must be one that may pass its own tests: one day is never > 1; a float
    # is never judged here (the engine's core may read it otherwise), so 1.0 may.
    assert change_dates([nc, {**audit, "audit_days": 1}], reads, {}, *year) == []
    assert change_dates([nc, {**audit, "audit_days": 1.0}], reads, {}, *year) == [D(2026, 4, 2)]
    assert change_dates([nc, {**audit, "id": "a2"}], reads, {}, *year) == []


def test_the_real_catalog_compares_with_as_of():
    rules, _params = shipped_rules()
    terms = {dataclasses.replace(t, guard=(), partners=()) for t in date_sensitivity(rules, ("client",)).terms}
    assert AsOfTerm("decision", "date", "<", "months", -12) in terms   # the first surveillance's deadline


def test_derived_values_not_declared_year_dependent_do_not_move_with_the_year():
    assert {entry.as_of for entry in REGISTRY.values()} <= set(AS_OF)
    loaded = load_input("fixtures/demo-cb")
    _rules, params = shipped_rules()
    records = [r.data for r in loaded.index.by_id.values()]
    # The demo has no withdrawal: one before a client's last audit gives that audit its
    # after_certification_withdrawn (and stops the client's certified years).
    audit = max((r for r in records if r["type"] == "audit" and r.get("start_date")), key=lambda r: r["start_date"])
    records.append({"id": "DEC-WITHDRAW-TEST", "type": "decision", "client": audit["client"],
                    "decision_type": "withdraw", "date": "2020-01-01"})
    # Nor a certificate stating its original issue date or a replaced edition (register values).
    records.append({"id": "CERT-REGISTER-TEST", "type": "certificate", "client": audit["client"],
                    "standard": "ISO/IEC 20000-1:2011", "original_issue_date": "2017-05-02",
                    "issue_date": "2020-04-20", "expiry_date": "2023-05-01"})
    # Every demo certificate lists its services: one with only a scope text gets services_not_named.
    records.append({"id": "CERT-SCOPE-TEST", "type": "certificate", "client": audit["client"], "scope": "IT services"})

    def undeclared(year):
        enriched, pseudo = derive(records, params.values(), year)
        return [r for r in enriched + pseudo if r["type"] not in AS_OF_YEAR_DEPENDENT]
    kept = undeclared(2000)
    assert kept == undeclared(2100)
    assert AS_OF_YEAR_DEPENDENT == {"certified_year", "surveillance_site_year"}
    # Every per-partition entry declared "none" was computed in the comparison above, but the
    # application reviews' audit-time fields (the demo's reviews carry none of their inputs).
    # The CB-wide kinds are computed without the year at all (derive_cb_wide).
    produced = {f"{r['type']}.{name}" for r in kept for name in r} | {r["type"] for r in kept}
    per_partition = {e.key for e in REGISTRY.values()
                     if e.as_of == "none" and getattr(e, "scope", "client") == "client"}
    assert per_partition - produced <= {e.key for e in REGISTRY.values() if e.key.startswith("application_review.")}
    assert {"team_assignment.member", "audit.after_certification_withdrawn", "audit_plan.remote_activities_none",
            "appeal_involvement", "complaint_involvement"} <= produced
    assert any(r["type"] == "certified_year" for r in derive(records, params.values(), 2100)[1])


def test_surveillance_site_year_is_declared_year_dependent_because_it_moves_with_the_year():
    # A year's surveillance site coverage is judged once the year is over: nothing for 2024 in
    # 2024, the 2024 row from 1 January 2025 (test_derive's hand-worked unsampled client).
    from checker.derive import DERIVED_KINDS
    from tests.test_derive import UNSAMPLED, pseudo_records
    kind = DERIVED_KINDS["surveillance_site_year"]
    assert kind.as_of == "year"
    assert [r["year"] for r in pseudo_records(kind, UNSAMPLED, 2024)] == [2023]
    assert [r["year"] for r in pseudo_records(kind, UNSAMPLED, 2025)] == [2023, 2024]
