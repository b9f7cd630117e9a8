"""Evaluates the catalog over all partitions and turns engine firings into located findings."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from checker.catalog.loader import Rule
from checker.engine.compile_durable import compile_check
from checker.derive import derive_cb_wide
from checker.engine.facts import fact_key
from checker.engine.findings import finding_sort_key, make_finding
from checker.engine.partition import CB_PARTITION, RULE_SCOPES, build_partitions
from checker.engine.rulesets import definition, pack
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


@dataclass
class CompiledCatalog:
    rulesets: dict[str, list]                  # scope -> packed rulesets
    lookup: dict                               # (ruleset, rule name) -> (Rule, alternative)
    memberships: dict                          # kind -> {flag key: (field, values)}


def compile_catalog(rules: list[Rule], as_of: str) -> CompiledCatalog:
    """Compile and pack every automated rule, and check each ruleset against the safe pattern
    here, in the parent, so a refused shape is an error of the run, not a dead worker."""
    by_scope: dict[str, list] = {"client": [], "cb": []}
    memberships: dict = {}
    for rule in rules:
        if rule.automated:
            for alt, check in enumerate(rule.checks):
                by_scope[rule.scope].append(compile_check(rule.id, alt, check, as_of, memberships))
    rulesets = {scope: pack(compiled, f"cbcheck_{scope}") for scope, compiled in by_scope.items()}
    by_id = {r.id: r for r in rules}
    lookup = {}
    for scope_sets in rulesets.values():
        for rs in scope_sets:
            definition(rs, [], [])   # raises UnsafeRuleset
            for name, compiled in rs.rules.items():
                lookup[(rs.name, name)] = (by_id[compiled.rule_id], compiled.alternative)
    return CompiledCatalog(rulesets, lookup, memberships)


def evaluate(index: RecordIndex, rules: list[Rule], params: dict, as_of: dt.date, jobs: int = 1,
             on_partition=None, only_partitions: set[str] | None = None) -> Evaluation:
    """The findings of `rules` over every partition, or over `only_partitions` (their sids)."""
    as_of_text = as_of.isoformat()
    catalog = compile_catalog(rules, as_of_text)
    lookup = catalog.lookup
    partitions = [p for p in build_partitions(index)
                  if (only_partitions is None or p.sid in only_partitions)
                  and any(catalog.rulesets.get(scope) for scope in RULE_SCOPES[p.scope])]
    cb_wide = derive_cb_wide([r.data for r in index.by_id.values()], params)
    tasks = [Task(p.sid, p.scope,
                  [index.by_id[rid].data for rid in p.record_ids] + (cb_wide if p.sid == CB_PARTITION else []))
             for p in partitions]
    results = run_partitions(tasks, catalog.rulesets, params, as_of.year, jobs, on_partition, catalog.memberships)
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
        seen = set()
        for rs_name, rule_name, bindings in res.firings:
            rule, alt = lookup[(rs_name, rule_name)]
            # Each alternative of a rule is its own finding (a record missing three required
            # fields gets three). One compiled rule fires once per combination of facts, so a
            # repeat would be an engine fault: counted (the differential test requires zero)
            # and reported once.
            key = (rule.id, alt, tuple(sorted(bindings.items())))
            if key in seen:
                duplicates += 1
                continue
            seen.add(key)

            def value_of(binding, dotted, _b=bindings):
                fact = res.facts[_b[binding]]
                return fact.get(fact_key(dotted))
            findings.append(make_finding(rule, alt, bindings, res.where, value_of, index, client, params, as_of_text))
    findings.sort(key=finding_sort_key)
    return Evaluation(findings, errors, len(partitions), facts, failed, duplicates)
