"""The CB's people and what they are qualified for, for the HTML report's competence matrix.

Beside checker/cycles.py: this layer still has the records and turns each personnel record
into plain data the report model carries (renderers never read a record): the competences it
lists (standard, function, technical area, when evaluated) and the dates of its on-site
observations.
"""
from __future__ import annotations

from checker.dates import iso_date
from checker.records.index import RecordIndex

FUNCTION_ORDER = ("application_review", "audit", "audit_team_leader", "technical_expert", "certification_decision")


def _text(value) -> str:
    return value if isinstance(value, str) else ""


def _competences(data: dict) -> list[dict]:
    listed = data.get("competences") if isinstance(data.get("competences"), list) else []
    out = [{"standard": _text(c.get("standard")), "function": c["function"],
            "technical_area": _text(c.get("technical_area")), "evaluated_date": iso_date(c.get("evaluated_date"))}
           for c in listed if isinstance(c, dict) and c.get("function") in FUNCTION_ORDER]
    return sorted(out, key=lambda c: (c["standard"], FUNCTION_ORDER.index(c["function"]), c["technical_area"],
                                      c["evaluated_date"] or ""))


def _observations(data: dict) -> list[str]:
    listed = data.get("onsite_observations") if isinstance(data.get("onsite_observations"), list) else []
    return sorted({d for d in (iso_date(o.get("date")) for o in listed if isinstance(o, dict)) if d})


def people(index: RecordIndex | None) -> list[dict]:
    """[{"person", "name", "competences", "observed"}] per personnel record, sorted by id."""
    if index is None:
        return []
    return [{"person": r.id, "name": _text(r.data.get("name")), "competences": _competences(r.data),
             "observed": _observations(r.data)}
            for r in sorted(index.records_of_type("personnel"), key=lambda r: r.id)
            if isinstance(r.id, str)]
