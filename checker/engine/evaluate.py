"""Evaluates the catalog over all partitions and turns engine firings into located findings."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from checker.catalog.loader import Rule
from checker.engine.compile_durable import compile_check
from checker.engine.facts import fact_key
from checker.engine.findings import finding_sort_key, make_finding
from checker.engine.partition import CB_PARTITION, build_partitions
from checker.engine.rulesets import pack
from checker.engine.workers import Task, run_partitions
from checker.errors import Problem
from checker.records.index import RecordIndex


@dataclass
class Evaluation:
    findings: list[dict]
    partition_errors: list[Problem]
    partitions: int
    facts: int
    failed_partitions: list[str] = field(default_factory=list)
    duplicate_firings: int = 0      # same rule, alternative and facts fired twice: an engine fault


def compile_catalog(rules: list[Rule], as_of: str):
    """(rulesets per scope, rule name lookup {(ruleset, rule): (rule, alternative)})."""
    by_scope: dict[str, list] = {"client": [], "cb": []}
    for rule in rules:
        if rule.automated:
            for alt, check in enumerate(rule.checks):
                by_scope[rule.scope].extend(compile_check(rule.id, alt, check, as_of))
    rulesets = {scope: pack(compiled, f"cbcheck_{scope}") for scope, compiled in by_scope.items()}
    by_id = {r.id: r for r in rules}
    lookup = {}
    for scope_sets in rulesets.values():
        for rs in scope_sets:
            for name, compiled in rs.rules.items():
                lookup[(rs.name, name)] = (by_id[compiled.rule_id], compiled.alternative)
    return rulesets, lookup


def evaluate(index: RecordIndex, rules: list[Rule], params: dict, as_of: dt.date, jobs: int = 1,
             on_partition=None) -> Evaluation:
    as_of_text = as_of.isoformat()
    rulesets, lookup = compile_catalog(rules, as_of_text)
    partitions = [p for p in build_partitions(index) if rulesets.get(p.scope)]
    tasks = [Task(p.sid, p.scope, [index.by_id[rid].data for rid in p.record_ids]) for p in partitions]
    results = run_partitions(tasks, rulesets, params, as_of.year, jobs, on_partition)
    findings, errors, failed, facts, duplicates = [], [], [], 0, 0
    for sid in sorted(results):
        res = results[sid]
        client = None if sid == CB_PARTITION else sid
        if not res.ok:
            failed.append(sid)
            errors.append(Problem(f"partition {sid}", None, "", res.error,
                                  "the partition evaluated; report this as a cbcheck bug with the input", kind="engine"))
            continue
        facts += res.fact_count
        seen, fired = set(), set()
        for rs_name, rule_name, bindings in res.firings:
            rule, alt = lookup[(rs_name, rule_name)]
            key = (rule.id, tuple(sorted(bindings.items())))
            if (key, alt, rule_name) in fired:
                duplicates += 1
            fired.add((key, alt, rule_name))
            if key in seen:   # the same match through two alternatives is one finding
                continue
            seen.add(key)

            def value_of(binding, dotted, _b=bindings):
                fact = res.facts[_b[binding]]
                return fact.get(fact_key(dotted))
            findings.append(make_finding(rule, alt, bindings, res.where, value_of, index, client, params, as_of_text))
    findings.sort(key=finding_sort_key)
    return Evaluation(findings, errors, len(partitions), facts, failed, duplicates)
