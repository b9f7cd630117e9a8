"""The clause skeleton (rules/clauses.yaml): every clause the catalog must cover, per standard,
and the structure of a standard that is assessed through another one.

ISO/IEC 20000-6 follows ISO/IEC 17021-1's layout and adds its SM requirements inside it; a CB
is assessed against it clause by clause. `structures` lists its table of contents, each entry
with the 17021-1 clauses it takes over (`takes_over`: clause numbers, each standing for itself
and every clause below it), so any rule can be placed in that structure: a 17021-1 rule under
the entry that takes its clause over, a 20000-6 rule under the entry its number falls in.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from checker.errors import Problem
from checker.records.located import load_yaml_documents

SKELETON_FILE = "clauses.yaml"
BASE_STANDARD = "ISO/IEC 17021-1:2015"
HOW = "see the comment at the top of rules/clauses.yaml"


@dataclass
class Skeleton:
    clauses: dict[str, list[dict]] = field(default_factory=dict)      # standard -> [{clause, topic, confidence}]
    structures: dict[str, list[dict]] = field(default_factory=dict)   # standard -> [{clause, title, takes_over}]

    def knows(self, standard: str, clause: str) -> bool:
        return any(str(row["clause"]) == clause for row in self.clauses.get(standard, []))

    def placements(self, standard: str, clause: str) -> list[dict]:
        """Where a requirement cited as (standard, clause) sits in each structure:
        [{"standard", "clause", "title"}], one per structure that can place it."""
        out = []
        for own, entries in sorted(self.structures.items()):
            entry = _place(entries, own, standard, clause)
            if entry is not None:
                out.append({"standard": own, "clause": str(entry["clause"]), "title": entry["title"]})
        return out


def _within(number: str, head: str) -> bool:
    return number == head or number.startswith(head + ".")


def _place(entries: list[dict], own: str, standard: str, clause: str) -> dict | None:
    """The deepest entry holding the clause: by its own number for the structure's standard
    ("SM 9.1.4.2" and "9.1.4.2" both fall in 9.1.4), by `takes_over` for 17021-1."""
    number = clause.removeprefix("SM ")
    best, depth = None, -1
    for entry in entries:
        heads = [str(entry["clause"])] if standard == own else (
            [str(h) for h in entry.get("takes_over", [])] if standard == BASE_STANDARD else [])
        for head in heads:
            if _within(number, head) and len(head) > depth:
                best, depth = entry, len(head)
    return best


def _shape_problems(data, line_of, rel: str) -> list[Problem]:
    if not isinstance(data, dict) or not isinstance(data.get("clauses"), dict):
        return [Problem(rel, line_of(""), "", "expected a mapping with `clauses:` (standard -> list of clauses)", HOW)]
    problems = []
    for standard, rows in data["clauses"].items():
        pointer = f"/clauses/{standard.replace('/', '~1')}"
        if not isinstance(rows, list) or not all(isinstance(r, dict) and {"clause", "topic", "confidence"} <= set(r)
                                                 for r in rows):
            problems.append(Problem(rel, line_of(pointer), pointer, "each clause needs clause, topic and confidence", HOW))
    for standard, entries in (data.get("structures") or {}).items():
        pointer = f"/structures/{standard.replace('/', '~1')}"
        if not isinstance(entries, list) or not all(isinstance(e, dict) and {"clause", "title"} <= set(e)
                                                    and isinstance(e.get("takes_over", []), list) for e in entries):
            problems.append(Problem(rel, line_of(pointer), pointer,
                                    "each entry needs clause and title, and takes_over as a list", HOW))
    return problems


def load_skeleton(rules_dir: Path) -> tuple[Skeleton | None, list[Problem]]:
    """The skeleton beside the rules, or None when the folder has none (a catalog of one's own
    may do without it, as long as no rule names an additional clause)."""
    path = Path(rules_dir) / SKELETON_FILE
    if not path.is_file():
        return None, []
    rel = "rules/" + SKELETON_FILE
    docs, problems = load_yaml_documents(path.read_text(encoding="utf-8"), rel)
    if problems:
        return None, problems
    if len(docs) != 1:
        return None, [Problem(rel, None, "", "expected one YAML document", HOW)]
    problems = _shape_problems(docs[0].data, docs[0].line_of, rel)
    if problems:
        return None, problems
    data = docs[0].data
    return Skeleton({std: list(rows) for std, rows in data["clauses"].items()},
                    {std: list(rows) for std, rows in (data.get("structures") or {}).items()}), []
