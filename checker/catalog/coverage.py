"""Coverage of the standards by the catalog: rules per clause against the clause skeleton
(rules/clauses.yaml). A clause of the skeleton with no rule, or a rule citing a clause the
skeleton lacks, is a defect of the catalog and is listed as such."""
from __future__ import annotations

from pathlib import Path

import yaml

from checker.catalog.loader import Rule
from checker.clauses import clause_sort_key


def load_clauses(rules_dir: Path) -> dict[str, list[dict]]:
    data = yaml.safe_load((rules_dir / "clauses.yaml").read_text(encoding="utf-8"))
    return {standard: list(rows) for standard, rows in data.items()}


def coverage(rules: list[Rule], clauses: dict[str, list[dict]]) -> dict:
    by_clause: dict[tuple[str, str], list[Rule]] = {}
    for rule in rules:
        by_clause.setdefault((rule.standard, rule.clause), []).append(rule)
    standards = []
    known = set()
    for standard in sorted(clauses):
        rows = []
        for entry in sorted(clauses[standard], key=lambda e: clause_sort_key(str(e["clause"]))):
            clause = str(entry["clause"])
            known.add((standard, clause))
            mine = sorted(by_clause.get((standard, clause), []), key=lambda r: r.id)
            rows.append({"clause": clause, "topic": entry["topic"], "confidence": entry["confidence"],
                         "rules": [r.id for r in mine], "automated": sum(r.automated for r in mine),
                         "manual": sum(not r.automated for r in mine)})
        standards.append({
            "standard": standard, "clauses": len(rows),
            "clauses_covered": sum(1 for r in rows if r["rules"]),
            "clauses_automated": sum(1 for r in rows if r["automated"]),
            "rules": sum(len(r["rules"]) for r in rows),
            "automated": sum(r["automated"] for r in rows), "manual": sum(r["manual"] for r in rows),
            "uncovered": [r["clause"] for r in rows if not r["rules"]],
            "by_clause": rows})
    unknown = sorted(f"{r.id} cites {r.standard} {r.clause}" for r in rules if (r.standard, r.clause) not in known)
    return {"standards": standards, "rules": len(rules), "automated": sum(r.automated for r in rules),
            "manual": sum(not r.automated for r in rules), "unknown_clauses": unknown}


def render_text(cov: dict) -> str:
    out = [f"Catalog: {cov['rules']} rules ({cov['automated']} automated, {cov['manual']} manual)"]
    for s in cov["standards"]:
        out += ["", f"{s['standard']}: {s['clauses_covered']} of {s['clauses']} clauses covered, "
                    f"{s['clauses_automated']} with automated checks; {s['automated']} automated and "
                    f"{s['manual']} manual rules"]
        for row in s["by_clause"]:
            # The topic is never cut (a reader matches it against the standard); the rule ids
            # follow it, so only the fixed-width columns line up.
            rules = " ".join(row["rules"]) if row["rules"] else "MISSING"
            out.append(f"  {row['clause']:<11} {row['automated']:>2} auto {row['manual']:>2} manual  "
                       f"{row['topic']}: {rules}")
    if cov["unknown_clauses"]:
        out += ["", "Rules citing clauses missing from rules/clauses.yaml:"] + [f"  {u}" for u in cov["unknown_clauses"]]
    return "\n".join(out) + "\n"
