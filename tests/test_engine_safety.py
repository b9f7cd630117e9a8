"""One test per point of the safe durable_rules pattern (shared/engine-notes/README.md), plus
the adapter's refusals: every shape the pattern forbids is refused before registration."""
import json
import os
import signal
import threading

import pytest

from checker.catalog.check_language import CheckError
from checker.engine import workers
from checker.engine.compile_durable import GATE_KIND, compile_check
from checker.engine.evaluate import EngineJudge
from checker.engine.facts import MAX_FACT_PROPERTIES, SHARED_SID
from checker.engine.host import PartitionEngine, PartitionFailed, SyncHost
from checker.engine.rulesets import Ruleset, definition, pack
from checker.engine.safety import (MAX_ALPHA_STACK, MAX_RULES_PER_ALPHA, UnsafeRuleset, alpha_nodes,
                                   alpha_stack_bound, check_ruleset)
from tests.helpers import AS_OF, make_rule

STAGE2_WITHOUT_STAGE1 = {
    "match": [{"bind": "s2", "kind": "audit", "where": ["audit_type == 'stage2'"]}],
    "absent": [{"kind": "audit", "where": ["audit_type == 'stage1'", "end_date <= s2.start_date"]}],
}
DECIDER_ON_TEAM = {
    "match": [{"bind": "d", "kind": "decision", "where": ["present(audit)"]},
              {"bind": "by", "kind": "decision.decided_by", "where": ["parent == d.id"]},
              {"bind": "t", "kind": "team_assignment", "where": ["audit == d.audit", "person == by.value"]}],
}


def engine_for(*specs):
    compiled = []
    for i, spec in enumerate(specs):
        compiled.append(compile_check(f"T{i:03d}", 0, make_rule(f"T{i:03d}", spec).checks[0], AS_OF.isoformat()))
    return PartitionEngine(pack(compiled, "t")), compiled


def audit(sid, i, kind, start, end):
    return {"sid": sid, "kind": "audit", "id": f"{sid}-a{i}", "audit_type": kind,
            "start_date__day": start, "end_date__day": end, "start_date": "x", "end_date": "x"}


def valid_definition(spec=STAGE2_WITHOUT_STAGE1):
    _, compiled = engine_for(spec)
    return definition(pack(compiled, "v")[0], [], [])


# 1. A host without background threads
def test_point1_sync_host_starts_no_threads():
    before = set(threading.enumerate())
    engine, _ = engine_for(STAGE2_WITHOUT_STAGE1)
    engine.run("c1", [audit("c1", 1, "stage2", 10, 11)])
    assert set(threading.enumerate()) == before
    assert isinstance(engine.host, SyncHost)


# 2. One batch per partition, gate last; every negation rule requires the gate
def test_point2_gate_is_last_in_every_batch(monkeypatch):
    engine, _ = engine_for(STAGE2_WITHOUT_STAGE1, DECIDER_ON_TEAM)
    batches = []
    real, real_text = engine.host.assert_facts, engine.host.assert_text
    monkeypatch.setattr(engine.host, "assert_facts", lambda name, facts: (batches.append(facts), real(name, facts))[1])
    monkeypatch.setattr(engine.host, "assert_text", lambda name, facts, text: (
        batches.append(json.loads(text)), real_text(name, facts, text))[1])    # what the C core is given
    engine.run("c1", [audit("c1", 1, "stage2", 10, 11), audit("c1", 2, "stage1", 1, 2)])
    assert batches and all(b[-1]["kind"] == GATE_KIND for b in batches)
    assert all(sum(f["kind"] == GATE_KIND for f in b) == 1 for b in batches)


def test_point2_negation_without_gate_is_refused():
    d = valid_definition()
    rule = next(r for n, r in d.items() if n.startswith("r"))
    rule["all"] = rule["all"][1:]  # drop the gate binding
    with pytest.raises(UnsafeRuleset, match="point 2"):
        check_ruleset(d)


def test_point2_negation_result_is_exact():
    engine, _ = engine_for(STAGE2_WITHOUT_STAGE1)
    facts = []
    for i in range(300):
        facts.append(audit("c1", i, "stage2", 100 + i, 101 + i))
        if i % 3:
            facts.append(audit("c1", 1000 + i, "stage1", 50 + i, 60 + i))
    # every stage 1 ends before every stage 2 starts unless none exists at all: one finding per stage 2
    fired = engine.run("c1", facts)
    assert len(fired) == 0
    fired = engine.run("c2", [audit("c2", i, "stage2", 100, 101) for i in range(300)])
    assert len(fired) == 300


def test_shared_facts_are_sent_with_each_partitions_id_and_foreign_ones_refused(monkeypatch):
    """A fact every partition shares (SHARED_SID: prepare.SharedFacts) joins each partition's
    own facts as if it were theirs, the same object in every batch, never changed; a fact of
    another partition fails the run of this one."""
    engine, _ = engine_for(DECIDER_ON_TEAM)
    sent = []
    real_text = engine.host.assert_text
    monkeypatch.setattr(engine.host, "assert_text", lambda name, facts, text: (
        sent.append(json.loads(text)), real_text(name, facts, text))[1])
    person = {"sid": SHARED_SID, "kind": "team_assignment", "id": "t1", "audit": "a1", "person": "p1"}
    before = dict(person)

    def own(sid):
        return [{"sid": sid, "kind": "decision", "id": f"{sid}-d", "audit": "a1"},
                {"sid": sid, "kind": "decision.decided_by", "id": f"{sid}-d#by#0", "parent": f"{sid}-d",
                 "index": 0, "value": "p1"}]
    for sid in ("c1", "c2", "c1"):
        assert [f.bindings["t"] for f in engine.run(sid, own(sid) + [person])] == ["t1"]
    assert person == before
    assert [[f["sid"] for f in batch if f["id"] == "t1"] for batch in sent] == [["c1"], ["c2"], ["c1"]]
    with pytest.raises(PartitionFailed, match="belongs to partition 'c2'"):
        engine.run("c1", own("c1") + own("c2"))


# 3. Sentinel in every ruleset; a clean partition is evaluated and its state deleted safely
def test_point3_missing_sentinel_is_refused():
    d = valid_definition()
    del d["sentinel__"]
    with pytest.raises(UnsafeRuleset, match="point 3"):
        check_ruleset(d)


def test_point3_clean_partitions_run_and_are_receipted():
    tasks = [workers.Task(f"c{i}", "client", []) for i in range(50)]
    _, compiled = engine_for(DECIDER_ON_TEAM)
    results = workers.run_partitions(tasks, EngineJudge({"client": pack(compiled, "p3")}, {}, 2025))
    assert all(r.ok and r.matches == [] for r in results.values()) and len(results) == 50


# 4. Join tests: flat & chains ending in the guard; no groups inside joins; no unguarded reads
def test_point4_join_tests_are_flat_and_guarded():
    _, compiled = engine_for(DECIDER_ON_TEAM, {
        "match": [{"bind": "a", "kind": "audit", "where": ["audit_type in ['stage1', 'stage2']"]},
                  {"bind": "n", "kind": "nonconformity", "where": ["audit == a.id", "grade in ['major', 'minor']"]}]})
    for rule in compiled:
        for entry in rule.definition["all"]:
            (_, test), = entry.items()
            chain = test.get("$and", [test])
            if any(isinstance(v, dict) and not k.startswith("$") for t in chain for k, v in t.items()):
                assert chain[-1] == {"sid": {"b_" + rule.bindings[0]: "sid"}}
                assert not any("$or" in t or "$and" in t for t in chain)
    # `in` inside the join is one equality on a precomputed flag, never a group or an expansion
    (rule,) = [r for r in compiled if r.rule_id == "T001"]
    (_, n_test), = rule.definition["all"][1].items()
    assert sum(k.startswith("grade__in_") for t in n_test["$and"] for k in t) == 1


def test_point4_nested_group_in_join_is_refused():
    d = valid_definition(DECIDER_ON_TEAM)
    rule = d["r0"]
    (name, test), = rule["all"][2].items()
    test["$and"].insert(1, {"$or": [{"role": "leader"}, {"role": "auditor"}]})
    with pytest.raises(UnsafeRuleset, match="nests a group"):
        check_ruleset(d)


def test_point4_join_without_guard_is_refused():
    d = valid_definition(DECIDER_ON_TEAM)
    (name, test), = d["r0"]["all"][2].items()
    test["$and"].pop()
    with pytest.raises(UnsafeRuleset, match="guard"):
        check_ruleset(d)


def test_unguarded_read_of_a_bound_fact_is_refused():
    # Reading a property the bound fact lacks aborts the batch (error 311): each read needs $ex.
    d = valid_definition(DECIDER_ON_TEAM)
    (name, test), = d["r0"]["all"][0].items()
    test["$and"] = [t for t in test["$and"] if "$ex" not in t]
    with pytest.raises(UnsafeRuleset, match="311"):
        check_ruleset(d)


def test_self_comparison_through_the_binding_name_is_refused_at_parse():
    with pytest.raises(CheckError, match="self.raised_date"):
        make_rule("T900", {"match": [{"bind": "n", "kind": "nonconformity",
                                      "where": ["verified_date < n.raised_date"]}]})


def test_two_fields_of_one_fact_compare_through_a_precomputed_flag():
    memberships = {}
    rule = make_rule("T901", {"match": [{"bind": "n", "kind": "nonconformity",
                                         "where": ["verified_date > self.raised_date + days(30)"]}]})
    compiled = compile_check("T901", 0, rule.checks[0], AS_OF.isoformat(), memberships)
    (flag, spec), = memberships["nonconformity"].items()
    assert spec == ("cmp", "verified_date__day", ">", "raised_date__day", 30)
    from checker.engine.facts import record_facts
    engine = PartitionEngine(pack([compiled], "selfcmp"))
    facts = []
    for nid, verified in (("late", "2024-03-02"), ("on-time", "2024-02-20"), ("open", None)):
        rec = {"type": "nonconformity", "id": nid, "audit": "a1", "raised_date": "2024-01-31"}
        if verified:
            rec["verified_date"] = verified
        facts += record_facts(rec, "c1", {}, memberships)
    assert [f.bindings for f in engine.run("c1", facts)] == [{"n": "late"}]


def test_missing_referenced_field_does_not_abort_the_batch():
    engine, _ = engine_for(DECIDER_ON_TEAM)
    facts = [{"sid": "c1", "kind": "decision", "id": "d1"},  # no audit: may not bind
             {"sid": "c1", "kind": "team_assignment", "id": "t1", "audit": "a1", "person": "p1"}]
    assert engine.run("c1", facts) == []


# 5. Absorber: a fact no rule's filter accepts must not cost the batch its findings
def test_point5_missing_absorber_is_refused():
    d = valid_definition()
    del d["absorber__"]
    with pytest.raises(UnsafeRuleset, match="point 5"):
        check_ruleset(d)


def test_point5_unmatched_facts_do_not_lose_findings():
    engine, _ = engine_for(STAGE2_WITHOUT_STAGE1)
    facts = [audit("c1", 1, "stage2", 10, 11),
             {"sid": "c1", "kind": "audit", "id": "odd"},          # lacks every field a rule reads
             {"sid": "c1", "kind": "client", "id": "c1"}]           # a kind no rule reads
    assert [f.bindings for f in engine.run("c1", facts)] == [{"s2": "c1-a1"}]


# 6. Actions take exactly one parameter
@pytest.mark.parametrize("action", [lambda c, extra: None, lambda c, name="x": None, lambda: None])
def test_point6_actions_with_other_signatures_are_refused(action):
    d = valid_definition()
    d["r0"]["run"] = action
    with pytest.raises(UnsafeRuleset, match="point 6"):
        check_ruleset(d)


# 7. State deleted per partition: more partitions than durable_rules keeps live sessions
def test_point7_more_partitions_than_live_session_limit():
    engine, _ = engine_for(STAGE2_WITHOUT_STAGE1)
    total = 0
    for i in range(1100):   # MAX_STATE_INDEX_LENGTH is 1,024
        total += len(engine.run(f"c{i}", [audit(f"c{i}", 1, "stage2", 10, 11)]))
    assert total == 1100


# 8. Limits fail cleanly
def test_point8_too_many_properties_is_a_partition_error():
    engine, _ = engine_for(STAGE2_WITHOUT_STAGE1)
    fact = audit("c1", 1, "stage2", 10, 11)
    fact.update({f"p{i}": i for i in range(MAX_FACT_PROPERTIES)})
    with pytest.raises(PartitionFailed, match="at most 255"):
        engine.run("c1", [fact])


def _sibling_rules(n, kind="audit"):
    compiled = []
    for i in range(n):
        spec = {"match": [{"bind": "a", "kind": kind, "where": [f"audit_days > {i}"]}]}
        compiled.append(compile_check(f"T{i:03d}", 0, make_rule(f"T{i:03d}", spec).checks[0], AS_OF.isoformat()))
    return compiled


def _one_ruleset(compiled):
    rs = Ruleset("one")
    for j, c in enumerate(compiled):
        rs.rules[f"r{j}"] = c
        rs.kinds |= c.kinds | {GATE_KIND}
    return rs


def test_point8_catalog_is_split_below_the_engine_limits():
    # One fact matching 450 sibling tests: in one ruleset the engine's alpha stack (64) and
    # beta-node (256) limits both break; split, every firing arrives.
    rulesets = pack(_sibling_rules(450), "big")
    assert len(rulesets) >= 450 // MAX_ALPHA_STACK
    for rs in rulesets:
        nodes = set().union(*(n for r in rs.rules.values() for n in alpha_nodes(r.definition["all"]).values()))
        assert alpha_stack_bound(nodes) <= MAX_ALPHA_STACK
    engine = PartitionEngine(rulesets)
    fired = engine.run("c1", [{"sid": "c1", "kind": "audit", "id": "a1", "audit_days": 1000}])
    assert len(fired) == 450


def test_stack_bound_counts_the_widest_node_per_depth():
    # kind -> {a, b}; a -> {a1, a2, a3}; b -> {b1}: at most 2 + 3 entries wait on the stack
    nodes = {(1, "k", "a"), (1, "k", "b"), (2, "a", "a1"), (2, "a", "a2"), (2, "a", "a3"), (2, "b", "b1")}
    assert alpha_stack_bound(nodes) == 5


def test_sixty_sibling_tests_are_split_and_all_fire():
    # 60 rules whose tests all hang off the same `kind` node exceed the stack bound: two rulesets.
    rulesets = pack(_sibling_rules(60), "wide")
    assert len(rulesets) == 2
    engine = PartitionEngine(rulesets)
    assert len(engine.run("c1", [{"sid": "c1", "kind": "audit", "id": "a1", "audit_days": 1000}])) == 60


def test_alpha_stack_overflow_is_what_the_split_prevents():
    # Measured limit: one fact may match at most 64 alpha nodes; the unsplit ruleset fails cleanly.
    rs = _one_ruleset(_sibling_rules(70))
    with pytest.raises(UnsafeRuleset, match="303"):
        definition(rs, [], [])


def test_point8_too_many_rules_on_one_alpha_test_is_refused(monkeypatch):
    from checker.engine import safety
    monkeypatch.setattr(safety, "MAX_ALPHA_STACK", 10_000)
    rs = _one_ruleset(_sibling_rules(MAX_RULES_PER_ALPHA + 1))
    with pytest.raises(UnsafeRuleset, match="point 8"):
        definition(rs, [], [])


# Crashes are reported per partition, never swallowed
class CrashingJudge(EngineJudge):
    def judge(self, engines, task):
        if task.sid == "c2":
            os.kill(os.getpid(), signal.SIGSEGV)
        return super().judge(engines, task)


def _stage2_tasks(n: int) -> list:
    return [workers.Task(f"c{i}", "client", [{"type": "audit", "id": f"a{i}", "client": f"c{i}",
                                              "audit_type": "stage2", "start_date": "2024-01-01",
                                              "end_date": "2024-01-02"}]) for i in range(n)]


@pytest.mark.parametrize("count, jobs", [(5, 2), (60, 1)])
def test_worker_crash_fails_only_its_partition(count, jobs):
    """One task per message (5 tasks), and chunks of several (60 tasks on one worker: the
    chunk the worker died on goes back task by task, and only c2 fails)."""
    _, compiled = engine_for(STAGE2_WITHOUT_STAGE1)
    assert (workers.chunk_size(count, jobs) > 1) == (count == 60)
    results = workers.run_partitions(_stage2_tasks(count), CrashingJudge({"client": pack(compiled, "crash")}, {}, 2025),
                                     jobs=jobs)
    assert sorted(results) == sorted(f"c{i}" for i in range(count))
    assert not results["c2"].ok and "signal 11" in results["c2"].error
    assert all(results[f"c{i}"].ok and len(results[f"c{i}"].matches) == 1 for i in range(count) if i != 2)


def test_engine_error_fails_the_partition_not_the_run(monkeypatch):
    _, compiled = engine_for(STAGE2_WITHOUT_STAGE1)

    def boom(self, sid, facts):
        raise PartitionFailed("ruleset t: simulated core error")

    monkeypatch.setattr(PartitionEngine, "run", boom)
    results = workers.run_partitions([workers.Task("c1", "client", [])], EngineJudge({"client": pack(compiled, "e")}, {}, 2025))
    assert not results["c1"].ok and "simulated core error" in results["c1"].error


def test_long_in_lists_inside_joins_and_negations_run():
    # Regression: expanding `in` into one rule / negation per value overflowed the alpha stack
    # (error 303) at eight values. Membership is now one precomputed flag.
    values = ", ".join(f"'S{i}'" for i in range(40))
    spec = {"match": [{"bind": "a", "kind": "application", "where": ["missing(service_provider)"]},
                      {"bind": "s", "kind": "application.standards", "where": ["parent == a.id", f"value in [{values}]"]}],
            "absent": [{"kind": "application.standards", "where": ["parent == a.id", f"value in [{values}]",
                                                                   "index < s.index"]}]}
    memberships = {}
    compiled = compile_check("T", 0, make_rule("T", spec).checks[0], AS_OF.isoformat(), memberships)
    assert all(entry[0] == "in" for flags in memberships.values() for entry in flags.values())
    engine = PartitionEngine(pack([compiled], "long_in"))
    from checker.engine.facts import record_facts
    facts = record_facts({"type": "application", "id": "app1", "client": "c1", "standards": ["S7", "S3", "other"]},
                         "c1", {}, memberships)
    assert [f.bindings for f in engine.run("c1", facts)] == [{"a": "app1", "s": "app1#standards#0"}]



TEAM_ROLE_JOIN = {
    "match": [{"bind": "d", "kind": "decision", "where": ["present(audit)"]},
              {"bind": "t", "kind": "team_assignment",
               "where": ["audit == d.audit", "days > 1", "present(person)", "role == 'leader'",
                         "client_agreed_date < d.date", "role in ['leader', 'auditor']"]}],
}


def test_single_fact_tests_come_first_most_selective_first_and_joins_keep_their_order():
    compiled = compile_check("T950", 0, make_rule("T950", TEAM_ROLE_JOIN).checks[0], AS_OF.isoformat(), {})
    (_name, test), = compiled.definition["all"][1].items()
    chain = test["$and"]
    assert chain[0] == {"kind": "team_assignment"}
    assert chain[1] == {"role": "leader"} and next(iter(chain[2])).startswith("role__in_")
    assert chain[3] == {"$gt": {"days": 1}}
    assert [next(iter(t)) for t in chain[4:-3]] == ["$ex"] * len(chain[4:-3]) != []
    assert chain[-3:] == [{"audit": {"b_d": "audit"}}, {"$lt": {"client_agreed_date__day": {"b_d": "date__day"}}},
                          {"sid": {"b_d": "sid"}}]


def test_a_join_written_before_single_fact_tests_fires_exactly_where_every_test_holds():
    memberships = {}
    compiled = compile_check("T951", 0, make_rule("T951", TEAM_ROLE_JOIN).checks[0], AS_OF.isoformat(), memberships)
    engine = PartitionEngine(pack([compiled], "joinfirst"))
    from checker.engine.facts import record_facts
    facts = record_facts({"type": "decision", "id": "d1", "audit": "a1", "date": "2024-03-01"}, "c1", {}, memberships)
    for tid, audit, days, role, agreed in (("hit", "a1", 2, "leader", "2024-02-01"),
                                           ("short", "a1", 1, "leader", "2024-02-01"),
                                           ("auditor", "a1", 3, "auditor", "2024-02-01"),
                                           ("other", "a2", 3, "leader", "2024-02-01"),
                                           ("late", "a1", 3, "leader", "2024-03-02")):
        facts += record_facts({"type": "team_assignment", "id": tid, "audit": audit, "days": days, "role": role,
                               "person": "p1", "client_agreed_date": agreed}, "c1", {}, memberships)
    assert [f.bindings for f in engine.run("c1", facts)] == [{"d": "d1", "t": "hit"}]
