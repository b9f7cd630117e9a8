"""Reads a rule's fixture file (`<rule>.test.yaml` beside the rule) into cases.

A fixture file holds shared `base` records and `cases`; each case adds or replaces records
(by id), may `remove` base records, and says which findings it `expect`s: a list of record
ids (one entry per finding), or mappings {record, pointer, message_contains}. `expect: []`
is a conforming case. A case may set `as_of` and `params: {name: value}`, which overrides
parameters for that case only, type-checked as `--params` is (so a threshold rule can be
tested at the catalog's value and at a CB's own). `judged: false` marks a case holding nothing
the rule applies to (a declined review for a rule about accepted ones): it expects no finding
and the rule not_assessed for that reason, never conforming (checker/catalog/evidence.py)."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import yaml

from checker.catalog.loader import Rule, fixture_file, load_rule
from checker.catalog.parameters import Parameters, with_overrides
from checker.catalog.skeleton import load_skeleton

CASE_KEYS = {"name", "expect", "records", "remove", "as_of", "params", "judged"}


def load_fixture(rule: Rule, rules_dir: Path) -> dict:
    path = fixture_file(rules_dir / Path(rule.file).relative_to("rules"))
    if not path.exists():
        raise FileNotFoundError(f"{rule.id}: no fixture file {path.name} beside {rule.file}")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("cases"), list):
        raise ValueError(f"{path}: expected a mapping with `cases:`")
    if data.get("rule") != rule.id:
        raise ValueError(f"{path}: `rule:` says {data.get('rule')!r}, the rule beside it is {rule.id}")
    for case in data["cases"]:
        extra = set(case) - CASE_KEYS
        if extra or "name" not in case or "expect" not in case:
            raise ValueError(f"{path}: case {case.get('name')!r} needs name and expect; unknown keys {sorted(extra)}")
        if not isinstance(case.get("params", {}), dict):
            raise ValueError(f"{path}: case {case['name']!r}: `params:` must map parameter names to values")
        if case.get("judged", True) is not True and (case["judged"] is not False or case["expect"]):
            raise ValueError(f"{path}: case {case['name']!r}: `judged:` is false only for a case expecting no finding")
    return data


def case_records(fixture: dict, case: dict) -> list[dict]:
    records = {r["id"]: r for r in fixture.get("base") or []}
    for rid in case.get("remove") or []:
        records.pop(rid)
    for r in case.get("records") or []:
        records[r["id"]] = r
    return list(records.values())


def case_as_of(fixture: dict, case: dict) -> dt.date:
    value = case.get("as_of") or fixture["as_of"]
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def case_rule(rule: Rule, params: Parameters, fixture: dict, case: dict, rules_dir: Path
              ) -> tuple[Rule | None, Parameters, list[str]]:
    """The rule and parameters a case runs with: the catalog's, or with the case's `params`
    set over them and the rule read again with those (a check takes its parameters' values
    when it is parsed). With problems, the rule is None."""
    if not case.get("params"):
        return rule, params, []
    where = fixture_file(Path(rule.file)).as_posix()
    base = f"/cases/{fixture['cases'].index(case)}/params"
    case_params, problems = with_overrides(params, case["params"], where, base=base)
    if problems:
        return None, params, [p.render() for p in problems]
    # With the clause skeleton, as the catalog was loaded: a rule's also_clauses are checked against it.
    reread, problems = load_rule(rules_dir / Path(rule.file).relative_to("rules"), case_params, rule.file,
                                 rules_dir / "rule.schema.json", load_skeleton(rules_dir)[0])
    return reread, case_params, [p.render() for p in problems]
