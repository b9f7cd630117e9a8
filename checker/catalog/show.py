"""`cbcheck rules list` and `rules show`: the catalog as an assessor reads it, and a rule with
everything needed to follow it from YAML to finding (its check as written, notes, fixtures)."""
from __future__ import annotations

import json
from pathlib import Path

from checker.catalog.loader import Rule, fixture_file
from checker.plain_text import wrap


def render_list(rules: list[Rule], fmt: str) -> str:
    if fmt == "json":
        return json.dumps([r.summary() for r in rules], indent=2, ensure_ascii=False) + "\n"
    return "".join(f"{r.id}  {r.standard} {r.clause:<10} {r.severity:<11} "
                   f"{'automated' if r.automated else 'manual':<9}  {r.title}\n" for r in rules)


def check_as_written(rule_file: Path) -> str:
    """The `check:` block of a rule file as its author wrote it (comments included), without
    the `check:` line itself: every line up to the next top-level key."""
    lines = rule_file.read_text(encoding="utf-8").splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("check:")), None)
    if start is None:
        return ""
    block = [lines[start].removeprefix("check:").strip()]
    for line in lines[start + 1:]:
        if line and not line[0].isspace() and not line.startswith("#"):
            break
        block.append(line)
    return "\n".join(line for line in block if line.strip()).rstrip()


def _paragraphs(text: str, indent: str) -> str:
    """Each paragraph of a folded YAML text (they are split by a line break) wrapped on its own."""
    return "\n".join(wrap(p, indent) for p in text.split("\n") if p.strip())


def render_rule(rule: Rule, rules_dir: Path) -> str:
    confidence = f" (clause number: {rule.clause_confidence or 'no confidence given'}" + (
        "" if rule.clause_confidence == "sure" else "; verify against your licensed copy") + ")"
    out = [f"{rule.id}: {rule.title}", f"{rule.standard} {rule.clause}{confidence}"]
    out += [f"Also evidences {c['standard']} {c['clause']}" for c in rule.also_clauses]
    out += [f"In {p['standard']}'s structure: {p['clause']} {p['title']}" for p in rule.structure]
    out.append(f"Severity: {rule.severity}; {'automated' if rule.automated else 'manual'}; scope: {rule.scope}")
    for key in ("requirement", "rationale", "remediation", "evidence"):
        if getattr(rule, key):
            out.append(f"\n{key.capitalize()}:\n" + wrap(getattr(rule, key), "  "))
    rule_file = rules_dir / Path(rule.file).relative_to("rules")
    if rule.automated:
        out.append("\nCheck (rules/README.md describes the check language):\n" + check_as_written(rule_file))
        out.append("\nMessage:\n" + wrap(rule.message, "  "))
    if rule.notes:
        out.append("\nNotes:\n" + _paragraphs(rule.notes, "  "))
    out.append("")
    if rule.needs:
        out.append("Needs records: " + ", ".join(rule.needs))
    if rule.derived:
        out.append("Derived values it reads (computed before evaluation; rules/README.md lists them all):")
        out += [wrap(f"{value['name']}: {value['meaning']}", "  ") for value in rule.summary()["derived"]]
    if rule.references:
        out.append("References: " + "; ".join(rule.references))
    out.append(f"Rule file: {rule.file}")
    if rule.automated:
        out.append(f"Fixtures: {fixture_file(Path(rule.file)).as_posix()} (run them: cbcheck rules test {rule.id})")
    return "\n".join(out) + "\n"
