"""Explanations in words: `cbcheck explain`'s text and JSON, and the explanations the report
model carries per finding (`check --explain`, and every HTML report).

Reads only explanation documents and report dicts (documented by explanation.schema.json and
report.schema.json), never records or rules.
"""
from __future__ import annotations

import copy
import json

from checker.plain_text import wrap
from checker.report.views import location, scalar_text

EXPLANATION_FORMAT = "cbcheck-explanation/1"


def with_explanations(report: dict, explanations: dict[str, dict]) -> dict:
    """A copy of `report` whose findings carry their explanation (by fingerprint)."""
    out = copy.copy(report)
    out["findings"] = [dict(f, explanation=explanations[f["fingerprint"]]) if f["fingerprint"] in explanations
                       else f for f in report["findings"]]
    return out


def render_json(document: dict) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def render_text(document: dict) -> str:
    lines = _rule_lines(document["rule"])
    lines += ["", f"As of {document['as_of']}; input {document['input']}; "
                  + (f"client {document['client']}" if document["client"] is not None else "CB-wide records")]
    if document["status"] not in ("nonconforming", "conforming"):
        lines += [f"Status: {document['status']}: {document['reason']}", "Nothing was judged, so nothing is explained."]
    for expl in document["findings"]:
        lines += [""] + finding_lines(expl)
    if document["passed"] is not None:
        lines += ["", "No finding: why the requirement passed here"] + passed_lines(document["passed"])
    return "\n".join(lines) + "\n"


def _rule_lines(rule: dict) -> list[str]:
    also = "".join(f", also {c['standard']} {c['clause']}" for c in rule.get("also_clauses") or [])
    lines = [f"{rule['id']}: {rule['title']}", f"{rule['standard']} {rule['clause']}{also}; severity "
                                               f"{rule['severity']}; scope {rule['scope']}; rule file {rule['file']}",
             "Requirement:", wrap(rule["requirement"], "  "), "Remediation:", wrap(rule["remediation"], "  "),
             "Check:" if rule["check"] else "Check: none, an assessor judges it from the evidence (manual)"]
    several = len(rule["check"]) > 1
    indent = "    " if several else "  "
    for alt in rule["check"]:
        if several:
            lines.append(f"  alternative {alt['alternative']}" + (f" ({alt['label']})" if alt["label"] else ""))
        for b in alt["match"]:
            lines.append(f"{indent}match {b['bind']}: {b['kind']}" + _where(b["where"]))
        for i, clause in enumerate(alt["absent"], 1):
            lines.append(f"{indent}absent {i}: no {clause['kind']}" + _where(clause["where"]))
        lines.append(f"{indent}finding on {alt['finding']['record']}" + (f".{alt['finding']['field']}"
                                                                       if alt["finding"]["field"] else ""))
    if rule["parameters"]:
        lines.append("Parameters: " + "; ".join(f"{p['name']} = {scalar_text(p['value'])}"
                                                 + (" (to verify)" if p["verify"] else "") for p in rule["parameters"]))
    return lines


def _value(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "(missing)" if value is None else scalar_text(value)


def _where(conditions: list[str]) -> str:
    return " where " + "; ".join(conditions) if conditions else ""


def _fact(ref: dict) -> str:
    text = f"{ref['kind']} {ref['fact']} ({location(ref)})"
    if ref["derived"]:
        text += f", derived from {ref['record_type']} {ref['record_id']}: {ref['derived']}"
    return text


def _condition(cond: dict, indent: str) -> list[str]:
    lines = [f"{indent}{'holds' if cond['holds'] else 'fails'}  {cond['condition']}: {cond['text']}"]
    for d in cond.get("derived", []):
        inputs = ", ".join(f"{k} {_value(v)}" for k, v in d["inputs"].items())
        lines.append(f"{indent}       {d['field']} of {d['fact']} is derived: {d['meaning']}"
                     + (f"; from {inputs}" if inputs else "")
                     + (f"; parameters {', '.join(d['parameters'])}" if d["parameters"] else ""))
    return lines


def finding_lines(expl: dict) -> list[str]:
    """One finding's explanation: its record, each binding with what it compared, and for each
    absent clause every candidate with the conditions it failed."""
    lines = [f"Finding {expl['fingerprint']}" + (f" (alternative {expl['alternative']}: {expl['variant']})"
                                                  if expl["variant"] else ""),
             wrap(expl["message"], "  "),
             f"  at {expl['record']['record_type']} {expl['record']['record_id']}, {location(expl['record'])} "
             f"{expl['record']['pointer']}", "  Matched:"]
    for b in expl["bindings"]:
        lines.append(f"    {b['binding']} = {_fact(b)}")
        for cond in b["conditions"]:
            lines += _condition(cond, "      ")
        if b["reads"]:
            lines.append("      read by later clauses: " + ", ".join(f"{b['binding']}.{k} {_value(v)}"
                                                             for k, v in b["reads"].items()))
    for clause in expl["absent"]:
        lines += _absent_lines(clause, "  ")
    return lines


def _absent_lines(clause: dict, indent: str) -> list[str]:
    head = f"{indent}Absent clause {clause['clause']}: no {clause['kind']}{_where(clause['where'])}"
    cands = clause["candidates"]
    lines = [head, f"{indent}  {len(cands)} candidate(s) considered" + (", none satisfies every condition"
                                                                      if not any(c['satisfies'] for c in cands) else "")]
    for ex in clause["excluded"]:
        lines.append(f"{indent}  not considered: {_fact(ex)}, bound as {ex['binding']} (a bound fact never "
                     f"satisfies an absent clause)")
    for cand in cands:
        if cand["satisfies"]:
            lines.append(f"{indent}  {_fact(cand)} satisfies every condition:")
            for cond in cand["conditions"]:
                lines += _condition(cond, indent + "    ")
            continue
        lines.append(f"{indent}  {_fact(cand)} fails:")
        for cond in cand["conditions"]:
            if not cond["holds"]:
                lines += _condition(cond, indent + "    ")
    return lines


def passed_lines(alternatives: list[dict]) -> list[str]:
    lines = []
    for alt in alternatives:
        lines.append(f"  Alternative {alt['alternative']}" + (f" ({alt['variant']})" if alt["variant"] else ""))
        lines += _search_lines(alt["search"], "    ") or ["    no fact of the first binding's kind in these records"]
    return lines


def _search_lines(nodes: list[dict], indent: str) -> list[str]:
    lines = []
    for node in nodes:
        head = f"{indent}{node['binding']} = {_fact(node)}: "
        if node["outcome"] == "skipped":
            lines.append(head + "skipped, " + node["reason"])
        elif node["outcome"] == "failed":
            lines.append(head + "fails")
            for cond in node["conditions"]:
                if not cond["holds"]:
                    lines += _condition(cond, indent + "  ")
        else:
            lines.append(head + "matches")
            for cond in node["conditions"]:
                lines += _condition(cond, indent + "  ")
            if "then" in node:
                lines += _search_lines(node["then"], indent + "  ") or [f"{indent}  no candidate for the next binding"]
            for clause in node.get("absent", []):
                blockers = [c for c in clause["candidates"] if c["satisfies"]]
                if blockers:
                    lines.append(f"{indent}  no finding: absent clause {clause['clause']} ({clause['kind']}) is met by")
                    for cand in blockers:
                        lines.append(f"{indent}    {_fact(cand)}:")
                        for cond in cand["conditions"]:
                            lines += _condition(cond, indent + "      ")
    return lines
