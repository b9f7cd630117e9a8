"""Coverage of the standards by the catalog: rules per clause against the clause skeleton
(rules/clauses.yaml). A clause of the skeleton with no rule, or a rule citing a clause the
skeleton lacks, is a defect of the catalog and is listed as such. A rule counts for its own
clause and for every clause it also evidences (`also_clauses`); the per-standard rule totals
count each rule once, under its own clause.

`structure_coverage` shows the catalog in the structure of a standard assessed through another
(ISO/IEC 20000-6 through 17021-1): every clause of its table of contents with the 17021-1 rules
it takes over and its own SM rules."""
from __future__ import annotations

from pathlib import Path

from checker.catalog.loader import Rule
from checker.catalog.skeleton import Skeleton, load_skeleton
from checker.clauses import clause_sort_key
from checker.errors import ProblemsFound


def load_clauses(rules_dir: Path) -> Skeleton:
    skeleton, problems = load_skeleton(rules_dir)
    if problems or skeleton is None:
        raise ProblemsFound(problems or [])
    return skeleton


def _by_clause(rules: list[Rule]) -> dict[tuple[str, str], list[tuple[Rule, bool]]]:
    """(standard, clause) -> [(rule, cited as an additional clause)]."""
    out: dict[tuple[str, str], list[tuple[Rule, bool]]] = {}
    for rule in rules:
        for n, key in enumerate(rule.cited_clauses()):
            out.setdefault(key, []).append((rule, n > 0))
    return out


def _row(entry: dict, mine: list[tuple[Rule, bool]]) -> dict:
    mine = sorted(mine, key=lambda m: m[0].id)
    return {"clause": str(entry["clause"]), "topic": entry["topic"], "confidence": entry["confidence"],
            "rules": [r.id for r, _ in mine], "also": [r.id for r, also in mine if also],
            "automated": sum(r.automated for r, _ in mine), "manual": sum(not r.automated for r, _ in mine)}


def coverage(rules: list[Rule], skeleton: Skeleton) -> dict:
    by_clause = _by_clause(rules)
    standards = []
    for standard in sorted(skeleton.clauses):
        entries = sorted(skeleton.clauses[standard], key=lambda e: clause_sort_key(str(e["clause"])))
        rows = [_row(e, by_clause.get((standard, str(e["clause"])), [])) for e in entries]
        own = [r for r in rules if r.standard == standard]
        standards.append({
            "standard": standard, "clauses": len(rows),
            "clauses_covered": sum(1 for r in rows if r["rules"]),
            "clauses_automated": sum(1 for r in rows if r["automated"]),
            "rules": len(own), "automated": sum(r.automated for r in own), "manual": sum(not r.automated for r in own),
            "also_cited": sum(len(r["also"]) for r in rows),
            "uncovered": [r["clause"] for r in rows if not r["rules"]],
            "by_clause": rows})
    unknown = sorted(f"{r.id} cites {r.standard} {r.clause}" for r in rules if not skeleton.knows(r.standard, r.clause))
    return {"standards": standards, "rules": len(rules), "automated": sum(r.automated for r in rules),
            "manual": sum(not r.automated for r in rules), "unknown_clauses": unknown}


def structure_coverage(rules: list[Rule], skeleton: Skeleton, standard: str) -> dict:
    """Every clause of `standard`'s table of contents with the rules placed there: those it
    takes over from another standard and its own additions."""
    rows = []
    for entry in skeleton.structures[standard]:
        clause = str(entry["clause"])
        here = sorted((r for r in rules if any(p["standard"] == standard and p["clause"] == clause
                                               for p in r.structure)), key=lambda r: r.id)
        taken = [r for r in here if r.standard != standard]
        added = [r for r in here if r.standard == standard]
        rows.append({"clause": clause, "title": entry["title"], "takes_over": [str(t) for t in entry.get("takes_over", [])],
                     "taken_over": [r.id for r in taken], "additions": [r.id for r in added],
                     "automated": sum(r.automated for r in here), "manual": sum(not r.automated for r in here)})
    return {"standard": standard, "clauses": len(rows),
            "clauses_covered": sum(1 for r in rows if r["taken_over"] or r["additions"]),
            "clauses_automated": sum(1 for r in rows if r["automated"]),
            "clauses_with_additions": sum(1 for r in rows if r["additions"]),
            "uncovered": [r["clause"] for r in rows if not (r["taken_over"] or r["additions"])],
            "by_clause": rows}


def render_text(cov: dict) -> str:
    out = [f"Catalog: {cov['rules']} rules ({cov['automated']} automated, {cov['manual']} manual)"]
    for s in cov["standards"]:
        out += ["", f"{s['standard']}: {s['clauses_covered']} of {s['clauses']} clauses covered, "
                    f"{s['clauses_automated']} with automated checks; {s['automated']} automated and "
                    f"{s['manual']} manual rules" + (f"; {s['also_cited']} citations of rules as an additional "
                                                      "clause (marked +)" if s["also_cited"] else "")]
        for row in s["by_clause"]:
            # The topic is never cut (a reader matches it against the standard); the rule ids
            # follow it (+ marks a rule citing the clause as an additional one), so only the
            # fixed-width columns line up.
            ids = " ".join(r + ("+" if r in row["also"] else "") for r in row["rules"])
            out.append(f"  {row['clause']:<11} {row['automated']:>2} auto {row['manual']:>2} manual  "
                       f"{row['topic']}: {ids or 'MISSING'}")
    if cov["unknown_clauses"]:
        out += ["", "Rules citing clauses missing from rules/clauses.yaml:"] + [f"  {u}" for u in cov["unknown_clauses"]]
    return "\n".join(out) + "\n"


def render_structure_text(cov: dict) -> str:
    out = [f"{cov['standard']} clause by clause: {cov['clauses_covered']} of {cov['clauses']} clauses with a rule, "
           f"{cov['clauses_automated']} with automated checks, {cov['clauses_with_additions']} with SM additions "
           "of their own", "",
           f"  {'clause':<8} {'title':<52} {'auto':>4} {'man':>4}  rules (17021-1 taken over | SM additions)"]
    for row in cov["by_clause"]:
        mark = "  MISSING" if not (row["taken_over"] or row["additions"]) else ""
        out.append(f"  {row['clause']:<8} {row['title'][:52]:<52} {row['automated']:>4} {row['manual']:>4}  "
                   f"{' '.join(row['taken_over'])}" + (f" | {' '.join(row['additions'])}" if row["additions"] else "")
                   + mark)
    return "\n".join(out) + "\n"
