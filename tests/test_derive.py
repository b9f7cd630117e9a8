"""Derived facts against hand-worked examples (checker/derive/), and the date numbers
the engine compares (checker/dates.py)."""
import datetime as dt

from checker.dates import day_number, month_slot
from checker.derive.values import derive, table1_days
from checker.engine.facts import record_facts

TABLE = [{"max_persons": 10, "days": 5}, {"max_persons": 45, "days": 8.5}, {"max_persons": 100, "days": 11}]
PARAMS = {"sm_table1_audit_days": TABLE}


def by_id(records):
    return {r["id"]: r for r in records}


def test_table1_bands_and_beyond_the_table():
    assert [table1_days(n, TABLE) for n in (1, 10, 11, 45, 46, 100, 101)] == [5, 5, 8.5, 8.5, 11, 11, None]
    assert table1_days(5000, TABLE + [{"days": 30}]) == 30    # an open-ended last band


def test_audit_time_deviation_and_reductions():
    review = {"type": "application_review", "id": "r1", "application": "x",
              "audit_time": {"persons": 40, "initial_audit_days": 5.1,
                             "adjustments": [{"factor": "low risk", "percent": -30}, {"factor": "one site", "percent": -20},
                                             {"factor": "complex", "percent": 10}]}}
    (out,), _ = derive([review], PARAMS, 2025)
    at = out["audit_time"]
    assert at["table1_days"] == 8.5
    assert at["deviation_percent"] == -40.0 and at["reduction_percent"] == 40.0
    assert at["adjustments_reduction_percent"] == 50.0
    assert "audit_time" in review and "table1_days" not in review["audit_time"]   # inputs untouched


def test_no_reduction_reported_as_zero_not_negative():
    review = {"type": "application_review", "id": "r1", "application": "x",
              "audit_time": {"persons": 5, "initial_audit_days": 6, "adjustments": []}}
    (out,), _ = derive([review], PARAMS, 2025)
    assert out["audit_time"]["reduction_percent"] == 0 and out["audit_time"]["deviation_percent"] == 20.0
    assert str(out["audit_time"]["adjustments_reduction_percent"]) == "0.0"


def test_auditor_days_count_only_leaders_and_auditors():
    recs = [{"type": "audit", "id": "a1", "client": "c", "audit_type": "stage2", "audit_days": 6,
             "start_date": "2024-03-11", "team_notified_date": "2024-03-01"},
            {"type": "team_assignment", "id": "t1", "audit": "a1", "person": "p1", "role": "leader", "days": 2},
            {"type": "team_assignment", "id": "t2", "audit": "a1", "person": "p2", "role": "auditor", "days": 1.5},
            {"type": "team_assignment", "id": "t3", "audit": "a1", "person": "p3", "role": "technical_expert", "days": 2},
            {"type": "team_assignment", "id": "t4", "audit": "a1", "person": "p4", "role": "observer"}]
    out, _ = derive(recs, PARAMS, 2025)
    audit = by_id(out)["a1"]
    assert (audit["auditor_days"], audit["non_auditor_days"], audit["unbacked_audit_days"]) == (3.5, 2, 2.5)
    assert audit["team_notice_days"] == 10


def test_certified_years_stop_at_as_of_and_withdrawal():
    recs = [{"type": "certificate", "id": "k1", "client": "c", "effective_date": "2021-03-10", "expiry_date": "2024-03-09"},
            {"type": "certificate", "id": "k2", "client": "c", "effective_date": "2021-03-10", "expiry_date": "2024-03-09"},
            {"type": "decision", "id": "d1", "client": "c", "decision_type": "withdraw", "certificate": "k2", "date": "2022-08-01"},
            {"type": "certificate", "id": "k3", "client": "c", "effective_date": "2021-03-10"}]
    _, pseudo = derive(recs, PARAMS, 2023)
    assert [(p["certificate"], p["year"]) for p in pseudo] == [("k1", 2022)]
    _, pseudo = derive(recs, PARAMS, 2030)
    assert [(p["certificate"], p["year"]) for p in pseudo] == [("k1", 2022), ("k1", 2023)]
    assert all(p["_source"] == p["certificate"] for p in pseudo)


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


SAMPLING = {"sampling_factor_initial": 1.0, "sampling_factor_surveillance": 0.6, "sampling_factor_recertification": 0.8}


def test_multi_site_sample_sizes_follow_iaf_md1():
    sites = [{"name": "HQ", "central": True}] + [{"name": f"S{i}"} for i in range(1, 10)]   # 9 non-central
    recs = [{"type": "client", "id": "c", "sites": sites}]
    for kind, visited in (("stage2", ["HQ", "S1", "S2"]), ("surveillance", ["S1", "S2"]), ("recertification", ["HQ"]),
                          ("stage1", [])):
        recs.append({"type": "audit", "id": kind, "client": "c", "audit_type": kind, "sites": visited})
    out = by_id(derive(recs, {**PARAMS, **SAMPLING}, 2025)[0])
    # sqrt(9) = 3; 0.6 * 3 = 1.8 -> 2; 0.8 * 3 = 2.4 -> 3
    assert [out[k]["required_sample_sites"] for k in ("stage2", "surveillance", "recertification")] == [3, 2, 3]
    assert [out[k]["noncentral_sites_visited"] for k in ("stage2", "surveillance", "recertification")] == [2, 2, 0]
    assert [out[k]["central_site_visited"] for k in ("stage2", "surveillance", "recertification")] == [True, False, True]
    assert [out[k]["sample_shortfall"] for k in ("stage2", "surveillance", "recertification")] == [1, 0, 3]
    assert "required_sample_sites" not in out["stage1"]


def test_single_site_clients_are_not_sampled():
    recs = [{"type": "client", "id": "c", "sites": [{"name": "HQ", "central": True}]},
            {"type": "audit", "id": "a", "client": "c", "audit_type": "stage2", "sites": ["HQ"]}]
    assert "required_sample_sites" not in derive(recs, {**PARAMS, **SAMPLING}, 2025)[0][1]


def test_systematic_cap_counts_reviews_claiming_beyond_the_cap():
    from checker.derive import derive_cb_wide
    params = {**PARAMS, "sm_max_audit_time_reduction_percent": 30}

    def review(i, adjustments, days):
        return {"type": "application_review", "id": f"r{i}", "application": "a",
                "audit_time": {"persons": 40, "initial_audit_days": days,
                               "adjustments": [{"factor": "f", "percent": p} for p in adjustments]}}
    recs = [review(1, [-40, -30], 5.95), review(2, [-50], 5.95), review(3, [-35], 8.5), review(4, [-10], 7.65),
            {"type": "application_review", "id": "r5", "application": "a"}]
    (practice,) = derive_cb_wide(recs, params)
    assert (practice["reviews"], practice["claimed_beyond_cap"], practice["capped"]) == (4, 3, 2)
    assert practice["_source"] == "r1"
    assert derive_cb_wide([review(1, [-10], 8.5)], params) == []


def test_derive_sits_below_catalog_and_engine():
    """checker/derive may import only records, dates and errors: the catalog and the engine
    read it, so an import the other way would close a cycle."""
    import ast
    from pathlib import Path
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
