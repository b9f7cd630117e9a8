"""Turns a match (rule, alternative, {binding: fact id}) into a located, explained finding.
Shared by the engine path and the reference evaluator, so both report identically."""
from __future__ import annotations

import hashlib

from checker.catalog.loader import TEMPLATE_FIELD, Rule
from checker.clauses import clause_sort_key


def _pointer(dotted: str) -> str:
    parts = dotted.split(".")
    if len(parts) > 1 and parts[-1] in ("count", "year"):
        parts = parts[:-1]
    return "".join("/" + p for p in parts) if dotted else ""


def _show(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def render_message(template: str, value_of, params: dict, as_of: str) -> str:
    """Fill {binding.field}, {binding} (the record id), {$parameter} and {$as_of}."""
    def fill(m):
        name = m.group(1)
        if name == "$as_of":
            return as_of
        if name.startswith("$"):
            return _show(params[name[1:]])
        binding, _, fld = name.partition(".")
        value = value_of(binding, fld or "id")
        return "(missing)" if value is None else _show(value)
    return TEMPLATE_FIELD.sub(fill, template)


def fingerprint(rule_id: str, fact_ids: list[str], pointer: str) -> str:
    """Stable across runs and unrelated edits: the rule, the facts it matched (record ids, or a
    record id plus the path to an array item or derived fact), the field; never line numbers."""
    text = "\x1f".join([rule_id, *fact_ids, pointer])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def separate_fingerprints(found: list[tuple[int, dict]]) -> None:
    """Gives each of one partition's findings, as (alternative, finding), its own fingerprint.
    Two alternatives of a rule can fire on the same facts and report the same field (REC001: a
    grant with neither an application nor its review); each is its own finding, so every
    alternative but the lowest of such a group gets its variant added to its fingerprint. Only
    those collisions change: every other fingerprint stays what it was."""
    groups: dict[str, list[tuple[int, dict]]] = {}
    for alternative, finding in found:
        groups.setdefault(finding["fingerprint"], []).append((alternative, finding))
    for group in groups.values():
        for alternative, finding in sorted(group, key=lambda pair: pair[0])[1:]:
            tag = finding["variant"] or str(alternative)
            finding["fingerprint"] = hashlib.sha256(f"{finding['fingerprint']}\x1f{tag}".encode()).hexdigest()[:16]


def make_finding(rule: Rule, alternative: int, bindings: dict[str, str], where: dict, value_of,
                 records, client: str | None, params: dict, as_of: str) -> dict:
    """`records` maps a record id to where it stands: a Record, or anything that answers
    `type`, `file`, `root` and `line_of(pointer)` as it does (records/stream.Located)."""
    check = rule.checks[alternative]
    record_id, base = where[bindings[check.subject]]
    record = records[record_id]
    pointer = base + _pointer(check.subject_field)
    related = []
    for name in sorted(bindings):
        rid, rbase = where[bindings[name]]
        rec = records[rid]
        related.append({"binding": name, "record_id": rid, "record_type": rec.type,
                        "file": rec.file, "line": rec.line_of(rbase), "pointer": rec.root + rbase})
    template = check.message or rule.message
    return {
        "rule_id": rule.id, "standard": rule.standard, "clause": rule.clause, "also_clauses": rule.also_clauses,
        "severity": rule.severity,
        "title": rule.title, "variant": check.label or None, "client": client,
        "record_id": record_id, "record_type": record.type, "file": record.file,
        "line": record.line_of(pointer), "pointer": record.root + pointer,
        "message": render_message(template, value_of, params, as_of),
        "remediation": rule.remediation, "related": related,
        "fingerprint": fingerprint(rule.id, [bindings[name] for name in sorted(bindings)], pointer),
    }


# A finding's keys, in make_finding's order, and those of them its rule gives (key -> the
# rule's attribute): set aside, a finding keeps the others' values only (packed_finding).
FINDING_KEYS = ("rule_id", "standard", "clause", "also_clauses", "severity", "title", "variant", "client",
                "record_id", "record_type", "file", "line", "pointer", "message", "remediation", "related",
                "fingerprint")
_FROM_RULE = {"standard": "standard", "clause": "clause", "also_clauses": "also_clauses", "severity": "severity",
              "title": "title", "remediation": "remediation"}


def packed_finding(finding: dict, rules_by_id: dict[str, Rule]) -> tuple | None:
    """The values of `finding` its rule does not give, its rule's id first (unpacked_finding
    makes it again, equal); None when it is not as make_finding made it."""
    rule = rules_by_id.get(finding.get("rule_id"))
    if rule is None or tuple(finding) != FINDING_KEYS or any(
            finding[key] is not getattr(rule, attribute) for key, attribute in _FROM_RULE.items()):
        return None
    return tuple(finding[key] for key in FINDING_KEYS if key not in _FROM_RULE)


def unpacked_finding(values: tuple, rules_by_id: dict[str, Rule]) -> dict:
    """The finding packed_finding gave `values` of."""
    rule, given = rules_by_id[values[0]], iter(values)
    return {key: getattr(rule, _FROM_RULE[key]) if key in _FROM_RULE else next(given) for key in FINDING_KEYS}


def finding_sort_key(f: dict):
    return (f["standard"], clause_sort_key(f["clause"]), f["rule_id"], f["client"] or "", f["file"],
            f["line"] or 0, f["pointer"], f["fingerprint"])
