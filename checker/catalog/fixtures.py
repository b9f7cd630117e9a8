"""Runs a rule's fixtures (its `.test.yaml` beside the rule), like `semgrep --test`.

A fixture file holds shared `base` records and `cases`; each case adds or replaces records
(by id), may `remove` base records, and says which findings it `expect`s: a list of record
ids (one entry per finding), or mappings {record, pointer, message_contains}. `expect: []`
is a conforming case. Every case runs the whole pipeline (files, validation, partitions,
durable_rules in a worker) with only that rule loaded, and the reference evaluator must
agree with the engine finding for finding.
"""
from __future__ import annotations

import datetime as dt
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from checker.catalog.loader import Rule, fixture_file
from checker.catalog.parameters import Parameters
from checker.engine.reference import reference_findings
from checker.pipeline import judged_rules, load_input, run_check

CASE_KEYS = {"name", "expect", "records", "remove", "as_of"}


@dataclass
class CaseResult:
    rule_id: str
    name: str
    ok: bool
    problems: list[str] = field(default_factory=list)
    expected_findings: int = 0


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
    return data


def case_records(fixture: dict, case: dict) -> list[dict]:
    records = {r["id"]: r for r in fixture.get("base") or []}
    for rid in case.get("remove") or []:
        records.pop(rid)
    for r in case.get("records") or []:
        records[r["id"]] = r
    return list(records.values())


def _as_date(value) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def run_case(rule: Rule, params: Parameters, fixture: dict, case: dict) -> CaseResult:
    result = CaseResult(rule.id, case["name"], True)
    as_of = _as_date(case.get("as_of") or fixture["as_of"])
    with tempfile.TemporaryDirectory(prefix="cbcheck-fixture-") as tmp:
        # Dates stay strings in the file, as a CB's export would have them.
        text = yaml.safe_dump(case_records(fixture, case), sort_keys=False, allow_unicode=True)
        (Path(tmp) / "records.yaml").write_text(text, encoding="utf-8")
        loaded = load_input(tmp)
        report = run_check(tmp, [rule], params, as_of, loaded=loaded)
    if report["errors"]:
        result.ok = False
        result.problems += [f"input/engine error: {e['file']}:{e['line']} {e['pointer']} {e['message']}"
                            for e in report["errors"]]
        return result
    expect = case["expect"] or []
    want = Counter(e if isinstance(e, str) else e["record"] for e in expect)
    got = Counter(f["record_id"] for f in report["findings"])
    result.expected_findings = sum(want.values())
    if want != got:
        result.ok = False
        result.problems.append(f"expected findings on {dict(sorted(want.items()))}, got {dict(sorted(got.items()))}: "
                               + " | ".join(f["message"] for f in report["findings"]))
    for e in expect:
        if isinstance(e, dict):
            mine = [f for f in report["findings"] if f["record_id"] == e["record"]]
            if "pointer" in e and not any(f["pointer"].endswith(e["pointer"]) for f in mine):
                result.ok = False
                result.problems.append(f"no finding on {e['record']} points at {e['pointer']}: "
                                       f"{[f['pointer'] for f in mine]}")
            if "message_contains" in e and not any(e["message_contains"] in f["message"] for f in mine):
                result.ok = False
                result.problems.append(f"no finding on {e['record']} says {e['message_contains']!r}: "
                                       f"{[f['message'] for f in mine]}")
    reference = reference_findings(loaded.index, judged_rules([rule], params, loaded), params.values(), as_of)
    if reference != report["findings"]:
        result.ok = False
        result.problems.append("the reference evaluator disagrees with the engine: reference "
                               f"{[(f['record_id'], f['message']) for f in reference]}")
    return result


def run_fixtures(rule: Rule, params: Parameters, rules_dir: Path) -> list[CaseResult]:
    fixture = load_fixture(rule, rules_dir)
    results = [run_case(rule, params, fixture, case) for case in fixture["cases"]]
    if not any(r.expected_findings for r in results):
        results.append(CaseResult(rule.id, "(coverage)", False, ["no violating case (expect with findings)"]))
    if not any(not (c["expect"] or []) for c in fixture["cases"]):
        results.append(CaseResult(rule.id, "(coverage)", False, ["no conforming case (expect: [])"]))
    return results
