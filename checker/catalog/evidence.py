"""What evidence a rule's verdict rests on, and what is missing for it to have one.

A requirement may be reported conforming only when the records it reads were there and were
judged: every record type in `needs` (which the loader holds to every type the check binds or
looks for in an `absent` clause: a rule that finds the absence of audits proves nothing on an
input that holds no audits at all), at least one fact of the kind each alternative starts
from, and every field it reads available from the source (see checker/records/evidence.py).
The pipeline does not run a rule with a gap; the report says `not_assessed` and names it.
"""
from __future__ import annotations

from checker.catalog.check_language import Compare, Ref, SelfRef
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


def fields_read(rule: Rule) -> list[str]:
    """"type.field" for every top-level record field the rule's checks read (derived kinds and
    array items are read through their record's array field)."""
    out = set()
    for check in rule.checks:
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
    return sorted(out)


def starting_kinds(rule: Rule) -> list[str]:
    """The kind each alternative's first binding matches: what the rule applies to."""
    return sorted({c.bindings[0].kind for c in rule.checks})


def _facts_of(kind: str, evidence: Evidence) -> int | None:
    """How many facts of an array kind the input holds; None when the count is not known here
    (a record type is counted by `evidence.records`, a derived kind by its record type)."""
    base = base_type(kind)
    return evidence.items.get(kind, 0) if kind.startswith(base + ".") else None


def _unavailable(rule: Rule, evidence: Evidence) -> list[str]:
    """The fields the rule reads that no record of their type can carry."""
    return [f for f in fields_read(rule) if f.split(".")[1] in evidence.not_in_source.get(f.split(".")[0], ())]


def evidence_gaps(rule: Rule, evidence: Evidence) -> list[str]:
    """Why the rule cannot be judged on this input, in words; empty when it can."""
    gaps = []
    absent = [t for t in sorted(rule.needs) if not evidence.records.get(t)]
    if absent:
        gaps.append("no records of type " + ", ".join(absent) + " were supplied")
    empty = [k for k in starting_kinds(rule) if _facts_of(k, evidence) == 0]
    if empty:
        gaps.append("no record has any " + ", ".join(empty) + " entry to judge")
    unavailable = _unavailable(rule, evidence)
    if unavailable:
        gaps.append("the source cannot carry " + ", ".join(unavailable) + " (marked not in source on every record)")
    return gaps


def evidence_basis(rule: Rule, evidence: Evidence) -> dict:
    """What the requirement's status rests on, for the report."""
    return {"record_types": {t: evidence.records.get(t, 0) for t in sorted(rule.needs)},
            "applies_to": starting_kinds(rule),
            "fields": fields_read(rule), "not_in_source": _unavailable(rule, evidence)}
