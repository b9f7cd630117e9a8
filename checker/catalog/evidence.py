"""What evidence a rule's verdict rests on, and what is missing for it to have one.

A requirement may be reported conforming only when the records it reads were there and were
judged. Evidence is judged per alternative (each entry of a rule's `any_of` is its own kind of
finding): an alternative can be judged when every record type it binds or looks for in an
`absent` clause was supplied (an absence of audits proves nothing on an input that holds no
audits at all), with the types the rule's `needs` adds beyond its checks' own, at least one
fact of the array kind it starts from exists, and every field it reads is available from the
source (see checker/records/evidence.py). The pipeline runs only the alternatives that can be
judged; the report says which were not and what each lacked, and a requirement is conforming
only when every alternative was judged, none fired, and one applied to something (what each
applies to: checker/catalog/applicability.py).
"""
from __future__ import annotations

import dataclasses

from checker.catalog.applicability import applicability, applies_text
from checker.catalog.check_language import Check, Compare, Ref, SelfRef
from checker.catalog.loader import Rule
from checker.derive import base_type
from checker.records.evidence import Evidence


def _condition_fields(conditions) -> set[str]:
    out = set()
    for cond in conditions:
        out.add(cond.field)
        if isinstance(cond, Compare) and isinstance(cond.rhs, SelfRef):
            out.add(cond.rhs.field)
    return out


def check_fields(check: Check) -> set[str]:
    """"type.field" for every top-level record field one alternative reads (derived kinds and
    array items are read through their record's array field)."""
    out = set()
    kinds = {b.name: b.kind for b in check.bindings}
    clauses = [(b.kind, b.conditions) for b in check.bindings] + [(a.kind, a.conditions) for a in check.absent]
    reads = [(kind, f) for kind, conds in clauses for f in _condition_fields(conds)]
    reads += [(kinds[c.rhs.binding], c.rhs.field) for _, conds in clauses for c in conds
              if isinstance(c, Compare) and isinstance(c.rhs, Ref)]
    if check.subject_field:
        reads.append((kinds[check.subject], check.subject_field))
    for kind, name in reads:
        base = base_type(kind)
        if kind == base:
            out.add(f"{base}.{name.split('.')[0]}")
        elif kind.startswith(base + "."):
            out.add(kind)
    return out


def fields_read(rule: Rule) -> list[str]:
    """check_fields over every alternative of the rule."""
    return sorted(set().union(*(check_fields(c) for c in rule.checks)))


def starting_kinds(rule: Rule) -> list[str]:
    """The kind each alternative's first binding matches: what the rule applies to."""
    return sorted({c.bindings[0].kind for c in rule.checks})


def _check_types(check: Check) -> set[str]:
    return {base_type(clause.kind) for clause in [*check.bindings, *check.absent]}


def alternative_types(rule: Rule, check: Check) -> list[str]:
    """The record types one alternative cannot be judged without: those it binds or looks for
    as absent, and those the rule's `needs` lists beyond every alternative's own."""
    extra = set(rule.needs) - set().union(*(_check_types(c) for c in rule.checks))
    return sorted(_check_types(check) | extra)


def _facts_of(kind: str, evidence: Evidence) -> int | None:
    """How many facts of an array kind the input holds; None when the count is not known here
    (a record type is counted by `evidence.records`, a derived kind by its record type)."""
    base = base_type(kind)
    return evidence.items.get(kind, 0) if kind.startswith(base + ".") else None


def _unavailable(fields, evidence: Evidence) -> list[str]:
    """The fields of `fields` that no record of their type can carry."""
    return sorted(f for f in fields if f.split(".")[1] in evidence.not_in_source.get(f.split(".")[0], ()))


def alternative_gaps(rule: Rule, check: Check, evidence: Evidence) -> list[str]:
    """Why one alternative of the rule cannot be judged on this input, in words; empty when it can."""
    gaps = []
    absent = [t for t in alternative_types(rule, check) if not evidence.records.get(t)]
    if absent:
        gaps.append("no records of type " + ", ".join(absent) + " were supplied")
    start = check.bindings[0].kind
    if _facts_of(start, evidence) == 0:
        gaps.append(f"no record has any {start} entry to judge")
    unavailable = _unavailable(check_fields(check), evidence)
    if unavailable:
        gaps.append("the source cannot carry " + ", ".join(unavailable) + " (marked not in source on every record)")
    return gaps


def unjudged_alternatives(rule: Rule, evidence: Evidence) -> dict[int, list[str]]:
    """Alternative index -> its gaps, for every alternative that cannot be judged."""
    gaps = {alt: alternative_gaps(rule, check, evidence) for alt, check in enumerate(rule.checks)}
    return {alt: found for alt, found in gaps.items() if found}


def evidence_gaps(rule: Rule, evidence: Evidence) -> list[str]:
    """Why no alternative of the rule can be judged on this input, in words (each gap once);
    empty when at least one can (see partial_assessment for the others)."""
    unjudged = unjudged_alternatives(rule, evidence)
    if len(unjudged) < len(rule.checks):
        return []
    return list(dict.fromkeys(gap for alt in sorted(unjudged) for gap in unjudged[alt]))


def judged_part(rule: Rule, evidence: Evidence) -> Rule:
    """The rule as the evaluators run it: only its alternatives that can be judged (the
    others keep their index, so findings and fingerprints do not move)."""
    return dataclasses.replace(rule, unjudged=frozenset(unjudged_alternatives(rule, evidence)))


def _part_name(rule: Rule, alt: int) -> str:
    label = rule.checks[alt].label
    return f"'{label}'" if label else f"alternative {alt + 1}"


def partial_assessment(rule: Rule, evidence: Evidence) -> str:
    """"" when every alternative of the rule can be judged, or none can; otherwise which parts
    were judged and which were not, with what each lacked."""
    unjudged = unjudged_alternatives(rule, evidence)
    if not unjudged or len(unjudged) == len(rule.checks):
        return ""
    judged = [_part_name(rule, alt) for alt in range(len(rule.checks)) if alt not in unjudged]
    missing = [f"{_part_name(rule, alt)} ({'; '.join(gaps)})" for alt, gaps in sorted(unjudged.items())]
    return "partly assessed: judged " + ", ".join(judged) + "; not assessed " + ", ".join(missing)


def evidence_basis(rule: Rule, evidence: Evidence, applied: dict | None = None) -> dict:
    """What the requirement's status rests on, for the report: overall, and per alternative
    (with `applied`, the evaluation's (rule id, alternative) -> facts it applied to, how many
    each alternative that ran applied to)."""
    unjudged = unjudged_alternatives(rule, evidence)
    applies = applicability(rule)
    return {"record_types": {t: evidence.records.get(t, 0) for t in sorted(rule.needs)},
            "applies_to": starting_kinds(rule),
            "fields": fields_read(rule), "not_in_source": _unavailable(fields_read(rule), evidence),
            "alternatives": [{"alternative": alt + 1, "label": check.label or None, "assessed": alt not in unjudged,
                              "missing": unjudged.get(alt, []), "applies_to": applies_text(applies[alt]),
                              "applied_to": None if applied is None or alt in unjudged or applies[alt] is None
                              else applied.get((rule.id, alt), 0)}
                             for alt, check in enumerate(rule.checks)]}


NOTHING_TO_APPLY_TO = "nothing it applies to was in the input: "


def nothing_to_apply_to(rule: Rule, evidence: Evidence, applied: dict) -> str:
    """"" when an alternative of the rule that ran applied to something (`applied`: the
    evaluation's (rule id, alternative) -> facts); otherwise why its status is no pass, in words."""
    unjudged = unjudged_alternatives(rule, evidence)
    ran = [alt for alt in range(len(rule.checks)) if alt not in unjudged]
    applies = applicability(rule)
    if any(applied.get((rule.id, alt), 0) or applies[alt] is None for alt in ran):
        return ""
    wanted = dict.fromkeys(applies_text(applies[alt]) for alt in ran)
    return NOTHING_TO_APPLY_TO + "no " + "; no ".join(wanted)
