"""Derived facts against hand-worked examples (checker/derive/), and the date numbers
the engine compares (checker/dates.py)."""
import copy
import datetime as dt
import random
from pathlib import Path

import pytest

from checker.dates import day_number, month_slot
from checker.derive import DERIVED_KINDS, KINDS, REGISTRY, CbWideTally, cb_share_ids, cb_shares, derive, derive_cb_wide
from checker.derive import register
from checker.derive.audit_time import table1_days
from checker.engine.facts import record_facts

TABLE = [{"max_persons": 10, "days": 5}, {"max_persons": 45, "days": 8.5}, {"max_persons": 100, "days": 11}]
PARAMS = {"sm_table1_audit_days": TABLE, "audit_time_roles": ["leader", "auditor"], "sm_cap_landing_tolerance_points": 1,
          "sampling_factor_initial": 1.0, "sampling_factor_surveillance": 0.6, "sampling_factor_recertification": 0.8,
          "surveillance_report_subjects": ["internal_audits_and_management_review", "complaints", "changes"],
          "cycle_years": 3, "standard_edition_transitions": [
              {"edition": "ISO/IEC 20000-1:2011", "replaced_by": "ISO/IEC 20000-1:2018", "transition_end": "2021-09-29"},
              {"edition": "ISO/IEC 27001:2013", "replaced_by": "ISO/IEC 27001:2022", "transition_end": "2025-10-31"}],
          "scope_generic_words": ["it", "service", "services", "management", "system", "managed", "and", "for", "of",
                                  "the", "as", "per", "contract"], "scope_service_min_words": 1}


ABSENT = "absent"        # the value is not derived for that record


def value_of(name: str, records: list[dict], target: str, params=None, as_of_year: int = 2025):
    """Derived field `name` (a registry key) on record `target` after derivation, or ABSENT."""
    out, _ = derive(records, {**PARAMS, **(params or {})}, as_of_year)
    value = next(r for r in out if r["id"] == target)
    for part in REGISTRY[name].name.split("."):
        if not isinstance(value, dict) or part not in value:
            return ABSENT
        value = value[part]
    return value


def review(rid="r1", persons=40, days=None, adjustments=None):
    at = {"persons": persons, "initial_audit_days": days, "adjustments": adjustments}
    return {"type": "application_review", "id": rid, "application": "x",
            "audit_time": {k: v for k, v in at.items() if v is not None}}


def adjusted(*percents):
    return [{"factor": f"factor {i}", "percent": p} for i, p in enumerate(percents)]


def audit(aid="a1", **fields):
    return {"type": "audit", "id": aid, "client": "c", "audit_type": "stage2", **fields}


def team(tid, role, days=None, aid="a1"):
    return {"type": "team_assignment", "id": tid, "audit": aid, "person": f"p-{tid}", "role": role,
            **({"days": days} if days is not None else {})}


TEAM = [team("t1", "leader", 2), team("t2", "auditor", 1.5), team("t3", "technical_expert", 2), team("t4", "observer")]
NINE_SITES = [{"name": "HQ", "central": True}] + [{"name": f"S{i}"} for i in range(1, 10)]     # 9 non-central
TWENTY_FIVE_SITES = [{"name": "HQ", "central": True}] + [{"name": f"S{i}"} for i in range(1, 26)]


def sampled(audit_type, visited, sites=NINE_SITES, client="c"):
    return [{"type": "client", "id": client, "sites": sites},
            {**audit(f"{client}-{audit_type}", audit_type=audit_type, sites=visited), "client": client}]


def surveillance(aid, start, client="c", **fields):
    return {"type": "audit", "id": aid, "client": client, "audit_type": "surveillance", "start_date": start, **fields}


WITHDRAWN = [{"type": "decision", "id": "w", "client": "c", "decision_type": "withdraw", "date": "2022-08-01"},
             surveillance("a-before", "2022-02-01"), surveillance("a-after", "2023-02-01"),
             surveillance("a-other", "2023-02-01", client="d")]
WITHDRAWN_K1 = [{"type": "decision", "id": "w", "client": "c", "decision_type": "withdraw", "date": "2022-08-01",
                 "certificate": "k1"},
                surveillance("a-k1", "2023-02-01", certificate="k1"), surveillance("a-k2", "2023-02-01", certificate="k2"),
                surveillance("a-any", "2023-02-01")]


# A surveillance report recording complaints as covered, internal audits as not covered and
# changes not at all (parameters below: those three subjects).
REPORT = {"type": "audit_report", "id": "rep", "audit": "a1",
          "surveillance_covered": {"complaints": True, "internal_audits_and_management_review": False}}


# Every derived field: (records, the record it sits on, parameters overriding PARAMS, the value
# worked out by hand). A registry entry without a case fails test_every_derived_field_has_cases.
def dated(original, issued):
    return {"type": "certificate", "id": "k", "client": "c", "issue_date": issued,
            **({"original_issue_date": original} if original else {})}


def edition(standard):
    return {"type": "certificate", "id": "k", "client": "c", "standard": standard}


def sms_cert(**fields):
    return {"type": "certificate", "id": "k", "client": "c", "client_name": "Acme Hosting Ltd", **fields}


FIELD_CASES = {
    "application_review.audit_time.adjustments_reduction_percent": [
        ([review(adjustments=adjusted(-30, -20, 10))], "r1", None, 50.0),          # 30 + 20; the increase ignored
        ([review(adjustments=adjusted(-12.345, -0.001))], "r1", None, 12.35),      # 12.346 to 2 decimals
        ([review(adjustments=[])], "r1", None, 0.0),
        ([{"type": "application_review", "id": "r1", "application": "x"}], "r1", None, ABSENT),
    ],
    "application_review.audit_time.table1_days": [
        ([review(persons=40)], "r1", None, 8.5),                                   # 11-45 persons band
        ([review(persons=10)], "r1", None, 5),                                     # a band's upper edge
        ([review(persons=101)], "r1", None, ABSENT),                               # beyond the last band
        ([review(persons=101)], "r1", {"sm_table1_audit_days": TABLE + [{"days": 30}]}, 30),   # open-ended band
        ([review(persons=None, days=5)], "r1", None, ABSENT),
    ],
    "application_review.audit_time.deviation_percent": [
        ([review(persons=40, days=5.1)], "r1", None, -40.0),                       # (5.1 - 8.5) / 8.5 = -0.4
        ([review(persons=5, days=6)], "r1", None, 20.0),                           # (6 - 5) / 5 = +0.2
        ([review(persons=45, days=7)], "r1", None, -17.65),                        # -1.5 / 8.5 = -0.176470...
        ([review(persons=40)], "r1", None, ABSENT),                                # no planned days
    ],
    "application_review.audit_time.reduction_percent": [
        ([review(persons=40, days=5.1)], "r1", None, 40.0),
        ([review(persons=5, days=6)], "r1", None, 0.0),                            # an increase reduces nothing
        ([review(persons=45, days=7)], "r1", None, 17.65),
        ([review(persons=101, days=7)], "r1", None, ABSENT),
    ],
    "audit.auditor_days": [
        ([audit(), *TEAM], "a1", None, 3.5),                                       # leader 2 + auditor 1.5
        ([audit(), *TEAM], "a1", {"audit_time_roles": ["leader"]}, 2),
        ([audit(), team("t3", "technical_expert", 2)], "a1", None, 0),             # days, none an auditor's
        ([audit(), team("t1", "leader")], "a1", None, ABSENT),                     # no days recorded at all
    ],
    "audit.non_auditor_days": [
        ([audit(), *TEAM], "a1", None, 2),                                         # the expert; the observer has none
        ([audit(), *TEAM], "a1", {"audit_time_roles": ["leader"]}, 3.5),           # auditor 1.5 + expert 2
        ([audit(), team("t1", "leader", 3)], "a1", None, 0),
    ],
    "audit.unbacked_audit_days": [
        ([audit(audit_days=6), *TEAM], "a1", None, 2.5),                           # 6 - 3.5
        ([audit(audit_days=3), *TEAM], "a1", None, -0.5),
        ([audit(), *TEAM], "a1", None, ABSENT),                                    # no audit_days reported
        ([audit(audit_days=6)], "a1", None, ABSENT),                               # no team days
    ],
    "audit.sites_total": [
        (sampled("stage2", ["HQ"]), "c-stage2", None, 10),
        (sampled("stage1", ["HQ"]), "c-stage1", None, ABSENT),                     # stage 1 samples nothing
        (sampled("stage2", ["HQ"], sites=[{"name": "HQ"}, {"address": "unnamed"}]), "c-stage2", None, ABSENT),
    ],
    "audit.noncentral_sites_visited": [
        (sampled("stage2", ["HQ", "S1", "S2", "S1", "Elsewhere"]), "c-stage2", None, 2),   # central, repeats, unknown
        (sampled("surveillance", []), "c-surveillance", None, 0),
    ],
    "audit.required_sample_sites": [
        (sampled("stage2", []), "c-stage2", None, 3),                              # 1.0 x sqrt(9) = 3
        (sampled("surveillance", []), "c-surveillance", None, 2),                  # 0.6 x 3 = 1.8 -> 2
        (sampled("recertification", []), "c-recertification", None, 3),           # 0.8 x 3 = 2.4 -> 3
        (sampled("surveillance", [], TWENTY_FIVE_SITES), "c-surveillance", None, 3),   # 0.6 x 5 = 3, not 4
        (sampled("surveillance", []), "c-surveillance", {"sampling_factor_surveillance": 1.0}, 3),
    ],
    "audit.sample_shortfall": [
        (sampled("stage2", ["HQ", "S1", "S2"]), "c-stage2", None, 1),              # 3 required, 2 visited
        (sampled("surveillance", ["S1", "S2", "S3"]), "c-surveillance", None, 0),  # more than enough is 0
        (sampled("recertification", ["HQ"]), "c-recertification", None, 3),
    ],
    "audit.sites_not_visited": [
        (sampled("stage2", ["HQ", "S1", "S2", "S1", "Elsewhere"]), "c-stage2", None, 7),   # 10 sites; HQ, S1, S2 named
        (sampled("recertification", ["HQ"] + [f"S{i}" for i in range(1, 10)]), "c-recertification", None, 0),
        (sampled("stage1", []), "c-stage1", None, ABSENT),                         # stage 1 samples nothing
    ],
    "audit_report.surveillance_not_covered": [
        ([audit(audit_type="surveillance"), REPORT], "rep", None, "internal audits and management review, changes"),
        ([audit(audit_type="surveillance"), {**REPORT, "surveillance_covered": {}}], "rep", None,
         "internal audits and management review, complaints, changes"),
        ([audit(audit_type="surveillance"), REPORT], "rep", {"surveillance_report_subjects": ["complaints"]}, ABSENT),
        ([audit(audit_type="recertification"), REPORT], "rep", None, ABSENT),          # not a surveillance
    ],
    "audit.central_site_visited": [
        (sampled("stage2", ["HQ", "S1"]), "c-stage2", None, True),
        (sampled("surveillance", ["S1", "S2"]), "c-surveillance", None, False),
        (sampled("surveillance", ["S1"], [{"name": "A"}, {"name": "B"}]), "c-surveillance", None, False),
    ],
    "team_assignment.member": [
        ([team("t1", "leader")], "t1", None, "p-t1"),
        ([{"type": "team_assignment", "id": "t2", "audit": "a1", "role": "observer", "external_name": "Wendy Witness",
           "external_organisation": "UKAS"}], "t2", None, "Wendy Witness (UKAS, not CB personnel)"),
        ([{"type": "team_assignment", "id": "t3", "audit": "a1", "role": "interpreter", "external_name": "Ines Lingua"}],
         "t3", None, "Ines Lingua (not CB personnel)"),
        ([{"type": "team_assignment", "id": "t4", "audit": "a1", "role": "observer"}], "t4", None, ABSENT),
    ],
    "audit.after_certification_withdrawn": [
        (WITHDRAWN, "a-after", None, True),                  # withdrawal naming no certificate, before the start
        (WITHDRAWN, "a-before", None, ABSENT),               # started before the withdrawal
        (WITHDRAWN, "a-other", None, ABSENT),                # another client's audit
        (WITHDRAWN_K1, "a-k1", None, True),                  # withdrawal of the audit's own certificate
        (WITHDRAWN_K1, "a-any", None, True),                 # an audit naming no certificate
        (WITHDRAWN_K1, "a-k2", None, ABSENT),                # an audit of another certificate
    ],
    "certificate.cycle_expiry_limit": [
        ([dated("2024-03-15", "2024-03-15")], "k", None, "2027-03-15"),             # initial: a cycle from its issue
        ([dated("2021-01-05", "2023-11-06")], "k", None, "2027-01-05"),             # renewed early: nearest boundary 2024
        ([dated("2021-01-05", "2024-06-20")], "k", None, "2027-01-05"),             # restored late: the same boundary
        ([dated("2024-03-15", "2025-02-03")], "k", None, "2027-03-15"),             # revised in the cycle's first half
        ([dated("2024-03-15", "2025-02-03")], "k", {"cycle_years": 1}, "2026-03-15"),
        ([dated("2020-02-29", "2023-03-01")], "k", None, "2026-03-01"),             # 29 February: 1 March
        ([dated("2024-03-15", "2024-03-01")], "k", None, ABSENT),                   # issued before its original date
        ([dated(None, "2024-03-01")], "k", None, ABSENT),
    ],
    "certificate.superseded_edition": [
        ([edition("ISO 9001:2015; ISO/IEC 20000-1:2011")], "k", None, "ISO/IEC 20000-1:2011 (replaced by ISO/IEC 20000-1:2018)"),
        ([edition("iso 20000-1 : 2011")], "k", None, "ISO/IEC 20000-1:2011 (replaced by ISO/IEC 20000-1:2018)"),
        ([edition("ISO/IEC 20000-1:2018")], "k", None, ABSENT),
        ([edition("ISO/IEC 20000-10:2011")], "k", None, ABSENT),                  # another document of the series
        ([edition("IT service management")], "k", None, ABSENT),
    ],
    "certificate.edition_transition_end": [
        ([edition("ISO/IEC 27001:2013")], "k", None, "2025-10-31"),
        ([edition("ISO/IEC 27001:2022")], "k", None, ABSENT),
    ],
    "audit_plan.remote_activities_none": [
        ([{"type": "audit_plan", "id": "p1", "audit": "a1", "remote_activities": "N/A"}], "p1", None, True),
        ([{"type": "audit_plan", "id": "p1", "audit": "a1", "remote_activities": "Day 1 by video"}], "p1", None, False),
        ([{"type": "audit_plan", "id": "p1", "audit": "a1"}], "p1", None, ABSENT),
    ],
    "certificate.services_not_named": [
        ([sms_cert(services=["Managed hosting"], scope="IT services")], "k", None, ABSENT),      # the list names them
        ([sms_cert(services=[], scope="Managed hosting")], "k", None, "its list of services is empty"),
        ([sms_cert()], "k", None, "it neither lists services nor has a scope text"),
        # "managed", "and", "service", "for" are generic, "acme", "hosting", "ltd" the client's name: "desk" is left
        ([sms_cert(scope="Managed hosting and service desk for Acme Hosting Ltd")], "k", None, ABSENT),
        ([sms_cert(scope="IT  services as\nper contract")], "k", None,
         'its scope text names no service ("IT services as per contract")'),
        ([sms_cert(scope="ISO/IEC 20000-1:2018")], "k", None, 'its scope text names no service ("ISO/IEC 20000-1:2018")'),
        # The organisation's own name names no service: "Acme Hosting Ltd" leaves nothing.
        ([sms_cert(scope="The service management system of Acme Hosting Ltd")], "k", None,
         'its scope text names no service ("The service management system of Acme Hosting Ltd")'),
        ([sms_cert(scope="Payroll processing")], "k", {"scope_service_min_words": 3}, 'its scope text names no '
         'service ("Payroll processing")'),                                            # 2 words < 3
        ([sms_cert(scope="Payroll processing")], "k", {"scope_generic_words": ["payroll"]}, ABSENT),  # 1 left
    ],
}


def test_every_derived_field_has_cases():
    fields = {key for key, entry in REGISTRY.items() if entry not in KINDS}
    assert sorted(fields - set(FIELD_CASES)) == [] and sorted(set(FIELD_CASES) - fields) == []


@pytest.mark.parametrize("name", sorted(FIELD_CASES))
def test_derived_field_against_hand_computed_values(name):
    for records, target, params, expected in FIELD_CASES[name]:
        got = value_of(name, records, target, params)
        assert got == expected and type(got) is type(expected), (target, params, got)


def test_sampling_reads_the_sites_of_the_audits_own_client():
    """A pass holding two clients judges each audit against its own client's sites."""
    records = [*sampled("surveillance", ["S1"], NINE_SITES, "big"),
               *sampled("surveillance", ["B"], [{"name": "A", "central": True}, {"name": "B"}, {"name": "C"}], "small"),
               *sampled("surveillance", ["HQ"], [{"name": "HQ"}], "single")]
    assert value_of("audit.required_sample_sites", records, "big-surveillance") == 2       # 0.6 x sqrt(9)
    assert value_of("audit.required_sample_sites", records, "small-surveillance") == 1     # 0.6 x sqrt(2) = 0.85
    assert value_of("audit.sites_total", records, "small-surveillance") == 3
    assert value_of("audit.sites_total", records, "single-surveillance") == ABSENT


def test_derivation_never_changes_its_input():
    records = [review(persons=40, days=5.1, adjustments=adjusted(-40)), audit(audit_days=6), *TEAM,
               {"type": "client", "id": "c1", "name": "C"}]
    before = copy.deepcopy(records)
    out, _ = derive(records, PARAMS, 2025)
    assert records == before and out[0]["audit_time"]["reduction_percent"] == 40.0
    assert out[-1] is records[-1]        # a record that gains nothing is passed on as it is


def test_table1_bands_and_beyond_the_table():
    assert [table1_days(n, TABLE) for n in (1, 10, 11, 45, 46, 100, 101)] == [5, 5, 8.5, 8.5, 11, 11, None]


# Every derived kind: (records, --as-of year, the pseudo-records' fields worked out by hand).
def certificate(cid, effective, expiry=None):
    return {"type": "certificate", "id": cid, "client": "c", "effective_date": effective,
            **({"expiry_date": expiry} if expiry else {})}


CERTIFICATES = [certificate("k1", "2021-03-10", "2024-03-09"), certificate("k2", "2021-03-10", "2024-03-09"),
                {"type": "decision", "id": "d1", "client": "c", "decision_type": "withdraw", "certificate": "k2",
                 "date": "2022-08-01"},
                certificate("k3", "2021-03-10")]


NUMBERED = [{"type": "certificate", "id": "k1", "client": "c1", "number": "SM-1"},
            {"type": "certificate", "id": "k2", "client": "c1", "number": "SM 2"},
            {"type": "certificate", "id": "k3", "client": "c2", "number": "sm-1 "},
            {"type": "certificate", "id": "k4", "client": "c1", "number": "SM2"},
            {"type": "certificate", "id": "k5", "client": "c2"}]


def practice_review(i, adjustments, days):
    return review(f"r{i}", 40, days, adjusted(*adjustments))


# A client whose 10 sites are not sampled: its two 2023 surveillance audits visit HQ, S1 and S2
# (a repeat and an unknown name aside); 2024's visits HQ and S4, the cancelled audit's S5 and
# the recertification's S6 do not count.
UNSAMPLED = [{"type": "client", "id": "c", "site_sampling": "not_appropriate", "sites": NINE_SITES},
             audit("sv1", audit_type="surveillance", start_date="2023-03-01", sites=["HQ", "S1"]),
             audit("sv2", audit_type="surveillance", start_date="2023-09-01", sites=["S1", "S2", "Elsewhere"]),
             audit("sv3", audit_type="surveillance", start_date="2024-05-01", sites=["HQ", "S4"]),
             audit("sv4", audit_type="surveillance", start_date="2024-06-01", sites=["S5"], status="cancelled"),
             audit("rc", audit_type="recertification", start_date="2024-11-01", sites=["S6"])]


# Table 1 value 8.5 days for 40 persons; the cap is 30 %.
REVIEWS = [practice_review(1, [-40, -30], 5.95),       # listed 70 %, applied 30 % exactly: capped
           practice_review(2, [-50], 5.95),            # listed 50 %, applied 30 %: capped
           practice_review(3, [-35], 8.5),             # listed 35 %, applied 0 %: beyond, not capped
           practice_review(4, [-10], 7.65),            # listed 10 %: within the cap
           {"type": "application_review", "id": "r5", "application": "x"}]    # no audit time: not counted
# The decision d1 rests on audit a1, whose team is p-lead and p-dec; the latest review before a1
# started (2024-02-01) is r1; the appeal names d1 and lists p-lead; the complaint names p-late.
INVOLVEMENT = [
    {"type": "application", "id": "app", "client": "c"},
    {"type": "application_review", "id": "r-old", "application": "app", "date": "2023-01-05", "reviewed_by": "p-old"},
    {"type": "application_review", "id": "r1", "application": "app", "date": "2024-01-05", "reviewed_by": "p-rev"},
    {"type": "application_review", "id": "r-late", "application": "app", "date": "2024-06-01", "reviewed_by": "p-late"},
    {"type": "audit", "id": "a1", "client": "c", "audit_type": "stage2", "start_date": "2024-02-01"},
    {"type": "team_assignment", "id": "t1", "audit": "a1", "person": "p-lead", "role": "leader"},
    {"type": "team_assignment", "id": "t2", "audit": "a1", "person": "p-dec", "role": "auditor"},
    {"type": "decision", "id": "d1", "client": "c", "decision_type": "grant", "date": "2024-03-01",
     "decided_by": ["p-dec"], "audit": "a1"},
    {"type": "appeal", "id": "x1", "client": "c", "decision": "d1", "persons_involved": ["p-lead"]},
    {"type": "complaint", "id": "k1", "client": "c", "person": "p-late"}]
KIND_CASES = {
    "certified_year": [
        (CERTIFICATES, 2023, [("k1", 2022)]),           # 2023 has not ended; k2 withdrawn in 2022; k3 no expiry
        (CERTIFICATES, 2030, [("k1", 2022), ("k1", 2023)]),
        ([certificate("k", "2021-01-01", "2023-12-31")], 2030, [("k", 2022)]),
        ([certificate("k", "2021-01-01", "2024-12-31"),                # withdrawn as a whole in 2023: no certificate named
          {"type": "decision", "id": "w", "client": "c", "decision_type": "withdraw", "date": "2023-05-02"}],
         2030, [("k", 2022)]),
    ],
    "appeal_involvement": [
        (INVOLVEMENT, 2025, [("x1", "p-dec", "took decision d1; was on the team of audit a1 as auditor"),
                             ("x1", "p-lead", "listed by the CB among the people involved; was on the team of audit a1 as leader"),
                             ("x1", "p-rev", "carried out application review r1")]),   # r-old superseded, r-late after
    ],
    "complaint_involvement": [
        (INVOLVEMENT, 2025, [("k1", "p-late", "the person the complaint is about")]),
    ],
    "audit_time_practice": [
        (REVIEWS, 2025, [(4, 3, 2)]),
        (REVIEWS[:3], 2025, [(3, 3, 2)]),
        ([practice_review(1, [-40], 5.86)], 2025, [(1, 1, 0)]),   # applied 31.06 %: more than a point off
        ([practice_review(1, [-40], 5.88)], 2025, [(1, 1, 1)]),   # applied 30.82 %: within a point
        ([practice_review(4, [-10], 7.65)], 2025, [(1, 0, 0)]),   # nobody claims beyond the cap: judged, clean
        ([REVIEWS[4]], 2025, []),                                  # no review with audit time: nothing to judge
    ],
    "shared_certificate_number": [
        (NUMBERED, 2025, [("SM-1", 2, "k1 (c1), k3 (c2)")]),     # SM 2 and SM2: one client's (a renewal)
        (NUMBERED[:2] + NUMBERED[3:], 2025, []),
    ],
    "surveillance_site_year": [
        (UNSAMPLED, 2026, [("c", 2023, 10, 3, 3, 0), ("c", 2024, 10, 2, 3, 1)]),   # 30 % of 10 = 3, not 4
        (UNSAMPLED, 2024, [("c", 2023, 10, 3, 3, 0)]),                              # 2024 has not ended
        ([{**UNSAMPLED[0], "site_sampling": "sampled"}, *UNSAMPLED[1:]], 2026, []),  # sampled clients: none
        ([{**UNSAMPLED[0], "sites": [{"name": "HQ"}, {"name": "S1"}, {"name": "S2"}]}, *UNSAMPLED[1:]], 2026,
         [("c", 2023, 3, 3, 1, 0), ("c", 2024, 3, 1, 1, 0)]),                       # 30 % of 3 = 0.9 -> 1
    ],
}
KIND_FIELDS = {"shared_certificate_number": ("number", "clients", "certificates"),
               "certified_year": ("certificate", "year"), "audit_time_practice": ("reviews", "claimed_beyond_cap",
                                                                                    "capped"),
               "appeal_involvement": ("appeal", "person", "through"),
               "complaint_involvement": ("complaint", "person", "through"),
               "surveillance_site_year": ("client", "year", "sites_total", "sites_visited", "sites_required",
                                          "site_shortfall")}


def pseudo_records(kind, records, as_of_year):
    params = {**PARAMS, "sm_max_audit_time_reduction_percent": 30, "md1_unsampled_surveillance_site_percent": 30}
    made = derive(records, params, as_of_year)[1] if kind.scope == "client" else derive_cb_wide(records, params)
    return [p for p in made if p["type"] == kind.name]


def test_every_derived_kind_has_cases():
    assert sorted(KIND_CASES) == sorted(kind.name for kind in KINDS)


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.name)
def test_derived_kind_against_hand_computed_values(kind):
    for records, as_of_year, expected in KIND_CASES[kind.name]:
        made = pseudo_records(kind, records, as_of_year)
        assert [tuple(p[f] for f in KIND_FIELDS[kind.name]) for p in made] == expected, (as_of_year, made)
        assert all(set(p) == {"id", "type", "_source", *kind.fields} for p in made)
    assert all(p["_source"] == p["certificate"] for p in pseudo_records(KINDS[0], CERTIFICATES, 2030))
    assert pseudo_records(KINDS[1], REVIEWS, 2025)[0]["_source"] == "r1"     # the first review beyond the cap
    site_years = pseudo_records(DERIVED_KINDS["surveillance_site_year"], UNSAMPLED, 2026)
    assert [p["_source"] for p in site_years] == ["sv1", "sv3"]       # each year's first surveillance


# Partitions of a CB for the CB-wide kinds: SM-1 is c1's, c2's and c3's; SM2 is c1's twice (a
# renewal) and, in partition c4, a certificate of c2's; X-9 is c1's in two partitions; Z-1 c5's.
CB_PARTITIONS = {
    "c1": NUMBERED[:2] + NUMBERED[3:4] + REVIEWS[:2],
    "c2": NUMBERED[2:3] + NUMBERED[4:] + REVIEWS[2:3],
    "c3": REVIEWS[3:] + [{"type": "certificate", "id": "k6", "client": "c3", "number": "SM-1"},
                         {"type": "certificate", "id": "k7", "client": "c1", "number": "X-9"}],
    "c4": [{"type": "certificate", "id": "k8", "client": "c2", "number": "sm2"},
           {"type": "certificate", "id": "k9", "client": "c1", "number": "X-9"}],
    "c5": [{"type": "certificate", "id": "k10", "client": "c5", "number": "Z-1"}],
}


@pytest.mark.parametrize("collide", [False, True], ids=["hashes", "one-hash"])
@pytest.mark.parametrize("seed", range(3))
def test_cb_wide_kinds_tallied_partition_by_partition_are_the_kinds_over_every_record(seed, collide, monkeypatch):
    """Each partition's share (cb_shares), tallied in any order, gives derive_cb_wide's
    pseudo-records over all the records; only the partitions holding a shared number are read
    again, and numbers with one hash stay apart."""
    if collide:
        monkeypatch.setattr(register, "hash", lambda _key: 7, raising=False)
    params = {**PARAMS, "sm_max_audit_time_reduction_percent": 30}
    every = [r for sid in sorted(CB_PARTITIONS) for r in CB_PARTITIONS[sid]]
    tally, shares = CbWideTally(params), {sid: cb_shares(recs, params) for sid, recs in CB_PARTITIONS.items()}
    for sid in random.Random(seed).sample(sorted(shares), len(shares)):
        assert set(cb_share_ids(shares[sid])) == {
            r["id"] for r in CB_PARTITIONS[sid] if r["type"] == "certificate" and "number" in r
            or r["id"] in ("r1", "r3", "r4")}     # each partition's least review id, of each kind
        tally.add(sid, shares[sid])
    read = []
    pseudo = tally.finish(lambda sids: read.extend(sids) or [(sid, shares[sid]) for sid in sids])
    assert pseudo == derive_cb_wide(every, params) and len(pseudo) == 3
    assert [p["type"] for p in pseudo] == ["audit_time_practice", "shared_certificate_number",
                                           "shared_certificate_number"]
    assert [p["certificates"] for p in pseudo[1:]] == ["k1 (c1), k3 (c2), k6 (c3)", "k2 (c1), k4 (c1), k8 (c2)"]
    assert [p["_source"] for p in pseudo] == ["r1", "k1", "k2"]
    assert read == ["c1", "c2", "c3", "c4"] + (["c5"] if collide else [])


def test_a_cb_without_a_shared_number_reads_no_share_again():
    params = {**PARAMS, "sm_max_audit_time_reduction_percent": 30}
    tally = CbWideTally(params)
    for sid, recs in CB_PARTITIONS.items():
        tally.add(sid, cb_shares([r for r in recs if r.get("number") not in ("SM-1", "sm-1 ", "SM2", "sm2")], params))
    assert tally.wanted() == set()
    pseudo = tally.finish(lambda sids: pytest.fail(f"read {sids} again"))
    assert [(p["type"], p["_source"]) for p in pseudo] == [("audit_time_practice", "r1")]


@pytest.mark.parametrize("share", [[], {"audit_time_practice": [1, 0, 0, "r1", None]},
                                   {"audit_time_practice": [1, 0, -1, "r1", None], "shared_certificate_number": []},
                                   {"audit_time_practice": [1, 0, 0, 5, None], "shared_certificate_number": []},
                                   {"audit_time_practice": [1, 0, 0, None, None], "shared_certificate_number": []},
                                   {"audit_time_practice": [1, 1, 0, "r1", None], "shared_certificate_number": []},
                                   {"audit_time_practice": [1, 2, 0, "r1", "r1"], "shared_certificate_number": []},
                                   {"audit_time_practice": [1, 0, 0, "r1", None], "shared_certificate_number": [["a"]]},
                                   {"audit_time_practice": [1, 0, 0, "r1"], "shared_certificate_number": []}])
def test_a_value_that_is_no_share_names_nothing(share):
    assert cb_share_ids(share) is None
    assert cb_share_ids({"audit_time_practice": [1, 0, 0, "r1", None],
                         "shared_certificate_number": [["sm1", "c", "k", "SM 1"]]}) == ["r1", "k"]


def test_month_slots_order_dates_and_add_calendar_months():
    days = [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(800)]
    slots = [month_slot(d.isoformat()) for d in days]
    assert slots == sorted(slots) and len(set(slots)) == len(slots)
    # 31 January + 1 month lies after 29 February 2024 and before 1 March
    jan31 = month_slot("2024-01-31")
    assert month_slot("2024-02-29") < jan31 + 31 < month_slot("2024-03-01")
    assert month_slot("2025-01-31") == jan31 + 12 * 31
    assert day_number("2024-03-01") - day_number("2024-02-28") == 2


def test_facts_flatten_nested_fields_arrays_and_dates():
    where = {}
    facts = record_facts({"type": "personnel", "id": "p1", "name": "  ", "competences": [{"function": "audit"}],
                          "consultancy": [{"client": "c1", "end_date": "2023-05-31"}], "x-extra": 1}, "s", where)
    person, comp, cons = facts
    assert "name" not in person and person["competences__count"] == 1 and "x-extra" not in person
    assert comp == {"sid": "s", "kind": "personnel.competences", "id": "p1#competences#0", "parent": "p1", "index": 0,
                    "function": "audit"}
    assert cons["end_date__year"] == 2023 and cons["end_date__day"] == day_number("2023-05-31")
    assert where["p1#consultancy#0"] == ("p1", "/consultancy/0")


def test_derive_sits_below_catalog_and_engine():
    """checker/derive may import only records, dates and errors: the catalog and the engine
    read it, so an import the other way would close a cycle."""
    import ast
    allowed = ("checker.derive", "checker.records", "checker.dates", "checker.errors")
    package = Path(__file__).resolve().parents[1] / "checker" / "derive"
    imported = set()
    for path in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
    internal = {name for name in imported if name.split(".")[0] == "checker"}
    assert internal and all(name.startswith(allowed) for name in internal), sorted(internal)


REPO = Path(__file__).resolve().parents[1]


def test_rules_readme_carries_the_table_generated_from_the_registry():
    from checker.derive.table import replace_table
    text = (REPO / "rules" / "README.md").read_text(encoding="utf-8")
    assert replace_table(text) == text, "run: python -m checker.derive.table --write rules/README.md"
    for entry in REGISTRY.values():
        assert f"| `{entry.key}` |" in text


def test_every_parameter_a_derived_value_reads_is_defined_with_its_source():
    from checker.catalog.parameters import load_parameters
    params, problems = load_parameters(REPO / "rules" / "parameters.yaml")
    assert problems == []
    for entry in REGISTRY.values():
        for name in entry.parameters:
            assert name in params.items and params.items[name].source, (entry.key, name)


def test_audit_time_roles_override_is_a_list_of_role_names(tmp_path):
    from checker.catalog.parameters import load_parameters
    overrides = tmp_path / "params.yaml"
    overrides.write_text("parameters:\n  audit_time_roles: [leader]\n", encoding="utf-8")
    params, problems = load_parameters(REPO / "rules" / "parameters.yaml", overrides)
    assert problems == [] and params.values()["audit_time_roles"] == ["leader"]
    overrides.write_text("parameters:\n  audit_time_roles: [leader, 3]\n", encoding="utf-8")
    _, problems = load_parameters(REPO / "rules" / "parameters.yaml", overrides)
    assert [p.pointer for p in problems] == ["/parameters/audit_time_roles"]


def test_a_word_list_with_a_bare_yaml_boolean_is_refused_where_it_is_defined(tmp_path):
    # YAML 1.1 reads a bare `on` as true: a word list would lose the word without a word.
    import shutil
    from checker.catalog.parameters import load_parameters
    rules = tmp_path / "rules"
    shutil.copytree(REPO / "rules", rules, ignore=shutil.ignore_patterns("iso*"))
    scope = rules / "parameters.d" / "certificate-scope.yaml"
    text = scope.read_text(encoding="utf-8")
    assert '"on"' in text
    scope.write_text(text.replace('"on"', "on", 1), encoding="utf-8")
    _, problems = load_parameters(rules / "parameters.yaml")
    assert [(p.pointer, p.line) for p in problems] == [("/scope_generic_words/value", 8)]
    assert "[True]" in problems[0].message and '"on"' in problems[0].expected


# ---------------------------------------------------------------- rules name what they read

def _load_variant(tmp_path, rule_file: str, edit):
    from checker.catalog.loader import load_rule
    from checker.catalog.parameters import load_parameters
    params, _ = load_parameters(REPO / "rules" / "parameters.yaml")
    path = tmp_path / "rule.yaml"
    path.write_text(edit((REPO / "rules" / rule_file).read_text(encoding="utf-8")), encoding="utf-8")
    return load_rule(path, params, "rules/rule.yaml", REPO / "rules" / "rule.schema.json")


SAM004 = "iso17021-1/9.1.5-multi-site-sample-size.yaml"
SAM004_DERIVED = ("derived:\n  - audit.noncentral_sites_visited\n  - audit.required_sample_sites\n"
                  "  - audit.sample_shortfall\n  - audit.sites_total\n")


def _variant(*names):
    return lambda text: text.replace(SAM004_DERIVED, f"derived: [{', '.join(names)}]\n" if names else "")


def test_a_rule_names_every_derived_value_it_reads(tmp_path):
    rule, problems = _load_variant(tmp_path, SAM004, lambda text: text)
    assert problems == [] and rule.derived == ["audit.noncentral_sites_visited", "audit.required_sample_sites",
                                               "audit.sample_shortfall", "audit.sites_total"]
    # sample_shortfall is read by the check, the three others by the message
    _, problems = _load_variant(tmp_path, SAM004, _variant("audit.noncentral_sites_visited",
                                                           "audit.required_sample_sites", "audit.sites_total"))
    assert [(p.pointer, p.message) for p in problems] == [
        ("/derived", "the check reads derived values it does not name: audit.sample_shortfall")]
    _, problems = _load_variant(tmp_path, SAM004, _variant())
    assert len(problems) == 1 and "does not name: audit.noncentral_sites_visited, audit.required_sample_sites, " \
        "audit.sample_shortfall, audit.sites_total" in problems[0].message and problems[0].line == 1


def test_a_rule_names_no_derived_value_it_does_not_read(tmp_path):
    others = ("audit.noncentral_sites_visited", "audit.required_sample_sites", "audit.sample_shortfall")
    _, problems = _load_variant(tmp_path, SAM004, _variant(*others, "audit.sites_total", "audit.central_site_visited"))
    assert [p.message for p in problems] == [
        "`derived:` names values the check does not read: audit.central_site_visited"]
    _, problems = _load_variant(tmp_path, SAM004, _variant(*others, "audit.site_total"))
    assert len(problems) == 1 and problems[0].pointer == "/derived/3" and "audit.site_total" in problems[0].message


def test_the_rule_schema_lists_exactly_the_registry():
    import json
    schema = json.loads((REPO / "rules" / "rule.schema.json").read_text(encoding="utf-8"))
    assert schema["properties"]["derived"]["items"]["enum"] == list(REGISTRY)


def test_rules_show_leads_from_a_rule_to_its_derived_values():
    from click.testing import CliRunner
    from cli import main
    result = CliRunner().invoke(main, ["rules", "show", "SAM004"], catch_exceptions=False)
    assert result.exit_code == 0
    shown = " ".join(result.output.split())
    for name in ("audit.sample_shortfall", "audit.required_sample_sites"):
        assert f"{name}: {' '.join(REGISTRY[name].meaning.split())}" in shown


# ---------------------------------------------------------------- the certification cycle, one model

def test_a_year_on_from_29_february_is_1_march_as_in_the_check_language():
    from checker.derive.cycle import add_years
    assert add_years(dt.date(2024, 2, 29), 1) == dt.date(2025, 3, 1)
    assert add_years(dt.date(2024, 2, 29), 4) == dt.date(2028, 2, 29)
    assert add_years(dt.date(2023, 3, 10), 3) == dt.date(2026, 3, 10)
    assert add_years(dt.date(2024, 12, 31), 1) == dt.date(2025, 12, 31)
    # the day a cycle ends is the day `D + years(n)` starts to hold in the check language
    for start in (dt.date(2024, 2, 29), dt.date(2023, 1, 31), dt.date(2024, 12, 31)):
        end = add_years(start, 3)
        anniversary = month_slot(start.isoformat()) + 3 * 12 * 31
        for offset in range(-3, 4):
            day = end + dt.timedelta(days=offset)
            assert (day < end) == (month_slot(day.isoformat()) < anniversary), (start, day)


def test_surveillance_years_leave_out_the_first_and_last_years_and_stop_at_as_of_and_withdrawal():
    from checker.derive.cycle import surveillance_years
    d = dt.date
    assert surveillance_years(d(2021, 3, 10), d(2024, 3, 9), [2030]) == [2022, 2023]
    # validity of exactly three calendar years: the first and the last are the audits' own years
    assert surveillance_years(d(2021, 1, 1), d(2023, 12, 31), [2030]) == [2022]
    assert surveillance_years(d(2020, 2, 29), d(2023, 2, 28), [2030]) == [2021, 2022]
    # --as-of in 2023: 2022 has ended, 2023 has not; --as-of on 1 January 2022: 2021 has ended
    assert surveillance_years(d(2020, 2, 29), d(2023, 2, 28), [2023]) == [2021, 2022]
    assert surveillance_years(d(2020, 2, 29), d(2023, 2, 28), [2022]) == [2021]
    # a withdrawal on 1 January 2022 comes after the whole of 2021
    assert surveillance_years(d(2020, 2, 29), d(2023, 2, 28), [2030, 2022]) == [2021]
    assert surveillance_years(d(2021, 3, 10), d(2022, 3, 9), [2030]) == []


def test_audited_years_count_surveillance_and_recertification_not_cancelled():
    from checker.derive.cycle import audited_years
    audits = [{"audit_type": "surveillance", "start_date": "2021-12-31"},
              {"audit_type": "recertification", "start_date": "2023-01-01", "status": "planned"},
              {"audit_type": "surveillance", "start_date": "2022-05-01", "status": "cancelled"},
              {"audit_type": "special", "start_date": "2022-06-01"}]
    assert audited_years(audits) == {2021, 2023}


CYCLE_RECORDS = [
    {"type": "client", "id": "c1", "name": "Leap Day Ltd"},
    {"type": "decision", "id": "d1", "client": "c1", "decision_type": "grant", "date": "2020-02-29"},
    {"type": "certificate", "id": "k1", "client": "c1", "decision": "d1", "status": "active",
     "effective_date": "2020-02-29", "expiry_date": "2023-02-28"},
    {"type": "audit", "id": "sv", "client": "c1", "audit_type": "surveillance", "start_date": "2021-12-31",
     "end_date": "2021-12-31", "status": "completed"},
    {"type": "audit", "id": "sv-x", "client": "c1", "audit_type": "surveillance", "start_date": "2022-03-01",
     "status": "cancelled"},
    # a grant with no certificate: its cycle runs cycle_years from the decision
    {"type": "client", "id": "c2", "name": "No Certificate Ltd"},
    {"type": "decision", "id": "d2", "client": "c2", "decision_type": "grant", "date": "2024-02-29"},
]


def test_prescreen_and_cyc003_find_the_same_unaudited_years(tmp_path):
    import yaml
    from checker.pipeline import load_input, run_check
    from tests.helpers import shipped_rules
    from checker.prescreen.completeness import completeness
    folder = tmp_path / "records"
    folder.mkdir()
    (folder / "r.yaml").write_text(yaml.safe_dump(CYCLE_RECORDS, sort_keys=False), encoding="utf-8")
    rules, params = shipped_rules({"CYC003"})
    as_of = dt.date(2024, 6, 30)
    view = completeness(load_input(folder), rules, as_of, params=params)
    clients = {c["id"]: c for c in view["clients"]}
    (cycle,) = clients["c1"]["cycles"]
    gaps = [g["message"] for g in cycle["missing"] if g["code"] == "surveillance_audit_missing"]
    assert cycle["surveillance_years_elapsed"] == 2 and len(gaps) == 1 and gaps[0].startswith("calendar year 2022 ")
    report = run_check(folder, rules, params, as_of)
    assert [(f["record_id"], f["message"].split(" whole of ")[1][:4]) for f in report["findings"]] == [("k1", "2022")]
    # 29 February 2024 + 3 years is 1 March 2027, so the cycle's last day is 28 February 2027
    (cycle,) = clients["c2"]["cycles"]
    assert cycle["last_day"] == "2027-02-28" and cycle["surveillance_years_elapsed"] == 0


def test_remote_activities_text_that_says_none():
    from checker.derive.remote import says_none
    none = ["None", "none.", " N/A ", "n/a", "Not applicable", "-", "On-site only", "No remote activities planned",
            "None - all on site", "None, the whole audit is on site", "nil"]
    some = ["Previous reports reviewed remotely", "Nonetheless day 2 by video", "Day 1 by video call",
            "No-one on site on day 2: interviews by video", "Notes reviewed remotely"]
    assert [t for t in none if not says_none(t)] == []
    assert [t for t in some if says_none(t)] == []
